//! A long-running host does not grow: agents, batches and lanes that no
//! live call holds are forgotten (policy.md 6), so a host that gives every
//! upload its own `batch_id` and every campaign its own agent ends where it
//! started once its calls end. This file is its own test binary, so the
//! process's resident memory is this test's alone.
//!
//! `LIFECYCLE_CALLS=N` sets the number of calls (default 1,000,000).

use chrono::{DateTime, TimeDelta, Utc};
use redial::{CallRequest, Config, Footprint, Outcome, Scheduler};

/// The process's resident set in bytes (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

const BLOCK: usize = 1_000;

/// Runs calls `from..to` to their end, a block at a time, each with its own
/// agent and batch: most complete, some are cancelled before they are
/// dialed, fail, or are retried once; some batches are paused while their
/// calls run and resumed after.
fn churn(engine: &mut Scheduler, now: &mut DateTime<Utc>, from: usize, to: usize) {
    let mut block_start = from;
    while block_start < to {
        let block_end = (block_start + BLOCK).min(to);
        let mut ids = Vec::with_capacity(BLOCK);
        for i in block_start..block_end {
            let mut r = CallRequest::new(
                &format!("+9198{:08}", i % 100_000_000),
                &format!("agent-{i}"),
            );
            r.batch_id = Some(format!("upload-{i}"));
            r.number_of_retries = u8::from(i % 7 == 0);
            r.gap_between_retries = redial::Gaps::every(0);
            r.idempotency_key = (i % 5 == 0).then(|| format!("key-{i}"));
            ids.push(engine.submit_request(*now, r).unwrap().call);
        }
        for i in (block_start..block_end).step_by(11) {
            engine.pause_batch(*now, &format!("upload-{i}")).unwrap();
        }
        for (k, id) in ids.iter().enumerate() {
            if (block_start + k).is_multiple_of(13) {
                engine.cancel(*now, *id).unwrap();
            }
        }
        *now += TimeDelta::try_seconds(1).unwrap();
        // Two rounds: the retried calls come back at once (gap 0).
        for _ in 0..2 {
            for d in engine.dial(*now, BLOCK).unwrap() {
                let i = d.call.sequence() as usize;
                let outcome = match i % 7 {
                    0 if d.attempt == 1 => Outcome::NoAnswer,
                    3 => Outcome::InvalidNumber,
                    _ => Outcome::Completed,
                };
                engine.report(*now, &d, outcome).unwrap();
            }
        }
        // Paused calls are still waiting; resume them, dial and finish them.
        for i in (block_start..block_end).step_by(11) {
            engine.resume_batch(*now, &format!("upload-{i}")).unwrap();
        }
        for _ in 0..2 {
            for d in engine.dial(*now, BLOCK).unwrap() {
                let outcome = if d.attempt == 1 && d.call.sequence() % 7 == 1 {
                    Outcome::Busy
                } else {
                    Outcome::Completed
                };
                engine.report(*now, &d, outcome).unwrap();
            }
        }
        while engine.poll_event().is_some() {}
        assert_eq!(
            engine.live_calls(),
            0,
            "block {block_start} left calls behind"
        );
        block_start = block_end;
    }
}

#[test]
fn distinct_batches_and_agents_are_forgotten_and_memory_stays_flat() {
    let calls: usize = std::env::var("LIFECYCLE_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let start: DateTime<Utc> = "2026-01-14T04:30:00Z".parse().unwrap();
    let mut now = start;
    let mut engine = Scheduler::new(Config::default()).unwrap();
    // Warm up: the allocator's pools and the engine's reusable capacity.
    churn(&mut engine, &mut now, 0, calls / 10);
    let empty = Footprint {
        live_calls: 0,
        agents: 0,
        batches: 0,
        lanes: 0,
        idempotency_keys: 0,
        queued_events: 0,
        suppressions: 0,
        attempt_histories: 0,
    };
    assert_eq!(engine.footprint(), empty);
    let before = resident_bytes();
    churn(&mut engine, &mut now, calls / 10, calls);
    let after = resident_bytes();

    // The engine's own accounting is back to nothing.
    assert_eq!(engine.footprint(), empty);
    engine.check_invariants().unwrap();
    // A snapshot carries no forgotten name: it is a fresh engine's at the
    // same instant, but for the count of calls accepted so far.
    let mut fresh = Scheduler::new(Config::default()).unwrap();
    fresh.handle_timeout(now).unwrap();
    let as_json = |e: &Scheduler| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_slice(&e.snapshot().to_bytes()).unwrap();
        v["next_seq"] = serde_json::Value::Null;
        v
    };
    assert_eq!(as_json(&engine), as_json(&fresh));
    // A forgotten batch is unknown again.
    assert!(engine.pause_batch(now, "upload-5").is_err());
    if let (Some(before), Some(after)) = (before, after) {
        let growth = after.saturating_sub(before);
        println!(
            "{calls} calls: resident {} MB before the last 90%, {} MB after (+{:.2} MB)",
            before >> 20,
            after >> 20,
            growth as f64 / f64::from(1 << 20)
        );
        assert!(growth < 5 << 20, "resident memory grew by {growth} bytes");
    }
}

/// The same run with one batch and one agent for every call also ends
/// with nothing held, and with a registered agent and a paused batch the
/// engine keeps exactly those two.
#[test]
fn registered_agents_and_paused_batches_stay_known() {
    let mut now: DateTime<Utc> = "2026-01-14T04:30:00Z".parse().unwrap();
    let mut engine = Scheduler::new(Config::default()).unwrap();
    engine.register_agent(now, "agent-3", Some(2)).unwrap();
    churn(&mut engine, &mut now, 0, 2_000);
    let body = br#"{"to_number": "+919876543210", "agent_id": "x", "batch_id": "kept"}"#;
    let id = engine.submit(now, body).unwrap().call;
    engine.pause_batch(now, "kept").unwrap();
    engine.cancel(now, id).unwrap();
    let f = engine.footprint();
    assert_eq!((f.live_calls, f.agents, f.batches, f.lanes), (0, 1, 1, 0));
    engine.check_invariants().unwrap();
    let restored = Scheduler::restore(engine.snapshot()).unwrap();
    assert_eq!(restored.footprint(), f);
    assert_eq!(restored.snapshot().to_bytes(), engine.snapshot().to_bytes());
    engine.resume_batch(now, "kept").unwrap();
    assert_eq!(engine.footprint().batches, 0);
}
