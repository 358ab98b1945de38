//! Searching bytes eight at a time: each test marks, in one `u64`, the
//! bytes of a word that match. A mark can be wrong only above a right one
//! (a borrow carries upwards), so the lowest mark of any union of tests is
//! exact, which is all a search needs.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Marks the bytes of `w` equal to `b`.
#[inline(always)]
pub(super) fn eq(w: u64, b: u8) -> u64 {
    let v = w ^ (u64::from(b) * ONES);
    v.wrapping_sub(ONES) & !v & HIGH
}

/// Marks the bytes of `w` below `n` (`n` at most 0x80).
#[inline(always)]
pub(super) fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(u64::from(n) * ONES) & !w & HIGH
}

/// Marks the bytes of `w` above 0x7F (not ASCII).
#[inline(always)]
pub(super) fn high(w: u64) -> u64 {
    w & HIGH
}

/// Where the first byte of `bytes` that `marks` marks is. The last
/// partial word is padded with zero bytes, which a mark there ignores.
#[inline(always)]
pub(super) fn first(bytes: &[u8], marks: impl Fn(u64) -> u64) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0_u8; 8];
        word.copy_from_slice(chunk);
        let hits = marks(u64::from_le_bytes(word));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    let mut word = [0_u8; 8];
    word.iter_mut().zip(tail).for_each(|(w, b)| *w = *b);
    let hits = marks(u64::from_le_bytes(word));
    let i = (hits.trailing_zeros() / 8) as usize;
    (i < tail.len()).then_some(at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every search finds what a byte loop finds, at every length and
    /// position, bytes above 0x7F included, with a second hit after the
    /// first.
    #[test]
    fn searches_are_the_byte_loop() {
        let fill = [b'a', 0xC3, 0xA9, b' ', 0x7F, 0xFF, b'~', b'!', b'Y', b'_'];
        type Search = (fn(u64) -> u64, fn(u8) -> bool);
        let searches: [Search; 4] = [
            (
                |w| eq(w, b'"') | eq(w, b'\\') | below(w, 0x20),
                |b| b == b'"' || b == b'\\' || b < 0x20,
            ),
            (
                |w| eq(w, b'"') | eq(w, b'[') | eq(w, b'{') | eq(w, b']') | eq(w, b'}'),
                |b| matches!(b, b'"' | b'[' | b'{' | b']' | b'}'),
            ),
            (|w| eq(w, b'"') | eq(w, b'\\'), |b| b == b'"' || b == b'\\'),
            (
                |w| below(w, 0x20) | eq(w, 0x7F) | high(w),
                |b| !(0x20..0x7F).contains(&b),
            ),
        ];
        for (marks, hit) in searches {
            for len in 0..40 {
                for at in 0..=len {
                    for special in [b'"', b'\\', 0x00, 0x1F, b'{', b']', b'}', b'[', 0x7F, 0x80] {
                        let mut bytes: Vec<u8> = (0..len).map(|i| fill[i % fill.len()]).collect();
                        if at < len {
                            bytes[at] = special;
                            if at + 1 < len {
                                bytes[at + 1] = b'"';
                            }
                        }
                        let expected = bytes.iter().position(|&b| hit(b));
                        assert_eq!(first(&bytes, marks), expected, "{bytes:?}");
                    }
                }
            }
        }
    }
}
