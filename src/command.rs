//! Commands: every input the engine takes, as a value.
//!
//! A [`Command`] names one input and carries its `now`;
//! [`Scheduler::apply`] is the entry point that applies one and returns
//! its [`Output`] as a value. Because the engine is deterministic and reads
//! no clock, two engines that apply the same commands in the same order are
//! in the same state and produce the same outputs and events: that is what
//! makes a journal (log every command, recover by replaying it, see
//! [`journal`](crate::journal)) and replication (apply the same log on
//! every replica) work.
//!
//! The input methods ([`Scheduler::submit`], [`Scheduler::dial`], ...)
//! are the same path: `apply` (and [`Scheduler::apply_owned`], which takes
//! the command by value) calls them and nothing else, so an engine fed
//! through methods and one fed the equivalent commands cannot differ. The
//! one thing only they do is count: [`Scheduler::position`] is the number
//! of commands applied through them, the journal position a snapshot
//! records.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{AttemptId, CallId, Dispatch, OpError};
use crate::request::{BatchCall, CallRequest, Rejection};
use crate::retry::Outcome;
use crate::scheduler::{Accepted, Scheduler};

/// One input to the engine, with the instant it happened at.
///
/// Serializes (serde) as an object tagged by `op`; the journal has its own
/// compact binary form ([`journal`](crate::journal)).
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// use redial::{Command, Config, Output, Scheduler};
/// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// let mut engine = Scheduler::new(Config::default())?;
/// let body = br#"{"to_number": "+919876543210", "agent_id": "a"}"#.to_vec();
/// let out = engine.apply(&Command::Submit { now, body });
/// assert!(matches!(out, Output::Submitted(Ok(_))));
/// let Output::Dialed(Ok(calls)) = engine.apply(&Command::Dial { now, max: 5 }) else {
///     panic!("a dial answers with dispatches");
/// };
/// assert_eq!(calls.len(), 1);
/// assert_eq!(engine.position(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// [`Scheduler::submit`]: a JSON body, as the API received it.
    Submit {
        /// When it arrived.
        now: DateTime<Utc>,
        /// The body's bytes.
        body: Vec<u8>,
    },
    /// [`Scheduler::submit_request`]: a request built in code.
    SubmitRequest {
        /// When it arrived.
        now: DateTime<Utc>,
        /// The request.
        request: Box<CallRequest>,
    },
    /// [`Scheduler::submit_batch`]: a batch upload, one template and its
    /// calls.
    SubmitBatch {
        /// When it arrived.
        now: DateTime<Utc>,
        /// What the calls share.
        template: Box<CallRequest>,
        /// What each call has of its own, in order.
        calls: Vec<BatchCall>,
    },
    /// [`Scheduler::dial`].
    Dial {
        /// When the lines were free.
        now: DateTime<Utc>,
        /// At most this many calls.
        max: u32,
    },
    /// [`Scheduler::report`]: the outcome of a named attempt.
    Report {
        /// When the outcome arrived.
        now: DateTime<Utc>,
        /// The attempt, as its dispatch named it.
        attempt: AttemptId,
        /// What happened.
        outcome: Outcome,
    },
    /// [`Scheduler::report_current`]: the outcome of whatever attempt is
    /// in flight (unsafe under redelivery).
    ReportCurrent {
        /// When the outcome arrived.
        now: DateTime<Utc>,
        /// The call.
        call: CallId,
        /// What happened.
        outcome: Outcome,
    },
    /// [`Scheduler::cancel`].
    Cancel {
        /// When.
        now: DateTime<Utc>,
        /// The call.
        call: CallId,
    },
    /// [`Scheduler::pause_batch`].
    PauseBatch {
        /// When.
        now: DateTime<Utc>,
        /// The batch.
        batch: String,
    },
    /// [`Scheduler::resume_batch`].
    ResumeBatch {
        /// When.
        now: DateTime<Utc>,
        /// The batch.
        batch: String,
    },
    /// [`Scheduler::cancel_batch`].
    CancelBatch {
        /// When.
        now: DateTime<Utc>,
        /// The batch.
        batch: String,
    },
    /// [`Scheduler::register_agent`].
    RegisterAgent {
        /// When.
        now: DateTime<Utc>,
        /// The agent.
        agent: String,
        /// Its cap on calls in flight; `None` for no cap.
        max_concurrent_calls: Option<u32>,
    },
    /// [`Scheduler::suppress`].
    Suppress {
        /// When.
        now: DateTime<Utc>,
        /// The number.
        to_number: String,
        /// When the suppression ends; `None` for never.
        until: Option<DateTime<Utc>>,
    },
    /// [`Scheduler::unsuppress`].
    Unsuppress {
        /// When.
        now: DateTime<Utc>,
        /// The number.
        to_number: String,
    },
    /// [`Scheduler::handle_timeout`].
    HandleTimeout {
        /// The instant reached.
        now: DateTime<Utc>,
    },
}

impl Command {
    /// The instant the command carries.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// assert_eq!(redial::Command::HandleTimeout { now }.now(), now);
    /// # Ok::<(), chrono::ParseError>(())
    /// ```
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Command::Submit { now, .. }
            | Command::SubmitRequest { now, .. }
            | Command::SubmitBatch { now, .. }
            | Command::Dial { now, .. }
            | Command::Report { now, .. }
            | Command::ReportCurrent { now, .. }
            | Command::Cancel { now, .. }
            | Command::PauseBatch { now, .. }
            | Command::ResumeBatch { now, .. }
            | Command::CancelBatch { now, .. }
            | Command::RegisterAgent { now, .. }
            | Command::Suppress { now, .. }
            | Command::Unsuppress { now, .. }
            | Command::HandleTimeout { now } => *now,
        }
    }

    /// The command's name, such as `submit` (its serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Submit { .. } => "submit",
            Command::SubmitRequest { .. } => "submit_request",
            Command::SubmitBatch { .. } => "submit_batch",
            Command::Dial { .. } => "dial",
            Command::Report { .. } => "report",
            Command::ReportCurrent { .. } => "report_current",
            Command::Cancel { .. } => "cancel",
            Command::PauseBatch { .. } => "pause_batch",
            Command::ResumeBatch { .. } => "resume_batch",
            Command::CancelBatch { .. } => "cancel_batch",
            Command::RegisterAgent { .. } => "register_agent",
            Command::Suppress { .. } => "suppress",
            Command::Unsuppress { .. } => "unsuppress",
            Command::HandleTimeout { .. } => "handle_timeout",
        }
    }
}

/// What applying a [`Command`] returned. Events are not part of it: drain
/// them with [`Scheduler::poll_event`] as after any input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// The answer to a submit.
    Submitted(Result<Accepted, Rejection>),
    /// The answers to a batch upload, one per call in its order.
    SubmittedBatch(Vec<Result<Accepted, Rejection>>),
    /// The calls a dial handed out.
    Dialed(Result<Vec<Dispatch>, OpError>),
    /// Any other command: done, or refused (and nothing changed).
    Done(Result<(), OpError>),
}

impl Output {
    /// Whether the command was refused (a rejected submit or an
    /// operation error): it changed nothing but the clock. A batch is
    /// refused when every one of its calls is.
    pub fn is_refused(&self) -> bool {
        match self {
            Output::Submitted(r) => r.is_err(),
            Output::SubmittedBatch(answers) => answers.iter().all(Result::is_err),
            Output::Dialed(r) => r.is_err(),
            Output::Done(r) => r.is_err(),
        }
    }
}

impl Scheduler {
    /// Applies one command: the single entry point a journal or a replica
    /// uses. It calls the input method the command names and counts the
    /// command in [`Scheduler::position`] (through
    /// [`Scheduler::apply_owned`], which holds the one match over
    /// commands).
    ///
    /// Never panics; every refusal is in the [`Output`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Command, Config, Output, Scheduler};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let out = engine.apply(&Command::PauseBatch { now, batch: "nobody".into() });
    /// assert_eq!(out, Output::Done(Err(redial::OpError::UnknownBatch("nobody".into()))));
    /// assert_eq!(engine.position(), 1); // refused commands count too
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&mut self, command: &Command) -> Output {
        match command {
            // A body, a request or a batch is read where it is; every
            // other command is small.
            Command::Submit { now, body } => {
                self.position = self.position.saturating_add(1);
                Output::Submitted(self.submit(*now, body))
            }
            Command::SubmitRequest { now, request } => {
                self.position = self.position.saturating_add(1);
                Output::Submitted(self.submit_request(*now, &**request))
            }
            Command::SubmitBatch {
                now,
                template,
                calls,
            } => {
                self.position = self.position.saturating_add(1);
                self.batch_output(*now, template, calls)
            }
            other => self.apply_owned(other.clone()),
        }
    }

    /// [`Scheduler::apply`] for a command the host no longer needs: the
    /// same outputs. Either reads a submitted body, request or batch where
    /// it is.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{CallRequest, Command, Config, Output, Scheduler};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// let request = Box::new(CallRequest::new("+919876543210", "a"));
    /// let out = engine.apply_owned(Command::SubmitRequest { now, request });
    /// assert!(matches!(out, Output::Submitted(Ok(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_owned(&mut self, command: Command) -> Output {
        self.position = self.position.saturating_add(1);
        match command {
            Command::Submit { now, body } => Output::Submitted(self.submit(now, &body)),
            Command::SubmitRequest { now, request } => {
                Output::Submitted(self.submit_request(now, &*request))
            }
            Command::SubmitBatch {
                now,
                template,
                calls,
            } => self.batch_output(now, &template, &calls),
            Command::Dial { now, max } => {
                let max = usize::try_from(max).unwrap_or(usize::MAX);
                Output::Dialed(self.dial(now, max))
            }
            Command::Report {
                now,
                attempt,
                outcome,
            } => Output::Done(self.report(now, attempt, outcome)),
            Command::ReportCurrent { now, call, outcome } => {
                Output::Done(self.report_current(now, call, outcome))
            }
            Command::Cancel { now, call } => Output::Done(self.cancel(now, call)),
            Command::PauseBatch { now, batch } => Output::Done(self.pause_batch(now, &batch)),
            Command::ResumeBatch { now, batch } => Output::Done(self.resume_batch(now, &batch)),
            Command::CancelBatch { now, batch } => Output::Done(self.cancel_batch(now, &batch)),
            Command::RegisterAgent {
                now,
                agent,
                max_concurrent_calls,
            } => Output::Done(self.register_agent(now, &agent, max_concurrent_calls)),
            Command::Suppress {
                now,
                to_number,
                until,
            } => Output::Done(self.suppress(now, &to_number, until)),
            Command::Unsuppress { now, to_number } => {
                Output::Done(self.unsuppress(now, &to_number))
            }
            Command::HandleTimeout { now } => Output::Done(self.handle_timeout(now)),
        }
    }

    /// [`Scheduler::submit_batch`]'s answers as an [`Output`]: the one
    /// body of both entry points' batch arms (a batch is read where it is,
    /// whichever owns it).
    fn batch_output(
        &mut self,
        now: DateTime<Utc>,
        template: &CallRequest,
        calls: &[BatchCall],
    ) -> Output {
        let mut answers = Vec::new();
        self.submit_batch(now, template, calls, &mut answers);
        Output::SubmittedBatch(answers)
    }

    /// Commands applied through [`Scheduler::apply`] since the engine was
    /// created, counting those of the snapshot it was restored from: the
    /// journal position of the next command. A snapshot records it, so
    /// recovery replays the journal from there. O(1).
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Command, Config, Scheduler, Snapshot};
    /// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let mut engine = Scheduler::new(Config::default())?;
    /// engine.apply(&Command::HandleTimeout { now });
    /// let restored = Scheduler::restore(Snapshot::from_bytes(&engine.snapshot().to_bytes())?)?;
    /// assert_eq!(restored.position(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn position(&self) -> u64 {
        self.position
    }
}
