//! The call index (private): acceptance number to slot.

use std::collections::HashMap;

use crate::queue::Slot;

/// Live calls by acceptance number.
pub(crate) type CallIndex = HashMap<SeqKey, Slot, BuildSeqHasher>;

/// Hashes acceptance numbers for the call index. They are engine-made, not
/// host-chosen, so a multiplicative hash is safe from flooding and far
/// cheaper than SipHash; the index is never iterated, so its order cannot
/// leak into outputs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeqHasher(u64);

impl std::hash::Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the product's high bits, which hashbrown uses
        // for its control bytes, depend on every bit of `n`.
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type BuildSeqHasher = std::hash::BuildHasherDefault<SeqHasher>;

/// An acceptance number as two 32-bit halves: with a 32-bit slot, an index
/// entry takes 12 bytes instead of the 16 a `u64` key's alignment costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeqKey([u32; 2]);

impl SeqKey {
    pub(crate) fn new(seq: u64) -> SeqKey {
        let [a, b, c, d, e, f, g, h] = seq.to_le_bytes();
        SeqKey([
            u32::from_le_bytes([a, b, c, d]),
            u32::from_le_bytes([e, f, g, h]),
        ])
    }
}

impl std::hash::Hash for SeqKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let [lo, hi] = self.0;
        state.write_u64(u64::from(hi) << 32 | u64::from(lo));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_and_compare_as_their_numbers() {
        let mut index = CallIndex::default();
        for seq in [0, 1, u64::from(u32::MAX), 1 << 32, (1 << 48) - 1, u64::MAX] {
            index.insert(SeqKey::new(seq), 7);
        }
        assert_eq!(index.len(), 6);
        assert_eq!(index.get(&SeqKey::new(1 << 32)), Some(&7));
        assert_eq!(index.get(&SeqKey::new(2)), None);
        assert_eq!(size_of::<(SeqKey, Slot)>(), 12);
    }
}
