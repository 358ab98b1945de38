//! Policy parsing and validation, and permitted instants against a
//! brute-force reading of the rule.

use super::calendar::{Calendar, Permit, RuleSet};
use super::*;
use crate::window::{TimeOfDay, Window};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

const FRANCE: &str = r#"{
    "hours": {"daily": [["10:00", "13:00"], ["14:00", "20:00"]], "sat": [], "sun": []},
    "holidays": {"fixed": ["01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"], "easter": [1, 39, 50]},
    "max_attempts": {"count": 4, "days": 30},
    "suppress_days_after_do_not_call": 60
}"#;

#[test]
fn bad_policies_name_the_key() {
    for (text, key) in [
        (
            r#"{"hours": {"mon": [["10:00", "13:00"], ["12:00", "14:00"]]}}"#,
            "hours.mon[1]",
        ),
        (
            r#"{"hours": {"mon": [["14:00", "15:00"], ["10:00", "11:00"]]}}"#,
            "hours.mon[1]",
        ),
        (
            r#"{"hours": {"tue": [["10:00", "10:00"]]}}"#,
            "hours.tue[0]",
        ),
        (
            r#"{"hours": {"wed": [["25:00", "26:00"]]}}"#,
            "hours.wed[0]",
        ),
        (
            r#"{"hours": {"wed": [["24:00", "24:00"]]}}"#,
            "hours.wed[0]",
        ),
        (r#"{"hours": {"daily": [["10:00"]]}}"#, "hours.daily[0]"),
        (r#"{"hours": {"daily": []}}"#, "hours"),
        (r#"{"hours": {"monday": []}}"#, "hours.monday"),
        (
            r#"{"holidays": {"dates": ["2026-02-30"]}}"#,
            "holidays.dates[0]",
        ),
        (r#"{"holidays": {"fixed": ["13-01"]}}"#, "holidays.fixed[0]"),
        (r#"{"holidays": {"easter": [64]}}"#, "holidays.easter[0]"),
        (r#"{"holidays": {"lunar": []}}"#, "holidays.lunar"),
        (
            r#"{"max_attempts": {"count": 0, "days": 1}}"#,
            "max_attempts.count",
        ),
        (
            r#"{"max_attempts": {"count": 1, "days": 367}}"#,
            "max_attempts.days",
        ),
        (
            r#"{"suppress_days_after_do_not_call": 0}"#,
            "suppress_days_after_do_not_call",
        ),
        (r#"{"quiet": true}"#, "quiet"),
    ] {
        let err = Policy::from_json(text).unwrap_err();
        assert_eq!(err.key, key, "{text}: {err}");
    }
    // Touching intervals and a day to midnight are fine; 02-29 is a day.
    let ok = Policy::from_json(
        r#"{"hours": {"daily": [["10:00", "13:00"], ["13:00", "24:00"]]}, "holidays": {"fixed": ["02-29"]}}"#,
    )
    .unwrap();
    assert!(ok.allows(chrono::Weekday::Mon, 23 * 60 + 59));
    assert!(!ok.allows(chrono::Weekday::Mon, 9 * 60));
}

#[test]
fn policies_round_trip_as_written() {
    let p = Policy::from_json(FRANCE).unwrap();
    let again = Policy::from_value(&p.to_value()).unwrap();
    assert_eq!(again, p);
    assert_eq!(p.max_attempts(), Some(MaxAttempts { count: 4, days: 30 }));
    let leap = Policy::from_json(r#"{"holidays": {"fixed": ["02-29"], "dates": ["2026-07-01"]}}"#)
        .unwrap();
    assert!(leap.is_holiday(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()));
    assert!(!leap.is_holiday(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap()));
    assert!(leap.is_holiday(NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()));
    assert!(!leap.is_holiday(NaiveDate::from_ymd_opt(2027, 7, 1).unwrap()));
}

/// Permitted instants, memoised and merged across days, against the rule
/// read directly at every minute, for zones with gaps, folds, half-hour
/// shifts and several zones at once, with and without windows.
#[test]
fn permitted_intervals_match_the_rule_minute_by_minute() {
    let fr = Policy::from_json(FRANCE).unwrap();
    let ca = Policy::from_json(
        r#"{"hours": {"daily": [["09:00", "21:30"]], "sat": [["10:00", "18:00"]], "sun": [["10:00", "18:00"]]}}"#,
    )
    .unwrap();
    let night =
        Policy::from_json(r#"{"hours": {"daily": [["00:00", "02:30"], ["22:00", "24:00"]]}}"#)
            .unwrap();
    let mut cal = Calendar::new(vec![fr, ca, night]);
    let zone = |s: &str| s.parse::<Tz>().unwrap();
    let sets = [
        (vec!["Europe/Paris"], vec![0]),
        (vec!["America/New_York"], vec![]),
        (vec!["America/Toronto"], vec![1]),
        (
            vec!["America/Denver", "America/North_Dakota/Center"],
            vec![1],
        ),
        (vec!["Australia/Lord_Howe"], vec![2]),
        (vec!["America/Santiago", "Europe/London"], vec![2]),
        (vec!["Asia/Kathmandu"], vec![0, 2]),
    ];
    let windows = [
        None,
        Window::new(TimeOfDay::new(1, 30), TimeOfDay::new(3, 0)).ok(),
        Window::new(TimeOfDay::new(21, 0), TimeOfDay::new(6, 0)).ok(),
        Window::new(TimeOfDay::new(9, 0), None).ok(),
    ];
    // Around New York's and Paris's changes in 2026 and Lord Howe's and
    // Santiago's in April and September.
    let starts = [
        "2026-03-07T00:00:00Z",
        "2026-03-28T00:00:00Z",
        "2026-04-04T00:00:00Z",
        "2026-09-05T00:00:00Z",
        "2026-10-31T12:00:00Z",
    ];
    let mut checked = 0;
    for (zones, policies) in &sets {
        let id = cal.intern(RuleSet {
            zones: zones.iter().map(|z| zone(z)).collect(),
            policies: policies.iter().copied().collect(),
        });
        for w in windows {
            for start in starts {
                let t0 = start.parse::<DateTime<Utc>>().unwrap().timestamp();
                let mut expected_next: Option<i64> = None;
                // Walk backwards so each minute knows the next permitted one.
                let minutes: Vec<i64> = (0..3 * 24 * 60).map(|m| t0 + m * 60).collect();
                for &t in minutes.iter().rev() {
                    let direct = cal.permitted(id, w, t);
                    if direct {
                        expected_next = Some(t);
                    }
                    let permit = cal.permit_at(id, w, t);
                    assert_eq!(permit != Permit::No, direct, "{zones:?} {w:?} at {t}");
                    if let Permit::Until(end) = permit {
                        assert!(
                            end > t && !cal.permitted(id, w, end),
                            "{zones:?} {w:?}: ends {end}"
                        );
                        assert!(cal.permitted(id, w, end - 1), "{zones:?} {w:?}: {end}");
                    }
                    let next = cal.next_permitted(id, w, t, t0 + 3 * 86_400);
                    assert_eq!(next, expected_next, "{zones:?} {w:?} from {t}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500_000);
}

/// The one-zone shortcut names the same set as interning it in full,
/// whichever comes first, and never another zone's or a policy's set.
#[test]
fn one_zone_sets_are_the_interned_sets() {
    use chrono_tz::{America, Asia, Europe};
    let mut cal = Calendar::new(Vec::new());
    let full = |tz: chrono_tz::Tz, policies: &[u16]| RuleSet {
        zones: Box::new([tz]),
        policies: policies.into(),
    };
    let kolkata = cal.intern(full(Asia::Kolkata, &[]));
    assert_eq!(cal.intern_zone(Asia::Kolkata), kolkata);
    let paris = cal.intern_zone(Europe::Paris);
    assert_eq!(cal.intern(full(Europe::Paris, &[])), paris);
    assert_ne!(paris, kolkata);
    let with_policy = cal.intern(full(America::New_York, &[0]));
    let new_york = cal.intern_zone(America::New_York);
    assert_ne!(new_york, with_policy);
    assert_eq!(cal.intern(full(America::New_York, &[])), new_york);
    for (id, tz) in [
        (kolkata, Asia::Kolkata),
        (paris, Europe::Paris),
        (new_york, America::New_York),
    ] {
        let set = cal.set(id).unwrap();
        assert_eq!((&*set.zones, &*set.policies), (&[tz][..], &[][..]));
    }
}
