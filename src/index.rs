//! The call index (private): acceptance number to slot.
//!
//! Only bare `call-n` IDs need it (IDs the engine hands out name their
//! slot), so the engine builds it the first time one is used and keeps it
//! up to date from then on; a restored engine starts without it. It is
//! also the scratch map a restore checks idempotency keys with.
//!
//! An open-addressed table with linear probing and 12-byte entries stored
//! inline, so a lookup at 10^6-10^7 live calls usually costs one cache miss
//! (a general hash map reads a control byte and then the entry: two). Keys
//! are acceptance numbers, made by the engine (or read back from its own
//! snapshot), so Fibonacci hashing of the dense, increasing numbers spreads
//! them evenly; the table is never iterated, so its order cannot leak into
//! outputs. Deletion shifts entries back instead of leaving tombstones,
//! so probe lengths never degrade over a long run.

use crate::queue::Slot;

/// Live calls by acceptance number (which starts at 1; 0 marks a free
/// entry).
#[derive(Clone, Debug, Default)]
pub(crate) struct CallIndex {
    /// Empty, or a power of two long.
    entries: Vec<Entry>,
    len: usize,
}

/// An acceptance number as two 32-bit halves and its slot: 12 bytes, not
/// the 16 a `u64` field's alignment would cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Entry {
    seq: [u32; 2],
    slot: Slot,
}

impl Entry {
    fn seq(self) -> u64 {
        let [lo, hi] = self.seq;
        u64::from(hi) << 32 | u64::from(lo)
    }

    fn is_free(self) -> bool {
        self.seq == [0, 0]
    }

    fn new(seq: u64, slot: Slot) -> Entry {
        let [a, b, c, d, e, f, g, h] = seq.to_le_bytes();
        Entry {
            seq: [
                u32::from_le_bytes([a, b, c, d]),
                u32::from_le_bytes([e, f, g, h]),
            ],
            slot,
        }
    }
}

/// Grow past 3/4 full; shrink below 1/8 (a shrink leaves it 1/4 full, so
/// alternating inserts and removes cannot thrash).
const MIN_CAPACITY: usize = 16;

impl CallIndex {
    /// How many calls are indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot of call `seq`.
    pub(crate) fn get(&self, seq: u64) -> Option<Slot> {
        let mask = self.entries.len().checked_sub(1)?;
        let mut i = home(seq, mask);
        loop {
            let e = *self.entries.get(i)?;
            if e.is_free() {
                return None;
            }
            if e.seq() == seq {
                return Some(e.slot);
            }
            i = (i + 1) & mask;
        }
    }

    /// Indexes call `seq` at `slot`, returning the slot it replaced. Seq 0
    /// is never a call and is ignored.
    pub(crate) fn insert(&mut self, seq: u64, slot: Slot) -> Option<Slot> {
        if seq == 0 {
            return None;
        }
        if (self.len + 1) * 4 > self.entries.len() * 3 {
            self.resize((self.entries.len() * 2).max(MIN_CAPACITY));
        }
        let mask = self.entries.len().wrapping_sub(1);
        let mut i = home(seq, mask);
        // The table is at most 3/4 full, so the probe meets a free entry.
        while let Some(e) = self.entries.get_mut(i) {
            if e.is_free() {
                *e = Entry::new(seq, slot);
                self.len += 1;
                return None;
            }
            if e.seq() == seq {
                return Some(std::mem::replace(&mut e.slot, slot));
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Forgets call `seq`, returning its slot.
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Slot> {
        let mask = self.entries.len().checked_sub(1)?;
        let mut hole = home(seq, mask);
        let found = loop {
            let e = *self.entries.get(hole)?;
            if e.is_free() {
                return None;
            }
            if e.seq() == seq {
                break e.slot;
            }
            hole = (hole + 1) & mask;
        };
        // Backward shift: pull later entries of the run into the hole when
        // their home is not between the hole and them.
        let mut j = (hole + 1) & mask;
        while let Some(e) = self.entries.get(j).copied() {
            if e.is_free() {
                break;
            }
            let h = home(e.seq(), mask);
            if j.wrapping_sub(h) & mask >= j.wrapping_sub(hole) & mask {
                if let Some(slot) = self.entries.get_mut(hole) {
                    *slot = e;
                }
                hole = j;
            }
            j = (j + 1) & mask;
        }
        if let Some(slot) = self.entries.get_mut(hole) {
            *slot = Entry::default();
        }
        self.len -= 1;
        if self.entries.len() > MIN_CAPACITY && self.len * 8 < self.entries.len() {
            self.resize(self.entries.len() / 2);
        }
        Some(found)
    }

    /// Makes room for `additional` more calls without growing.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let want = self.len.saturating_add(additional);
        let mut capacity = self.entries.len().max(MIN_CAPACITY);
        while want.saturating_mul(4) > capacity.saturating_mul(3) {
            capacity = capacity.saturating_mul(2);
        }
        if capacity != self.entries.len() {
            self.resize(capacity);
        }
    }

    fn resize(&mut self, capacity: usize) {
        // Zeroed entries are free, so a fresh table comes from zeroed pages.
        let old = std::mem::replace(&mut self.entries, vec![Entry::default(); capacity]);
        self.len = 0;
        for e in old {
            if !e.is_free() {
                self.insert(e.seq(), e.slot);
            }
        }
    }
}

/// Fibonacci hashing: the product's high bits depend on every bit of `seq`,
/// and consecutive numbers land far apart.
fn home(seq: u64, mask: usize) -> usize {
    let bits = mask.count_ones();
    let h = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // `bits` is at most 63 here: a table never has 2^64 entries.
    (h.checked_shr(64 - bits).unwrap_or(0) as usize) & mask
}

/// Hashes numbers the engine made itself (agent, batch and lane numbers),
/// which a host cannot choose, so a multiplicative hash is safe from
/// flooding and far cheaper than SipHash. Maps hashed with it are never
/// iterated into outputs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EngineIdHasher(u64);

impl std::hash::Hasher for EngineIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        // The rotation feeds earlier words' high product bits into the low
        // bits hashbrown picks buckets with.
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Builds [`EngineIdHasher`]s.
pub(crate) type BuildEngineIdHasher = std::hash::BuildHasherDefault<EngineIdHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Pairs of small engine numbers get distinct hashes, and so do the
    /// two orders of a pair.
    #[test]
    fn engine_id_pairs_hash_apart() {
        use std::hash::BuildHasher;
        let build = BuildEngineIdHasher::default();
        let mut seen = std::collections::HashSet::new();
        for a in 0..300_u32 {
            for b in 0..300_u32 {
                assert!(seen.insert(build.hash_one((a, b))), "({a}, {b})");
            }
        }
    }

    #[test]
    fn entries_are_twelve_bytes() {
        assert_eq!(size_of::<Entry>(), 12);
    }

    #[test]
    fn keys_compare_as_their_full_numbers() {
        let mut index = CallIndex::default();
        for seq in [1, u64::from(u32::MAX), 1 << 32, (1 << 48) - 1, u64::MAX] {
            assert_eq!(index.insert(seq, 7), None);
        }
        assert_eq!(index.len(), 5);
        assert_eq!(index.get(1 << 32), Some(7));
        assert_eq!(index.get(2), None);
        assert_eq!(index.insert(1 << 32, 9), Some(7));
        assert_eq!(index.get(1 << 32), Some(9));
        assert_eq!(index.len(), 5);
        // Seq 0 marks a free entry and is never indexed.
        assert_eq!(index.insert(0, 1), None);
        assert_eq!(index.get(0), None);
        assert_eq!(index.remove(0), None);
    }

    /// Random inserts, lookups and removes agree with a `HashMap`, through
    /// growth, shrinking and long probe runs (keys chosen to collide).
    #[test]
    fn agrees_with_a_hash_map() {
        for seed in 1..=40u64 {
            let mut rng = crate::test_rng::xorshift(seed);
            let mut index = CallIndex::default();
            let mut reference: HashMap<u64, Slot> = HashMap::new();
            // Some seeds draw from a small key range (dense runs), some
            // from multiples of a power of two (shared homes).
            let range = [64, 5_000, 1 << 20][(seed % 3) as usize];
            let stride = if seed % 4 == 0 { 1 << 40 } else { 1 };
            for step in 0..20_000u32 {
                let seq = (rng(range) + 1) * stride;
                match rng(10) {
                    0..=4 => assert_eq!(
                        index.insert(seq, step),
                        reference.insert(seq, step),
                        "seed {seed} step {step}"
                    ),
                    5..=7 => assert_eq!(
                        index.remove(seq),
                        reference.remove(&seq),
                        "seed {seed} step {step}"
                    ),
                    _ => assert_eq!(index.get(seq), reference.get(&seq).copied()),
                }
                assert_eq!(index.len(), reference.len());
            }
            for (seq, slot) in &reference {
                assert_eq!(index.get(*seq), Some(*slot));
            }
            // Emptied, the table shrinks back.
            let keys: Vec<u64> = reference.keys().copied().collect();
            for seq in keys {
                assert!(index.remove(seq).is_some());
            }
            assert_eq!(index.len(), 0);
            assert!(index.entries.len() <= MIN_CAPACITY * 2, "seed {seed}");
        }
    }

    #[test]
    fn reserve_makes_room_up_front() {
        let mut index = CallIndex::default();
        index.reserve(1_000);
        let capacity = index.entries.len();
        assert!(capacity * 3 >= 1_000 * 4);
        for seq in 1..=1_000 {
            index.insert(seq, 0);
        }
        assert_eq!(index.entries.len(), capacity);
    }
}
