//! Snapshots written by formats 1 and 2 must keep restoring, and the
//! restored engine must continue exactly as an engine driven by the same
//! inputs. `REDIAL_WRITE_GOLDEN=1` rewrites the current format's file (only
//! when the format changes on purpose, together with `SNAPSHOT_FORMAT`).
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, TimeDelta, Utc};
use redial::{AttemptId, CallId, Config, Event, Outcome, Scheduler, Snapshot};

const GOLDEN_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/snapshot_v1.json");
const GOLDEN_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/snapshot_v2.json");
const GOLDEN_V3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/snapshot_v3.json");

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A state with every kind of record: waiting, ready, in-flight and
/// cancel-requested calls, windows, retries, a paused batch, a capped
/// agent, an idempotency key and undrained events.
fn build() -> (Scheduler, Vec<CallId>) {
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
    let ids: Vec<CallId> = bodies
        .iter()
        .map(|b| e.submit(t, b.as_bytes()).unwrap().call)
        .collect();
    let dialed: Vec<u64> = e
        .dial(t, 3)
        .unwrap()
        .iter()
        .map(|d| d.call.sequence())
        .collect();
    assert_eq!(dialed, [2, 3, 6]);
    e.pause_batch(t, "camp").unwrap();
    e.cancel(t, "call-6".parse().unwrap()).unwrap();
    (e, ids)
}

/// The same later inputs for both engines.
fn continue_run(mut e: Scheduler) -> Vec<Event> {
    let mut t = at("2026-03-07T14:10:00Z");
    // Bare call IDs (format 1's engines handed out no slots), with the
    // attempt the reports name.
    let attempt = |text: &str| text.parse::<AttemptId>().unwrap();
    e.report(t, attempt("call-2.1"), Outcome::Completed)
        .unwrap();
    e.report(t, attempt("call-6.1"), Outcome::Busy).unwrap();
    e.resume_batch(t, "camp").unwrap();
    for _ in 0..40 {
        t += TimeDelta::try_hours(2).unwrap();
        for d in e.dial(t, 3).unwrap() {
            e.report(t, &d, Outcome::NoAnswer).unwrap();
        }
    }
    std::iter::from_fn(|| e.poll_event()).collect()
}

#[test]
fn format_1_snapshot_keeps_restoring() {
    let (fresh, _) = build();
    let golden = std::fs::read(GOLDEN_V1).unwrap();
    let snapshot = Snapshot::from_bytes(&golden).unwrap();
    assert_eq!(snapshot.format(), 1);
    assert_eq!(snapshot.live_calls(), 6);
    let restored = Scheduler::restore(snapshot).unwrap();
    // Format 1 kept no slots: its engines handed out bare `call-n` IDs,
    // which the continuation uses and which must still name the calls.
    let expected = continue_run(fresh);
    assert!(expected.len() > 20, "the continuation exercises the state");
    assert_eq!(continue_run(restored), expected);
}

#[test]
fn format_2_snapshot_keeps_restoring() {
    let (fresh, ids) = build();
    let golden = std::fs::read(GOLDEN_V2).unwrap();
    let snapshot = Snapshot::from_bytes(&golden).unwrap();
    assert_eq!(snapshot.format(), 2);
    assert_eq!(snapshot.live_calls(), 6);
    let restored = Scheduler::restore(snapshot).unwrap();
    // Calls keep their slots, so the IDs handed out before still name them,
    // and the restored engine is the one the same inputs build today.
    for id in &ids {
        assert_eq!(restored.state(*id), fresh.state(*id), "{id}");
        assert!(restored.state(*id).is_some(), "{id}");
    }
    assert!(restored.snapshot().to_bytes() == fresh.snapshot().to_bytes());
    let expected = continue_run(fresh);
    assert!(expected.len() > 20, "the continuation exercises the state");
    assert_eq!(continue_run(restored), expected);
}

/// Format 3 adds the calling-policy state: a call's lifetime, a
/// suppression, a suppression pending on an in-flight call. (A call's
/// zones and policies, and attempt histories, need the number data; the
/// `number-zones` tests round-trip them.)
fn build_v3() -> Scheduler {
    let (mut e, _) = build();
    let t = at("2026-03-07T14:00:00Z");
    let lifetime = br#"{"to_number": "+12125550105", "agent_id": "free", "expires_at": "2026-03-09T12:00:00"}"#;
    e.submit(t, lifetime).unwrap();
    e.suppress(t, "+12125550199", Some(at("2026-04-01T00:00:00Z")))
        .unwrap();
    // call-3 is in flight: its suppression waits for its report.
    e.suppress(t, "+12125550102", None).unwrap();
    e
}

#[test]
fn format_3_snapshot_keeps_restoring() {
    let fresh = build_v3();
    let bytes = fresh.snapshot().to_bytes();
    if std::env::var_os("REDIAL_WRITE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_V3, &bytes).unwrap();
    }
    let golden = std::fs::read(GOLDEN_V3).unwrap();
    let snapshot = Snapshot::from_bytes(&golden).unwrap();
    assert_eq!(snapshot.format(), 3);
    let restored = Scheduler::restore(snapshot).unwrap();
    assert!(restored.snapshot().to_bytes() == golden);
    let expected = continue_run(fresh);
    assert!(expected.len() > 20, "the continuation exercises the state");
    assert_eq!(continue_run(restored), expected);
    assert!(
        golden == bytes,
        "snapshot bytes changed: if the format changed on purpose, bump SNAPSHOT_FORMAT, keep reading the older formats, and rewrite with REDIAL_WRITE_GOLDEN=1"
    );
}
