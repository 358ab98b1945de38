//! The suppression room (policy.md 5): the do-not-call list and what a
//! suppression does to a number's live calls.
//!
//! It owns `suppress` and `unsuppress`, the suppression a `do_not_call`
//! outcome makes, and ending the live calls of a suppressed number: at once
//! if waiting or ready (in acceptance order), at the end of their attempt
//! if in flight.

use chrono::{DateTime, Utc};

use super::Scheduler;
use crate::call::CallState;
use crate::event::{CompactKind, OpError};
use crate::number::e164_digits;
use crate::queue::Slot;
use crate::time::{DAY, Secs, ceil_secs};

impl Scheduler {
    /// Suppresses a number (do-not-call, policy.md 5): until `until`, or
    /// with no end. Its waiting and ready calls end `suppressed` now, in
    /// acceptance order; an in-flight call ends at its report or timeout
    /// (`completed` if it was, else `suppressed`; no retry). Submits for it
    /// get 403 while it lasts. A suppression is never shortened: the later
    /// end wins, and an `until` at or before `now` changes nothing. It ends
    /// at `until` with no event.
    ///
    /// # Errors
    /// [`OpError::InvalidNumber`] unless `to_number` is E.164,
    /// [`OpError::TimeOutOfRange`]. Errors change nothing.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a"}"#;
    /// engine.submit(now, body)?;
    /// let until: DateTime<Utc> = "2026-01-31T00:00:00Z".parse()?;
    /// engine.suppress(now, "+919876543210", Some(until))?;
    /// assert_eq!(engine.live_calls(), 0); // it ended `suppressed`
    /// assert_eq!(engine.submit(now, body).unwrap_err().status, 403);
    /// engine.unsuppress(now, "+919876543210")?;
    /// assert!(engine.submit(now, body).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn suppress(
        &mut self,
        now: DateTime<Utc>,
        to_number: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), OpError> {
        let now = self.begin_input(now)?;
        let result = match e164_digits(to_number) {
            None => Err(OpError::InvalidNumber(to_number.chars().take(64).collect())),
            Some(number) => {
                self.suppress_number(number, now, until.map(ceil_secs));
                Ok(())
            }
        };
        self.end_input();
        result
    }

    /// Lifts a suppression, the host's explicit decision (say, after new
    /// consent). A number that is not suppressed: no effect, no error. It
    /// does not undo a suppression already pending on an in-flight call.
    ///
    /// # Errors
    /// [`OpError::InvalidNumber`], [`OpError::TimeOutOfRange`].
    pub fn unsuppress(&mut self, now: DateTime<Utc>, to_number: &str) -> Result<(), OpError> {
        let now = self.begin_input(now)?;
        let result = match e164_digits(to_number) {
            None => Err(OpError::InvalidNumber(to_number.chars().take(64).collect())),
            Some(number) => {
                let _ = now;
                self.numbers.unsuppress(number);
                Ok(())
            }
        };
        self.end_input();
        result
    }

    /// Suppresses `number` from `at` and ends its live calls.
    pub(super) fn suppress_number(&mut self, number: u64, at: Secs, until: Option<Secs>) {
        self.numbers.suppress(number, at, until);
        if self.numbers.suppressed(number, at).is_none() {
            return;
        }
        // Suppressions are rare: a scan of the live calls costs less than
        // keeping every call in an index by number.
        let mut calls: Vec<(u64, Slot)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.number() == number)
            .map(|(slot, c)| (c.seq(), slot))
            .collect();
        calls.sort_unstable();
        for (_, slot) in calls {
            let Some(call) = self.calls.get_mut(slot) else {
                continue;
            };
            match call.state() {
                CallState::InFlight => call.request_suppress(),
                CallState::Waiting | CallState::Ready => {
                    self.end_call(slot, at, CompactKind::Suppressed);
                }
            }
        }
    }

    /// The suppression a `do_not_call` outcome at `at` makes for a call
    /// under policies `policies` (policy.md 5): the longest of the
    /// engine's `do_not_call_suppression_days` (none: no end) and the
    /// policies' `suppress_days_after_do_not_call`.
    pub(super) fn suppress_after_do_not_call(&mut self, number: u64, set: u32, at: Secs) {
        let policy_days = self
            .calendar
            .set(set)
            .map(|s| s.policies.to_vec())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                self.calendar
                    .policy(p)
                    .and_then(|p| p.suppress_days_after_do_not_call())
            })
            .max();
        let until = match self.config.do_not_call_suppression_days {
            None => None,
            Some(days) => match days.max(policy_days.unwrap_or(0)) {
                0 => return,
                days => Some(at.saturating_add(Secs::from(days) * DAY)),
            },
        };
        self.suppress_number(number, at, until);
    }
}
