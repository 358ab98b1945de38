//! Reports that name their attempt are safe under redelivery: carriers send
//! webhooks late and twice, and no copy of an earlier attempt's report may
//! change what happens to a later attempt (semantics §3.5).
//!
//! Property: a host that receives every report once, and a host that also
//! receives late and duplicated copies of them (each after the original),
//! produce the same event stream; every copy is refused.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use common::Rng;
use proptest::prelude::*;
use redial::{AttemptId, CallRequest, Config, Event, OpError, Outcome, Scheduler};

/// One report delivery: when, which attempt, what, and whether it is a copy.
#[derive(Clone, Debug)]
struct Delivery {
    at: i64,
    attempt: AttemptId,
    outcome: Outcome,
    copy: bool,
}

/// Runs `calls` calls for two hours of host time. The outcome and delay of
/// each attempt's report depend only on (seed, call, attempt); with
/// `copies`, each report is also delivered again 1 to 3 times, 0 to 15
/// minutes after the original. Returns the events and the copies' results.
fn run(seed: u64, calls: u64, copies: bool) -> (Vec<Event>, Vec<Result<(), OpError>>) {
    let t0 = 1_768_366_800_i64; // 2026-01-14T05:00:00Z
    let at = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap();
    let mut engine = Scheduler::new(Config::default()).unwrap();
    let mut rng = Rng(seed);
    for i in 0..calls {
        let mut r = CallRequest::new(&format!("+9198765{i:05}"), &format!("agent{}", i % 2));
        r.number_of_retries = 4;
        r.gap_between_retries = redial::Gaps::every(rng.below(3) as u32);
        r.priority = (rng.below(3) as i8) - 1;
        engine.submit_request(at(t0), r).unwrap();
    }
    let outcomes = [
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Voicemail,
        Outcome::Failed,
        Outcome::Completed,
    ];
    let mut copy_rng = Rng(seed ^ 0x5EED);
    let mut pending: Vec<Delivery> = Vec::new();
    let mut events = Vec::new();
    let mut refused = Vec::new();
    let end = t0 + 2 * 3600;
    let mut now = t0;
    while now < end {
        // Every report due by now, oldest first (originals before copies).
        pending.sort_by_key(|d| (d.at, d.copy));
        while pending.first().is_some_and(|d| d.at <= now) {
            let d = pending.remove(0);
            let result = engine.report(at(d.at), d.attempt, d.outcome);
            if d.copy {
                refused.push(result);
            } else {
                result.unwrap();
            }
            events.extend(std::iter::from_fn(|| engine.poll_event()));
        }
        for d in engine.dial(at(now), 2).unwrap() {
            let id = d.attempt_id();
            let mut per = Rng(seed ^ (d.call.sequence() << 8) ^ u64::from(d.attempt));
            let outcome = outcomes[per.below(outcomes.len() as u64) as usize];
            let delivered = now + 1 + per.below(90) as i64;
            pending.push(Delivery {
                at: delivered,
                attempt: id,
                outcome,
                copy: false,
            });
            if copies {
                for _ in 0..1 + copy_rng.below(3) {
                    pending.push(Delivery {
                        at: delivered + copy_rng.below(900) as i64,
                        attempt: id,
                        outcome: outcomes[copy_rng.below(outcomes.len() as u64) as usize],
                        copy: true,
                    });
                }
            }
        }
        events.extend(std::iter::from_fn(|| engine.poll_event()));
        now += 20;
    }
    (events, refused)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn late_and_repeated_reports_change_nothing(seed in any::<u64>(), calls in 1_u64..8) {
        let (once, none) = run(seed, calls, false);
        prop_assert!(none.is_empty());
        let (redelivered, copies) = run(seed, calls, true);
        prop_assert_eq!(&once, &redelivered);
        // Every copy was refused: as stale once the call moved on, as not in
        // flight while its attempt was still the current one, or as unknown
        // once the call ended.
        for r in &copies {
            let refused = matches!(
                r,
                Err(OpError::StaleReport { .. } | OpError::NotInFlight(_) | OpError::UnknownCall(_))
            );
            prop_assert!(refused, "{r:?}");
        }
    }
}

/// The property is not vacuous: the copies reach later attempts (some are
/// refused as stale), and a host that reported without naming the attempt
/// would have ended a later attempt with a copy.
#[test]
fn copies_reach_later_attempts() {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 0..20 {
        let (_, copies) = run(seed, 6, true);
        for r in copies {
            *kinds
                .entry(r.err().map_or("accepted", |e| e.code()))
                .or_default() += 1;
        }
    }
    assert!(
        kinds.get("stale_report").copied().unwrap_or(0) > 20,
        "{kinds:?}"
    );
    assert_eq!(kinds.get("accepted"), None, "{kinds:?}");

    // The unsafe form: a late copy of attempt 1 ends attempt 2.
    let t: DateTime<Utc> = "2026-01-14T05:00:00Z".parse().unwrap();
    let mut e = Scheduler::new(Config::default()).unwrap();
    let body = br#"{"to_number": "+919876543210", "agent_id": "a", "number_of_retries": 2, "gap_between_retries": 1}"#;
    let id = e.submit(t, body).unwrap().call;
    let first = e.dial(t, 1).unwrap().remove(0);
    e.report(t, &first, Outcome::Busy).unwrap();
    let later = t + TimeDelta::try_minutes(2).unwrap();
    let second = e.dial(later, 1).unwrap().remove(0);
    assert_eq!(second.attempt, 2);
    assert!(matches!(
        e.report(later, &first, Outcome::Completed),
        Err(OpError::StaleReport { .. })
    ));
    e.report_current(later, id, Outcome::Completed).unwrap();
    assert_eq!(e.state(id), None, "report_current ended attempt 2");
}
