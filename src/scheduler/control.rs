//! The campaign-control room: the host's inputs that pause, resume and
//! cancel batches and register agents with their caps (semantics §3.5).
//! The registry owns the state they change; this file owns the inputs.

use chrono::{DateTime, Utc};

use super::Scheduler;
use crate::event::OpError;

impl Scheduler {
    /// Pauses a batch: none of its calls triggers until it is resumed, but
    /// windows keep running (a paused call can carry over or expire).
    /// Pausing a paused batch is harmless. A paused batch stays known with
    /// no calls; a call accepted into it is paused too.
    ///
    /// # Errors
    /// [`OpError::UnknownBatch`] unless the batch is paused or a live call
    /// names it (policy.md 6), [`OpError::TimeOutOfRange`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b"}"#)?;
    /// engine.pause_batch(now, "b")?;
    /// assert!(engine.dial(now, 1)?.is_empty());
    /// engine.resume_batch(now, "b")?;
    /// assert_eq!(engine.dial(now, 1)?.len(), 1);
    /// assert!(engine.pause_batch(now, "nope").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pause_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        self.set_paused(now, batch, true)
    }

    /// Resumes a paused batch; resuming a running batch is harmless. A
    /// resumed batch that no live call names is forgotten.
    ///
    /// # Errors
    /// As [`Scheduler::pause_batch`].
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// # let mut engine = redial::Scheduler::new(redial::Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// let id = engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b"}"#)?.call;
    /// engine.pause_batch(now, "b")?;
    /// engine.cancel(now, id)?;
    /// engine.resume_batch(now, "b")?; // still known: it was paused
    /// assert!(engine.resume_batch(now, "b").is_err()); // now forgotten
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resume_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        self.set_paused(now, batch, false)
    }

    /// Cancels every live call of a batch, in acceptance order, as
    /// [`Scheduler::cancel`] would. A paused batch stays paused and known.
    ///
    /// # Errors
    /// As [`Scheduler::pause_batch`].
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
    /// engine.cancel_batch(now, "b")?;
    /// assert_eq!(engine.live_calls(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel_batch(&mut self, now: DateTime<Utc>, batch: &str) -> Result<(), OpError> {
        let now = self.begin_input(now)?;
        let result = match self.registry.batch_id(batch) {
            None => Err(OpError::UnknownBatch(batch.to_owned())),
            Some(b) => {
                self.cancel_members(b, now);
                Ok(())
            }
        };
        self.end_input();
        result
    }

    /// Registers an agent with an optional cap on concurrent calls
    /// (semantics §3.5); registering again replaces the cap. A cap of 0
    /// holds all of the agent's calls. A registered agent stays known.
    ///
    /// # Errors
    /// [`OpError::InvalidId`] for an empty, over-long or control-character
    /// ID, [`OpError::TimeOutOfRange`].
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
    /// assert_eq!(engine.dial(now, 10)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_agent(
        &mut self,
        now: DateTime<Utc>,
        agent: &str,
        max_concurrent_calls: Option<u32>,
    ) -> Result<(), OpError> {
        self.begin_input(now)?;
        let result = if agent.is_empty()
            || agent.len() > crate::request::MAX_ID_BYTES
            || crate::request::has_control(agent)
        {
            Err(OpError::InvalidId(agent.chars().take(140).collect()))
        } else {
            self.registry
                .register(agent, max_concurrent_calls, &mut self.ready);
            Ok(())
        };
        self.end_input();
        result
    }
}
