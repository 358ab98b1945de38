//! The journal and recovery (the `journal` module): random command streams
//! are journaled as they are applied; recovery from any snapshot taken on
//! the way plus the journal after it, and recovery from any cut of the
//! journal (a crash mid-write), must give the engine that never crashed:
//! the same snapshot bytes, the same events, and the same outputs from
//! then on. A golden journal file must keep decoding.
//! `REDIAL_WRITE_GOLDEN=1` rewrites it (only when the record format
//! changes on purpose, together with `JOURNAL_FORMAT`).
#![allow(clippy::disallowed_methods)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Rng, ZONES};
use redial::journal::{self, Reader};
use redial::{
    AttemptId, BatchCall, CallRequest, Command, Config, Event, Gaps, Metadata, Outcome, Output,
    ScheduleAt, Scheduler, Snapshot, TimeOfDay,
};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/journal_v1.bin");

fn t0() -> DateTime<Utc> {
    "2026-03-07T12:00:00Z".parse().unwrap()
}

/// A random stream of commands, built against a live engine so that
/// reports and cancels name real dispatches and calls (some of them stale
/// or ended), with time that mostly runs forward.
struct Stream {
    rng: Rng,
    now: DateTime<Utc>,
    dispatched: Vec<AttemptId>,
}

impl Stream {
    fn new(seed: u64) -> Stream {
        Stream {
            rng: Rng(seed),
            now: t0(),
            dispatched: Vec::new(),
        }
    }

    fn next(&mut self, engine: &Scheduler) -> Command {
        let r = &mut self.rng;
        if r.chance(30) {
            let minutes = [0, 1, 7, 30, 120, 600][r.below(6) as usize];
            self.now += TimeDelta::try_minutes(minutes).unwrap();
        } else if r.chance(3) {
            // Time going backwards: the engine keeps its clock.
            self.now -= TimeDelta::try_minutes(5).unwrap();
        }
        let now = self.now;
        let agents = ["a0", "a1", "a2"];
        let batches = ["b0", "b1"];
        let number = |r: &mut Rng| format!("+1212555{:04}", r.below(40));
        match r.below(20) {
            0..=3 => {
                let mut body = format!(
                    r#"{{"to_number": "{}", "agent_id": "{}", "number_of_retries": {}, "gap_between_retries": {}, "priority": {}"#,
                    number(r),
                    agents[r.below(3) as usize],
                    r.below(4),
                    r.below(90),
                    r.below(5)
                );
                if r.chance(50) {
                    body += &format!(r#", "batch_id": "{}""#, batches[r.below(2) as usize]);
                }
                if r.chance(40) {
                    body += &format!(
                        r#", "timezone": "{}", "min_trigger_time": "09:00", "max_trigger_time": "17:30", "carry_over": {}"#,
                        ZONES[r.below(ZONES.len() as u64) as usize],
                        r.chance(50)
                    );
                }
                if r.chance(20) {
                    body += &format!(r#", "idempotency_key": "k{}""#, r.below(5));
                }
                if r.chance(10) {
                    body += r#", "metadata": {"name": "Zoë", "n": [1, 2]}"#;
                }
                body += "}";
                if r.chance(5) {
                    body = "{not json".to_owned();
                }
                Command::Submit {
                    now,
                    body: body.into_bytes(),
                }
            }
            4 => {
                let mut req = CallRequest::new(&number(r), agents[r.below(3) as usize]);
                req.number_of_retries = u8::try_from(r.below(3)).unwrap();
                req.gap_between_retries = Some(Gaps::List(vec![5, 60].into_boxed_slice()));
                if r.chance(50) {
                    req.min_trigger_time = TimeOfDay::new(8, 0);
                    req.max_trigger_time = TimeOfDay::new(20, 0);
                    req.timezone = Some(chrono_tz::Europe::London);
                }
                if r.chance(30) {
                    // A batch upload of the same template.
                    let calls = (0..r.below(4))
                        .map(|_| BatchCall {
                            to_number: if r.chance(10) {
                                "bad".to_owned()
                            } else {
                                number(r)
                            },
                            metadata: r
                                .chance(30)
                                .then(|| Metadata::parse(r#"{"n": 1}"#).unwrap()),
                            schedule_at: r.chance(30).then(|| {
                                ScheduleAt::Instant(now + TimeDelta::try_minutes(90).unwrap())
                            }),
                        })
                        .collect();
                    return Command::SubmitBatch {
                        now,
                        template: Box::new(req),
                        calls,
                    };
                }
                Command::SubmitRequest {
                    now,
                    request: Box::new(req),
                }
            }
            5..=8 => Command::Dial {
                now,
                max: u32::try_from(r.below(4)).unwrap(),
            },
            9..=11 if !self.dispatched.is_empty() => {
                let i = r.below(self.dispatched.len() as u64) as usize;
                let attempt = self.dispatched[i];
                Command::Report {
                    now,
                    attempt,
                    outcome: Outcome::ALL[r.below(7) as usize],
                }
            }
            12 if !self.dispatched.is_empty() => {
                let i = r.below(self.dispatched.len() as u64) as usize;
                Command::ReportCurrent {
                    now,
                    call: self.dispatched[i].call,
                    outcome: Outcome::NoAnswer,
                }
            }
            13 => {
                let calls = engine.calls();
                match calls.get(r.below(calls.len().max(1) as u64) as usize) {
                    Some(c) => Command::Cancel { now, call: c.call },
                    None => Command::HandleTimeout { now },
                }
            }
            14 => {
                let batch = batches[r.below(2) as usize].to_owned();
                match r.below(3) {
                    0 => Command::PauseBatch { now, batch },
                    1 => Command::ResumeBatch { now, batch },
                    _ => Command::CancelBatch { now, batch },
                }
            }
            15 => Command::RegisterAgent {
                now,
                agent: agents[r.below(3) as usize].to_owned(),
                max_concurrent_calls: r.chance(70).then(|| u32::try_from(r.below(3)).unwrap()),
            },
            16 if r.chance(30) => Command::Suppress {
                now,
                to_number: number(r),
                until: Some(now + TimeDelta::try_hours(3).unwrap()),
            },
            17 if r.chance(30) => Command::Unsuppress {
                now,
                to_number: number(r),
            },
            _ => match engine.poll_timeout() {
                Some(t) if r.chance(70) => {
                    self.now = self.now.max(t);
                    Command::HandleTimeout { now: self.now }
                }
                _ => Command::HandleTimeout { now },
            },
        }
    }

    /// Learns the attempts a dial handed out.
    fn saw(&mut self, output: &Output) {
        if let Output::Dialed(Ok(calls)) = output {
            self.dispatched.extend(calls.iter().map(|d| d.attempt_id()));
            if self.dispatched.len() > 64 {
                self.dispatched.drain(..32);
            }
        }
    }
}

/// Everything the engine that never crashed saw: after each command, its
/// output, its events and its snapshot bytes.
struct Run {
    commands: Vec<Command>,
    outputs: Vec<Output>,
    events: Vec<Vec<Event>>,
    snapshots: Vec<Vec<u8>>,
    journal: Vec<u8>,
    /// Where each record ends in `journal`.
    ends: Vec<usize>,
}

fn run(seed: u64, n: usize) -> Run {
    let mut engine = Scheduler::new(Config::default()).unwrap();
    let mut stream = Stream::new(seed);
    let mut run = Run {
        commands: Vec::new(),
        outputs: Vec::new(),
        events: Vec::new(),
        snapshots: vec![engine.snapshot().to_bytes()],
        journal: Vec::new(),
        ends: vec![0],
    };
    for _ in 0..n {
        let command = stream.next(&engine);
        let output = engine
            .apply_journaled(command.clone(), &mut run.journal)
            .unwrap();
        stream.saw(&output);
        run.events
            .push(std::iter::from_fn(|| engine.poll_event()).collect());
        run.snapshots.push(engine.snapshot().to_bytes());
        run.ends.push(run.journal.len());
        run.commands.push(command);
        run.outputs.push(output);
    }
    run
}

/// Restores the snapshot taken after `from` commands (a fresh engine for
/// 0) and replays `journal` into it; returns the engine and its events.
fn recover(run: &Run, from: usize, journal: &[u8]) -> (Scheduler, Vec<Event>, journal::Replay) {
    let mut engine = if from == 0 {
        Scheduler::new(Config::default()).unwrap()
    } else {
        Scheduler::restore(Snapshot::from_bytes(&run.snapshots[from]).unwrap()).unwrap()
    };
    assert_eq!(engine.position(), from as u64);
    let mut events = Vec::new();
    let replay = engine.replay_journal(journal, |e| events.push(e)).unwrap();
    (engine, events, replay)
}

#[test]
fn recovery_from_any_snapshot_is_the_engine_that_never_crashed() {
    for seed in 1..=60 {
        let n = 250;
        let run = run(seed, n);
        let mut rng = Rng(seed ^ 0xABCD);
        for from in [
            0,
            n,
            rng.below(n as u64) as usize,
            rng.below(n as u64) as usize,
        ] {
            let (mut engine, events, replay) = recover(&run, from, &run.journal);
            assert_eq!(
                (
                    replay.applied,
                    replay.skipped,
                    replay.valid_len,
                    replay.torn
                ),
                ((n - from) as u64, from as u64, run.journal.len(), false),
                "seed {seed} from {from}"
            );
            assert_eq!(
                engine.snapshot().to_bytes(),
                run.snapshots[n],
                "seed {seed} from {from}"
            );
            let want: Vec<Event> = run.events[from..].iter().flatten().cloned().collect();
            assert_eq!(events, want, "seed {seed} from {from}");
            // The recovered engine goes on exactly as the original would:
            // the same outputs for the same later commands.
            let mut original =
                Scheduler::restore(Snapshot::from_bytes(&run.snapshots[n]).unwrap()).unwrap();
            let mut stream = Stream::new(seed ^ 0x5EED);
            stream.now = run.commands[n - 1].now();
            for _ in 0..60 {
                let command = stream.next(&original);
                let (a, b) = (original.apply(&command), engine.apply(&command));
                assert_eq!(a, b, "seed {seed} from {from}: {command:?}");
                stream.saw(&a);
                let ea: Vec<Event> = std::iter::from_fn(|| original.poll_event()).collect();
                let eb: Vec<Event> = std::iter::from_fn(|| engine.poll_event()).collect();
                assert_eq!(ea, eb, "seed {seed} from {from}");
            }
            assert_eq!(engine.snapshot().to_bytes(), original.snapshot().to_bytes());
        }
    }
}

/// `is_idle_at` promises that a dial or a timeout then changes nothing,
/// so a host may answer it without a record: checked after every command
/// of random streams (time going backwards included), against the
/// snapshot bytes, the events and the output.
/// `Journaled`'s methods are `apply_journaled` without the command: fed
/// the same stream, an engine through them writes the same journal bytes,
/// answers the same, emits the same events and ends in the same state.
#[test]
fn journaled_methods_are_apply_journaled() {
    for seed in 1..=6 {
        let reference = run(seed, 600);
        let mut engine = Scheduler::new(Config::default()).unwrap();
        let mut log = Vec::new();
        let mut dispatches = Vec::new();
        for (i, command) in reference.commands.iter().enumerate() {
            let mut j = engine.journaled(&mut log);
            let output = match command.clone() {
                Command::Submit { now, body } => Output::Submitted(j.submit(now, &body).unwrap()),
                Command::SubmitRequest { now, request } => {
                    Output::Submitted(j.submit_request(now, *request).unwrap())
                }
                Command::SubmitBatch {
                    now,
                    template,
                    calls,
                } => {
                    let mut answers = Vec::new();
                    j.submit_batch(now, &template, &calls, &mut answers)
                        .unwrap();
                    Output::SubmittedBatch(answers)
                }
                Command::Dial { now, max } => {
                    dispatches.clear();
                    let dialed = j.dial_into(now, max, &mut dispatches).unwrap();
                    Output::Dialed(dialed.map(|n| {
                        assert_eq!(n, dispatches.len());
                        dispatches.clone()
                    }))
                }
                Command::Report {
                    now,
                    attempt,
                    outcome,
                } => Output::Done(j.report(now, attempt, outcome).unwrap()),
                Command::HandleTimeout { now } => Output::Done(j.handle_timeout(now).unwrap()),
                other => j.apply(other).unwrap(),
            };
            assert_eq!(output, reference.outputs[i], "seed {seed}, command {i}");
            let events: Vec<Event> = std::iter::from_fn(|| engine.poll_event()).collect();
            assert_eq!(events, reference.events[i], "seed {seed}, command {i}");
            assert_eq!(log.len(), reference.ends[i + 1], "seed {seed}, command {i}");
        }
        assert_eq!(log, reference.journal, "seed {seed}");
        assert_eq!(engine.position(), reference.commands.len() as u64);
        assert_eq!(
            &engine.snapshot().to_bytes(),
            reference.snapshots.last().unwrap()
        );
    }
}

#[test]
fn an_idle_engine_is_unchanged_by_a_dial_or_a_timeout() {
    let (mut idle, mut busy) = (0, 0);
    for seed in 200..=260 {
        let mut engine = Scheduler::new(Config::default()).unwrap();
        let mut stream = Stream::new(seed);
        for i in 0..300 {
            let command = stream.next(&engine);
            let output = engine.apply(&command);
            stream.saw(&output);
            while engine.poll_event().is_some() {}
            // At the stream's clock, or a little after it.
            let ahead = [0, 0, 1, 30][i % 4];
            let probe = stream.now + TimeDelta::try_minutes(ahead).unwrap();
            if !engine.is_idle_at(probe) {
                busy += 1;
                continue;
            }
            idle += 1;
            let before = engine.snapshot().to_bytes();
            let mut copy = Scheduler::restore(Snapshot::from_bytes(&before).unwrap()).unwrap();
            assert_eq!(engine.dial(probe, 10), Ok(Vec::new()), "seed {seed}");
            assert_eq!(copy.handle_timeout(probe), Ok(()));
            assert_eq!(engine.poll_event(), None);
            assert_eq!(copy.poll_event(), None);
            assert_eq!(engine.snapshot().to_bytes(), before, "seed {seed}");
            assert_eq!(copy.snapshot().to_bytes(), before, "seed {seed}");
        }
    }
    // Both sides of the promise were exercised.
    assert!(idle > 300 && busy > 300, "idle {idle} busy {busy}");
}

#[test]
fn a_crash_mid_write_recovers_the_whole_records_before_it() {
    for seed in 100..=130 {
        let n = 120;
        let run = run(seed, n);
        let mut rng = Rng(seed);
        for _ in 0..20 {
            let cut = rng.below(run.journal.len() as u64 + 1) as usize;
            let whole = run.ends.iter().rposition(|e| *e <= cut).unwrap();
            // Snapshots taken no later than the durable prefix.
            let from = rng.below(whole as u64 + 1) as usize;
            let (engine, _, replay) = recover(&run, from, &run.journal[..cut]);
            assert_eq!(replay.valid_len, run.ends[whole], "seed {seed} cut {cut}");
            assert_eq!(replay.torn, cut != run.ends[whole]);
            assert_eq!(replay.applied, (whole - from) as u64);
            assert_eq!(
                engine.snapshot().to_bytes(),
                run.snapshots[whole],
                "seed {seed} cut {cut}"
            );
        }
    }
}

#[test]
fn replaying_twice_applies_nothing_new() {
    let run = run(7, 200);
    let (mut engine, _, _) = recover(&run, 0, &run.journal);
    let again = engine
        .replay_journal(&run.journal, |_| panic!("no event"))
        .unwrap();
    assert_eq!((again.applied, again.skipped), (0, 200));
    assert_eq!(engine.snapshot().to_bytes(), run.snapshots[200]);
}

#[test]
fn records_are_compact() {
    // An 8-byte header, then the version, the position, the tag and the
    // instant (6 bytes for a 2026 one): a dial is 18 bytes, a report of a
    // stored call 25. Their serde JSON is 50 and 99 bytes.
    let now = t0();
    let mut log = Vec::new();
    let dial = journal::encode(0, &Command::Dial { now, max: 1 }, &mut log).unwrap();
    let attempt: AttemptId = "call-123456-654321.2".parse().unwrap();
    let report = Command::Report {
        now,
        attempt,
        outcome: Outcome::NoAnswer,
    };
    let report_len = journal::encode(1, &report, &mut log).unwrap();
    assert_eq!((dial, report_len), (18, 25));
    let records: Vec<_> = Reader::new(&log).map(Result::unwrap).collect();
    assert_eq!(records[1].command, report);
}

/// The commands of the golden journal: one of each kind.
fn golden_commands() -> Vec<Command> {
    let now = t0();
    let mut req = CallRequest::new("+919876543210", "agent-1");
    req.batch_id = Some("spring".into());
    req.timezone = Some(chrono_tz::Asia::Kolkata);
    req.min_trigger_time = TimeOfDay::new(9, 30);
    req.max_trigger_time = TimeOfDay::new(18, 0);
    req.carry_over = true;
    req.number_of_retries = 2;
    req.gap_between_retries = Some(Gaps::List(vec![30, 240].into_boxed_slice()));
    req.priority = 3;
    req.idempotency_key = Some("order-77".into());
    req.metadata = Some(Metadata::parse(r#"{"name":"Asha"}"#).unwrap());
    let later = now + TimeDelta::try_minutes(31).unwrap();
    vec![
        Command::RegisterAgent {
            now,
            agent: "agent-1".into(),
            max_concurrent_calls: Some(2),
        },
        Command::Submit {
            now,
            body:
                br#"{"to_number": "+12125550100", "agent_id": "agent-1", "number_of_retries": 1}"#
                    .to_vec(),
        },
        Command::SubmitRequest {
            now,
            request: Box::new(req),
        },
        Command::Dial { now, max: 2 },
        Command::Report {
            now,
            attempt: "call-1-0.1".parse().unwrap(),
            outcome: Outcome::Busy,
        },
        Command::ReportCurrent {
            now,
            call: "call-2".parse().unwrap(),
            outcome: Outcome::NoAnswer,
        },
        Command::PauseBatch {
            now,
            batch: "spring".into(),
        },
        Command::ResumeBatch {
            now,
            batch: "spring".into(),
        },
        Command::Suppress {
            now,
            to_number: "+33612345678".into(),
            until: None,
        },
        Command::Unsuppress {
            now,
            to_number: "+33612345678".into(),
        },
        Command::HandleTimeout { now: later },
        Command::Cancel {
            now: later,
            call: "call-1-0".parse().unwrap(),
        },
        Command::CancelBatch {
            now: later,
            batch: "spring".into(),
        },
    ]
}

#[test]
fn the_golden_journal_keeps_decoding() {
    let commands = golden_commands();
    let mut engine = Scheduler::new(Config::default()).unwrap();
    let mut written = Vec::new();
    let mut outputs = Vec::new();
    for c in &commands {
        outputs.push(engine.apply_journaled(c.clone(), &mut written).unwrap());
        while engine.poll_event().is_some() {}
    }
    // The stream did real work: two calls accepted, two handed out.
    assert!(
        matches!(&outputs[3], Output::Dialed(Ok(d)) if d.len() == 2),
        "{outputs:?}"
    );
    assert!(outputs.iter().all(|o| !o.is_refused()), "{outputs:?}");
    if std::env::var_os("REDIAL_WRITE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &written).unwrap();
    }
    let golden = std::fs::read(GOLDEN).unwrap();
    let records: Vec<journal::Record> = Reader::new(&golden).map(Result::unwrap).collect();
    let decoded: Vec<Command> = records.iter().map(|r| r.command.clone()).collect();
    assert_eq!(decoded, commands);
    assert_eq!(
        records.iter().map(|r| r.position).collect::<Vec<_>>(),
        (0..13).collect::<Vec<u64>>()
    );
    // This build writes the same bytes.
    assert_eq!(written, golden);
    let mut replayed = Scheduler::new(Config::default()).unwrap();
    replayed.replay_journal(&golden, |_| {}).unwrap();
    assert_eq!(replayed.snapshot().to_bytes(), engine.snapshot().to_bytes());
}

const GOLDEN_BATCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/journal_v1_batch.bin"
);

/// A batch upload's record (tag 14, added to format 1 after the first
/// golden file): its bytes must not change, and it must decode to the
/// command and replay to the engine that applied it.
#[test]
fn the_golden_batch_record_keeps_decoding() {
    let now = t0();
    let mut template = CallRequest::new("", "agent-1");
    template.batch_id = Some("spring".into());
    template.timezone = Some(chrono_tz::Asia::Kolkata);
    template.min_trigger_time = TimeOfDay::new(9, 30);
    template.max_trigger_time = TimeOfDay::new(18, 0);
    template.gap_between_retries = Some(Gaps::List(vec![30, 240].into_boxed_slice()));
    let command = Command::SubmitBatch {
        now,
        template: Box::new(template),
        calls: vec![
            BatchCall::new("+919876543210")
                .with_metadata(Metadata::parse(r#"{"name":"Asha"}"#).unwrap()),
            BatchCall::new("+919876543211")
                .with_schedule(ScheduleAt::Local("2026-03-08T10:00:00".parse().unwrap())),
            BatchCall::new("not a number"),
        ],
    };
    let mut engine = Scheduler::new(Config::default()).unwrap();
    let mut written = Vec::new();
    let output = engine
        .apply_journaled(command.clone(), &mut written)
        .unwrap();
    while engine.poll_event().is_some() {}
    let Output::SubmittedBatch(answers) = &output else {
        panic!("a batch answers per call: {output:?}");
    };
    assert_eq!(
        answers.iter().map(Result::is_ok).collect::<Vec<_>>(),
        [true, true, false]
    );
    if std::env::var_os("REDIAL_WRITE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_BATCH, &written).unwrap();
    }
    let golden = std::fs::read(GOLDEN_BATCH).unwrap();
    assert_eq!(written, golden);
    let records: Vec<journal::Record> = Reader::new(&golden).map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].command, command);
    let mut replayed = Scheduler::new(Config::default()).unwrap();
    replayed.replay_journal(&golden, |_| {}).unwrap();
    assert_eq!(replayed.snapshot().to_bytes(), engine.snapshot().to_bytes());
}

/// A batch record whose call count is larger than its bytes could hold is
/// corrupt, not an allocation of that size.
#[test]
fn a_batch_record_with_an_absurd_call_count_is_corrupt() {
    let mut engine = Scheduler::new(Config::default()).unwrap();
    let mut log = Vec::new();
    let command = Command::SubmitBatch {
        now: t0(),
        template: Box::new(CallRequest::new("", "a")),
        calls: vec![BatchCall::new("+919876543210")],
    };
    engine.apply_journaled(command, &mut log).unwrap();
    // The count is the byte before the one call's number (a 13-byte
    // string: its length byte, then the text).
    let at = log
        .windows(14)
        .position(|w| w[0] == 13 && &w[1..] == b"+919876543210")
        .unwrap()
        - 1;
    assert_eq!(log[at], 1);
    // Ten varint bytes of count, then the checksum fixed so only the
    // count is wrong.
    let mut forged = log[..at].to_vec();
    forged.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    forged.extend_from_slice(&log[at + 1..]);
    let len = u32::try_from(forged.len() - 8).unwrap();
    forged[..4].copy_from_slice(&len.to_le_bytes());
    let crc = crc32c(&forged[..4], &forged[8..]);
    forged[4..8].copy_from_slice(&crc.to_le_bytes());
    let err = Reader::new(&forged).next().unwrap().unwrap_err();
    assert!(err.to_string().contains("calls in the bytes left"), "{err}");
}

/// CRC-32C of `head` then `tail`, bit by bit from the definition.
fn crc32c(head: &[u8], tail: &[u8]) -> u32 {
    let mut c = !0_u32;
    for &b in head.iter().chain(tail) {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}
