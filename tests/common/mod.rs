//! Helpers shared by the integration tests (each test file uses a part).
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod invariants;

/// The zones the randomized tests draw from: New York, London and
/// Santiago (gaps and folds, Santiago's at midnight), Lord Howe (half-hour
/// DST), Kathmandu (+05:45) and Kolkata (no DST).
pub const ZONES: [&str; 6] = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "America/Santiago",
];

/// SplitMix64: a seedable generator, so every random test replays exactly.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
