//! CRC-32C (Castagnoli), the checksum of journal records: the one iSCSI,
//! ext4 and LevelDB use for the same job, with better error detection than
//! CRC-32 on short records. Table-driven, up to eight bytes per step
//! ("slicing by 8"); the tables are computed at compile time.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

// Evaluated at compile time: an index out of range fails the build, it
// cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const fn tables() -> [[u32; 256]; 8] {
    let mut t = [[0_u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = tables();

/// One table entry; the index is always below 256.
fn at(table: usize, index: u32) -> u32 {
    TABLES
        .get(table)
        .and_then(|t| t.get(index as usize & 0xFF))
        .copied()
        .unwrap_or(0)
}

/// Extends `crc` (0 to start) over `bytes`.
pub(crate) fn extend(mut crc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0_u8; 8];
        word.copy_from_slice(chunk);
        crc = extend_word(crc, u64::from_le_bytes(word), 8);
    }
    let mut tail = 0_u64;
    for (i, &b) in chunks.remainder().iter().enumerate() {
        tail |= u64::from(b) << (8 * i);
    }
    extend_word(crc, tail, chunks.remainder().len() as u32)
}

/// Extends `crc` over the low `n` bytes of `word` (little-endian, `n` at
/// most 8): "slicing by `n`", so the `n` table lookups are independent of
/// each other instead of one chain through all the bytes: [`extend`]'s
/// step, and its last bytes'.
#[inline(always)]
pub(crate) fn extend_word(crc: u32, word: u64, n: u32) -> u32 {
    let c = !crc;
    // The running remainder goes into the first four bytes; with fewer,
    // what is left of it is shifted down past them.
    let w = word ^ u64::from(c);
    let mut r = if n < 4 { c >> (8 * n) } else { 0 };
    for i in 0..n.min(8) {
        r ^= at((n - 1 - i) as usize, (w >> (8 * i)) as u32);
    }
    !r
}

/// The CRC-32C of the four bytes of `word` (little-endian), for the length
/// every record's checksum starts with.
pub(crate) fn checksum_u32(word: u32) -> u32 {
    extend_word(0, u64::from(word), 4)
}

/// The CRC-32C of `bytes` (records use [`checksum_u32`] and [`extend`]).
#[cfg(test)]
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    extend(0, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit by bit, straight from the definition.
    fn reference(bytes: &[u8]) -> u32 {
        let mut c = !0_u32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn known_vectors() {
        // RFC 3720 (iSCSI) appendix B.4 and the usual check value.
        assert_eq!(checksum(b"123456789"), 0xE306_9283);
        assert_eq!(checksum(&[0_u8; 32]), 0x8A91_36AA);
        assert_eq!(checksum(&[0xFF_u8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(checksum(&ascending), 0x46DD_794E);
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn slicing_matches_the_bitwise_definition() {
        let mut rand = crate::test_rng::xorshift(3);
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| rand(256) as u8).collect();
            assert_eq!(checksum(&bytes), reference(&bytes), "len {len}");
            let (a, b) = bytes.split_at(len / 3);
            assert_eq!(extend(extend(0, a), b), reference(&bytes), "len {len}");
            if let Ok(word) = <[u8; 4]>::try_from(bytes.as_slice()) {
                assert_eq!(checksum_u32(u32::from_le_bytes(word)), reference(&bytes));
            }
            // Word by word, with a short last word, as `extend` steps.
            let mut crc = 0;
            for chunk in bytes.chunks(8) {
                let mut word = [0_u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                crc = extend_word(crc, u64::from_le_bytes(word), chunk.len() as u32);
            }
            assert_eq!(crc, reference(&bytes), "len {len}, word by word");
        }
        for _ in 0..1000 {
            let word = rand(1 << 32) as u32;
            assert_eq!(checksum_u32(word), reference(&word.to_le_bytes()));
        }
    }
}
