//! The ready queue: the binary-heap priority queue the engine is built
//! around. It owns the order in which due calls are handed out.
//!
//! Ready calls are split into lanes, one per (agent, batch) pair, each a
//! max-heap of 16-byte packed keys by (priority, earlier due, earlier
//! accepted). A second heap orders the lanes that may dial by their best
//! call. Pausing a batch or saturating an agent only marks its lanes
//! ineligible, so a dial never scans blocked calls.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::{LaneId, Slot};
use crate::grow;
/// Ready-queue order: `a > b` means `a` is dialed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ReadyKey {
    pub priority: i8,
    pub due: i64,
    pub seq: u64,
}

impl Ord for ReadyKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.due.cmp(&self.due))
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ReadyKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Bits of a packed due instant: seconds since [`MIN_DUE`].
const DUE_BITS: u32 = 40;
const DUE_MASK: u64 = (1 << DUE_BITS) - 1;
/// Earliest due instant a packed key orders correctly (year 1); the
/// engine's instants span less than 2^39 seconds from it.
const MIN_DUE: i64 = -62_135_596_800;
/// Largest sequence number a packed key holds (2^48 - 1): at a million
/// calls a second, nine years of them.
pub(crate) const MAX_SEQ: u64 = (1 << 48) - 1;

/// A ready call as one 16-byte integer whose order is dial order:
/// priority (sign flipped) in the top 8 bits, then the due instant and the
/// sequence number, each inverted so that earlier is larger, then the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ReadyEntry(u128);

impl ReadyEntry {
    fn new(key: ReadyKey, slot: Slot) -> ReadyEntry {
        let priority = u128::from(key.priority.cast_unsigned() ^ 0x80);
        let due = u64::try_from(key.due.saturating_sub(MIN_DUE))
            .unwrap_or(0)
            .min(DUE_MASK);
        let seq = key.seq.min(MAX_SEQ);
        ReadyEntry(
            priority << 120
                | u128::from(DUE_MASK - due) << 80
                | u128::from(MAX_SEQ - seq) << 32
                | u128::from(slot),
        )
    }

    fn key(self) -> ReadyKey {
        let bits = self.0;
        let field =
            |shift: u32, mask: u64| u64::try_from(bits >> shift & u128::from(mask)).unwrap_or(0);
        let priority = u8::try_from(field(120, 0xFF)).unwrap_or(0x80) ^ 0x80;
        let due = i64::try_from(DUE_MASK - field(80, DUE_MASK)).unwrap_or(0);
        ReadyKey {
            priority: priority.cast_signed(),
            due: MIN_DUE.saturating_add(due),
            seq: MAX_SEQ - field(32, MAX_SEQ),
        }
    }

    fn slot(self) -> Slot {
        Slot::try_from(self.0 & 0xFFFF_FFFF).unwrap_or(Slot::MAX)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LaneEntry {
    key: ReadyKey,
    lane: LaneId,
    /// The lane's `stamp` when the entry was pushed.
    stamp: u32,
}

/// One lane's ready calls: a binary heap, fronted by a run of entries that
/// arrived already in dial order.
///
/// Calls mostly become ready in dial order: a window opening releases its
/// calls (equal priority and due) in acceptance order, and timers fire in
/// due order. Each such arrival goes to the back of `run`, O(1) and
/// sequential in memory; only an arrival that must be dialed before the
/// run's last entry (a higher priority, an earlier due) goes into `heap`.
/// The best entry is the better of the two fronts. Without this, every pop
/// from a heap of a million waiting calls walks twenty levels of cache
/// misses.
#[derive(Debug, Default)]
struct LaneQueue {
    heap: BinaryHeap<ReadyEntry>,
    /// Entries in dial order (best first).
    run: VecDeque<ReadyEntry>,
}

impl LaneQueue {
    fn push(&mut self, e: ReadyEntry) {
        if self.run.back().is_none_or(|last| e < *last) {
            grow::push_back(&mut self.run, e);
        } else {
            grow::push_heap(&mut self.heap, e);
        }
    }

    fn peek(&self) -> Option<ReadyEntry> {
        match (self.heap.peek(), self.run.front()) {
            (Some(h), Some(r)) => Some(*h.max(r)),
            (h, r) => h.or(r).copied(),
        }
    }

    fn pop(&mut self) -> Option<ReadyEntry> {
        let from_heap = match (self.heap.peek(), self.run.front()) {
            (Some(h), Some(r)) => h > r,
            (h, _) => h.is_some(),
        };
        if from_heap {
            self.heap.pop()
        } else {
            self.run.pop_front()
        }
    }

    fn len(&self) -> usize {
        self.heap.len() + self.run.len()
    }

    fn retain(&mut self, keep: impl Fn(&ReadyEntry) -> bool) {
        self.heap.retain(&keep);
        self.run.retain(&keep);
    }
}

#[derive(Debug, Default)]
struct Lane {
    queue: LaneQueue,
    live: usize,
    eligible: bool,
    /// The key of this lane's one current entry in `Lanes::top`, if any.
    queued: Option<ReadyKey>,
    /// Bumped whenever `queued` changes: entries with an older stamp are stale.
    stamp: u32,
}

/// The ready queue. `valid(slot, key)` answers whether an entry still stands
/// for a ready call.
///
/// Invariant: an eligible lane with a non-empty heap has `queued = Some(k)`,
/// one entry `(k, lane, stamp)` in `top` carrying its current stamp, and `k`
/// at least as good as its heap's top (stale or not). Every other entry of
/// the lane in `top` has an older stamp and is dropped when it surfaces.
#[derive(Debug, Default)]
pub(crate) struct Lanes {
    lanes: Vec<Lane>,
    top: BinaryHeap<LaneEntry>,
    live: usize,
}

impl Lanes {
    /// Opens lane `lane` (the engine numbers lanes, reusing the numbers
    /// of closed ones): a new number one past the last, or a closed lane's.
    pub fn open_lane(&mut self, lane: LaneId, eligible: bool) {
        match self.lanes.get_mut(lane as usize) {
            // A reused lane keeps counting stamps, so entries of its previous
            // life in `top` stay stale.
            Some(l) => l.eligible = eligible,
            None => {
                debug_assert_eq!(lane as usize, self.lanes.len(), "lanes open in order");
                self.lanes.push(Lane {
                    eligible,
                    ..Lane::default()
                });
            }
        }
    }

    /// Closes a lane that holds no ready call: its stale entries and their
    /// memory go, and its entries in `top` go stale.
    pub fn close_lane(&mut self, lane: LaneId) {
        if let Some(l) = self.lanes.get_mut(lane as usize) {
            debug_assert_eq!(l.live, 0, "a closed lane holds no ready call");
            l.queue = LaneQueue::default();
            l.eligible = false;
        }
        self.requeue(lane, None);
    }

    /// Makes `key` the lane's current entry (or none), staling older ones.
    fn requeue(&mut self, lane: LaneId, key: Option<ReadyKey>) {
        let Some(l) = self.lanes.get_mut(lane as usize) else {
            return;
        };
        l.queued = key;
        l.stamp = l.stamp.wrapping_add(1);
        if let Some(key) = key {
            self.top.push(LaneEntry {
                key,
                lane,
                stamp: l.stamp,
            });
            self.compact_top();
        }
    }

    /// Ready calls, blocked or not.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Ready calls of one lane, and whether the lane may dial.
    pub fn lane_state(&self, lane: LaneId) -> Option<(usize, bool)> {
        self.lanes.get(lane as usize).map(|l| (l.live, l.eligible))
    }

    pub fn push(&mut self, lane: LaneId, key: ReadyKey, slot: Slot) {
        let Some(l) = self.lanes.get_mut(lane as usize) else {
            return;
        };
        l.queue.push(ReadyEntry::new(key, slot));
        l.live += 1;
        self.live += 1;
        if l.eligible && l.queued.is_none_or(|q| key > q) {
            self.requeue(lane, Some(key));
        }
    }

    /// A ready call of `lane` left the queue other than by [`Lanes::pop_best`];
    /// its entry is now stale.
    pub fn forget(&mut self, lane: LaneId, valid: impl Fn(Slot, ReadyKey) -> bool) {
        let Some(l) = self.lanes.get_mut(lane as usize) else {
            return;
        };
        l.live = l.live.saturating_sub(1);
        self.live = self.live.saturating_sub(1);
        if l.queue.len() > 2 * l.live + 32 {
            l.queue.retain(|e| valid(e.slot(), e.key()));
            // Compaction can only make the top worse: the invariant holds.
        }
    }

    pub fn set_eligible(&mut self, lane: LaneId, eligible: bool) {
        let Some(l) = self.lanes.get_mut(lane as usize) else {
            return;
        };
        if eligible == l.eligible {
            return;
        }
        l.eligible = eligible;
        let key = if eligible {
            l.queue.peek().map(ReadyEntry::key)
        } else {
            None
        };
        self.requeue(lane, key);
    }

    /// Removes and returns the best ready call of an eligible lane.
    pub fn pop_best(&mut self, valid: impl Fn(Slot, ReadyKey) -> bool) -> Option<(LaneId, Slot)> {
        while let Some(entry) = self.top.pop() {
            let Some(l) = self.lanes.get_mut(entry.lane as usize) else {
                continue;
            };
            if !l.eligible || l.stamp != entry.stamp {
                continue;
            }
            while l.queue.peek().is_some_and(|t| !valid(t.slot(), t.key())) {
                l.queue.pop();
            }
            let Some(best) = l.queue.peek() else {
                self.requeue(entry.lane, None);
                continue;
            };
            if best.key() != entry.key {
                // The queued call left; requeue the lane at its true best.
                self.requeue(entry.lane, Some(best.key()));
                continue;
            }
            l.queue.pop();
            l.live = l.live.saturating_sub(1);
            self.live = self.live.saturating_sub(1);
            let next = l.queue.peek().map(ReadyEntry::key);
            self.requeue(entry.lane, next);
            return Some((entry.lane, best.slot()));
        }
        None
    }

    /// The key of the best ready call of an eligible lane, left in place
    /// (stale entries on the way are dropped, as [`Lanes::pop_best`] does).
    pub fn peek_best(&mut self, valid: impl Fn(Slot, ReadyKey) -> bool) -> Option<ReadyKey> {
        while let Some(entry) = self.top.peek().copied() {
            let Some(l) = self.lanes.get_mut(entry.lane as usize) else {
                self.top.pop();
                continue;
            };
            if !l.eligible || l.stamp != entry.stamp {
                self.top.pop();
                continue;
            }
            while l.queue.peek().is_some_and(|t| !valid(t.slot(), t.key())) {
                l.queue.pop();
            }
            let best = l.queue.peek().map(ReadyEntry::key);
            if best == Some(entry.key) {
                return best;
            }
            // The queued call left: requeue the lane at its true best.
            self.top.pop();
            self.requeue(entry.lane, best);
        }
        None
    }

    /// Drops stale lane entries once they outnumber the lanes.
    fn compact_top(&mut self) {
        if self.top.len() <= 2 * self.lanes.len() + 64 {
            return;
        }
        let lanes = &self.lanes;
        self.top.retain(|e| {
            lanes
                .get(e.lane as usize)
                .is_some_and(|l| l.eligible && l.stamp == e.stamp)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(priority: i8, due: i64, seq: u64) -> ReadyKey {
        ReadyKey { priority, due, seq }
    }

    #[test]
    fn ready_key_order() {
        assert!(key(1, 100, 9) > key(0, 0, 0));
        assert!(key(0, 5, 9) > key(0, 6, 1));
        assert!(key(0, 5, 1) > key(0, 5, 2));
    }

    /// Packed entries order as their keys do and unpack to them.
    #[test]
    fn packed_ready_entries_keep_key_order() {
        let mut rand = crate::test_rng::xorshift(99_u64);
        let extremes = [
            MIN_DUE,
            -1,
            0,
            1,
            1_772_755_200,
            253_402_300_799 + 20 * 366 * 86_400,
        ];
        let mut keys = Vec::new();
        for _ in 0..5_000 {
            let priority = [-128, -100, -1, 0, 1, 100, 127][rand(7) as usize];
            let due = if rand(2) == 0 {
                extremes[rand(6) as usize]
            } else {
                1_772_755_200 + i64::try_from(rand(200)).unwrap()
            };
            let seq = [0, 1, MAX_SEQ, rand(1000), rand(MAX_SEQ)][rand(5) as usize];
            keys.push((
                key(priority, due, seq),
                u32::try_from(rand(1 << 32)).unwrap(),
            ));
        }
        for (k, slot) in &keys {
            let e = ReadyEntry::new(*k, *slot);
            assert_eq!((e.key(), e.slot()), (*k, *slot));
        }
        for pair in keys.windows(2) {
            let ((a, sa), (b, sb)) = (pair[0], pair[1]);
            if a != b {
                assert_eq!(
                    a.cmp(&b),
                    ReadyEntry::new(a, sa).cmp(&ReadyEntry::new(b, sb)),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn lanes_serve_best_eligible_and_skip_stale() {
        let mut q = Lanes::default();
        let (a, b) = (0, 1);
        q.open_lane(a, true);
        q.open_lane(b, true);
        q.push(a, key(0, 10, 1), 1);
        q.push(b, key(5, 20, 2), 2);
        q.push(a, key(5, 20, 3), 3);
        q.push(b, key(0, 5, 4), 4);
        let mut dead = HashSet::new();
        dead.insert(2_u32);
        q.forget(b, |s, _| s != 2);
        q.set_eligible(a, false);
        let valid = |s: Slot, _k: ReadyKey| !dead.contains(&s);
        assert_eq!(q.pop_best(valid), Some((b, 4)));
        assert_eq!(q.pop_best(valid), None);
        q.set_eligible(a, true);
        assert_eq!(q.pop_best(valid), Some((a, 3)));
        assert_eq!(q.pop_best(valid), Some((a, 1)));
        assert_eq!(q.pop_best(valid), None);
        assert_eq!(q.len(), 0);
    }

    /// Lanes against a sorted reference, with arrivals mostly in dial order
    /// (the run) and sometimes not (the heap), stale entries and toggling.
    #[test]
    fn peek_best_is_what_pop_best_pops() {
        let mut lanes = Lanes::default();
        for lane in 0..3 {
            lanes.open_lane(lane, lane != 2);
        }
        let mut rand = crate::test_rng::xorshift(5);
        for slot in 0..200 {
            let k = key(rand(5) as i8, rand(50) as i64, u64::from(slot));
            lanes.push(rand(3) as LaneId, k, slot);
        }
        let valid = |s: Slot, _| !s.is_multiple_of(7);
        while let Some(peeked) = lanes.peek_best(valid) {
            assert_eq!(lanes.peek_best(valid), Some(peeked), "peeking twice");
            let (_, slot) = lanes.pop_best(valid).unwrap();
            assert_eq!(u64::from(slot), peeked.seq);
        }
        assert_eq!(lanes.pop_best(valid), None);
    }

    #[test]
    fn lanes_match_a_sorted_reference() {
        use std::collections::BTreeSet;
        for seed in 1..100_u64 {
            let mut rand = crate::test_rng::xorshift(seed);
            let mut q = Lanes::default();
            let lanes = [0, 1];
            q.open_lane(0, true);
            q.open_lane(1, true);
            // Live ready calls: (key, lane, slot); slot = sequence number.
            let mut live: BTreeSet<(ReadyKey, LaneId, Slot)> = BTreeSet::new();
            let mut due = 0_i64;
            let mut next = 0_u32;
            for _ in 0..3_000 {
                match rand(8) {
                    0..=3 => {
                        next += 1;
                        due += i64::try_from(rand(3)).unwrap();
                        let d = if rand(5) == 0 {
                            due - i64::try_from(rand(50)).unwrap()
                        } else {
                            due
                        };
                        let priority = if rand(6) == 0 { 1 } else { 0 };
                        let lane = lanes[rand(2) as usize];
                        let k = key(priority, d, u64::from(next));
                        q.push(lane, k, next);
                        live.insert((k, lane, next));
                    }
                    4 if !live.is_empty() => {
                        let victim = *live.iter().nth(rand(live.len() as u64) as usize).unwrap();
                        live.remove(&victim);
                        let still = live.clone();
                        q.forget(victim.1, |slot, k| {
                            still.iter().any(|e| e.2 == slot && e.0 == k)
                        });
                    }
                    5 => {
                        let lane = lanes[rand(2) as usize];
                        q.set_eligible(lane, rand(3) != 0);
                    }
                    _ => {
                        let eligible: Vec<LaneId> = lanes
                            .iter()
                            .copied()
                            .filter(|l| q.lanes[*l as usize].eligible)
                            .collect();
                        let want = live
                            .iter()
                            .filter(|e| eligible.contains(&e.1))
                            .max_by_key(|e| e.0)
                            .copied();
                        let snapshot = live.clone();
                        let got =
                            q.pop_best(|slot, k| snapshot.iter().any(|e| e.2 == slot && e.0 == k));
                        assert_eq!(got, want.map(|e| (e.1, e.2)), "seed {seed}");
                        if let Some(e) = want {
                            live.remove(&e);
                        }
                    }
                }
                assert_eq!(q.len(), live.len(), "seed {seed}");
            }
        }
    }

    #[test]
    fn lane_top_heap_stays_bounded_under_toggling() {
        let mut q = Lanes::default();
        let a = 0;
        q.open_lane(a, true);
        q.push(a, key(0, 1, 1), 1);
        for _ in 0..10_000 {
            q.set_eligible(a, false);
            q.set_eligible(a, true);
        }
        assert!(q.top.len() <= 2 + 65);
        assert_eq!(q.pop_best(|_, _| true), Some((a, 1)));
    }
}
