//! The unit tests' deterministic randomness (test builds only).

/// A xorshift64 generator from `seed` (non-zero): each call gives a number
/// below its argument.
pub(crate) fn xorshift(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}
