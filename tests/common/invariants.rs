//! The engine's observable invariants, checked against its event stream.
//!
//! One checker for the property tests, the simulation and the ops fuzz
//! target (which includes this file by path). The host tells it what it
//! submitted and how it changed batches and agents; it follows every event
//! and fails on the first one that breaks a rule:
//! - a call's events come in time order, never after the clock, and none
//!   after its terminal event;
//! - an attempt triggers at the clock, never before the call is due, only
//!   inside its window, numbered one after the last, at most `R + 1`;
//! - a dispatch is the best eligible ready call: nothing due, not paused
//!   and with an agent below its cap outranks it;
//! - retries and carry-overs are due no earlier than they happen, and only
//!   calls with `carry_over` carry over.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use redial::{CallId, CallRequest, Event, EventKind, Window};

/// What the checker knows of one accepted call.
pub struct Tracked {
    pub req: CallRequest,
    pub tz: Tz,
    pub window: Option<Window>,
    /// When its pending attempt is due (set by its events).
    pub due: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub in_flight: bool,
    pub attempts: u32,
    pub ended: bool,
}

/// Follows an engine's events; see the module docs.
#[derive(Default)]
pub struct Checker {
    pub calls: BTreeMap<CallId, Tracked>,
    paused: BTreeMap<String, bool>,
    caps: BTreeMap<String, Option<u32>>,
}

/// Dial order: higher priority, then earlier due, then earlier accepted.
type Rank = (i8, Reverse<DateTime<Utc>>, Reverse<CallId>);

impl Checker {
    /// The host's submit was accepted as a new call (not a repeat).
    pub fn submitted(&mut self, id: CallId, req: CallRequest, default_tz: Tz) {
        let tz = req.timezone.unwrap_or(default_tz);
        let window = Window::new(req.min_trigger_time, req.max_trigger_time).ok();
        self.calls.insert(
            id,
            Tracked {
                req,
                tz,
                window,
                due: None,
                last_at: None,
                in_flight: false,
                attempts: 0,
                ended: false,
            },
        );
    }

    /// The host paused or resumed a batch (call after the step's
    /// time-driven events, which happened before the operation).
    pub fn set_paused(&mut self, batch: &str, paused: bool) {
        self.paused.insert(batch.to_owned(), paused);
    }

    /// The host registered an agent with a cap.
    pub fn set_cap(&mut self, agent: &str, cap: Option<u32>) {
        self.caps.insert(agent.to_owned(), cap);
    }

    pub fn rank(&self, c: CallId) -> Option<Rank> {
        let t = self.calls.get(&c)?;
        Some((t.req.priority, Reverse(t.due?), Reverse(c)))
    }

    pub fn paused(&self, t: &Tracked) -> bool {
        t.req
            .batch_id
            .as_ref()
            .is_some_and(|b| self.paused.get(b).copied().unwrap_or(false))
    }

    pub fn busy(&self, agent: &str) -> usize {
        self.calls
            .values()
            .filter(|t| t.in_flight && !t.ended && t.req.agent_id == agent)
            .count()
    }

    pub fn blocked_by_cap(&self, agent: &str) -> bool {
        self.caps
            .get(agent)
            .copied()
            .flatten()
            .is_some_and(|cap| self.busy(agent) >= cap as usize)
    }

    /// Live calls: accepted and not ended.
    pub fn live(&self) -> usize {
        self.calls.values().filter(|t| !t.ended).count()
    }

    /// Checks one event at the engine's clock `now`, and follows it.
    pub fn event(&mut self, e: &Event, now: DateTime<Utc>) -> Result<(), String> {
        let Some(c) = e.call else { return Ok(()) };
        let Some(t) = self.calls.get(&c) else {
            return Err(format!(
                "{c}: event {} for a call never submitted",
                e.kind.name()
            ));
        };
        if t.ended {
            return Err(format!("{c}: {} after its terminal event", e.kind.name()));
        }
        if e.at > now || t.last_at.is_some_and(|last| e.at < last) {
            return Err(format!(
                "{c}: {} at {} out of time order (clock {now}, last {:?})",
                e.kind.name(),
                e.at,
                t.last_at
            ));
        }
        match &e.kind {
            EventKind::Accepted {
                due,
                duplicate: false,
            } => {
                if t.due.is_some() {
                    return Err(format!("{c} accepted twice"));
                }
                self.track(c)?.due = Some(*due);
            }
            EventKind::Triggered { attempt } => self.triggered(c, e.at, now, *attempt)?,
            EventKind::RetryScheduled { attempt, due, .. } => {
                if !t.in_flight || *attempt != t.attempts + 1 || *due < e.at {
                    return Err(format!("{c}: bad retry {attempt} due {due} at {}", e.at));
                }
                let t = self.track(c)?;
                t.in_flight = false;
                t.due = Some(*due);
            }
            EventKind::CarriedOver { due } => {
                // A carry-over moves to the next occurrence's start, which
                // can be the closing instant itself: [00:00, 24:00) windows,
                // or an overnight window whose next start falls in a gap.
                if t.in_flight || *due < e.at || !t.req.carry_over {
                    return Err(format!("{c}: bad carry-over to {due} at {}", e.at));
                }
                self.track(c)?.due = Some(*due);
            }
            EventKind::TimedOut { attempt } if !t.in_flight || *attempt != t.attempts => {
                return Err(format!(
                    "{c}: timed out without attempt {attempt} in flight"
                ));
            }
            kind if kind.is_terminal() => {
                let t = self.track(c)?;
                t.ended = true;
                t.in_flight = false;
            }
            _ => {}
        }
        self.track(c)?.last_at = Some(e.at);
        Ok(())
    }

    fn track(&mut self, c: CallId) -> Result<&mut Tracked, String> {
        self.calls.get_mut(&c).ok_or_else(|| format!("{c} is gone"))
    }

    fn triggered(
        &mut self,
        c: CallId,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
        attempt: u32,
    ) -> Result<(), String> {
        let t = &self.calls[&c];
        let due = t
            .due
            .ok_or_else(|| format!("{c} triggered before it was accepted"))?;
        if at < due {
            return Err(format!("{c} triggered at {at} before due {due}"));
        }
        if at != now {
            return Err(format!("{c} triggered at {at} while dialing at {now}"));
        }
        if let Some(w) = t.window
            && !w.contains(t.tz, at)
        {
            return Err(format!("{c} triggered at {at} outside {w} in {}", t.tz));
        }
        if t.in_flight {
            return Err(format!("{c}: two attempts in flight"));
        }
        if attempt != t.attempts + 1 || attempt > u32::from(t.req.number_of_retries) + 1 {
            return Err(format!(
                "{c}: attempt {attempt} after {} with {} retries",
                t.attempts, t.req.number_of_retries
            ));
        }
        let mine = self.rank(c);
        for (o, ot) in &self.calls {
            let eligible = *o != c
                && !ot.ended
                && !ot.in_flight
                && ot.due.is_some_and(|d| d <= at)
                && !self.paused(ot)
                && !self.blocked_by_cap(&ot.req.agent_id);
            if eligible && self.rank(*o) > mine {
                return Err(format!("{c} dispatched at {at} while {o} outranks it"));
            }
        }
        let t = self.track(c)?;
        t.in_flight = true;
        t.attempts += 1;
        Ok(())
    }
}
