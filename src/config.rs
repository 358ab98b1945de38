//! Engine configuration (semantics §6).

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::policy::Policy;
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
    /// Calling policies by name (policy.md 1).
    #[serde(deserialize_with = "deserialize_policies")]
    pub policies: BTreeMap<String, Policy>,
    /// E.164 prefixes (`"+33"`, `"+1212"`) to the name of the policy that
    /// always applies to numbers starting with them (the longest matching
    /// prefix wins).
    pub policy_by_prefix: BTreeMap<String, String>,
    /// Read every call's zones from its number, not only calls under a
    /// policy (policy.md 2).
    pub zones_from_number: bool,
    /// How many 24-hour days a `do_not_call` outcome suppresses the number
    /// for; `None` (JSON `null`, the default) for no end, `Some(0)` for not
    /// at all (policy.md 5).
    pub do_not_call_suppression_days: Option<u32>,
    /// A call's lifetime from its acceptance, in 24-hour days (1..=3650);
    /// `None` for no limit (policy.md 7).
    pub max_call_age_days: Option<u32>,
}

/// Reads `policies`, naming the key of the first invalid policy
/// (`policies.fr.hours.mon[1]`).
fn deserialize_policies<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Policy>, D::Error> {
    use serde::de::Error as _;
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(name, v)| {
            Policy::from_value(&v)
                .map(|p| (name.clone(), p))
                .map_err(|e| D::Error::custom(format!("policies.{name}.{}: {}", e.key, e.message)))
        })
        .collect()
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
            policies: BTreeMap::new(),
            policy_by_prefix: BTreeMap::new(),
            zones_from_number: false,
            do_not_call_suppression_days: None,
            max_call_age_days: None,
        }
    }
}

/// A configuration that cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending key (`attempt_timeout_minutes`,
    /// `policies.fr.hours.mon[1]`).
    pub key: String,
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
        let config: Config = serde_json::from_str(text).map_err(|e| {
            // A policy's own errors start with the key they name.
            let text = e.to_string();
            match text.split_once(": ") {
                Some((key, message)) if key.starts_with("policies.") => ConfigError {
                    key: key.to_owned(),
                    message: message.to_owned(),
                },
                _ => ConfigError {
                    key: "config".to_owned(),
                    message: text,
                },
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every range.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first key out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, message: &str| {
            Err(ConfigError {
                key: key.to_owned(),
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
                key: "retryable_outcomes".to_owned(),
                message: format!("{o} can never be retried"),
            });
        }
        if self.max_schedule_ahead_days > 3650 {
            return err("max_schedule_ahead_days", "expected 0..=3650");
        }
        if self
            .max_call_age_days
            .is_some_and(|d| !(1..=3650).contains(&d))
        {
            return err(
                "max_call_age_days",
                "expected 1..=3650, or null for no limit",
            );
        }
        for (prefix, name) in &self.policy_by_prefix {
            let key = format!("policy_by_prefix.{prefix}");
            let digits = prefix.strip_prefix('+').unwrap_or("");
            if !(1..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return err(&key, "expected a prefix + and 1 to 15 digits");
            }
            if !self.policies.contains_key(name) {
                return err(
                    &key,
                    &format!("names no policy: {name:?} is not in policies"),
                );
            }
        }
        if self.policies.len() > usize::from(u16::MAX) {
            return err("policies", "expected fewer than 65536 policies");
        }
        if !cfg!(feature = "number-zones") && (self.zones_from_number || !self.policies.is_empty())
        {
            return err(
                if self.zones_from_number {
                    "zones_from_number"
                } else {
                    "policies"
                },
                "the callee's zones come from the number, which needs the crate feature number-zones (libphonenumber's data); enable it",
            );
        }
        Ok(())
    }

    pub(crate) fn is_retryable(&self, outcome: Outcome) -> bool {
        self.retryable_outcomes.contains(&outcome)
    }
}
