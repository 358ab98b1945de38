//! Growth of the engine's large tables: by a quarter, not by doubling.
//!
//! A vector that doubles when full holds up to twice what it needs. At
//! 10^6 pending calls the ready lanes held 8 MB of entries in 15.7 MB
//! (15 lanes of 33,000 entries, each grown to room for 65,536; valgrind's
//! massif). Growing a full table of [`GENTLE_FROM`] or more entries by a
//! quarter keeps the slack under 25% and the cost of a push O(1)
//! amortized (a growth step a quarter of the table means about four
//! copies of each entry over the table's life, against one for doubling).
//! Small tables double as usual.

use std::collections::{BinaryHeap, VecDeque};

/// Entries from which a full table grows by a quarter.
pub(crate) const GENTLE_FROM: usize = 4096;

/// Appends `item` to `v`, growing a large full vector by a quarter.
#[inline]
pub(crate) fn push<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        room_in_vec(v);
    }
    v.push(item);
}

/// Appends `item` to the back of `q`, growing a large full queue by a
/// quarter.
#[inline]
pub(crate) fn push_back<T>(q: &mut VecDeque<T>, item: T) {
    if q.len() == q.capacity() {
        room_in_deque(q);
    }
    q.push_back(item);
}

/// Pushes `item` onto `h`, growing a large full heap by a quarter.
#[inline]
pub(crate) fn push_heap<T: Ord>(h: &mut BinaryHeap<T>, item: T) {
    if h.len() == h.capacity() {
        room_in_heap(h);
    }
    h.push(item);
}

/// How much room to add to a full table of `len` entries: a quarter of a
/// large one, as much again to a small one (doubling).
fn more(len: usize) -> usize {
    if len >= GENTLE_FROM {
        len / 4
    } else {
        len.max(4)
    }
}

// The growth paths are cold: kept out of line so that each push stays a
// compare and a store where it is inlined.
#[cold]
#[inline(never)]
fn room_in_vec<T>(v: &mut Vec<T>) {
    v.reserve_exact(more(v.len()));
}

#[cold]
#[inline(never)]
fn room_in_deque<T>(q: &mut VecDeque<T>) {
    q.reserve_exact(more(q.len()));
}

#[cold]
#[inline(never)]
fn room_in_heap<T: Ord>(h: &mut BinaryHeap<T>) {
    h.reserve_exact(more(h.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_tables_grow_by_a_quarter_small_ones_double() {
        let mut v = Vec::new();
        let mut q = VecDeque::new();
        let mut h = BinaryHeap::new();
        for i in 0..100_000_usize {
            push(&mut v, i);
            push_back(&mut q, i);
            push_heap(&mut h, i);
            for (len, capacity) in [
                (v.len(), v.capacity()),
                (q.len(), q.capacity()),
                (h.len(), h.capacity()),
            ] {
                if len > GENTLE_FROM {
                    // At most a quarter of it empty.
                    assert!(capacity <= len + len / 4, "{len} in {capacity}");
                    assert!(capacity >= len);
                }
            }
        }
        assert_eq!(v, (0..100_000).collect::<Vec<_>>());
        assert!(q.iter().copied().eq(0..100_000));
        assert_eq!(h.peek(), Some(&99_999));
        // Below the threshold a vector doubles (from 4).
        let mut small = Vec::new();
        for i in 0..2_049 {
            push(&mut small, i);
        }
        assert_eq!(small.capacity(), 4_096);
        let mut single = Vec::new();
        push(&mut single, 1);
        assert_eq!(single.capacity(), 4);
    }
}
