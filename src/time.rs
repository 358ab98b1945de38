//! Instants inside the engine: whole seconds since the Unix epoch (UTC),
//! and the conversions to and from chrono's `DateTime` at the API's edge.
//!
//! The engine's resolution is one second. Every instant it keeps lies in
//! the years 1 to 9999 ([`MIN_TIME`]..=[`MAX_TIME`]), or a little past the
//! end for instants derived from them, so conversions back cannot fail.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// An instant as whole seconds since 1970-01-01T00:00:00Z.
pub(crate) type Secs = i64;

/// Earliest `now` the engine accepts: 0001-01-01T00:00:00Z.
pub const MIN_TIME: Secs = -62_135_596_800;
/// Latest instant the engine accepts or schedules: 9999-12-31T23:59:59Z.
pub const MAX_TIME: Secs = 253_402_300_799;

/// Seconds in a day, and in a minute.
pub(crate) const DAY: Secs = 86_400;
pub(crate) const MINUTE: Secs = 60;

thread_local! {
    /// The calendar date of the day [`instant`] converted last: nearly every
    /// instant the engine stamps falls on the same day as the previous one,
    /// and the day-to-date step is most of chrono's conversion cost.
    static LAST_DAY: std::cell::Cell<Option<(i64, NaiveDate)>> =
        const { std::cell::Cell::new(None) };
}

/// The value of 1 to 9 ASCII digits (at most 9 so that it fits a `u32`);
/// `None` for anything else. The parsers' fields are short digit runs, and
/// `str::parse` cost several times this, with its sign and radix handling.
pub(crate) fn decimal(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    text.bytes().try_fold(0_u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// Seconds to a `DateTime`; the engine's range keeps this in chrono's.
pub(crate) fn instant(secs: Secs) -> DateTime<Utc> {
    let (day, second) = (secs.div_euclid(DAY), secs.rem_euclid(DAY));
    let time = u32::try_from(second)
        .ok()
        .and_then(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, 0));
    match (LAST_DAY.get(), time) {
        (Some((d, date)), Some(time)) if d == day => date.and_time(time).and_utc(),
        _ => {
            let t = DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
            LAST_DAY.set(Some((day, t.naive_utc().date())));
            t
        }
    }
}

/// A `DateTime` to whole seconds, rounding a fraction up so that a due
/// time never moves earlier.
pub(crate) fn ceil_secs(t: DateTime<Utc>) -> Secs {
    let s = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        s.saturating_add(1)
    } else {
        s
    }
}

/// `minutes` as seconds.
pub(crate) fn minutes(minutes: u32) -> Secs {
    Secs::from(minutes) * MINUTE
}

/// Whether `t` lies in the years 1 to 9999.
pub(crate) fn in_range(t: Secs) -> bool {
    (MIN_TIME..=MAX_TIME).contains(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decimal` reads what `str::parse::<u32>` reads from a run of 1 to 9
    /// ASCII digits, leading zeros included, and nothing else: no sign, no
    /// space, no other script's digits, no tenth digit.
    #[test]
    fn decimal_is_parse_on_short_digit_runs() {
        let alphabet = [
            "0", "1", "5", "9", "+", "-", " ", "x", "\u{663}", "\u{ff11}",
        ];
        let mut rand = crate::test_rng::xorshift(0x0DEC_13A1);
        let mut read = 0;
        for _ in 0..50_000 {
            let len = rand(12) as usize;
            let text: String = (0..len).map(|_| alphabet[rand(10) as usize]).collect();
            let digits =
                !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit());
            let want = if digits {
                text.parse::<u32>().ok()
            } else {
                None
            };
            assert_eq!(decimal(&text), want, "{text:?}");
            read += usize::from(want.is_some());
        }
        assert!(read > 1_000, "{read}");
        assert_eq!(decimal("000000007"), Some(7));
        assert_eq!(decimal("999999999"), Some(999_999_999));
        for no in ["", "1234567890", "+1", "-0", " 1", "1 ", "\u{663}"] {
            assert_eq!(decimal(no), None, "{no:?}");
        }
    }

    /// The day memo gives chrono's answer, on repeated days, day changes
    /// and both ends of the engine's range.
    #[test]
    fn instant_matches_chrono() {
        let mut secs = vec![MIN_TIME, MIN_TIME + 1, -1, 0, 1, 86_399, 86_400, MAX_TIME];
        let mut rand = crate::test_rng::xorshift(7);
        let span = u64::try_from(MAX_TIME - MIN_TIME).unwrap();
        for _ in 0..20_000 {
            let t = MIN_TIME + i64::try_from(rand(span)).unwrap();
            secs.extend([t, t + 1, t + 86_400]);
        }
        for s in secs {
            assert_eq!(instant(s), DateTime::from_timestamp(s, 0).unwrap(), "{s}");
        }
    }

    #[test]
    fn fractions_round_up() {
        let t = DateTime::from_timestamp(10, 1).unwrap();
        assert_eq!(ceil_secs(t), 11);
        assert_eq!(ceil_secs(DateTime::from_timestamp(10, 0).unwrap()), 10);
    }
}
