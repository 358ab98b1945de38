//! The engine's thread: the only owner of the scheduler and the journal.
//!
//! HTTP handlers send it [`Job`]s; it takes every job already waiting,
//! stamps each state change with the clock, journals and applies it, then
//! writes and `fsync`s all their records at once (group commit: one
//! `fsync` for as many requests as arrived meanwhile) and only then
//! answers them. Between requests it sleeps until the engine's
//! `poll_timeout` and journals a timeout when one is due.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use redial::{
    AttemptId, BatchInfo, CallId, CallInfo, Command, Dispatch, Event, JournalError, Output,
    Scheduler,
};
use tokio::sync::{Notify, oneshot};

use super::events::EventLog;
use super::metrics::Metrics;
use super::store::Store;

/// What a handler asks of the engine.
#[derive(Debug)]
pub enum Request {
    /// A state change: the server stamps its `now` when it applies it.
    Change(Change),
    /// One live call's view.
    Call(CallId),
    /// Counts for the status page and the metrics.
    Status,
}

/// A journaled command, before its `now`.
#[derive(Debug)]
pub enum Change {
    Submit(Vec<u8>),
    Dial(u32),
    Report(AttemptId, redial::Outcome),
    ReportCurrent(CallId, redial::Outcome),
    Cancel(CallId),
    PauseBatch(String),
    ResumeBatch(String),
    CancelBatch(String),
    Agent(String, Option<u32>),
    Suppress(String, Option<DateTime<Utc>>),
    Unsuppress(String),
}

impl Change {
    fn at(self, now: DateTime<Utc>) -> Command {
        match self {
            Change::Submit(body) => Command::Submit { now, body },
            Change::Dial(max) => Command::Dial { now, max },
            Change::Report(attempt, outcome) => Command::Report {
                now,
                attempt,
                outcome,
            },
            Change::ReportCurrent(call, outcome) => Command::ReportCurrent { now, call, outcome },
            Change::Cancel(call) => Command::Cancel { now, call },
            Change::PauseBatch(batch) => Command::PauseBatch { now, batch },
            Change::ResumeBatch(batch) => Command::ResumeBatch { now, batch },
            Change::CancelBatch(batch) => Command::CancelBatch { now, batch },
            Change::Agent(agent, max_concurrent_calls) => Command::RegisterAgent {
                now,
                agent,
                max_concurrent_calls,
            },
            Change::Suppress(to_number, until) => Command::Suppress {
                now,
                to_number,
                until,
            },
            Change::Unsuppress(to_number) => Command::Unsuppress { now, to_number },
        }
    }
}

/// The engine's answer.
#[derive(Debug)]
pub enum Reply {
    /// The command's output; its record is durable.
    Applied(Output),
    Call(Option<Box<CallInfo>>),
    Status(Box<Status>),
    /// The command cannot be journaled (a record over 4 GiB): it was not
    /// applied.
    Refused(String),
    /// The journal could not be written: nothing is acknowledged and the
    /// server stops.
    Failed(String),
}

/// The live counts the status page and the metrics show.
#[derive(Debug, Clone)]
pub struct Status {
    pub now: Option<DateTime<Utc>>,
    pub position: u64,
    pub batches: Vec<BatchInfo>,
    pub live_calls: usize,
    /// Live calls due and waiting for a line.
    pub ready: usize,
    /// Live calls with an attempt in flight.
    pub in_flight: u64,
    pub counters: redial::Counters,
}

/// A request and where to send its answer.
pub struct Job {
    pub request: Request,
    pub reply: oneshot::Sender<Reply>,
}

/// What the engine thread shares with the handlers.
pub struct Shared {
    pub events: Mutex<EventLog>,
    /// Woken when durable events are appended.
    pub new_events: Notify,
    pub metrics: Mutex<Metrics>,
    /// Notified when the engine thread ends (its journal failed): the
    /// server then stops, for its supervisor to restart it.
    pub stopped: Notify,
}

/// The clock: UTC from the system, never earlier than the last stamp.
struct Clock {
    last: Option<DateTime<Utc>>,
}

impl Clock {
    fn stamp(&mut self) -> DateTime<Utc> {
        let wall = DateTime::<Utc>::from(SystemTime::now());
        let now = match self.last {
            Some(last) if last > wall => last,
            _ => wall,
        };
        self.last = Some(now);
        now
    }
}

/// Most jobs one commit answers.
const MAX_GROUP: usize = 4096;
/// The longest the thread sleeps with nothing due (to notice a clock
/// that jumped).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Runs the engine until every sender is gone or the journal fails.
pub fn run(
    mut engine: Scheduler,
    mut store: Store,
    shared: Arc<Shared>,
    jobs: Receiver<Job>,
    snapshot_every: u64,
) -> Result<(), String> {
    let mut clock = Clock { last: engine.now() };
    let mut last_snapshot = engine.position();
    let mut records = Vec::new();
    let mut answers: Vec<(oneshot::Sender<Reply>, Reply)> = Vec::new();
    let mut fresh: Vec<Event> = Vec::new();
    let mut dialed: Vec<Option<Arc<str>>> = Vec::new();
    loop {
        let sleep = engine.poll_timeout().map_or(MAX_SLEEP, |due| {
            let wait = due.signed_duration_since(DateTime::<Utc>::from(SystemTime::now()));
            wait.to_std().unwrap_or(Duration::ZERO).min(MAX_SLEEP)
        });
        let mut group = Vec::new();
        match jobs.recv_timeout(sleep) {
            Ok(job) => group.push(job),
            Err(RecvTimeoutError::Timeout) => {}
            // Every handler is gone: the server is shutting down. Let a
            // snapshot being written finish.
            Err(RecvTimeoutError::Disconnected) => {
                return store
                    .close()
                    .map_err(|e| format!("writing a snapshot: {e}"));
            }
        }
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let now = clock.stamp();
        // A timer is due (a call becomes ready, a window closes, an
        // attempt times out): journal the timeout that applies it. Ready
        // calls alone wait for a dial.
        if group.is_empty() && engine.poll_timeout().is_some_and(|due| due <= now) {
            apply(
                &mut engine,
                Command::HandleTimeout { now },
                &mut records,
                &mut fresh,
                &mut dialed,
            )
            .map_err(|e| e.to_string())?;
        }
        for job in group {
            let reply = match job.request {
                // Nothing ready and no timer due by `now`: the dial would
                // only move the clock, which the next command does anyway.
                // A polling dialer then costs no record and no fsync.
                Request::Change(Change::Dial(_))
                    if engine.now().is_some_and(|clock| engine.is_idle_at(clock))
                        && engine.poll_timeout().is_none_or(|due| due > now) =>
                {
                    Reply::Applied(Output::Dialed(Ok(Vec::new())))
                }
                Request::Change(change) => match apply(
                    &mut engine,
                    change.at(now),
                    &mut records,
                    &mut fresh,
                    &mut dialed,
                ) {
                    Ok(output) => Reply::Applied(output),
                    // Neither journaled nor applied.
                    Err(e) => Reply::Refused(e.to_string()),
                },
                Request::Call(id) => Reply::Call(engine.call(id).map(Box::new)),
                Request::Status => Reply::Status(Box::new(Status {
                    now: engine.now(),
                    position: engine.position(),
                    batches: engine.batches(),
                    live_calls: engine.live_calls(),
                    ready: engine.ready_calls(),
                    in_flight: engine.agents().iter().map(|a| u64::from(a.in_flight)).sum(),
                    counters: engine.counters().clone(),
                })),
            };
            answers.push((job.reply, reply));
        }
        match store.commit(&records) {
            Ok(fsync) => {
                if let Ok(mut m) = shared.metrics.lock() {
                    m.committed(fsync, &fresh, &dialed, store.journal_bytes);
                }
            }
            Err(e) => {
                let message = format!("the journal cannot be written: {e}");
                for (reply, _) in answers.drain(..) {
                    let _ = reply.send(Reply::Failed(message.clone()));
                }
                return Err(message);
            }
        }
        records.clear();
        dialed.clear();
        if !fresh.is_empty() {
            if let Ok(mut log) = shared.events.lock() {
                for event in fresh.drain(..) {
                    log.push(&event);
                }
            }
            shared.new_events.notify_waiters();
        }
        for (reply, answer) in answers.drain(..) {
            // A client that went away does not need its answer.
            let _ = reply.send(answer);
        }
        if engine.position() >= last_snapshot.saturating_add(snapshot_every) {
            let started = match shared.events.lock() {
                Ok(log) => store.snapshot(&engine, &log),
                Err(_) => Err(std::io::Error::other("the event log's lock is poisoned")),
            };
            // Not started while the last one is still being written: the
            // next commit tries again.
            if started.map_err(|e| format!("writing a snapshot: {e}"))? {
                last_snapshot = engine.position();
            }
        }
    }
}

/// Journals `command` into `records`, applies it and collects its events
/// and the batches of the calls it dialed.
fn apply(
    engine: &mut Scheduler,
    command: Command,
    records: &mut Vec<u8>,
    fresh: &mut Vec<Event>,
    dialed: &mut Vec<Option<Arc<str>>>,
) -> Result<Output, JournalError> {
    let output = engine.apply_journaled(command, records)?;
    while let Some(event) = engine.poll_event() {
        fresh.push(event);
    }
    if let Output::Dialed(Ok(calls)) = &output {
        dialed.extend(calls.iter().map(|d: &Dispatch| d.batch_id.clone()));
    }
    Ok(output)
}

/// The engine thread: it ends with the reason it stopped, if not asked to.
pub type EngineThread = std::thread::JoinHandle<Result<(), String>>;

/// A sender for handlers, and the thread's handle.
pub fn spawn(
    engine: Scheduler,
    store: Store,
    shared: Arc<Shared>,
    snapshot_every: u64,
) -> Result<(Sender<Job>, EngineThread), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("redial-engine".into())
        .spawn(move || {
            let result = run(engine, store, Arc::clone(&shared), rx, snapshot_every);
            // However it ends, the HTTP side stops accepting.
            shared.stopped.notify_one();
            result
        })
        .map_err(|e| format!("starting the engine thread: {e}"))?;
    Ok((tx, handle))
}
