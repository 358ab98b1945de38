//! The dispatch room: handing out the best eligible ready calls.
//!
//! It owns the step from ready to in flight: which call goes next (the
//! ready queue's best among lanes the registry keeps eligible: batch not
//! paused, agent below its cap), the attempt's timeout timer, the agent's
//! in-flight count, and the [`Dispatch`] the host dials.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Scheduler;
use super::clock::expired;
use super::plan::{Place, Rules};
use super::registry::Membership;
use crate::call::CallState;
use crate::event::{CallId, CompactKind, DeferReason, Dispatch, ExpireReason, OpError};
use crate::policy::MaxAttempts;
use crate::queue::Slot;
use crate::time::{Secs, instant, minutes};

/// Where the best call a dial would hand out stands: what a host running
/// several engines compares to dial across them (see [`crate::shard`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyRank {
    /// Its priority (higher first).
    pub priority: i8,
    /// Its due instant (earlier first).
    pub due: DateTime<Utc>,
}

impl Scheduler {
    /// The rank of the call a dial at `now` would hand out first: the best
    /// ready call whose batch is not paused and whose agent is below its
    /// cap, or `None`. It applies the time-driven changes up to `now`
    /// first, as [`Scheduler::handle_timeout`] does, and hands out
    /// nothing. A frequency cap is only checked by the dial itself, which
    /// may then hold this call back and hand out the next. O(log n)
    /// amortized.
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// assert_eq!(engine.best_ready(now)?, None);
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "priority": 4}"#)?;
    /// let rank = engine.best_ready(now)?.ok_or("a ready call")?;
    /// assert_eq!((rank.priority, rank.due), (4, now));
    /// assert_eq!(engine.dial(now, 1)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn best_ready(&mut self, now: DateTime<Utc>) -> Result<Option<ReadyRank>, OpError> {
        self.begin_input(now)?;
        let calls = &self.calls;
        let best = self.ready.peek_best(|s, k| calls.ready_is_current(s, k));
        self.end_input();
        Ok(best.map(|k| ReadyRank {
            priority: k.priority,
            due: instant(k.due),
        }))
    }

    /// When the number of the ready call in `slot` may be dialed again, if
    /// a frequency cap of its policies is used up at `now`.
    fn capped(&self, slot: Slot, now: Secs) -> Option<Secs> {
        if !self.numbers.records() {
            return None;
        }
        let call = self.calls.get(slot)?;
        let set = self.calendar.set(call.rules)?;
        let caps: Vec<MaxAttempts> = set
            .policies
            .iter()
            .filter_map(|p| self.calendar.policy(*p).and_then(|p| p.max_attempts()))
            .collect();
        if caps.is_empty() {
            return None;
        }
        self.numbers.capped(call.number(), now, &caps)
    }

    /// Holds back a capped ready call just popped from the ready queue: it
    /// is rescheduled as a retry due at `free_at` would be, with the report
    /// at `now` (policy.md 4): `deferred`, `carried_over` or `expired`.
    fn hold_back(&mut self, slot: Slot, now: Secs, free_at: Secs) {
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "hold_back on an empty slot");
            return;
        };
        call.set_state(CallState::Waiting);
        let (rules, bound, lane) = (Rules::of(call), call.occurrence_end(), call.lane);
        let batch = self.registry.membership(lane).batch;
        self.registry.ready_changed(batch, false);
        match self.place(&rules, bound, free_at) {
            Place::At { due, .. } if rules.expires.is_some_and(|e| due >= e) => {
                self.end_call(slot, now, expired(ExpireReason::Lifetime));
            }
            Place::At { due, end, later } => {
                self.wait_again(slot, now, (due, end, later), DeferReason::FrequencyCap);
            }
            // Its own occurrence closes before the cap frees, and it may
            // not carry over; otherwise nothing was found in the horizon.
            Place::Nowhere if rules.window.is_some() && !rules.carry_over => {
                self.end_call(slot, now, expired(ExpireReason::FrequencyCap));
            }
            Place::Nowhere => self.end_call(slot, now, expired(ExpireReason::WindowClosed)),
        }
    }

    /// Appends up to `max` dispatches to `out`, best first; returns how many.
    pub(super) fn hand_out(&mut self, now: Secs, max: usize, out: &mut Vec<Dispatch>) -> usize {
        let mut handed = 0;
        while handed < max {
            let calls = &self.calls;
            let Some((_, slot)) = self.ready.pop_best(|s, k| calls.ready_is_current(s, k)) else {
                break;
            };
            // A capped call is held back and counts no attempt: dial goes
            // on to the next one (policy.md 4).
            if let Some(free_at) = self.capped(slot, now) {
                self.hold_back(slot, now, free_at);
                continue;
            }
            if let Some(d) = self.trigger(slot, now) {
                out.push(d);
                handed += 1;
            }
        }
        handed
    }

    /// Hands out a ready call just popped from the ready queue.
    fn trigger(&mut self, slot: Slot, now: Secs) -> Option<Dispatch> {
        let timeout = minutes(self.config.attempt_timeout_minutes);
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "the ready queue handed out an empty slot");
            return None;
        };
        call.set_state(CallState::InFlight);
        let (lane, attempt) = (call.lane, call.attempt());
        let (call_id, to_number, language) = (
            CallId::stored(call.seq(), slot),
            call.to_number(),
            call.language,
        );
        let metadata = Arc::clone(call.metadata().unwrap_or(&self.no_metadata));
        let number = call.number();
        self.numbers.record(number, now);
        self.set_timer(slot, Some(now.saturating_add(timeout)));
        let Membership { agent, batch, .. } = self.registry.membership(lane);
        let agent_id = self.registry.start_attempt(agent, batch, &mut self.ready);
        debug_assert!(agent_id.is_some(), "a live call's agent is known");
        let batch_id = self.registry.batch(batch).map(|b| Arc::clone(&b.name));
        self.emit(now, slot, CompactKind::Triggered { attempt });
        Some(Dispatch {
            call: call_id,
            attempt,
            to_number,
            agent_id: agent_id.unwrap_or_else(|| Arc::from("")),
            batch_id,
            language,
            metadata,
        })
    }
}
