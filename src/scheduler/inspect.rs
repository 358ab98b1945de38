//! Read-only views: what a host can ask the engine about its calls, batches
//! and agents, each with its cost. Nothing here changes the engine.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::Scheduler;
use super::registry::{Agent, Batch};
use crate::call::{Call, CallState};
use crate::event::CallId;
use crate::number::PhoneNumber;
use crate::policy::calendar::{HORIZON_DAYS, Permit};
use crate::queue::Slot;
use crate::time::{DAY, MAX_TIME, ceil_secs, instant};
use crate::window::Window;

/// A live call, as [`Scheduler::call`] shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CallInfo {
    /// Its ID (`call-n-s`).
    pub call: CallId,
    /// Waiting, ready or in flight.
    pub state: CallState,
    /// The attempt that is pending (waiting or ready) or in flight, 1-based.
    pub attempt: u32,
    /// When that attempt is (or was) due.
    pub due: DateTime<Utc>,
    /// The end of the window occurrence the call is bound to: it carries
    /// over or expires there if not dialed. `None` without a window.
    pub occurrence_end: Option<DateTime<Utc>>,
    /// Its daily window, if any.
    pub window: Option<Window>,
    /// The zone its window and wall-clock times are read in (the primary
    /// zone, policy.md 2).
    pub timezone: Tz,
    /// Every zone whose clock must permit an attempt, the primary first.
    pub zones: Vec<Tz>,
    /// The calling policies that apply to it, by name.
    pub policies: Vec<String>,
    /// The end of its lifetime: no attempt at or after it.
    pub expires: Option<DateTime<Utc>>,
    /// Whether it moves to the next occurrence rather than expire.
    pub carry_over: bool,
    /// Its campaign, if any.
    pub batch_id: Option<Arc<str>>,
    /// The agent that talks.
    pub agent_id: Arc<str>,
    /// The number it dials.
    pub to_number: PhoneNumber,
    /// `-100..=100`, higher first.
    pub priority: i8,
    /// Attempts it may still get after `attempt` (retries left).
    pub retries_left: u32,
    /// Whether a cancel waits for its in-flight attempt to end.
    pub cancel_requested: bool,
}

/// A batch the engine knows (paused, or named by a live call), as
/// [`Scheduler::batch`] shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BatchInfo {
    /// Its `batch_id`.
    pub batch_id: Arc<str>,
    /// Whether it is paused.
    pub paused: bool,
    /// Its live calls not due yet (or waiting for a window).
    pub waiting: u32,
    /// Its live calls due and waiting for a line.
    pub ready: u32,
    /// Its live calls with an attempt in flight.
    pub in_flight: u32,
}

/// An agent the engine knows (registered, or named by a live call), as
/// [`Scheduler::agent`] shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AgentInfo {
    /// Its `agent_id`.
    pub agent_id: Arc<str>,
    /// Whether it was registered.
    pub registered: bool,
    /// Its cap on calls in flight, if any.
    pub max_concurrent_calls: Option<u32>,
    /// Its calls in flight.
    pub in_flight: u32,
    /// Its live calls, in flight or not.
    pub live_calls: u32,
}

impl BatchInfo {
    fn of(b: &Batch) -> BatchInfo {
        BatchInfo {
            batch_id: Arc::clone(&b.name),
            paused: b.paused,
            waiting: b.calls.saturating_sub(b.ready).saturating_sub(b.in_flight),
            ready: b.ready,
            in_flight: b.in_flight,
        }
    }
}

impl AgentInfo {
    fn of(a: &Agent) -> AgentInfo {
        AgentInfo {
            agent_id: Arc::clone(&a.name),
            registered: a.registered,
            max_concurrent_calls: a.cap,
            in_flight: a.in_flight,
            live_calls: a.calls,
        }
    }
}

impl Scheduler {
    /// A live call: state, attempt, due, the occurrence it is bound to,
    /// batch, agent, number, priority and retries left; `None` once it
    /// ended. O(1) for the IDs the engine hands out (a bare `call-n` ID
    /// costs a scan of the live calls until an input builds its index).
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::CallState;
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b",
    ///                 "number_of_retries": 2}"#;
    /// let id = engine.submit(now, body)?.call;
    /// engine.dial(now, 1)?;
    /// let info = engine.call(id).ok_or("ended")?;
    /// assert_eq!((info.state, info.attempt, info.retries_left), (CallState::InFlight, 1, 2));
    /// assert_eq!((info.batch_id.as_deref(), &*info.agent_id), (Some("b"), "a"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call(&self, id: CallId) -> Option<CallInfo> {
        let slot = self.calls.find(id)?;
        self.calls.get(slot).map(|c| self.info(slot, c))
    }

    /// Every live call, in acceptance order. O(n log n) in the live calls,
    /// plus an allocation per call for its view: for reports and tools,
    /// not for a hot loop.
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
    /// let numbers: Vec<_> = engine.calls().iter().map(|c| c.to_number.to_string()).collect();
    /// assert_eq!(numbers, ["+919876543210", "+919876543211"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn calls(&self) -> Vec<CallInfo> {
        self.calls_where(|_| true)
    }

    /// The live calls of one batch, in acceptance order; empty for a batch
    /// the engine does not know. O(n) in all live calls, plus the sort.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b"}"#)?;
    /// engine.submit(now, br#"{"to_number": "+919876543211", "agent_id": "a"}"#)?;
    /// assert_eq!(engine.batch_calls("b").len(), 1);
    /// assert!(engine.batch_calls("nope").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batch_calls(&self, batch: &str) -> Vec<CallInfo> {
        match self.registry.batch_id(batch) {
            Some(b) => self.calls_where(|c| self.registry.membership(c.lane).batch == b),
            None => Vec::new(),
        }
    }

    /// A known batch (paused, or named by a live call): its paused flag
    /// and its live calls by state; `None` for a batch the engine does not
    /// know. O(log b) in the known batches.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// for n in ["+919876543210", "+919876543211"] {
    ///     let body = format!(r#"{{"to_number": "{n}", "agent_id": "a", "batch_id": "b"}}"#);
    ///     engine.submit(now, body.as_bytes())?;
    /// }
    /// engine.dial(now, 1)?;
    /// engine.pause_batch(now, "b")?;
    /// let b = engine.batch("b").ok_or("unknown")?;
    /// assert_eq!((b.paused, b.waiting, b.ready, b.in_flight), (true, 0, 1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batch(&self, batch: &str) -> Option<BatchInfo> {
        let id = self.registry.batch_id(batch)?;
        self.registry.batch(id).map(BatchInfo::of)
    }

    /// Every known batch, in name order. O(b) in the known batches.
    pub fn batches(&self) -> Vec<BatchInfo> {
        self.registry
            .batches_by_name()
            .map(|(_, b)| BatchInfo::of(b))
            .collect()
    }

    /// A known agent (registered, or named by a live call): registration,
    /// cap, calls in flight and live calls; `None` for an agent the engine
    /// does not know. O(log a) in the known agents.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.register_agent(now, "a", Some(1))?;
    /// for n in ["+919876543210", "+919876543211"] {
    ///     let body = format!(r#"{{"to_number": "{n}", "agent_id": "a"}}"#);
    ///     engine.submit(now, body.as_bytes())?;
    /// }
    /// engine.dial(now, 5)?;
    /// let a = engine.agent("a").ok_or("unknown")?;
    /// assert_eq!((a.registered, a.max_concurrent_calls, a.in_flight, a.live_calls), (true, Some(1), 1, 2));
    /// assert!(engine.agent("nobody").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn agent(&self, agent: &str) -> Option<AgentInfo> {
        let id = self.registry.agent_id(agent)?;
        self.registry.agent(id).map(AgentInfo::of)
    }

    /// The next `count` permitted intervals of a live call (policy.md 3),
    /// from `from` on: the instants at which an attempt may trigger, by its
    /// window, its zones' wall clocks and its calling policies (its
    /// lifetime not applied), merged where they touch. Empty for an ended
    /// call; one open-ended interval (ending at the search horizon) for a
    /// call that may trigger at any time. Cost: up to 400 days of
    /// permitted-set search.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?; // 10:00 in Kolkata
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a",
    ///                 "min_trigger_time": "09:00", "max_trigger_time": "18:00"}"#;
    /// let id = engine.submit(now, body)?.call;
    /// let next = engine.permitted_intervals(id, now, 2);
    /// let day = |s: &str| s.parse::<DateTime<Utc>>();
    /// assert_eq!(next, [(now, day("2025-12-31T12:30:00Z")?), (day("2026-01-01T03:30:00Z")?, day("2026-01-01T12:30:00Z")?)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn permitted_intervals(
        &mut self,
        id: CallId,
        from: DateTime<Utc>,
        count: usize,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let Some(c) = self.calls.find(id).and_then(|slot| self.calls.get(slot)) else {
            return Vec::new();
        };
        let (set, window) = (c.rules, c.window());
        let horizon = ceil_secs(from).saturating_add(HORIZON_DAYS * DAY);
        let mut out = Vec::new();
        let mut t = ceil_secs(from);
        while out.len() < count {
            let Some(start) = self.calendar.next_permitted(set, window, t, horizon) else {
                break;
            };
            let end = match self.calendar.permit_at(set, window, start) {
                Permit::Until(end) => end.min(horizon),
                Permit::No | Permit::Forever => horizon,
            };
            out.push((instant(start), instant(end.min(MAX_TIME))));
            if end >= horizon {
                break;
            }
            t = end;
        }
        out
    }

    /// Every known agent, in name order. O(a) in the known agents.
    pub fn agents(&self) -> Vec<AgentInfo> {
        self.registry
            .agents_by_name()
            .map(|(_, a)| AgentInfo::of(a))
            .collect()
    }

    fn calls_where(&self, keep: impl Fn(&Call) -> bool) -> Vec<CallInfo> {
        let mut found: Vec<(u64, Slot)> = self
            .calls
            .iter()
            .filter(|(_, c)| keep(c))
            .map(|(slot, c)| (c.seq(), slot))
            .collect();
        found.sort_unstable();
        found
            .into_iter()
            .filter_map(|(_, slot)| self.calls.get(slot).map(|c| self.info(slot, c)))
            .collect()
    }

    fn info(&self, slot: Slot, c: &Call) -> CallInfo {
        let member = self.registry.membership(c.lane);
        CallInfo {
            call: CallId::stored(c.seq(), slot),
            state: c.state(),
            attempt: c.attempt(),
            due: instant(c.due),
            occurrence_end: c.occurrence_end().map(instant),
            window: c.window(),
            timezone: c.tz,
            zones: self
                .calendar
                .set(c.rules)
                .map_or_else(|| vec![c.tz], |s| s.zones.to_vec()),
            policies: self
                .calendar
                .set(c.rules)
                .map(|s| {
                    s.policies
                        .iter()
                        .filter_map(|p| self.config.policies.keys().nth(usize::from(*p)).cloned())
                        .collect()
                })
                .unwrap_or_default(),
            expires: c.expires().map(instant),
            carry_over: c.carry_over(),
            batch_id: self
                .registry
                .batch(member.batch)
                .map(|b| Arc::clone(&b.name)),
            agent_id: self
                .registry
                .agent(member.agent)
                .map_or_else(|| Arc::from(""), |a| Arc::clone(&a.name)),
            to_number: c.to_number(),
            priority: c.priority,
            retries_left: (u32::from(c.retries()) + 1).saturating_sub(c.attempt()),
            cancel_requested: c.cancel_requested(),
        }
    }
}
