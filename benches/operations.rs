//! Costs of the engine's other operations: submitting (JSON bodies, parsed
//! requests and batch uploads), `poll_timeout`, pausing and resuming a batch of N calls,
//! cancelling, and writing and restoring a snapshot of N calls.
//!
//! N = 1,000,000 (`REDIAL_BENCH_SMOKE=1`: 10,000).

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use redial::{BatchCall, CallRequest, Config, Scheduler, Snapshot, TimeOfDay};

fn n() -> usize {
    if std::env::var_os("REDIAL_BENCH_SMOKE").is_some() {
        10_000
    } else {
        1_000_000
    }
}

/// 2026-03-06T00:00:00Z (built once per use site, not parsed in the loop).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_755_200, 0).unwrap()
}

const BASIC: &[u8] = br#"{"to_number": "+919876543210", "agent_id": "6803fa770b666a64ab1694c1e"}"#;
const FULL: &[u8] = br#"{"to_number": "+919876543210", "agent_id": "6803fa770b666a64ab1694c1e", "batch_id": "camp",
  "metadata": {"name": "Abhinav", "age": 25, "city": "Bangalore", "order": {"id": "A-1029", "amount": 4999}},
  "schedule_at": "2026-03-06T10:00:00", "min_trigger_time": "09:00", "max_trigger_time": "18:00", "carry_over": true,
  "number_of_retries": 3, "gap_between_retries": [30, 60], "priority": 2, "language": "hi", "timezone": "Asia/Kolkata"}"#;

/// An engine with `n` pending calls in batch "camp", half waiting for a window.
fn engine(n: usize) -> Scheduler {
    let mut e = Scheduler::new(Config::default()).unwrap();
    for i in 0..n {
        let mut r = CallRequest::new(
            &format!("+9198{:08}", i % 100_000_000),
            ["a0", "a1", "a2"][i % 3],
        );
        r.batch_id = Some("camp".to_owned());
        if i % 2 == 0 {
            r.min_trigger_time = TimeOfDay::new(9, 0);
            r.max_trigger_time = TimeOfDay::new(18, 0);
        }
        e.submit_request(now(), r).unwrap();
    }
    while e.poll_event().is_some() {}
    e
}

fn submit(c: &mut Criterion) {
    let mut g = c.benchmark_group("submit");
    g.throughput(Throughput::Elements(1));
    for (name, body) in [("json_basic", BASIC), ("json_full", FULL)] {
        let mut e = Scheduler::new(Config::default()).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(e.submit(now(), body).unwrap());
                while e.poll_event().is_some() {}
            })
        });
    }
    let parsed = CallRequest::from_json(FULL, &Config::default()).unwrap();
    let mut e = Scheduler::new(Config::default()).unwrap();
    // By reference, as a host that keeps its request does: the request is
    // neither cloned nor dropped per submit (the call copies its gap list
    // and shares its metadata).
    g.bench_function("parsed_full", |b| {
        b.iter(|| {
            black_box(e.submit_request(now(), &parsed).unwrap());
            while e.poll_event().is_some() {}
        })
    });
    g.finish();
    // Batch uploads: the full request as the template, 1,000 calls each
    // with its own number (and, for `batch_full`, the full body's metadata
    // and schedule), into a new engine; the time is per call.
    // `one_by_one_full` submits the same 1,000 calls as parsed requests
    // by reference (`template.for_call`, built outside the timing): the
    // baseline.
    let mut g = c.benchmark_group("submit");
    g.throughput(Throughput::Elements(1_000));
    let calls = |own: bool| -> Vec<BatchCall> {
        (0..1_000)
            .map(|i| BatchCall {
                to_number: format!("+9198{i:08}"),
                metadata: own.then(|| parsed.metadata.clone()).flatten(),
                schedule_at: own.then_some(parsed.schedule_at).flatten(),
            })
            .collect()
    };
    for (name, own) in [("batch_basic", false), ("batch_full", true)] {
        let calls = calls(own);
        let mut template = parsed.clone();
        if !own {
            template.schedule_at = None;
        }
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    (
                        Scheduler::new(Config::default()).unwrap(),
                        Vec::with_capacity(1_000),
                    )
                },
                |(mut e, mut answers)| {
                    e.submit_batch(now(), &template, &calls, &mut answers);
                    while e.poll_event().is_some() {}
                    (e, answers)
                },
                BatchSize::SmallInput,
            )
        });
    }
    let requests: Vec<CallRequest> = calls(true).iter().map(|c| parsed.for_call(c)).collect();
    g.bench_function("one_by_one_full", |b| {
        b.iter_batched(
            || Scheduler::new(Config::default()).unwrap(),
            |mut e| {
                for r in &requests {
                    black_box(e.submit_request(now(), r).unwrap());
                }
                while e.poll_event().is_some() {}
                e
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn operations(c: &mut Criterion) {
    let n = n();
    let mut e = engine(n);
    let mut g = c.benchmark_group(format!("operations_{n}"));
    g.bench_function("poll_timeout", |b| b.iter(|| black_box(e.poll_timeout())));
    g.bench_function("pause_and_resume_batch", |b| {
        b.iter(|| {
            e.pause_batch(now(), "camp").unwrap();
            e.resume_batch(now(), "camp").unwrap();
        })
    });
    let mut next = n;
    g.bench_function("cancel_and_replace", |b| {
        b.iter(|| {
            let id = format!("call-{}", next - n + 1).parse().unwrap();
            e.cancel(now(), id).unwrap();
            let mut r = CallRequest::new("+919876543210", "a0");
            r.batch_id = Some("camp".to_owned());
            e.submit_request(now(), r).unwrap();
            next += 1;
            while e.poll_event().is_some() {}
        })
    });
    g.finish();

    let bytes = e.snapshot().to_bytes();
    let mut g = c.benchmark_group(format!("snapshot_{n}"));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("write", |b| b.iter(|| black_box(e.snapshot().to_bytes())));
    g.bench_function("restore", |b| {
        b.iter(|| black_box(Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, submit, operations);
criterion_main!(benches);
