//! Time arithmetic at the extremes: years 1 and 9999, huge gaps and
//! offsets, every zone. Never a panic; occurrences are well-formed.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{DateTime, NaiveDate, Utc};
use libfuzzer_sys::fuzz_target;
use redial::{Config, Gaps, Scheduler, TimeOfDay, Window, wall_to_instant};

#[derive(Arbitrary, Debug)]
struct Input {
    secs: i64,
    nanos: u32,
    zone: u16,
    min: Option<(u8, u8)>,
    max: Option<(u8, u8)>,
    days: i32,
    gap_list: Vec<u32>,
    attempt: u32,
    schedule: i64,
}

fuzz_target!(|input: Input| {
    let zones = chrono_tz::TZ_VARIANTS;
    let tz = zones[usize::from(input.zone) % zones.len()];
    let tod = |p: Option<(u8, u8)>| p.and_then(|(h, m)| TimeOfDay::new(u32::from(h % 25), u32::from(m % 61)));
    let t = DateTime::from_timestamp(input.secs, input.nanos % 1_000_000_000);
    if let Some(date) = NaiveDate::from_num_days_from_ce_opt(input.days) {
        for (h, m) in [(0, 0), (1, 30), (2, 30), (23, 59)] {
            if let Some(w) = date.and_hms_opt(h, m, 0) {
                let _ = wall_to_instant(tz, w);
            }
        }
        if let Ok(w) = Window::new(tod(input.min), tod(input.max)) {
            if let Some(o) = w.occurrence(tz, date) {
                assert!(o.start < o.end);
            }
        }
    }
    if let (Some(t), Ok(w)) = (t, Window::new(tod(input.min), tod(input.max))) {
        if let Some(o) = w.first_ending_after(tz, t) {
            assert!(o.end > t && o.start < o.end);
            let (first, o2) = w.first_instant_at_or_after(tz, t).unwrap_or((t, o));
            assert!(first >= t && o2.contains(first));
            assert!(w.contains(tz, first));
        }
    }
    if let Some(g) = Gaps::list(input.gap_list.clone()) {
        assert!(g.after_attempt(input.attempt) <= 10_080);
    }
    if let Some(now) = t {
        let mut engine = Scheduler::new(Config { default_timezone: tz, ..Config::default() }).unwrap_or_else(|_| unreachable!());
        let body = format!(
            r#"{{"to_number": "+12125550100", "agent_id": "a", "carry_over": true, "number_of_retries": 3, "gap_between_retries": 10080, "schedule_at": "{}"}}"#,
            DateTime::from_timestamp(input.schedule, 0).map_or_else(String::new, |s| s.format("%Y-%m-%dT%H:%M:%S").to_string())
        );
        let _ = engine.submit(now, body.as_bytes());
        let _ = engine.dial(now, 1);
        if let Some(next) = engine.poll_timeout() {
            let _ = engine.handle_timeout(next);
        }
        let _ = engine.handle_timeout(DateTime::<Utc>::MAX_UTC);
    }
});
