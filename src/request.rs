//! The request model: the JSON body of `POST /call/outbound`, validated into a
//! [`CallRequest`] (semantics §1), and the API's response bodies.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::retry::{Gaps, MAX_GAP_MINUTES, MAX_GAPS, MAX_RETRIES};
use crate::window::{TimeOfDay, Window, WindowError};

/// The request fields, in validation order.
pub const FIELDS: [&str; 14] = [
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
];

/// Deepest nesting of `metadata` (the object itself is depth 1).
pub const MAX_METADATA_DEPTH: usize = 32;
/// Longest `agent_id`, `batch_id` or `idempotency_key`, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Deepest nesting of arrays and objects anywhere in a body (the body
/// itself is level 1), checked before parsing.
pub const MAX_BODY_NESTING: usize = 64;

/// A rejected request: the HTTP status, the offending field and a message
/// that names the field and what was expected.
///
/// # Example
/// ```
/// let err = redial::CallRequest::from_json(br#"{"to_number": "9876543210", "agent_id": "a"}"#,
///     &redial::Config::default()).unwrap_err();
/// assert_eq!(err.status, 400);
/// assert_eq!(err.field.as_deref(), Some("to_number"));
/// assert_eq!(err.message, r#"Invalid to_number "9876543210": expected E.164 such as +919876543210"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// HTTP status: 400, 404 or 409.
    pub status: u16,
    /// The offending field, if one is to blame.
    pub field: Option<String>,
    /// A human message naming the field and what was expected.
    pub message: String,
}

impl Rejection {
    pub(crate) fn bad(field: &str, message: impl Into<String>) -> Rejection {
        Rejection {
            status: 400,
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub(crate) fn bad_body(message: impl Into<String>) -> Rejection {
        Rejection {
            status: 400,
            field: None,
            message: message.into(),
        }
    }

    /// The API's error body, `{"status": "error", "message": ...}`.
    pub fn to_response(&self) -> ErrorResponse {
        ErrorResponse {
            status: "error".to_owned(),
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Rejection {}

/// The API's error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Always `"error"`.
    pub status: String,
    /// What went wrong.
    pub message: String,
}

/// The API's success body. It carries the ID twice, as `call_id` and
/// `call_sid`: the public docs show each in one place and clients read either.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessResponse {
    /// Always `"success"`.
    pub status: String,
    /// Always `"Call queued successfully"`.
    pub message: String,
    /// The call's ID.
    pub call_id: String,
    /// The call's ID again.
    pub call_sid: String,
}

impl SuccessResponse {
    /// The body for a queued call.
    ///
    /// # Example
    /// ```
    /// let body = redial::SuccessResponse::new("call-1");
    /// assert_eq!(serde_json::to_string(&body).unwrap(),
    ///   r#"{"status":"success","message":"Call queued successfully","call_id":"call-1","call_sid":"call-1"}"#);
    /// ```
    pub fn new(call_id: &str) -> SuccessResponse {
        SuccessResponse {
            status: "success".to_owned(),
            message: "Call queued successfully".to_owned(),
            call_id: call_id.to_owned(),
            call_sid: call_id.to_owned(),
        }
    }
}

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
    pub fn from_code(code: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == code)
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
    /// # Example
    /// ```
    /// use redial::ScheduleAt;
    /// assert!(matches!(ScheduleAt::parse("2025-12-31T09:30:00"), Some(ScheduleAt::Local(_))));
    /// assert!(matches!(ScheduleAt::parse("2025-12-31T09:30:00.25+05:30"), Some(ScheduleAt::Instant(_))));
    /// assert!(ScheduleAt::parse("2025-12-31 09:30:00").is_none());
    /// assert!(ScheduleAt::parse("2025-02-30T09:30:00").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<ScheduleAt> {
        let num = |a: usize, b: usize| -> Option<u32> {
            let s = text.get(a..b)?;
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let sep = |i: usize, c: u8| text.as_bytes().get(i) == Some(&c);
        if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
            return None;
        }
        let date =
            NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(5, 7)?, num(8, 10)?)?;
        let (h, m, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if s > 59 {
            return None;
        }
        let mut rest = text.get(19..)?;
        let mut nanos = 0_u32;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=9).contains(&digits) {
                return None;
            }
            let padded = format!("{:0<9}", frac.get(..digits)?);
            nanos = padded.parse().ok()?;
            rest = frac.get(digits..)?;
        }
        let wall = date.and_hms_nano_opt(h, m, s, nanos)?;
        if rest.is_empty() {
            return Some(ScheduleAt::Local(wall));
        }
        let offset_seconds = if rest == "Z" {
            0
        } else {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let body = rest.get(1..)?;
            let (oh, om) = body.split_once(':')?;
            if oh.len() != 2
                || om.len() != 2
                || !oh.bytes().chain(om.bytes()).all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let (oh, om): (i32, i32) = (oh.parse().ok()?, om.parse().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        };
        let offset = FixedOffset::east_opt(offset_seconds)?;
        let instant = offset.from_local_datetime(&wall).single()?;
        Some(ScheduleAt::Instant(instant.with_timezone(&Utc)))
    }
}

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
    /// Compact JSON text of the metadata object, `None` when absent.
    pub metadata: Option<String>,
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
        parse_body(body, config).map(|(req, _)| req)
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
        self.clone().normalized(config).map(|_| ())
    }

    /// The request validated as [`CallRequest::validate`] does, with its
    /// metadata rewritten as the compact JSON a parsed body would carry.
    pub(crate) fn normalized(mut self, config: &Config) -> Result<CallRequest, Rejection> {
        check_e164(&self.to_number)?;
        check_id("agent_id", &self.agent_id)?;
        if let Some(b) = &self.batch_id {
            check_id("batch_id", b)?;
        }
        if let Some(m) = &self.metadata {
            let value: Value = serde_json::from_str(m).map_err(|e| {
                Rejection::bad(
                    "metadata",
                    format!("Invalid metadata: {e}; expected a JSON object"),
                )
            })?;
            let Value::Object(map) = value else {
                return Err(Rejection::bad(
                    "metadata",
                    "Invalid metadata: expected a JSON object",
                ));
            };
            self.metadata = Some(check_metadata(&map, config.max_metadata_bytes)?);
        }
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
        self.window()?;
        Ok(self)
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
        if let Some(m) = self
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
        {
            put("metadata", m);
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
        Value::Object(map)
    }
}

const GAP_EXPECTED: &str = "Invalid gap_between_retries: expected minutes as an integer from 0 to 10080, or an array of 1 to 10 such integers";

/// Parses a body into a request and the canonical JSON object (fields whose
/// value is `null` dropped) that idempotent repeats are compared by.
pub(crate) fn parse_body(body: &[u8], config: &Config) -> Result<(CallRequest, Value), Rejection> {
    if body.len() > config.max_body_bytes {
        return Err(Rejection::bad_body(format!(
            "Request body is {} bytes: expected at most {} (max_body_bytes)",
            body.len(),
            config.max_body_bytes
        )));
    }
    check_nesting(body)?;
    let top: TopLevel = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            Rejection::bad_body(format!("Invalid request body: {e}"))
        } else {
            Rejection::bad_body(format!("Malformed JSON: {e}; expected a JSON object"))
        }
    })?;
    let fields = match top {
        TopLevel::Object(fields) => fields,
        TopLevel::Other(kind) => {
            return Err(Rejection::bad_body(format!(
                "Request body is {kind}: expected a JSON object"
            )));
        }
    };
    let map: Map<String, Value> = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let req = from_object(&map, config)?;
    Ok((req, Value::Object(map)))
}

/// Refuses bodies nested deeper than [`MAX_BODY_NESTING`] with one linear
/// scan, before the parser recurses into them.
fn check_nesting(body: &[u8]) -> Result<(), Rejection> {
    let (mut depth, mut deepest) = (0_usize, 0_usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if deepest > MAX_BODY_NESTING {
            return Err(Rejection::bad_body(format!(
                "Request body nests more than {MAX_BODY_NESTING} levels of arrays and objects: expected at most {MAX_BODY_NESTING}"
            )));
        }
    }
    Ok(())
}

/// The top level of a body: an object (its fields, duplicates refused) or
/// the kind of value it was instead.
enum TopLevel {
    Object(BTreeMap<String, Value>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
                let mut fields = BTreeMap::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    if fields.contains_key(&k) {
                        return Err(de::Error::custom(format!("duplicate field {k:?}")));
                    }
                    fields.insert(k, v);
                }
                Ok(TopLevel::Object(fields))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut access: A) -> Result<TopLevel, A::Error> {
                while access.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(TopLevel::Other("an array"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
                Ok(TopLevel::Other("a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
                Ok(TopLevel::Other("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
                Ok(TopLevel::Other("null"))
            }
        }
        d.deserialize_any(V)
    }
}

fn from_object(map: &Map<String, Value>, config: &Config) -> Result<CallRequest, Rejection> {
    if config.reject_unknown_fields
        && let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str()))
    {
        let message = match closest_field(unknown) {
            Some(near) => format!("Unknown field {unknown:?} (did you mean {near:?}?)"),
            None => format!(
                "Unknown field {unknown:?}: expected one of {}",
                FIELDS.join(", ")
            ),
        };
        return Err(Rejection::bad(unknown, message));
    }
    let get = |k: &str| map.get(k);

    let to_number = match get("to_number") {
        None => {
            return Err(Rejection::bad(
                "to_number",
                "Missing to_number: expected E.164 such as +919876543210",
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(v) => {
            return Err(Rejection::bad(
                "to_number",
                format!(
                    "Invalid to_number {}: expected E.164 such as +919876543210",
                    show(v)
                ),
            ));
        }
    };
    check_e164(&to_number)?;

    let agent_id = match get("agent_id") {
        None => {
            return Err(Rejection::bad(
                "agent_id",
                "Missing agent_id: expected a string of 1 to 128 bytes",
            ));
        }
        Some(v) => id_field("agent_id", v)?,
    };
    let batch_id = get("batch_id")
        .map(|v| id_field("batch_id", v))
        .transpose()?;

    let metadata = match get("metadata") {
        None => None,
        Some(Value::Object(m)) => Some(check_metadata(m, config.max_metadata_bytes)?),
        Some(v) => {
            return Err(Rejection::bad(
                "metadata",
                format!("Invalid metadata {}: expected a JSON object", show(v)),
            ));
        }
    };

    let schedule_at = match get("schedule_at") {
        None => None,
        Some(Value::String(s)) => Some(ScheduleAt::parse(s).ok_or_else(|| {
            Rejection::bad(
                "schedule_at",
                format!(
                    "Invalid schedule_at {s:?}: expected YYYY-MM-DDTHH:MM:SS (local time in the call's zone), optionally with fractional seconds and Z or ±HH:MM"
                ),
            )
        })?),
        Some(v) => {
            return Err(Rejection::bad(
                "schedule_at",
                format!("Invalid schedule_at {}: expected a string such as 2025-12-31T09:30:00", show(v)),
            ));
        }
    };

    let min_trigger_time = get("min_trigger_time")
        .map(|v| time_field("min_trigger_time", v))
        .transpose()?;
    let max_trigger_time = get("max_trigger_time")
        .map(|v| time_field("max_trigger_time", v))
        .transpose()?;

    let carry_over = match get("carry_over") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(Rejection::bad(
                "carry_over",
                format!("Invalid carry_over {}: expected true or false", show(v)),
            ));
        }
    };

    let number_of_retries = match get("number_of_retries") {
        None => 0,
        Some(v) => int_in(v, 0, i64::from(MAX_RETRIES))
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| {
                Rejection::bad(
                    "number_of_retries",
                    format!(
                        "Invalid number_of_retries {}: expected an integer from 0 to 10",
                        show(v)
                    ),
                )
            })?,
    };

    let gap_between_retries = match get("gap_between_retries") {
        None => None,
        Some(Value::Array(items)) => {
            let minutes: Option<Vec<u32>> = items
                .iter()
                .map(|i| {
                    int_in(i, 0, i64::from(MAX_GAP_MINUTES)).and_then(|n| u32::try_from(n).ok())
                })
                .collect();
            Some(minutes.and_then(Gaps::list).ok_or_else(|| {
                Rejection::bad(
                    "gap_between_retries",
                    format!("{GAP_EXPECTED}; got {}", show(&Value::Array(items.clone()))),
                )
            })?)
        }
        Some(v) => Some(
            int_in(v, 0, i64::from(MAX_GAP_MINUTES))
                .and_then(|n| u32::try_from(n).ok())
                .and_then(Gaps::every)
                .ok_or_else(|| {
                    Rejection::bad(
                        "gap_between_retries",
                        format!("{GAP_EXPECTED}; got {}", show(v)),
                    )
                })?,
        ),
    };

    let priority = match get("priority") {
        None => 0,
        Some(v) => int_in(v, -100, 100)
            .and_then(|n| i8::try_from(n).ok())
            .ok_or_else(|| {
                Rejection::bad(
                    "priority",
                    format!(
                        "Invalid priority {}: expected an integer from -100 to 100",
                        show(v)
                    ),
                )
            })?,
    };

    let language = match get("language") {
        None => None,
        Some(v) => Some(v.as_str().and_then(Language::from_code).ok_or_else(|| {
            Rejection::bad(
                "language",
                format!(
                    "Invalid language {}: expected one of hi, en, kn, mr, ta, te, bn, gu, ml",
                    show(v)
                ),
            )
        })?),
    };

    let timezone = match get("timezone") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| s.parse::<Tz>().ok())
                .ok_or_else(|| {
                    Rejection::bad(
                        "timezone",
                        format!(
                            "Invalid timezone {}: expected an IANA zone name such as Asia/Kolkata",
                            show(v)
                        ),
                    )
                })?,
        ),
    };

    let idempotency_key = get("idempotency_key")
        .map(|v| id_field("idempotency_key", v))
        .transpose()?;

    let req = CallRequest {
        to_number,
        agent_id,
        batch_id,
        metadata,
        schedule_at,
        min_trigger_time,
        max_trigger_time,
        carry_over,
        number_of_retries,
        gap_between_retries,
        priority,
        language,
        timezone,
        idempotency_key,
    };
    req.window()?;
    Ok(req)
}

/// `^\+[1-9]\d{1,14}$`, ASCII digits only.
/// The digits of an E.164 number (`+`, then 2 to 15 digits, the first not
/// 0), or `None` when it is not one. The digits fit a `u64` and print back
/// exactly, which is how the engine stores numbers.
pub(crate) fn e164_digits(number: &str) -> Option<u64> {
    let digits = number.strip_prefix('+')?;
    if !(2..=15).contains(&digits.len()) || digits.starts_with('0') {
        return None;
    }
    // One pass; 15 digits cannot overflow a u64.
    digits.bytes().try_fold(0_u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

fn check_e164(number: &str) -> Result<(), Rejection> {
    if e164_digits(number).is_some() {
        Ok(())
    } else {
        Err(Rejection::bad(
            "to_number",
            format!(
                "Invalid to_number {}: expected E.164 such as +919876543210",
                show_str(number)
            ),
        ))
    }
}

fn check_id(field: &str, id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
        Err(Rejection::bad(
            field,
            format!(
                "Invalid {field} {}: expected a string of 1 to 128 bytes without control characters",
                show_str(id)
            ),
        ))
    } else {
        Ok(())
    }
}

fn id_field(field: &str, v: &Value) -> Result<String, Rejection> {
    match v {
        Value::String(s) => check_id(field, s).map(|()| s.clone()),
        _ => Err(Rejection::bad(
            field,
            format!(
                "Invalid {field} {}: expected a string of 1 to 128 bytes",
                show(v)
            ),
        )),
    }
}

fn time_field(field: &str, v: &Value) -> Result<TimeOfDay, Rejection> {
    v.as_str().and_then(TimeOfDay::parse).ok_or_else(|| {
        Rejection::bad(
            field,
            format!(
                "Invalid {field} {}: expected HH:MM from 00:00 to 23:59",
                show(v)
            ),
        )
    })
}

/// Checks size and depth; returns the compact JSON text.
fn check_metadata(map: &Map<String, Value>, max_bytes: usize) -> Result<String, Rejection> {
    let depth = 1 + map.values().map(depth_of).max().unwrap_or(0);
    if depth > MAX_METADATA_DEPTH {
        return Err(Rejection::bad(
            "metadata",
            format!(
                "Invalid metadata: nested {depth} levels deep; expected at most {MAX_METADATA_DEPTH}"
            ),
        ));
    }
    let text = serde_json::to_string(map)
        .map_err(|e| Rejection::bad("metadata", format!("Invalid metadata: {e}")))?;
    if text.len() > max_bytes {
        return Err(Rejection::bad(
            "metadata",
            format!(
                "Invalid metadata: {} bytes as compact JSON; expected at most {max_bytes} (max_metadata_bytes)",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// Nesting depth of a value: scalars 0, a container 1 + its deepest child.
/// Iterative, so hostile nesting cannot exhaust the stack.
fn depth_of(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 1_usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d);
                stack.extend(items.iter().map(|i| (i, d + 1)));
            }
            Value::Object(m) => {
                deepest = deepest.max(d);
                stack.extend(m.values().map(|i| (i, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// An integer in `lo..=hi`; floats such as `1.0` and strings are refused.
fn int_in(v: &Value, lo: i64, hi: i64) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    (lo..=hi).contains(&n).then_some(n)
}

/// A short rendering of a value for a message; long input is cut.
fn show(v: &Value) -> String {
    let text = match v {
        Value::String(s) => return show_str(s),
        other => other.to_string(),
    };
    cut(&text)
}

fn show_str(s: &str) -> String {
    cut(&format!("{s:?}"))
}

fn cut(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", text.get(..end).unwrap_or(""))
}

/// The known field nearest to `name` by edit distance, if close enough to be
/// a plausible typo.
fn closest_field(name: &str) -> Option<&'static str> {
    if name.len() > 64 {
        return None;
    }
    FIELDS
        .iter()
        .map(|f| (edit_distance(name, f), *f))
        .filter(|(d, f)| *d <= 3.min(f.len() / 2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(usize::from(ca != *cb));
            let del = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let ins = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<CallRequest, Rejection> {
        CallRequest::from_json(json.as_bytes(), &Config::default())
    }

    fn field_of(json: &str) -> Option<String> {
        parse(json).unwrap_err().field
    }

    #[test]
    fn minimal_request_takes_defaults() {
        let r = parse(r#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap();
        assert_eq!(r, CallRequest::new("+919876543210", "a"));
    }

    #[test]
    fn null_counts_as_absent() {
        let r = parse(r#"{"to_number": "+919876543210", "agent_id": "a", "priority": null, "schedule_at": null}"#).unwrap();
        assert_eq!(r.priority, 0);
        assert_eq!(r.schedule_at, None);
        assert_eq!(
            field_of(r#"{"to_number": null, "agent_id": "a"}"#).as_deref(),
            Some("to_number")
        );
    }

    #[test]
    fn types_are_strict() {
        let base = r#""to_number": "+919876543210", "agent_id": "a""#;
        for (extra, field) in [
            (r#""priority": "1""#, "priority"),
            (r#""priority": 1.0"#, "priority"),
            (r#""carry_over": "true""#, "carry_over"),
            (r#""carry_over": 1"#, "carry_over"),
            (r#""number_of_retries": 1.5"#, "number_of_retries"),
            (r#""number_of_retries": 11"#, "number_of_retries"),
            (r#""number_of_retries": -1"#, "number_of_retries"),
            (r#""gap_between_retries": []"#, "gap_between_retries"),
            (
                r#""gap_between_retries": [1,2,3,4,5,6,7,8,9,10,11]"#,
                "gap_between_retries",
            ),
            (r#""gap_between_retries": 10081"#, "gap_between_retries"),
            (r#""gap_between_retries": [5, "6"]"#, "gap_between_retries"),
            (r#""priority": 18446744073709551615"#, "priority"),
            (r#""language": "HI""#, "language"),
            (r#""timezone": "Mars/Olympus""#, "timezone"),
            (r#""batch_id": """#, "batch_id"),
            (r#""batch_id": 7"#, "batch_id"),
            (r#""idempotency_key": "a\u0007b""#, "idempotency_key"),
            (r#""metadata": "x""#, "metadata"),
            (r#""schedule_at": "2025-12-31T24:00:00""#, "schedule_at"),
            (r#""max_trigger_time": "9:5""#, "max_trigger_time"),
            (
                r#""min_trigger_time": "09:00", "max_trigger_time": "09:00""#,
                "max_trigger_time",
            ),
            (r#""max_trigger_time": "00:00""#, "max_trigger_time"),
        ] {
            let json = format!("{{{base}, {extra}}}");
            assert_eq!(field_of(&json).as_deref(), Some(field), "{json}");
        }
    }

    #[test]
    fn ranges_accept_their_ends() {
        let base = r#""to_number": "+919876543210", "agent_id": "a""#;
        for extra in [
            r#""priority": -100"#,
            r#""priority": 100"#,
            r#""number_of_retries": 10"#,
            r#""gap_between_retries": 10080"#,
            r#""gap_between_retries": [0,1,2,3,4,5,6,7,8,9]"#,
            r#""min_trigger_time": "0:00""#,
            r#""max_trigger_time": "23:59""#,
            r#""min_trigger_time": "21:00", "max_trigger_time": "00:00""#,
        ] {
            let json = format!("{{{base}, {extra}}}");
            assert!(parse(&json).is_ok(), "{json}");
        }
    }

    #[test]
    fn e164() {
        for ok in ["+12", "+919876543210", "+123456789012345"] {
            assert!(check_e164(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "+",
            "+1",
            "+0123",
            "919876543210",
            "+1234567890123456",
            "+91 98765",
            "+９１２３",
            "++12",
        ] {
            assert!(check_e164(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn agent_id_limits() {
        let at = |n: usize| {
            format!(
                r#"{{"to_number": "+12125550100", "agent_id": "{}"}}"#,
                "x".repeat(n)
            )
        };
        assert!(parse(&at(128)).is_ok());
        assert_eq!(field_of(&at(129)).as_deref(), Some("agent_id"));
        assert_eq!(field_of(&at(0)).as_deref(), Some("agent_id"));
    }

    #[test]
    fn validation_order_reports_the_first_failure() {
        // to_number comes before agent_id; unknown fields before both.
        assert_eq!(
            field_of(r#"{"to_number": "x"}"#).as_deref(),
            Some("to_number")
        );
        assert_eq!(
            field_of(r#"{"agent_id": 5, "priority": 500}"#).as_deref(),
            Some("to_number")
        );
        assert_eq!(
            field_of(r#"{"bogus": 1, "to_number": "x"}"#).as_deref(),
            Some("bogus")
        );
        assert_eq!(
            field_of(r#"{"to_number": "+12125550100", "agent_id": "a", "language": "xx", "priority": 500}"#).as_deref(),
            Some("priority")
        );
    }

    #[test]
    fn malformed_bodies() {
        for body in [
            "",
            "{",
            "[1,2]",
            "\"x\"",
            "null",
            "42",
            "{\"a\":1}}",
            "{\"to_number\": \"+12\", \"to_number\": \"+13\"}",
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (400, None),
                "{body}: {}",
                e.message
            );
        }
        assert!(parse("[1,2]").unwrap_err().message.contains("an array"));
        assert!(
            parse("{\"agent_id\": \"a\", \"agent_id\": \"b\"}")
                .unwrap_err()
                .message
                .contains("duplicate")
        );
    }

    #[test]
    fn body_limit_is_checked_before_parsing() {
        let config = Config {
            max_body_bytes: 10,
            ..Config::default()
        };
        let e = CallRequest::from_json(b"{{{{{{{{{{{", &config).unwrap_err();
        assert!(e.message.contains("max_body_bytes"), "{}", e.message);
        assert!(
            CallRequest::from_json(b"{{{{{{{{{{", &config)
                .unwrap_err()
                .message
                .contains("Malformed")
        );
    }

    #[test]
    fn every_limit_at_and_one_past() {
        let lenient = Config {
            reject_unknown_fields: false,
            ..Config::default()
        };
        // Body size, before parsing: padding with spaces keeps the JSON valid.
        let base = r#"{"to_number": "+919876543210", "agent_id": "a"}"#;
        let sized = |n: usize| format!("{base}{}", " ".repeat(n - base.len()));
        let limit = Config::default().max_body_bytes;
        assert!(CallRequest::from_json(sized(limit).as_bytes(), &Config::default()).is_ok());
        let e =
            CallRequest::from_json(sized(limit + 1).as_bytes(), &Config::default()).unwrap_err();
        assert!(e.message.contains("65537 bytes"), "{}", e.message);
        // Nesting anywhere in the body (an ignored field, with lenient parsing).
        let nested = |levels: usize| {
            format!(
                r#"{{"to_number": "+919876543210", "agent_id": "a", "x": {}1{}}}"#,
                "[".repeat(levels - 1),
                "]".repeat(levels - 1)
            )
        };
        assert!(CallRequest::from_json(nested(MAX_BODY_NESTING).as_bytes(), &lenient).is_ok());
        let e =
            CallRequest::from_json(nested(MAX_BODY_NESTING + 1).as_bytes(), &lenient).unwrap_err();
        assert!(e.message.contains("nests more than 64"), "{}", e.message);
        // Brackets inside strings do not count.
        let quoted = format!(
            r#"{{"to_number": "+919876543210", "agent_id": "{}"}}"#,
            "[".repeat(100)
        );
        assert_eq!(
            CallRequest::from_json(quoted.as_bytes(), &lenient)
                .unwrap()
                .agent_id
                .len(),
            100
        );
        // Numbers, strings and arrays: at the limit, and one past it.
        let with = |extra: &str| format!(r#"{{"agent_id": "a", {extra}}}"#);
        let n = r#""to_number": "+919876543210""#;
        for (ok, bad, field) in [
            (
                format!(r#"{n}, "priority": 100"#),
                format!(r#"{n}, "priority": 101"#),
                "priority",
            ),
            (
                format!(r#"{n}, "priority": -100"#),
                format!(r#"{n}, "priority": -101"#),
                "priority",
            ),
            (
                format!(r#"{n}, "number_of_retries": 10"#),
                format!(r#"{n}, "number_of_retries": 11"#),
                "number_of_retries",
            ),
            (
                format!(r#"{n}, "gap_between_retries": 10080"#),
                format!(r#"{n}, "gap_between_retries": 10081"#),
                "gap_between_retries",
            ),
            (
                format!(r#"{n}, "gap_between_retries": [1,2,3,4,5,6,7,8,9,10]"#),
                format!(r#"{n}, "gap_between_retries": [1,2,3,4,5,6,7,8,9,10,11]"#),
                "gap_between_retries",
            ),
            (
                r#""to_number": "+123456789012345""#.to_owned(),
                r#""to_number": "+1234567890123456""#.to_owned(),
                "to_number",
            ),
        ] {
            assert!(parse(&with(&ok)).is_ok(), "{ok}");
            assert_eq!(field_of(&with(&bad)).as_deref(), Some(field), "{bad}");
        }
        let with = |extra: &str| format!(r#"{{"agent_id": "a", {n}, {extra}}}"#);
        let huge = with("\"priority\": 1e400");
        assert_eq!(field_of(&huge), None, "beyond f64 is malformed JSON");
        let long = with(&format!("\"priority\": 1{}", "0".repeat(400)));
        assert!(parse(&long).is_err());
    }

    #[test]
    fn unknown_fields_suggest_the_closest() {
        assert_eq!(
            parse(r#"{"langauge": "hi"}"#).unwrap_err().message,
            r#"Unknown field "langauge" (did you mean "language"?)"#
        );
        assert!(
            parse(r#"{"zzzzzzzz": 1}"#)
                .unwrap_err()
                .message
                .contains("expected one of")
        );
        let lenient = Config {
            reject_unknown_fields: false,
            ..Config::default()
        };
        assert!(
            CallRequest::from_json(
                br#"{"to_number": "+12125550100", "agent_id": "a", "x": 1}"#,
                &lenient
            )
            .is_ok()
        );
    }

    #[test]
    fn metadata_limits() {
        let nested = |levels: usize| {
            let mut v = String::from("1");
            for _ in 0..levels - 1 {
                v = format!("[{v}]");
            }
            format!(r#"{{"to_number": "+12125550100", "agent_id": "a", "metadata": {{"k": {v}}}}}"#)
        };
        // the object is depth 1, so 31 nested arrays under it make 32
        assert!(parse(&nested(32)).is_ok());
        assert_eq!(field_of(&nested(33)).as_deref(), Some("metadata"));

        let config = Config {
            max_metadata_bytes: 12,
            ..Config::default()
        };
        let body = |s: &str| {
            format!(
                r#"{{"to_number": "+12125550100", "agent_id": "a", "metadata": {{"k": "{s}"}}}}"#
            )
        };
        // {"k":"xxxxx"} is 13 bytes, {"k":"xxxx"} 12
        assert!(CallRequest::from_json(body("xxxx").as_bytes(), &config).is_ok());
        let e = CallRequest::from_json(body("xxxxx").as_bytes(), &config).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("metadata"));
        let r = parse(&body("v")).unwrap();
        assert_eq!(r.metadata.as_deref(), Some(r#"{"k":"v"}"#));
    }

    #[test]
    fn schedule_at_forms() {
        use chrono::Timelike;
        let Some(ScheduleAt::Local(w)) = ScheduleAt::parse("2025-12-31T09:30:00.123") else {
            panic!("local")
        };
        assert_eq!(w.nanosecond(), 123_000_000);
        let Some(ScheduleAt::Instant(t)) = ScheduleAt::parse("2025-12-31T09:30:00-05:00") else {
            panic!("instant")
        };
        assert_eq!(t.to_rfc3339(), "2025-12-31T14:30:00+00:00");
        for bad in [
            "2025-12-31T09:30",
            "2025-12-31T09:30:00.",
            "2025-12-31T09:30:00.1234567890",
            "2025-12-31T09:30:00+0530",
            "2025-12-31T09:30:00+24:00",
            "2025-12-31T09:30:60",
            "2025-13-01T09:30:00",
            "2025-12-31T09:30:00Zjunk",
            "+025-12-31T09:30:00",
            "2025-12-31t09:30:00",
        ] {
            assert!(ScheduleAt::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn to_value_round_trips_through_json() {
        let json = r#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b", "metadata": {"x": [1, {"y": null}]},
            "schedule_at": "2025-12-31T09:30:00", "min_trigger_time": "09:00", "max_trigger_time": "18:00",
            "carry_over": true, "number_of_retries": 3, "gap_between_retries": [30, 60], "priority": -7,
            "language": "ta", "timezone": "Asia/Kathmandu", "idempotency_key": "k"}"#;
        let r = parse(json).unwrap();
        let again = CallRequest::from_json(r.to_value().to_string().as_bytes(), &Config::default())
            .unwrap();
        assert_eq!(r, again);
        assert!(r.validate(&Config::default()).is_ok());
    }

    #[test]
    fn validate_catches_bad_code_built_requests() {
        let mut r = CallRequest::new("+919876543210", "a");
        r.priority = 101;
        assert_eq!(
            r.validate(&Config::default()).unwrap_err().field.as_deref(),
            Some("priority")
        );
        let mut r = CallRequest::new("+919876543210", "a");
        r.metadata = Some("[1]".into());
        assert_eq!(
            r.validate(&Config::default()).unwrap_err().field.as_deref(),
            Some("metadata")
        );
        let mut r = CallRequest::new("+919876543210", "a");
        r.gap_between_retries = Some(Gaps::List(Box::new([])));
        assert_eq!(
            r.validate(&Config::default()).unwrap_err().field.as_deref(),
            Some("gap_between_retries")
        );
        // Metadata follows the engine's limit and is stored compact.
        let mut r = CallRequest::new("+919876543210", "a");
        r.metadata = Some(r#"{ "k" :  "vvvv" }"#.into());
        let tight = Config {
            max_metadata_bytes: 12,
            ..Config::default()
        };
        assert_eq!(
            r.clone().normalized(&tight).unwrap().metadata.as_deref(),
            Some(r#"{"k":"vvvv"}"#)
        );
        r.metadata = Some(r#"{"k": "vvvvv"}"#.into());
        assert_eq!(
            r.validate(&tight).unwrap_err().field.as_deref(),
            Some("metadata")
        );
        let mut r = CallRequest::new("+919876543210", "a");
        r.gap_between_retries = Some(Gaps::List(Box::new([])));
        assert_eq!(
            r.validate(&Config::default()).unwrap_err().field.as_deref(),
            Some("gap_between_retries")
        );
    }
}
