//! Command streams through the journal, the way a durable host runs them:
//! every input journaled (submits, dials, reports and timeouts through
//! `Scheduler::journaled`'s methods, the rest as a `Command` through
//! `apply_journaled`), except a dial or
//! timeout the engine says is idle (`is_idle_at`), which is answered
//! without a record and must change nothing. At the end, an engine
//! recovered from any checkpoint's snapshot plus the journal (and one
//! recovered from the journal alone) is byte-identical to the live one and
//! saw the same events after its checkpoint.
#![no_main]

use arbitrary::Arbitrary;
use chrono::{DateTime, TimeDelta, Utc};
use libfuzzer_sys::fuzz_target;
use redial::{AttemptId, BatchCall, CallId, CallRequest, Command, Config, Event, Outcome, Output, ScheduleAt, Scheduler, Snapshot};

#[derive(Arbitrary, Debug)]
enum Op {
    Submit { number: u8, agent: u8, batch: u8, retries: u8, gap: u16, window: Option<(u16, u16)>, schedule: Option<u16> },
    Raw(Vec<u8>),
    Batch { agent: u8, batch: u8, retries: u8, calls: Vec<(u8, bool, Option<u16>)> },
    Dial(u8),
    Report(u8, u8, u8),
    ReportCurrent(u8, u8),
    Cancel(u8),
    Pause(u8),
    Resume(u8),
    CancelBatch(u8),
    Register(u8, Option<u8>),
    Suppress(u8, Option<u16>),
    Unsuppress(u8),
    Forward(u32),
    Back(u16),
    Checkpoint,
}

const START: i64 = 1_772_755_200; // 2026-03-06T00:00:00Z
const NUMBERS: [&str; 3] = ["+12125550100", "+12125550101", "+919876543210"];

fn hhmm(m: u16) -> String {
    let m = m % 1440;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A snapshot taken between commands, and the events seen so far.
struct Checkpoint {
    snapshot: Vec<u8>,
    events_before: usize,
}

fuzz_target!(|ops: Vec<Op>| {
    let config = Config { attempt_timeout_minutes: 40, ..Config::default() };
    let Ok(mut engine) = Scheduler::new(config.clone()) else { return };
    let mut now: DateTime<Utc> = DateTime::from_timestamp(START, 0).unwrap_or_default();
    let mut journal = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    let mut ids: Vec<CallId> = Vec::new();
    for op in ops.iter().take(150) {
        let pick = |i: u8| ids.get(usize::from(i) % ids.len().max(1)).copied().unwrap_or_else(|| "call-999999".parse().unwrap_or_else(|_| unreachable!()));
        let outcome = |o: u8| Outcome::ALL[usize::from(o) % Outcome::ALL.len()];
        let command = match op {
            Op::Submit { number, agent, batch, retries, gap, window, schedule } => {
                let mut body = serde_json::json!({
                    "to_number": NUMBERS[usize::from(*number) % NUMBERS.len()], "agent_id": format!("a{}", agent % 3),
                    "batch_id": format!("b{}", batch % 3), "number_of_retries": retries % 4, "gap_between_retries": gap % 300,
                    "timezone": "America/New_York",
                });
                if let Some((min, max)) = window {
                    body["min_trigger_time"] = serde_json::json!(hhmm(*min));
                    body["max_trigger_time"] = serde_json::json!(hhmm(*max));
                    body["carry_over"] = serde_json::json!(true);
                }
                if let Some(s) = schedule {
                    let at = now + TimeDelta::try_minutes(i64::from(*s % 3000)).unwrap_or_default();
                    body["schedule_at"] = serde_json::json!(at.to_rfc3339());
                }
                Command::Submit { now, body: body.to_string().into_bytes() }
            }
            Op::Raw(bytes) => Command::Submit { now, body: bytes.clone() },
            Op::Batch { agent, batch, retries, calls } => {
                let mut template = CallRequest::new("", &format!("a{}", agent % 3));
                template.batch_id = Some(format!("b{}", batch % 3));
                template.number_of_retries = retries % 4;
                let calls = calls
                    .iter()
                    .take(8)
                    .map(|(number, metadata, schedule)| BatchCall {
                        to_number: NUMBERS[usize::from(*number) % NUMBERS.len()].to_owned(),
                        metadata: metadata.then(|| redial::Metadata::parse(r#"{ "n": [1, 2] }"#).ok()).flatten(),
                        schedule_at: schedule.map(|s| {
                            ScheduleAt::Instant(now + TimeDelta::try_minutes(i64::from(s % 3000)).unwrap_or_default())
                        }),
                    })
                    .collect();
                Command::SubmitBatch { now, template: Box::new(template), calls }
            }
            Op::Dial(n) => Command::Dial { now, max: u32::from(n % 5) },
            Op::Report(i, k, o) => Command::Report { now, attempt: AttemptId { call: pick(*i), attempt: u32::from(k % 4) + 1 }, outcome: outcome(*o) },
            Op::ReportCurrent(i, o) => Command::ReportCurrent { now, call: pick(*i), outcome: outcome(*o) },
            Op::Cancel(i) => Command::Cancel { now, call: pick(*i) },
            Op::Pause(b) => Command::PauseBatch { now, batch: format!("b{}", b % 3) },
            Op::Resume(b) => Command::ResumeBatch { now, batch: format!("b{}", b % 3) },
            Op::CancelBatch(b) => Command::CancelBatch { now, batch: format!("b{}", b % 3) },
            Op::Register(a, cap) => Command::RegisterAgent { now, agent: format!("a{}", a % 3), max_concurrent_calls: cap.map(|c| u32::from(c % 3)) },
            Op::Suppress(n, minutes) => Command::Suppress {
                now,
                to_number: NUMBERS[usize::from(*n) % NUMBERS.len()].to_owned(),
                until: minutes.map(|m| now + TimeDelta::try_minutes(i64::from(m % 3000)).unwrap_or_default()),
            },
            Op::Unsuppress(n) => Command::Unsuppress { now, to_number: NUMBERS[usize::from(*n) % NUMBERS.len()].to_owned() },
            Op::Forward(s) => {
                now += TimeDelta::try_seconds(i64::from(*s % (2 * 86_400))).unwrap_or_default();
                Command::HandleTimeout { now }
            }
            Op::Back(s) => {
                now -= TimeDelta::try_seconds(i64::from(*s)).unwrap_or_default();
                Command::HandleTimeout { now }
            }
            Op::Checkpoint => {
                checkpoints.push(Checkpoint { snapshot: engine.snapshot().to_bytes(), events_before: events.len() });
                continue;
            }
        };
        let idle = matches!(command, Command::Dial { .. } | Command::HandleTimeout { .. }) && engine.is_idle_at(command.now());
        if idle {
            // A host answers without a record: the engine must not change.
            let before = engine.snapshot().to_bytes();
            let position = engine.position();
            match command {
                Command::Dial { now, max } => assert_eq!(engine.dial(now, max as usize), Ok(Vec::new())),
                _ => assert_eq!(engine.handle_timeout(command.now()), Ok(())),
            }
            assert_eq!(engine.poll_event(), None, "an idle input made an event");
            assert_eq!(engine.position(), position);
            assert_eq!(engine.snapshot().to_bytes(), before, "an idle input changed the engine");
            continue;
        }
        // The common inputs through `Journaled` (the run loop's path), the
        // rest as commands: recovery below replays both as commands.
        let mut j = engine.journaled(&mut journal);
        let output = match command {
            Command::Submit { now, body } => j.submit(now, &body).map(Output::Submitted),
            Command::Dial { now, max } => {
                let mut dispatched = Vec::new();
                j.dial_into(now, max, &mut dispatched).map(|r| Output::Dialed(r.map(|_| dispatched)))
            }
            Command::Report { now, attempt, outcome } => j.report(now, attempt, outcome).map(Output::Done),
            Command::HandleTimeout { now } => j.handle_timeout(now).map(Output::Done),
            Command::SubmitBatch { now, template, calls } => {
                let mut answers = Vec::new();
                j.submit_batch(now, &template, &calls, &mut answers).map(|()| Output::SubmittedBatch(answers))
            }
            other => j.apply(other),
        }
        .unwrap_or_else(|e| panic!("{e}"));
        match &output {
            Output::Submitted(Ok(a)) if !a.duplicate => ids.push(a.call),
            Output::SubmittedBatch(answers) => ids.extend(answers.iter().flatten().filter(|a| !a.duplicate).map(|a| a.call)),
            _ => {}
        }
        events.extend(std::iter::from_fn(|| engine.poll_event()));
    }
    let live = engine.snapshot().to_bytes();
    checkpoints.insert(0, Checkpoint { snapshot: Vec::new(), events_before: 0 });
    for c in &checkpoints {
        let mut recovered = if c.snapshot.is_empty() {
            Scheduler::new(config.clone()).unwrap_or_else(|e| panic!("{e}"))
        } else {
            Scheduler::restore(Snapshot::from_bytes(&c.snapshot).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"))
        };
        let mut seen = Vec::new();
        let replay = recovered.replay_journal(&journal, |e| seen.push(e)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!replay.torn);
        assert_eq!(replay.valid_len, journal.len());
        assert_eq!(recovered.snapshot().to_bytes(), live, "recovery differs from the live engine");
        assert_eq!(seen[..], events[c.events_before..], "recovery saw other events");
    }
});
