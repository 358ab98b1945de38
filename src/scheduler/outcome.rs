//! The outcome room: how attempts end and how calls end.
//!
//! It owns reports (and timeouts, which end an attempt the same way),
//! retries (semantics §3.4: the gap, carry-over, exhaustion), cancel of one
//! call or a batch, and ending a call: its terminal event, then forgetting
//! it in the store, the ready queue, the timers and the registry.

use super::Scheduler;
use super::clock::expired;
use super::plan::{Place, Rules};
use crate::call::CallState;
use crate::event::{CallId, CompactKind, ExpireReason, OpError};
use crate::queue::{Lanes, Slot, Timers};
use crate::retry::{Outcome, has_next_attempt};
use crate::time::{Secs, minutes};

impl Scheduler {
    /// A report's effect: on attempt `attempt` if it names one (refused
    /// unless that is the call's current attempt), else on whatever
    /// attempt is in flight.
    pub(super) fn report_outcome(
        &mut self,
        now: Secs,
        call: CallId,
        attempt: Option<u32>,
        outcome: Outcome,
    ) -> Result<(), OpError> {
        let slot = self.calls.resolve(call).ok_or(OpError::UnknownCall(call))?;
        let Some(c) = self.calls.get(slot) else {
            return Err(OpError::UnknownCall(call));
        };
        let current = c.current_attempt();
        if let Some(attempt) = attempt
            && Some(attempt) != current
        {
            return Err(OpError::StaleReport {
                call,
                attempt,
                current,
            });
        }
        if c.state() != CallState::InFlight {
            return Err(OpError::NotInFlight(call));
        }
        self.set_timer(slot, None);
        self.finish_attempt(slot, outcome, now);
        Ok(())
    }

    /// The in-flight attempt of `slot` ended with `outcome` at `at` (a
    /// report's instant, or the trigger plus the timeout).
    pub(super) fn finish_attempt(&mut self, slot: Slot, outcome: Outcome, at: Secs) {
        let Some(call) = self.calls.get(slot) else {
            debug_assert!(false, "finish_attempt on an empty slot");
            return;
        };
        let (number, set) = (call.number(), call.rules);
        let member = self.registry.membership(call.lane);
        self.registry
            .end_attempt(member.agent, member.batch, &mut self.ready);
        self.attempt_ended(slot, outcome, at);
        // The person asked not to be called: the call ended as above, then
        // the number is suppressed from the report (policy.md 5).
        if outcome == Outcome::DoNotCall {
            self.suppress_after_do_not_call(number, set, at);
        }
    }

    /// What follows an attempt's `outcome` at `at`: an end the host asked
    /// for, the call's own end, or a retry (semantics 3.4, policy.md 3).
    fn attempt_ended(&mut self, slot: Slot, outcome: Outcome, at: Secs) {
        let Some(call) = self.calls.get(slot) else {
            return;
        };
        let requested = if call.cancel_requested() {
            Some(CompactKind::Cancelled)
        } else if call.suppress_requested() {
            Some(CompactKind::Suppressed)
        } else {
            None
        };
        if let Some(end) = requested {
            let kind = if outcome == Outcome::Completed {
                CompactKind::Completed
            } else {
                end
            };
            return self.end_call(slot, at, kind);
        }
        if outcome == Outcome::Completed {
            return self.end_call(slot, at, CompactKind::Completed);
        }
        if !self.config.is_retryable(outcome) {
            return self.end_call(slot, at, CompactKind::Failed { outcome });
        }
        if !has_next_attempt(call.retries(), call.attempt()) {
            return self.end_call(slot, at, CompactKind::Exhausted);
        }
        let desired = at.saturating_add(minutes(call.gap_after(call.attempt())));
        let (rules, bound) = (Rules::of(call), call.occurrence_end());
        let (due, end, carried_over) = match self.place(&rules, bound, desired) {
            Place::Nowhere => return self.end_call(slot, at, expired(ExpireReason::WindowClosed)),
            Place::At { due, .. } if rules.expires.is_some_and(|e| due >= e) => {
                return self.end_call(slot, at, expired(ExpireReason::Lifetime));
            }
            Place::At { due, end, later } => (due, end, later),
        };
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "the call left during finish_attempt");
            return;
        };
        call.next_attempt();
        call.due = due;
        call.set_occurrence_end(end);
        call.set_state(CallState::Waiting);
        let attempt = call.attempt();
        self.set_timer(slot, Some(due));
        self.emit(
            at,
            slot,
            CompactKind::RetryScheduled {
                attempt,
                due,
                carried_over,
            },
        );
    }

    /// Cancels the call in `slot`: at once unless in flight, else at its
    /// attempt's end.
    pub(super) fn cancel_slot(&mut self, slot: Slot, now: Secs) {
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "cancel_slot on an empty slot");
            return;
        };
        match call.state() {
            CallState::InFlight => call.request_cancel(),
            CallState::Waiting | CallState::Ready => {
                self.end_call(slot, now, CompactKind::Cancelled);
            }
        }
    }

    /// Cancels every live call of `batch`, in acceptance order.
    pub(super) fn cancel_members(&mut self, batch: u32, now: Secs) {
        // Cancelling a campaign is rare: a scan of the live calls costs
        // less than keeping a member list for every batch.
        let mut members: Vec<(u64, Slot)> = self
            .calls
            .iter()
            .filter(|(_, c)| self.registry.membership(c.lane).batch == batch)
            .map(|(slot, c)| (c.seq(), slot))
            .collect();
        members.sort_unstable();
        for (_, slot) in members {
            self.cancel_slot(slot, now);
        }
    }

    /// Emits a terminal event and forgets the call, and with it whatever
    /// only the call held (policy.md 6).
    pub(super) fn end_call(&mut self, slot: Slot, at: Secs, kind: CompactKind) {
        debug_assert!(kind.is_terminal(), "end_call with a non-terminal event");
        self.emit(at, slot, kind);
        self.set_timer(slot, None);
        let Some(call) = self.calls.remove(slot) else {
            debug_assert!(false, "end_call on an empty slot");
            return;
        };
        let member = self.registry.membership(call.lane);
        if call.state() == CallState::Ready {
            let calls = &self.calls;
            self.ready
                .forget(call.lane, |s, k| calls.ready_is_current(s, k));
            self.registry.ready_changed(member.batch, false);
        }
        self.registry.leave(member, &mut self.ready);
        if self.calls.clear_if_empty() {
            // No live call: every timer entry and lane is stale, so the
            // queues start over too and give back what a burst grew them to.
            self.timers = Timers::default();
            self.ready = Lanes::default();
            self.registry.clear_lanes();
        }
    }
}
