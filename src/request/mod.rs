//! The request model: the JSON body of `POST /call/outbound`, validated into a
//! [`CallRequest`] (semantics §1).
//!
//! This module owns the request's shape ([`CallRequest`], [`Language`],
//! [`ScheduleAt`]) and the checks a request built in code must pass;
//! `parse` owns reading a body, `response` the API's response bodies.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::retry::{Gaps, MAX_GAP_MINUTES, MAX_GAPS, MAX_RETRIES};
use crate::time::decimal;
use crate::window::{TimeOfDay, Window, WindowError};

mod batch;
mod canonical;
mod metadata;
mod parse;
mod plain;
mod response;
mod swar;

pub use batch::BatchCall;
pub use metadata::Metadata;
pub(crate) use parse::check_e164;
pub(crate) use parse::check_metadata_size;
use parse::{GAP_EXPECTED, check_id, check_policy};
pub(crate) use parse::{SpareStrings, has_control, parse_body};
pub use response::{ErrorResponse, Rejection, SuccessResponse};

/// The request fields, in validation order.
pub const FIELDS: [&str; 16] = [
    "to_number",
    "agent_id",
    "batch_id",
    "metadata",
    "schedule_at",
    "min_trigger_time",
    "max_trigger_time",
    "carry_over",
    "number_of_retries",
    "gap_between_retries",
    "priority",
    "language",
    "timezone",
    "idempotency_key",
    "policy",
    "expires_at",
];

/// Deepest nesting of `metadata` (the object itself is depth 1).
pub const MAX_METADATA_DEPTH: usize = 32;
/// Longest `agent_id`, `batch_id` or `idempotency_key`, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Deepest nesting of arrays and objects anywhere in a body (the body
/// itself is level 1), checked before parsing.
pub const MAX_BODY_NESTING: usize = 64;

/// The languages an agent can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Language {
    Hi,
    En,
    Kn,
    Mr,
    Ta,
    Te,
    Bn,
    Gu,
    Ml,
}

impl Language {
    const ALL: [Language; 9] = [
        Language::Hi,
        Language::En,
        Language::Kn,
        Language::Mr,
        Language::Ta,
        Language::Te,
        Language::Bn,
        Language::Gu,
        Language::Ml,
    ];

    /// The code, such as `hi`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Hi => "hi",
            Language::En => "en",
            Language::Kn => "kn",
            Language::Mr => "mr",
            Language::Ta => "ta",
            Language::Te => "te",
            Language::Bn => "bn",
            Language::Gu => "gu",
            Language::Ml => "ml",
        }
    }

    /// The language of a code, such as `hi`.
    ///
    /// # Example
    /// ```
    /// use redial::Language;
    /// assert_eq!(Language::from_code("ta"), Some(Language::Ta));
    /// assert_eq!(Language::Ta.to_string(), "ta");
    /// assert_eq!(Language::from_code("fr"), None);
    /// ```
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == code)
    }
}

/// The code, such as `hi`.
impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When the first attempt may happen, as the request wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScheduleAt {
    /// A wall-clock time in the call's zone (`2025-12-31T09:30:00`).
    Local(NaiveDateTime),
    /// An absolute instant (`2025-12-31T04:00:00Z`, `...+05:30`).
    Instant(DateTime<Utc>),
}

impl ScheduleAt {
    /// Parses `YYYY-MM-DDTHH:MM:SS`, optionally with fractional seconds and
    /// then optionally `Z` or `±HH:MM`.
    ///
    /// # Errors
    /// [`InvalidScheduleAt`], which says what was wrong: the shape, a date
    /// that does not exist, seconds above 59, the fraction or the offset.
    ///
    /// # Example
    /// ```
    /// use redial::ScheduleAt;
    /// assert!(matches!(ScheduleAt::parse("2025-12-31T09:30:00"), Ok(ScheduleAt::Local(_))));
    /// assert!(matches!(ScheduleAt::parse("2025-12-31T09:30:00.25+05:30"), Ok(ScheduleAt::Instant(_))));
    /// assert!(ScheduleAt::parse("2025-12-31 09:30:00").is_err());
    /// let err = ScheduleAt::parse("2025-02-30T09:30:00").unwrap_err();
    /// assert_eq!(err.to_string(), r#"invalid schedule_at "2025-02-30T09:30:00": no such date or time; expected YYYY-MM-DDTHH:MM:SS, optionally with fractional seconds and Z or ±HH:MM"#);
    /// ```
    pub fn parse(text: &str) -> Result<ScheduleAt, InvalidScheduleAt> {
        let bad = |reason: &'static str| InvalidScheduleAt {
            input: text.chars().take(64).collect(),
            reason,
        };
        let shape = || bad("not YYYY-MM-DDTHH:MM:SS");
        let num = |a: usize, b: usize| -> Result<u32, InvalidScheduleAt> {
            text.get(a..b).and_then(decimal).ok_or_else(shape)
        };
        let sep = |i: usize, c: u8| text.as_bytes().get(i) == Some(&c);
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
            return Err(shape());
        }
        let year = i32::try_from(num(0, 4)?).map_err(|_| shape())?;
        let date = NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)
            .ok_or_else(|| bad("no such date or time"))?;
        let (h, m, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if s > 59 {
            return Err(bad("seconds above 59"));
        }
        let mut rest = text.get(19..).ok_or_else(shape)?;
        let mut nanos = 0_u32;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            let fraction = || bad("a fraction of second needs 1 to 9 digits");
            if !(1..=9).contains(&digits) {
                return Err(fraction());
            }
            // 1 to 9 digits, scaled to nanoseconds (0.25 is 250,000,000).
            let scale = 10_u32.pow(9 - u32::try_from(digits).map_err(|_| fraction())?);
            nanos = frac.get(..digits).and_then(decimal).ok_or_else(fraction)? * scale;
            rest = frac.get(digits..).ok_or_else(fraction)?;
        }
        let wall = date
            .and_hms_nano_opt(h, m, s, nanos)
            .ok_or_else(|| bad("no such date or time"))?;
        if rest.is_empty() {
            return Ok(ScheduleAt::Local(wall));
        }
        let offset = || bad("the offset is not Z or ±HH:MM with HH up to 23");
        let offset_seconds = if rest == "Z" {
            0
        } else {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(offset()),
            };
            let body = rest.get(1..).ok_or_else(offset)?;
            let (oh, om) = body.split_once(':').ok_or_else(offset)?;
            if oh.len() != 2
                || om.len() != 2
                || !oh.bytes().chain(om.bytes()).all(|c| c.is_ascii_digit())
            {
                return Err(offset());
            }
            let (oh, om): (i32, i32) = (
                oh.parse().map_err(|_| offset())?,
                om.parse().map_err(|_| offset())?,
            );
            if oh > 23 || om > 59 {
                return Err(offset());
            }
            sign * (oh * 3600 + om * 60)
        };
        let instant = FixedOffset::east_opt(offset_seconds)
            .and_then(|o| o.from_local_datetime(&wall).single())
            .ok_or_else(offset)?;
        Ok(ScheduleAt::Instant(instant.with_timezone(&Utc)))
    }
}

impl std::str::FromStr for ScheduleAt {
    type Err = InvalidScheduleAt;

    /// As [`ScheduleAt::parse`].
    fn from_str(text: &str) -> Result<ScheduleAt, InvalidScheduleAt> {
        ScheduleAt::parse(text)
    }
}

/// Text that is not a [`ScheduleAt`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidScheduleAt {
    input: String,
    reason: &'static str,
}

impl fmt::Display for InvalidScheduleAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid schedule_at {:?}: {}; expected YYYY-MM-DDTHH:MM:SS, optionally with fractional seconds and Z or ±HH:MM",
            self.input, self.reason
        )
    }
}

impl std::error::Error for InvalidScheduleAt {}

/// A validated call request. Build one from JSON with
/// [`CallRequest::from_json`], or in code with [`CallRequest::new`] and the
/// public fields ([`Scheduler::submit_request`](crate::Scheduler::submit_request)
/// validates it again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRequest {
    /// E.164 number to call.
    pub to_number: String,
    /// The AI agent that talks.
    pub agent_id: String,
    /// The campaign, if any.
    pub batch_id: Option<String>,
    /// The metadata object (validated when it was made), `None` when
    /// absent.
    pub metadata: Option<Metadata>,
    /// Earliest time of the first attempt; `None` means now.
    pub schedule_at: Option<ScheduleAt>,
    /// Window start.
    pub min_trigger_time: Option<TimeOfDay>,
    /// Window end (exclusive).
    pub max_trigger_time: Option<TimeOfDay>,
    /// Move to the next day's window rather than expire.
    pub carry_over: bool,
    /// Retries after the first attempt, `0..=10`.
    pub number_of_retries: u8,
    /// Gaps between attempts; `None` takes the config's default.
    pub gap_between_retries: Option<Gaps>,
    /// `-100..=100`, higher first.
    pub priority: i8,
    /// Language the agent speaks.
    pub language: Option<Language>,
    /// The callee's zone; `None` takes the config's default.
    pub timezone: Option<Tz>,
    /// Deduplicates repeated submissions of one call.
    pub idempotency_key: Option<String>,
    /// A calling policy of the configuration that applies on top of the
    /// number's (policy.md 2).
    pub policy: Option<String>,
    /// No attempt at or after this (policy.md 7).
    pub expires_at: Option<ScheduleAt>,
}

impl CallRequest {
    /// A request with every optional field at its default.
    ///
    /// # Example
    /// ```
    /// let mut req = redial::CallRequest::new("+919876543210", "agent-1");
    /// req.priority = 5;
    /// assert!(req.validate(&redial::Config::default()).is_ok());
    /// ```
    pub fn new(to_number: &str, agent_id: &str) -> CallRequest {
        CallRequest {
            to_number: to_number.to_owned(),
            agent_id: agent_id.to_owned(),
            batch_id: None,
            metadata: None,
            schedule_at: None,
            min_trigger_time: None,
            max_trigger_time: None,
            carry_over: false,
            number_of_retries: 0,
            gap_between_retries: None,
            priority: 0,
            language: None,
            timezone: None,
            idempotency_key: None,
            policy: None,
            expires_at: None,
        }
    }

    /// Parses and validates a JSON body (semantics §1, in its validation
    /// order, up to window consistency; feasibility needs `now` and is the
    /// scheduler's).
    ///
    /// # Errors
    /// A 400 [`Rejection`] for an oversized or malformed body, a body that
    /// is not an object, a duplicate or unknown field, or the first invalid
    /// field.
    ///
    /// # Example
    /// ```
    /// use redial::{CallRequest, Config};
    /// let req = CallRequest::from_json(
    ///     br#"{"to_number": "+919876543210", "agent_id": "a", "gap_between_retries": [30, 60]}"#,
    ///     &Config::default()).unwrap();
    /// assert_eq!(req.gap_between_retries, redial::Gaps::list(vec![30, 60]));
    /// let typo = CallRequest::from_json(br#"{"scheduled_at": "x"}"#, &Config::default()).unwrap_err();
    /// assert_eq!(typo.message, r#"Unknown field "scheduled_at" (did you mean "schedule_at"?)"#);
    /// ```
    pub fn from_json(body: &[u8], config: &Config) -> Result<CallRequest, Rejection> {
        parse_body(body, config, &mut SpareStrings::default()).map(|(req, _)| req)
    }

    /// The window, if the request has one.
    ///
    /// # Errors
    /// A 400 [`Rejection`] on `max_trigger_time` when the window is empty.
    pub fn window(&self) -> Result<Option<Window>, Rejection> {
        match Window::new(self.min_trigger_time, self.max_trigger_time) {
            Ok(w) => Ok(Some(w)),
            Err(WindowError::NoBounds) => Ok(None),
            Err(WindowError::Empty) => Err(Rejection::bad(
                "max_trigger_time",
                format!(
                    "Empty window: min_trigger_time {} and max_trigger_time {} admit no instant; expected max_trigger_time different from min_trigger_time (and not 00:00 alone)",
                    self.min_trigger_time
                        .map_or_else(|| "(none)".to_owned(), |t| t.to_string()),
                    self.max_trigger_time
                        .map_or_else(|| "(none)".to_owned(), |t| t.to_string()),
                ),
            )),
        }
    }

    /// Checks the fields of a request built in code, by the rules JSON
    /// bodies follow (`max_metadata_bytes` from `config`), in the same order.
    ///
    /// # Errors
    /// A 400 [`Rejection`] naming the first invalid field.
    pub fn validate(&self, config: &Config) -> Result<(), Rejection> {
        check_e164(&self.to_number)?;
        self.check_before_metadata()?;
        if let Some(m) = &self.metadata {
            check_metadata_size(m, config)?;
        }
        self.check_after_metadata(config)
    }

    /// The checks [`CallRequest::validate`] makes between the number and
    /// the metadata: the fields a batch's calls share that come first.
    pub(crate) fn check_before_metadata(&self) -> Result<(), Rejection> {
        check_id("agent_id", &self.agent_id)?;
        if let Some(b) = &self.batch_id {
            check_id("batch_id", b)?;
        }
        Ok(())
    }

    /// The checks [`CallRequest::validate`] makes after the metadata.
    pub(crate) fn check_after_metadata(&self, config: &Config) -> Result<(), Rejection> {
        if self.number_of_retries > MAX_RETRIES {
            return Err(Rejection::bad(
                "number_of_retries",
                format!(
                    "Invalid number_of_retries {}: expected an integer from 0 to 10",
                    self.number_of_retries
                ),
            ));
        }
        if let Some(g) = &self.gap_between_retries {
            let ok = match g {
                Gaps::Every(m) => u32::from(*m) <= MAX_GAP_MINUTES,
                Gaps::List(l) => {
                    !l.is_empty()
                        && l.len() <= MAX_GAPS
                        && l.iter().all(|m| u32::from(*m) <= MAX_GAP_MINUTES)
                }
            };
            if !ok {
                return Err(Rejection::bad("gap_between_retries", GAP_EXPECTED));
            }
        }
        if !(-100..=100).contains(&self.priority) {
            return Err(Rejection::bad(
                "priority",
                format!(
                    "Invalid priority {}: expected an integer from -100 to 100",
                    self.priority
                ),
            ));
        }
        if let Some(k) = &self.idempotency_key {
            check_id("idempotency_key", k)?;
        }
        if let Some(p) = &self.policy {
            check_policy(p, config)?;
        }
        self.window()?;
        Ok(())
    }

    /// The request as a canonical JSON object: the fields a body would
    /// carry, with defaults left out. Used to compare idempotent repeats.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        let mut put = |k: &str, v: Value| {
            map.insert(k.to_owned(), v);
        };
        put("to_number", Value::from(self.to_number.clone()));
        put("agent_id", Value::from(self.agent_id.clone()));
        if let Some(b) = &self.batch_id {
            put("batch_id", Value::from(b.clone()));
        }
        if let Some(m) = &self.metadata {
            put("metadata", m.to_value());
        }
        match self.schedule_at {
            Some(ScheduleAt::Local(w)) => put(
                "schedule_at",
                Value::from(w.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            ),
            Some(ScheduleAt::Instant(t)) => put("schedule_at", Value::from(t.to_rfc3339())),
            None => {}
        }
        if let Some(t) = self.min_trigger_time {
            put("min_trigger_time", Value::from(t.to_string()));
        }
        if let Some(t) = self.max_trigger_time {
            put("max_trigger_time", Value::from(t.to_string()));
        }
        if self.carry_over {
            put("carry_over", Value::Bool(true));
        }
        if self.number_of_retries != 0 {
            put("number_of_retries", Value::from(self.number_of_retries));
        }
        match &self.gap_between_retries {
            Some(Gaps::Every(g)) => put("gap_between_retries", Value::from(*g)),
            Some(Gaps::List(l)) => put("gap_between_retries", Value::from(l.to_vec())),
            None => {}
        }
        if self.priority != 0 {
            put("priority", Value::from(self.priority));
        }
        if let Some(l) = self.language {
            put("language", Value::from(l.as_str()));
        }
        if let Some(tz) = self.timezone {
            put("timezone", Value::from(tz.name()));
        }
        if let Some(k) = &self.idempotency_key {
            put("idempotency_key", Value::from(k.clone()));
        }
        if let Some(p) = &self.policy {
            put("policy", Value::from(p.clone()));
        }
        match self.expires_at {
            Some(ScheduleAt::Local(w)) => put(
                "expires_at",
                Value::from(w.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
            ),
            Some(ScheduleAt::Instant(t)) => put("expires_at", Value::from(t.to_rfc3339())),
            None => {}
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests;
