//! The callee's time zones from the number (policy.md 2), as Google's
//! libphonenumber answers `PhoneNumberToTimeZonesMapper.getTimeZonesForNumber`:
//! a number the metadata holds invalid has none; a fixed-line number (and
//! a mobile one where mobile numbers are geographic) takes the zones of the
//! longest prefix in the time-zone map; any other valid number takes its
//! country's zones.
//!
//! Validity and type come from `rlibphonenumber` (a Rust port of
//! libphonenumber with its metadata built in); the prefix map is
//! libphonenumber's own `timezones/map_data.txt`, shipped in
//! `data/number_zones.txt` (see `scripts/number_zones.py`). Nothing is
//! read or fetched at run time. Behind the `number-zones` feature.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono_tz::Tz;

/// The versions of the number data, recorded in snapshots next to the tzdb
/// version: a newer one changes only calls accepted after it.
pub const NUMBER_DATA_VERSION: &str =
    "libphonenumber time zones 9.0.43; rlibphonenumber 2.2.15 (metadata 9.0.42)";

const DATA: &str = include_str!("../data/number_zones.txt");

/// Old spellings libphonenumber still uses, and tzdb's current names for
/// them (renames in tzdb's `backward` file: the same clock). A request's
/// `timezone: "Asia/Kolkata"` for an Indian number then names one of the
/// number's zones and narrows to it instead of adding a second zone.
const RENAMED: [(&str, &str); 9] = [
    ("Africa/Asmera", "Africa/Asmara"),
    ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("America/Godthab", "America/Nuuk"),
    ("Asia/Calcutta", "Asia/Kolkata"),
    ("Asia/Katmandu", "Asia/Kathmandu"),
    ("Asia/Rangoon", "Asia/Yangon"),
    ("Atlantic/Faeroe", "Atlantic/Faroe"),
    ("Pacific/Ponape", "Pacific/Pohnpei"),
    ("Pacific/Truk", "Pacific/Chuuk"),
];

/// tzdb's current name for a zone name libphonenumber uses.
fn current_name(name: &str) -> &str {
    RENAMED
        .iter()
        .find(|(old, _)| *old == name)
        .map_or(name, |(_, new)| new)
}

/// The time-zone map: prefix digits (as a number, with their count) to zones.
struct ZoneMap {
    by_prefix: HashMap<(u64, u8), Box<[Tz]>>,
    longest: u8,
    /// Countries whose mobile numbers are geographic.
    geo_mobile: Vec<i32>,
}

fn zone_map() -> &'static ZoneMap {
    static MAP: OnceLock<ZoneMap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = ZoneMap {
            by_prefix: HashMap::new(),
            longest: 0,
            geo_mobile: Vec::new(),
        };
        for line in DATA.lines() {
            if let Some(codes) = line.strip_prefix("# geo-mobile ") {
                map.geo_mobile = codes.split(' ').filter_map(|c| c.parse().ok()).collect();
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let Some((prefix, zones)) = line.split_once(' ') else {
                continue;
            };
            let Ok(len) = u8::try_from(prefix.len()) else {
                continue;
            };
            let Ok(digits) = prefix.parse::<u64>() else {
                continue;
            };
            // Zones chrono-tz does not know (none today) are left out.
            let zones: Box<[Tz]> = zones
                .split('&')
                .filter_map(|z| current_name(z).parse().ok())
                .collect();
            map.longest = map.longest.max(len);
            map.by_prefix.insert((digits, len), zones);
        }
        map
    })
}

/// The zones of the longest prefix of `digits` in the map, if any.
fn longest_prefix(map: &ZoneMap, digits: &str) -> Option<Vec<Tz>> {
    let longest = usize::from(map.longest).min(digits.len());
    (1..=longest).rev().find_map(|len| {
        let prefix: u64 = digits.get(..len)?.parse().ok()?;
        map.by_prefix
            .get(&(prefix, u8::try_from(len).ok()?))
            .map(|z| z.to_vec())
    })
}

/// The zones libphonenumber assigns to an E.164 number, in name order;
/// empty when it holds the number invalid or knows no zone for it. Old
/// spellings are given tzdb's current names (`Asia/Calcutta` is
/// `Asia/Kolkata`).
///
/// # Example
/// ```
/// use redial::zones::zones_for_number;
/// let names = |n| zones_for_number(n).iter().map(|z| z.name()).collect::<Vec<_>>();
/// assert_eq!(names("+16055550100"), ["America/Denver", "America/North_Dakota/Center"]);
/// assert_eq!(names("+33612345678"), ["Europe/Paris"]); // mobile: the country's zone
/// assert!(names("+15555550100").is_empty()); // invalid in libphonenumber's data
/// assert_eq!(names("+919876543210"), ["Asia/Kolkata"]); // libphonenumber: Asia/Calcutta
/// ```
pub fn zones_for_number(e164: &str) -> Vec<Tz> {
    use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberType};
    let Ok(number) = PHONE_NUMBER_UTIL.parse(e164, None) else {
        return Vec::new();
    };
    let kind = PHONE_NUMBER_UTIL.get_number_type(&number);
    let map = zone_map();
    let country = number.country_code;
    let geographic = matches!(
        kind,
        PhoneNumberType::FixedLine | PhoneNumberType::FixedLineOrMobile
    ) || (matches!(kind, PhoneNumberType::Mobile)
        && map.geo_mobile.contains(&country));
    let digits = e164.trim_start_matches('+');
    let mut zones = match kind {
        PhoneNumberType::Unknown => None,
        _ if geographic => longest_prefix(map, digits),
        _ => longest_prefix(map, &country.to_string()),
    }
    .unwrap_or_default();
    zones.sort_unstable_by_key(|z| z.name());
    zones.dedup();
    zones
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every number of the reference vectors (libphonenumber's own answers,
    /// written by `scripts/number_zones_vectors.py`) gets the same zones.
    /// Each rename is the same clock: equal offsets every three hours from
    /// 1970 to 2037, and the old name still parses (old snapshots).
    #[test]
    fn renamed_zones_keep_their_clock() {
        use chrono::{Offset, TimeZone};
        for (old, new) in RENAMED {
            let (a, b): (Tz, Tz) = (old.parse().unwrap(), new.parse().unwrap());
            for step in 0..(67 * 365 * 8) {
                let t = chrono::NaiveDateTime::default() + chrono::TimeDelta::hours(3 * step);
                assert_eq!(
                    a.offset_from_utc_datetime(&t).fix(),
                    b.offset_from_utc_datetime(&t).fix(),
                    "{old} vs {new} at {t}"
                );
            }
        }
    }

    #[test]
    fn zones_match_libphonenumber() {
        let vectors = include_str!("../tests/data/number_zones_vectors.txt");
        let (mut checked, mut differ) = (0, Vec::new());
        for line in vectors.lines().filter(|l| !l.starts_with('#')) {
            let (number, zones) = line.split_once(' ').unwrap_or((line, ""));
            let mut want: Vec<&str> = zones
                .split('&')
                .filter(|z| !z.is_empty())
                .map(current_name)
                .collect();
            want.sort_unstable();
            let got: Vec<&str> = zones_for_number(number).iter().map(|z| z.name()).collect();
            if got != want {
                differ.push(format!("{number}: {got:?}, expected {want:?}"));
            }
            checked += 1;
        }
        assert!(checked > 2_000);
        assert!(
            differ.is_empty(),
            "{} of {checked} differ:\n{}",
            differ.len(),
            differ.join("\n")
        );
    }

    #[test]
    fn every_zone_of_the_map_is_known_to_chrono_tz() {
        for line in DATA.lines().filter(|l| !l.starts_with('#')) {
            let (_, zones) = line.split_once(' ').unwrap();
            for z in zones.split('&') {
                assert!(z.parse::<Tz>().is_ok(), "{z}");
            }
        }
    }
}
