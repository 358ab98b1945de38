//! The dispatch room: handing out the best eligible ready calls.
//!
//! It owns the step from ready to in flight: which call goes next (the
//! ready queue's best among lanes the registry keeps eligible: batch not
//! paused, agent below its cap), the attempt's timeout timer, the agent's
//! in-flight count, and the [`Dispatch`] the host dials.

use std::sync::Arc;

use super::Scheduler;
use crate::call::CallState;
use crate::event::{CallId, Dispatch, EventKind};
use crate::queue::Slot;
use crate::time::{Secs, minutes};

impl Scheduler {
    /// Appends up to `max` dispatches to `out`, best first; returns how many.
    pub(super) fn hand_out(&mut self, now: Secs, max: usize, out: &mut Vec<Dispatch>) -> usize {
        let mut handed = 0;
        while handed < max {
            let calls = &self.calls;
            let Some((_, slot)) = self.ready.pop_best(|s, k| calls.ready_is_current(s, k)) else {
                break;
            };
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
        call.state = CallState::InFlight;
        let (agent, batch, attempt) = (call.agent, call.batch, call.attempt());
        let (call_id, to_number, language) = (
            CallId::stored(call.seq, slot),
            call.to_number(),
            call.language,
        );
        let metadata = Arc::clone(call.metadata().unwrap_or(&self.no_metadata));
        self.set_timer(slot, Some(now.saturating_add(timeout)));
        let agent_id = self.registry.start_attempt(agent, batch, &mut self.ready);
        debug_assert!(agent_id.is_some(), "a live call's agent is known");
        let batch_id = self.registry.batch(batch).map(|b| Arc::clone(&b.name));
        self.emit(now, slot, EventKind::Triggered { attempt });
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
