//! Engine configuration (semantics §6).

use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::retry::Outcome;

/// The engine's configuration. Every field has the default of semantics §6.
///
/// Deserialize it from JSON with [`Config::from_json`], which also validates
/// it; a `Config` built in code is validated by [`Scheduler::new`](crate::Scheduler::new).
///
/// # Example
/// ```
/// let config = redial::Config::from_json(r#"{"default_timezone": "Europe/London"}"#).unwrap();
/// assert_eq!(config.default_timezone, chrono_tz::Europe::London);
/// assert_eq!(config.attempt_timeout_minutes, 120);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Zone of calls that name none.
    pub default_timezone: Tz,
    /// Gap, in minutes, of calls that give no `gap_between_retries` (0..=10080).
    pub default_retry_gap_minutes: u32,
    /// Minutes after a trigger at which an unreported attempt times out (1..=525600).
    pub attempt_timeout_minutes: u32,
    /// Outcomes after which a call is retried. `completed`, `invalid_number`
    /// and `do_not_call` can never be retried.
    pub retryable_outcomes: Vec<Outcome>,
    /// Reject (404) calls whose agent was never registered.
    pub require_registered_agents: bool,
    /// Reject (400) request fields the API does not define.
    pub reject_unknown_fields: bool,
    /// Largest compact JSON size of `metadata`, in bytes.
    pub max_metadata_bytes: usize,
    /// How far ahead of now `schedule_at` may be, in days (0..=3650).
    pub max_schedule_ahead_days: u32,
    /// Largest request body, checked before parsing.
    pub max_body_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_timezone: chrono_tz::Asia::Kolkata,
            default_retry_gap_minutes: 30,
            attempt_timeout_minutes: 120,
            retryable_outcomes: vec![
                Outcome::NoAnswer,
                Outcome::Busy,
                Outcome::Failed,
                Outcome::Voicemail,
                Outcome::Timeout,
            ],
            require_registered_agents: false,
            reject_unknown_fields: true,
            max_metadata_bytes: 16_384,
            max_schedule_ahead_days: 365,
            max_body_bytes: 65_536,
        }
    }
}

/// A configuration that cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config {}: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses and validates a JSON configuration; missing keys take defaults.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the key when the JSON is malformed, has an
    /// unknown key, or a value is out of range.
    ///
    /// # Example
    /// ```
    /// assert!(redial::Config::from_json(r#"{"attempt_timeout_minutes": 0}"#).is_err());
    /// assert!(redial::Config::from_json(r#"{"retryable_outcomes": ["busy"]}"#).is_ok());
    /// ```
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_json::from_str(text).map_err(|e| ConfigError {
            key: "config",
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every range.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first key out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key, message: &str| {
            Err(ConfigError {
                key,
                message: message.to_owned(),
            })
        };
        if self.default_retry_gap_minutes > crate::retry::MAX_GAP_MINUTES {
            return err("default_retry_gap_minutes", "expected 0..=10080");
        }
        if !(1..=525_600).contains(&self.attempt_timeout_minutes) {
            return err("attempt_timeout_minutes", "expected 1..=525600");
        }
        if let Some(o) = self.retryable_outcomes.iter().find(|o| !o.can_retry()) {
            return Err(ConfigError {
                key: "retryable_outcomes",
                message: format!("{o} can never be retried"),
            });
        }
        if self.max_schedule_ahead_days > 3650 {
            return err("max_schedule_ahead_days", "expected 0..=3650");
        }
        Ok(())
    }

    pub(crate) fn is_retryable(&self, outcome: Outcome) -> bool {
        self.retryable_outcomes.contains(&outcome)
    }
}
