//! Rebuilding an engine from restored records: the snapshot module's way in.
//!
//! A snapshot holds facts (calls, registered agents, paused batches, keys,
//! undrained events); everything derived (the ready queue, timers, lanes,
//! in-flight and reference counts) is rebuilt here through the same paths
//! live inputs take, so a restored engine keeps the same invariants.

use super::Scheduler;
use super::store::IdempotencyEntry;
use crate::call::{Call, CallState};
use crate::event::CompactEvent;
use crate::queue::Slot;
use crate::time::Secs;

impl Scheduler {
    /// Puts a restored call into `slot` (a format-2 snapshot names it) or a
    /// fresh slot, counts it in the registry under `agent` and `batch`, and
    /// rebuilds its queue entry and timer from its state.
    pub(crate) fn restore_call(
        &mut self,
        slot: Option<Slot>,
        mut call: Call,
        agent: &str,
        batch: Option<&str>,
    ) -> Slot {
        let member = self.registry.join(agent, batch, &mut self.ready);
        call.lane = member.lane;
        let (state, timer) = (call.state(), call.timer());
        call.set_timer_at(None);
        call.set_state(CallState::Waiting);
        let slot = match slot {
            Some(slot) => {
                self.calls.put(slot, call);
                slot
            }
            None => self.calls.insert(call),
        };
        match state {
            CallState::Waiting => {}
            CallState::Ready => self.make_ready(slot),
            CallState::InFlight => {
                if let Some(call) = self.calls.get_mut(slot) {
                    call.set_state(CallState::InFlight);
                }
                self.registry.restore_in_flight(member.agent, member.batch);
            }
        }
        self.set_timer(slot, timer);
        slot
    }

    /// Records a restored idempotency key; false if the key was seen.
    pub(crate) fn restore_key(
        &mut self,
        key: &str,
        seq: u64,
        slot: Slot,
        request: serde_json::Value,
        due: Secs,
    ) -> bool {
        self.calls.remember_key(
            key,
            IdempotencyEntry {
                seq,
                slot,
                request,
                due,
            },
        )
    }

    /// Ends a restore: forgets what nothing holds, sets lane eligibility,
    /// queues the undrained events and applies work due at the clock.
    pub(crate) fn finish_restore(&mut self, events: Vec<CompactEvent>) {
        self.registry.finish_restore(&mut self.ready);
        self.events = super::EventQueue::from_events(events);
        self.end_input();
    }
}
