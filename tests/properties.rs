//! Property tests over random operation sequences (proptest; failures are
//! recorded in `proptest-regressions/` and committed).
//!
//! The shared checker (`common/invariants.rs`) follows the event stream
//! and checks, at every event: no attempt triggers before it is due or
//! outside its window; a call never has more than `number_of_retries + 1`
//! attempts; among eligible due calls, the one dispatched is never
//! outranked; every accepted call ends with at most one terminal event.
//! The engine's derived state is checked after every step.
//!
//! Two more properties: the same inputs give identical event streams, and a
//! snapshot/restore at any step changes nothing.

#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use common::ZONES;
use common::invariants::Checker;
use proptest::prelude::*;
use redial::event::CompactEvent;
use redial::{CallId, CallRequest, Config, Event, EventKind, Outcome, Scheduler, Snapshot};
use serde_json::{Value, json};

const STARTS: [&str; 4] = [
    "2026-03-07T00:00:00Z", // New York spring forward next night
    "2026-10-24T00:00:00Z", // London fall back
    "2026-10-03T00:00:00Z", // Lord Howe's 30-minute spring forward
    "2026-09-05T00:00:00Z", // Santiago's midnight gap
];

#[derive(Clone, Debug)]
enum Op {
    Submit(Value),
    Dial(usize),
    Report(usize, Outcome),
    Cancel(usize),
    Pause(usize),
    Resume(usize),
    CancelBatch(usize),
    Register(usize, Option<u32>),
    Advance,
    Restart,
}

fn time_of_day() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        3 => (0u32..24, prop_oneof![Just(0u32), Just(30), 0u32..60]).prop_map(|(h, m)| Some(format!("{h:02}:{m:02}"))),
    ]
}

fn request() -> impl Strategy<Value = Value> {
    (
        (
            0usize..3,
            0usize..3,
            0usize..ZONES.len(),
            time_of_day(),
            time_of_day(),
        ),
        (
            any::<bool>(),
            0u8..4,
            prop_oneof![
                (0u32..300).prop_map(|g| json!(g)),
                prop::collection::vec(0u32..900, 1..4).prop_map(|g| json!(g))
            ],
        ),
        (
            -2i8..3,
            prop_oneof![Just(None), (0i64..72 * 60).prop_map(Some)],
            any::<u16>(),
        ),
    )
        .prop_map(
            |(
                (agent, batch, zone, min, max),
                (carry, retries, gaps),
                (priority, sched, number),
            )| {
                let mut r = json!({
                    "to_number": format!("+1212555{:04}", number % 10_000),
                    "agent_id": format!("agent{agent}"),
                    "timezone": ZONES[zone],
                    "carry_over": carry,
                    "number_of_retries": retries,
                    "gap_between_retries": gaps,
                    "priority": priority,
                });
                if batch > 0 {
                    r["batch_id"] = json!(format!("batch{batch}"));
                }
                if let Some(m) = min {
                    r["min_trigger_time"] = json!(m);
                }
                if let Some(m) = max {
                    r["max_trigger_time"] = json!(m);
                }
                if let Some(minutes) = sched {
                    // Offsets from the start instant; the runner turns it into a wall time.
                    r["schedule_at"] = json!(minutes);
                }
                r
            },
        )
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::NoAnswer),
        2 => Just(Outcome::Completed),
        1 => Just(Outcome::Busy),
        1 => Just(Outcome::Voicemail),
        1 => Just(Outcome::Failed),
        1 => Just(Outcome::InvalidNumber),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => request().prop_map(Op::Submit),
        4 => (1usize..5).prop_map(Op::Dial),
        4 => (0usize..64, outcome()).prop_map(|(i, o)| Op::Report(i, o)),
        1 => (0usize..64).prop_map(Op::Cancel),
        1 => (1usize..3).prop_map(Op::Pause),
        1 => (1usize..3).prop_map(Op::Resume),
        1 => Just(Op::CancelBatch(1)),
        1 => (0usize..3, prop_oneof![Just(None), (0u32..3).prop_map(Some)]).prop_map(|(a, c)| Op::Register(a, c)),
        2 => Just(Op::Advance),
        1 => Just(Op::Restart),
    ]
}

/// Steps: seconds to move the clock (sometimes backwards), then an op.
fn script() -> impl Strategy<Value = (usize, Vec<(i64, Op)>)> {
    (
        0..STARTS.len(),
        prop::collection::vec(
            (
                prop_oneof![8 => 0i64..5400, 1 => 0i64..86_400, 1 => -3600i64..0],
                op(),
            ),
            1..60,
        ),
    )
}

/// A change of the host's view of batches and agents by one step.
enum Change {
    Paused(String, bool),
    Cap(String, Option<u32>),
}

struct Run {
    events: Vec<Event>,
    requests: BTreeMap<CallId, CallRequest>,
    /// Per step: the engine's clock, how many events it produced, and the
    /// change it made to batches or agents, if it succeeded.
    ops: Vec<(DateTime<Utc>, usize, Option<Change>)>,
    /// What `check_invariants` found after each step, if anything.
    derived: Result<(), String>,
}

/// Runs a script; `restart_at` snapshots and restores before that step;
/// `compact` drains the events in their compact form (each checked to
/// convert both ways) and keeps their full form.
fn run(
    start: usize,
    steps: &[(i64, Op)],
    restart_at: Option<usize>,
    honour_restart_ops: bool,
    compact: bool,
) -> Run {
    let config = Config {
        attempt_timeout_minutes: 45,
        ..Config::default()
    };
    let mut engine = Scheduler::new(config.clone()).unwrap();
    let mut now: DateTime<Utc> = STARTS[start].parse().unwrap();
    let mut ids: Vec<CallId> = Vec::new();
    let mut requests = BTreeMap::new();
    let mut events = Vec::new();
    let mut ops = Vec::new();
    let mut derived = Ok(());
    for (i, (dt, op)) in steps.iter().enumerate() {
        now = now
            .checked_add_signed(TimeDelta::try_seconds(*dt).unwrap())
            .unwrap();
        let restart = |engine: &mut Scheduler| {
            let bytes = engine.snapshot().to_bytes();
            *engine = Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap()).unwrap();
        };
        if restart_at == Some(i) {
            restart(&mut engine);
        }
        let pick = |ids: &Vec<CallId>, n: usize| {
            ids.get(n % ids.len().max(1))
                .copied()
                .unwrap_or("call-999999".parse().unwrap())
        };
        let mut change = None;
        match op {
            Op::Submit(r) => {
                let mut r = r.clone();
                if let Some(minutes) = r.get("schedule_at").and_then(Value::as_i64) {
                    let tz: Tz = r["timezone"].as_str().unwrap().parse().unwrap();
                    let at = now
                        .checked_add_signed(TimeDelta::try_minutes(minutes - 600).unwrap())
                        .unwrap();
                    r["schedule_at"] = json!(
                        at.with_timezone(&tz)
                            .format("%Y-%m-%dT%H:%M:%S")
                            .to_string()
                    );
                }
                let body = r.to_string();
                if let Ok(a) = engine.submit(now, body.as_bytes())
                    && !a.duplicate
                {
                    ids.push(a.call);
                    requests.insert(
                        a.call,
                        CallRequest::from_json(body.as_bytes(), &config).unwrap(),
                    );
                }
            }
            Op::Dial(n) => {
                engine.dial(now, *n).unwrap();
            }
            Op::Report(i, o) => {
                let _ = engine.report_current(now, pick(&ids, *i), *o);
            }
            Op::Cancel(i) => {
                let _ = engine.cancel(now, pick(&ids, *i));
            }
            Op::Pause(b) => {
                if engine.pause_batch(now, &format!("batch{b}")).is_ok() {
                    change = Some(Change::Paused(format!("batch{b}"), true));
                }
            }
            Op::Resume(b) => {
                if engine.resume_batch(now, &format!("batch{b}")).is_ok() {
                    change = Some(Change::Paused(format!("batch{b}"), false));
                }
            }
            Op::CancelBatch(b) => {
                let _ = engine.cancel_batch(now, &format!("batch{b}"));
            }
            Op::Register(a, cap) => {
                engine
                    .register_agent(now, &format!("agent{a}"), *cap)
                    .unwrap();
                change = Some(Change::Cap(format!("agent{a}"), *cap));
            }
            Op::Advance => engine.handle_timeout(now).unwrap(),
            Op::Restart => {
                if honour_restart_ops {
                    restart(&mut engine);
                }
            }
        }
        let before = events.len();
        if compact {
            while let Some(c) = engine.poll_compact_event() {
                let e = Event::from(c.clone());
                assert_eq!(CompactEvent::try_from(e.clone()), Ok(c));
                events.push(e);
            }
        } else {
            while let Some(e) = engine.poll_event() {
                events.push(e);
            }
        }
        // The engine treats a clock going backwards as the latest instant seen.
        let effective = engine.now().unwrap_or(now);
        ops.push((effective, events.len() - before, change));
        if derived.is_ok() {
            derived = engine
                .check_invariants()
                .map_err(|e| format!("step {i}: {e}"));
        }
    }
    Run {
        events,
        requests,
        ops,
        derived,
    }
}

/// Replays the event stream against the requests through the shared
/// checker, with the host's changes applied after each step's events.
fn check_invariants(run: &Run) -> Result<(), String> {
    run.derived.clone()?;
    let mut check = Checker::default();
    let mut cursor = 0;
    for (now, count, change) in &run.ops {
        for e in run.events.get(cursor..cursor + count).unwrap() {
            if let (
                Some(c),
                EventKind::Accepted {
                    duplicate: false, ..
                },
            ) = (e.call, &e.kind)
            {
                let req = run.requests.get(&c).ok_or("accepted an unknown request")?;
                check.submitted(c, req.clone(), chrono_tz::Asia::Kolkata);
            }
            check.event(e, *now)?;
        }
        cursor += count;
        match change {
            Some(Change::Paused(b, p)) => check.set_paused(b, *p),
            Some(Change::Cap(a, c)) => check.set_cap(a, *c),
            None => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn invariants_hold((start, steps) in script()) {
        let run = run(start, &steps, None, false, false);
        if let Err(e) = check_invariants(&run) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn same_inputs_same_events((start, steps) in script()) {
        let a = run(start, &steps, None, true, false);
        let b = run(start, &steps, None, true, false);
        prop_assert_eq!(a.events, b.events);
    }

    /// The compact events are the events: the same stream, in the same
    /// order, whichever form the host drains.
    #[test]
    fn compact_events_are_the_events((start, steps) in script()) {
        let full = run(start, &steps, None, true, false);
        let compact = run(start, &steps, None, true, true);
        prop_assert_eq!(full.events, compact.events);
    }

    #[test]
    fn restore_changes_nothing((start, steps) in script(), at in any::<prop::sample::Index>()) {
        let plain = run(start, &steps, None, false, false);
        let restarted = run(start, &steps, Some(at.index(steps.len())), true, false);
        prop_assert_eq!(plain.events, restarted.events);
    }
}
