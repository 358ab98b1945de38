//! The sans-IO scheduler: inputs carry `now`, outputs are polled.
//!
//! This module owns the public [`Scheduler`]: its inputs, each a thin
//! method that opens the input (validates `now` and applies the time-driven
//! changes up to it), hands the input's own effect to the room that owns
//! it, and closes the input; its outputs ([`Scheduler::poll_event`],
//! [`Scheduler::poll_timeout`]); and the event queue. The rooms:
//!
//! * `admit`: submit, the checks that need `now`, idempotency;
//! * `clock`: opening and closing inputs, timers, calls becoming due and
//!   windows closing;
//! * `dispatch`: handing out the best eligible calls;
//! * `outcome`: reports, retries, timeouts, cancel, and ending calls;
//!
//! and the parts they share, each with its own invariants: `store` (the
//! live calls), `registry` (agents, batches, lanes) and `invariants` (the
//! checks of derived state that tests and fuzzing run).

use std::borrow::Borrow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};
use crate::event::{AttemptId, CallId, CompactEvent, CompactKind, Dispatch, Event, OpError};
use crate::policy::calendar::Calendar;
use crate::queue::{Lanes, Slot, Timers};
use crate::request::{BatchCall, CallRequest, Rejection, SpareStrings, SuccessResponse};
use crate::retry::Outcome;
use crate::time::{Secs, in_range, instant};
use crate::window::{OccurrenceCache, WallMemo};

mod admit;
mod clock;
mod control;
mod dispatch;
mod events;
mod inspect;
mod invariants;
mod numbers;
mod outcome;
mod plan;
mod rebuild;
pub(crate) mod registry;
pub(crate) mod store;
mod suppress;
#[cfg(feature = "number-zones")]
mod zone_memo;

pub use crate::call::CallState;
pub use crate::time::{MAX_TIME, MIN_TIME};

pub use dispatch::ReadyRank;
pub use events::Counters;
pub(crate) use events::EventQueue;
pub use inspect::{AgentInfo, BatchInfo, CallInfo};
use numbers::NumberMemory;
use registry::Registry;
use store::CallStore;

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
    /// The HTTP status of the API's answer: always 200 (a [`Rejection`]
    /// carries its own).
    pub fn status(&self) -> u16 {
        200
    }

    /// The API's success body.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let ok = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// assert_eq!(ok.status(), 200);
    /// assert_eq!(ok.to_response().call_sid, "call-1-0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_response(&self) -> SuccessResponse {
        SuccessResponse::new(&self.call.to_string())
    }
}

/// What an engine holds, counted: the figures its memory is bounded by
/// (see the crate docs' "Memory" section). O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    /// Live calls: waiting, ready or in flight.
    pub live_calls: usize,
    /// Agents known: registered, or named by a live call.
    pub agents: usize,
    /// Batches known: paused, or named by a live call.
    pub batches: usize,
    /// Ready-queue lanes: one per (agent, batch) pair of the live calls.
    pub lanes: usize,
    /// Idempotency keys of live calls.
    pub idempotency_keys: usize,
    /// Events queued and not yet drained.
    pub queued_events: usize,
    /// Numbers with a suppression in force.
    pub suppressions: usize,
    /// Numbers whose recent attempts a frequency cap still counts.
    pub attempt_histories: usize,
}

/// The scheduling engine. See the [crate docs](crate) for the run loop.
#[derive(Debug)]
pub struct Scheduler {
    pub(crate) config: Config,
    /// The latest `now` seen: time never runs backwards inside the engine.
    pub(crate) now: Option<Secs>,
    pub(crate) calls: CallStore,
    pub(crate) registry: Registry,
    ready: Lanes,
    timers: Timers,
    occurrences: OccurrenceCache,
    /// The last local `schedule_at` or `expires_at` read as an instant.
    walls: WallMemo,
    /// Rule sets (zones, policies) and the permitted-interval memo.
    pub(crate) calendar: Calendar,
    /// Suppressions and attempt histories.
    pub(crate) numbers: NumberMemory,
    /// Zones of recently seen numbers (libphonenumber lookups are slow).
    #[cfg(feature = "number-zones")]
    zone_memo: zone_memo::ZoneMemo,
    pub(crate) events: EventQueue,
    /// `{}`, the metadata of every dispatch whose call has none.
    no_metadata: Arc<str>,
    /// Commands applied through `apply` (the journal position).
    pub(crate) position: u64,
    /// Capacity for the next body's strings; no state.
    spare: SpareStrings,
}

impl Scheduler {
    /// A new, empty engine.
    ///
    /// # Errors
    /// A [`ConfigError`] when a configuration value is out of range.
    ///
    /// # Example
    /// ```
    /// let engine = redial::Scheduler::new(redial::Config::default())?;
    /// assert_eq!(engine.live_calls(), 0);
    /// assert_eq!(engine.poll_timeout(), None);
    /// # Ok::<(), redial::ConfigError>(())
    /// ```
    pub fn new(config: Config) -> Result<Scheduler, ConfigError> {
        config.validate()?;
        let calendar = Calendar::new(config.policies.values().cloned().collect());
        let keep = config
            .policies
            .values()
            .filter_map(|p| p.max_attempts().map(|cap| cap.days))
            .max()
            .unwrap_or(0);
        Ok(Scheduler {
            config,
            now: None,
            calls: CallStore::default(),
            registry: Registry::default(),
            ready: Lanes::default(),
            timers: Timers::default(),
            occurrences: OccurrenceCache::default(),
            walls: WallMemo::default(),
            calendar,
            numbers: NumberMemory::new(keep),
            #[cfg(feature = "number-zones")]
            zone_memo: zone_memo::ZoneMemo::default(),
            events: EventQueue::default(),
            no_metadata: Arc::from("{}"),
            position: 0,
            spare: SpareStrings::default(),
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
        self.calls.live()
    }

    /// Calls that are due and wait for a line, blocked ones included.
    pub fn ready_calls(&self) -> usize {
        self.ready.len()
    }

    /// What the engine holds, counted: live calls, known agents and
    /// batches, ready-queue lanes, idempotency keys and undrained events.
    /// A host that keeps nothing alive sees these return to the registered
    /// agents and paused batches alone. O(1).
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "upload-1"}"#;
    /// let id = engine.submit(now, body)?.call;
    /// assert_eq!((engine.footprint().agents, engine.footprint().batches), (1, 1));
    /// engine.cancel(now, id)?;
    /// // Nothing names the agent or the batch any more: both are forgotten.
    /// let f = engine.footprint();
    /// assert_eq!((f.live_calls, f.agents, f.batches, f.lanes), (0, 0, 0, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn footprint(&self) -> Footprint {
        let known = self.registry.counts();
        Footprint {
            live_calls: self.calls.live(),
            agents: known.agents,
            batches: known.batches,
            lanes: known.lanes,
            idempotency_keys: self.calls.keys(),
            queued_events: self.events.len(),
            suppressions: self.numbers.counts().0,
            attempt_histories: self.numbers.counts().1,
        }
    }

    /// The state of a live call, or `None` once it ended.
    ///
    /// A bare `call-n` ID is found through the bare-ID index if an earlier
    /// input built it, else by a scan of the live calls.
    pub fn state(&self, call: CallId) -> Option<CallState> {
        self.calls
            .find(call)
            .and_then(|s| self.calls.get(s))
            .map(|c| c.state())
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
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let ok = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// assert_eq!((ok.call.to_string(), ok.due), ("call-1-0".to_string(), now));
    /// let err = engine.submit(now, br#"{"to_number": "+919876543210"}"#).unwrap_err();
    /// assert_eq!(err.field.as_deref(), Some("agent_id"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit(&mut self, now: DateTime<Utc>, body: &[u8]) -> Result<Accepted, Rejection> {
        let now = self.begin_submit(now)?;
        let result = self.admit_body(now, body);
        self.end_submit(now, result)
    }

    /// Submits a request built in code; it is validated as a JSON body
    /// would be. Idempotent repeats compare [`CallRequest::to_value`].
    ///
    /// Takes the request or a reference to it: the engine keeps nothing of
    /// the request's own allocations (it copies a gap list, if any, and
    /// shares the metadata), so a host that submits the same request shape
    /// again, or keeps it, need not clone it.
    ///
    /// # Errors
    /// As [`Scheduler::submit`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut req = redial::CallRequest::new("+919876543210", "a");
    /// req.priority = 3;
    /// assert!(engine.submit_request(now, &req).is_ok());
    /// req.to_number = "+919876543211".into();
    /// assert!(engine.submit_request(now, req).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_request(
        &mut self,
        now: DateTime<Utc>,
        request: impl Borrow<CallRequest>,
    ) -> Result<Accepted, Rejection> {
        let now = self.begin_submit(now)?;
        let result = self.admit_request(now, request.borrow());
        self.end_submit(now, result)
    }

    /// Submits a batch upload: `template` once, and per call only what
    /// varies (its number, metadata and schedule). Each call is treated
    /// exactly as [`Scheduler::submit_request`] of
    /// [`template.for_call(call)`](CallRequest::for_call), in order, at
    /// the same `now`: the same answers, events and state. What is shared
    /// is validated once, so a call costs less than a submit of its own.
    ///
    /// The template's own `to_number`, `metadata` and `schedule_at` are
    /// not used. A template with an `idempotency_key` gives every call that
    /// key, so after the first admitted one the rest are repeats or
    /// conflicts, as separate submits would be.
    ///
    /// Appends one answer per call to `out`, in the calls' order.
    ///
    /// # Errors
    /// Per call, as [`Scheduler::submit`]; an invalid template rejects
    /// every call whose own fields are valid (with the error a submit of
    /// that call would give).
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{BatchCall, CallRequest, Config, Metadata, Scheduler};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let mut template = CallRequest::new("", "agent-7");
    /// template.batch_id = Some("spring".into());
    /// let calls = [
    ///     BatchCall::new("+919876543210").with_metadata(Metadata::parse(r#"{"name": "Asha"}"#)?),
    ///     BatchCall::new("not a number"),
    /// ];
    /// let mut answers = Vec::new();
    /// engine.submit_batch(now, &template, &calls, &mut answers);
    /// assert!(answers[0].is_ok());
    /// assert_eq!(answers[1].as_ref().unwrap_err().field.as_deref(), Some("to_number"));
    /// assert_eq!(engine.live_calls(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_batch(
        &mut self,
        now: DateTime<Utc>,
        template: &CallRequest,
        calls: &[BatchCall],
        out: &mut Vec<Result<Accepted, Rejection>>,
    ) {
        if calls.is_empty() {
            // No submit: not even the clock moves.
            return;
        }
        out.reserve(calls.len());
        match self.begin_submit(now) {
            Ok(now) => self.admit_batch(now, template, calls, out),
            Err(r) => out.extend(calls.iter().map(|_| Err(r.clone()))),
        }
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
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// let calls = engine.dial(now, 10)?;
    /// assert_eq!(calls.len(), 1);
    /// assert_eq!((calls[0].attempt, &*calls[0].metadata), (1, "{}"));
    /// assert!(engine.dial(now, 10)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// for n in ["+919876543210", "+919876543211"] {
    ///     let body = format!(r#"{{"to_number": "{n}", "agent_id": "a"}}"#);
    ///     engine.submit(now, body.as_bytes())?;
    /// }
    /// let mut calls = Vec::with_capacity(8);
    /// assert_eq!(engine.dial_into(now, 1, &mut calls)?, 1);
    /// assert_eq!(engine.dial_into(now, 5, &mut calls)?, 1);
    /// assert_eq!(calls[1].to_number, "+919876543211");
    /// calls.clear(); // the capacity stays for the next round
    /// assert_eq!(engine.dial_into(now, 5, &mut calls)?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dial_into(
        &mut self,
        now: DateTime<Utc>,
        max: usize,
        out: &mut Vec<Dispatch>,
    ) -> Result<usize, OpError> {
        let now = self.begin_input(now)?;
        let handed = self.hand_out(now, max, out);
        self.end_input();
        Ok(handed)
    }

    /// Reports the outcome of an attempt (semantics §3.4, §3.5): pass the
    /// [`Dispatch`] (or its [`AttemptId`]) the attempt was handed out as.
    /// The report applies only while that attempt is the call's current
    /// one and in flight, so a carrier's late or redelivered webhook for
    /// an earlier attempt can never end a later one.
    ///
    /// # Errors
    /// [`OpError::UnknownCall`] for a call that never existed or ended;
    /// [`OpError::StaleReport`] when the call's current attempt (the last
    /// one handed out) is another; [`OpError::NotInFlight`] when it is
    /// this one but it already ended (a repeated report);
    /// [`OpError::TimeOutOfRange`]. Errors change nothing.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, TimeDelta, Utc};
    /// use redial::{OpError, Outcome};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a",
    ///                 "number_of_retries": 2, "gap_between_retries": 1}"#;
    /// engine.submit(now, body)?;
    /// let first = engine.dial(now, 1)?.remove(0);
    /// engine.report(now, &first, Outcome::Busy)?;
    /// let later = now + TimeDelta::try_minutes(2).ok_or("range")?;
    /// let second = engine.dial(later, 1)?.remove(0);
    /// // The carrier redelivers the first webhook: refused, nothing changes.
    /// let late = engine.report(later, &first, Outcome::Busy);
    /// assert!(matches!(late, Err(OpError::StaleReport { attempt: 1, current: Some(2), .. })));
    /// engine.report(later, &second, Outcome::Completed)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report(
        &mut self,
        now: DateTime<Utc>,
        attempt: impl Into<AttemptId>,
        outcome: Outcome,
    ) -> Result<(), OpError> {
        let AttemptId { call, attempt } = attempt.into();
        let now = self.begin_input(now)?;
        let result = self.report_outcome(now, call, Some(attempt), outcome);
        self.end_input();
        result
    }

    /// Reports the outcome of whatever attempt of `call` is in flight, for
    /// hosts that cannot carry the attempt through their dialer.
    ///
    /// **Unsafe under redelivery**: a late or repeated report of an earlier
    /// attempt that arrives while a later one is in flight ends the later
    /// one. Prefer [`Scheduler::report`].
    ///
    /// # Errors
    /// [`OpError::UnknownCall`] for a call that never existed or ended,
    /// [`OpError::NotInFlight`] for a live call with no attempt in flight,
    /// [`OpError::TimeOutOfRange`]. Errors change nothing.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Outcome, OpError};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?.call;
    /// assert_eq!(engine.report_current(now, id, Outcome::Busy), Err(OpError::NotInFlight(id)));
    /// engine.dial(now, 1)?;
    /// engine.report_current(now, id, Outcome::Completed)?;
    /// assert_eq!(engine.report_current(now, id, Outcome::Completed), Err(OpError::UnknownCall(id)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report_current(
        &mut self,
        now: DateTime<Utc>,
        call: CallId,
        outcome: Outcome,
    ) -> Result<(), OpError> {
        let now = self.begin_input(now)?;
        let result = self.report_outcome(now, call, None, outcome);
        self.end_input();
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
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?.call;
    /// engine.cancel(now, id)?;
    /// assert_eq!(engine.live_calls(), 0);
    /// assert!(engine.dial(now, 1)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&mut self, now: DateTime<Utc>, call: CallId) -> Result<(), OpError> {
        let now = self.begin_input(now)?;
        let result = match self.calls.resolve(call) {
            None => Err(OpError::UnknownCall(call)),
            Some(slot) => {
                self.cancel_slot(slot, now);
                Ok(())
            }
        };
        self.end_input();
        result
    }

    /// Applies every time-driven change up to `now`: calls becoming due,
    /// windows closing, attempts timing out.
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// engine.dial(now, 1)?;
    /// let timeout = engine.poll_timeout().ok_or("no timeout")?;
    /// assert_eq!(timeout, "2025-12-31T06:30:00Z".parse::<DateTime<Utc>>()?); // 120 minutes later
    /// engine.handle_timeout(timeout)?;
    /// let names: Vec<_> = std::iter::from_fn(|| engine.poll_event()).map(|e| e.kind.name()).collect();
    /// assert_eq!(names, ["accepted", "triggered", "timed_out", "exhausted"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) -> Result<(), OpError> {
        self.begin_input(now)?;
        self.end_input();
        Ok(())
    }

    // ---- outputs ------------------------------------------------------

    /// The next instant at which something time-driven happens: a call
    /// becomes due, a window closes on a waiting call, or an attempt times
    /// out. `None` when nothing is pending. A call that is already due is
    /// not a timeout: dial whenever lines are free. O(1).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.timers.peek().map(instant)
    }

    /// Whether an input at `now` would find nothing to do: `now` is at or
    /// before the engine's clock, no timer is due by then and no call is
    /// ready. A dial would then hand out nothing and `handle_timeout`
    /// change nothing, so a host that journals its inputs (or replicates
    /// them) can answer "no calls" without writing, or waiting on, a
    /// record. False for an engine that has seen no input. O(1).
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a",
    ///                 "schedule_at": "2025-12-31T05:00:00Z"}"#;
    /// engine.submit(now, body)?;
    /// assert!(engine.is_idle_at(now)); // nothing ready before 05:00
    /// let due = engine.poll_timeout().ok_or("a timer")?;
    /// assert!(!engine.is_idle_at(due)); // the clock would move and the call become ready
    /// engine.handle_timeout(due)?;
    /// assert!(!engine.is_idle_at(due)); // a call is ready to dial
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_idle_at(&self, now: DateTime<Utc>) -> bool {
        let secs = now.timestamp();
        self.now.is_some_and(|clock| {
            in_range(secs)
                && secs <= clock
                && self.timers.peek().is_none_or(|at| at > clock)
                && self.ready.len() == 0
        })
    }

    /// The next event, oldest first. Drain until `None` after each input.
    ///
    /// Events wait in their compact form; this builds the full [`Event`]
    /// (its `DateTime`s) from it. [`Scheduler::poll_compact_event`] hands
    /// out the compact form itself.
    #[must_use]
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop().map(Event::from)
    }

    /// The next event in its compact form ([`CompactEvent`]: instants as
    /// Unix seconds), oldest first: the same events in the same order as
    /// [`Scheduler::poll_event`], without building a `DateTime` per event.
    /// Drain until `None` after each input; the two may be mixed.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::event::CompactKind;
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b"}"#)?.call;
    /// engine.cancel(now, id)?;
    /// let kinds: Vec<_> = std::iter::from_fn(|| engine.poll_compact_event()).collect();
    /// assert_eq!(kinds[0].kind.name(), "accepted");
    /// assert_eq!(kinds[1].kind, CompactKind::Cancelled);
    /// assert_eq!(kinds[1].batch_id.as_deref(), Some("b"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn poll_compact_event(&mut self) -> Option<CompactEvent> {
        self.events.pop()
    }

    // ---- shared by the rooms -------------------------------------------

    /// Queues an event about the call in `slot`. A terminal event names
    /// the call's agent and batch, which the host cannot ask for later.
    fn emit(&mut self, at: Secs, slot: Slot, kind: CompactKind) {
        let Some(c) = self.calls.get(slot) else {
            debug_assert!(false, "an event about an empty slot");
            return;
        };
        let mut event = CompactEvent {
            at,
            call: Some(CallId::stored(c.seq(), slot)),
            kind,
            agent_id: None,
            batch_id: None,
        };
        if event.kind.is_terminal() {
            let member = self.registry.membership(c.lane);
            event.agent_id = self
                .registry
                .agent(member.agent)
                .map(|a| Arc::clone(&a.name));
            event.batch_id = self
                .registry
                .batch(member.batch)
                .map(|b| Arc::clone(&b.name));
        }
        self.events.push(event);
    }

    /// Cumulative counts of what the engine has said since it was made or
    /// restored (snapshots do not carry them): accepted and rejected
    /// requests, attempts, retries, carry-overs, timeouts and every kind of
    /// end. Plain increments as events are queued; enough for a `/metrics`
    /// endpoint. O(1).
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::Outcome;
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// let _ = engine.submit(now, br#"{"to_number": "12"}"#);
    /// let d = engine.dial(now, 1)?.remove(0);
    /// engine.report(now, &d, Outcome::InvalidNumber)?;
    /// let c = engine.counters();
    /// assert_eq!((c.accepted, c.rejected_400, c.attempts), (1, 1, 1));
    /// assert_eq!(c.failed.get(&Outcome::InvalidNumber), Some(&1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counters(&self) -> &Counters {
        self.events.counters()
    }

    fn set_paused(&mut self, now: DateTime<Utc>, batch: &str, paused: bool) -> Result<(), OpError> {
        self.begin_input(now)?;
        let result = match self.registry.batch_id(batch) {
            None => Err(OpError::UnknownBatch(batch.to_owned())),
            Some(b) => {
                self.registry.set_paused(b, paused, &mut self.ready);
                Ok(())
            }
        };
        self.end_input();
        result
    }
}
