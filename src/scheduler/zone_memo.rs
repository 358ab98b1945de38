//! The zones of recently seen numbers: a libphonenumber lookup costs about
//! two microseconds, and a campaign submits the same number again (a
//! replacement call, a second campaign). Direct-mapped and fixed in size; a
//! memo of a pure function, so it changes no result.

use chrono_tz::Tz;

/// Entries, a power of two.
const ENTRIES: usize = 1024;

/// Number digits to zones.
#[derive(Debug, Default)]
pub(super) struct ZoneMemo {
    /// Empty until first used.
    entries: Vec<Option<(u64, Box<[Tz]>)>>,
}

impl ZoneMemo {
    /// The zones of `number` (its E.164 text, `digits` its digits).
    pub fn zones(&mut self, digits: u64, number: &str) -> Vec<Tz> {
        if self.entries.is_empty() {
            self.entries = vec![None; ENTRIES];
        }
        let i = (digits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize & (ENTRIES - 1);
        if let Some(Some((d, zones))) = self.entries.get(i)
            && *d == digits
        {
            return zones.to_vec();
        }
        let zones = crate::zones::zones_for_number(number);
        if let Some(e) = self.entries.get_mut(i) {
            *e = Some((digits, zones.clone().into_boxed_slice()));
        }
        zones
    }
}
