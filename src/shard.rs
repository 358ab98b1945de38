//! Sharding: several engines behind one front, for many tenants or more
//! pending calls than one core serves.
//!
//! A [`Router`] owns `n` engines and sends each call to the engine its
//! `to_number` hashes to, so everything kept per number (frequency caps'
//! attempt histories, suppressions) lives in exactly one engine and is
//! enforced as by a single one. Batch operations and agent registrations
//! go to every engine; a dial compares the engines' best ready calls by
//! priority, then due instant, then engine number, and hands out from the
//! best each time; events come out merged by instant. Each engine can
//! then be its own journal, its own Raft group and its own thread.
//!
//! What changes against one engine:
//! - call IDs are per engine: a [`ShardCall`] names the engine too;
//! - equal priority and due instant across engines are ordered by engine
//!   number, not acceptance order;
//! - an agent's `max_concurrent_calls` holds in each engine: a host that
//!   wants a global cap of `c` over `n` engines registers `c / n`;
//! - idempotency keys are per number's engine (the same key with another
//!   number can be accepted twice).
//!
//! A router is deterministic as an engine is: the same inputs give the
//! same outputs, events and engine states.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::{Config, ConfigError};
use crate::event::{AttemptId, CallId, Dispatch, Event, OpError};
use crate::request::{BatchCall, CallRequest, Rejection};
use crate::retry::Outcome;
use crate::scheduler::{Accepted, ReadyRank, Scheduler};

/// A call of a sharded engine: the engine it lives in and its ID there.
/// Displays as `call-n-s@k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardCall {
    /// The engine's number, `0..n`.
    pub shard: u32,
    /// The call's ID in that engine.
    pub call: CallId,
}

impl fmt::Display for ShardCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.call, self.shard)
    }
}

/// The two fields routing reads from a body.
#[derive(Deserialize)]
struct Route {
    #[serde(default)]
    to_number: Option<String>,
    #[serde(default)]
    batch_id: Option<String>,
}

/// `n` engines, one per share of the numbers.
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// use redial::{Config, shard::Router};
/// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// let mut router = Router::new(Config::default(), 4)?;
/// let body = br#"{"to_number": "+919876543210", "agent_id": "a", "priority": 2}"#;
/// let (call, _) = router.submit(now, body)?;
/// assert_eq!(call.shard, router.shard_of("+919876543210"));
/// let calls = router.dial(now, 8)?;
/// assert_eq!(calls.len(), 1);
/// assert_eq!(calls[0].0, call.shard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Router {
    shards: Vec<Scheduler>,
    /// Batches paused through the router: a call accepted into one by an
    /// engine that did not know it is paused there too.
    paused: BTreeSet<String>,
    /// Events drained from the engines, merged by instant.
    events: VecDeque<(u32, Event)>,
}

impl Router {
    /// `n` new engines with the same configuration.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid configuration, or `n` outside
    /// `1..=1024` (key `shards`).
    pub fn new(config: Config, n: u32) -> Result<Router, ConfigError> {
        if !(1..=1024).contains(&n) {
            return Err(ConfigError {
                key: "shards".to_owned(),
                message: format!("{n}; expected 1 to 1024 engines"),
            });
        }
        let shards = (0..n)
            .map(|_| Scheduler::new(config.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Router {
            shards,
            paused: BTreeSet::new(),
            events: VecDeque::new(),
        })
    }

    /// The engines, by number (to inspect, snapshot or journal each).
    pub fn shards(&self) -> &[Scheduler] {
        &self.shards
    }

    /// The engine `to_number` belongs to: FNV-1a (64-bit) of its text,
    /// modulo the number of engines. Stable across releases: changing it
    /// would move numbers between engines.
    pub fn shard_of(&self, to_number: &str) -> u32 {
        let hash = to_number.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
        });
        let n = u64::try_from(self.shards.len()).unwrap_or(1).max(1);
        u32::try_from(hash % n).unwrap_or(0)
    }

    fn shard(&mut self, shard: u32) -> Option<&mut Scheduler> {
        self.shards.get_mut(shard as usize)
    }

    /// [`Scheduler::submit`] on the engine of the body's `to_number` (a
    /// body without one goes to engine 0, which refuses it).
    ///
    /// # Errors
    /// The engine's [`Rejection`] (its `rejected` event is in that
    /// engine: [`Router::shard_of`] the number, or engine 0).
    pub fn submit(
        &mut self,
        now: DateTime<Utc>,
        body: &[u8],
    ) -> Result<(ShardCall, Accepted), Rejection> {
        let route: Option<Route> = serde_json::from_slice(body).ok();
        let (number, batch) = route.map_or((None, None), |r| (r.to_number, r.batch_id));
        let shard = number.as_deref().map_or(0, |n| self.shard_of(n));
        let paused = batch.filter(|b| self.paused.contains(b));
        let Some(engine) = self.shards.get_mut(shard as usize) else {
            return Err(Rejection::bad_body("no engine".to_owned()));
        };
        match engine.submit(now, body) {
            Ok(accepted) => {
                if let Some(batch) = paused {
                    // Known now, so this cannot fail: the engine pauses it.
                    let _ = engine.pause_batch(now, &batch);
                }
                let call = ShardCall {
                    shard,
                    call: accepted.call,
                };
                Ok((call, accepted))
            }
            Err(rejection) => Err(rejection),
        }
    }

    /// [`Scheduler::submit_batch`] through the router: each engine gets, as
    /// one batch, the calls whose numbers it owns, in their order. The
    /// answers come back in the calls' order, each with its engine.
    ///
    /// # Errors
    /// Per call, the engine's [`Rejection`] (its `rejected` event is in
    /// that engine).
    pub fn submit_batch(
        &mut self,
        now: DateTime<Utc>,
        template: &CallRequest,
        calls: &[BatchCall],
    ) -> Vec<Result<(ShardCall, Accepted), Rejection>> {
        let shards: Vec<u32> = calls.iter().map(|c| self.shard_of(&c.to_number)).collect();
        let mut answers: Vec<Option<Result<(ShardCall, Accepted), Rejection>>> =
            calls.iter().map(|_| None).collect();
        let paused = template
            .batch_id
            .as_ref()
            .filter(|b| self.paused.contains(*b));
        let mut own = Vec::new();
        let mut out = Vec::new();
        for (shard, engine) in (0_u32..).zip(&mut self.shards) {
            own.clear();
            own.extend(
                calls
                    .iter()
                    .zip(&shards)
                    .filter(|(_, s)| **s == shard)
                    .map(|(c, _)| c.clone()),
            );
            if own.is_empty() {
                continue;
            }
            out.clear();
            engine.submit_batch(now, template, &own, &mut out);
            if let Some(batch) = paused
                && out.iter().any(Result::is_ok)
            {
                // Known now, so this cannot fail: the engine pauses it.
                let _ = engine.pause_batch(now, batch);
            }
            let slots = answers
                .iter_mut()
                .zip(&shards)
                .filter(|(_, s)| **s == shard)
                .map(|(a, _)| a);
            for (slot, answer) in slots.zip(out.drain(..)) {
                *slot = Some(answer.map(|a| {
                    (
                        ShardCall {
                            shard,
                            call: a.call,
                        },
                        a,
                    )
                }));
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(Rejection::bad_body("no engine".to_owned()))))
            .collect()
    }

    /// Hands out up to `max` calls: each time, the best of the engines'
    /// best ready calls (priority, then due, then engine number).
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`], before anything is handed out.
    pub fn dial(
        &mut self,
        now: DateTime<Utc>,
        max: usize,
    ) -> Result<Vec<(u32, Dispatch)>, OpError> {
        let mut ranks: Vec<Option<ReadyRank>> = Vec::with_capacity(self.shards.len());
        for engine in &mut self.shards {
            ranks.push(engine.best_ready(now)?);
        }
        let mut out = Vec::new();
        let mut one = Vec::with_capacity(1);
        while out.len() < max {
            let best = ranks
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.map(|r| (i, r)))
                .max_by(|(i, a), (j, b)| {
                    a.priority
                        .cmp(&b.priority)
                        .then(b.due.cmp(&a.due))
                        .then(j.cmp(i))
                });
            let Some((i, _)) = best else { break };
            let (Some(engine), Some(rank)) = (self.shards.get_mut(i), ranks.get_mut(i)) else {
                break;
            };
            one.clear();
            engine.dial_into(now, 1, &mut one)?;
            // A call held back by a frequency cap may leave the engine
            // with nothing to hand out: its rank is read again either way.
            *rank = engine.best_ready(now)?;
            if let Some(d) = one.pop() {
                out.push((u32::try_from(i).unwrap_or(u32::MAX), d));
            }
        }
        Ok(out)
    }

    /// [`Scheduler::report`] on engine `shard`.
    ///
    /// # Errors
    /// As [`Scheduler::report`]; [`OpError::UnknownCall`] for an engine
    /// that does not exist.
    pub fn report(
        &mut self,
        now: DateTime<Utc>,
        shard: u32,
        attempt: impl Into<AttemptId>,
        outcome: Outcome,
    ) -> Result<(), OpError> {
        let attempt = attempt.into();
        match self.shard(shard) {
            Some(engine) => engine.report(now, attempt, outcome),
            None => Err(OpError::UnknownCall(attempt.call)),
        }
    }

    /// [`Scheduler::cancel`] on the call's engine.
    ///
    /// # Errors
    /// As [`Scheduler::cancel`].
    pub fn cancel(&mut self, now: DateTime<Utc>, call: ShardCall) -> Result<(), OpError> {
        match self.shard(call.shard) {
            Some(engine) => engine.cancel(now, call.call),
            None => Err(OpError::UnknownCall(call.call)),
        }
    }

    /// Applies a batch operation to every engine: done if one of them
    /// knew the batch (or the router had it paused).
    fn fan_out(
        &mut self,
        now: DateTime<Utc>,
        batch: &str,
        op: fn(&mut Scheduler, DateTime<Utc>, &str) -> Result<(), OpError>,
    ) -> Result<bool, OpError> {
        let mut known = false;
        for engine in &mut self.shards {
            match op(engine, now, batch) {
                Ok(()) => known = true,
                Err(OpError::UnknownBatch(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(known)
    }

    /// [`Scheduler::pause_batch`] in every engine; later calls of the batch
    /// are paused in whichever engine accepts them.
    ///
    /// # Errors
    /// [`OpError::UnknownBatch`] when no engine knows the batch;
    /// [`OpError::InvalidId`], [`OpError::TimeOutOfRange`].
    pub fn pause_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        if self.fan_out(now, batch, Scheduler::pause_batch)? {
            self.paused.insert(batch.to_owned());
            Ok(())
        } else {
            Err(OpError::UnknownBatch(batch.to_owned()))
        }
    }

    /// [`Scheduler::resume_batch`] in every engine.
    ///
    /// # Errors
    /// As [`Router::pause_batch`].
    pub fn resume_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        self.end_pause(now, batch, Scheduler::resume_batch)
    }

    /// [`Scheduler::cancel_batch`] in every engine.
    ///
    /// # Errors
    /// As [`Router::pause_batch`].
    pub fn cancel_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        self.end_pause(now, batch, Scheduler::cancel_batch)
    }

    /// A resume or a cancel: applied in every engine, and the router
    /// forgets its pause either way. Done if an engine knew the batch or
    /// the router had it paused.
    fn end_pause(
        &mut self,
        now: DateTime<Utc>,
        batch: &str,
        op: fn(&mut Scheduler, DateTime<Utc>, &str) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let known = self.fan_out(now, batch, op)?;
        let was_paused = self.paused.remove(batch);
        if known || was_paused {
            Ok(())
        } else {
            Err(OpError::UnknownBatch(batch.to_owned()))
        }
    }

    /// [`Scheduler::register_agent`] in every engine: the cap holds in
    /// each of them.
    ///
    /// # Errors
    /// As [`Scheduler::register_agent`], from the first engine (all refuse
    /// alike, so nothing changed).
    pub fn register_agent(
        &mut self,
        now: DateTime<Utc>,
        agent: &str,
        max_concurrent_calls: Option<u32>,
    ) -> Result<(), OpError> {
        for engine in &mut self.shards {
            engine.register_agent(now, agent, max_concurrent_calls)?;
        }
        Ok(())
    }

    /// [`Scheduler::suppress`] in the number's engine.
    ///
    /// # Errors
    /// As [`Scheduler::suppress`].
    pub fn suppress(
        &mut self,
        now: DateTime<Utc>,
        to_number: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), OpError> {
        let shard = self.shard_of(to_number);
        match self.shard(shard) {
            Some(engine) => engine.suppress(now, to_number, until),
            None => Err(OpError::InvalidNumber(to_number.chars().take(64).collect())),
        }
    }

    /// [`Scheduler::unsuppress`] in the number's engine.
    ///
    /// # Errors
    /// As [`Scheduler::unsuppress`].
    pub fn unsuppress(&mut self, now: DateTime<Utc>, to_number: &str) -> Result<(), OpError> {
        let shard = self.shard_of(to_number);
        match self.shard(shard) {
            Some(engine) => engine.unsuppress(now, to_number),
            None => Err(OpError::InvalidNumber(to_number.chars().take(64).collect())),
        }
    }

    /// [`Scheduler::handle_timeout`] in every engine.
    ///
    /// # Errors
    /// [`OpError::TimeOutOfRange`], before any engine changed.
    pub fn handle_timeout(&mut self, now: DateTime<Utc>) -> Result<(), OpError> {
        for engine in &mut self.shards {
            engine.handle_timeout(now)?;
        }
        Ok(())
    }

    /// The earliest of the engines' timeouts.
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.shards.iter().filter_map(Scheduler::poll_timeout).min()
    }

    /// The next event and its engine: the engines' events merged by
    /// instant (then engine number, then each engine's own order).
    pub fn poll_event(&mut self) -> Option<(u32, Event)> {
        if self.events.is_empty() {
            let mut all = Vec::new();
            for (i, engine) in self.shards.iter_mut().enumerate() {
                let shard = u32::try_from(i).unwrap_or(u32::MAX);
                all.extend(std::iter::from_fn(|| engine.poll_event()).map(|e| (shard, e)));
            }
            // Stable: each engine's events keep their order.
            all.sort_by_key(|(shard, e)| (e.at, *shard));
            self.events = all.into();
        }
        self.events.pop_front()
    }

    /// Live calls in all engines.
    pub fn live_calls(&self) -> usize {
        self.shards.iter().map(Scheduler::live_calls).sum()
    }
}
