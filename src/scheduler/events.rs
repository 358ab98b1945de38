//! The event queue: what the engine has to say, until the host drains it.
//!
//! It owns the events' order (the order they are pushed) and their memory:
//! events wait in their compact form (instants as seconds, 80 bytes), and
//! a drained queue gives back the room a burst of undrained events grew it
//! to, so a host that drains after every input keeps a small warm ring.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use crate::event::{CompactEvent, CompactKind, DeferReason, ExpireReason};
use crate::retry::Outcome;

/// Room for events kept while the queue is empty (about 80 KiB).
const MAX_IDLE_EVENT_CAPACITY: usize = 1024;

/// Room up to which a drained ring is left where it stands rather than
/// started over at its first slots: a few cache lines either way, and
/// starting over costs about as much as the pop.
const SMALL_RING: usize = 64;

/// Events waiting for the host, oldest first.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    events: VecDeque<CompactEvent>,
    counters: Counters,
}

/// Cumulative counts of the events the engine has queued since it was made
/// or restored; see [`Scheduler::counters`](crate::Scheduler::counters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Counters {
    /// Requests queued as new calls.
    pub accepted: u64,
    /// Idempotent repeats of a live call's request.
    pub duplicates: u64,
    /// Requests rejected, by status.
    pub rejected_400: u64,
    /// Rejected with 403.
    pub rejected_403: u64,
    /// Rejected with 404 (unregistered agent).
    pub rejected_404: u64,
    /// Rejected with 409 (idempotency key of a live call, another request).
    pub rejected_409: u64,
    /// Attempts handed out (`triggered`).
    pub attempts: u64,
    /// Retries scheduled within their window occurrence (or with no window).
    pub retries_scheduled: u64,
    /// Retries moved to a later occurrence.
    pub retries_carried_over: u64,
    /// Waiting calls moved to the next occurrence (`carried_over`).
    pub carried_over: u64,
    /// Attempts that got no report in time.
    pub timed_out: u64,
    /// Calls ended `completed`.
    pub completed: u64,
    /// Calls ended `exhausted`.
    pub exhausted: u64,
    /// Calls ended `cancelled`.
    pub cancelled: u64,
    /// Calls ended `expired` because their window closed.
    pub expired_window_closed: u64,
    /// Calls ended `expired` because a frequency cap held them past it.
    pub expired_frequency_cap: u64,
    /// Calls ended `expired` because their lifetime ended.
    pub expired_lifetime: u64,
    /// Calls ended `suppressed` (do-not-call).
    pub suppressed: u64,
    /// Due calls deferred by calling hours.
    pub deferred_calling_hours: u64,
    /// Due calls deferred by a frequency cap.
    pub deferred_frequency_cap: u64,
    /// Calls ended `failed`, by outcome.
    pub failed: BTreeMap<Outcome, u64>,
}

impl Counters {
    fn count(&mut self, kind: &CompactKind) {
        let n = match kind {
            CompactKind::Accepted {
                duplicate: false, ..
            } => &mut self.accepted,
            CompactKind::Accepted { .. } => &mut self.duplicates,
            CompactKind::Rejected(r) if r.status == 403 => &mut self.rejected_403,
            CompactKind::Rejected(r) if r.status == 404 => &mut self.rejected_404,
            CompactKind::Rejected(r) if r.status == 409 => &mut self.rejected_409,
            CompactKind::Rejected(_) => &mut self.rejected_400,
            CompactKind::Triggered { .. } => &mut self.attempts,
            CompactKind::RetryScheduled {
                carried_over: false,
                ..
            } => &mut self.retries_scheduled,
            CompactKind::RetryScheduled { .. } => &mut self.retries_carried_over,
            CompactKind::CarriedOver { .. } => &mut self.carried_over,
            CompactKind::TimedOut { .. } => &mut self.timed_out,
            CompactKind::Completed => &mut self.completed,
            CompactKind::Exhausted => &mut self.exhausted,
            CompactKind::Cancelled => &mut self.cancelled,
            CompactKind::Expired {
                reason: ExpireReason::WindowClosed,
            } => &mut self.expired_window_closed,
            CompactKind::Expired {
                reason: ExpireReason::FrequencyCap,
            } => &mut self.expired_frequency_cap,
            CompactKind::Expired {
                reason: ExpireReason::Lifetime,
            } => &mut self.expired_lifetime,
            CompactKind::Suppressed => &mut self.suppressed,
            CompactKind::Deferred {
                reason: DeferReason::CallingHours,
                ..
            } => &mut self.deferred_calling_hours,
            CompactKind::Deferred {
                reason: DeferReason::FrequencyCap,
                ..
            } => &mut self.deferred_frequency_cap,
            CompactKind::Failed { outcome } => self.failed.entry(*outcome).or_default(),
        };
        *n = n.saturating_add(1);
    }
}

impl EventQueue {
    pub fn push(&mut self, event: CompactEvent) {
        self.counters.count(&event.kind);
        self.events.push_back(event);
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    #[inline]
    pub fn pop(&mut self) -> Option<CompactEvent> {
        let event = self.events.pop_front();
        if event.is_none() {
            // Drained: give back what a burst of undrained events grew the
            // ring to, and start a large one over at its first (warm) slots.
            let capacity = self.events.capacity();
            if capacity > MAX_IDLE_EVENT_CAPACITY {
                self.events = VecDeque::new();
            } else if capacity > SMALL_RING {
                self.events.clear();
            }
        }
        event
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &CompactEvent> {
        self.events.iter()
    }

    /// A restored engine's undrained events (not counted again).
    pub fn from_events(events: Vec<CompactEvent>) -> EventQueue {
        EventQueue {
            events: events.into(),
            counters: Counters::default(),
        }
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.events.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::scheduler::Scheduler;
    use crate::time::instant;

    /// A burst of undrained events does not keep its memory once drained,
    /// and the order of events is untouched.
    #[test]
    fn drained_event_queue_gives_back_a_burst() {
        let mut e = Scheduler::new(Config::default()).unwrap();
        let now = instant(1_767_155_400);
        let mut ids = Vec::new();
        for n in 0..5_000 {
            let body = format!(r#"{{"to_number": "+9198765{n:05}", "agent_id": "a"}}"#);
            ids.push(e.submit(now, body.as_bytes()).unwrap().call);
        }
        assert!(e.events.capacity() > MAX_IDLE_EVENT_CAPACITY);
        let drained: Vec<_> = std::iter::from_fn(|| e.poll_event())
            .filter_map(|ev| ev.call)
            .collect();
        assert_eq!(drained, ids);
        assert!(e.events.capacity() <= MAX_IDLE_EVENT_CAPACITY);
        // Small queues keep their room between inputs.
        e.cancel(now, ids[0]).unwrap();
        assert_eq!(e.poll_event().and_then(|ev| ev.call), Some(ids[0]));
        assert!(e.poll_event().is_none());
        assert!(e.events.capacity() > 0);
    }
}
