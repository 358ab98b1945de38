//! The timer queue: time-driven work (a call becoming due, a window
//! closing, an attempt timing out) in the order its events must come out,
//! by instant, then by acceptance. The clock never goes backwards, so this
//! is a monotone radix heap rather than a binary heap: its cost does not
//! grow with the number of pending calls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Slot;
use crate::grow;
/// One piece of time-driven work: at `at`, the call in `slot` needs
/// attention, if the slot's timer generation is still `generation`. Ties at
/// one instant go in acceptance order (`seq`, the call's sequence number).
/// The entry carries it, 8 bytes more, because reading it from the call
/// when a window opening releases thousands of calls at one instant is a
/// cache miss per call at millions of calls. Field order is pop order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerEntry {
    pub at: i64,
    pub seq: u64,
    pub slot: Slot,
    pub generation: u32,
}

/// `late` is left a binary heap up to this size (a few cache lines deep).
const LATE_REBUILD_MIN: usize = if cfg!(test) { 8 } else { 1024 };

/// Up to this many stored entries, a refill drops every stale entry it
/// moves (see [`Timers::refill`]); small under test, so that the
/// randomized comparison runs both ways.
const CHECK_ALL_MAX: usize = if cfg!(test) { 64 } else { 1 << 16 };

/// An instant as an unsigned key with the same order.
fn radix_key(at: i64) -> u64 {
    at.cast_unsigned() ^ (1 << 63)
}

/// Which bucket holds `key` while the last minimum is `last` (`key > last`):
/// one more than the highest bit in which they differ.
fn bucket_of(key: u64, last: u64) -> usize {
    64 - (key ^ last).leading_zeros() as usize
}

/// Time-driven work in (instant, acceptance order), as a monotone radix heap.
///
/// The engine's clock never goes backwards, so neither does the earliest
/// timer it pops. That lets the queue be a radix heap: entries later than
/// the last minimum `last` sit in bucket `b` when they first differ from it
/// in bit `b - 1`, so a push is one append and every entry moves down at
/// most 64 times, each move a sequential copy; a binary heap instead pays
/// log2(N) dependent cache misses per operation once it outgrows the cache.
/// Entries at the minimum instant are sorted by acceptance order into
/// `current` when the minimum advances. A push at `last` that comes after
/// all of `current` (a new call due at the same instant as the calls before
/// it: a campaign uploaded with one start time) is appended to it; other
/// pushes at or before `last` (a retry with no gap, restored work) go to
/// the small binary heap `late`.
///
/// Removal is lazy, as in the ready queue. Invariant kept by the owner
/// calling [`Timers::clean_top`] after every operation: the earliest stored
/// entry is valid and in `current` or `late`, so [`Timers::peek`] is O(1).
#[derive(Debug)]
pub(crate) struct Timers {
    /// Entries at instant `last`, in pop order from `head` on (those
    /// before it are popped; a plain vector and an index are cheaper to
    /// read at the front than a ring buffer).
    current: Vec<TimerEntry>,
    head: usize,
    /// Entries at or before `last` pushed after `current` was filled.
    late: BinaryHeap<Reverse<TimerEntry>>,
    /// 65 buckets; bucket 0 stays empty (its entries go to `late`).
    buckets: Vec<Vec<TimerEntry>>,
    /// Bit `b` set when bucket `b` holds entries: finding the first
    /// non-empty bucket is one instruction, not a scan of 65 lengths (which
    /// an input paid up to three times when no timer was pending).
    occupied: u128,
    /// An empty vector whose capacity the next refill reuses.
    spare: Vec<TimerEntry>,
    last: u64,
    /// No stored entry is earlier: exact after [`Timers::clean_top`], and
    /// lowered by a push, so "nothing due" is one comparison.
    earliest: i64,
    /// Times `late` was folded back into the buckets (for tests).
    rebuilds: usize,
    /// Entries standing for pending timers.
    live: usize,
    /// Entries stored, stale ones included.
    stored: usize,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            current: Vec::new(),
            head: 0,
            late: BinaryHeap::new(),
            buckets: vec![Vec::new(); 65],
            occupied: 0,
            spare: Vec::new(),
            last: 0,
            earliest: i64::MAX,
            rebuilds: 0,
            live: 0,
            stored: 0,
        }
    }
}

impl Timers {
    /// Adds `entry`.
    pub fn push(&mut self, entry: TimerEntry) {
        self.live += 1;
        self.stored += 1;
        self.earliest = self.earliest.min(entry.at);
        let key = radix_key(entry.at);
        if key == self.last
            && self.late.is_empty()
            && self.current.last().is_some_and(|b| b.seq < entry.seq)
        {
            // In order after everything at this instant: without this, each
            // such push went to `late`, and a bulk upload sharing one start
            // time rebuilt (and re-sorted) the whole queue again and again.
            grow::push(&mut self.current, entry);
        } else if key <= self.last {
            grow::push_heap(&mut self.late, Reverse(entry));
        } else {
            self.put_in_bucket(bucket_of(key, self.last), entry);
        }
    }

    fn put_in_bucket(&mut self, i: usize, entry: TimerEntry) {
        if let Some(b) = self.buckets.get_mut(i) {
            grow::push(b, entry);
            self.occupied |= 1 << i;
        }
    }

    /// A pending timer was replaced or dropped; its entry is now stale.
    pub fn forget(&mut self, valid: impl Fn(&TimerEntry) -> bool) {
        self.live = self.live.saturating_sub(1);
        if self.stored > 2 * self.live + 64 {
            self.current.drain(..self.head);
            self.head = 0;
            self.current.retain(&valid);
            self.late.retain(|Reverse(e)| valid(e));
            self.occupied = 0;
            for (i, b) in self.buckets.iter_mut().enumerate() {
                b.retain(&valid);
                if !b.is_empty() {
                    self.occupied |= 1 << i;
                }
            }
            self.stored = self.current.len()
                + self.late.len()
                + self.buckets.iter().map(Vec::len).sum::<usize>();
        }
    }

    /// Whether the earliest entry is in `late` rather than `current`.
    fn late_first(&self) -> bool {
        match (self.current.get(self.head), self.late.peek()) {
            (Some(c), Some(Reverse(l))) => l < c,
            (None, _) => true,
            (Some(_), None) => false,
        }
    }

    /// The earliest of `current` and `late`.
    fn front(&self) -> Option<TimerEntry> {
        if self.late_first() {
            self.late.peek().map(|Reverse(e)| *e)
        } else {
            self.current.get(self.head).copied()
        }
    }

    fn pop_front(&mut self) -> Option<TimerEntry> {
        let entry = if self.late_first() {
            self.late.pop().map(|Reverse(e)| e)
        } else {
            let entry = self.current.get(self.head).copied();
            self.head += 1;
            if self.head >= self.current.len() {
                self.current.clear();
                self.head = 0;
            }
            entry
        };
        if entry.is_some() {
            self.stored = self.stored.saturating_sub(1);
        }
        entry
    }

    /// Advances `last` to the earliest bucketed instant and sorts the
    /// entries at it into `current`. False when nothing is stored.
    fn refill(&mut self, valid: impl Fn(&TimerEntry) -> bool) -> bool {
        // Swap in the spare (empty) vector so bucket capacity is reused, not
        // freed and grown again on every refill.
        let mut entries = std::mem::take(&mut self.spare);
        let min = loop {
            if self.occupied == 0 {
                self.spare = entries;
                return false;
            }
            let i = self.occupied.trailing_zeros() as usize;
            self.occupied &= !(1 << i);
            if let Some(b) = self.buckets.get_mut(i) {
                std::mem::swap(b, &mut entries);
            }
            if let Some(min) = entries.iter().map(|e| radix_key(e.at)).min() {
                break min;
            }
        };
        self.last = min;
        // A small queue drops stale entries as they move, not only at the
        // minimum: an attempt's timeout goes stale at its report and would
        // otherwise move down a dozen buckets. Checking costs a read of
        // the call's generation, a cache hit while the queue is small and
        // a miss per entry past that, where moving the entry along costs
        // less.
        let drop_stale = self.stored <= CHECK_ALL_MAX;
        for e in entries.drain(..) {
            let key = radix_key(e.at);
            if (key == min || drop_stale) && !valid(&e) {
                self.stored = self.stored.saturating_sub(1);
            } else if key == min {
                grow::push(&mut self.current, e);
            } else {
                self.put_in_bucket(bucket_of(key, min), e);
            }
        }
        self.spare = entries;
        // Stale entries sort anywhere; they are dropped when they surface.
        self.current.sort_unstable_by_key(|e| e.seq);
        true
    }

    /// Rebuckets every valid entry around their minimum, emptying `late`.
    ///
    /// `last` runs ahead of the clock: it is the earliest instant stored, so
    /// that [`Timers::peek`] is exact. Work pushed between the clock and
    /// `last` (a bulk submit of calls due at scattered times, attempt
    /// timeouts while the next timer is hours away) goes to `late`, which
    /// as a binary heap of millions would cost a cache miss per level.
    /// Rebuilding once `late` holds a quarter of all entries costs O(n)
    /// after at least n/4 late pushes: O(1) amortized per push.
    fn rebuild(&mut self, valid: impl Fn(&TimerEntry) -> bool) {
        self.rebuilds += 1;
        let mut entries = std::mem::take(&mut self.spare);
        entries.extend(self.current.drain(self.head..).filter(&valid));
        self.current.clear();
        self.head = 0;
        entries.extend(self.late.drain().map(|Reverse(e)| e).filter(&valid));
        for b in &mut self.buckets {
            entries.extend(b.drain(..).filter(&valid));
        }
        self.occupied = 0;
        self.stored = entries.len();
        if let Some(min) = entries.iter().map(|e| radix_key(e.at)).min() {
            self.last = min;
            for e in entries.drain(..) {
                let key = radix_key(e.at);
                if key == min {
                    grow::push(&mut self.current, e);
                } else {
                    self.put_in_bucket(bucket_of(key, min), e);
                }
            }
            self.current.sort_unstable_by_key(|e| e.seq);
        }
        self.spare = entries;
    }

    /// Drops stale entries until the earliest one is valid.
    pub fn clean_top(&mut self, valid: impl Fn(&TimerEntry) -> bool) {
        if self.late.len() > LATE_REBUILD_MIN && self.late.len() * 4 > self.stored {
            self.rebuild(&valid);
        }
        loop {
            match self.front() {
                Some(e) if valid(&e) => {
                    self.earliest = e.at;
                    return;
                }
                Some(_) => {
                    self.pop_front();
                }
                None => {
                    if !self.refill(&valid) {
                        self.earliest = i64::MAX;
                        return;
                    }
                }
            }
        }
    }

    /// Entries standing for pending timers.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The earliest pending instant (exact once [`Timers::clean_top`] ran).
    pub fn peek(&self) -> Option<i64> {
        self.front().map(|e| e.at)
    }

    /// Pops the earliest valid entry due at or before `now`.
    pub fn pop_due(&mut self, now: i64, valid: impl Fn(&TimerEntry) -> bool) -> Option<TimerEntry> {
        // Fast path for the common "nothing due".
        if now < self.earliest {
            return None;
        }
        self.clean_top(&valid);
        if self.front().is_some_and(|e| e.at <= now) {
            self.live = self.live.saturating_sub(1);
            self.pop_front()
        } else {
            None
        }
    }

    /// Stored entries, stale ones included (for tests of boundedness).
    #[cfg(test)]
    pub fn stored(&self) -> usize {
        self.stored
    }

    /// Whether `occupied` names exactly the non-empty buckets (for tests).
    #[cfg(test)]
    pub fn occupied_is_exact(&self) -> bool {
        self.buckets
            .iter()
            .enumerate()
            .all(|(i, b)| b.is_empty() == (self.occupied & 1 << i == 0))
    }

    /// Entries in `late` and rebuilds so far (for tests).
    #[cfg(test)]
    pub fn late_stats(&self) -> (usize, usize) {
        (self.late.len(), self.rebuilds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn timer(at: i64, seq: u64, slot: Slot) -> TimerEntry {
        TimerEntry {
            at,
            seq,
            slot,
            generation: 0,
        }
    }

    #[test]
    fn timers_pop_in_instant_then_acceptance_order() {
        let mut t = Timers::default();
        // (instant, sequence number); the slot is the index here.
        let calls = [(5, 2), (5, 1), (3, 9), (7, 0)];
        for (slot, (at, seq)) in calls.iter().enumerate() {
            t.push(timer(*at, *seq, u32::try_from(slot).unwrap()));
        }
        let all = |_: &TimerEntry| true;
        let order: Vec<(i64, u64)> = std::iter::from_fn(|| t.pop_due(6, all))
            .map(|e| (e.at, e.seq))
            .collect();
        assert_eq!(order, vec![(3, 9), (5, 1), (5, 2)]);
        assert_eq!(t.peek(), Some(7));
    }

    /// A bulk upload with one start time: every push after the first is at
    /// the current minimum, in acceptance order. They are appended, not
    /// heaped in `late` and rebuilt (which re-sorted the whole queue each
    /// time `late` reached a quarter of it).
    #[test]
    fn pushes_in_order_at_the_current_instant_are_appended() {
        let mut t = Timers::default();
        let all = |_: &TimerEntry| true;
        for seq in 0..10_000_u64 {
            t.push(timer(500, seq, u32::try_from(seq).unwrap()));
            t.clean_top(all);
        }
        assert_eq!(t.late_stats(), (0, 0));
        // One out of order goes to `late` and still pops in its place.
        t.push(timer(500, 3, 3));
        assert_eq!(t.late_stats().0, 1);
        let order: Vec<u64> = std::iter::from_fn(|| t.pop_due(500, all))
            .map(|e| e.seq)
            .take(6)
            .collect();
        assert_eq!(order, vec![0, 1, 2, 3, 3, 4]);
    }

    /// A small queue drops the stale entries a refill moves, not only
    /// those at the new minimum.
    #[test]
    fn a_small_queue_drops_stale_entries_as_they_move() {
        let mut t = Timers::default();
        for slot in 0..10_u32 {
            t.push(timer(10 * i64::from(slot + 1), u64::from(slot), slot));
        }
        let valid = |e: &TimerEntry| e.slot < 5;
        for _ in 5..10 {
            t.forget(valid);
        }
        assert_eq!(t.pop_due(10, valid).map(|e| e.slot), Some(0));
        // Slots 1 to 4 are left; 5 to 9 went as the refill moved them.
        assert_eq!((t.stored(), t.live()), (4, 4));
        let left: Vec<Slot> = std::iter::from_fn(|| t.pop_due(1_000, valid))
            .map(|e| e.slot)
            .collect();
        assert_eq!(left, vec![1, 2, 3, 4]);
    }

    /// The radix heap against a plain binary heap of (instant, acceptance
    /// number): random pushes (some at or before the last minimum, many
    /// sharing an instant), sequence numbers in no relation to push order,
    /// random invalidations and a clock that only moves forward.
    #[test]
    fn radix_timers_match_a_binary_heap() {
        let mut rebuilds = 0;
        for seed in 1..200_u64 {
            let mut rand = crate::test_rng::xorshift(seed);
            let mut t = Timers::default();
            let mut reference = BinaryHeap::new();
            let mut seqs: Vec<u64> = Vec::new();
            let mut dead = HashSet::new();
            let mut now = -1_000_i64;
            for _ in 0..2_000 {
                match rand(10) {
                    0..=4 => {
                        let slot = u32::try_from(seqs.len()).unwrap();
                        let seq = rand(1 << 20) << 12 | u64::from(slot);
                        seqs.push(seq);
                        let spread = [1, 60, 100_000, 1 << 40][rand(4) as usize];
                        let at = now - 5 + i64::try_from(rand(spread)).unwrap();
                        t.push(timer(at, seq, slot));
                        reference.push(Reverse((at, seq, slot)));
                    }
                    5 if !seqs.is_empty() => {
                        dead.insert(u32::try_from(rand(seqs.len() as u64)).unwrap());
                        t.forget(|e| !dead.contains(&e.slot));
                    }
                    _ => {
                        now += i64::try_from(rand(3_000)).unwrap();
                        let valid = |e: &TimerEntry| !dead.contains(&e.slot);
                        loop {
                            while reference
                                .peek()
                                .is_some_and(|Reverse((_, _, slot))| dead.contains(slot))
                            {
                                reference.pop();
                            }
                            let want = reference
                                .peek()
                                .filter(|Reverse((at, _, _))| *at <= now)
                                .map(|Reverse((at, seq, slot))| timer(*at, *seq, *slot));
                            if want.is_some() {
                                reference.pop();
                            }
                            assert_eq!(t.pop_due(now, valid), want, "seed {seed}");
                            if want.is_none() {
                                break;
                            }
                        }
                        t.clean_top(valid);
                        let next = reference.peek().map(|Reverse((at, _, _))| *at);
                        assert_eq!(t.peek(), next, "seed {seed}");
                    }
                }
                assert!(t.occupied_is_exact(), "seed {seed}");
            }
            rebuilds += t.late_stats().1;
        }
        // The comparison covered folding `late` back into the buckets.
        assert!(rebuilds > 100, "{rebuilds}");
    }

    /// Timers pushed earlier than the stored minimum (a bulk submit of calls
    /// due at scattered times) do not pile up in the binary heap: it stays
    /// within a quarter of all entries, and the order is exact.
    #[test]
    fn early_pushes_are_folded_back_into_the_buckets() {
        let mut t = Timers::default();
        let n: u32 = 20_000;
        let valid = |_: &TimerEntry| true;
        // The first call is due last; each later one a little earlier.
        for slot in 0..n {
            t.push(timer(i64::from(n - slot) * 7, u64::from(slot), slot));
            t.clean_top(valid);
            let (late, _) = t.late_stats();
            assert!(
                late <= (t.stored() / 4).max(LATE_REBUILD_MIN) + 1,
                "{slot}: {late}"
            );
        }
        assert!(t.late_stats().1 > 5);
        let order: Vec<i64> = std::iter::from_fn(|| t.pop_due(i64::MAX, valid))
            .map(|e| e.at)
            .collect();
        let want: Vec<i64> = (1..=i64::from(n)).map(|i| i * 7).collect();
        assert_eq!(order, want);
    }

    #[test]
    fn stale_timers_are_compacted() {
        let mut t = Timers::default();
        for i in 0..10_000 {
            let generation = u32::try_from(i).unwrap();
            t.push(TimerEntry {
                at: i,
                seq: 0,
                slot: 0,
                generation,
            });
            t.forget(|e| e.generation == generation);
        }
        assert!(t.stored() < 200, "{}", t.stored());
    }
}
