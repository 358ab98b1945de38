//! What several benches share: the start instant, a seeded generator and
//! instants from seconds.
#![allow(dead_code)] // each bench uses its own part

use chrono::{DateTime, Utc};

/// 2026-03-06T00:00:00Z.
pub const T0: i64 = 1_772_755_200;

/// xorshift64*: seeded, so every run draws the same sequence.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The instant `t` seconds after the epoch.
pub fn at(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap()
}
