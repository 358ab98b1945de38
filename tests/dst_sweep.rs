//! DST sweep: every zone chrono-tz knows, every UTC-offset change from 2020
//! through 2037, windows starting at, ending at and spanning the change, on
//! the day before, the day of and the day after. For each:
//! * no lost day: an occurrence exists iff some minute of its wall-clock
//!   window exists that day;
//! * nothing outside: every instant of an occurrence shows a local time
//!   inside the wall-clock window, or is the second pass of a folded time
//!   (an occurrence runs from the first `min` to the first `max`);
//! * no double trigger: consecutive occurrences never overlap;
//! * and an engine run dialing every 20 minutes across the change never
//!   triggers outside the window.
#![allow(clippy::disallowed_methods)]

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use redial::{Config, EventKind, Outcome, Scheduler, TimeOfDay, Window};

fn offset(tz: Tz, t: i64) -> i32 {
    tz.offset_from_utc_datetime(&DateTime::from_timestamp(t, 0).unwrap().naive_utc())
        .fix()
        .local_minus_utc()
}

/// (instant, offset before, offset after) of every offset change in [from, to).
fn transitions(tz: Tz, from: i64, to: i64) -> Vec<(i64, i32, i32)> {
    const STEP: i64 = 6 * 3600;
    let mut out = Vec::new();
    let mut t = from;
    let mut before = offset(tz, t);
    while t < to {
        let next = t + STEP;
        let after = offset(tz, next);
        if after != before {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(tz, mid) == before {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            out.push((hi, before, offset(tz, hi)));
            before = after;
        }
        t = next;
    }
    out
}

fn exists(tz: Tz, wall: NaiveDateTime) -> bool {
    !matches!(tz.from_local_datetime(&wall), LocalResult::None)
}

/// The wall-clock span of a window on `date`: [start, end) as naive times.
fn wall_span(w: &Window, date: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let min = w.min().unwrap_or(TimeOfDay::MIDNIGHT);
    let max = w.max().unwrap_or(TimeOfDay::MIDNIGHT);
    let start = date.and_hms_opt(min.hour(), min.minute(), 0).unwrap();
    let end_date = if w.is_overnight() {
        date.succ_opt().unwrap()
    } else {
        date
    };
    (
        start,
        end_date.and_hms_opt(max.hour(), max.minute(), 0).unwrap(),
    )
}

fn tod(minutes: i64) -> Option<TimeOfDay> {
    let m = minutes.rem_euclid(1440);
    TimeOfDay::new((m / 60) as u32, (m % 60) as u32)
}

#[derive(Default, Debug)]
struct Tally {
    zones: usize,
    transitions: usize,
    occurrences: usize,
    empty_days: usize,
    engine_runs: usize,
    triggers: usize,
}

fn sweep_zone(tz: Tz, tally: &mut Tally) -> Result<(), String> {
    let from = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let to = Utc
        .with_ymd_and_hms(2038, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let found = transitions(tz, from, to);
    if !found.is_empty() {
        tally.zones += 1;
    }
    for (n, (t, before, _after)) in found.into_iter().enumerate() {
        tally.transitions += 1;
        let local = DateTime::from_timestamp(t + i64::from(before), 0)
            .unwrap()
            .naive_utc();
        let m = i64::from(local.hour() * 60 + local.minute());
        let day = local.date();
        let windows = [
            (Some(m - 60), Some(m + 60)), // spanning
            (Some(m), Some(m + 120)),     // starting at the change
            (Some(m - 120), Some(m)),     // ending at it
            (Some(m + 30), Some(m - 30)), // nearly all day, wrapping midnight
        ];
        for (a, b) in windows {
            let Ok(w) = Window::new(a.and_then(tod), b.and_then(tod)) else {
                continue;
            };
            let mut previous: Option<redial::Occurrence> = None;
            for date in [
                day.pred_opt().unwrap().pred_opt().unwrap(),
                day.pred_opt().unwrap(),
                day,
                day.succ_opt().unwrap(),
            ] {
                let (ws, we) = wall_span(&w, date);
                let mut minute = ws;
                let mut any = false;
                while minute < we {
                    any |= exists(tz, minute);
                    minute += Duration::minutes(1);
                }
                let occ = w.occurrence(tz, date);
                if occ.is_some() != any {
                    return Err(format!(
                        "{tz} {date} {w}: occurrence {occ:?} but some minute exists: {any}"
                    ));
                }
                let Some(o) = occ else {
                    tally.empty_days += 1;
                    continue;
                };
                tally.occurrences += 1;
                let mut i = o.start;
                while i < o.end {
                    let wall = i.with_timezone(&tz).naive_local();
                    // By the contract an occurrence is the instants from the
                    // first `min` to the first `max`: across a fold it also holds
                    // the second pass of wall times already lived through.
                    let second_pass = matches!(tz.from_local_datetime(&wall), LocalResult::Ambiguous(first, _) if first.with_timezone(&Utc) < i);
                    if (wall < ws || wall >= we) && !second_pass {
                        return Err(format!(
                            "{tz} {date} {w}: instant {i} shows {wall}, outside [{ws}, {we})"
                        ));
                    }
                    i += Duration::minutes(1);
                }
                if let Some(p) = previous
                    && p.end > o.start
                {
                    return Err(format!(
                        "{tz} {w}: occurrences of {} and {date} overlap",
                        p.date
                    ));
                }
                previous = Some(o);
            }
            // The engine across the change, for the first window kind of every other transition.
            if a == Some(m - 60) && n % 2 == 0 {
                engine_run(tz, &w, t, tally)?;
            }
        }
    }
    Ok(())
}

fn engine_run(tz: Tz, w: &Window, change: i64, tally: &mut Tally) -> Result<(), String> {
    tally.engine_runs += 1;
    let mut e = Scheduler::new(Config {
        default_timezone: tz,
        ..Config::default()
    })
    .unwrap();
    let start = DateTime::from_timestamp(change - 2 * 86_400, 0).unwrap();
    let min = w
        .min()
        .map(|t| format!(r#", "min_trigger_time": "{t}""#))
        .unwrap_or_default();
    let max = w
        .max()
        .map(|t| format!(r#", "max_trigger_time": "{t}""#))
        .unwrap_or_default();
    let body = format!(
        r#"{{"to_number": "+12125550100", "agent_id": "a", "carry_over": true, "number_of_retries": 6, "gap_between_retries": 40{min}{max}}}"#
    );
    let mut t = start;
    e.submit(t, body.as_bytes())
        .map_err(|r| format!("{tz} {w}: {}", r.message))?;
    for _ in 0..(4 * 72) {
        t += Duration::minutes(20);
        for d in e.dial(t, 1).unwrap() {
            if !w.contains(tz, t) {
                return Err(format!("{tz} {w}: engine triggered at {t}, outside"));
            }
            tally.triggers += 1;
            e.report(t, &d, Outcome::NoAnswer).unwrap();
        }
        while let Some(ev) = e.poll_event() {
            if let EventKind::Triggered { .. } = ev.kind
                && !w.contains(tz, ev.at)
            {
                return Err(format!("{tz} {w}: triggered at {}, outside", ev.at));
            }
        }
    }
    Ok(())
}

#[test]
fn every_zone_every_transition_2020_to_2037() {
    let zones: Vec<Tz> = chrono_tz::TZ_VARIANTS.to_vec();
    let (a, b) = zones.split_at(zones.len() / 2);
    let b = b.to_vec();
    let other = std::thread::spawn(move || {
        let mut tally = Tally::default();
        b.iter()
            .try_for_each(|tz| sweep_zone(*tz, &mut tally))
            .map(|()| tally)
    });
    let mut tally = Tally::default();
    let mine = a.iter().try_for_each(|tz| sweep_zone(*tz, &mut tally));
    let theirs = other.join().unwrap();
    mine.unwrap();
    let t = theirs.unwrap();
    let total = (
        tally.zones + t.zones,
        tally.transitions + t.transitions,
        tally.occurrences + t.occurrences,
    );
    eprintln!("DST sweep: {tally:?} + {t:?}");
    // Sanity: the sweep saw the world's DST zones and transitions.
    assert!(
        total.0 > 100 && total.1 > 3000 && total.2 > 30_000,
        "{total:?}"
    );
    assert!(
        tally.empty_days + t.empty_days > 0,
        "some window fell wholly into a gap"
    );
    assert!(tally.triggers + t.triggers > 1000);
}

#[test]
fn transition_finder_finds_new_york_2026() {
    let ny: Tz = "America/New_York".parse().unwrap();
    let from = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let to = Utc
        .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let found = transitions(ny, from, to);
    assert_eq!(
        found,
        vec![
            (
                Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0)
                    .unwrap()
                    .timestamp(),
                -5 * 3600,
                -4 * 3600
            ),
            (
                Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0)
                    .unwrap()
                    .timestamp(),
                -4 * 3600,
                -5 * 3600
            ),
        ]
    );
}

/// Policy hours placed on and around DST changes: intervals that a gap
/// swallows, that a fold repeats, that end at midnight, in zones with
/// one-hour, half-hour and midnight changes. An engine dialing every ten
/// minutes across each change never triggers while the wall clock reads
/// outside the policy's hours (read here from the offset, not the engine).
#[cfg(feature = "number-zones")]
#[test]
fn policy_hours_across_transitions() {
    use redial::Policy;
    let layouts = [
        r#"{"hours": {"daily": [["01:30", "02:30"], ["22:00", "24:00"]]}}"#,
        r#"{"hours": {"daily": [["00:00", "03:00"], ["12:00", "13:00"]]}}"#,
        r#"{"hours": {"daily": [["02:00", "02:30"], ["03:00", "05:00"]], "sun": [["00:00", "24:00"]]}}"#,
    ];
    let zones = [
        "America/New_York",
        "Europe/London",
        "Europe/Paris",
        "Australia/Lord_Howe",
        "America/Santiago",
        "America/Havana",
        "Pacific/Chatham",
        "America/St_Johns",
    ];
    let (mut triggers, mut changes) = (0, 0);
    for (i, layout) in layouts.iter().enumerate() {
        let policy = Policy::from_json(layout).unwrap();
        for zone in zones {
            let tz: Tz = zone.parse().unwrap();
            let from = Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp();
            let to = Utc
                .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp();
            for (change, _, _) in transitions(tz, from, to) {
                changes += 1;
                let config = format!(r#"{{"policies": {{"p": {layout}}}}}"#);
                let mut e = Scheduler::new(Config::from_json(&config).unwrap()).unwrap();
                let mut t = DateTime::from_timestamp(change - 36 * 3600, 0).unwrap();
                // An invalid number has no zones of its own: the request's
                // zone is the call's only one.
                let body = format!(
                    r#"{{"to_number": "+15555550100", "agent_id": "a", "timezone": "{zone}", "policy": "p", "carry_over": true, "number_of_retries": 10, "gap_between_retries": 15}}"#
                );
                for _ in 0..3 {
                    e.submit(t, body.as_bytes())
                        .unwrap_or_else(|r| panic!("{zone} layout {i}: {}", r.message));
                }
                for _ in 0..(6 * 72) {
                    t += Duration::minutes(10);
                    for d in e.dial(t, 2).unwrap() {
                        let local = t.with_timezone(&tz);
                        let minute = local.hour() * 60 + local.minute();
                        assert!(
                            policy.allows(chrono::Datelike::weekday(&local), minute),
                            "{zone} layout {i}: triggered at {t} ({local}), outside the policy's hours"
                        );
                        triggers += 1;
                        e.report(t, &d, Outcome::NoAnswer).unwrap();
                    }
                    while e.poll_event().is_some() {}
                }
                e.check_invariants().unwrap();
            }
        }
    }
    eprintln!("policy sweep: {changes} changes, {triggers} triggers");
    assert!(changes > 40 && triggers > 1000, "{changes} {triggers}");
}
