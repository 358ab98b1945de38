//! Maps keyed by numbers the engine makes itself (private).
//!
//! [`CallIndex`] maps sequence numbers to slots. Only bare `call-n` IDs
//! need it (IDs the engine hands out name their slot), so the engine
//! builds it the first time one is used and keeps it up to date from then
//! on; a restored engine starts without it. A restore also uses one to
//! check idempotency keys against their calls.

use std::collections::HashMap;

use crate::queue::Slot;

/// Live calls by sequence number.
pub(crate) type CallIndex = HashMap<u64, Slot, BuildEngineIdHasher>;

/// Hashes numbers the engine made itself (acceptance, agent and batch
/// numbers), which a host cannot choose freely, so a multiplicative hash
/// is far cheaper than SipHash and safe enough. Maps hashed with it are
/// never iterated into outputs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EngineIdHasher(u64);

impl std::hash::Hasher for EngineIdHasher {
    fn finish(&self) -> u64 {
        // hashbrown picks buckets with the low bits, which in a product
        // depend only on the key's low bits: a folded 128-bit product mixes
        // every bit in, so numbers that differ only high up (a crafted
        // snapshot's) still spread.
        let wide = u128::from(self.0) * u128::from(0xA076_1D64_78BD_642F_u64);
        (wide as u64) ^ ((wide >> 64) as u64)
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

    /// Numbers that differ only in their high bits land in many buckets.
    #[test]
    fn high_bit_numbers_spread_over_low_hash_bits() {
        use std::hash::BuildHasher;
        let build = BuildEngineIdHasher::default();
        let low: std::collections::HashSet<u64> = (1..=4096_u64)
            .map(|k| build.hash_one(k << 40) & 0xFFF)
            .collect();
        assert!(low.len() > 2000, "{}", low.len());
    }

    #[test]
    fn call_index_keys_are_full_numbers() {
        let mut index = CallIndex::default();
        for seq in [1, u64::from(u32::MAX), 1 << 32, (1 << 48) - 1, u64::MAX] {
            assert_eq!(index.insert(seq, 7), None);
        }
        assert_eq!(index.len(), 5);
        assert_eq!(index.get(&(1 << 32)), Some(&7));
        assert_eq!(index.get(&2), None);
    }
}
