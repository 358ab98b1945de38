//! Western (Gregorian) Easter Sunday, for the holidays that follow it.

use chrono::NaiveDate;

/// Easter Sunday of `year` in the Gregorian calendar (the anonymous
/// Gregorian computus, as in Meeus), for any year chrono can hold; `None`
/// only outside chrono's range.
///
/// # Example
/// ```
/// use chrono::NaiveDate;
/// assert_eq!(redial::easter_sunday(2026), NaiveDate::from_ymd_opt(2026, 4, 5));
/// assert_eq!(redial::easter_sunday(2000), NaiveDate::from_ymd_opt(2000, 4, 23));
/// ```
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = year;
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(y, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known dates, and the rule itself over every year 1583-9999: a
    /// Sunday from March 22 to April 25.
    #[test]
    fn easter_dates() {
        for (y, m, d) in [
            (1583, 4, 10),
            (1818, 3, 22),
            (1943, 4, 25),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(y), NaiveDate::from_ymd_opt(y, m, d), "{y}");
        }
        use chrono::Datelike;
        for y in 1583..=9999 {
            let e = easter_sunday(y).unwrap();
            assert_eq!(e.weekday(), chrono::Weekday::Sun, "{y}");
            let lo = NaiveDate::from_ymd_opt(y, 3, 22).unwrap();
            let hi = NaiveDate::from_ymd_opt(y, 4, 25).unwrap();
            assert!(lo <= e && e <= hi, "{y}: {e}");
        }
    }
}
