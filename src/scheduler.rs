//! The sans-IO scheduler: inputs carry `now`, outputs are polled.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::{Call, CallRecord};
use crate::config::{Config, ConfigError};
use crate::event::{CallId, Dispatch, Event, EventKind, ExpireReason, OpError};
use crate::index::{BuildEngineIdHasher, CallIndex};
use crate::queue::{LaneId, Lanes, MAX_SEQ, ReadyKey, Slot, TimerEntry, Timers};
use crate::request::{CallRequest, Rejection, ScheduleAt, SuccessResponse, parse_body};
use crate::retry::{Gaps, Outcome, has_next_attempt};
use crate::slab::Slab;
use crate::snapshot::Snapshot;
use crate::window::{OccurrenceCache, local_date, wall_to_instant};

/// Earliest `now` the engine accepts: 0001-01-01T00:00:00Z.
pub const MIN_TIME: i64 = -62_135_596_800;
/// Latest `now` the engine accepts: 9999-12-31T23:59:59Z.
pub const MAX_TIME: i64 = 253_402_300_799;

const NO_BATCH: u32 = u32::MAX;

/// The result of a successful submit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The call's ID (the original call's for an idempotent repeat).
    pub call: CallId,
    /// When its first attempt is due.
    pub due: DateTime<Utc>,
    /// Whether this was an idempotent repeat of a live call.
    pub duplicate: bool,
}

impl Accepted {
    /// The API's success body.
    pub fn to_response(&self) -> SuccessResponse {
        SuccessResponse::new(&self.call.to_string())
    }
}

/// Where a live call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Not due yet.
    Waiting,
    /// Due, waiting for a line (or for its batch, or its agent).
    Ready,
    /// Handed out; its attempt's outcome is awaited.
    InFlight,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Agent {
    /// Shared with every dispatch for the agent.
    pub name: Arc<str>,
    pub registered: bool,
    pub cap: Option<u32>,
    #[serde(skip)]
    pub in_flight: u32,
    #[serde(skip)]
    pub lanes: Vec<LaneId>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Batch {
    /// Shared with every dispatch in the batch.
    pub name: Arc<str>,
    pub paused: bool,
    #[serde(skip)]
    pub lanes: Vec<LaneId>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Idempotent {
    pub call: u64,
    /// The call's slot (snapshots store it with the call).
    #[serde(skip)]
    pub slot: Slot,
    pub request: Value,
    pub due: i64,
}

/// The scheduling engine. See the [crate docs](crate) for the run loop.
#[derive(Debug)]
pub struct Scheduler {
    pub(crate) config: Config,
    pub(crate) now: Option<i64>,
    pub(crate) next_seq: u64,
    calls: Slab<Call>,
    free: Vec<Slot>,
    /// Per slot: the generation of its pending timer (see [`valid_timer`]).
    timer_generations: Vec<u32>,
    /// Slots by acceptance number, built the first time a bare `call-n`
    /// ID is used (IDs the engine hands out name their slot).
    index: Option<CallIndex>,
    pub(crate) agents: Vec<Agent>,
    /// Names to numbers. Ordered maps: a handful of short host-chosen
    /// names compare faster than they hash with SipHash, and no crafted
    /// name set can degrade them.
    agent_ids: BTreeMap<Box<str>, u32>,
    pub(crate) batches: Vec<Batch>,
    batch_ids: BTreeMap<Box<str>, u32>,
    lane_ids: HashMap<(u32, u32), LaneId, BuildEngineIdHasher>,
    ready: Lanes,
    timers: Timers,
    occurrences: OccurrenceCache,
    pub(crate) idempotency: HashMap<Box<str>, Idempotent>,
    pub(crate) events: VecDeque<Event>,
    /// `{}`, the metadata of every dispatch whose call has none.
    no_metadata: Arc<str>,
    /// A dispatch's agent if its call named none the engine knows (never,
    /// in a consistent engine).
    no_agent: Arc<str>,
}

/// Room for events kept while the queue is empty (about 64 KiB).
const MAX_IDLE_EVENT_CAPACITY: usize = 1024;

thread_local! {
    /// The calendar date of the day [`instant`] converted last: nearly every
    /// instant the engine stamps falls on the same day as the previous one,
    /// and the day-to-date step is most of chrono's conversion cost.
    static LAST_DAY: std::cell::Cell<Option<(i64, chrono::NaiveDate)>> =
        const { std::cell::Cell::new(None) };
}

/// Unix seconds to an instant; the engine's range keeps this in chrono's.
pub(crate) fn instant(secs: i64) -> DateTime<Utc> {
    let (day, second) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let time = u32::try_from(second)
        .ok()
        .and_then(|s| chrono::NaiveTime::from_num_seconds_from_midnight_opt(s, 0));
    match (LAST_DAY.get(), time) {
        (Some((d, date)), Some(time)) if d == day => date.and_time(time).and_utc(),
        _ => {
            let t = DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
            LAST_DAY.set(Some((day, t.naive_utc().date())));
            t
        }
    }
}

/// An instant to whole Unix seconds, rounding a fraction up so that a due
/// time never moves earlier.
fn ceil_secs(t: DateTime<Utc>) -> i64 {
    let s = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        s.saturating_add(1)
    } else {
        s
    }
}

fn valid_ready(calls: &Slab<Call>, slot: Slot, key: ReadyKey) -> bool {
    calls
        .get(slot)
        .is_some_and(|c| c.seq == key.seq && c.state == CallState::Ready && c.due == key.due)
}

/// Whether a timer entry is its slot's current timer. Every change to a
/// slot's timer bumps its generation, so the small dense array answers
/// without touching the call record: two of an attempt's three timer
/// entries go stale, and at millions of calls each record is a cache miss.
fn valid_timer(generations: &[u32], e: &TimerEntry) -> bool {
    generations.get(e.slot as usize) == Some(&e.generation)
}

/// The acceptance number of the call in `slot` (0 for an empty slot, whose
/// entries are stale anyway).
fn seq_in(calls: &Slab<Call>, slot: Slot) -> u64 {
    calls.get(slot).map_or(0, |c| c.seq)
}

impl Scheduler {
    /// A new, empty engine.
    ///
    /// # Errors
    /// A [`ConfigError`] when a configuration value is out of range.
    ///
    /// # Example
    /// ```
    /// let engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// assert_eq!(engine.live_calls(), 0);
    /// assert_eq!(engine.poll_timeout(), None);
    /// ```
    pub fn new(config: Config) -> Result<Scheduler, ConfigError> {
        config.validate()?;
        Ok(Scheduler {
            config,
            now: None,
            next_seq: 1,
            calls: Slab::default(),
            free: Vec::new(),
            timer_generations: Vec::new(),
            index: None,
            agents: Vec::new(),
            agent_ids: BTreeMap::new(),
            batches: Vec::new(),
            batch_ids: BTreeMap::new(),
            lane_ids: HashMap::default(),
            ready: Lanes::default(),
            timers: Timers::default(),
            occurrences: OccurrenceCache::default(),
            idempotency: HashMap::new(),
            events: VecDeque::new(),
            no_metadata: Arc::from("{}"),
            no_agent: Arc::from(""),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The latest `now` seen, if any.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.now.map(instant)
    }

    /// Calls that are not terminal: waiting, ready or in flight.
    pub fn live_calls(&self) -> usize {
        self.calls.slots() - self.free.len()
    }

    /// Calls that are due and wait for a line, blocked ones included.
    pub fn ready_calls(&self) -> usize {
        self.ready.len()
    }

    /// The state of a live call, or `None` once it ended.
    ///
    /// A bare `call-n` ID is found through the bare-ID index if an earlier
    /// input built it, else by a scan of the live calls.
    pub fn state(&self, call: CallId) -> Option<CallState> {
        self.find_slot(call)
            .and_then(|s| self.call(s))
            .map(|c| c.state)
    }

    // ---- inputs -------------------------------------------------------

    /// Submits a JSON request body (semantics §1, §3.2).
    ///
    /// Time-driven changes up to `now` are applied first. An `accepted` or
    /// `rejected` event is queued either way, except when `now` itself is out
    /// of range: that is refused before anything happens.
    ///
    /// # Errors
    /// A [`Rejection`] with status 400 (bad body or field, infeasible
    /// window, `now` out of range), 404 (unregistered agent when
    /// `require_registered_agents`) or 409 (idempotency key of a live call
    /// with a different request). A rejection changes nothing.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// let ok = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap();
    /// assert_eq!((ok.call.to_string(), ok.due), ("call-1-0".to_string(), now));
    /// let err = engine.submit(now, br#"{"to_number": "+919876543210"}"#).unwrap_err();
    /// assert_eq!(err.field.as_deref(), Some("agent_id"));
    /// ```
    pub fn submit(&mut self, now: DateTime<Utc>, body: &[u8]) -> Result<Accepted, Rejection> {
        let t = self.tick_for_submit(now)?;
        let parsed = parse_body(body, &self.config);
        let result = parsed.and_then(|(req, canonical)| self.accept(t, req, canonical));
        self.after_submit(t, result)
    }

    /// Submits a request built in code; it is validated as a JSON body
    /// would be. Idempotent repeats compare [`CallRequest::to_value`].
    ///
    /// # Errors
    /// As [`Scheduler::submit`].
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// let mut req = redial::CallRequest::new("+919876543210", "a");
    /// req.priority = 3;
    /// assert!(engine.submit_request(now, req).is_ok());
    /// ```
    pub fn submit_request(
        &mut self,
        now: DateTime<Utc>,
        request: CallRequest,
    ) -> Result<Accepted, Rejection> {
        let t = self.tick_for_submit(now)?;
        let result = request.normalized(&self.config).and_then(|request| {
            let canonical = if request.idempotency_key.is_some() {
                request.to_value()
            } else {
                Value::Null
            };
            self.accept(t, request, canonical)
        });
        self.after_submit(t, result)
    }

    /// Hands out up to `max` calls to dial now, best first (semantics §4):
    /// highest priority, then earliest due, then earliest accepted, among
    /// calls whose batch is not paused and whose agent is below its cap.
    /// Each is in flight until [`Scheduler::report`] or its timeout.
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`] when `now` is outside years 1 to 9999.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap();
    /// let calls = engine.dial(now, 10).unwrap();
    /// assert_eq!(calls.len(), 1);
    /// assert_eq!((calls[0].attempt, &*calls[0].metadata), (1, "{}"));
    /// assert!(engine.dial(now, 10).unwrap().is_empty());
    /// ```
    pub fn dial(&mut self, now: DateTime<Utc>, max: usize) -> Result<Vec<Dispatch>, OpError> {
        let mut out = Vec::new();
        self.dial_into(now, max, &mut out)?;
        Ok(out)
    }

    /// [`Scheduler::dial`] into a vector the host keeps: appends up to
    /// `max` calls to `out` and returns how many, so a run loop that dials
    /// often allocates no vector per round.
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`] when `now` is outside years 1 to 9999;
    /// `out` is then left as it was.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// for n in ["+919876543210", "+919876543211"] {
    ///     let body = format!(r#"{{"to_number": "{n}", "agent_id": "a"}}"#);
    ///     engine.submit(now, body.as_bytes()).unwrap();
    /// }
    /// let mut calls = Vec::with_capacity(8);
    /// assert_eq!(engine.dial_into(now, 1, &mut calls).unwrap(), 1);
    /// assert_eq!(engine.dial_into(now, 5, &mut calls).unwrap(), 1);
    /// assert_eq!(calls[1].to_number, "+919876543211");
    /// calls.clear(); // the capacity stays for the next round
    /// assert_eq!(engine.dial_into(now, 5, &mut calls).unwrap(), 0);
    /// ```
    pub fn dial_into(
        &mut self,
        now: DateTime<Utc>,
        max: usize,
        out: &mut Vec<Dispatch>,
    ) -> Result<usize, OpError> {
        let t = self.tick(now)?;
        let mut handed = 0;
        while handed < max {
            let calls = &self.calls;
            let Some((_, slot)) = self.ready.pop_best(|s, k| valid_ready(calls, s, k)) else {
                break;
            };
            if let Some(d) = self.trigger(slot, t) {
                out.push(d);
                handed += 1;
            }
        }
        self.settle();
        Ok(handed)
    }

    /// Reports the outcome of a call's in-flight attempt (semantics §3.4).
    ///
    /// # Errors
    /// [`OpError::UnknownCall`] for a call that never existed or ended,
    /// [`OpError::NotInFlight`] for a live call with no attempt in flight,
    /// [`OpError::TimeOutOfRange`]. Errors change nothing.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use redial::{Outcome, OpError};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap().call;
    /// assert_eq!(engine.report(now, id, Outcome::Busy), Err(OpError::NotInFlight(id)));
    /// engine.dial(now, 1).unwrap();
    /// engine.report(now, id, Outcome::Completed).unwrap();
    /// assert_eq!(engine.report(now, id, Outcome::Completed), Err(OpError::UnknownCall(id)));
    /// ```
    pub fn report(
        &mut self,
        now: DateTime<Utc>,
        call: CallId,
        outcome: Outcome,
    ) -> Result<(), OpError> {
        let t = self.tick(now)?;
        let result = match self.slot_of(call) {
            None => Err(OpError::UnknownCall(call)),
            Some(slot)
                if self
                    .call(slot)
                    .is_some_and(|c| c.state == CallState::InFlight) =>
            {
                self.set_timer(slot, None);
                self.finish_attempt(slot, outcome, t);
                Ok(())
            }
            Some(_) => Err(OpError::NotInFlight(call)),
        };
        self.settle();
        result
    }

    /// Cancels a call (semantics §3.5): a waiting or ready call ends
    /// `cancelled` now; an in-flight call finishes its attempt and its report
    /// ends it (`completed` if it was, else `cancelled`). Cancelling an
    /// in-flight call twice is harmless.
    ///
    /// # Errors
    /// [`OpError::UnknownCall`], [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap().call;
    /// engine.cancel(now, id).unwrap();
    /// assert_eq!(engine.live_calls(), 0);
    /// assert!(engine.dial(now, 1).unwrap().is_empty());
    /// ```
    pub fn cancel(&mut self, now: DateTime<Utc>, call: CallId) -> Result<(), OpError> {
        let t = self.tick(now)?;
        let result = match self.slot_of(call) {
            None => Err(OpError::UnknownCall(call)),
            Some(slot) => {
                self.cancel_slot(slot, t);
                Ok(())
            }
        };
        self.settle();
        result
    }

    /// Pauses a batch: none of its calls triggers until it is resumed, but
    /// windows keep running (a paused call can carry over or expire).
    /// Pausing a paused batch is harmless.
    ///
    /// # Errors
    /// [`OpError::UnknownBatch`] when no accepted call ever named it,
    /// [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b"}"#).unwrap();
    /// engine.pause_batch(now, "b").unwrap();
    /// assert!(engine.dial(now, 1).unwrap().is_empty());
    /// engine.resume_batch(now, "b").unwrap();
    /// assert_eq!(engine.dial(now, 1).unwrap().len(), 1);
    /// assert!(engine.pause_batch(now, "nope").is_err());
    /// ```
    pub fn pause_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        self.set_paused(now, batch, true)
    }

    /// Resumes a paused batch; resuming a running batch is harmless.
    ///
    /// # Errors
    /// As [`Scheduler::pause_batch`].
    pub fn resume_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        self.set_paused(now, batch, false)
    }

    /// Cancels every live call of a batch, in acceptance order, as
    /// [`Scheduler::cancel`] would. The batch stays known.
    ///
    /// # Errors
    /// As [`Scheduler::pause_batch`].
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// for n in ["+919876543210", "+919876543211"] {
    ///     let body = format!(r#"{{"to_number": "{n}", "agent_id": "a", "batch_id": "b"}}"#);
    ///     engine.submit(now, body.as_bytes()).unwrap();
    /// }
    /// engine.cancel_batch(now, "b").unwrap();
    /// assert_eq!(engine.live_calls(), 0);
    /// ```
    pub fn cancel_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        let t = self.tick(now)?;
        let result = match self.batch_ids.get(batch).copied() {
            None => Err(OpError::UnknownBatch(batch.to_owned())),
            Some(b) => {
                // Cancelling a campaign is rare: a scan of the slab costs
                // less than keeping a member list for every batch.
                let mut members: Vec<(u64, Slot)> = self
                    .calls
                    .iter()
                    .filter(|(_, c)| c.batch == b)
                    .map(|(slot, c)| (c.seq, slot))
                    .collect();
                members.sort_unstable();
                for (_, slot) in members {
                    self.cancel_slot(slot, t);
                }
                Ok(())
            }
        };
        self.settle();
        result
    }

    /// Registers an agent with an optional cap on concurrent calls
    /// (semantics §3.5); registering again replaces the cap. A cap of 0
    /// holds all of the agent's calls.
    ///
    /// # Errors
    /// [`OpError::InvalidId`] for an empty, over-long or control-character
    /// ID, [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// engine.register_agent(now, "a", Some(1)).unwrap();
    /// for n in ["+919876543210", "+919876543211"] {
    ///     let body = format!(r#"{{"to_number": "{n}", "agent_id": "a"}}"#);
    ///     engine.submit(now, body.as_bytes()).unwrap();
    /// }
    /// assert_eq!(engine.dial(now, 10).unwrap().len(), 1);
    /// ```
    pub fn register_agent(
        &mut self,
        now: DateTime<Utc>,
        agent: &str,
        max_concurrent_calls: Option<u32>,
    ) -> Result<(), OpError> {
        self.tick(now)?;
        if agent.is_empty()
            || agent.len() > crate::request::MAX_ID_BYTES
            || agent.chars().any(char::is_control)
        {
            return Err(OpError::InvalidId(agent.chars().take(140).collect()));
        }
        let a = self.intern_agent(agent);
        if let Some(x) = self.agents.get_mut(a as usize) {
            x.registered = true;
            x.cap = max_concurrent_calls;
        }
        self.refresh_agent(a);
        self.settle();
        Ok(())
    }

    /// Applies every time-driven change up to `now`: calls becoming due,
    /// windows closing, attempts timing out.
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc, TimeDelta};
    /// let mut engine = redial::Scheduler::new(redial::Config::default()).unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap();
    /// engine.dial(now, 1).unwrap();
    /// let timeout = engine.poll_timeout().unwrap();
    /// assert_eq!(timeout, now.checked_add_signed(TimeDelta::try_minutes(120).unwrap()).unwrap());
    /// engine.handle_timeout(timeout).unwrap();
    /// let names: Vec<_> = std::iter::from_fn(|| engine.poll_event()).map(|e| e.kind.name()).collect();
    /// assert_eq!(names, ["accepted", "triggered", "timed_out", "exhausted"]);
    /// ```
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) -> Result<(), OpError> {
        self.tick(now)?;
        self.settle();
        Ok(())
    }

    // ---- outputs ------------------------------------------------------

    /// The next instant at which something time-driven happens: a call
    /// becomes due, a window closes on a waiting call, or an attempt times
    /// out. `None` when nothing is pending. A call that is already due is
    /// not a timeout: dial whenever lines are free. O(1).
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.timers.peek().map(instant)
    }

    /// The next event, oldest first. Drain until `None` after each input.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() {
            // Drained: start the ring over at its first (warm) slots, and
            // give back what a burst of undrained events grew it to.
            if self.events.capacity() > MAX_IDLE_EVENT_CAPACITY {
                self.events = VecDeque::new();
            } else {
                self.events.clear();
            }
        }
        event
    }

    // ---- internals ----------------------------------------------------

    /// Validates `now`, makes it monotone and applies time-driven changes.
    fn tick(&mut self, now: DateTime<Utc>) -> Result<i64, OpError> {
        let secs = now.timestamp();
        if !(MIN_TIME..=MAX_TIME).contains(&secs) {
            return Err(OpError::TimeOutOfRange(now));
        }
        let t = self.now.map_or(secs, |seen| seen.max(secs));
        self.now = Some(t);
        self.advance(t);
        Ok(t)
    }

    fn tick_for_submit(&mut self, now: DateTime<Utc>) -> Result<i64, Rejection> {
        self.tick(now)
            .map_err(|e| Rejection::bad_body(e.to_string()))
    }

    fn after_submit(
        &mut self,
        t: i64,
        result: Result<Accepted, Rejection>,
    ) -> Result<Accepted, Rejection> {
        let event = match &result {
            Ok(a) => Event {
                at: instant(t),
                call: Some(a.call),
                kind: EventKind::Accepted {
                    due: a.due,
                    duplicate: a.duplicate,
                },
            },
            Err(r) => Event {
                at: instant(t),
                call: None,
                kind: EventKind::Rejected {
                    status: r.status,
                    field: r.field.clone(),
                    message: r.message.clone(),
                },
            },
        };
        self.events.push_back(event);
        self.settle();
        result
    }

    /// Restores the invariant that the timer heap's top is valid.
    ///
    /// An input's own effect can leave work due at `now` itself (a retry
    /// with a gap of 0 is due at the report's instant): apply it, so that
    /// `poll_timeout` is always after the clock. Such work only makes calls
    /// ready; it emits no event.
    fn settle(&mut self) {
        if let Some(now) = self.now {
            self.advance(now);
        }
        let (calls, generations) = (&self.calls, &self.timer_generations);
        self.timers
            .clean_top(|e| valid_timer(generations, e), |s| seq_in(calls, s));
    }

    fn advance(&mut self, now: i64) {
        loop {
            let (calls, generations) = (&self.calls, &self.timer_generations);
            let Some(entry) =
                self.timers
                    .pop_due(now, |e| valid_timer(generations, e), |s| seq_in(calls, s))
            else {
                break;
            };
            self.on_timer(entry);
        }
    }

    fn on_timer(&mut self, entry: TimerEntry) {
        let slot = entry.slot;
        let at = entry.at;
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        call.set_timer_at(None);
        match call.state {
            CallState::Waiting => self.make_ready(slot),
            CallState::Ready => self.window_closed(slot, at),
            CallState::InFlight => {
                let attempt = call.attempt();
                self.emit(at, slot, EventKind::TimedOut { attempt });
                self.finish_attempt(slot, Outcome::Timeout, at);
            }
        }
    }

    fn make_ready(&mut self, slot: Slot) {
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        call.state = CallState::Ready;
        let (lane, key, end) = (call.lane, call.ready_key(), call.occurrence_end());
        self.ready.push(lane, key, slot);
        self.set_timer(slot, end);
    }

    /// A ready call's window occurrence ended before it was dialed.
    fn window_closed(&mut self, slot: Slot, at: i64) {
        let Some(call) = self.calls.get_mut(slot) else {
            return;
        };
        call.state = CallState::Waiting;
        let lane = call.lane;
        let next = if call.carry_over() {
            let occurrences = &mut self.occurrences;
            call.window()
                .and_then(|w| occurrences.first_instant_at_or_after(&w, call.tz, instant(at)))
                .map(|(due, o)| (ceil_secs(due), ceil_secs(o.end)))
        } else {
            None
        };
        let calls = &self.calls;
        self.ready.forget(lane, |s, k| valid_ready(calls, s, k));
        match next {
            Some((due, end)) => {
                if let Some(call) = self.call_mut(slot) {
                    call.due = due;
                    call.set_occurrence_end(Some(end));
                }
                self.set_timer(slot, Some(due));
                self.emit(at, slot, EventKind::CarriedOver { due: instant(due) });
            }
            None => self.end_call(
                slot,
                at,
                EventKind::Expired {
                    reason: ExpireReason::WindowClosed,
                },
            ),
        }
    }

    /// Hands out a ready call just popped from the ready queue.
    fn trigger(&mut self, slot: Slot, t: i64) -> Option<Dispatch> {
        let timeout = i64::from(self.config.attempt_timeout_minutes) * 60;
        let call = self.calls.get_mut(slot)?;
        call.state = CallState::InFlight;
        let (agent, batch, attempt) = (call.agent, call.batch, call.attempt());
        let (call_id, to_number, language) = (
            CallId::stored(call.seq, slot),
            call.to_number(),
            call.language,
        );
        let metadata = Arc::clone(call.metadata().unwrap_or(&self.no_metadata));
        self.set_timer(slot, Some(t.saturating_add(timeout)));
        let agent_id = match self.agents.get_mut(agent as usize) {
            Some(a) => {
                a.in_flight = a.in_flight.saturating_add(1);
                let name = Arc::clone(&a.name);
                if a.cap.is_some_and(|c| a.in_flight >= c) {
                    self.refresh_agent(agent);
                }
                name
            }
            None => Arc::clone(&self.no_agent),
        };
        let batch_id = self
            .batches
            .get(batch as usize)
            .map(|b| Arc::clone(&b.name));
        self.emit(t, slot, EventKind::Triggered { attempt });
        Some(Dispatch {
            call: call_id,
            attempt,
            to_number,
            agent_id,
            batch_id,
            language,
            metadata,
        })
    }

    /// The in-flight attempt of `slot` ended with `outcome` at `r`.
    fn finish_attempt(&mut self, slot: Slot, outcome: Outcome, r: i64) {
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        let agent = call.agent;
        let cancelled = call.cancel_requested();
        let released = match self.agents.get_mut(agent as usize) {
            Some(a) => {
                let was_saturated = a.cap.is_some_and(|c| a.in_flight >= c);
                a.in_flight = a.in_flight.saturating_sub(1);
                was_saturated && a.cap.is_some_and(|c| a.in_flight < c)
            }
            None => false,
        };
        if released {
            self.refresh_agent(agent);
        }
        if cancelled {
            let kind = if outcome == Outcome::Completed {
                EventKind::Completed
            } else {
                EventKind::Cancelled
            };
            return self.end_call(slot, r, kind);
        }
        if outcome == Outcome::Completed {
            return self.end_call(slot, r, EventKind::Completed);
        }
        if !self.config.is_retryable(outcome) {
            return self.end_call(slot, r, EventKind::Failed { outcome });
        }
        let Some(call) = self.calls.get(slot) else {
            return;
        };
        if !has_next_attempt(call.retries, call.attempt()) {
            return self.end_call(slot, r, EventKind::Exhausted);
        }
        let gap = i64::from(call.gap_after(call.attempt())) * 60;
        let desired = r.saturating_add(gap);
        let next = match (call.occurrence_end(), call.window()) {
            (None, _) | (_, None) => Some((desired, call.occurrence_end(), false)),
            (Some(end), Some(_)) if desired < end => Some((desired, Some(end), false)),
            (Some(_), Some(w)) if call.carry_over() => self
                .occurrences
                .first_instant_at_or_after(&w, call.tz, instant(desired))
                .map(|(due, o)| (ceil_secs(due), Some(ceil_secs(o.end)), true)),
            _ => None,
        };
        match next {
            Some((due, end, carried_over)) => {
                let Some(call) = self.call_mut(slot) else {
                    return;
                };
                call.next_attempt();
                call.due = due;
                call.set_occurrence_end(end);
                call.state = CallState::Waiting;
                let attempt = call.attempt();
                self.set_timer(slot, Some(due));
                self.emit(
                    r,
                    slot,
                    EventKind::RetryScheduled {
                        attempt,
                        due: instant(due),
                        carried_over,
                    },
                );
            }
            None => self.end_call(
                slot,
                r,
                EventKind::Expired {
                    reason: ExpireReason::WindowClosed,
                },
            ),
        }
    }

    fn cancel_slot(&mut self, slot: Slot, t: i64) {
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        match call.state {
            CallState::InFlight => call.request_cancel(),
            CallState::Waiting | CallState::Ready => self.end_call(slot, t, EventKind::Cancelled),
        }
    }

    fn set_paused(&mut self, now: DateTime<Utc>, batch: &str, paused: bool) -> Result<(), OpError> {
        self.tick(now)?;
        let Some(b) = self.batch_ids.get(batch).copied() else {
            return Err(OpError::UnknownBatch(batch.to_owned()));
        };
        if let Some(x) = self.batches.get_mut(b as usize) {
            x.paused = paused;
        }
        let lanes = self
            .batches
            .get(b as usize)
            .map(|x| x.lanes.clone())
            .unwrap_or_default();
        for lane in lanes {
            self.refresh_lane(lane);
        }
        self.settle();
        Ok(())
    }

    /// Validates what needs `now` and queues the call (semantics §3.2, then
    /// the agent registry, then idempotency).
    fn accept(
        &mut self,
        t: i64,
        req: CallRequest,
        canonical: Value,
    ) -> Result<Accepted, Rejection> {
        let tz = req.timezone.unwrap_or(self.config.default_timezone);
        let window = req.window()?;
        let scheduled = match req.schedule_at {
            None => None,
            Some(ScheduleAt::Instant(i)) => Some(ceil_secs(i)),
            Some(ScheduleAt::Local(w)) => {
                Some(wall_to_instant(tz, w).map(ceil_secs).ok_or_else(|| {
                    Rejection::bad(
                        "schedule_at",
                        "Invalid schedule_at: outside the supported range of dates",
                    )
                })?)
            }
        };
        if let Some(s) = scheduled {
            let ahead = i64::from(self.config.max_schedule_ahead_days) * 86_400;
            if s > t.saturating_add(ahead) {
                return Err(Rejection::bad(
                    "schedule_at",
                    format!(
                        "Invalid schedule_at {}: more than {} days after now; expected at most max_schedule_ahead_days ahead",
                        instant(s).to_rfc3339(),
                        self.config.max_schedule_ahead_days
                    ),
                ));
            }
        }
        let d = scheduled.map_or(t, |s| s.max(t));
        let (due, occurrence_end) = match window {
            None => (d, None),
            Some(w) => {
                let o = self
                    .occurrences
                    .first_ending_after(&w, tz, instant(d))
                    .ok_or_else(|| {
                        Rejection::bad(
                            "max_trigger_time",
                            format!(
                                "Window {w} has no occurrence near {}",
                                instant(d).to_rfc3339()
                            ),
                        )
                    })?;
                let (start, end) = (ceil_secs(o.start), ceil_secs(o.end));
                if d >= start || Some(o.date) == local_date(tz, instant(d)) || req.carry_over {
                    (d.max(start), Some(end))
                } else {
                    return Err(Rejection::bad(
                        "max_trigger_time",
                        format!(
                            "Window {w} in {} has already closed for {}, and carry_over is false: the call could never trigger; expected carry_over true or a later schedule_at",
                            tz.name(),
                            local_date(tz, instant(d)).map_or_else(String::new, |x| x.to_string())
                        ),
                    ));
                }
            }
        };
        if self.config.require_registered_agents
            && !self
                .agent_ids
                .get(req.agent_id.as_str())
                .and_then(|a| self.agents.get(*a as usize))
                .is_some_and(|a| a.registered)
        {
            return Err(Rejection {
                status: 404,
                field: Some("agent_id".to_owned()),
                message: format!(
                    "Unknown agent_id {:?}: expected a registered agent",
                    req.agent_id
                ),
            });
        }
        if let Some(key) = &req.idempotency_key
            && let Some(previous) = self.idempotency.get(key.as_str())
        {
            if previous.request == canonical {
                return Ok(Accepted {
                    call: CallId::stored(previous.call, previous.slot),
                    due: instant(previous.due),
                    duplicate: true,
                });
            }
            return Err(Rejection {
                status: 409,
                field: Some("idempotency_key".to_owned()),
                message: format!(
                    "idempotency_key {key:?} belongs to live call call-{} with a different request; expected the same request or a new key",
                    previous.call
                ),
            });
        }

        if self.free.is_empty() && self.calls.slots() > Slot::MAX as usize {
            return Err(Rejection::bad_body(format!(
                "This engine holds {} live calls, the most it can; expected fewer",
                self.calls.slots()
            )));
        }
        if self.next_seq > MAX_SEQ {
            return Err(Rejection::bad_body(format!(
                "This engine has accepted {MAX_SEQ} calls, the most its call IDs can number; expected a new engine"
            )));
        }
        let seq = self.next_seq;
        // The compact record is made first, so that should it refuse the
        // (validated) request, the engine has not changed.
        let record = CallRecord {
            seq,
            slot: None,
            to_number: req.to_number.into(),
            agent: 0,
            batch: NO_BATCH,
            language: req.language,
            metadata: req.metadata.filter(|m| m != "{}").map(Into::into),
            tz,
            window,
            carry_over: req.carry_over,
            retries: req.number_of_retries,
            gaps: req
                .gap_between_retries
                .or_else(|| Gaps::every(self.config.default_retry_gap_minutes))
                .unwrap_or(Gaps::Every(0)),
            priority: req.priority,
            idempotency_key: req.idempotency_key.as_deref().map(Into::into),
            state: CallState::Waiting,
            attempt: 1,
            due,
            occurrence_end,
            timer: None,
            cancel_requested: false,
        };
        let mut call = Call::from_record(record).map_err(Rejection::bad_body)?;
        self.next_seq = seq.saturating_add(1);
        call.agent = self.intern_agent(&req.agent_id);
        if let Some(b) = req.batch_id.as_deref() {
            call.batch = self.intern_batch(b);
        }
        call.lane = self.lane(call.agent, call.batch);
        let slot = self.insert(call);
        if let Some(key) = req.idempotency_key {
            self.idempotency.insert(
                key.into(),
                Idempotent {
                    call: seq,
                    slot,
                    request: canonical,
                    due,
                },
            );
        }
        if due <= t {
            // Due already: ready at once, no timer round trip.
            self.make_ready(slot);
        } else {
            self.set_timer(slot, Some(due));
        }
        Ok(Accepted {
            call: CallId::stored(seq, slot),
            due: instant(due),
            duplicate: false,
        })
    }

    /// Sets (or clears) the single pending timer of a call.
    fn set_timer(&mut self, slot: Slot, at: Option<i64>) {
        let Some(call) = self.call_mut(slot) else {
            return;
        };
        let had = call.timer().is_some();
        call.set_timer_at(at);
        let seq = call.seq;
        let Some(generation) = self.timer_generations.get_mut(slot as usize) else {
            return;
        };
        // Slots keep counting across calls, so entries a previous call left
        // behind never look valid.
        *generation = generation.wrapping_add(1);
        let generation = *generation;
        if had {
            let generations = &self.timer_generations;
            self.timers.forget(|e| valid_timer(generations, e));
        }
        if let Some(at) = at {
            self.timers.push(
                TimerEntry {
                    at,
                    slot,
                    generation,
                },
                seq,
            );
        }
    }

    /// Emits a terminal event and forgets the call.
    fn end_call(&mut self, slot: Slot, at: i64, kind: EventKind) {
        self.emit(at, slot, kind);
        let was_ready = self.call(slot).is_some_and(|c| c.state == CallState::Ready);
        self.set_timer(slot, None);
        let Some(call) = self.calls.take(slot) else {
            return;
        };
        self.free.push(slot);
        if let Some(index) = &mut self.index {
            index.remove(&call.seq);
        }
        if was_ready {
            let calls = &self.calls;
            self.ready
                .forget(call.lane, |s, k| valid_ready(calls, s, k));
        }
        if let Some(key) = call.idempotency_key()
            && self
                .idempotency
                .get(key)
                .is_some_and(|i| i.call == call.seq)
        {
            self.idempotency.remove(key);
        }
    }

    fn emit(&mut self, at: i64, slot: Slot, kind: EventKind) {
        let call = self.call(slot).map(|c| CallId::stored(c.seq, slot));
        self.events.push_back(Event {
            at: instant(at),
            call,
            kind,
        });
    }

    fn insert(&mut self, call: Call) -> Slot {
        let seq = call.seq;
        let slot = match self.free.pop() {
            Some(s) => {
                self.calls.put(s, call);
                s
            }
            None => {
                self.timer_generations.push(0);
                // Unreachable: accept refuses a call when no slot is left.
                self.calls.push(call).unwrap_or(Slot::MAX)
            }
        };
        if let Some(index) = &mut self.index {
            index.insert(seq, slot);
        }
        slot
    }

    /// Empty slots, the next one to reuse last.
    pub(crate) fn free_slots(&self) -> &[Slot] {
        &self.free
    }

    /// The slot of the live call an ID names.
    fn slot_of(&mut self, id: CallId) -> Option<Slot> {
        if id.slot().is_none() {
            self.build_bare_index();
        }
        self.find_slot(id)
    }

    /// The slot holding call `id`: read from the ID, else from the bare-ID
    /// index if built, else by a scan of the live calls (`&self` cannot
    /// build the index).
    fn find_slot(&self, id: CallId) -> Option<Slot> {
        let seq = id.sequence();
        match (id.slot(), &self.index) {
            (Some(slot), _) => self.slot_holding(slot, seq),
            (None, Some(index)) => index.get(&seq).copied(),
            (None, None) => self
                .calls
                .iter()
                .find(|(_, c)| c.seq == seq)
                .map(|(s, _)| s),
        }
    }

    /// `slot`, if it holds call `seq`.
    fn slot_holding(&self, slot: Slot, seq: u64) -> Option<Slot> {
        self.call(slot).filter(|c| c.seq == seq).map(|_| slot)
    }

    /// Builds the index for bare `call-n` IDs on first use; it is kept
    /// from then on.
    fn build_bare_index(&mut self) {
        if self.index.is_some() {
            return;
        }
        let mut index = CallIndex::with_capacity_and_hasher(self.live_calls(), Default::default());
        for (slot, call) in self.calls.iter() {
            index.insert(call.seq, slot);
        }
        self.index = Some(index);
    }

    pub(crate) fn call(&self, slot: Slot) -> Option<&Call> {
        self.calls.get(slot)
    }

    fn call_mut(&mut self, slot: Slot) -> Option<&mut Call> {
        self.calls.get_mut(slot)
    }

    fn intern_agent(&mut self, name: &str) -> u32 {
        if let Some(a) = self.agent_ids.get(name) {
            return *a;
        }
        let id = u32::try_from(self.agents.len()).unwrap_or(u32::MAX);
        self.agents.push(Agent {
            name: name.into(),
            registered: false,
            cap: None,
            in_flight: 0,
            lanes: Vec::new(),
        });
        self.agent_ids.insert(name.into(), id);
        id
    }

    fn intern_batch(&mut self, name: &str) -> u32 {
        if let Some(b) = self.batch_ids.get(name) {
            return *b;
        }
        let id = u32::try_from(self.batches.len()).unwrap_or(u32::MAX);
        self.batches.push(Batch {
            name: name.into(),
            paused: false,
            lanes: Vec::new(),
        });
        self.batch_ids.insert(name.into(), id);
        id
    }

    fn lane(&mut self, agent: u32, batch: u32) -> LaneId {
        if let Some(l) = self.lane_ids.get(&(agent, batch)) {
            return *l;
        }
        let lane = self
            .ready
            .add_lane((agent, batch), self.lane_eligible(agent, batch));
        self.lane_ids.insert((agent, batch), lane);
        if let Some(a) = self.agents.get_mut(agent as usize) {
            a.lanes.push(lane);
        }
        if let Some(b) = self.batches.get_mut(batch as usize) {
            b.lanes.push(lane);
        }
        lane
    }

    fn lane_eligible(&self, agent: u32, batch: u32) -> bool {
        let agent_free = self
            .agents
            .get(agent as usize)
            .is_none_or(|a| a.cap.is_none_or(|c| a.in_flight < c));
        let batch_running = self.batches.get(batch as usize).is_none_or(|b| !b.paused);
        agent_free && batch_running
    }

    fn refresh_agent(&mut self, agent: u32) {
        let lanes = self
            .agents
            .get(agent as usize)
            .map(|a| a.lanes.clone())
            .unwrap_or_default();
        for lane in lanes {
            self.refresh_lane(lane);
        }
    }

    fn refresh_lane(&mut self, lane: LaneId) {
        let Some((agent, batch)) = self.ready.owner(lane) else {
            return;
        };
        let eligible = self.lane_eligible(agent, batch);
        self.ready.set_eligible(lane, eligible);
    }

    // ---- snapshot support --------------------------------------------

    /// Prepares the slots a snapshot's calls go back into: a format-2
    /// snapshot names every call's slot and the free slots (in the order
    /// they are reused), and together they must cover `0..n` once each; a
    /// format-1 snapshot names none, and its calls take fresh slots.
    fn restore_slots(
        &mut self,
        format: u32,
        calls: &[CallRecord],
        free: Option<Vec<Slot>>,
    ) -> Result<(), String> {
        let named = calls.iter().filter(|c| c.slot.is_some()).count();
        let free = match (format, free) {
            (1, None) if named == 0 => return Ok(()),
            (2, Some(free)) if named == calls.len() => free,
            _ => {
                return Err(format!(
                    "format {format} snapshot with missing or unexpected slots"
                ));
            }
        };
        let total = calls.len().saturating_add(free.len());
        // The last slot number stands for "no slot" in bare IDs.
        if total >= Slot::MAX as usize {
            return Err(format!("{total} slots: expected fewer than 2^32 - 1"));
        }
        let mut used = vec![false; total];
        for slot in calls
            .iter()
            .filter_map(|c| c.slot)
            .chain(free.iter().copied())
        {
            match used.get_mut(slot as usize) {
                Some(u) if !*u => *u = true,
                _ => return Err(format!("slot {slot} out of range or named twice")),
            }
        }
        self.calls.grow_to(total);
        self.timer_generations = vec![0; total];
        self.free = free;
        Ok(())
    }

    pub(crate) fn live_call_records(&self) -> Vec<CallRecord> {
        let mut calls: Vec<CallRecord> = self
            .calls
            .iter()
            .map(|(slot, c)| CallRecord {
                slot: Some(slot),
                ..c.to_record()
            })
            .collect();
        calls.sort_by_key(|c| c.seq);
        calls
    }

    /// Rebuilds an engine from snapshot parts; every derived structure
    /// (slots, heaps, lanes, counters) is recomputed.
    pub(crate) fn from_parts(parts: Snapshot) -> Result<Scheduler, String> {
        let Snapshot {
            format,
            config,
            now,
            next_seq,
            agents,
            batches,
            calls,
            free_slots,
            idempotency,
            events,
            ..
        } = parts;
        let mut s = Scheduler::new(config).map_err(|e| e.to_string())?;
        // Derived instants stay within a few years of `now`'s range.
        let sane = MIN_TIME..=MAX_TIME.saturating_add(20 * 366 * 86_400);
        if now.is_some_and(|n| !(MIN_TIME..=MAX_TIME).contains(&n)) {
            return Err("now out of range".to_owned());
        }
        s.now = now;
        if next_seq == 0 || next_seq > MAX_SEQ + 1 {
            return Err(format!("next_seq {next_seq} out of range"));
        }
        s.next_seq = next_seq;
        s.restore_slots(format, &calls, free_slots)?;
        for a in agents {
            let id = s.intern_agent(&a.name);
            if let Some(x) = s.agents.get_mut(id as usize) {
                x.registered = a.registered;
                x.cap = a.cap;
            }
        }
        for b in batches {
            let id = s.intern_batch(&b.name);
            if let Some(x) = s.batches.get_mut(id as usize) {
                x.paused = b.paused;
            }
        }
        let mut last_seq = 0;
        for record in calls {
            let record_slot = record.slot;
            let mut c = Call::from_record(record)?;
            if c.seq <= last_seq || c.seq >= next_seq {
                return Err(format!("call sequence {} out of order", c.seq));
            }
            last_seq = c.seq;
            if s.agents.get(c.agent as usize).is_none()
                || (c.batch != NO_BATCH && s.batches.get(c.batch as usize).is_none())
            {
                return Err(format!("call {} names an unknown agent or batch", c.seq));
            }
            let times = [Some(c.due), c.timer(), c.occurrence_end()];
            if times.iter().flatten().any(|t| !sane.contains(t)) {
                return Err(format!("call {} has an instant out of range", c.seq));
            }
            c.lane = s.lane(c.agent, c.batch);
            let (state, timer) = (c.state, c.timer());
            c.set_timer_at(None);
            c.state = CallState::Waiting;
            let agent = c.agent;
            let slot = match record_slot {
                Some(slot) => {
                    s.calls.put(slot, c);
                    slot
                }
                None => s.insert(c),
            };
            match state {
                CallState::Waiting => {}
                CallState::Ready => {
                    s.make_ready(slot);
                }
                CallState::InFlight => {
                    if let Some(call) = s.call_mut(slot) {
                        call.state = CallState::InFlight;
                    }
                    if let Some(a) = s.agents.get_mut(agent as usize) {
                        a.in_flight = a.in_flight.saturating_add(1);
                    }
                }
            }
            s.set_timer(slot, timer);
        }
        for a in 0..s.agents.len() {
            s.refresh_agent(u32::try_from(a).unwrap_or(u32::MAX));
        }
        // Keys and calls must point at each other, one to one.
        let mut by_seq = CallIndex::default();
        let mut keyed = 0;
        for (slot, call) in s.calls.iter() {
            if call.idempotency_key().is_some() {
                by_seq.insert(call.seq, slot);
                keyed += 1;
            }
        }
        for (k, mut v) in idempotency {
            v.slot = by_seq.get(&v.call).copied().unwrap_or(Slot::MAX);
            let owner = s.call(v.slot);
            if owner.and_then(Call::idempotency_key) != Some(k.as_str()) {
                return Err(format!(
                    "idempotency key {k:?} does not match call-{}",
                    v.call
                ));
            }
            if s.idempotency.insert(k.as_str().into(), v).is_some() {
                return Err(format!("idempotency key {k:?} appears twice"));
            }
        }
        if keyed != s.idempotency.len() {
            return Err("a call's idempotency key has no entry".to_owned());
        }
        s.events = events.into();
        s.settle();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of undrained events does not keep its memory once drained,
    /// and the order of events is untouched.
    #[test]
    fn drained_event_queue_gives_back_a_burst() {
        let mut e = Scheduler::new(Config::default()).unwrap();
        let now = instant(1_767_155_400);
        let mut ids = Vec::new();
        for n in 0..5_000 {
            let body = format!(r#"{{"to_number": "+9198765{n:05}", "agent_id": "a"}}"#);
            ids.push(e.submit(now, body.as_bytes()).unwrap().call);
        }
        assert!(e.events.capacity() > MAX_IDLE_EVENT_CAPACITY);
        let drained: Vec<_> = std::iter::from_fn(|| e.poll_event())
            .filter_map(|ev| ev.call)
            .collect();
        assert_eq!(drained, ids);
        assert!(e.events.capacity() <= MAX_IDLE_EVENT_CAPACITY);
        // Small queues keep their room between inputs.
        e.cancel(now, ids[0]).unwrap();
        assert_eq!(e.poll_event().and_then(|ev| ev.call), Some(ids[0]));
        assert!(e.poll_event().is_none());
        assert!(e.events.capacity() > 0);
    }

    /// The day memo gives chrono's answer, on repeated days, day changes
    /// and both ends of the engine's range.
    #[test]
    fn instant_matches_chrono() {
        let mut secs = vec![MIN_TIME, MIN_TIME + 1, -1, 0, 1, 86_399, 86_400, MAX_TIME];
        let mut rand = crate::test_rng::xorshift(7);
        let span = u64::try_from(MAX_TIME - MIN_TIME).unwrap();
        for _ in 0..20_000 {
            let t = MIN_TIME + i64::try_from(rand(span)).unwrap();
            secs.extend([t, t + 1, t + 86_400]);
        }
        for s in secs {
            assert_eq!(instant(s), DateTime::from_timestamp(s, 0).unwrap(), "{s}");
        }
    }
}
