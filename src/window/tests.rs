//! DST and calendar cases for windows and wall-clock conversion.

use super::*;
use chrono::TimeZone;
use chrono_tz::America::{New_York, Santiago};
use chrono_tz::Asia::{Kathmandu, Kolkata};
use chrono_tz::Australia::Lord_Howe;
use chrono_tz::Europe::London;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn wall(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, min, 0).unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

pub(super) fn win(min: Option<(u32, u32)>, max: Option<(u32, u32)>) -> Window {
    let t = |p: Option<(u32, u32)>| p.map(|(h, m)| TimeOfDay::new(h, m).unwrap());
    Window::new(t(min), t(max)).unwrap()
}

#[test]
fn new_york_gap_and_fold() {
    // 2026-03-08 02:00 EST -> 03:00 EDT at 07:00 UTC.
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 3, 8, 1, 59)),
        Some(utc(2026, 3, 8, 6, 59))
    );
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 3, 8, 2, 0)),
        Some(utc(2026, 3, 8, 7, 0))
    );
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 3, 8, 2, 59)),
        Some(utc(2026, 3, 8, 7, 0))
    );
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 3, 8, 3, 0)),
        Some(utc(2026, 3, 8, 7, 0))
    );
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 3, 8, 3, 1)),
        Some(utc(2026, 3, 8, 7, 1))
    );
    // 2026-11-01 02:00 EDT -> 01:00 EST at 06:00 UTC: 01:xx happens twice.
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 11, 1, 1, 0)),
        Some(utc(2026, 11, 1, 5, 0))
    );
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 11, 1, 1, 59)),
        Some(utc(2026, 11, 1, 5, 59))
    );
    assert_eq!(
        wall_to_instant(New_York, wall(2026, 11, 1, 2, 0)),
        Some(utc(2026, 11, 1, 7, 0))
    );
}

#[test]
fn window_inside_the_gap_is_empty_that_day_only() {
    let w = win(Some((2, 0)), Some((2, 30)));
    assert_eq!(w.occurrence(New_York, date(2026, 3, 8)), None);
    let next = w
        .first_ending_after(New_York, utc(2026, 3, 8, 5, 0))
        .unwrap();
    assert_eq!(next.date, date(2026, 3, 9));
    assert_eq!(next.start, utc(2026, 3, 9, 6, 0));
    // A window straddling the gap is shortened, not lost.
    let w = win(Some((2, 30)), Some((4, 0)));
    let o = w.occurrence(New_York, date(2026, 3, 8)).unwrap();
    assert_eq!(
        (o.start, o.end),
        (utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0))
    );
}

#[test]
fn fold_window_occurs_once() {
    // 01:00-01:30 on the fold night: only the first pass counts.
    let w = win(Some((1, 0)), Some((1, 30)));
    let o = w.occurrence(New_York, date(2026, 11, 1)).unwrap();
    assert_eq!(
        (o.start, o.end),
        (utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30))
    );
    assert!(
        !w.contains(New_York, utc(2026, 11, 1, 6, 15)),
        "the second 01:15 is outside"
    );
    // From the first 01:30 to the first 02:30: the second pass of
    // 01:00-01:30 (EST) lies inside, as the contract's rule has it.
    let w = win(Some((1, 30)), Some((2, 30)));
    let o = w.occurrence(New_York, date(2026, 11, 1)).unwrap();
    assert_eq!(
        (o.start, o.end),
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 30))
    );
    assert!(
        w.contains(New_York, utc(2026, 11, 1, 6, 10)),
        "01:10 EST, the second pass"
    );
    // A window spanning the fold is an hour longer in instants.
    let w = win(Some((0, 0)), Some((3, 0)));
    let o = w.occurrence(New_York, date(2026, 11, 1)).unwrap();
    assert_eq!((o.end - o.start).num_hours(), 4);
}

#[test]
fn london_transitions() {
    // 2026-03-29 01:00 GMT -> 02:00 BST.
    assert_eq!(
        wall_to_instant(London, wall(2026, 3, 29, 1, 30)),
        Some(utc(2026, 3, 29, 1, 0))
    );
    // 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 first at 00:30 UTC.
    assert_eq!(
        wall_to_instant(London, wall(2026, 10, 25, 1, 30)),
        Some(utc(2026, 10, 25, 0, 30))
    );
    let w = win(Some((9, 0)), Some((17, 0)));
    let o = w.occurrence(London, date(2026, 3, 29)).unwrap();
    assert_eq!(o.start, utc(2026, 3, 29, 8, 0));
    let o = w.occurrence(London, date(2026, 3, 28)).unwrap();
    assert_eq!(o.start, utc(2026, 3, 28, 9, 0));
}

#[test]
fn lord_howe_half_hour_dst() {
    // 2026-04-05 02:00 +11 -> 01:30 +10:30: 01:30-02:00 happens twice.
    assert_eq!(
        wall_to_instant(Lord_Howe, wall(2026, 4, 5, 1, 45)),
        Some(utc(2026, 4, 4, 14, 45))
    );
    // 2026-10-04 02:00 +10:30 -> 02:30 +11: 02:00-02:30 is skipped.
    assert_eq!(
        wall_to_instant(Lord_Howe, wall(2026, 10, 4, 2, 10)),
        Some(utc(2026, 10, 3, 15, 30))
    );
    let w = win(Some((2, 0)), Some((2, 30)));
    assert!(w.occurrence(Lord_Howe, date(2026, 10, 4)).is_none());
    assert!(w.occurrence(Lord_Howe, date(2026, 10, 5)).is_some());
}

#[test]
fn kathmandu_and_kolkata_offsets() {
    assert_eq!(
        wall_to_instant(Kathmandu, wall(2026, 6, 1, 9, 0)),
        Some(utc(2026, 6, 1, 3, 15))
    );
    assert_eq!(
        wall_to_instant(Kolkata, wall(2026, 6, 1, 9, 0)),
        Some(utc(2026, 6, 1, 3, 30))
    );
    let w = win(Some((9, 0)), Some((18, 0)));
    // 18:00 Kathmandu is 12:15 UTC: a call at 12:14 UTC is in, at 12:15 out.
    assert!(w.contains(Kathmandu, utc(2026, 6, 1, 12, 14)));
    assert!(!w.contains(Kathmandu, utc(2026, 6, 1, 12, 15)));
}

#[test]
fn santiago_midnight_gap() {
    // 2026-09-06 00:00 -04 -> 01:00 -03: local midnight does not exist.
    assert_eq!(
        wall_to_instant(Santiago, wall(2026, 9, 6, 0, 0)),
        Some(utc(2026, 9, 6, 4, 0))
    );
    let only_max = win(None, Some((8, 0)));
    let o = only_max.occurrence(Santiago, date(2026, 9, 6)).unwrap();
    assert_eq!(
        (o.start, o.end),
        (utc(2026, 9, 6, 4, 0), utc(2026, 9, 6, 11, 0))
    );
    // The day before ends at the gap: the only-min window [20:00, 24:00).
    let only_min = win(Some((20, 0)), None);
    let o = only_min.occurrence(Santiago, date(2026, 9, 5)).unwrap();
    assert_eq!(o.end, utc(2026, 9, 6, 4, 0));
    // 2026-04-05 00:00 -03 -> 23:00 -04 the day before: 23:xx twice.
    assert_eq!(
        wall_to_instant(Santiago, wall(2026, 4, 4, 23, 30)),
        Some(utc(2026, 4, 5, 2, 30))
    );
}

#[test]
fn overnight_windows() {
    let w = win(Some((21, 0)), Some((6, 0)));
    let at = |d, h| {
        Kolkata
            .with_ymd_and_hms(2026, 1, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    // At 03:00 the occurrence of the previous date is open.
    let o = w.first_ending_after(Kolkata, at(2, 3)).unwrap();
    assert_eq!(o.date, date(2026, 1, 1));
    assert_eq!((o.start, o.end), (at(1, 21), at(2, 6)));
    // At 10:00 the next one starts tonight.
    let o = w.first_ending_after(Kolkata, at(2, 10)).unwrap();
    assert_eq!(o.date, date(2026, 1, 2));
    assert_eq!(
        w.first_instant_at_or_after(Kolkata, at(2, 10)).unwrap().0,
        at(2, 21)
    );
    // 21:00-00:00 ends at next midnight.
    let w = win(Some((21, 0)), Some((0, 0)));
    let o = w.occurrence(Kolkata, date(2026, 1, 1)).unwrap();
    assert_eq!(
        o.end,
        Kolkata.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()
    );
}

#[test]
fn half_open_bounds() {
    let w = win(Some((9, 0)), Some((18, 0)));
    let at = |h, m| {
        Kolkata
            .with_ymd_and_hms(2026, 1, 1, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert!(!w.contains(Kolkata, at(8, 59)));
    assert!(w.contains(Kolkata, at(9, 0)));
    assert!(w.contains(Kolkata, at(17, 59)));
    assert!(!w.contains(Kolkata, at(18, 0)));
    let only_max = win(None, Some((1, 0)));
    assert!(only_max.contains(Kolkata, at(0, 0)));
    assert!(!only_max.contains(Kolkata, at(1, 0)));
}

#[test]
fn samoa_skipped_a_whole_day() {
    // Pacific/Apia jumped from 2011-12-29 23:59:59 -10 to 2011-12-31 00:00 +14.
    let apia = chrono_tz::Pacific::Apia;
    let w = win(Some((9, 0)), Some((17, 0)));
    assert!(w.occurrence(apia, date(2011, 12, 30)).is_none());
    // 04:00 UTC on the 30th is 18:00 on the 29th locally, after that day's window.
    let o = w.first_ending_after(apia, utc(2011, 12, 30, 4, 0)).unwrap();
    assert_eq!(o.date, date(2011, 12, 31));
}

#[test]
fn extremes_do_not_panic() {
    let w = win(Some((9, 0)), Some((17, 0)));
    for t in [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        utc(1, 1, 1, 0, 0),
        utc(9999, 12, 31, 23, 59),
    ] {
        let _ = w.first_ending_after(New_York, t);
        let _ = w.contains(Lord_Howe, t);
    }
    assert_eq!(local_date(New_York, DateTime::<Utc>::MIN_UTC), None);
    let _ = wall_to_instant(Lord_Howe, NaiveDateTime::MAX);
    let _ = wall_to_instant(Lord_Howe, NaiveDateTime::MIN);
    assert!(
        w.first_ending_after(Kolkata, utc(9999, 12, 31, 23, 59))
            .is_some()
    );
}

#[test]
fn time_of_day_parse() {
    for ok in ["0:00", "00:00", "9:30", "19:59", "23:59"] {
        assert!(TimeOfDay::parse(ok).is_ok(), "{ok}");
    }
    for bad in [
        "24:00", "23:60", "123:00", "1:5", "", ":", "ab:cd", "+1:00", "1:00:00", "٣:00",
    ] {
        assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
    }
}

/// The memo of the last wall time read answers as the conversion itself:
/// repeats, the same wall time in another zone, gaps, folds and times
/// out of range, in random order.
#[test]
fn wall_memo_reads_as_the_conversion() {
    let zones = [New_York, London, Lord_Howe, Kolkata, Santiago];
    let walls = [
        wall(2026, 3, 8, 2, 30),  // New York's gap
        wall(2026, 11, 1, 1, 30), // its fold
        wall(2026, 3, 29, 1, 30), // London's gap
        wall(2026, 10, 4, 2, 10), // Lord Howe's half-hour gap
        wall(2026, 6, 1, 9, 0),
        NaiveDateTime::MAX,
        NaiveDateTime::MIN,
        date(2026, 6, 1).and_hms_nano_opt(9, 0, 0, 1).unwrap(),
    ];
    let mut rand = crate::test_rng::xorshift(11);
    let mut memo = WallMemo::default();
    let mut hits = 0;
    let mut previous = None;
    for _ in 0..2_000 {
        let tz = zones[rand(zones.len() as u64) as usize];
        let w = walls[rand(walls.len() as u64) as usize];
        hits += usize::from(previous == Some((tz, w)));
        previous = Some((tz, w));
        let want = wall_to_instant(tz, w).map(crate::time::ceil_secs);
        assert_eq!(memo.read(tz, w), want, "{w} in {tz}");
    }
    assert!(hits > 20, "the memo was hit {hits} times");
}
