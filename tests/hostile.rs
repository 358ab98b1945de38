//! Hostile input: nothing a host or an attacker sends makes the engine
//! panic, and a refused input changes nothing.
#![allow(clippy::disallowed_methods)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use redial::{CallId, Config, OpError, Outcome, Scheduler, Snapshot, SnapshotError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap()
}

fn engine_with_calls() -> Scheduler {
    let mut e = Scheduler::new(Config::default()).unwrap();
    for i in 0..5 {
        let body = format!(
            r#"{{"to_number": "+91987654321{i}", "agent_id": "a", "batch_id": "b", "idempotency_key": "k{i}"}}"#
        );
        e.submit(t0(), body.as_bytes()).unwrap();
    }
    e.dial(t0(), 2).unwrap();
    while e.poll_event().is_some() {}
    e
}

/// The engine's whole state as text (undrained events included).
fn fingerprint(e: &Scheduler) -> String {
    String::from_utf8(e.snapshot().to_bytes()).unwrap()
}

/// Asserts equality without dumping whole snapshots on failure.
fn same(a: &str, b: &str) -> bool {
    a == b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_never_panic_and_rejections_change_nothing(body in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut e = engine_with_calls();
        let before = fingerprint(&e);
        if e.submit(t0(), &body).is_err() {
            // The rejected event is the only trace it leaves.
            let ev = e.poll_event().unwrap();
            prop_assert_eq!(ev.kind.name(), "rejected");
            prop_assert!(e.poll_event().is_none());
            prop_assert!(same(&fingerprint(&e), &before));
        }
    }

    #[test]
    fn json_shaped_garbage_never_panics(
        fields in prop::collection::vec(
            (prop::sample::select(vec!["to_number", "agent_id", "batch_id", "metadata", "schedule_at", "min_trigger_time",
                "max_trigger_time", "carry_over", "number_of_retries", "gap_between_retries", "priority", "language",
                "timezone", "idempotency_key"]),
             prop_oneof![
                Just("null".to_string()), Just("true".to_string()), Just("1e308".to_string()), Just("-0".to_string()),
                Just("18446744073709551616".to_string()), Just("-9223372036854775809".to_string()), Just("[]".to_string()),
                Just("{}".to_string()), Just("\"\"".to_string()), Just("\"+919876543210\"".to_string()),
                Just("\"9999-12-31T23:59:59\"".to_string()), Just("\"0001-01-01T00:00:00+23:59\"".to_string()),
                Just("\"23:59\"".to_string()), Just("[10080, 0]".to_string()), Just("\"Pacific/Apia\"".to_string()),
                any::<i64>().prop_map(|n| n.to_string()), "\"[^\"\\\\]{0,20}\"".prop_map(|s| s),
             ]),
            0..10),
    ) {
        let body = format!("{{{}}}", fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect::<Vec<_>>().join(", "));
        let mut e = engine_with_calls();
        let before = fingerprint(&e);
        if e.submit(t0(), body.as_bytes()).is_err() {
            prop_assert_eq!(e.poll_event().map(|ev| ev.kind.name()), Some("rejected"));
            prop_assert!(same(&fingerprint(&e), &before), "a rejected body changed the engine: {}", body);
        }
        e.dial(t0(), 10).unwrap();
    }

    #[test]
    fn absurd_times_never_panic(secs in any::<i64>(), nanos in 0u32..1_000_000_000) {
        let Some(now) = DateTime::from_timestamp(secs, nanos) else { return Ok(()) };
        let mut e = engine_with_calls();
        let _ = e.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "schedule_at": "9999-12-31T23:59:59"}"#);
        let _ = e.dial(now, 5);
        let _ = e.handle_timeout(now);
        let _ = e.report_current(now, "call-1".parse().unwrap(), Outcome::NoAnswer);
        let _ = e.report(now, "call-1-0.1".parse::<redial::AttemptId>().unwrap(), Outcome::NoAnswer);
        let _ = e.poll_timeout();
        for id in ["call-1", "call-2"] {
            let intervals = e.permitted_intervals(id.parse().unwrap(), now, 3);
            prop_assert!(intervals.windows(2).all(|w| w[0].1 <= w[1].0));
            prop_assert!(intervals.iter().all(|(a, b)| a < b));
        }
        let _ = Scheduler::restore(e.snapshot());
    }

    #[test]
    fn arbitrary_snapshot_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(s) = Snapshot::from_bytes(&bytes) {
            let _ = Scheduler::restore(s);
        }
    }

    #[test]
    fn mutated_snapshots_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = engine_with_calls().snapshot().to_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(s) = Snapshot::from_bytes(&bytes)
            && let Ok(mut e) = Scheduler::restore(s)
        {
            let _ = e.dial(t0(), 10);
            let later = t0().checked_add_signed(TimeDelta::try_days(3).unwrap()).unwrap();
            let _ = e.handle_timeout(later);
        }
    }
}

#[test]
fn out_of_range_now_is_a_typed_error_and_changes_nothing() {
    let mut e = engine_with_calls();
    let before = fingerprint(&e);
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(e.dial(far, 1), Err(OpError::TimeOutOfRange(far)));
    assert_eq!(
        e.handle_timeout(DateTime::<Utc>::MIN_UTC),
        Err(OpError::TimeOutOfRange(DateTime::<Utc>::MIN_UTC))
    );
    let r = e
        .submit(far, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)
        .unwrap_err();
    assert_eq!((r.status, r.field), (400, None));
    assert!(r.message.contains("out of range"), "{}", r.message);
    // An unusable `now` is refused before anything happens: not even an event.
    assert!(e.poll_event().is_none());
    assert!(same(&fingerprint(&e), &before));
    // The last valid second works.
    let last = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    assert!(e.handle_timeout(last).is_ok());
}

#[test]
fn unknown_ids_and_bad_arguments() {
    let mut e = engine_with_calls();
    let before = fingerprint(&e);
    let ghost: CallId = "call-999".parse().unwrap();
    assert_eq!(
        e.report_current(t0(), ghost, Outcome::Completed),
        Err(OpError::UnknownCall(ghost))
    );
    let named = redial::AttemptId {
        call: ghost,
        attempt: 1,
    };
    assert_eq!(
        e.report(t0(), named, Outcome::Completed),
        Err(OpError::UnknownCall(ghost))
    );
    assert_eq!(e.cancel(t0(), ghost), Err(OpError::UnknownCall(ghost)));
    assert_eq!(
        e.pause_batch(t0(), "nope"),
        Err(OpError::UnknownBatch("nope".into()))
    );
    assert_eq!(
        e.cancel_batch(t0(), &"x".repeat(1_000_000))
            .unwrap_err()
            .code(),
        "unknown_batch"
    );
    assert_eq!(
        e.register_agent(t0(), "", Some(1)).unwrap_err().code(),
        "invalid_id"
    );
    assert_eq!(
        e.register_agent(t0(), "a\u{0}", Some(1))
            .unwrap_err()
            .code(),
        "invalid_id"
    );
    assert_eq!(
        e.register_agent(t0(), &"a".repeat(129), Some(1))
            .unwrap_err()
            .code(),
        "invalid_id"
    );
    assert!(e.permitted_intervals(ghost, t0(), 5).is_empty());
    assert!(e.poll_event().is_none());
    assert!(same(&fingerprint(&e), &before));
}

#[test]
fn huge_inputs_are_refused_before_parsing() {
    let mut e = engine_with_calls();
    let huge = format!(
        r#"{{"to_number": "+919876543210", "agent_id": "a", "metadata": {{"x": "{}"}}}}"#,
        "y".repeat(70_000)
    );
    let r = e.submit(t0(), huge.as_bytes()).unwrap_err();
    assert!(r.message.contains("max_body_bytes"), "{}", r.message);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let config = Config {
        max_body_bytes: 1 << 20,
        ..Config::default()
    };
    let mut e = Scheduler::new(config).unwrap();
    let r = e.submit(t0(), deep.as_bytes()).unwrap_err();
    assert_eq!((r.status, r.field), (400, None));
    let meta = format!(
        r#"{{"to_number": "+919876543210", "agent_id": "a", "metadata": {{"x": "{}"}}}}"#,
        "y".repeat(20_000)
    );
    assert_eq!(
        e.submit(t0(), meta.as_bytes())
            .unwrap_err()
            .field
            .as_deref(),
        Some("metadata")
    );
}

#[test]
fn snapshot_errors_are_typed() {
    assert!(matches!(
        Snapshot::from_bytes(b""),
        Err(SnapshotError::Corrupt(_))
    ));
    assert!(matches!(
        Snapshot::from_bytes(b"{\"format\": 1}"),
        Err(SnapshotError::Corrupt(_))
    ));
    let good = engine_with_calls().snapshot().to_bytes();
    let text = String::from_utf8(good.clone()).unwrap();
    let other = text.replacen("\"format\":3", "\"format\":4", 1);
    assert_eq!(
        Snapshot::from_bytes(other.as_bytes()).unwrap_err(),
        SnapshotError::Format {
            found: 4,
            expected: 3
        }
    );
    // Slots: every call's and every free one, each once, covering 0..n.
    let restore_text = |t: &str| Scheduler::restore(Snapshot::from_bytes(t.as_bytes()).unwrap());
    for (from, to) in [
        ("\"slot\":1,", "\"slot\":0,"),              // named twice
        ("\"slot\":1,", "\"slot\":9,"),              // past the last slot
        ("\"slot\":1,", ""),                         // a call without one
        ("\"free_slots\":[]", "\"free_slots\":[0]"), // free and full
        ("\"free_slots\":[],", ""),                  // format 3 without free slots
        ("\"format\":3", "\"format\":1"),            // format 1 with slots
    ] {
        let bad = text.replacen(from, to, 1);
        assert_ne!(bad, text, "{from}");
        assert!(
            matches!(restore_text(&bad), Err(SnapshotError::Inconsistent(_))),
            "{from} -> {to}"
        );
    }
    // A call naming an agent the snapshot does not have is inconsistent.
    let broken = text.replacen("\"agent\":0", "\"agent\":7", 1);
    assert!(matches!(
        Scheduler::restore(Snapshot::from_bytes(broken.as_bytes()).unwrap()),
        Err(SnapshotError::Inconsistent(_))
    ));
    // Instants far outside the engine's range are refused, not computed with.
    let far = text.replacen("\"due\":1767155400", "\"due\":9223372036854775807", 1);
    assert_ne!(far, text);
    assert!(matches!(
        Scheduler::restore(Snapshot::from_bytes(far.as_bytes()).unwrap()),
        Err(SnapshotError::Inconsistent(_))
    ));
    let s = Snapshot::from_bytes(&good).unwrap();
    assert_eq!((s.format(), s.live_calls()), (3, 5));
    assert_eq!(s.tzdb_version(), chrono_tz::IANA_TZDB_VERSION);
    // Deterministic bytes: the same state writes the same snapshot.
    assert_eq!(engine_with_calls().snapshot().to_bytes(), good);
    assert_eq!(Scheduler::restore(s).unwrap().snapshot().to_bytes(), good);
}

/// Found by the `ops` fuzz target: lane numbers (derived, in creation
/// order) were written into snapshots, so a restored engine whose lanes were
/// made in another order wrote different bytes for the same state.
#[test]
fn regression_fuzz_restored_engine_writes_the_same_snapshot() {
    let mut e = Scheduler::new(Config::default()).unwrap();
    let a = e
        .submit(t0(), br#"{"to_number": "+919876543210", "agent_id": "a0"}"#)
        .unwrap()
        .call;
    e.submit(t0(), br#"{"to_number": "+919876543211", "agent_id": "a1", "schedule_at": "2026-01-05T10:00:00"}"#).unwrap();
    e.cancel(t0(), a).unwrap();
    while e.poll_event().is_some() {}
    let bytes = e.snapshot().to_bytes();
    let restored = Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap()).unwrap();
    assert!(same(
        &fingerprint(&restored),
        &String::from_utf8(bytes).unwrap()
    ));
}

/// Found by the `snapshot` fuzz target: a snapshot whose idempotency entry
/// named a call that did not carry the key restored, then wrote a snapshot
/// that would not restore. Keys and calls must now match one to one.
#[test]
fn regression_fuzz_idempotency_keys_must_match_their_calls() {
    let good = String::from_utf8(engine_with_calls().snapshot().to_bytes()).unwrap();
    for broken in [
        good.replacen("\"idempotency_key\":\"k0\"", "\"idempotency_key\":null", 1),
        good.replacen(
            "\"idempotency_key\":\"k0\"",
            "\"idempotency_key\":\"k1\"",
            1,
        ),
        good.replacen("[\"k0\",{\"call\":1", "[\"k0\",{\"call\":2", 1),
    ] {
        assert_ne!(broken, good);
        let err = Scheduler::restore(Snapshot::from_bytes(broken.as_bytes()).unwrap());
        assert!(
            matches!(err, Err(SnapshotError::Inconsistent(_))),
            "{broken}"
        );
    }
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/snapshot/regression-idempotency-key"
    ))
    .unwrap();
    if let Ok(s) = Snapshot::from_bytes(&bytes)
        && let Ok(mut e) = Scheduler::restore(s)
    {
        let later = t0()
            .checked_add_signed(TimeDelta::try_days(30).unwrap())
            .unwrap();
        let _ = e.handle_timeout(later);
        Scheduler::restore(Snapshot::from_bytes(&e.snapshot().to_bytes()).unwrap()).unwrap();
    }
}

/// Ready queues pack acceptance numbers into 48 bits: the engine refuses
/// the call after the 2^48 - 1st instead of misordering it, and a snapshot
/// cannot smuggle in a larger counter.
#[test]
fn acceptance_numbers_stop_at_their_packed_width() {
    const MAX_SEQ: u64 = (1 << 48) - 1;
    let with_next_seq = |next: u64| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&engine_with_calls().snapshot().to_bytes()).unwrap();
        v["next_seq"] = next.into();
        Snapshot::from_bytes(&serde_json::to_vec(&v).unwrap()).map(Scheduler::restore)
    };
    let body = br#"{"to_number": "+919876543210", "agent_id": "a"}"#;

    let mut last = with_next_seq(MAX_SEQ).unwrap().unwrap();
    let ok = last.submit(t0(), body).unwrap();
    assert_eq!(ok.call.sequence(), MAX_SEQ);
    while last.poll_event().is_some() {}
    let before = fingerprint(&last);
    let err = last.submit(t0(), body).unwrap_err();
    assert_eq!(err.status, 400);
    assert!(err.message.contains("call IDs"), "{}", err.message);
    let _rejected = last.poll_event().unwrap();
    assert!(same(&fingerprint(&last), &before));
    // The newest call is dialed after the older ready ones, in order.
    let order: Vec<u64> = last
        .dial(t0(), 10)
        .unwrap()
        .iter()
        .map(|d| d.call.sequence())
        .collect();
    assert_eq!(order, [3, 4, 5, MAX_SEQ]);

    for bad in [0, MAX_SEQ + 2, u64::MAX] {
        assert!(
            matches!(with_next_seq(bad), Ok(Err(SnapshotError::Inconsistent(_)))),
            "{bad}"
        );
    }
}

/// An ID names its call's slot. Once the call ends and its slot is reused,
/// the old ID must name nothing, and so must an ID with the wrong slot; a
/// bare `call-n` ID finds its call by number; a restored engine keeps every
/// call in its slot and reuses free slots in the same order, so IDs from
/// before the restart still work and new ones are the same.
#[test]
fn handed_out_ids_never_reach_another_call() {
    let body = |n: u32| format!(r#"{{"to_number": "+91987654{n:04}", "agent_id": "a"}}"#);
    let mut e = Scheduler::new(Config::default()).unwrap();
    let first = e.submit(t0(), body(1).as_bytes()).unwrap().call;
    let dialed = e.dial(t0(), 1).unwrap().pop().unwrap().call;
    assert_eq!(dialed, first);
    e.report_current(t0(), dialed, Outcome::Completed).unwrap();
    // The next call takes the freed storage.
    let second = e.submit(t0(), body(2).as_bytes()).unwrap().call;
    while e.poll_event().is_some() {}
    let before = fingerprint(&e);
    for stale in [first, dialed] {
        assert_eq!(
            e.report_current(t0(), stale, Outcome::Completed),
            Err(OpError::UnknownCall(first))
        );
        assert_eq!(e.cancel(t0(), stale), Err(OpError::UnknownCall(first)));
    }
    assert!(e.poll_event().is_none());
    assert!(same(&fingerprint(&e), &before));

    // The same call reached by a handed-out ID, its text and its bare
    // number; a wrong slot names nothing.
    let n = second.sequence();
    for text in [second.to_string(), format!("call-{n}")] {
        let parsed: CallId = text.parse().unwrap();
        assert_eq!(parsed, second);
        assert_eq!(
            e.report_current(t0(), parsed, Outcome::Completed),
            Err(OpError::NotInFlight(second)),
            "{text}"
        );
        assert_eq!(e.state(parsed), Some(redial::CallState::Ready), "{text}");
    }
    let wrong: CallId = format!("call-{n}-1").parse().unwrap();
    assert_ne!(wrong.to_string(), second.to_string());
    assert_eq!(e.cancel(t0(), wrong), Err(OpError::UnknownCall(second)));
    assert_eq!(e.state(wrong), None);

    // After a restart with more calls stored first, old IDs still work.
    let mut calls = vec![second];
    for n in 3..40 {
        calls.push(e.submit(t0(), body(n).as_bytes()).unwrap().call);
    }
    e.cancel(t0(), second).unwrap();
    e.cancel(t0(), calls[7]).unwrap();
    let bytes = e.snapshot().to_bytes();
    let mut restored = Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap()).unwrap();
    // Bare IDs before any input built the bare-ID index: found by a scan.
    let bare = |id: CallId| -> CallId { format!("call-{}", id.sequence()).parse().unwrap() };
    assert_eq!(
        restored.state(bare(calls[1])),
        Some(redial::CallState::Ready)
    );
    assert_eq!(restored.state(bare(second)), None);
    for engine in [&mut e, &mut restored] {
        assert_eq!(
            engine.cancel(t0(), second),
            Err(OpError::UnknownCall(second))
        );
    }
    // Freed slots are reused in the same order by both engines.
    for n in 40..43 {
        let a = e.submit(t0(), body(n).as_bytes()).unwrap().call;
        let b = restored.submit(t0(), body(n).as_bytes()).unwrap().call;
        assert_eq!(a.to_string(), b.to_string());
        calls.push(b);
    }
    calls.remove(7);
    for id in calls.iter().skip(1) {
        restored.cancel(t0(), *id).unwrap();
    }
    assert_eq!(restored.live_calls(), 0);
}

/// A conflicting repeat of an idempotency key names the live call by the
/// ID its submit returned (`call-n-s`), not by a bare number.
#[test]
fn conflicting_repeat_names_the_call_as_its_submit_did() {
    let mut e = Scheduler::new(Config::default()).unwrap();
    e.submit(t0(), br#"{"to_number": "+919876543210", "agent_id": "a"}"#)
        .unwrap();
    let first = br#"{"to_number": "+919876543211", "agent_id": "a", "idempotency_key": "k"}"#;
    let id = e.submit(t0(), first).unwrap().call;
    assert_eq!(id.to_string(), "call-2-1");
    let other = br#"{"to_number": "+919876543212", "agent_id": "a", "idempotency_key": "k"}"#;
    let conflict = e.submit(t0(), other).unwrap_err();
    assert_eq!(conflict.status, 409);
    assert!(
        conflict.message.contains("live call call-2-1 "),
        "{}",
        conflict.message
    );
}

/// Instants stay within the years 1 to 9999 (semantics §2): a first attempt
/// past the end is a 400, a call whose next attempt would fall past it
/// expires, and a host loop that sleeps until `poll_timeout` and calls
/// `handle_timeout` with it runs to its end without an error.
#[test]
fn a_host_loop_at_the_end_of_time_runs_to_its_end() {
    let mut e = Scheduler::new(Config::default()).unwrap();
    let t: DateTime<Utc> = "9999-12-31T20:00:00Z".parse().unwrap();
    // The reproduction: the Kolkata window next opens in year 10000.
    let kolkata = br#"{"to_number": "+919876543210", "agent_id": "a", "min_trigger_time": "09:00",
                       "max_trigger_time": "18:00", "carry_over": true}"#;
    let r = e.submit(t, kolkata).unwrap_err();
    assert_eq!(
        (r.status, r.field.as_deref()),
        (400, Some("max_trigger_time"))
    );
    let late = br#"{"to_number": "+919876543210", "agent_id": "a", "schedule_at": "9999-12-31T23:59:59-05:00"}"#;
    let r = e.submit(t, late).unwrap_err();
    assert_eq!((r.status, r.field.as_deref()), (400, Some("schedule_at")));
    assert_eq!(e.live_calls(), 0);
    // Calls the engine accepts, whose retries, window ends and timeouts
    // reach past the end.
    let bodies = [
        // Retries every 4 hours, no window.
        r#"{"to_number": "+12125550100", "agent_id": "a", "number_of_retries": 5, "gap_between_retries": 240}"#,
        // Open now (12:00 in Los Angeles) until 18:00 PST, in year 10000 UTC.
        r#"{"to_number": "+12125550101", "agent_id": "a", "timezone": "America/Los_Angeles",
            "min_trigger_time": "09:00", "max_trigger_time": "18:00", "carry_over": true, "number_of_retries": 3}"#,
        // Never dialed: its window's end passes the last instant.
        r#"{"to_number": "+12125550102", "agent_id": "b", "timezone": "America/Los_Angeles",
            "min_trigger_time": "09:00", "max_trigger_time": "18:00", "carry_over": true}"#,
        // Dialed at 23:00 and never reported: its timeout passes the end.
        r#"{"to_number": "+12125550103", "agent_id": "c", "schedule_at": "9999-12-31T23:00:00Z"}"#,
    ];
    for b in bodies {
        e.submit(t, b.as_bytes()).unwrap();
    }
    e.register_agent(t, "b", Some(0)).unwrap();
    let mut now = t;
    let mut ended = 0;
    for round in 0.. {
        assert!(round < 1_000, "the host loop does not end");
        for d in e.dial(now, 10).unwrap() {
            if d.agent_id.as_ref() != "c" {
                e.report(now, &d, Outcome::NoAnswer).unwrap();
            }
        }
        while let Some(ev) = e.poll_event() {
            ended += usize::from(ev.kind.is_terminal());
        }
        e.check_invariants().unwrap();
        match e.poll_timeout() {
            Some(next) => {
                assert!(next > now && next.timestamp() <= redial::scheduler::MAX_TIME);
                e.handle_timeout(next).unwrap();
                now = next;
            }
            None => break,
        }
    }
    assert_eq!((e.live_calls(), ended), (0, bodies.len()));
    assert_eq!(e.now(), "9999-12-31T23:59:59Z".parse().ok());
}
