//! Batch uploads (`Scheduler::submit_batch`): a batch is exactly its calls
//! submitted one by one as `template.for_call(call)`, at the same `now` and
//! in order. Random templates and calls (invalid fields on either side,
//! metadata to rewrite, schedules in the past, in the future and in DST
//! gaps, idempotency keys, suppressed numbers, paused batches, unregistered
//! agents) must give the same answers, the same events and the same
//! snapshot bytes both ways, directly, as a `Command`, and through a
//! one-engine router. A request submitted by reference is the same request
//! moved in.
#![allow(clippy::disallowed_methods)]

mod common;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use common::ZONES;
use proptest::prelude::*;
use redial::shard::Router;
use redial::{
    BatchCall, CallRequest, Command, Config, Event, Gaps, Metadata, Output, ScheduleAt, Scheduler,
    TimeOfDay,
};

fn now() -> DateTime<Utc> {
    // New York springs forward the next night.
    "2026-03-07T12:00:00Z".parse().unwrap()
}

const NUMBERS: [&str; 8] = [
    "+12125550100",
    "+12125550101",
    "+12125550102",
    "+919876543210",
    "+919876543211",
    "+447700900123",
    "12125550100",
    "+1 212 555",
];

/// Metadata texts; the last two are over the engines' `max_metadata_bytes`
/// (48).
const METADATA: [&str; 5] = [
    r#"{"name":"Asha"}"#,
    r#"{ "name" : "Zoë", "n": [1, 2] }"#,
    "{}",
    r#"{"note": "longer than the engine's limit of 48 bytes, compact"}"#,
    r#"{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":1}}}}}}}}}}}}"#,
];

fn arb_schedule() -> impl Strategy<Value = Option<ScheduleAt>> {
    prop_oneof![
        Just(None),
        (-120_i64..3_000).prop_map(|m| Some(ScheduleAt::Instant(
            now() + TimeDelta::try_minutes(m).unwrap()
        ))),
        // 02:30 on the 8th is in New York's spring-forward gap.
        prop::sample::select(vec![
            "2026-03-08T02:30:00",
            "2026-03-08T09:15:00",
            "2026-03-06T10:00:00"
        ])
        .prop_map(|w| Some(ScheduleAt::Local(w.parse::<NaiveDateTime>().unwrap()))),
    ]
}

fn arb_call() -> impl Strategy<Value = BatchCall> {
    (
        prop::sample::select(NUMBERS.to_vec()),
        prop::option::of(prop::sample::select(METADATA.to_vec())),
        arb_schedule(),
    )
        .prop_map(|(n, m, s)| BatchCall {
            to_number: n.to_owned(),
            metadata: m.map(|m| Metadata::parse(m).unwrap()),
            schedule_at: s,
        })
}

/// Mostly `valid`, sometimes `invalid`: a template is valid often enough
/// for its calls to be admitted.
fn mostly<T: Clone + std::fmt::Debug + 'static>(
    valid: Vec<T>,
    invalid: Vec<T>,
) -> impl Strategy<Value = T> {
    prop_oneof![
        9 => prop::sample::select(valid),
        1 => prop::sample::select(invalid),
    ]
}

fn arb_template() -> impl Strategy<Value = CallRequest> {
    (
        mostly(vec!["a0", "a0", "a1"], vec!["", "bad\u{7}id"]),
        prop::option::of(mostly(vec!["b0", "b1"], vec![""])),
        mostly(vec![0_u8, 1, 3, 10], vec![11, 12]),
        prop::option::of(mostly(vec![0_u16, 30], vec![20_000])),
        mostly(vec![0_i8, -100, 100, 7], vec![-101, 101]),
        prop::option::of((0_u32..24, 0_u32..24, prop::bool::ANY)),
        prop::option::of(prop::sample::select(ZONES.to_vec())),
        prop::option::weighted(0.15, prop::sample::select(vec!["k0", "k1"])),
        // Fields a batch's calls replace: never used.
        prop::option::of(prop::sample::select(METADATA.to_vec())),
    )
        .prop_map(
            |(agent, batch, retries, gap, priority, window, tz, key, meta)| {
                let mut r = CallRequest::new("+33612345678", agent);
                r.batch_id = batch.map(str::to_owned);
                r.number_of_retries = retries;
                r.gap_between_retries = gap.map(Gaps::Every);
                r.priority = priority;
                if let Some((from, to, carry)) = window {
                    r.min_trigger_time = TimeOfDay::new(from, 0);
                    r.max_trigger_time = TimeOfDay::new(to, 30);
                    r.carry_over = carry;
                }
                r.timezone = tz.map(|z| z.parse().unwrap());
                r.idempotency_key = key.map(str::to_owned);
                r.metadata = meta.map(|m| Metadata::parse(m).unwrap());
                r
            },
        )
}

/// Calling policies by prefix (US hours, UK hours with a holiday
/// tomorrow), zones from the number and a one-day call age: per call, the
/// rule set changes with the number, and some first attempts are refused.
const POLICIES: &str = r#"{"policies": {
        "us": {"hours": {"daily": [["08:00", "21:00"]], "sun": [["12:00", "17:00"]]}},
        "uk": {"hours": {"daily": [["09:00", "20:00"]], "sat": [], "sun": []},
               "holidays": {"dates": ["2026-03-09"]}}},
    "policy_by_prefix": {"+1212": "us", "+44": "uk"},
    "zones_from_number": true,
    "max_call_age_days": 1}"#;

/// An engine with some history: a registered agent, a suppressed number,
/// a paused batch and a few calls, one with an idempotency key.
fn engine(require_registered: bool, policies: bool) -> Scheduler {
    let base = if policies {
        serde_json::from_str(POLICIES).unwrap()
    } else {
        Config::default()
    };
    let config = Config {
        require_registered_agents: require_registered,
        max_metadata_bytes: 48,
        ..base
    };
    let mut e = Scheduler::new(config).unwrap();
    let t = now();
    e.register_agent(t, "a0", Some(2)).unwrap();
    e.suppress(t, "+447700900123", None).unwrap();
    let mut r = CallRequest::new("+12125550100", "a0");
    r.batch_id = Some("b1".into());
    r.idempotency_key = Some("k0".into());
    e.submit_request(t, r).unwrap();
    e.pause_batch(t, "b1").unwrap();
    e.submit_request(t, CallRequest::new("+12125550101", "a0"))
        .unwrap();
    while e.poll_event().is_some() {}
    e
}

fn events(e: &mut Scheduler) -> Vec<Event> {
    std::iter::from_fn(|| e.poll_event()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_batch_is_its_calls_submitted_one_by_one(
        template in arb_template(),
        calls in prop::collection::vec(arb_call(), 0..8),
        require_registered in prop::bool::weighted(0.2),
        policies in prop::bool::ANY,
        late in prop::bool::ANY,
    ) {
        // The policies configuration takes zones from the number, which
        // needs the number-zones feature's data.
        let policies = policies && cfg!(feature = "number-zones");
        // Sometimes an instant past the engine's clock.
        let t = if late { now() + TimeDelta::try_minutes(7).unwrap() } else { now() };
        let mut one_by_one = engine(require_registered, policies);
        let expected: Vec<_> = calls
            .iter()
            .map(|c| one_by_one.submit_request(t, template.for_call(c)))
            .collect();
        let expected_events = events(&mut one_by_one);

        let mut batched = engine(require_registered, policies);
        let mut answers = Vec::new();
        batched.submit_batch(t, &template, &calls, &mut answers);
        prop_assert_eq!(&answers, &expected);
        prop_assert_eq!(events(&mut batched), expected_events.clone());
        prop_assert_eq!(batched.snapshot().to_bytes(), one_by_one.snapshot().to_bytes());
        // The registry's counts too: every call ended, both engines forget
        // the same names.
        prop_assert_eq!(batched.check_invariants(), Ok(()));
        for e in [&mut batched, &mut one_by_one] {
            for c in e.calls() {
                e.cancel(t, c.call).unwrap();
            }
        }
        prop_assert_eq!(events(&mut batched), events(&mut one_by_one));
        prop_assert_eq!(batched.check_invariants(), Ok(()));
        prop_assert_eq!(batched.snapshot().to_bytes(), one_by_one.snapshot().to_bytes());

        // As a command, and its journal record replayed.
        let mut applied = engine(require_registered, policies);
        let mut log = Vec::new();
        let command = Command::SubmitBatch { now: t, template: Box::new(template.clone()), calls: calls.clone() };
        let output = applied.apply_journaled(command, &mut log).unwrap();
        prop_assert_eq!(output, Output::SubmittedBatch(expected.clone()));
        prop_assert_eq!(events(&mut applied), expected_events.clone());
        let mut replayed = engine(require_registered, policies);
        let mut replayed_events = Vec::new();
        replayed.replay_journal(&log, |e| replayed_events.push(e)).unwrap();
        prop_assert_eq!(replayed_events, expected_events);
        prop_assert_eq!(replayed.snapshot().to_bytes(), applied.snapshot().to_bytes());
    }

    /// A request submitted by reference (the engine copies only its gap
    /// list) is the same request moved in: the same answers, events and
    /// snapshot bytes, directly and as a command applied by reference or
    /// owned; and the host's request is left as it was.
    #[test]
    fn a_request_by_reference_is_the_request_moved(
        template in arb_template(),
        calls in prop::collection::vec(arb_call(), 1..6),
        policies in prop::bool::ANY,
    ) {
        let policies = policies && cfg!(feature = "number-zones");
        let t = now();
        let requests: Vec<CallRequest> = calls.iter().map(|c| template.for_call(c)).collect();
        let mut moved = engine(false, policies);
        let mut borrowed = engine(false, policies);
        let mut applied = engine(false, policies);
        let mut applied_owned = engine(false, policies);
        for r in &requests {
            let kept = r.clone();
            let answer = moved.submit_request(t, r.clone());
            prop_assert_eq!(&borrowed.submit_request(t, r), &answer);
            prop_assert_eq!(r, &kept);
            let command = Command::SubmitRequest { now: t, request: Box::new(r.clone()) };
            prop_assert_eq!(applied.apply(&command), Output::Submitted(answer.clone()));
            prop_assert_eq!(applied_owned.apply_owned(command), Output::Submitted(answer));
        }
        let expected = events(&mut moved);
        prop_assert!(!expected.is_empty());
        for e in [&mut borrowed, &mut applied, &mut applied_owned] {
            prop_assert_eq!(&events(e), &expected);
        }
        prop_assert_eq!(borrowed.snapshot().to_bytes(), moved.snapshot().to_bytes());
        // Applied commands also count in the journal position.
        prop_assert_eq!(applied.position(), requests.len() as u64);
        prop_assert_eq!(applied.snapshot().to_bytes(), applied_owned.snapshot().to_bytes());
    }

    #[test]
    fn a_one_engine_router_batch_is_the_engine_batch(
        template in arb_template(),
        calls in prop::collection::vec(arb_call(), 0..8),
    ) {
        let mut router = Router::new(Config::default(), 1).unwrap();
        let mut engine = Scheduler::new(Config::default()).unwrap();
        let routed = router.submit_batch(now(), &template, &calls);
        let mut answers = Vec::new();
        engine.submit_batch(now(), &template, &calls, &mut answers);
        let routed: Vec<_> = routed
            .into_iter()
            .map(|r| r.map(|(call, accepted)| {
                assert_eq!((call.shard, call.call), (0, accepted.call));
                accepted
            }))
            .collect();
        prop_assert_eq!(routed, answers);
        prop_assert_eq!(
            router.shards()[0].snapshot().to_bytes(),
            engine.snapshot().to_bytes()
        );
    }
}

/// Three engines: each call lands in the engine its number hashes to, the
/// answers keep the calls' order, and each engine holds what submitting
/// its own calls one by one gives.
#[test]
fn a_sharded_batch_lands_each_call_in_its_numbers_engine() {
    let mut router = Router::new(Config::default(), 3).unwrap();
    let template = CallRequest::new("", "a0");
    let calls: Vec<BatchCall> = (0..30)
        .map(|i| BatchCall::new(format!("+1212555{i:04}")))
        .chain([BatchCall::new("nope")])
        .collect();
    let answers = router.submit_batch(now(), &template, &calls);
    assert_eq!(answers.len(), calls.len());
    let mut engines: Vec<Scheduler> = (0..3)
        .map(|_| Scheduler::new(Config::default()).unwrap())
        .collect();
    for (call, answer) in calls.iter().zip(&answers) {
        let shard = router.shard_of(&call.to_number);
        let alone = engines[shard as usize].submit_request(now(), template.for_call(call));
        match (answer, alone) {
            (Ok((at, accepted)), Ok(expected)) => {
                assert_eq!(at.shard, shard);
                assert_eq!(accepted, &expected);
            }
            (Err(a), Err(b)) => assert_eq!(a, &b),
            other => panic!("{}: {other:?}", call.to_number),
        }
    }
    assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 30);
    for (shard, engine) in engines.iter().enumerate() {
        assert!(engine.live_calls() > 0, "shard {shard} got calls");
        assert_eq!(
            router.shards()[shard].snapshot().to_bytes(),
            engine.snapshot().to_bytes()
        );
    }
}

/// The template's own number, metadata and schedule are not used, and a
/// batch shares nothing with the template afterwards.
#[test]
fn the_template_varying_fields_are_not_used() {
    let mut template = CallRequest::new("not even a number", "a0");
    // Over any limit: a submit of the template itself would be refused.
    template.metadata =
        Some(Metadata::parse(&format!(r#"{{"n":"{}"}}"#, "x".repeat(70_000))).unwrap());
    template.schedule_at = Some(ScheduleAt::Instant(now() + TimeDelta::try_days(3).unwrap()));
    let mut e = Scheduler::new(Config::default()).unwrap();
    let mut answers = Vec::new();
    e.submit_batch(
        now(),
        &template,
        &[BatchCall::new("+919876543210")],
        &mut answers,
    );
    let accepted = answers[0].as_ref().unwrap();
    assert_eq!(accepted.due, now());
    let info = e.call(accepted.call).unwrap();
    assert_eq!(info.to_number.to_string(), "+919876543210");
}
