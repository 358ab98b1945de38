//! Engines on threads: the attempt cycle on 10^5 pending calls as one
//! engine on one thread, against the same calls split between two engines
//! (by number, as `shard::Router` splits them) each on its own thread.
//! Each iteration runs 20,000 attempts in all; the ratio of the times is
//! the scaling on this machine's cores.

#![allow(clippy::disallowed_methods)]

mod common;
use common::{Rng, T0, at};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use redial::{CallRequest, Config, Outcome, Scheduler};

const CALLS: usize = 100_000;
const ATTEMPTS: usize = 20_000;

/// One engine and its own simulated clock.
struct Engine {
    e: Scheduler,
    now: i64,
    rng: Rng,
    out: Vec<redial::Dispatch>,
}

impl Engine {
    fn new(calls: usize, seed: u64) -> Engine {
        let mut me = Engine {
            e: Scheduler::new(Config::default()).unwrap(),
            now: T0,
            rng: Rng(seed),
            out: Vec::with_capacity(1),
        };
        for _ in 0..calls {
            me.submit();
        }
        while me.e.poll_event().is_some() {}
        me
    }

    fn submit(&mut self) {
        let mut r = CallRequest::new("+919876543210", "a");
        r.timezone = Some(chrono_tz::Asia::Kolkata);
        r.number_of_retries = 3;
        r.gap_between_retries = redial::Gaps::every(30);
        let due = self.now + self.rng.below(86_400) as i64;
        r.schedule_at = Some(redial::ScheduleAt::Instant(at(due)));
        self.e.submit_request(at(self.now), r).unwrap();
    }

    fn attempts(&mut self, n: usize) {
        let mut done = 0;
        while done < n {
            self.out.clear();
            self.e.dial_into(at(self.now), 1, &mut self.out).unwrap();
            if let Some(d) = self.out.pop() {
                let outcome = if self.rng.below(10) < 3 {
                    Outcome::Completed
                } else {
                    Outcome::NoAnswer
                };
                self.e.report(at(self.now), &d, outcome).unwrap();
                let mut ended = false;
                while let Some(ev) = self.e.poll_event() {
                    ended |= ev.kind.is_terminal();
                }
                if ended {
                    self.submit();
                    while self.e.poll_event().is_some() {}
                }
                done += 1;
            } else {
                self.now = self.e.poll_timeout().unwrap().timestamp();
                self.e.handle_timeout(at(self.now)).unwrap();
                while self.e.poll_event().is_some() {}
            }
        }
    }
}

fn threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("shards");
    group.throughput(Throughput::Elements(ATTEMPTS as u64));
    group.sample_size(20);
    let mut one = Engine::new(CALLS, 7);
    group.bench_function(BenchmarkId::new("one_engine_one_thread", CALLS), |b| {
        b.iter(|| one.attempts(ATTEMPTS))
    });
    let mut two = [Engine::new(CALLS / 2, 7), Engine::new(CALLS / 2, 8)];
    group.bench_function(BenchmarkId::new("two_engines_two_threads", CALLS), |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for engine in &mut two {
                    s.spawn(|| engine.attempts(ATTEMPTS / 2));
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, threads);
criterion_main!(benches);
