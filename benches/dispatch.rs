//! Dispatch cost with blocked calls versus without, side by side in one
//! criterion group: 1,000,000 pending calls, of which 100,000 are in a
//! paused batch or belong to an agent at its cap, against 1,000,000 pending
//! calls that are all eligible. One iteration dials one call, reports it
//! completed, and submits a replacement, so the queue keeps its size.
//!
//! `REDIAL_BENCH_SMOKE=1` shrinks the queues to 10,000 calls (CI smoke run).

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use redial::{CallRequest, Config, Outcome, Scheduler};

fn pending() -> usize {
    if std::env::var_os("REDIAL_BENCH_SMOKE").is_some() {
        10_000
    } else {
        1_000_000
    }
}

fn request(i: usize, agent: &str, batch: Option<&str>) -> CallRequest {
    let mut r = CallRequest::new(&format!("+9198{:08}", i % 100_000_000), agent);
    r.batch_id = batch.map(str::to_owned);
    r.priority = i8::try_from(i % 7).unwrap_or(0) - 3;
    r
}

/// An engine with `total` ready calls, `blocked` of which cannot be dialed:
/// half in a paused batch, half on an agent with a cap of 0.
fn engine(now: DateTime<Utc>, total: usize, blocked: usize) -> Scheduler {
    let mut e = Scheduler::new(Config::default()).unwrap();
    e.register_agent(now, "capped", Some(0)).unwrap();
    for i in 0..total {
        let r = if i < blocked / 2 {
            request(i, "agent", Some("paused"))
        } else if i < blocked {
            request(i, "capped", Some("open"))
        } else {
            request(i, "agent", Some("open"))
        };
        e.submit_request(now, r).unwrap();
    }
    if blocked > 0 {
        e.pause_batch(now, "paused").unwrap();
    }
    while e.poll_event().is_some() {}
    e
}

fn dispatch(c: &mut Criterion) {
    let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse().unwrap();
    let total = pending();
    let mut group = c.benchmark_group("dispatch");
    for (name, blocked) in [("10pct_blocked", total / 10), ("unblocked", 0)] {
        let mut e = engine(now, total, blocked);
        let mut next = total;
        group.bench_function(BenchmarkId::new(name, total), |b| {
            b.iter(|| {
                let call = e.dial(now, 1).unwrap().pop().unwrap();
                e.report(now, &call, Outcome::Completed).unwrap();
                e.submit_request(now, request(next, "agent", Some("open")))
                    .unwrap();
                next += 1;
                while let Some(ev) = e.poll_event() {
                    black_box(ev);
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
