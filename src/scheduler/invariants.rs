//! Checks of derived state against the live calls, for tests and fuzzing.
//!
//! Every structure beside the call records is derived from them: the
//! ready queue's counts, the timers, the registry's reference counts and
//! in-flight counts, the idempotency keys. [`Scheduler::check_invariants`]
//! recomputes each from the records and compares. It is O(live calls) and
//! not meant for production loops.

use std::collections::BTreeMap;

use super::Scheduler;
use crate::call::CallState;
use crate::time::MAX_TIME;

impl Scheduler {
    /// Recomputes the engine's derived state from its live calls and says
    /// what disagrees, if anything. For tests and fuzz targets (hidden from
    /// the docs, not part of the API); O(live calls).
    ///
    /// # Errors
    /// A description of the first disagreement found.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.calls.check()?;
        let mut members = Vec::with_capacity(self.calls.live());
        let mut flying = Vec::new();
        let mut ready_batches = Vec::new();
        let mut ready_by_lane: BTreeMap<u32, usize> = BTreeMap::new();
        let mut timers = 0;
        for (slot, c) in self.calls.iter() {
            let id = format!("call-{}-{slot}", c.seq());
            if self.calendar.set(c.rules).is_none() {
                return Err(format!("{id} names no rule set"));
            }
            if c.expires()
                .is_some_and(|e| c.state() == CallState::Waiting && c.due >= e)
            {
                return Err(format!(
                    "{id} waits for a due at or after its lifetime's end"
                ));
            }
            let member = self.registry.membership(c.lane);
            members.push(member);
            let expected_timer = match c.state() {
                CallState::Waiting => Some(c.due),
                CallState::Ready => {
                    *ready_by_lane.entry(c.lane).or_default() += 1;
                    ready_batches.push(member.batch);
                    // The end of its permitted time: no later than its
                    // occurrence's end or its lifetime's.
                    let limit = [c.occurrence_end(), c.expires()]
                        .into_iter()
                        .flatten()
                        .min();
                    if let (Some(t), Some(limit)) = (c.timer(), limit)
                        && t > limit.min(MAX_TIME)
                    {
                        return Err(format!("{id} is ready until {t}, after {limit}"));
                    }
                    if limit.is_some() && c.timer().is_none() {
                        return Err(format!(
                            "{id} is ready with no end although bound to {limit:?}"
                        ));
                    }
                    c.timer()
                }
                CallState::InFlight => {
                    flying.push((member.agent, member.batch));
                    c.timer()
                }
            };
            if c.state() == CallState::InFlight && c.timer().is_none() {
                return Err(format!("{id} is in flight with no timeout"));
            }
            let expected_timer = expected_timer.map(|t| t.min(MAX_TIME));
            if c.timer() != expected_timer {
                return Err(format!(
                    "{id} ({:?}) has timer {:?}, expected {expected_timer:?}",
                    c.state(),
                    c.timer()
                ));
            }
            if let (Some(t), Some(now)) = (c.timer(), self.now)
                && t <= now
            {
                return Err(format!(
                    "{id} has a timer at {t}, not after the clock {now}"
                ));
            }
            timers += usize::from(c.timer().is_some());
            if c.cancel_requested() && c.state() != CallState::InFlight {
                return Err(format!("{id} is not in flight but has a cancel requested"));
            }
        }
        self.registry.check(&members, &flying, &ready_batches)?;
        if self.timers.live() != timers {
            return Err(format!(
                "{} timers pending, {timers} calls have one",
                self.timers.live()
            ));
        }
        if self.ready.len() != ready_by_lane.values().sum::<usize>() {
            return Err(format!(
                "{} ready calls queued, {} calls ready",
                self.ready.len(),
                ready_by_lane.values().sum::<usize>()
            ));
        }
        for m in &members {
            let queued = self.ready.lane_state(m.lane).map(|(n, _)| n);
            if queued != Some(ready_by_lane.get(&m.lane).copied().unwrap_or(0)) {
                return Err(format!("lane {} counts {queued:?} ready calls", m.lane));
            }
            let eligible = self.ready.lane_state(m.lane).is_some_and(|(_, e)| e);
            let agent_free = self
                .registry
                .agent(m.agent)
                .is_some_and(|a| a.cap.is_none_or(|c| a.in_flight < c));
            let running = self.registry.batch(m.batch).is_none_or(|b| !b.paused);
            if eligible != (agent_free && running) {
                return Err(format!("lane {} eligibility is stale", m.lane));
            }
        }
        match (self.poll_timeout(), self.now) {
            (Some(t), Some(now)) if t.timestamp() <= now => {
                Err(format!("poll_timeout {t} is not after the clock"))
            }
            (None, _) if timers > 0 => Err("poll_timeout is None with timers pending".to_owned()),
            _ => Ok(()),
        }
    }
}
