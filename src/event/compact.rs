//! Events in the form the engine queues them: instants as Unix seconds,
//! a kind without texts, so queuing and draining one moves a few words and
//! builds no `DateTime`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CallId, DeferReason, Event, EventKind, ExpireReason};
use crate::request::Rejection;
use crate::retry::Outcome;
use crate::time::{Secs, in_range, instant};

/// An [`Event`] as the engine queues it: the same event, its instants as
/// Unix seconds (the engine keeps whole seconds), so draining it builds no
/// `DateTime`. [`Scheduler::poll_compact_event`] hands these out;
/// [`Event::from`] makes the full form, which is what
/// [`Scheduler::poll_event`] returns.
///
/// [`Scheduler::poll_compact_event`]: crate::Scheduler::poll_compact_event
/// [`Scheduler::poll_event`]: crate::Scheduler::poll_event
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// use redial::event::{CompactEvent, CompactKind};
/// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
/// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?.call;
/// let e: CompactEvent = engine.poll_compact_event().ok_or("an event")?;
/// assert_eq!((e.at, e.call), (now.timestamp(), Some(id)));
/// assert_eq!(e.kind, CompactKind::Accepted { due: now.timestamp(), duplicate: false });
/// assert_eq!(e.at_time(), now);
/// assert_eq!(redial::Event::from(e).kind.name(), "accepted");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactEvent {
    /// When it happened, in Unix seconds ([`Event::at`]).
    pub at: i64,
    /// The call concerned; `None` for a rejected request.
    pub call: Option<CallId>,
    /// What happened.
    pub kind: CompactKind,
    /// The call's agent, on terminal events ([`Event::agent_id`]).
    pub agent_id: Option<Arc<str>>,
    /// The call's batch, on terminal events of calls that have one.
    pub batch_id: Option<Arc<str>>,
}

impl CompactEvent {
    /// [`CompactEvent::at`] as a `DateTime`.
    ///
    /// # Example
    /// ```
    /// use redial::event::{CompactEvent, CompactKind};
    /// let e = CompactEvent { at: 1_767_155_400, call: None, kind: CompactKind::Completed, agent_id: None, batch_id: None };
    /// assert_eq!(e.at_time().to_rfc3339(), "2025-12-31T04:30:00+00:00");
    /// ```
    pub fn at_time(&self) -> DateTime<Utc> {
        instant(self.at)
    }
}

/// The kinds of [`CompactEvent`]: [`EventKind`]'s, with instants as Unix
/// seconds and a rejection's texts behind a pointer (rejections are rare;
/// the other kinds stay two words).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactKind {
    /// [`EventKind::Accepted`].
    Accepted {
        /// When the first attempt is due, in Unix seconds.
        due: i64,
        /// An idempotent repeat of a live call.
        duplicate: bool,
    },
    /// [`EventKind::Rejected`]: the status, field and message.
    Rejected(Box<Rejection>),
    /// [`EventKind::Triggered`].
    Triggered {
        /// 1-based attempt number.
        attempt: u32,
    },
    /// [`EventKind::RetryScheduled`].
    RetryScheduled {
        /// The next attempt's number.
        attempt: u32,
        /// When it is due, in Unix seconds.
        due: i64,
        /// Whether it was moved to a later window occurrence.
        carried_over: bool,
    },
    /// [`EventKind::CarriedOver`].
    CarriedOver {
        /// The next occurrence's start, in Unix seconds.
        due: i64,
    },
    /// [`EventKind::Expired`].
    Expired {
        /// Why.
        reason: ExpireReason,
    },
    /// [`EventKind::Completed`].
    Completed,
    /// [`EventKind::Exhausted`].
    Exhausted,
    /// [`EventKind::Failed`].
    Failed {
        /// The outcome.
        outcome: Outcome,
    },
    /// [`EventKind::TimedOut`].
    TimedOut {
        /// The attempt that timed out.
        attempt: u32,
    },
    /// [`EventKind::Cancelled`].
    Cancelled,
    /// [`EventKind::Deferred`].
    Deferred {
        /// When it is due again, in Unix seconds.
        due: i64,
        /// Why.
        reason: DeferReason,
    },
    /// [`EventKind::Suppressed`].
    Suppressed,
}

impl CompactKind {
    /// The event's name, as in the trace format (`retry_scheduled`).
    ///
    /// # Example
    /// ```
    /// use redial::event::CompactKind;
    /// assert_eq!(CompactKind::Triggered { attempt: 1 }.name(), "triggered");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            CompactKind::Accepted { .. } => "accepted",
            CompactKind::Rejected(_) => "rejected",
            CompactKind::Triggered { .. } => "triggered",
            CompactKind::RetryScheduled { .. } => "retry_scheduled",
            CompactKind::CarriedOver { .. } => "carried_over",
            CompactKind::Expired { .. } => "expired",
            CompactKind::Completed => "completed",
            CompactKind::Exhausted => "exhausted",
            CompactKind::Failed { .. } => "failed",
            CompactKind::TimedOut { .. } => "timed_out",
            CompactKind::Cancelled => "cancelled",
            CompactKind::Deferred { .. } => "deferred",
            CompactKind::Suppressed => "suppressed",
        }
    }

    /// Whether the call is over (and forgotten) after this event.
    ///
    /// # Example
    /// ```
    /// use redial::event::CompactKind;
    /// assert!(CompactKind::Completed.is_terminal());
    /// assert!(!CompactKind::TimedOut { attempt: 1 }.is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            CompactKind::Expired { .. }
                | CompactKind::Completed
                | CompactKind::Exhausted
                | CompactKind::Failed { .. }
                | CompactKind::Cancelled
                | CompactKind::Suppressed
        )
    }
}

impl From<CompactKind> for EventKind {
    #[inline]
    fn from(kind: CompactKind) -> EventKind {
        match kind {
            CompactKind::Accepted { due, duplicate } => EventKind::Accepted {
                due: instant(due),
                duplicate,
            },
            CompactKind::Rejected(r) => {
                let Rejection {
                    status,
                    field,
                    message,
                } = *r;
                EventKind::Rejected {
                    status,
                    field,
                    message,
                }
            }
            CompactKind::Triggered { attempt } => EventKind::Triggered { attempt },
            CompactKind::RetryScheduled {
                attempt,
                due,
                carried_over,
            } => EventKind::RetryScheduled {
                attempt,
                due: instant(due),
                carried_over,
            },
            CompactKind::CarriedOver { due } => EventKind::CarriedOver { due: instant(due) },
            CompactKind::Expired { reason } => EventKind::Expired { reason },
            CompactKind::Completed => EventKind::Completed,
            CompactKind::Exhausted => EventKind::Exhausted,
            CompactKind::Failed { outcome } => EventKind::Failed { outcome },
            CompactKind::TimedOut { attempt } => EventKind::TimedOut { attempt },
            CompactKind::Cancelled => EventKind::Cancelled,
            CompactKind::Deferred { due, reason } => EventKind::Deferred {
                due: instant(due),
                reason,
            },
            CompactKind::Suppressed => EventKind::Suppressed,
        }
    }
}

impl From<CompactEvent> for Event {
    #[inline]
    fn from(e: CompactEvent) -> Event {
        Event {
            at: instant(e.at),
            call: e.call,
            kind: e.kind.into(),
            agent_id: e.agent_id,
            batch_id: e.batch_id,
        }
    }
}

/// Whole seconds in the engine's range, or why not.
fn secs(t: DateTime<Utc>) -> Result<Secs, String> {
    let s = t.timestamp();
    if t.timestamp_subsec_nanos() != 0 || !in_range(s) {
        return Err(format!(
            "event instant {t}: expected whole seconds in the years 1 to 9999, as the engine emits"
        ));
    }
    Ok(s)
}

/// The compact form of an event the engine could have emitted: a
/// snapshot's undrained events come back through this.
impl TryFrom<Event> for CompactEvent {
    type Error = String;

    fn try_from(e: Event) -> Result<CompactEvent, String> {
        let kind = match e.kind {
            EventKind::Accepted { due, duplicate } => CompactKind::Accepted {
                due: secs(due)?,
                duplicate,
            },
            EventKind::Rejected {
                status,
                field,
                message,
            } => CompactKind::Rejected(Box::new(Rejection {
                status,
                field,
                message,
            })),
            EventKind::Triggered { attempt } => CompactKind::Triggered { attempt },
            EventKind::RetryScheduled {
                attempt,
                due,
                carried_over,
            } => CompactKind::RetryScheduled {
                attempt,
                due: secs(due)?,
                carried_over,
            },
            EventKind::CarriedOver { due } => CompactKind::CarriedOver { due: secs(due)? },
            EventKind::Expired { reason } => CompactKind::Expired { reason },
            EventKind::Completed => CompactKind::Completed,
            EventKind::Exhausted => CompactKind::Exhausted,
            EventKind::Failed { outcome } => CompactKind::Failed { outcome },
            EventKind::TimedOut { attempt } => CompactKind::TimedOut { attempt },
            EventKind::Cancelled => CompactKind::Cancelled,
            EventKind::Deferred { due, reason } => CompactKind::Deferred {
                due: secs(due)?,
                reason,
            },
            EventKind::Suppressed => CompactKind::Suppressed,
        };
        Ok(CompactEvent {
            at: secs(e.at)?,
            call: e.call,
            kind,
            agent_id: e.agent_id,
            batch_id: e.batch_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::scheduler::Scheduler;
    use crate::snapshot::{Snapshot, SnapshotError};

    /// Every kind converts to the full form and back unchanged.
    #[test]
    fn every_kind_converts_both_ways() {
        let kinds = [
            CompactKind::Accepted {
                due: 1_767_155_400,
                duplicate: true,
            },
            CompactKind::Rejected(Box::new(Rejection {
                status: 409,
                field: Some("idempotency_key".into()),
                message: "m".into(),
            })),
            CompactKind::Triggered { attempt: 2 },
            CompactKind::RetryScheduled {
                attempt: 3,
                due: -62_135_596_800,
                carried_over: true,
            },
            CompactKind::CarriedOver {
                due: 253_402_300_799,
            },
            CompactKind::Expired {
                reason: ExpireReason::Lifetime,
            },
            CompactKind::Completed,
            CompactKind::Exhausted,
            CompactKind::Failed {
                outcome: Outcome::Busy,
            },
            CompactKind::TimedOut { attempt: 1 },
            CompactKind::Cancelled,
            CompactKind::Deferred {
                due: 0,
                reason: DeferReason::FrequencyCap,
            },
            CompactKind::Suppressed,
        ];
        for kind in kinds {
            let compact = CompactEvent {
                at: 1_767_155_401,
                call: "call-3-1".parse().ok(),
                agent_id: kind.is_terminal().then(|| "a".into()),
                batch_id: None,
                kind,
            };
            let full = Event::from(compact.clone());
            assert_eq!(full.kind.name(), compact.kind.name());
            assert_eq!(full.kind.is_terminal(), compact.kind.is_terminal());
            assert_eq!(full.at.timestamp(), compact.at);
            assert_eq!(CompactEvent::try_from(full), Ok(compact));
        }
    }

    /// Queuing an event moves 80 bytes (the full form is 128).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_compact_event_is_ten_words() {
        assert_eq!(std::mem::size_of::<CompactEvent>(), 80);
        assert_eq!(std::mem::size_of::<CompactKind>(), 16);
    }

    /// An instant the engine cannot have emitted has no compact form.
    #[test]
    fn fractions_and_far_years_have_no_compact_form() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        for t in ["2026-01-14T04:30:00.5Z", "+10000-01-01T00:00:00Z"] {
            let e = Event::new(at(t), None, EventKind::Completed);
            let err = CompactEvent::try_from(e).unwrap_err();
            assert!(err.contains("whole seconds"), "{err}");
            let e = Event::new(
                at("2026-01-14T04:30:00Z"),
                None,
                EventKind::Deferred {
                    due: at(t),
                    reason: DeferReason::CallingHours,
                },
            );
            assert!(CompactEvent::try_from(e).is_err());
        }
    }

    /// A snapshot whose undrained event has such an instant is refused
    /// with a typed error, as any other inconsistency is.
    #[test]
    fn a_snapshot_event_with_a_fraction_is_refused() {
        let mut e = Scheduler::new(Config::default()).unwrap();
        let now = instant(1_767_155_400);
        e.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)
            .unwrap();
        let text = String::from_utf8(e.snapshot().to_bytes()).unwrap();
        assert!(Scheduler::restore(Snapshot::from_bytes(text.as_bytes()).unwrap()).is_ok());
        let edited = text.replacen("2025-12-31T04:30:00Z", "2025-12-31T04:30:00.25Z", 1);
        assert_ne!(edited, text);
        let restored = Scheduler::restore(Snapshot::from_bytes(edited.as_bytes()).unwrap());
        assert!(
            matches!(&restored, Err(SnapshotError::Inconsistent(m)) if m.contains("whole seconds")),
            "{restored:?}"
        );
    }
}
