//! Structure-aware operation sequences, with the engine's invariants
//! asserted after every step: the shared event-stream checker (triggers in
//! window and never early, dial order, at most `R + 1` attempts, one
//! terminal event per call, events of a call in time order), the engine's
//! derived state (`check_invariants`), memory holding only live calls, and
//! restarts changing nothing.
#![no_main]

#[path = "../../tests/common/invariants.rs"]
mod invariants;

use arbitrary::Arbitrary;
use chrono::{DateTime, TimeDelta, Utc};
use libfuzzer_sys::fuzz_target;
use invariants::Checker;
use redial::{CallId, CallRequest, Config, Outcome, Scheduler, Snapshot};

const ZONES: [&str; 7] =
    ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Asia/Kolkata", "America/Santiago", "Pacific/Apia"];
const START: i64 = 1_772_755_200; // 2026-03-06T00:00:00Z, two days before New York's spring forward

#[derive(Arbitrary, Debug)]
enum Op {
    Submit { zone: u8, min: Option<u16>, max: Option<u16>, carry: bool, retries: u8, gaps: Vec<u16>, priority: i8, batch: u8, agent: u8, schedule: Option<u16> },
    Raw(Vec<u8>),
    Dial(u8),
    Report(u8, u8),
    Cancel(u8),
    Pause(u8),
    Resume(u8),
    CancelBatch(u8),
    Register(u8, Option<u8>),
    Forward(u32),
    Back(u16),
    Restart,
    Suppress(u8, Option<u16>),
    Unsuppress(u8),
    ReportNamed(u8, u8, u8),
}

/// The numbers calls go to: New York and Paris ones, so that policies by
/// prefix, caps and suppression meet several calls of one number.
const NUMBERS: [&str; 4] = ["+12125550100", "+12125550101", "+33144556677", "+33144556678"];

fn hhmm(m: u16) -> String {
    let m = m % 1440;
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn submit(engine: &mut Scheduler, check: &mut Checker, ids: &mut Vec<CallId>, config: &Config, now: DateTime<Utc>, body: &[u8]) {
    if let Ok(a) = engine.submit(now, body)
        && !a.duplicate
    {
        ids.push(a.call);
        let r = CallRequest::from_json(body, config).unwrap_or_else(|e| panic!("{e}"));
        check.submitted(a.call, r, config.default_timezone);
        let info = engine.call(a.call).unwrap_or_else(|| panic!("accepted {} is unknown", a.call));
        check.rules(&info);
    }
}

/// The configuration: plain, or with calling policies on both prefixes
/// (hours with a lunch break and no weekends, holidays, caps, suppression
/// after do_not_call, a lifetime).
fn config(policies: bool) -> Config {
    let base = Config { attempt_timeout_minutes: 40, ..Config::default() };
    if !policies {
        return base;
    }
    let text = r#"{
        "attempt_timeout_minutes": 40,
        "policies": {
            "fr": {"hours": {"daily": [["10:00", "13:00"], ["14:00", "20:00"]], "sat": [], "sun": []},
                   "holidays": {"fixed": ["03-09"], "easter": [1]}, "max_attempts": {"count": 2, "days": 1},
                   "suppress_days_after_do_not_call": 2},
            "us": {"hours": {"daily": [["08:00", "21:00"]]}, "max_attempts": {"count": 3, "days": 1}}
        },
        "policy_by_prefix": {"+33": "fr", "+1212": "us"},
        "do_not_call_suppression_days": 1,
        "max_call_age_days": 3
    }"#;
    Config::from_json(text).unwrap_or(base)
}

fuzz_target!(|input: (bool, Vec<Op>)| {
    let (policies, ops) = input;
    let config = config(policies);
    let mut engine = Scheduler::new(config.clone()).unwrap_or_else(|_| unreachable!());
    let mut now = DateTime::from_timestamp(START, 0).unwrap_or_default();
    let mut ids: Vec<CallId> = Vec::new();
    let mut check = Checker::with_config(config.clone());
    for op in ops.iter().take(200) {
        let pick = |i: u8| ids.get(usize::from(i) % ids.len().max(1)).copied().unwrap_or_else(|| "call-999999".parse().unwrap_or_else(|_| unreachable!()));
        // Changes to batches and agents take effect after the step's
        // time-driven events, which happened before the operation.
        let (mut paused, mut capped, mut suppressed, mut lifted) = (None, None, None, None);
        match op {
            Op::Submit { zone, min, max, carry, retries, gaps, priority, batch, agent, schedule } => {
                let tz = ZONES[usize::from(*zone) % ZONES.len()];
                let mut body = serde_json::json!({
                    "to_number": NUMBERS[usize::from(*agent) % NUMBERS.len()], "agent_id": format!("a{}", agent % 3), "timezone": tz,
                    "carry_over": carry, "number_of_retries": retries % 5, "priority": priority % 3,
                    "gap_between_retries": gaps.iter().take(3).map(|g| g % 600).collect::<Vec<_>>(),
                });
                if gaps.is_empty() {
                    body["gap_between_retries"] = serde_json::json!(30);
                }
                if batch % 3 > 0 {
                    body["batch_id"] = serde_json::json!(format!("b{}", batch % 3));
                }
                if let Some(m) = min {
                    body["min_trigger_time"] = serde_json::json!(hhmm(*m));
                }
                if let Some(m) = max {
                    body["max_trigger_time"] = serde_json::json!(hhmm(*m));
                }
                if let Some(s) = schedule {
                    let at = now + TimeDelta::try_minutes(i64::from(*s % 4000)).unwrap_or_default();
                    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
                    body["schedule_at"] = serde_json::json!(at.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S").to_string());
                }
                submit(&mut engine, &mut check, &mut ids, &config, now, body.to_string().as_bytes());
            }
            Op::Raw(bytes) => submit(&mut engine, &mut check, &mut ids, &config, now, bytes),
            Op::Dial(n) => {
                let _ = engine.dial(now, usize::from(n % 6));
            }
            Op::Report(i, o) => {
                let _ = engine.report_current(now, pick(*i), Outcome::ALL[usize::from(*o) % Outcome::ALL.len()]);
            }
            Op::Cancel(i) => {
                let _ = engine.cancel(now, pick(*i));
            }
            Op::Pause(b) | Op::Resume(b) => {
                let (batch, pause) = (format!("b{}", b % 3), matches!(op, Op::Pause(_)));
                let done = if pause { engine.pause_batch(now, &batch) } else { engine.resume_batch(now, &batch) };
                if done.is_ok() {
                    paused = Some((batch, pause));
                }
            }
            Op::CancelBatch(b) => {
                let _ = engine.cancel_batch(now, &format!("b{}", b % 3));
            }
            Op::Register(a, cap) => {
                let (agent, cap) = (format!("a{}", a % 3), cap.map(|c| u32::from(c % 4)));
                if engine.register_agent(now, &agent, cap).is_ok() {
                    capped = Some((agent, cap));
                }
            }
            Op::Forward(s) => {
                now += TimeDelta::try_seconds(i64::from(*s % (3 * 86_400))).unwrap_or_default();
                let _ = engine.handle_timeout(now);
            }
            Op::Back(s) => {
                now -= TimeDelta::try_seconds(i64::from(*s)).unwrap_or_default();
                let _ = engine.handle_timeout(now);
            }
            Op::Suppress(n, minutes) => {
                let number = NUMBERS[usize::from(*n) % NUMBERS.len()];
                let until = minutes.map(|m| now + TimeDelta::try_minutes(i64::from(m % 4000)).unwrap_or_default());
                if engine.suppress(now, number, until).is_ok() {
                    suppressed = Some((number, until));
                }
            }
            Op::Unsuppress(n) => {
                let number = NUMBERS[usize::from(*n) % NUMBERS.len()];
                if engine.unsuppress(now, number).is_ok() {
                    lifted = Some(number);
                }
            }
            Op::ReportNamed(i, k, o) => {
                let attempt = redial::AttemptId { call: pick(*i), attempt: u32::from(k % 4) + 1 };
                let _ = engine.report(now, attempt, Outcome::ALL[usize::from(*o) % Outcome::ALL.len()]);
            }
            Op::Restart => {
                let bytes = engine.snapshot().to_bytes();
                let restored = Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}")))
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(restored.snapshot().to_bytes(), bytes, "restore changed the state");
                engine = restored;
            }
        }
        let effective = engine.now().unwrap_or(now);
        while let Some(e) = engine.poll_event() {
            check.event(&e, effective).unwrap_or_else(|m| panic!("{m}"));
        }
        if let Some((batch, pause)) = paused {
            check.set_paused(&batch, pause);
        }
        if let Some((agent, cap)) = capped {
            check.set_cap(&agent, cap);
        }
        if let Some((number, until)) = suppressed {
            check.set_suppressed(number, effective, until);
        }
        if let Some(number) = lifted {
            check.lift(number);
        }
        engine.check_invariants().unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(engine.live_calls(), check.live(), "memory holds exactly the live calls");
        if let Some(t) = engine.poll_timeout() {
            // Nothing time-driven is left at or before the clock.
            assert!(t > effective, "poll_timeout {t} is not after now {effective}");
        }
    }
});
