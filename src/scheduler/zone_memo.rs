//! The zones and rule sets of recently seen numbers: a libphonenumber
//! lookup costs about two microseconds, and a campaign submits the same
//! number again (a replacement call, a second campaign). Direct-mapped and
//! fixed in size; memos of pure functions, so they change no result.

use chrono_tz::Tz;

/// Entries, a power of two.
const ENTRIES: usize = 1024;

/// What a request's rule set depends on besides the configuration: the
/// number's digits, the policy the request names and its time zone.
pub(super) type RulesKey = (u64, Option<u16>, Option<Tz>);

/// Number digits to zones, and requests to rule sets.
#[derive(Debug, Default)]
pub(super) struct ZoneMemo {
    /// Empty until first used.
    entries: Vec<Option<(u64, Box<[Tz]>)>>,
    /// Interned rule set and primary zone by [`RulesKey`]; interned ids
    /// never change, so an entry stays right. Empty until first used.
    rules: Vec<Option<(RulesKey, (u32, Tz))>>,
}

/// The direct-mapped index of a number's digits.
fn index(digits: u64) -> usize {
    (digits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize & (ENTRIES - 1)
}

impl ZoneMemo {
    /// The zones of `number` (its E.164 text, `digits` its digits).
    pub fn zones(&mut self, digits: u64, number: &str) -> Vec<Tz> {
        if self.entries.is_empty() {
            self.entries = vec![None; ENTRIES];
        }
        let i = index(digits);
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

    /// The rule set remembered for `key`, if any.
    pub fn rules(&self, key: &RulesKey) -> Option<(u32, Tz)> {
        match self.rules.get(index(key.0)) {
            Some(Some((k, found))) if k == key => Some(*found),
            _ => None,
        }
    }

    /// Remembers the rule set of `key`.
    pub fn remember_rules(&mut self, key: RulesKey, found: (u32, Tz)) {
        if self.rules.is_empty() {
            self.rules = vec![None; ENTRIES];
        }
        if let Some(e) = self.rules.get_mut(index(key.0)) {
            *e = Some((key, found));
        }
    }
}
