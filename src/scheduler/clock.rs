//! The clock room: opening and closing inputs, and time-driven work.
//!
//! It owns the engine's clock (the latest `now` seen; it never runs
//! backwards), each call's one pending timer (a call becoming due, its
//! window occurrence closing, its attempt timing out) and what happens when
//! one fires, except a timeout, which the outcome room handles as an
//! outcome. Invariant after every input: the timer queue's earliest entry
//! is current and later than the clock, so `poll_timeout` is exact.

use chrono::{DateTime, Utc};

use super::Scheduler;
use super::plan::{Place, Rules};
use crate::call::CallState;
use crate::event::{CompactKind, DeferReason, ExpireReason, OpError};
use crate::queue::{Slot, TimerEntry};
use crate::retry::Outcome;
use crate::time::{MAX_TIME, Secs, in_range};

impl Scheduler {
    /// Opens an input: validates `now`, makes it monotone and applies the
    /// time-driven changes up to it. Returns the engine's clock.
    pub(super) fn begin_input(&mut self, now: DateTime<Utc>) -> Result<Secs, OpError> {
        let secs = now.timestamp();
        if !in_range(secs) {
            return Err(OpError::TimeOutOfRange(now));
        }
        let now = self.now.map_or(secs, |seen| seen.max(secs));
        self.now = Some(now);
        self.fire_timers_until(now);
        self.numbers.forget_until(now);
        Ok(now)
    }

    /// Closes an input. Its own effect can leave work due at the clock
    /// itself (a retry with a gap of 0 is due at the report's instant):
    /// apply it, so that `poll_timeout` is always after the clock. Such
    /// work only makes calls ready; it emits no event.
    pub(super) fn end_input(&mut self) {
        if let Some(now) = self.now {
            self.fire_timers_until(now);
        }
        let calls = &self.calls;
        self.timers.clean_top(|e| calls.timer_is_current(e));
    }

    /// Fires every pending timer at or before `now`, in (instant, sequence)
    /// order.
    fn fire_timers_until(&mut self, now: Secs) {
        loop {
            let calls = &self.calls;
            let Some(entry) = self.timers.pop_due(now, |e| calls.timer_is_current(e)) else {
                break;
            };
            self.on_timer(entry);
        }
    }

    fn on_timer(&mut self, entry: TimerEntry) {
        let (slot, at) = (entry.slot, entry.at);
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "a current timer names an empty slot");
            return;
        };
        call.set_timer_at(None);
        match call.state() {
            CallState::Waiting => self.make_ready(slot),
            CallState::Ready => self.ready_ended(slot, at),
            CallState::InFlight => {
                let attempt = call.attempt();
                self.emit(at, slot, CompactKind::TimedOut { attempt });
                self.finish_attempt(slot, Outcome::Timeout, at);
            }
        }
    }

    /// A due call joins the ready queue. Its timer becomes the end of its
    /// permitted time: the end of the permitted interval it is in, its
    /// occurrence's end or its lifetime's, whichever comes first.
    pub(super) fn make_ready(&mut self, slot: Slot) {
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "make_ready on an empty slot");
            return;
        };
        call.set_state(CallState::Ready);
        let (lane, key) = (call.lane, call.ready_key());
        let (rules, bound, due) = (Rules::of(call), call.occurrence_end(), call.due);
        let batch = self.registry.membership(lane).batch;
        self.registry.ready_changed(batch, true);
        self.ready.push(lane, key, slot);
        let until = self.ready_until(&rules, bound, due);
        self.set_timer(slot, until);
    }

    /// A ready call's permitted time ran out at `at` before it was dialed
    /// (policy.md 3, Waiting): its lifetime ended, or it waits for the next
    /// permitted instant of its occurrence (`deferred`), or the occurrence
    /// closed and it carries over (`carried_over`) or expires.
    fn ready_ended(&mut self, slot: Slot, at: Secs) {
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "a ready call's timer names an empty slot");
            return;
        };
        call.set_state(CallState::Waiting);
        let lane = call.lane;
        let (rules, bound) = (Rules::of(call), call.occurrence_end());
        let calls = &self.calls;
        self.ready.forget(lane, |s, k| calls.ready_is_current(s, k));
        let batch = self.registry.membership(lane).batch;
        self.registry.ready_changed(batch, false);
        if rules.expires.is_some_and(|e| at >= e) {
            return self.end_call(slot, at, expired(ExpireReason::Lifetime));
        }
        // A timer held back to the engine's last instant: nothing can be
        // due after it.
        if at >= MAX_TIME {
            return self.end_call(slot, at, expired(ExpireReason::WindowClosed));
        }
        match self.place(&rules, bound, at) {
            Place::At { due, .. } if rules.expires.is_some_and(|e| due >= e) => {
                self.end_call(slot, at, expired(ExpireReason::Lifetime));
            }
            Place::At { due, end, later } => {
                self.wait_again(slot, at, (due, end, later), DeferReason::CallingHours);
            }
            Place::Nowhere => self.end_call(slot, at, expired(ExpireReason::WindowClosed)),
        }
    }

    /// A call that could not trigger at `at` waits again for `due`, in the
    /// occurrence ending at `end`: `carried_over` when that is a later
    /// occurrence, else `deferred` for `reason`.
    pub(super) fn wait_again(
        &mut self,
        slot: Slot,
        at: Secs,
        (due, end, later): (Secs, Option<Secs>, bool),
        reason: DeferReason,
    ) {
        if let Some(call) = self.calls.get_mut(slot) {
            call.due = due;
            call.set_occurrence_end(end);
        }
        self.set_timer(slot, Some(due));
        let kind = if later {
            CompactKind::CarriedOver { due }
        } else {
            CompactKind::Deferred { due, reason }
        };
        self.emit(at, slot, kind);
    }

    /// Sets (or clears) the single pending timer of a call. A timer past
    /// the engine's last instant (a timeout or a window's end in year
    /// 10000) fires at that instant instead, so that `poll_timeout` is
    /// always a `now` the engine accepts.
    pub(super) fn set_timer(&mut self, slot: Slot, at: Option<Secs>) {
        let at = at.map(|t| t.min(MAX_TIME));
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "set_timer on an empty slot");
            return;
        };
        let had = call.timer().is_some();
        call.set_timer_at(at);
        let seq = call.seq();
        let Some(generation) = self.calls.next_generation(slot) else {
            debug_assert!(false, "a live call's slot has a timer generation");
            return;
        };
        if had {
            let calls = &self.calls;
            self.timers.forget(|e| calls.timer_is_current(e));
        }
        if let Some(at) = at {
            self.timers.push(TimerEntry {
                at,
                seq,
                slot,
                generation,
            });
        }
    }
}

/// An `expired` event.
pub(super) fn expired(reason: ExpireReason) -> CompactKind {
    CompactKind::Expired { reason }
}
