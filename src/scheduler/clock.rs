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
use crate::call::CallState;
use crate::event::{EventKind, ExpireReason, OpError};
use crate::queue::{Slot, TimerEntry};
use crate::retry::Outcome;
use crate::time::{MAX_TIME, Secs, ceil_secs, in_range, instant};

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
        self.timers
            .clean_top(|e| calls.timer_is_current(e), |slot| calls.seq_in(slot));
    }

    /// Fires every pending timer at or before `now`, in (instant, sequence)
    /// order.
    fn fire_timers_until(&mut self, now: Secs) {
        loop {
            let calls = &self.calls;
            let Some(entry) = self.timers.pop_due(
                now,
                |e| calls.timer_is_current(e),
                |slot| calls.seq_in(slot),
            ) else {
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
        match call.state {
            CallState::Waiting => self.make_ready(slot),
            CallState::Ready => self.window_closed(slot, at),
            CallState::InFlight => {
                let attempt = call.attempt();
                self.emit(at, slot, EventKind::TimedOut { attempt });
                self.finish_attempt(slot, Outcome::Timeout, at);
            }
        }
    }

    /// A due call joins the ready queue; its timer becomes its window
    /// occurrence's end.
    pub(super) fn make_ready(&mut self, slot: Slot) {
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "make_ready on an empty slot");
            return;
        };
        call.state = CallState::Ready;
        let (lane, key, end) = (call.lane, call.ready_key(), call.occurrence_end());
        self.registry.ready_changed(call.batch, true);
        self.ready.push(lane, key, slot);
        self.set_timer(slot, end);
    }

    /// A ready call's window occurrence ended before it was dialed: it
    /// carries over to the next occurrence's start, or expires.
    fn window_closed(&mut self, slot: Slot, at: Secs) {
        let Some(call) = self.calls.get_mut(slot) else {
            debug_assert!(false, "a window closed on an empty slot");
            return;
        };
        call.state = CallState::Waiting;
        let (lane, batch) = (call.lane, call.batch);
        // The next occurrence starts after this one's end, which is `at`
        // unless the timer was held back to the engine's last instant.
        let end = call.occurrence_end().unwrap_or(at).max(at);
        let next = if call.carry_over() {
            let occurrences = &mut self.occurrences;
            call.window()
                .and_then(|w| occurrences.first_instant_at_or_after(&w, call.tz, instant(end)))
                .map(|(due, o)| (ceil_secs(due), ceil_secs(o.end)))
                // No attempt is ever due after the engine's last instant.
                .filter(|(due, _)| *due <= MAX_TIME)
        } else {
            None
        };
        let calls = &self.calls;
        self.ready.forget(lane, |s, k| calls.ready_is_current(s, k));
        self.registry.ready_changed(batch, false);
        match next {
            Some((due, end)) => {
                if let Some(call) = self.calls.get_mut(slot) {
                    call.due = due;
                    call.set_occurrence_end(Some(end));
                }
                self.set_timer(slot, Some(due));
                self.emit(at, slot, EventKind::CarriedOver { due: instant(due) });
            }
            None => self.end_call(
                slot,
                at,
                EventKind::Expired {
                    reason: ExpireReason::WindowClosed,
                },
            ),
        }
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
        let seq = call.seq;
        let Some(generation) = self.calls.next_generation(slot) else {
            debug_assert!(false, "a live call's slot has a timer generation");
            return;
        };
        if had {
            let calls = &self.calls;
            self.timers.forget(|e| calls.timer_is_current(e));
        }
        if let Some(at) = at {
            self.timers.push(
                TimerEntry {
                    at,
                    slot,
                    generation,
                },
                seq,
            );
        }
    }
}
