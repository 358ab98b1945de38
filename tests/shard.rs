//! The sharding router (`redial::shard`): a one-engine router is the
//! engine; numbers stay in one engine; a dial across engines hands out by
//! priority then due as one engine would; batch pauses reach calls that
//! arrive later in any engine.
#![allow(clippy::disallowed_methods)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::Rng;
use redial::shard::Router;
use redial::{Config, Outcome, Scheduler};

fn t0() -> DateTime<Utc> {
    "2026-03-07T12:00:00Z".parse().unwrap()
}

fn body(r: &mut Rng, now: DateTime<Utc>) -> String {
    let due = now + TimeDelta::try_minutes(r.below(300) as i64).unwrap();
    format!(
        r#"{{"to_number": "+1212555{:04}", "agent_id": "a{}", "batch_id": "b{}", "priority": {}, "number_of_retries": {}, "gap_between_retries": 20, "schedule_at": "{}"}}"#,
        r.below(10_000),
        r.below(3),
        r.below(3),
        r.below(4),
        r.below(3),
        due.to_rfc3339()
    )
}

#[test]
fn a_one_engine_router_is_the_engine() {
    for seed in 1..=40 {
        let mut r = Rng(seed);
        let mut router = Router::new(Config::default(), 1).unwrap();
        let mut engine = Scheduler::new(Config::default()).unwrap();
        let mut now = t0();
        let mut in_flight = Vec::new();
        for _ in 0..300 {
            now += TimeDelta::try_minutes(r.below(15) as i64).unwrap();
            match r.below(8) {
                0..=2 => {
                    let b = body(&mut r, now);
                    let a = router.submit(now, b.as_bytes()).map(|(c, a)| (c.call, a));
                    let b = engine.submit(now, b.as_bytes()).map(|a| (a.call, a));
                    assert_eq!(a, b, "seed {seed}");
                }
                3..=4 => {
                    let max = r.below(4) as usize;
                    let a: Vec<_> = router
                        .dial(now, max)
                        .unwrap()
                        .into_iter()
                        .map(|(_, d)| d)
                        .collect();
                    assert_eq!(a, engine.dial(now, max).unwrap(), "seed {seed}");
                    in_flight.extend(a.iter().map(|d| d.attempt_id()));
                }
                5 if !in_flight.is_empty() => {
                    let i = r.below(in_flight.len() as u64) as usize;
                    let attempt = in_flight.swap_remove(i);
                    let outcome = [Outcome::NoAnswer, Outcome::Completed][r.below(2) as usize];
                    assert_eq!(
                        router.report(now, 0, attempt, outcome),
                        engine.report(now, attempt, outcome)
                    );
                }
                6 => {
                    let batch = format!("b{}", r.below(4));
                    let (a, b) = if r.chance(50) {
                        (
                            router.pause_batch(now, &batch),
                            engine.pause_batch(now, &batch),
                        )
                    } else {
                        (
                            router.resume_batch(now, &batch),
                            engine.resume_batch(now, &batch),
                        )
                    };
                    assert_eq!(a, b, "seed {seed}");
                }
                _ => {
                    assert_eq!(router.handle_timeout(now), engine.handle_timeout(now));
                }
            }
            assert_eq!(router.poll_timeout(), engine.poll_timeout());
            let a: Vec<_> = std::iter::from_fn(|| router.poll_event())
                .map(|(_, e)| e)
                .collect();
            let b: Vec<_> = std::iter::from_fn(|| engine.poll_event()).collect();
            assert_eq!(a, b, "seed {seed}");
        }
        assert_eq!(
            router.shards()[0].snapshot().to_bytes(),
            engine.snapshot().to_bytes()
        );
    }
}

#[test]
fn numbers_spread_over_engines_and_stay_in_one() {
    let router = Router::new(Config::default(), 4).unwrap();
    let mut counts = [0; 4];
    for i in 0..10_000 {
        let number = format!("+1212555{i:04}");
        let shard = router.shard_of(&number);
        assert_eq!(router.shard_of(&number), shard);
        counts[shard as usize] += 1;
    }
    assert!(
        counts.iter().all(|c| (2_000..3_000).contains(c)),
        "{counts:?}"
    );
    // The hash is fixed: moving it would move numbers between engines.
    assert_eq!(router.shard_of("+919876543210"), 1);
    assert!(Router::new(Config::default(), 0).is_err());
}

#[test]
fn a_dial_across_engines_hands_out_in_one_engines_order() {
    for seed in 1..=20 {
        let mut r = Rng(seed);
        let mut router = Router::new(Config::default(), 3).unwrap();
        let mut engine = Scheduler::new(Config::default()).unwrap();
        let now = t0();
        for _ in 0..200 {
            let b = body(&mut r, now);
            router.submit(now, b.as_bytes()).unwrap();
            engine.submit(now, b.as_bytes()).unwrap();
        }
        let later = now + TimeDelta::try_hours(6).unwrap();
        let rank = |d: &redial::Dispatch, e: &Scheduler| {
            let call = e.call(d.call).unwrap();
            (call.priority, call.due)
        };
        let mut mine = Vec::new();
        loop {
            let handed = router.dial(later, 1 + r.below(5) as usize).unwrap();
            if handed.is_empty() {
                break;
            }
            for (shard, d) in handed {
                mine.push(rank(&d, &router.shards()[shard as usize]));
                router.report(later, shard, &d, Outcome::Completed).unwrap();
            }
        }
        let mut single = Vec::new();
        while let Some(d) = engine.dial(later, 1).unwrap().pop() {
            single.push(rank(&d, &engine));
            engine.report(later, &d, Outcome::Completed).unwrap();
        }
        // Ties (equal priority and due) may come in another order; the
        // ranks come in the same order.
        assert!(!mine.is_empty());
        assert_eq!(mine.len(), single.len(), "seed {seed}");
        assert_eq!(mine, single, "seed {seed}");
    }
}

#[test]
fn a_pause_reaches_calls_that_arrive_later_in_any_engine() {
    let mut router = Router::new(Config::default(), 4).unwrap();
    let now = t0();
    let submit = |router: &mut Router, n: u32| {
        let b =
            format!(r#"{{"to_number": "+1212555{n:04}", "agent_id": "a", "batch_id": "spring"}}"#);
        router.submit(now, b.as_bytes()).unwrap().0
    };
    let first = submit(&mut router, 0);
    router.pause_batch(now, "spring").unwrap();
    // A number in another engine than the first call's.
    let other = (1..100)
        .find(|n| router.shard_of(&format!("+1212555{n:04}")) != first.shard)
        .unwrap();
    let second = submit(&mut router, other);
    assert_ne!(second.shard, first.shard);
    assert!(router.dial(now, 10).unwrap().is_empty());
    router.resume_batch(now, "spring").unwrap();
    assert_eq!(router.dial(now, 10).unwrap().len(), 2);
    assert!(router.pause_batch(now, "autumn").is_err());
}

#[test]
fn per_number_state_stays_in_its_engine_and_caps_hold_per_engine() {
    let mut router = Router::new(Config::default(), 2).unwrap();
    let now = t0();
    router.suppress(now, "+12125550042", None).unwrap();
    let b = br#"{"to_number": "+12125550042", "agent_id": "a"}"#;
    let rejection = router.submit(now, b).unwrap_err();
    assert_eq!(rejection.status, 403);
    router.unsuppress(now, "+12125550042").unwrap();
    assert!(router.submit(now, b).is_ok());
    // An agent's cap holds in each engine: cap 1 over two engines lets two
    // calls be in flight.
    router.register_agent(now, "capped", Some(1)).unwrap();
    for n in 0..40 {
        let b = format!(r#"{{"to_number": "+1212555{n:04}", "agent_id": "capped"}}"#);
        router.submit(now, b.as_bytes()).unwrap();
    }
    let handed = router.dial(now, 100).unwrap();
    let capped: Vec<_> = handed
        .iter()
        .filter(|(_, d)| &*d.agent_id == "capped")
        .collect();
    assert_eq!(capped.len(), 2);
    assert_ne!(capped[0].0, capped[1].0);
    assert_eq!(router.live_calls(), 41);
}
