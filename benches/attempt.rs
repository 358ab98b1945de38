//! The attempt cycle at N pending calls, side by side in one criterion
//! group with the cost floor and two peer designs.
//!
//! One iteration hands out one call, reports it (70% unanswered, retried
//! 30 minutes later, up to 3 retries), submits a replacement when a call
//! ends, and drains the events; the simulated clock jumps to the next due
//! instant when nothing is ready (redial's host loop asks `is_idle_at`
//! before it dials, and dials at the instant it wakes at, which applies
//! the timers first, and drains the events in their compact form,
//! `poll_compact_event`, as the peers drain theirs). Workloads:
//! * `campaign`: due times spread over a day in Asia/Kolkata and
//!   America/New_York, 09:00-18:00 windows with carry-over (a call without
//!   it, submitted after 18:00, would be refused), 5 agents with caps,
//!   3 batches;
//! * `adversarial`: uniformly random due instants over 24 hours, no windows.
//!
//! Two more redial lines measure features against the plain one in the
//! same run: `redial_policy` (a France-like calling policy on every call,
//! with the `number-zones` feature) and `redial_journal` (every input
//! journaled through `Scheduler::journaled`: its record, the one
//! `apply_journaled` writes for the same `Command`, encoded into a buffer
//! that is emptied, as a host writes it out, past
//! `REDIAL_BENCH_JOURNAL_FLUSH` bytes, 64 KiB by default). The
//! `journal_paired` design measures the journal's cost in pairs instead:
//! a plain engine and a journaling one with the same calls run alternate
//! chunks of 64 attempts; `journal_paired_plain` is the plain engine's
//! time per attempt, `journal_paired_extra` what journaling adds.
//!
//! Peers implement the same cycle with the same outputs (a dispatch with
//! the same fields, an attempt timeout set and made stale by the report,
//! events stamped with instants and drained): `naive` (std `BinaryHeap`s
//! with tuple keys, a `HashMap` of records, chrono-tz conversions for every
//! window check), `btree` (`BTreeMap`s as the queues) and, with the
//! `delayqueue-peer` feature, `delayqueue` (tokio-util's `DelayQueue` as the
//! timer queue on a paused tokio clock, which jumps to the next deadline
//! while the runtime waits; that park is part of its cost). Before timing,
//! each peer must make the same run as the naive one. They skip what
//! redial does beyond that: request validation, window-end timers for
//! ready calls, agent caps and lanes, idempotency bookkeeping. `floor` is the unavoidable
//! work written bare: a timer pop and push on a monotone bucket queue, a
//! push and pop on a small 8-byte-key heap, a cached zone-offset lookup and
//! a read-modify-write of one 64-byte record out of N. `floor_outputs` is
//! the same work plus the outputs, written bare: a dispatch with the same
//! fields, the events as fixed-size records with an integer instant, and
//! the attempt timeout as a timer the report makes stale.
//!
//! Sizes: `REDIAL_BENCH_SIZES=1000,100000,1000000` (default); CI smoke runs
//! use `REDIAL_BENCH_SMOKE=1` (1,000 only). `REDIAL_BENCH_DESIGNS=redial,floor`
//! builds and runs only the designs named.

#![allow(clippy::disallowed_methods)] // the peers use chrono-tz directly, on dates well in range

mod common;
use common::{Rng, T0, at};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use redial::{CallRequest, Config, Journaled, Outcome, PhoneNumber, Scheduler, TimeOfDay};

const DAY: i64 = 86_400;

fn sizes() -> Vec<usize> {
    if std::env::var_os("REDIAL_BENCH_SMOKE").is_some() {
        return vec![1000];
    }
    std::env::var("REDIAL_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 100_000, 1_000_000])
}

/// xorshift64*: the bench's own deterministic randomness.

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Campaign,
    Adversarial,
}

struct Spec {
    zone: Tz,
    window: bool,
    agent: usize,
    batch: usize,
    due: i64,
}

fn spec(rng: &mut Rng, w: Workload, now: i64) -> Spec {
    let kolkata = rng.below(2) == 0;
    Spec {
        zone: if kolkata {
            chrono_tz::Asia::Kolkata
        } else {
            chrono_tz::America::New_York
        },
        window: w == Workload::Campaign,
        agent: rng.below(5) as usize,
        batch: rng.below(3) as usize,
        due: now + rng.below(DAY as u64) as i64,
    }
}

// ---- redial ----------------------------------------------------------

struct Redial {
    e: Scheduler,
    /// Dispatches, through a vector kept across rounds as a run loop would.
    out: Vec<redial::Dispatch>,
    /// With journaling (the `redial_journal` line): every input's record
    /// goes into this buffer.
    journal: Option<Vec<u8>>,
    /// The host's requests, one per (zone, agent, batch), kept and
    /// submitted by reference with the call's own `schedule_at`, as a
    /// campaign runner keeps its templates: building one per call (three
    /// strings allocated and freed) was 4-5% of this line's
    /// instructions at 10^3, host work the peers do not do.
    requests: Vec<CallRequest>,
    /// The host's clock, kept as the engine hands it out (`poll_timeout`).
    now: DateTime<Utc>,
    rng: Rng,
    w: Workload,
}

impl Redial {
    /// The index of the host's request for `s`'s zone, agent and batch,
    /// now scheduled at its due instant.
    fn request(&mut self, s: &Spec) -> usize {
        let kolkata = s.zone == chrono_tz::Asia::Kolkata;
        let i = (usize::from(kolkata) * 5 + s.agent) * 3 + s.batch;
        self.requests[i].schedule_at = Some(redial::ScheduleAt::Instant(at(s.due)));
        i
    }

    /// A request for `zone`, `agent` and `batch`, without its schedule.
    fn template(policy: bool, zone: Tz, agent: usize, batch: usize, window: bool) -> CallRequest {
        // Under the policy, numbers match their zone (the policy reads the
        // callee's zones from the number).
        let number = if policy && zone != chrono_tz::Asia::Kolkata {
            "+12125550100"
        } else {
            "+919876543210"
        };
        let mut r = CallRequest::new(number, ["a0", "a1", "a2", "a3", "a4"][agent]);
        r.batch_id = Some(["b0", "b1", "b2"][batch].to_owned());
        // Under the policy the zone comes from the number.
        r.timezone = (!policy).then_some(zone);
        r.number_of_retries = 3;
        r.gap_between_retries = redial::Gaps::every(30);
        if window {
            r.min_trigger_time = TimeOfDay::new(9, 0);
            r.max_trigger_time = TimeOfDay::new(18, 0);
            r.carry_over = true;
        }
        r
    }

    fn new(n: usize, w: Workload) -> Redial {
        Redial::with_config(n, w, Config::default(), false)
    }

    /// The same engine with a France-like policy (10:00-13:00 and
    /// 14:00-20:00 on weekdays, holidays) on every call, its zone read from
    /// the number. (No frequency cap: the bench's calls share two numbers.)
    #[cfg(feature = "number-zones")]
    fn with_policy(n: usize, w: Workload) -> Redial {
        let config = Config::from_json(
            r#"{"policies": {"fr": {
                "hours": {"daily": [["10:00", "13:00"], ["14:00", "20:00"]], "sat": [], "sun": []},
                "holidays": {"fixed": ["01-01", "05-01", "05-08", "07-14", "08-15", "11-01", "11-11", "12-25"], "easter": [1, 39, 50]}}},
                "policy_by_prefix": {"+91": "fr", "+1212": "fr"}}"#,
        )
        .unwrap();
        Redial::with_config(n, w, config, true)
    }

    fn with_config(n: usize, w: Workload, config: Config, policy: bool) -> Redial {
        let mut e = Scheduler::new(config).unwrap();
        for a in ["a0", "a1", "a2", "a3", "a4"] {
            e.register_agent(at(T0), a, Some(1_000)).unwrap();
        }
        let mut requests = Vec::new();
        let window = w == Workload::Campaign;
        for zone in [chrono_tz::America::New_York, chrono_tz::Asia::Kolkata] {
            for agent in 0..5 {
                for batch in 0..3 {
                    requests.push(Redial::template(policy, zone, agent, batch, window));
                }
            }
        }
        let mut me = Redial {
            e,
            out: Vec::with_capacity(1),
            journal: None,
            requests,
            now: at(T0),
            rng: Rng(7),
            w,
        };
        for _ in 0..n {
            let s = spec(&mut me.rng, w, T0);
            let i = me.request(&s);
            me.e.submit_request(at(T0), &me.requests[i]).unwrap();
        }
        while me.e.poll_compact_event().is_some() {}
        me
    }

    /// The same engine, journaling every input (the journal is built
    /// after the initial submits, as a host would snapshot them).
    fn with_journal(n: usize, w: Workload) -> Redial {
        let mut me = Redial::new(n, w);
        me.journal = Some(Vec::with_capacity(2 * journal_flush()));
        me
    }

    /// The engine's input methods, journaled (see [`journaled`]).
    fn journaled(&mut self) -> Option<Journaled<'_>> {
        journaled(&mut self.e, &mut self.journal)
    }

    /// The run loop of a host with one line: dial when the engine says
    /// there may be something to hand out (`is_idle_at`, a read: a
    /// journaling host writes no record for it), else sleep to
    /// `poll_timeout` and dial then (the dial applies the timers first,
    /// so no separate `handle_timeout` is needed while the line is free).
    fn cycle(&mut self) {
        loop {
            let now = self.now;
            if !self.e.is_idle_at(now) {
                self.out.clear();
                let mut out = std::mem::take(&mut self.out);
                match self.journaled() {
                    Some(mut j) => j.dial_into(now, 1, &mut out).unwrap().unwrap(),
                    None => self.e.dial_into(now, 1, &mut out).unwrap(),
                };
                self.out = out;
                // The timers' events (and the dial's own).
                while let Some(ev) = self.e.poll_compact_event() {
                    black_box(ev);
                }
                if let Some(d) = self.out.pop() {
                    self.report(now, d);
                    return;
                }
            }
            self.now = self.e.poll_timeout().unwrap();
        }
    }

    /// Reports the attempt (30% answered) and submits a replacement when
    /// its call ended.
    fn report(&mut self, now: DateTime<Utc>, d: redial::Dispatch) {
        let answered = self.rng.below(10) < 3;
        let outcome = if answered {
            Outcome::Completed
        } else {
            Outcome::NoAnswer
        };
        match self.journaled() {
            Some(mut j) => j.report(now, &d, outcome).unwrap().unwrap(),
            None => self.e.report(now, &d, outcome).unwrap(),
        }
        let mut ended = false;
        while let Some(ev) = self.e.poll_compact_event() {
            ended |= ev.kind.is_terminal();
        }
        if ended {
            let s = spec(&mut self.rng, self.w, self.now.timestamp());
            let i = self.request(&s);
            let r = &self.requests[i];
            match journaled(&mut self.e, &mut self.journal) {
                Some(mut j) => j.submit_request(now, r).unwrap().unwrap(),
                None => self.e.submit_request(now, r).unwrap(),
            };
            while self.e.poll_compact_event().is_some() {}
        }
    }
}

/// `e`'s input methods, journaled into `journal` (emptied when it passes
/// 64 KiB, as a host writes it out); `None` without a journal.
fn journaled<'a>(e: &'a mut Scheduler, journal: &'a mut Option<Vec<u8>>) -> Option<Journaled<'a>> {
    let buf = journal.as_mut()?;
    if buf.len() > journal_flush() {
        black_box(&buf);
        buf.clear();
    }
    Some(e.journaled(buf))
}

// ---- peers: the same cycle on other data structures ---------------------

struct Rec {
    zone: Tz,
    window: bool,
    attempt: u8,
    priority: i8,
    due: i64,
    /// Bumped when the pending timer changes; older timer entries are stale.
    generation: u32,
    to_number: PhoneNumber,
    agent: Arc<str>,
    batch: Arc<str>,
}

/// What a peer hands out per attempt: the same fields as
/// `redial::Dispatch` (an inline number, shared agent, batch and metadata).
#[allow(dead_code)] // read through black_box only
struct PeerDispatch {
    call: u64,
    attempt: u8,
    to_number: PhoneNumber,
    agent_id: Arc<str>,
    batch_id: Option<Arc<str>>,
    metadata: Arc<str>,
}

/// The events a peer reports, stamped as redial's are.
#[allow(dead_code)] // read through black_box only
enum PeerEvent {
    Accepted(u64, DateTime<Utc>),
    Triggered(u64, u8),
    Retry(u64, DateTime<Utc>),
    Ended(u64),
}

/// Next instant >= t inside 09:00-18:00 local, through chrono-tz.
fn next_in_window(zone: Tz, t: i64) -> i64 {
    let local = at(t).with_timezone(&zone);
    let h = local.hour();
    if (9..18).contains(&h) {
        return t;
    }
    let mut date = local.date_naive();
    if h >= 18 {
        date = date.succ_opt().unwrap();
    }
    zone.from_local_datetime(&date.and_hms_opt(9, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .timestamp()
}

trait Queues {
    fn push_timer(&mut self, due: i64, seq: u64, generation: u32);
    fn pop_timer(&mut self, now: i64) -> Option<(u64, u32)>;
    fn next_timer(&mut self) -> Option<i64>;
    fn push_ready(&mut self, priority: i8, due: i64, seq: u64);
    fn pop_ready(&mut self) -> Option<u64>;
}

#[derive(Default)]
struct NaiveQ {
    timers: BinaryHeap<Reverse<(i64, u64, u32)>>,
    ready: BinaryHeap<(i8, Reverse<i64>, Reverse<u64>)>,
}

impl Queues for NaiveQ {
    fn push_timer(&mut self, due: i64, seq: u64, generation: u32) {
        self.timers.push(Reverse((due, seq, generation)));
    }
    fn pop_timer(&mut self, now: i64) -> Option<(u64, u32)> {
        if self
            .timers
            .peek()
            .is_some_and(|Reverse((d, _, _))| *d <= now)
        {
            self.timers.pop().map(|Reverse((_, s, g))| (s, g))
        } else {
            None
        }
    }
    fn next_timer(&mut self) -> Option<i64> {
        self.timers.peek().map(|Reverse((d, _, _))| *d)
    }
    fn push_ready(&mut self, priority: i8, due: i64, seq: u64) {
        self.ready.push((priority, Reverse(due), Reverse(seq)));
    }
    fn pop_ready(&mut self) -> Option<u64> {
        self.ready.pop().map(|(_, _, Reverse(s))| s)
    }
}

#[derive(Default)]
struct BTreeQ {
    timers: BTreeMap<(i64, u64, u32), ()>,
    ready: BTreeMap<(Reverse<i8>, i64, u64), ()>,
}

impl Queues for BTreeQ {
    fn push_timer(&mut self, due: i64, seq: u64, generation: u32) {
        self.timers.insert((due, seq, generation), ());
    }
    fn pop_timer(&mut self, now: i64) -> Option<(u64, u32)> {
        let (&(d, s, g), _) = self.timers.first_key_value()?;
        (d <= now).then(|| {
            self.timers.pop_first();
            (s, g)
        })
    }
    fn next_timer(&mut self) -> Option<i64> {
        self.timers.first_key_value().map(|(k, _)| k.0)
    }
    fn push_ready(&mut self, priority: i8, due: i64, seq: u64) {
        self.ready.insert((Reverse(priority), due, seq), ());
    }
    fn pop_ready(&mut self) -> Option<u64> {
        self.ready.pop_first().map(|((_, _, s), _)| s)
    }
}

/// tokio-util's `DelayQueue` as the timer queue, on a paused tokio clock
/// (second `s` of the bench is `base + (s - T0)` seconds), with the naive
/// ready heap. The queue hands back equal deadlines in no set order; the
/// ready heap restores the (priority, due, acceptance) order.
#[cfg(feature = "delayqueue-peer")]
mod delay {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::sync::OnceLock;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use tokio::runtime::{Builder, Runtime};
    use tokio::time::Instant;
    use tokio_util::time::DelayQueue;

    use super::{Queues, T0};

    /// One current-thread runtime with a paused clock. Every `DelayQ` is
    /// made and used while it is entered (see `attempt_cycle`), because
    /// `DelayQueue` reads the clock and registers its sleep through it.
    pub fn runtime() -> &'static Runtime {
        static RT: OnceLock<Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap()
        })
    }

    pub struct DelayQ {
        q: DelayQueue<(u64, u32)>,
        base: Instant,
        /// An entry `next_timer` took out to learn the next deadline.
        held: Option<(i64, u64, u32)>,
        ready: BinaryHeap<(i8, Reverse<i64>, Reverse<u64>)>,
    }

    impl Default for DelayQ {
        fn default() -> DelayQ {
            DelayQ {
                q: DelayQueue::new(),
                base: Instant::now(),
                held: None,
                ready: BinaryHeap::new(),
            }
        }
    }

    impl DelayQ {
        fn instant(&self, t: i64) -> Instant {
            self.base + Duration::from_secs((t - T0) as u64)
        }
        fn seconds(&self, i: Instant) -> i64 {
            T0 + (i - self.base).as_secs() as i64
        }
    }

    impl Queues for DelayQ {
        fn push_timer(&mut self, due: i64, seq: u64, generation: u32) {
            let at = self.instant(due);
            self.q.insert_at((seq, generation), at);
        }
        fn pop_timer(&mut self, now: i64) -> Option<(u64, u32)> {
            if let Some((due, seq, generation)) = self.held {
                if due > now {
                    return None;
                }
                self.held = None;
                return Some((seq, generation));
            }
            // Move the paused clock up to `now`; the driver fires the
            // queue's sleep on the way.
            let target = self.instant(now);
            let clock = Instant::now();
            if clock < target {
                runtime().block_on(tokio::time::advance(target - clock));
            }
            let mut cx = Context::from_waker(Waker::noop());
            match self.q.poll_expired(&mut cx) {
                Poll::Ready(Some(e)) => Some(e.into_inner()),
                Poll::Ready(None) | Poll::Pending => None,
            }
        }
        fn next_timer(&mut self) -> Option<i64> {
            if let Some((due, _, _)) = self.held {
                return Some(due);
            }
            if self.q.is_empty() {
                return None;
            }
            // The paused clock jumps to the next deadline while the runtime
            // waits: how a simulation drives a DelayQueue.
            let e = runtime().block_on(std::future::poll_fn(|cx| self.q.poll_expired(cx)))?;
            let due = self.seconds(e.deadline());
            let (seq, generation) = e.into_inner();
            self.held = Some((due, seq, generation));
            Some(due)
        }
        fn push_ready(&mut self, priority: i8, due: i64, seq: u64) {
            self.ready.push((priority, Reverse(due), Reverse(seq)));
        }
        fn pop_ready(&mut self) -> Option<u64> {
            self.ready.pop().map(|(_, _, Reverse(s))| s)
        }
    }
}

struct Peer<Q: Queues> {
    q: Q,
    calls: HashMap<u64, Rec>,
    events: VecDeque<PeerEvent>,
    next: u64,
    now: i64,
    rng: Rng,
    w: Workload,
    /// Interned agent and batch names and the empty metadata, shared with
    /// dispatches as redial shares its own.
    agents: Vec<Arc<str>>,
    batches: Vec<Arc<str>>,
    no_metadata: Arc<str>,
}

const TIMEOUT: i64 = 3_600;

impl<Q: Queues + Default> Peer<Q> {
    fn new(n: usize, w: Workload) -> Self {
        let mut p = Peer {
            q: Q::default(),
            calls: HashMap::new(),
            events: VecDeque::new(),
            next: 0,
            now: T0,
            rng: Rng(7),
            w,
            agents: ["a0", "a1", "a2", "a3", "a4"].map(Arc::from).to_vec(),
            batches: ["b0", "b1", "b2"].map(Arc::from).to_vec(),
            no_metadata: Arc::from("{}"),
        };
        for _ in 0..n {
            p.add();
        }
        p.events.clear();
        p
    }

    fn add(&mut self) {
        let s = spec(&mut self.rng, self.w, self.now);
        let seq = self.next;
        self.next += 1;
        let due = if s.window {
            next_in_window(s.zone, s.due)
        } else {
            s.due
        };
        self.calls.insert(
            seq,
            Rec {
                zone: s.zone,
                window: s.window,
                attempt: 1,
                priority: 0,
                due,
                generation: 0,
                to_number: "+919876543210".parse().unwrap(),
                agent: Arc::clone(&self.agents[s.agent]),
                batch: Arc::clone(&self.batches[s.batch]),
            },
        );
        self.q.push_timer(due, seq, 0);
        self.events.push_back(PeerEvent::Accepted(seq, at(due)));
    }

    /// One call handed out and reported, with the same outputs as redial's
    /// cycle: a dispatch with the same fields, an attempt timeout set and
    /// dropped, events stamped and drained.
    fn cycle(&mut self) {
        loop {
            while let Some((seq, generation)) = self.q.pop_timer(self.now) {
                let Some(rec) = self.calls.get_mut(&seq) else {
                    continue;
                };
                if rec.generation != generation {
                    continue; // a timeout that the report made stale
                }
                let open = if rec.window {
                    next_in_window(rec.zone, self.now)
                } else {
                    self.now
                };
                if open != self.now {
                    self.q.push_timer(open, seq, generation); // carried to the next window
                } else {
                    self.q.push_ready(rec.priority, rec.due, seq);
                }
            }
            if let Some(seq) = self.q.pop_ready() {
                let answered = self.rng.below(10) < 3;
                let rec = self.calls.get_mut(&seq).unwrap();
                rec.generation += 1;
                self.q.push_timer(self.now + TIMEOUT, seq, rec.generation);
                black_box(PeerDispatch {
                    call: seq,
                    attempt: rec.attempt,
                    to_number: rec.to_number,
                    agent_id: Arc::clone(&rec.agent),
                    batch_id: Some(Arc::clone(&rec.batch)),
                    metadata: Arc::clone(&self.no_metadata),
                });
                self.events
                    .push_back(PeerEvent::Triggered(seq, rec.attempt));
                rec.generation += 1; // the report drops the timeout
                if answered || rec.attempt == 4 {
                    self.calls.remove(&seq);
                    self.events.push_back(PeerEvent::Ended(seq));
                    self.add();
                } else {
                    rec.attempt += 1;
                    rec.due = if rec.window {
                        next_in_window(rec.zone, self.now + 1800)
                    } else {
                        self.now + 1800
                    };
                    let (due, generation) = (rec.due, rec.generation);
                    self.q.push_timer(due, seq, generation);
                    self.events.push_back(PeerEvent::Retry(seq, at(due)));
                }
                while let Some(e) = self.events.pop_front() {
                    black_box(e);
                }
                return;
            }
            self.now = self.q.next_timer().unwrap().max(self.now);
        }
    }
}

/// Where a peer's run has got to: equal fingerprints after the same number
/// of cycles mean the peers handed out the same calls in the same order
/// (each outcome is drawn from the shared random sequence, so a different
/// order soon changes which calls end and when the clock moves).
fn fingerprint<Q: Queues>(p: &Peer<Q>) -> (i64, u64, u64, usize) {
    (p.now, p.next, p.rng.0, p.calls.len())
}

/// `cycles` cycles of a fresh peer at 1,000 calls, then its fingerprint.
fn run_peer<Q: Queues + Default>(w: Workload, cycles: usize) -> (i64, u64, u64, usize) {
    let mut p = Peer::<Q>::new(1_000, w);
    for _ in 0..cycles {
        p.cycle();
    }
    fingerprint(&p)
}

/// The peers must run the same cycle before their times mean anything.
fn check_peers_agree(w: Workload) {
    let want = run_peer::<NaiveQ>(w, 5_000);
    assert_eq!(run_peer::<BTreeQ>(w, 5_000), want, "btreemap peer diverged");
    #[cfg(feature = "delayqueue-peer")]
    {
        let _entered = delay::runtime().enter();
        assert_eq!(
            run_peer::<delay::DelayQ>(w, 5_000),
            want,
            "delayqueue peer diverged"
        );
    }
}

// ---- the floor -----------------------------------------------------------

/// The work no design can skip, written bare. With `OUTPUTS` (the
/// `floor_outputs` line) it also produces the outputs every design must:
/// a dispatch with the same fields as redial's, the events as fixed-size
/// records with an integer instant, and the attempt timeout as a timer
/// that the report makes stale. Without (the `floor` line) it is the
/// physical reference.
struct Floor<const OUTPUTS: bool> {
    buckets: VecDeque<Vec<u32>>, // one bucket per minute: a monotone timer
    base: i64,
    ready: BinaryHeap<Reverse<u64>>,
    records: Vec<[u64; 8]>, // 64 bytes a call
    offsets: [i32; 2],
    rng: Rng,
    out: FloorOutputs,
}

/// What the outputs need.
struct FloorOutputs {
    /// Attempt timeouts, (slot, generation), in a bucket ring that turns
    /// with the due timers'; an entry whose generation is no longer the
    /// record's is stale and dropped when its minute comes.
    timeouts: VecDeque<Vec<(u32, u32)>>,
    agents: [Arc<str>; 5],
    batches: [Arc<str>; 3],
    metadata: Arc<str>,
    to_number: PhoneNumber,
    events: VecDeque<FloorEvent>,
}

/// An event as a fixed-size record: kind, attempt, call, instant.
#[derive(Clone, Copy)]
#[allow(dead_code)] // read through black_box only
struct FloorEvent {
    kind: u8,
    attempt: u8,
    call: u64,
    at: i64,
}

impl<const OUTPUTS: bool> Floor<OUTPUTS> {
    fn new(n: usize) -> Floor<OUTPUTS> {
        let mut f = Floor {
            buckets: VecDeque::new(),
            base: T0,
            ready: BinaryHeap::new(),
            records: vec![[0; 8]; n],
            offsets: [19_800, -18_000],
            rng: Rng(7),
            out: FloorOutputs {
                timeouts: VecDeque::new(),
                agents: ["a0", "a1", "a2", "a3", "a4"].map(Arc::from),
                batches: ["b0", "b1", "b2"].map(Arc::from),
                metadata: Arc::from("{}"),
                to_number: "+919876543210".parse().unwrap(),
                events: VecDeque::with_capacity(8),
            },
        };
        f.buckets.resize(1441 * 2, Vec::new());
        f.out.timeouts.resize(1441 * 2, Vec::new());
        for i in 0..n {
            let m = f.rng.below(1440) as usize;
            f.buckets[m].push(i as u32);
        }
        for _ in 0..64 {
            f.ready.push(Reverse(f.rng.next()));
        }
        f
    }

    fn cycle(&mut self) {
        // Timer pop (refilling from the next non-empty minute) and push 30 minutes on.
        while self.buckets.front().is_some_and(Vec::is_empty) {
            self.buckets.pop_front();
            self.buckets.push_back(Vec::new());
            self.base += 60;
            if OUTPUTS {
                // The minute's timeouts come due: all of them stale here.
                let mut due = self.out.timeouts.pop_front().unwrap_or_default();
                for (slot, generation) in due.drain(..) {
                    if self.records[slot as usize][2] == u64::from(generation) {
                        black_box(slot); // an attempt that timed out
                    }
                }
                self.out.timeouts.push_back(due);
            }
        }
        let slot = self.buckets.front_mut().and_then(Vec::pop).unwrap_or(0);
        // Ready heap: push and pop an 8-byte key.
        self.ready
            .push(Reverse((self.base as u64) << 24 | u64::from(slot)));
        let Reverse(key) = self.ready.pop().unwrap();
        // Zone offset: a cached span lookup.
        let offset = self.offsets[(key & 1) as usize];
        // The call's record: read, modify, write.
        let r = &mut self.records[slot as usize];
        r[0] = r[0].wrapping_add(1);
        r[1] = (self.base + i64::from(offset)) as u64;
        if OUTPUTS {
            let out = &mut self.out;
            let attempt = (r[0] & 3) as u8 + 1;
            // The attempt timeout, an hour on.
            r[2] = r[2].wrapping_add(1);
            out.timeouts[(TIMEOUT / 60) as usize].push((slot, r[2] as u32));
            black_box(PeerDispatch {
                call: u64::from(slot),
                attempt,
                to_number: out.to_number,
                agent_id: Arc::clone(&out.agents[slot as usize % 5]),
                batch_id: Some(Arc::clone(&out.batches[slot as usize % 3])),
                metadata: Arc::clone(&out.metadata),
            });
            let call = u64::from(slot);
            let at = self.base;
            out.events.push_back(FloorEvent {
                kind: 1, // triggered
                attempt,
                call,
                at,
            });
            // The report: the timeout goes stale, the retry is announced.
            r[2] = r[2].wrapping_add(1);
            out.events.push_back(FloorEvent {
                kind: 2, // retry scheduled
                attempt,
                call,
                at: at + 1800,
            });
            while let Some(e) = out.events.pop_front() {
                black_box(e);
            }
        }
        self.buckets[30].push(slot);
        black_box(r[1]);
    }
}

/// Bytes a journaling host gathers before it writes them out (and empties
/// its buffer): `REDIAL_BENCH_JOURNAL_FLUSH`, 64 KiB by default.
fn journal_flush() -> usize {
    static FLUSH: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FLUSH.get_or_init(|| {
        std::env::var("REDIAL_BENCH_JOURNAL_FLUSH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 16)
    })
}

/// The journal's cost measured in pairs: `plain` and `journal` (the same
/// calls, one journaling) run alternate chunks of 64 attempts, each chunk
/// timed, so that this VM's noise, which moves one line by 15-40% from run
/// to run, falls on both alike. Returns each one's time for `iters`
/// attempts. The `journal_paired_plain` line reports the first,
/// `journal_paired_extra` the difference: the ratio is 1 + extra / plain.
fn paired(plain: &mut Redial, journal: &mut Redial, iters: u64) -> (Duration, Duration) {
    let (mut p, mut j) = (Duration::ZERO, Duration::ZERO);
    let mut left = iters;
    let mut plain_first = true;
    while left > 0 {
        let k = left.min(64);
        let chunk = |engine: &mut Redial| {
            let start = Instant::now();
            for _ in 0..k {
                engine.cycle();
            }
            start.elapsed()
        };
        // Alternate which goes first, so neither always finds the caches
        // as the other left them.
        if plain_first {
            p += chunk(plain);
            j += chunk(journal);
        } else {
            j += chunk(journal);
            p += chunk(plain);
        }
        plain_first = !plain_first;
        left -= k;
    }
    (p, j)
}

fn attempt_cycle(c: &mut Criterion) {
    for w in [Workload::Campaign, Workload::Adversarial] {
        let name = if w == Workload::Campaign {
            "attempt/campaign"
        } else {
            "attempt/adversarial"
        };
        check_peers_agree(w);
        let mut group = c.benchmark_group(name);
        // Designs are built only when they run: at 10^7 calls each takes
        // a while and a gigabyte or more.
        let run = |design: &str| {
            std::env::var("REDIAL_BENCH_DESIGNS")
                .map_or(true, |only| only.split(',').any(|d| d.trim() == design))
        };
        for n in sizes() {
            if run("floor") {
                let mut floor = Floor::<false>::new(n);
                group.bench_function(BenchmarkId::new("floor", n), |b| b.iter(|| floor.cycle()));
            }
            if run("floor_outputs") {
                let mut floor = Floor::<true>::new(n);
                group.bench_function(BenchmarkId::new("floor_outputs", n), |b| {
                    b.iter(|| floor.cycle())
                });
            }
            if run("redial") {
                let mut engine = Redial::new(n, w);
                group.bench_function(BenchmarkId::new("redial", n), |b| b.iter(|| engine.cycle()));
            }
            if run("redial_journal") {
                let mut engine = Redial::with_journal(n, w);
                group.bench_function(BenchmarkId::new("redial_journal", n), |b| {
                    b.iter(|| engine.cycle())
                });
            }
            if run("journal_paired") {
                let mut plain = Redial::new(n, w);
                let mut journal = Redial::with_journal(n, w);
                group.bench_function(BenchmarkId::new("journal_paired_plain", n), |b| {
                    b.iter_custom(|iters| paired(&mut plain, &mut journal, iters).0)
                });
                group.bench_function(BenchmarkId::new("journal_paired_extra", n), |b| {
                    b.iter_custom(|iters| {
                        let (plain, journal) = paired(&mut plain, &mut journal, iters);
                        // Criterion refuses a zero sample: one where noise
                        // made the journaling engine faster counts 1 ns.
                        journal.saturating_sub(plain).max(Duration::from_nanos(1))
                    })
                });
            }
            #[cfg(feature = "number-zones")]
            if run("redial_policy") {
                let mut engine = Redial::with_policy(n, w);
                group.bench_function(BenchmarkId::new("redial_policy", n), |b| {
                    b.iter(|| engine.cycle())
                });
            }
            if run("naive_binaryheap") {
                let mut naive = Peer::<NaiveQ>::new(n, w);
                group.bench_function(BenchmarkId::new("naive_binaryheap", n), |b| {
                    b.iter(|| naive.cycle())
                });
            }
            if run("btreemap") {
                let mut btree = Peer::<BTreeQ>::new(n, w);
                group.bench_function(BenchmarkId::new("btreemap", n), |b| {
                    b.iter(|| btree.cycle())
                });
            }
            #[cfg(feature = "delayqueue-peer")]
            if run("delayqueue") {
                let _entered = delay::runtime().enter();
                let mut dq = Peer::<delay::DelayQ>::new(n, w);
                group.bench_function(BenchmarkId::new("delayqueue", n), |b| b.iter(|| dq.cycle()));
            }
        }
        group.finish();
    }
}

criterion_group!(benches, attempt_cycle);
criterion_main!(benches);
