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
//!   calls with `carry_over` carry over;
//! - with calling policies (policy.md): an attempt triggers only at a
//!   permitted instant, read independently here (in every zone of the call,
//!   the wall clock inside the window and each policy's hours, on no
//!   holiday), before the call's lifetime ends, never to a suppressed
//!   number, and no number gets more attempts than a cap of the call
//!   allows in any rolling period.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use redial::{CallId, CallInfo, CallRequest, Config, Event, EventKind, Outcome, Policy, Window};

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
    /// Every zone whose clock must permit an attempt (the engine's answer,
    /// from the number's data; checked on its own elsewhere).
    pub zones: Vec<Tz>,
    /// The calling policies that apply, by name.
    pub policies: Vec<String>,
    pub expires: Option<DateTime<Utc>>,
}

/// Follows an engine's events; see the module docs.
#[derive(Default)]
pub struct Checker {
    pub calls: BTreeMap<CallId, Tracked>,
    paused: BTreeMap<String, bool>,
    caps: BTreeMap<String, Option<u32>>,
    /// The engine's configuration (its policies and suppression days).
    config: Config,
    /// Every attempt's instant, by number.
    triggers: BTreeMap<String, Vec<DateTime<Utc>>>,
    /// Suppressed numbers and until when (`None`: no end).
    suppressed: BTreeMap<String, Option<DateTime<Utc>>>,
    /// Triggers checked against a calling policy (for coverage).
    pub policy_triggers: u64,
}

/// Dial order: higher priority, then earlier due, then earlier accepted.
type Rank = (i8, Reverse<DateTime<Utc>>, Reverse<CallId>);

impl Checker {
    /// A checker for an engine with this configuration.
    pub fn with_config(config: Config) -> Checker {
        Checker {
            config,
            ..Checker::default()
        }
    }

    /// The engine's view of a call it accepted: its zones, policies and
    /// lifetime.
    pub fn rules(&mut self, info: &CallInfo) {
        if let Some(t) = self.calls.get_mut(&info.call) {
            // The primary zone: the number's when the request gave none.
            t.tz = info.timezone;
            t.zones = info.zones.clone();
            t.policies = info.policies.clone();
            t.expires = info.expires;
        }
    }

    /// The host suppressed a number (policy.md 5): never shortened.
    pub fn set_suppressed(
        &mut self,
        number: &str,
        from: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) {
        if until.is_some_and(|u| u <= from) {
            return;
        }
        let current = self
            .suppressed
            .get(number)
            .copied()
            .filter(|u| u.is_none_or(|u| u > from));
        let longer = match (current, until) {
            (None, u) => u,
            (Some(None), _) | (_, None) => None,
            (Some(Some(a)), Some(b)) => Some(a.max(b)),
        };
        self.suppressed.insert(number.to_owned(), longer);
    }

    /// The host lifted a suppression.
    pub fn lift(&mut self, number: &str) {
        self.suppressed.remove(number);
    }

    fn policy(&self, name: &str) -> Option<&Policy> {
        self.config.policies.get(name)
    }

    /// Whether instant `t` is permitted for a tracked call, read directly
    /// from the rule (policy.md 3).
    fn permitted(&self, t: &Tracked, at: DateTime<Utc>) -> bool {
        let zones = if t.zones.is_empty() {
            vec![t.tz]
        } else {
            t.zones.clone()
        };
        zones.iter().all(|tz| {
            let offset = tz
                .offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc();
            let local = at.naive_utc() + TimeDelta::try_seconds(i64::from(offset)).unwrap();
            let minute = local
                .time()
                .signed_duration_since(chrono::NaiveTime::MIN)
                .num_minutes() as u32;
            let in_window = t.window.is_none_or(|w| {
                let min = w.min().map_or(0, |m| m.hour() * 60 + m.minute());
                match w.max().map(|m| m.hour() * 60 + m.minute()) {
                    None => minute >= min,
                    Some(max) if min < max => min <= minute && minute < max,
                    Some(max) => minute >= min || minute < max,
                }
            });
            in_window
                && t.policies.iter().all(|p| {
                    self.policy(p).is_some_and(|p| {
                        !p.is_holiday(local.date()) && p.allows(local.date().weekday(), minute)
                    })
                })
        })
    }

    /// The suppression a `do_not_call` outcome makes (policy.md 5).
    fn do_not_call(&mut self, c: CallId, at: DateTime<Utc>) {
        let Some(t) = self.calls.get(&c) else { return };
        let number = t.req.to_number.clone();
        let policy_days = t
            .policies
            .iter()
            .filter_map(|p| {
                self.policy(p)
                    .and_then(Policy::suppress_days_after_do_not_call)
            })
            .max()
            .unwrap_or(0);
        let until = match self.config.do_not_call_suppression_days {
            None => None,
            Some(days) => match days.max(policy_days) {
                0 => return,
                days => Some(at + TimeDelta::try_days(i64::from(days)).unwrap()),
            },
        };
        self.set_suppressed(&number, at, until);
    }

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
                zones: Vec::new(),
                policies: Vec::new(),
                expires: None,
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
            EventKind::Deferred { due, .. } => {
                // A deferred call waits for a later instant; it was not in flight.
                if t.in_flight || *due <= e.at {
                    return Err(format!("{c}: bad deferral to {due} at {}", e.at));
                }
                self.track(c)?.due = Some(*due);
            }
            EventKind::TimedOut { attempt } if !t.in_flight || *attempt != t.attempts => {
                return Err(format!(
                    "{c}: timed out without attempt {attempt} in flight"
                ));
            }
            kind if kind.is_terminal() => {
                if matches!(
                    kind,
                    EventKind::Failed {
                        outcome: Outcome::DoNotCall
                    }
                ) {
                    self.do_not_call(c, e.at);
                }
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
        if !self.permitted(t, at) {
            return Err(format!(
                "{c} triggered at {at}, not permitted in zones {:?} under {:?}",
                t.zones, t.policies
            ));
        }
        if t.expires.is_some_and(|e| at >= e) {
            return Err(format!("{c} triggered at {at}, after its lifetime ended"));
        }
        let number = t.req.to_number.clone();
        if let Some(until) = self.suppressed.get(&number)
            && until.is_none_or(|u| u > at)
        {
            return Err(format!("{c} triggered at {at}, but {number} is suppressed"));
        }
        let history = self.triggers.entry(number.clone()).or_default();
        history.push(at);
        for p in &t.policies {
            let Some(cap) = self.config.policies.get(p).and_then(Policy::max_attempts) else {
                continue;
            };
            let since = at - TimeDelta::try_days(i64::from(cap.days)).unwrap();
            let count = history.iter().filter(|h| **h > since).count();
            if count > cap.count as usize {
                return Err(format!(
                    "{c} triggered at {at}: {count} attempts to {number} in {} days, cap {}",
                    cap.days, cap.count
                ));
            }
        }
        if !t.policies.is_empty() {
            self.policy_triggers += 1;
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
