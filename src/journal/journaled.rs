//! [`Journaled`]: the input methods of a journaling host, without building
//! a [`Command`] per input.

use std::borrow::Borrow;

use chrono::{DateTime, Utc};

use crate::command::{Command, Output};
use crate::event::{AttemptId, Dispatch, OpError};
use crate::request::{BatchCall, CallRequest, Rejection};
use crate::retry::Outcome;
use crate::scheduler::{Accepted, Scheduler};

use super::{JournalError, append, codec};

/// An engine whose inputs are journaled: each method appends the input's
/// record to the log, counts it in [`Scheduler::position`] and applies it.
/// The record, the count and the effect are exactly those of
/// [`Scheduler::apply_journaled`] with the equivalent [`Command`]; what the
/// methods save is the command itself and its [`Output`]: no boxed request
/// for a submit, no vector of dispatches for a dial (they go to the host's
/// own, as with [`Scheduler::dial_into`]).
///
/// Made by [`Scheduler::journaled`]. Write and `fsync` the records before
/// acting on what the methods return.
///
/// # Errors
/// Each method returns [`JournalError::TooLarge`] when the input's record
/// would pass 4 GiB (only a submit can); the input is then neither
/// journaled nor applied. Inside it is the input method's own result.
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// use redial::{CallRequest, Command, Config, Outcome, Scheduler};
/// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// let mut engine = Scheduler::new(Config::default())?;
/// let mut log = Vec::new(); // the host's journal file
/// let mut dispatches = Vec::new();
/// let mut j = engine.journaled(&mut log);
/// j.submit_request(now, CallRequest::new("+919876543210", "a"))??;
/// assert_eq!(j.dial_into(now, 1, &mut dispatches)??, 1);
/// j.report(now, &dispatches[0], Outcome::Completed)??;
/// assert_eq!(engine.position(), 3);
///
/// // The same records as the commands themselves would have written.
/// let mut same = Scheduler::new(Config::default())?;
/// let mut same_log = Vec::new();
/// let request = Box::new(CallRequest::new("+919876543210", "a"));
/// same.apply_journaled(Command::SubmitRequest { now, request }, &mut same_log)?;
/// same.apply_journaled(Command::Dial { now, max: 1 }, &mut same_log)?;
/// let attempt = dispatches[0].attempt_id();
/// same.apply_journaled(Command::Report { now, attempt, outcome: Outcome::Completed }, &mut same_log)?;
/// assert_eq!(log, same_log);
/// assert_eq!(engine.snapshot().to_bytes(), same.snapshot().to_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Journaled<'a> {
    engine: &'a mut Scheduler,
    log: &'a mut Vec<u8>,
}

impl Scheduler {
    /// This engine's input methods, journaled into `log`: see
    /// [`Journaled`].
    ///
    /// # Example
    /// See [`Journaled`].
    pub fn journaled<'a>(&'a mut self, log: &'a mut Vec<u8>) -> Journaled<'a> {
        Journaled { engine: self, log }
    }
}

impl Journaled<'_> {
    /// Records an input whose fields `put` writes and counts it: the part
    /// every method shares before it applies the input.
    #[inline(always)]
    fn record(&mut self, put: impl FnOnce(&mut codec::Writer<'_>)) -> Result<(), JournalError> {
        append(self.engine.position, self.log, put)?;
        self.engine.position = self.engine.position.saturating_add(1);
        Ok(())
    }

    /// [`Scheduler::submit`], journaled as [`Command::Submit`].
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Config, Scheduler};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let mut log = Vec::new();
    /// let body = br#"{"to_number": "+919876543210", "agent_id": "a"}"#;
    /// let accepted = engine.journaled(&mut log).submit(now, body)??;
    /// assert!(!accepted.duplicate);
    /// assert_eq!(engine.position(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit(
        &mut self,
        now: DateTime<Utc>,
        body: &[u8],
    ) -> Result<Result<Accepted, Rejection>, JournalError> {
        self.record(|w| codec::put_submit(w, now, body))?;
        Ok(self.engine.submit(now, body))
    }

    /// [`Scheduler::submit_request`], journaled as
    /// [`Command::SubmitRequest`].
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// See [`Journaled`].
    pub fn submit_request(
        &mut self,
        now: DateTime<Utc>,
        request: impl Borrow<CallRequest>,
    ) -> Result<Result<Accepted, Rejection>, JournalError> {
        let request = request.borrow();
        self.record(|w| codec::put_submit_request(w, now, request))?;
        Ok(self.engine.submit_request(now, request))
    }

    /// [`Scheduler::submit_batch`], journaled as [`Command::SubmitBatch`]:
    /// one record for the whole batch.
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{BatchCall, CallRequest, Config, Scheduler};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let mut log = Vec::new();
    /// let calls = [BatchCall::new("+919876543210"), BatchCall::new("+14155550123")];
    /// let mut answers = Vec::new();
    /// let template = CallRequest::new("", "a");
    /// engine.journaled(&mut log).submit_batch(now, &template, &calls, &mut answers)?;
    /// assert_eq!((answers.len(), engine.position()), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_batch(
        &mut self,
        now: DateTime<Utc>,
        template: &CallRequest,
        calls: &[BatchCall],
        out: &mut Vec<Result<Accepted, Rejection>>,
    ) -> Result<(), JournalError> {
        self.record(|w| codec::put_submit_batch(w, now, template, calls))?;
        self.engine.submit_batch(now, template, calls, out);
        Ok(())
    }

    /// [`Scheduler::dial_into`], journaled as [`Command::Dial`].
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// See [`Journaled`].
    pub fn dial_into(
        &mut self,
        now: DateTime<Utc>,
        max: u32,
        out: &mut Vec<Dispatch>,
    ) -> Result<Result<usize, OpError>, JournalError> {
        self.record(|w| codec::put_dial(w, now, max))?;
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        Ok(self.engine.dial_into(now, max, out))
    }

    /// [`Scheduler::report`], journaled as [`Command::Report`].
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// See [`Journaled`].
    pub fn report(
        &mut self,
        now: DateTime<Utc>,
        attempt: impl Into<AttemptId>,
        outcome: Outcome,
    ) -> Result<Result<(), OpError>, JournalError> {
        let attempt = attempt.into();
        self.record(|w| codec::put_report(w, now, attempt, outcome))?;
        Ok(self.engine.report(now, attempt, outcome))
    }

    /// [`Scheduler::handle_timeout`], journaled as
    /// [`Command::HandleTimeout`].
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Config, Scheduler, journal};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let mut log = Vec::new();
    /// engine.journaled(&mut log).handle_timeout(now)??;
    /// let record = journal::Reader::new(&log).next().ok_or("a record")??;
    /// assert_eq!(record.command, redial::Command::HandleTimeout { now });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Result<(), OpError>, JournalError> {
        self.record(|w| codec::put_handle_timeout(w, now))?;
        Ok(self.engine.handle_timeout(now))
    }

    /// Any other input: [`Scheduler::apply_journaled`].
    ///
    /// # Errors
    /// See [`Journaled`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Command, Config, Output, Scheduler};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let mut log = Vec::new();
    /// let out = engine.journaled(&mut log).apply(Command::PauseBatch { now, batch: "b".into() })?;
    /// assert!(out.is_refused()); // no such batch; recorded all the same
    /// assert_eq!(engine.position(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&mut self, command: Command) -> Result<Output, JournalError> {
        self.engine.apply_journaled(command, self.log)
    }
}
