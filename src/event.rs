//! What the engine tells the host: events, dispatched calls and errors.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::number::PhoneNumber;
use crate::request::Language;
use crate::retry::Outcome;

/// A call's ID, `call-n-s`: `n` is its sequence number (the `n`th
/// accepted call) and `s` the slot the engine stores it in, so naming a
/// call costs the engine no lookup. IDs are unique within an engine and
/// deterministic; a snapshot keeps every call in its slot, so IDs stay
/// valid across a restart.
///
/// The bare form `call-n` (the IDs of format-1 snapshots' engines) is
/// accepted too: the engine then finds the call by its number, through an
/// index it builds the first time a bare ID is used and keeps from then on.
/// An ID whose slot does not hold call `n` names no call. IDs compare,
/// hash and order by `n` alone.
///
/// # Example
/// ```
/// let id: redial::CallId = "call-42-7".parse().unwrap();
/// assert_eq!(id.to_string(), "call-42-7");
/// assert_eq!(id.sequence(), 42);
/// let bare: redial::CallId = "call-42".parse().unwrap();
/// assert_eq!((bare, bare.to_string()), (id, "call-42".to_owned()));
/// for bad in ["call-x", "call-042-7", "call-42-07", "call-42-", "call-42-7-1"] {
///     assert!(bad.parse::<redial::CallId>().is_err(), "{bad}");
/// }
/// ```
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CallId {
    seq: u64,
    /// The call's slot; `NO_SLOT` for a bare ID.
    slot: u32,
}

/// A bare ID's slot. No call is ever stored there: an engine refuses a
/// call rather than fill the last of 2^32 slots.
const NO_SLOT: u32 = u32::MAX;

impl CallId {
    /// The sequence number behind the ID: the call was the `n`th accepted
    /// (1-based).
    pub fn sequence(self) -> u64 {
        self.seq
    }

    /// The ID of call number `seq`, stored in `slot`.
    pub(crate) fn stored(seq: u64, slot: u32) -> CallId {
        CallId { seq, slot }
    }

    /// The slot the ID names, unless it is bare.
    pub(crate) fn slot(self) -> Option<u32> {
        (self.slot != NO_SLOT).then_some(self.slot)
    }
}

impl PartialEq for CallId {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for CallId {}

impl std::hash::Hash for CallId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.seq.hash(state);
    }
}

impl PartialOrd for CallId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CallId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.seq.cmp(&other.seq)
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({})", self.seq)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slot() {
            Some(slot) => write!(f, "call-{}-{slot}", self.seq),
            None => write!(f, "call-{}", self.seq),
        }
    }
}

/// Text that is not a [`CallId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCallId(pub String);

impl fmt::Display for BadCallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid call ID {:?}: expected call-N-S", self.0)
    }
}

impl std::error::Error for BadCallId {}

impl FromStr for CallId {
    type Err = BadCallId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Digits with no leading zero (but "0" itself, for a slot).
        fn number<T: FromStr>(text: &str, zero_ok: bool) -> Option<T> {
            let canonical = !text.starts_with('0') || (zero_ok && text == "0");
            (canonical && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        }
        let id = s.strip_prefix("call-").and_then(|rest| {
            let (seq, slot) = match rest.split_once('-') {
                Some((seq, slot)) => (seq, Some(slot)),
                None => (rest, None),
            };
            let seq = number::<u64>(seq, false)?;
            let slot = match slot {
                Some(text) => number::<u32>(text, true).filter(|s| *s != NO_SLOT)?,
                None => NO_SLOT,
            };
            Some(CallId { seq, slot })
        });
        id.ok_or_else(|| BadCallId(s.to_owned()))
    }
}

impl From<CallId> for String {
    fn from(id: CallId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for CallId {
    type Error = BadCallId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// One state change (semantics §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened: the input's `now`, or for time-driven changes the
    /// logical instant (a window's end, a trigger plus the attempt timeout).
    pub at: DateTime<Utc>,
    /// The call concerned; `None` for a rejected request.
    pub call: Option<CallId>,
    /// What happened.
    pub kind: EventKind,
}

/// Why a call expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExpireReason {
    /// Its window closed and it could not carry over.
    WindowClosed,
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
    /// The metadata as a JSON value.
    ///
    /// # Errors
    /// Never for dispatches made by the engine, which validated the JSON.
    pub fn metadata_value(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::from_str(&self.metadata)
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
    /// No call ever named this batch.
    UnknownBatch(String),
    /// An ID argument breaks the ID rule (1 to 128 bytes, no control characters).
    InvalidId(String),
    /// `now` is outside the years 1 to 9999.
    TimeOutOfRange(DateTime<Utc>),
}

impl OpError {
    /// The trace format's error code, such as `unknown_call`.
    pub fn code(&self) -> &'static str {
        match self {
            OpError::UnknownCall(_) => "unknown_call",
            OpError::NotInFlight(_) => "not_in_flight",
            OpError::UnknownBatch(_) => "unknown_batch",
            OpError::InvalidId(_) => "invalid_id",
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
            OpError::UnknownBatch(b) => write!(
                f,
                "unknown batch {b:?}: expected the batch_id of an accepted call"
            ),
            OpError::InvalidId(s) => write!(
                f,
                "invalid ID {s:?}: expected 1 to 128 bytes without control characters"
            ),
            OpError::TimeOutOfRange(t) => {
                write!(f, "now {t} is out of range: expected a year from 1 to 9999")
            }
        }
    }
}

impl std::error::Error for OpError {}
