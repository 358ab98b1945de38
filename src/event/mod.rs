//! What the engine tells the host: events, dispatched calls and errors.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::id::{AttemptId, BadCallId, CallId};

mod compact;
use crate::number::PhoneNumber;
use crate::request::Language;
use crate::retry::Outcome;
pub use compact::{CompactEvent, CompactKind};

/// One state change (semantics §5).
///
/// It serializes flat, in the shape of a `redial replay` trace line, so a
/// host's log and the trace harness speak one format:
/// `{"at", "call_id", "event", ...the kind's fields, "agent_id", "batch_id"}`.
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
/// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b"}"#)?.call;
/// engine.cancel(now, id)?;
/// let lines: Vec<String> = std::iter::from_fn(|| engine.poll_event())
///     .map(|e| serde_json::to_string(&e))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(lines[0], r#"{"at":"2025-12-31T04:30:00Z","call_id":"call-1-0","event":"accepted","due":"2025-12-31T04:30:00Z","duplicate":false}"#);
/// // A terminal event names the call's agent and batch: the call is forgotten next.
/// assert_eq!(lines[1], r#"{"at":"2025-12-31T04:30:00Z","call_id":"call-1-0","event":"cancelled","agent_id":"a","batch_id":"b"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened: the input's `now`, or for time-driven changes the
    /// logical instant (a window's end, a trigger plus the attempt timeout).
    pub at: DateTime<Utc>,
    /// The call concerned; `None` for a rejected request.
    #[serde(rename = "call_id")]
    pub call: Option<CallId>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The call's agent, on terminal events: the engine forgets the call
    /// right after, so a host can attribute the end without a map of its
    /// own (for other events, [`Scheduler::call`](crate::Scheduler::call)
    /// tells). `None` on other events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Arc<str>>,
    /// The call's batch, on terminal events of calls that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<Arc<str>>,
}

impl Event {
    /// An event with no agent or batch attached.
    pub fn new(at: DateTime<Utc>, call: Option<CallId>, kind: EventKind) -> Event {
        Event {
            at,
            call,
            kind,
            agent_id: None,
            batch_id: None,
        }
    }
}

/// Why a call expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExpireReason {
    /// Its window closed (or no permitted instant came within the search
    /// horizon) and it could not carry over.
    WindowClosed,
    /// A frequency cap held it past its window, and it could not carry over.
    FrequencyCap,
    /// Its lifetime (`expires_at`, `max_call_age_days`) ended first.
    Lifetime,
}

/// Why a call waits again although it was due (policy.md 3, 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeferReason {
    /// Its permitted time ran out (a policy's hours, a lunch break, the
    /// wall clock leaving its window in a fall-back fold).
    CallingHours,
    /// A frequency cap of its number was used up when it was dialed.
    FrequencyCap,
}

/// The kinds of [`Event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A request was queued, or (`duplicate`) matched a live call's
    /// idempotency key; `due` is the call's first attempt.
    Accepted {
        /// When the first attempt is due.
        due: DateTime<Utc>,
        /// An idempotent repeat of a live call.
        duplicate: bool,
    },
    /// A request was refused; nothing was queued.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The offending field.
        field: Option<String>,
        /// What was expected.
        message: String,
    },
    /// Attempt `attempt` was handed to the host to dial.
    Triggered {
        /// 1-based attempt number.
        attempt: u32,
    },
    /// Another attempt was scheduled.
    RetryScheduled {
        /// The next attempt's number.
        attempt: u32,
        /// When it is due.
        due: DateTime<Utc>,
        /// Whether it was moved to a later window occurrence.
        carried_over: bool,
    },
    /// A waiting call's window closed; it moved to the next occurrence.
    CarriedOver {
        /// The next occurrence's start.
        due: DateTime<Utc>,
    },
    /// Terminal: the window closed.
    Expired {
        /// Why.
        reason: ExpireReason,
    },
    /// Terminal: answered and finished.
    Completed,
    /// Terminal: every allowed attempt was used.
    Exhausted,
    /// Terminal: an outcome that is not retried.
    Failed {
        /// The outcome.
        outcome: Outcome,
    },
    /// An attempt got no report within `attempt_timeout_minutes`.
    TimedOut {
        /// The attempt that timed out.
        attempt: u32,
    },
    /// Terminal: cancelled by the host.
    Cancelled,
    /// A due call waits again: its permitted time ran out, or a frequency
    /// cap held it. Not terminal; no retry is used up.
    Deferred {
        /// When it is due again.
        due: DateTime<Utc>,
        /// Why.
        reason: DeferReason,
    },
    /// Terminal: its number was suppressed (do-not-call).
    Suppressed,
}

/// The event's name, as in the trace format (`retry_scheduled`).
impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl EventKind {
    /// The event's name, as in the trace format (`retry_scheduled`).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Accepted { .. } => "accepted",
            EventKind::Rejected { .. } => "rejected",
            EventKind::Triggered { .. } => "triggered",
            EventKind::RetryScheduled { .. } => "retry_scheduled",
            EventKind::CarriedOver { .. } => "carried_over",
            EventKind::Expired { .. } => "expired",
            EventKind::Completed => "completed",
            EventKind::Exhausted => "exhausted",
            EventKind::Failed { .. } => "failed",
            EventKind::TimedOut { .. } => "timed_out",
            EventKind::Cancelled => "cancelled",
            EventKind::Deferred { .. } => "deferred",
            EventKind::Suppressed => "suppressed",
        }
    }

    /// Whether the call is over (and forgotten) after this event.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::Expired { .. }
                | EventKind::Completed
                | EventKind::Exhausted
                | EventKind::Failed { .. }
                | EventKind::Cancelled
                | EventKind::Suppressed
        )
    }
}

/// A call handed out to dial now, with everything needed to dial it.
///
/// The agent, batch and metadata texts are shared with the engine
/// (`Arc<str>`, read as `&str` through `Deref`) and the number is held
/// inline ([`PhoneNumber`]), so making a dispatch allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatch {
    /// The call.
    pub call: CallId,
    /// 1-based attempt number.
    pub attempt: u32,
    /// E.164 number, inline (`Copy`, no allocation).
    pub to_number: PhoneNumber,
    /// The agent that talks.
    pub agent_id: Arc<str>,
    /// The campaign, if any.
    pub batch_id: Option<Arc<str>>,
    /// Language, if given.
    pub language: Option<Language>,
    /// Compact JSON text of the metadata object (`{}` when none).
    pub metadata: Arc<str>,
}

impl Dispatch {
    /// The attempt this dispatch hands out, for its report.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// let d = engine.dial(now, 1)?.remove(0);
    /// assert_eq!(d.attempt_id().to_string(), "call-1-0.1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attempt_id(&self) -> AttemptId {
        AttemptId {
            call: self.call,
            attempt: self.attempt,
        }
    }

    /// The metadata as a JSON value.
    ///
    /// # Errors
    /// Never for dispatches made by the engine, which validated the JSON.
    pub fn metadata_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(&self.metadata)
    }
}

impl From<&Dispatch> for AttemptId {
    fn from(d: &Dispatch) -> AttemptId {
        d.attempt_id()
    }
}

/// An operation the engine refused; it changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpError {
    /// No live call has this ID (it never existed or already ended).
    UnknownCall(CallId),
    /// The call is live but has no attempt in flight to report on.
    NotInFlight(CallId),
    /// A report named another attempt than the call's current one (the
    /// last one handed out): a late or repeated report of an earlier
    /// attempt, or of one never handed out.
    StaleReport {
        /// The call.
        call: CallId,
        /// The attempt the report named.
        attempt: u32,
        /// The call's current attempt; `None` before the first dial.
        current: Option<u32>,
    },
    /// No call ever named this batch.
    UnknownBatch(String),
    /// An ID argument breaks the ID rule (1 to 128 bytes, no control characters).
    InvalidId(String),
    /// A number argument is not E.164.
    InvalidNumber(String),
    /// `now` is outside the years 1 to 9999.
    TimeOutOfRange(DateTime<Utc>),
}

impl OpError {
    /// The trace format's error code, such as `unknown_call`.
    pub fn code(&self) -> &'static str {
        match self {
            OpError::UnknownCall(_) => "unknown_call",
            OpError::NotInFlight(_) => "not_in_flight",
            OpError::StaleReport { .. } => "stale_report",
            OpError::UnknownBatch(_) => "unknown_batch",
            OpError::InvalidId(_) => "invalid_id",
            OpError::InvalidNumber(_) => "invalid_number",
            OpError::TimeOutOfRange(_) => "time_out_of_range",
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::UnknownCall(id) => write!(f, "unknown call {id}: expected a live call's ID"),
            OpError::NotInFlight(id) => write!(
                f,
                "call {id} has no attempt in flight: expected a call handed out by dial"
            ),
            OpError::StaleReport {
                call,
                attempt,
                current: Some(current),
            } => write!(
                f,
                "report of attempt {attempt} of call {call}, whose current attempt is {current}: expected the attempt of the dispatch being reported"
            ),
            OpError::StaleReport {
                call,
                attempt,
                current: None,
            } => write!(
                f,
                "report of attempt {attempt} of call {call}, which has not been dialed: expected the attempt of a dispatch"
            ),
            OpError::UnknownBatch(b) => write!(
                f,
                "unknown batch {b:?}: expected the batch_id of an accepted call"
            ),
            OpError::InvalidId(s) => write!(
                f,
                "invalid ID {s:?}: expected 1 to 128 bytes without control characters"
            ),
            OpError::InvalidNumber(s) => write!(
                f,
                "invalid number {s:?}: expected E.164 such as +919876543210"
            ),
            OpError::TimeOutOfRange(t) => {
                write!(f, "now {t} is out of range: expected a year from 1 to 9999")
            }
        }
    }
}

impl std::error::Error for OpError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of event goes out flat and comes back the same.
    #[test]
    fn events_round_trip_through_their_flat_form() {
        let at: DateTime<Utc> = "2026-01-14T04:30:00Z".parse().unwrap();
        let id: CallId = "call-3-1".parse().unwrap();
        let kinds = [
            EventKind::Accepted {
                due: at,
                duplicate: true,
            },
            EventKind::Rejected {
                status: 409,
                field: Some("idempotency_key".into()),
                message: "m".into(),
            },
            EventKind::Triggered { attempt: 2 },
            EventKind::RetryScheduled {
                attempt: 3,
                due: at,
                carried_over: true,
            },
            EventKind::CarriedOver { due: at },
            EventKind::Expired {
                reason: ExpireReason::WindowClosed,
            },
            EventKind::Completed,
            EventKind::Exhausted,
            EventKind::Failed {
                outcome: Outcome::DoNotCall,
            },
            EventKind::TimedOut { attempt: 1 },
            EventKind::Cancelled,
        ];
        for kind in kinds {
            let mut e = Event::new(at, Some(id), kind);
            if e.kind.is_terminal() {
                e.agent_id = Some("a".into());
                e.batch_id = Some("b".into());
            }
            let text = serde_json::to_string(&e).unwrap();
            assert!(
                text.starts_with(r#"{"at":"2026-01-14T04:30:00Z","call_id":"call-3-1","event":""#),
                "{text}"
            );
            assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e, "{text}");
            assert_eq!(e.kind.to_string(), e.kind.name());
        }
        let rejected = Event::new(at, None, EventKind::Completed);
        let text = serde_json::to_string(&rejected).unwrap();
        assert!(text.contains(r#""call_id":null"#), "{text}");
    }
}
