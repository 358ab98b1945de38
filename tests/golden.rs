//! A snapshot written by format 1 must keep restoring, and the restored
//! engine must continue exactly as an engine driven by the same inputs.
//! `REDIAL_WRITE_GOLDEN=1` rewrites the file (only when the format changes
//! on purpose, together with `SNAPSHOT_FORMAT`).
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, TimeDelta, Utc};
use redial::{Config, Event, Outcome, Scheduler, Snapshot};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/snapshot_v1.json");

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A state with every kind of record: waiting, ready, in-flight and
/// cancel-requested calls, windows, retries, a paused batch, a capped
/// agent, an idempotency key and undrained events.
fn build() -> Scheduler {
    let config = Config {
        default_timezone: chrono_tz::America::New_York,
        attempt_timeout_minutes: 45,
        ..Config::default()
    };
    let mut e = Scheduler::new(config).unwrap();
    let t = at("2026-03-07T14:00:00Z");
    e.register_agent(t, "capped", Some(1)).unwrap();
    let bodies = [
        r#"{"to_number": "+12125550100", "agent_id": "capped", "number_of_retries": 2, "gap_between_retries": [30, 90]}"#,
        r#"{"to_number": "+12125550101", "agent_id": "capped", "priority": 5}"#,
        r#"{"to_number": "+12125550102", "agent_id": "free", "batch_id": "camp", "min_trigger_time": "09:00", "max_trigger_time": "17:00", "carry_over": true}"#,
        r#"{"to_number": "+12125550103", "agent_id": "free", "batch_id": "camp", "schedule_at": "2026-03-08T02:30:00"}"#,
        r#"{"to_number": "+919876543210", "agent_id": "free", "timezone": "Asia/Kolkata", "min_trigger_time": "21:00", "max_trigger_time": "06:00", "idempotency_key": "k-1", "metadata": {"name": "Abhinav", "n": [1, 2]}, "language": "hi"}"#,
        r#"{"to_number": "+12125550104", "agent_id": "free", "number_of_retries": 1}"#,
    ];
    for b in bodies {
        e.submit(t, b.as_bytes()).unwrap();
    }
    let dialed: Vec<String> = e
        .dial(t, 3)
        .unwrap()
        .iter()
        .map(|d| d.call.to_string())
        .collect();
    assert_eq!(dialed, ["call-2", "call-3", "call-6"]);
    e.pause_batch(t, "camp").unwrap();
    e.cancel(t, "call-6".parse().unwrap()).unwrap();
    e
}

/// The same later inputs for both engines.
fn continue_run(mut e: Scheduler) -> Vec<Event> {
    let mut t = at("2026-03-07T14:10:00Z");
    e.report(t, "call-2".parse().unwrap(), Outcome::Completed)
        .unwrap();
    e.report(t, "call-6".parse().unwrap(), Outcome::Busy)
        .unwrap();
    e.resume_batch(t, "camp").unwrap();
    for _ in 0..40 {
        t += TimeDelta::try_hours(2).unwrap();
        for d in e.dial(t, 3).unwrap() {
            e.report(t, d.call, Outcome::NoAnswer).unwrap();
        }
    }
    std::iter::from_fn(|| e.poll_event()).collect()
}

#[test]
fn golden_snapshot_keeps_restoring() {
    let fresh = build();
    let bytes = fresh.snapshot().to_bytes();
    if std::env::var_os("REDIAL_WRITE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &bytes).unwrap();
    }
    let golden = std::fs::read(GOLDEN).unwrap();
    let snapshot = Snapshot::from_bytes(&golden).unwrap();
    assert_eq!(snapshot.format(), 1);
    assert_eq!(snapshot.live_calls(), 6);
    let restored = Scheduler::restore(snapshot).unwrap();
    let expected = continue_run(fresh);
    assert!(expected.len() > 20, "the continuation exercises the state");
    assert_eq!(continue_run(restored), expected);
    assert!(
        golden == bytes,
        "snapshot bytes changed: if the format changed on purpose, bump SNAPSHOT_FORMAT, keep reading format 1, and rewrite with REDIAL_WRITE_GOLDEN=1"
    );
}
