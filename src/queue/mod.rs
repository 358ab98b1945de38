//! The queues at the engine's core (private).
//!
//! * [`ready`]: the ready queue, the binary-heap priority queue the engine
//!   is built around, split into lanes per (agent, batch).
//! * [`timers`]: time-driven work in the order events must come out, as a
//!   monotone radix heap.
//!
//! Both use lazy deletion: removing a call leaves its entry behind, and the
//! owner's validity check drops it when it surfaces. Stale entries are
//! compacted away once they outnumber live ones, so memory stays bounded by
//! live calls.

pub(crate) mod ready;
pub(crate) mod timers;

pub(crate) use ready::{Lanes, MAX_SEQ, ReadyKey};
pub(crate) use timers::{TimerEntry, Timers};

/// Index of a call record in the engine's slab.
pub(crate) type Slot = u32;
/// Index of a lane.
pub(crate) type LaneId = u32;
