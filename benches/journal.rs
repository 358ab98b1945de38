//! The journal's speed on the attempt bench's command mix: encode, decode,
//! and replay (decode + apply), in commands per second.
//!
//! The stream: N calls submitted (uniform due instants over a day, three
//! retries 30 minutes apart), then the attempt cycle as commands: dial one,
//! report it (70% unanswered), submit a replacement when a call ends, and
//! `handle_timeout` when nothing is ready. The replay starts from a
//! snapshot taken after the submits, as a recovering host would.
//!
//! `REDIAL_BENCH_SMOKE=1` runs 10^3 calls only; the default also runs
//! 10^5. `REDIAL_BENCH_RECOVERY=1` adds recovery at scale: a snapshot of
//! 10^6 live calls restored and a 10^6-record tail replayed (the
//! snapshot's parse is part of it).

#![allow(clippy::disallowed_methods)]

mod common;
use common::{Rng, T0, at};

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use redial::journal::{self, Reader};
use redial::{CallRequest, Command, Config, Outcome, Output, Scheduler, Snapshot};

fn request(rng: &mut Rng, now: i64) -> Box<CallRequest> {
    let mut r = CallRequest::new("+919876543210", ["a0", "a1", "a2"][rng.below(3) as usize]);
    r.batch_id = Some(["b0", "b1"][rng.below(2) as usize].to_owned());
    r.timezone = Some(chrono_tz::Asia::Kolkata);
    r.number_of_retries = 3;
    r.gap_between_retries = redial::Gaps::every(30);
    r.schedule_at = Some(redial::ScheduleAt::Instant(at(
        now + rng.below(86_400) as i64
    )));
    Box::new(r)
}

/// The snapshot after `n` submits and the `cycles` commands after it.
fn stream(n: usize, commands: usize) -> (Vec<u8>, Vec<Command>) {
    let mut e = Scheduler::new(Config::default()).unwrap();
    let mut rng = Rng(7);
    for _ in 0..n {
        let request = request(&mut rng, T0);
        e.apply(&Command::SubmitRequest {
            now: at(T0),
            request,
        });
    }
    while e.poll_event().is_some() {}
    let snapshot = e.snapshot().to_bytes();
    let mut out = Vec::with_capacity(commands);
    let mut now = T0;
    while out.len() < commands {
        let dial = Command::Dial {
            now: at(now),
            max: 1,
        };
        let Output::Dialed(Ok(calls)) = e.apply(&dial) else {
            unreachable!("a dial in range answers")
        };
        out.push(dial);
        if let Some(d) = calls.first() {
            let outcome = if rng.below(10) < 3 {
                Outcome::Completed
            } else {
                Outcome::NoAnswer
            };
            let report = Command::Report {
                now: at(now),
                attempt: d.attempt_id(),
                outcome,
            };
            e.apply(&report);
            out.push(report);
            let mut ended = false;
            while let Some(ev) = e.poll_event() {
                ended |= ev.kind.is_terminal();
            }
            if ended {
                let submit = Command::SubmitRequest {
                    now: at(now),
                    request: request(&mut rng, now),
                };
                e.apply(&submit);
                out.push(submit);
                while e.poll_event().is_some() {}
            }
        } else {
            now = e.poll_timeout().unwrap().timestamp();
            let timeout = Command::HandleTimeout { now: at(now) };
            e.apply(&timeout);
            out.push(timeout);
            while e.poll_event().is_some() {}
        }
    }
    // A prefix of a journal is a journal.
    out.truncate(commands);
    (snapshot, out)
}

fn journal_speed(c: &mut Criterion) {
    let sizes: &[usize] = if std::env::var_os("REDIAL_BENCH_SMOKE").is_some() {
        &[1000]
    } else {
        &[1000, 100_000]
    };
    let mut group = c.benchmark_group("journal");
    for &n in sizes {
        let commands = 100_000;
        let (snapshot, stream) = stream(n, commands);
        let position = n as u64;
        let mut bytes = Vec::new();
        for (i, command) in stream.iter().enumerate() {
            journal::encode(position + i as u64, command, &mut bytes).unwrap();
        }
        group.throughput(Throughput::Elements(commands as u64));
        group.bench_function(BenchmarkId::new("encode", n), |b| {
            let mut buf = Vec::with_capacity(bytes.len());
            b.iter(|| {
                buf.clear();
                for (i, command) in stream.iter().enumerate() {
                    journal::encode(position + i as u64, command, &mut buf).unwrap();
                }
                black_box(buf.len())
            })
        });
        group.bench_function(BenchmarkId::new("decode", n), |b| {
            b.iter(|| Reader::new(&bytes).map(Result::unwrap).count())
        });
        group.bench_function(BenchmarkId::new("replay", n), |b| {
            b.iter_batched(
                || Scheduler::restore(Snapshot::from_bytes(&snapshot).unwrap()).unwrap(),
                |mut e| {
                    let replay = e.replay_journal(&bytes, |ev| {
                        black_box(ev);
                    });
                    assert_eq!(replay.unwrap().applied, commands as u64);
                    e
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    // Recovery at scale: restore a snapshot of 10^6 live calls, then replay
    // a 10^6-record tail (`REDIAL_BENCH_RECOVERY=1`; about a minute).
    if std::env::var_os("REDIAL_BENCH_RECOVERY").is_some() {
        let n = 1_000_000;
        let (snapshot, stream) = stream(n, n);
        let mut bytes = Vec::new();
        for (i, command) in stream.iter().enumerate() {
            journal::encode(n as u64 + i as u64, command, &mut bytes).unwrap();
        }
        let mut group = c.benchmark_group("recovery");
        group.bench_function(BenchmarkId::new("snapshot_and_tail", n), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let mut e =
                        Scheduler::restore(Snapshot::from_bytes(&snapshot).unwrap()).unwrap();
                    let replay = e.replay_journal(&bytes, |ev| {
                        black_box(ev);
                    });
                    assert_eq!(replay.unwrap().applied, n as u64);
                    e
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = journal_speed
}
criterion_main!(benches);
