//! Reading a request body: size and nesting limits before parsing, one
//! parse that refuses duplicate fields, then each field by the contract's
//! rules in its validation order, with messages that say what was expected.

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::canonical::canonicalize;
use super::metadata::Metadata;
use super::plain::read_plain;
use super::swar;
use super::{
    CallRequest, FIELDS, Language, MAX_BODY_NESTING, MAX_ID_BYTES, MAX_METADATA_DEPTH, Rejection,
    ScheduleAt,
};
use crate::config::Config;
use crate::number::e164_digits;
use crate::retry::{Gaps, MAX_GAP_MINUTES, MAX_RETRIES};
use crate::window::TimeOfDay;

pub(super) const GAP_EXPECTED: &str = "Invalid gap_between_retries: expected minutes as an integer from 0 to 10080, or an array of 1 to 10 such integers";

/// Parses a body into a request and, when it has an idempotency key, the
/// canonical JSON object (fields whose value is `null` dropped) that
/// idempotent repeats are compared by; `Value::Null` without a key.
pub(crate) fn parse_body(
    body: &[u8],
    config: &Config,
    spare: &mut SpareStrings,
) -> Result<(CallRequest, Value), Rejection> {
    if body.len() > config.max_body_bytes {
        return Err(Rejection::bad_body(format!(
            "Request body is {} bytes: expected at most {} (max_body_bytes)",
            body.len(),
            config.max_body_bytes
        )));
    }
    // Filled and read in place: moving its half kilobyte costs.
    let mut fields = BodyFields::default();
    if let Some(kind) = read_fields(body, &mut fields)? {
        return Err(Rejection::bad_body(format!(
            "Request body is {kind}: expected a JSON object"
        )));
    }
    let body = &mut fields;
    // A null field means the field is absent.
    let unknown = body
        .unknown
        .iter()
        .find(|(_, v)| !v.is_null())
        .map(|(k, _)| k);
    // Without an idempotency key the body's strings are not needed after
    // validation: they move into the request instead of being copied.
    let keep = body.get("idempotency_key").is_some();
    let mut req = from_fields(body, unknown, config, keep)?;
    let canonical = if keep {
        body.take_canonical()
    } else {
        if let Some(text) = body.metadata_text.take() {
            req.metadata = Some(Metadata::from_canonical(&text));
        }
        req.to_number = body.take_string("to_number", spare);
        req.agent_id = body.take_string("agent_id", spare);
        if req.batch_id.is_some() {
            req.batch_id = Some(body.take_string("batch_id", spare));
        }
        Value::Null
    };
    Ok((req, canonical))
}

/// Strings for the next body's number and IDs: an engine gives back those
/// of each request it admitted from a body ([`SpareStrings::reclaim`]),
/// so that a submit copies them into kept capacity instead of allocating
/// (and freeing) three strings. At most three, of at most 256 bytes each.
#[derive(Debug, Default)]
pub(crate) struct SpareStrings(Vec<String>);

impl SpareStrings {
    const KEEP: usize = 3;
    const MAX_CAPACITY: usize = 256;

    /// `s` in a spare string, or a new one.
    fn copy(&mut self, s: &str) -> String {
        let mut out = self.0.pop().unwrap_or_default();
        out.clear();
        out.push_str(s);
        out
    }

    /// Keeps the strings of a request that is done with.
    pub(crate) fn reclaim(&mut self, request: CallRequest) {
        let strings = [request.to_number, request.agent_id]
            .into_iter()
            .chain(request.batch_id);
        for s in strings {
            if self.0.len() < Self::KEEP && s.capacity() <= Self::MAX_CAPACITY {
                self.0.push(s);
            }
        }
    }
}

/// Reads a body's top level into `fields` (empty): `None` for an object,
/// else the kind of value it was. A body of the plain subset is read
/// without the parser ([`read_plain`]); any other goes to it.
fn read_fields<'t>(
    body: &'t [u8],
    fields: &mut BodyFields<'t>,
) -> Result<Option<&'static str>, Rejection> {
    let text = std::str::from_utf8(body).ok();
    if text.is_some_and(|text| read_plain(text, fields)) {
        return Ok(None);
    }
    // Only here: a plain body nests at most one level more than its
    // metadata.
    check_nesting(body)?;
    *fields = BodyFields::default();
    parse_fields(body, text, fields).map_err(malformed)
}

/// The rejection of a body the parser refused.
fn malformed(e: serde_json::Error) -> Rejection {
    if e.is_data() {
        Rejection::bad_body(format!("Invalid request body: {e}"))
    } else {
        Rejection::bad_body(format!("Malformed JSON: {e}; expected a JSON object"))
    }
}

/// Refuses bodies nested deeper than [`MAX_BODY_NESTING`] with one linear
/// scan, before the parser recurses into them. It jumps from one
/// structural byte to the next and over strings whole (most of a body's
/// bytes), looking eight bytes at a time: a state machine stepping through
/// every byte was an eighth of a full body's submit.
fn check_nesting(body: &[u8]) -> Result<(), Rejection> {
    let mut depth = 0_usize;
    let mut rest = body;
    let structural = |w| {
        swar::eq(w, b'"')
            | swar::eq(w, b'[')
            | swar::eq(w, b'{')
            | swar::eq(w, b']')
            | swar::eq(w, b'}')
    };
    while let Some(at) = swar::first(rest, structural) {
        let Some([b, after @ ..]) = rest.get(at..) else {
            break;
        };
        rest = after;
        match b {
            b'"' => rest = after_string(rest),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_BODY_NESTING {
                    return Err(Rejection::bad_body(format!(
                        "Request body nests more than {MAX_BODY_NESTING} levels of arrays and objects: expected at most {MAX_BODY_NESTING}"
                    )));
                }
            }
            _ => depth = depth.saturating_sub(1),
        }
    }
    Ok(())
}

/// What follows the string whose opening quote came just before `s`
/// (nothing, if it is not closed). A backslash escapes the byte after it.
fn after_string(mut s: &[u8]) -> &[u8] {
    while let Some(at) = swar::first(s, |w| swar::eq(w, b'"') | swar::eq(w, b'\\')) {
        match s.get(at..) {
            Some([b'"', after @ ..]) => return after,
            Some([_, _, after @ ..]) => s = after,
            _ => return &[],
        }
    }
    &[]
}

/// Parses a body's top level into `fields` (empty; duplicates refused):
/// `None` for an object, else the kind of value it was. `text` is the
/// body, when it is valid UTF-8.
///
/// Valid UTF-8 (nearly every body) is checked once, whole, rather than
/// string by string as the parser reads bytes; other bodies go to the byte
/// parser, which reports where the bad sequence is. Metadata in the plain
/// subset is rewritten from its text ([`canonicalize`]) without a tree;
/// a body that fails, or whose metadata the tree parser would refuse, is
/// parsed again the plain way, so that its error is the one that parser
/// gives.
fn parse_fields<'t>(
    body: &[u8],
    text: Option<&str>,
    fields: &mut BodyFields<'t>,
) -> Result<Option<&'static str>, serde_json::Error> {
    let parse = |fields: &mut BodyFields<'t>, raw| match text {
        Some(text) => fill(serde_json::Deserializer::from_str(text), fields, raw),
        None => fill(serde_json::Deserializer::from_slice(body), fields, raw),
    };
    let kind = parse(fields, true);
    if kind.is_ok() && !fields.reparse {
        return kind;
    }
    *fields = BodyFields::default();
    parse(fields, false)
}

/// Parses a body's top level into `fields`; with `raw`, the metadata as
/// text. The caller's fields are filled in place: returned by value, their
/// half kilobyte was copied several times on the way out of the parser.
fn fill<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    fields: &mut BodyFields<'_>,
    raw: bool,
) -> Result<Option<&'static str>, serde_json::Error> {
    let kind = Fill { fields, raw }.deserialize(&mut de)?;
    de.end()?;
    Ok(kind)
}

/// A body's top-level fields as parsed: the known ones in [`FIELDS`]
/// order, without a map, the others (rare; a map costs nothing empty) by
/// name, so that a body of thousands of them is not quadratic. Nulls are
/// kept until validation, so that a field given twice is refused even
/// when one of its values is null.
#[derive(Default)]
pub(super) struct BodyFields<'t> {
    known: [Option<Value>; FIELDS.len()],
    /// Strings of known fields read without the parser, as slices of the
    /// body `'t` (their slots in `known` are then empty): most are parsed
    /// into a type and dropped, so they are not copied out.
    strs: [Option<&'t str>; FIELDS.len()],
    unknown: BTreeMap<String, Value>,
    /// The metadata in canonical form, when it was rewritten from its text
    /// (its slot in `known` is then empty).
    metadata_text: Option<String>,
    /// Whether the metadata's text was JSON the tree parser refuses (a
    /// number out of range): the body must be parsed again as a tree.
    reparse: bool,
}

impl<'t> BodyFields<'t> {
    /// Whether field `i` of [`FIELDS`] was given.
    fn given(&self, i: usize) -> bool {
        matches!(self.known.get(i), Some(Some(_))) || matches!(self.strs.get(i), Some(Some(_)))
    }

    /// Files the metadata's text: in canonical form when it is in the plain
    /// subset, else as a tree. An error message if it was given before.
    fn file_metadata(&mut self, text: &str) -> Result<(), String> {
        if self.metadata_text.is_some() || self.given(METADATA) {
            return Err("duplicate field \"metadata\"".to_owned());
        }
        match canonicalize(text, MAX_METADATA_DEPTH) {
            Some(canonical) => self.file_metadata_text(canonical),
            None => match serde_json::from_str(text) {
                Ok(value) => self.file("metadata", value),
                Err(_) => {
                    self.reparse = true;
                    Ok(())
                }
            },
        }
    }

    /// Files the metadata in canonical form; an error message if it was
    /// given before.
    pub(super) fn file_metadata_text(&mut self, canonical: String) -> Result<(), String> {
        if self.metadata_text.is_some() || self.given(METADATA) {
            return Err("duplicate field \"metadata\"".to_owned());
        }
        self.metadata_text = Some(canonical);
        Ok(())
    }

    /// Files `value` under `key`; an error message if the key was given
    /// before.
    pub(super) fn file(&mut self, key: &str, value: Value) -> Result<(), String> {
        let duplicate = || format!("duplicate field {key:?}");
        match field_index(key) {
            Some(i) if self.given(i) => return Err(duplicate()),
            Some(i) => {
                if let Some(slot) = self.known.get_mut(i) {
                    *slot = Some(value);
                }
            }
            None if self.unknown.contains_key(key) => return Err(duplicate()),
            None => {
                self.unknown.insert(key.to_owned(), value);
            }
        }
        Ok(())
    }

    /// Files the string `value`, a slice of the body, under `key`; an
    /// error message if the key was given before.
    pub(super) fn file_str(&mut self, key: &str, value: &'t str) -> Result<(), String> {
        match field_index(key) {
            Some(i) if self.given(i) => Err(format!("duplicate field {key:?}")),
            Some(i) => {
                if let Some(slot) = self.strs.get_mut(i) {
                    *slot = Some(value);
                }
                Ok(())
            }
            None => self.file(key, Value::from(value)),
        }
    }

    /// Field `name` of [`FIELDS`], unless absent or null.
    #[inline(always)]
    fn get(&self, name: &str) -> Option<Field<'_>> {
        debug_assert!(field_index(name).is_some(), "{name} is not a field");
        let i = field_index(name)?;
        if let Some(Some(s)) = self.strs.get(i) {
            return Some(Field::Str(s));
        }
        match self.known.get(i)?.as_ref()? {
            Value::Null => None,
            Value::String(s) => Some(Field::Str(s)),
            v => Some(Field::Other(v)),
        }
    }

    /// Moves the string of field `name` of [`FIELDS`] out (empty if it is
    /// not a string); a slice of the body is copied into a spare string.
    fn take_string(&mut self, name: &str, spare: &mut SpareStrings) -> String {
        let Some(i) = field_index(name) else {
            return String::new();
        };
        if let Some(Some(s)) = self.strs.get(i) {
            return spare.copy(s);
        }
        match self.known.get_mut(i) {
            Some(Some(Value::String(s))) => std::mem::take(s),
            _ => String::new(),
        }
    }

    /// The body as one JSON object, null fields dropped: what idempotent
    /// repeats are compared by. Its fields are moved out.
    fn take_canonical(&mut self) -> Value {
        if let Some(text) = self.metadata_text.take()
            && let Some(slot) = self.known.get_mut(METADATA)
        {
            *slot = serde_json::from_str(&text).ok();
        }
        for (slot, s) in self.known.iter_mut().zip(&mut self.strs) {
            if let Some(s) = s.take() {
                *slot = Some(Value::from(s));
            }
        }
        let known = FIELDS
            .iter()
            .zip(std::mem::take(&mut self.known))
            .filter_map(|(k, v)| v.filter(|v| !v.is_null()).map(|v| ((*k).to_owned(), v)));
        let unknown = std::mem::take(&mut self.unknown)
            .into_iter()
            .filter(|(_, v)| !v.is_null());
        Value::Object(known.chain(unknown).collect())
    }
}

/// A field's value as validation reads it: a string (parsed, or a slice
/// of the body), or any other JSON value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Field<'v> {
    Str(&'v str),
    Other(&'v Value),
}

impl<'v> Field<'v> {
    fn as_str(self) -> Option<&'v str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Other(_) => None,
        }
    }
}

/// The metadata's place in [`FIELDS`].
const METADATA: usize = 3;

/// A field's place in [`FIELDS`]. Inlined so that a literal name folds
/// to its place.
#[inline(always)]
fn field_index(key: &str) -> Option<usize> {
    Some(match key {
        "to_number" => 0,
        "agent_id" => 1,
        "batch_id" => 2,
        "metadata" => 3,
        "schedule_at" => 4,
        "min_trigger_time" => 5,
        "max_trigger_time" => 6,
        "carry_over" => 7,
        "number_of_retries" => 8,
        "gap_between_retries" => 9,
        "priority" => 10,
        "language" => 11,
        "timezone" => 12,
        "idempotency_key" => 13,
        "policy" => 14,
        "expires_at" => 15,
        _ => return None,
    })
}

/// An object key, borrowed from the body when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The seed [`fill`] parses with; with `raw`, the metadata is read as
/// text.
struct Fill<'a, 't> {
    fields: &'a mut BodyFields<'t>,
    raw: bool,
}

impl<'de> DeserializeSeed<'de> for Fill<'_, '_> {
    type Value = Option<&'static str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        struct V<'a, 't>(Fill<'a, 't>);
        impl<'de> Visitor<'de> for V<'_, '_> {
            type Value = Option<&'static str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let Fill { fields, raw } = self.0;
                while let Some(Key(k)) = access.next_key::<Key<'de>>()? {
                    let filed = if raw && k == "metadata" {
                        let text: &'de RawValue = access.next_value()?;
                        fields.file_metadata(text.get())
                    } else {
                        fields.file(&k, access.next_value()?)
                    };
                    filed.map_err(de::Error::custom)?;
                }
                Ok(None)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                while access.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Some("an array"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Some("a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Some("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Some("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Some("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Some("a number"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Some("null"))
            }
        }
        d.deserialize_any(V(self))
    }
}

/// Validates a body's fields in the contract's order; `unknown` is the
/// first field (in name order) that is not one of [`FIELDS`].
///
/// With `copy` false, the request's `to_number`, `agent_id` and `batch_id`
/// are left empty, for the caller to move in from the body
/// ([`BodyFields::take_string`]) rather than copy.
fn from_fields(
    body: &BodyFields,
    unknown: Option<&String>,
    config: &Config,
    copy: bool,
) -> Result<CallRequest, Rejection> {
    let owned = |s: &str| if copy { s.to_owned() } else { String::new() };
    if config.reject_unknown_fields
        && let Some(unknown) = unknown
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
    let to_number = match body.get("to_number") {
        None => {
            return Err(Rejection::bad(
                "to_number",
                "Missing to_number: expected E.164 such as +919876543210",
            ));
        }
        Some(Field::Str(s)) => s,
        Some(v) => {
            return Err(Rejection::bad(
                "to_number",
                format!(
                    "Invalid to_number {}: expected E.164 such as +919876543210",
                    shown(v)
                ),
            ));
        }
    };
    check_e164(to_number)?;
    let to_number = owned(to_number);

    let agent_id = match body.get("agent_id") {
        None => {
            return Err(Rejection::bad(
                "agent_id",
                "Missing agent_id: expected a string of 1 to 128 bytes",
            ));
        }
        Some(v) => owned(id_field("agent_id", v)?),
    };
    let batch_id = body
        .get("batch_id")
        .map(|v| id_field("batch_id", v).map(owned))
        .transpose()?;

    let metadata = match body.get("metadata") {
        // Rewritten from its text: only its size is left to check.
        None => match &body.metadata_text {
            Some(text) if text.len() > config.max_metadata_bytes => {
                return Err(metadata_too_large(text.len(), config.max_metadata_bytes));
            }
            Some(text) if copy => Some(Metadata::from_canonical(text)),
            // Moved in by the caller.
            _ => None,
        },
        Some(Field::Other(Value::Object(m))) => {
            let m = Metadata::from_map(m)?;
            check_metadata_size(&m, config)?;
            Some(m)
        }
        Some(v) => {
            return Err(Rejection::bad(
                "metadata",
                format!("Invalid metadata {}: expected a JSON object", shown(v)),
            ));
        }
    };

    let schedule_at = match body.get("schedule_at") {
        None => None,
        Some(Field::Str(s)) => Some(ScheduleAt::parse(s).map_err(|_| {
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
                format!("Invalid schedule_at {}: expected a string such as 2025-12-31T09:30:00", shown(v)),
            ));
        }
    };

    let min_trigger_time = body
        .get("min_trigger_time")
        .map(|v| time_field("min_trigger_time", v))
        .transpose()?;
    let max_trigger_time = body
        .get("max_trigger_time")
        .map(|v| time_field("max_trigger_time", v))
        .transpose()?;

    let carry_over = match body.get("carry_over") {
        None => false,
        Some(Field::Other(Value::Bool(b))) => *b,
        Some(v) => {
            return Err(Rejection::bad(
                "carry_over",
                format!("Invalid carry_over {}: expected true or false", shown(v)),
            ));
        }
    };

    let number_of_retries = match body.get("number_of_retries") {
        None => 0,
        Some(v) => int_of(v, 0, i64::from(MAX_RETRIES))
            .and_then(|n| u8::try_from(n).ok())
            .ok_or_else(|| {
                Rejection::bad(
                    "number_of_retries",
                    format!(
                        "Invalid number_of_retries {}: expected an integer from 0 to 10",
                        shown(v)
                    ),
                )
            })?,
    };

    let gap_between_retries = match body.get("gap_between_retries") {
        None => None,
        Some(Field::Other(Value::Array(items))) => {
            // An item that is not a whole number of minutes is out of
            // range, which the list refuses.
            let minutes = items.iter().map(|i| {
                int_in(i, 0, i64::from(MAX_GAP_MINUTES))
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(u32::MAX)
            });
            Some(Gaps::list_of(minutes).ok_or_else(|| {
                Rejection::bad(
                    "gap_between_retries",
                    format!("{GAP_EXPECTED}; got {}", show(&Value::Array(items.clone()))),
                )
            })?)
        }
        Some(v) => Some(
            int_of(v, 0, i64::from(MAX_GAP_MINUTES))
                .and_then(|n| u32::try_from(n).ok())
                .and_then(Gaps::every)
                .ok_or_else(|| {
                    Rejection::bad(
                        "gap_between_retries",
                        format!("{GAP_EXPECTED}; got {}", shown(v)),
                    )
                })?,
        ),
    };

    let priority = match body.get("priority") {
        None => 0,
        Some(v) => int_of(v, -100, 100)
            .and_then(|n| i8::try_from(n).ok())
            .ok_or_else(|| {
                Rejection::bad(
                    "priority",
                    format!(
                        "Invalid priority {}: expected an integer from -100 to 100",
                        shown(v)
                    ),
                )
            })?,
    };

    let language = match body.get("language") {
        None => None,
        Some(v) => Some(v.as_str().and_then(Language::from_code).ok_or_else(|| {
            Rejection::bad(
                "language",
                format!(
                    "Invalid language {}: expected one of hi, en, kn, mr, ta, te, bn, gu, ml",
                    shown(v)
                ),
            )
        })?),
    };

    let timezone = match body.get("timezone") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| s.parse::<Tz>().ok())
                .ok_or_else(|| {
                    Rejection::bad(
                        "timezone",
                        format!(
                            "Invalid timezone {}: expected an IANA zone name such as Asia/Kolkata",
                            shown(v)
                        ),
                    )
                })?,
        ),
    };

    let idempotency_key = body
        .get("idempotency_key")
        .map(|v| id_field("idempotency_key", v).map(str::to_owned))
        .transpose()?;

    let policy = match body.get("policy") {
        None => None,
        Some(Field::Str(p)) => {
            check_policy(p, config)?;
            Some(p.to_owned())
        }
        Some(v) => {
            return Err(Rejection::bad(
                "policy",
                format!(
                    "Invalid policy {}: expected the name of a calling policy",
                    shown(v)
                ),
            ));
        }
    };

    let expires_at = match body.get("expires_at") {
        None => None,
        Some(Field::Str(s)) => Some(
            ScheduleAt::parse(s)
                .map_err(|e| Rejection::bad("expires_at", format!("Invalid expires_at: {e}")))?,
        ),
        Some(v) => {
            return Err(Rejection::bad(
                "expires_at",
                format!(
                    "Invalid expires_at {}: expected a string such as 2025-12-31T18:00:00",
                    shown(v)
                ),
            ));
        }
    };

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
        policy,
        expires_at,
    };
    req.window()?;
    Ok(req)
}

/// A request's `policy` must name one of the configuration's.
pub(super) fn check_policy(name: &str, config: &Config) -> Result<(), Rejection> {
    if config.policies.contains_key(name) {
        return Ok(());
    }
    let known: Vec<&str> = config.policies.keys().map(String::as_str).collect();
    Err(Rejection::bad(
        "policy",
        format!(
            "Unknown policy {}: expected one of the configured policies ({})",
            show_str(name),
            if known.is_empty() {
                "none are configured".to_owned()
            } else {
                known.join(", ")
            }
        ),
    ))
}

pub(crate) fn check_e164(number: &str) -> Result<(), Rejection> {
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

pub(super) fn check_id(field: &str, id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > MAX_ID_BYTES || has_control(id) {
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

/// Whether `s` holds a control character (`char::is_control`: U+0000 to
/// U+001F and U+007F to U+009F), reading bytes eight at a time while they
/// are ASCII: IDs almost always are, and decoding each character cost
/// more than the rest of an ID's checks.
pub(crate) fn has_control(s: &str) -> bool {
    let first = swar::first(s.as_bytes(), |w| {
        swar::below(w, 0x20) | swar::eq(w, 0x7F) | swar::high(w)
    });
    match first.and_then(|at| s.as_bytes().get(at)) {
        None => false,
        // An ASCII control character.
        Some(b) if b.is_ascii() => true,
        // Not ASCII: decoded, from the start.
        Some(_) => s.chars().any(char::is_control),
    }
}

fn id_field<'v>(field: &str, v: Field<'v>) -> Result<&'v str, Rejection> {
    match v {
        Field::Str(s) => check_id(field, s).map(|()| s),
        Field::Other(_) => Err(Rejection::bad(
            field,
            format!(
                "Invalid {field} {}: expected a string of 1 to 128 bytes",
                shown(v)
            ),
        )),
    }
}

fn time_field(field: &str, v: Field<'_>) -> Result<TimeOfDay, Rejection> {
    v.as_str()
        .and_then(|s| TimeOfDay::parse(s).ok())
        .ok_or_else(|| {
            Rejection::bad(
                field,
                format!(
                    "Invalid {field} {}: expected HH:MM from 00:00 to 23:59",
                    shown(v)
                ),
            )
        })
}

/// Checks depth; returns the compact JSON text (its size is checked
/// against the configuration at the submit: [`check_metadata_size`]).
pub(super) fn check_metadata(map: &Map<String, Value>) -> Result<String, Rejection> {
    let depth = 1 + map.values().map(depth_of).max().unwrap_or(0);
    if depth > MAX_METADATA_DEPTH {
        return Err(Rejection::bad(
            "metadata",
            format!(
                "Invalid metadata: nested {depth} levels deep; expected at most {MAX_METADATA_DEPTH}"
            ),
        ));
    }
    serde_json::to_string(map)
        .map_err(|e| Rejection::bad("metadata", format!("Invalid metadata: {e}")))
}

/// Checks metadata against the configuration's `max_metadata_bytes`.
pub(crate) fn check_metadata_size(m: &Metadata, config: &Config) -> Result<(), Rejection> {
    if m.len() > config.max_metadata_bytes {
        return Err(metadata_too_large(m.len(), config.max_metadata_bytes));
    }
    Ok(())
}

fn metadata_too_large(len: usize, max_bytes: usize) -> Rejection {
    Rejection::bad(
        "metadata",
        format!(
            "Invalid metadata: {len} bytes as compact JSON; expected at most {max_bytes} (max_metadata_bytes)"
        ),
    )
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

/// [`int_in`] of a field: a string is not an integer.
fn int_of(v: Field<'_>, lo: i64, hi: i64) -> Option<i64> {
    match v {
        Field::Other(v) => int_in(v, lo, hi),
        Field::Str(_) => None,
    }
}

/// [`show`] of a field.
fn shown(v: Field<'_>) -> String {
    match v {
        Field::Str(s) => show_str(s),
        Field::Other(v) => show(v),
    }
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

    /// [`super::parse_body`] without spare strings.
    fn parse_body(body: &[u8], config: &Config) -> Result<(CallRequest, Value), Rejection> {
        super::parse_body(body, config, &mut SpareStrings::default())
    }

    /// Spare strings change no request: bodies parsed one after another
    /// with the strings of each given back read as each alone does, and
    /// what is kept stays bounded (three strings of at most 256 bytes).
    #[test]
    fn spare_strings_change_no_request() {
        let mut spare = SpareStrings::default();
        let bodies = [
            r#"{"to_number": "+919876543210", "agent_id": "a-long-agent-name", "batch_id": "b"}"#,
            r#"{"to_number": "+12125550100", "agent_id": "x"}"#,
            r#"{"to_number": "+447700900123", "agent_id": "a\u0062c", "batch_id": "camp-2"}"#,
            r#"{"to_number": "+12", "agent_id": "y", "batch_id": "z"}"#,
        ];
        for body in bodies.iter().cycle().take(12) {
            let (alone, _) = parse_body(body.as_bytes(), &Config::default()).unwrap();
            let (reused, _) =
                super::parse_body(body.as_bytes(), &Config::default(), &mut spare).unwrap();
            assert_eq!(reused, alone, "{body}");
            spare.reclaim(reused);
            assert!(spare.0.len() <= 3);
        }
        let mut big = CallRequest::new(&"9".repeat(300), "a");
        big.batch_id = Some("b".into());
        let mut spare = SpareStrings::default();
        spare.reclaim(big);
        assert_eq!(spare.0.len(), 2, "the 300-byte string is not kept");
    }

    /// The scan that jumps between structural bytes agrees with a state
    /// machine stepping through every byte (the previous scan), on random
    /// bodies of quotes, backslashes, brackets and letters, nested up to
    /// past the limit.
    #[test]
    fn nesting_scan_agrees_with_a_byte_by_byte_scan() {
        fn deepest(body: &[u8]) -> usize {
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
            }
            deepest
        }
        let mut rand = crate::test_rng::xorshift(0x5EED);
        let alphabet = b"\"\\[]{}a";
        let (mut refused, mut accepted) = (0, 0);
        for _ in 0..20_000 {
            let len = rand(300) as usize;
            // Mostly openers, so that some bodies pass the limit.
            let opener = rand(3) == 0;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    if opener && rand(2) == 0 {
                        b'['
                    } else {
                        alphabet[rand(alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            let want = deepest(&body) <= MAX_BODY_NESTING;
            assert_eq!(
                check_nesting(&body).is_ok(),
                want,
                "{:?}",
                String::from_utf8_lossy(&body)
            );
            if want {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        assert!(refused > 1_000 && accepted > 1_000, "{refused} {accepted}");
    }

    /// Parsing a body as text (after one UTF-8 check) and as bytes gives
    /// the same fields or the same error, message and position included,
    /// on random bodies built from valid and broken pieces.
    #[test]
    fn text_and_byte_parsing_agree() {
        let pieces: [&[u8]; 26] = [
            br#"{"to_number": "+919876543210""#,
            br#", "agent_id": "a""#,
            b"}",
            br#", "x": "\u00e9""#,
            br#", "y": "\ud800""#,
            b"\xff",
            "é".as_bytes(),
            b"\x01",
            br#", "metadata": {"a": [1, 2.5, null, true, "z"]}"#,
            b"\"",
            b"\\",
            b",",
            b" ",
            b"[",
            b"]",
            br#", "to_number": null"#,
            r#", "metadata": { "b" : [1, {"d": 2, "c": "é"}], "a": null }"#.as_bytes(),
            br#", "metadata": {"n": 1e400}"#,
            br#", "metadata": null"#,
            br#", "number_of_retries": 3, "gap_between_retries": [30, 60]"#,
            br#", "carry_over" :true,"priority":-2"#,
            br#", "p": -0"#,
            br#", "q": [1.5, 01]"#,
            br#", "r": [[1], {}]"#,
            br#", "s": 1234567890123456789"#,
            b"\n\t",
        ];
        let outcome =
            |mut fields: BodyFields, top: Result<Option<&'static str>, Rejection>| match top {
                Ok(None) => Ok(fields.take_canonical()),
                Ok(Some(kind)) => Ok(Value::from(kind)),
                Err(e) => Err(e.message),
            };
        let mut rand = crate::test_rng::xorshift(0xB0D1);
        let (mut compared, mut parsed, mut rewritten, mut plain) = (0, 0, 0, 0);
        for _ in 0..30_000 {
            // Half of the bodies start as an object, so that more parse.
            let mut body = Vec::new();
            if rand(2) == 0 {
                body.extend_from_slice(pieces[0]);
            }
            for _ in 0..rand(8) {
                body.extend_from_slice(pieces[rand(26) as usize]);
            }
            if rand(2) == 0 {
                body.extend_from_slice(b"}");
            }
            // The byte parser, metadata as a tree: the reference.
            let mut fields = BodyFields::default();
            let top = check_nesting(&body).and_then(|()| {
                fill(
                    serde_json::Deserializer::from_slice(&body),
                    &mut fields,
                    false,
                )
                .map_err(malformed)
            });
            let bytes = outcome(fields, top);
            // What `parse_body` does: the same fields, or the same error.
            let mut fields = BodyFields::default();
            let top = read_fields(&body, &mut fields);
            rewritten += usize::from(top.is_ok() && fields.metadata_text.is_some());
            assert_eq!(outcome(fields, top), bytes, "{body:?}");
            if let Ok(text) = std::str::from_utf8(&body) {
                plain += usize::from(read_plain(text, &mut BodyFields::default()));
                let mut fields = BodyFields::default();
                let top = fill(serde_json::Deserializer::from_str(text), &mut fields, false)
                    .map_err(malformed);
                let from_text = outcome(fields, top);
                assert_eq!(from_text, bytes, "{text:?}");
                compared += 1;
                parsed += usize::from(bytes.is_ok());
            }
        }
        assert!(
            compared > 5_000 && parsed > 200 && rewritten > 50 && plain > 200,
            "{compared} {parsed} {rewritten} {plain}"
        );
    }

    /// Bodies as hosts send them take the plain reader (a body it leaves
    /// to the parser gives the same answer, only slower); escapes, floats,
    /// nested values outside the metadata and repeated fields do not.
    #[test]
    fn common_bodies_are_read_without_the_parser() {
        for yes in [
            r#"{"to_number": "+919876543210", "agent_id": "6803fa770b666a64ab1694c1e"}"#,
            "{\n  \"to_number\" : \"+919876543210\",\r\n\t\"agent_id\":\"a\" }\n",
            r#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "camp",
  "metadata": {"name": "Abhinav", "age": 25, "city": "Bangalore", "order": {"id": "A-1029", "amount": 4999}},
  "schedule_at": "2026-03-06T10:00:00", "min_trigger_time": "09:00", "max_trigger_time": "18:00", "carry_over": true,
  "number_of_retries": 3, "gap_between_retries": [30, 60], "priority": -2, "language": "hi", "timezone": "Asia/Kolkata"}"#,
            r#"{"agent_id":"a","batch_id":null,"metadata":{"campaign":"c","customer":7},"to_number":"+12125550100"}"#,
            "{}",
        ] {
            let mut fields = BodyFields::default();
            assert!(read_plain(yes, &mut fields), "{yes}");
        }
        for no in [
            r#"{"to_number": "+91\u0039876543210", "agent_id": "a"}"#,
            r#"{"to_number": "+919876543210", "agent_id": "a", "priority": 1.0}"#,
            r#"{"to_number": "+919876543210", "agent_id": "a", "gap_between_retries": [[30]]}"#,
            r#"{"to_number": "+919876543210", "agent_id": "a", "x": {}}"#,
            r#"{"to_number": "+919876543210", "to_number": "+919876543210"}"#,
            r#"{"metadata": {}, "metadata": {}}"#,
            r#"{"metadata": null}"#,
            r#"{"a": 1} {}"#,
            r#"{"a": 1,}"#,
            "[]",
            "",
        ] {
            let mut fields = BodyFields::default();
            assert!(!read_plain(no, &mut fields), "{no}");
        }
    }

    /// Thousands of unknown fields: all kept for the canonical object, the
    /// first in name order named in strict mode, a repeat among them
    /// refused.
    #[test]
    fn many_unknown_fields() {
        let keys: Vec<String> = (0..5_000).rev().map(|i| format!("u{i:05}")).collect();
        let mut body = String::from(
            r#"{"to_number": "+919876543210", "agent_id": "a", "idempotency_key": "k""#,
        );
        for k in &keys {
            body.push_str(&format!(r#", "{k}": 1"#));
        }
        let lenient = Config {
            reject_unknown_fields: false,
            ..Config::default()
        };
        let (_, canonical) = parse_body(format!("{body}}}").as_bytes(), &lenient).unwrap();
        assert_eq!(canonical.as_object().map(Map::len), Some(5_003));
        let strict = parse_body(format!("{body}}}").as_bytes(), &Config::default()).unwrap_err();
        assert_eq!(strict.field.as_deref(), Some("u00000"));
        let repeated =
            parse_body(format!(r#"{body}, "u02500": 2}}"#).as_bytes(), &lenient).unwrap_err();
        assert!(
            repeated.message.contains("duplicate field \"u02500\""),
            "{}",
            repeated.message
        );
    }

    /// The byte check agrees with `char::is_control` on every character,
    /// alone and after ASCII text.
    #[test]
    fn control_characters_are_found_as_char_is_control_finds_them() {
        for c in (0..=0x10_FFFF_u32).filter_map(char::from_u32) {
            assert_eq!(has_control(&c.to_string()), c.is_control(), "{c:?}");
            assert_eq!(has_control(&format!("ab{c}")), c.is_control(), "{c:?}");
        }
        assert!(!has_control("6803fa770b666a64ab1694c1e"));
    }

    /// Every name in [`FIELDS`] is filed under its own place, and only
    /// those: the filing and the list of fields cannot drift.
    #[test]
    fn every_field_is_filed_and_nothing_else() {
        for (i, name) in FIELDS.iter().enumerate() {
            assert_eq!(field_index(name), Some(i), "{name}");
            let mut body = BodyFields::default();
            body.file(name, Value::from(i)).unwrap();
            body.file("zz_not_a_field", Value::from(1)).unwrap();
            for (j, other) in FIELDS.iter().enumerate() {
                let want = (i == j).then(|| Value::from(i));
                assert_eq!(
                    body.get(other),
                    want.as_ref().map(Field::Other),
                    "{name} {other}"
                );
            }
            // A string slice of the body is filed in the same place, and
            // counts as the field given.
            let mut body = BodyFields::default();
            body.file_str(name, "s").unwrap();
            assert!(body.file(name, Value::from(1)).is_err(), "{name}");
            assert!(body.file_str(name, "t").is_err(), "{name}");
            for other in FIELDS {
                let want = (other == *name).then_some(Field::Str("s"));
                assert_eq!(body.get(other), want, "{name} {other}");
            }
            let mut body = BodyFields::default();
            body.file(name, Value::Null).unwrap();
            assert!(body.file_str(name, "s").is_err(), "{name}");
        }
        assert_eq!(field_index("zz_not_a_field"), None);
    }

    /// A field given twice is refused, known or not, null or not; null
    /// fields are absent; the canonical object is the body's fields, nulls
    /// dropped, in name order.
    #[test]
    fn duplicates_nulls_and_the_canonical_object() {
        let mut body = BodyFields::default();
        body.file("agent_id", Value::Null).unwrap();
        assert!(body.file("agent_id", Value::from("a")).is_err());
        body.file("b_x", Value::Null).unwrap();
        assert!(body.file("b_x", Value::from(1)).is_err());
        body.file("to_number", Value::from("+919876543210"))
            .unwrap();
        body.file("a_x", Value::from(2)).unwrap();
        assert!(body.get("agent_id").is_none());
        assert_eq!(
            body.take_canonical(),
            serde_json::json!({"a_x": 2, "to_number": "+919876543210"})
        );
        let config = Config::default();
        // The canonical object comes back only with an idempotency key.
        let (_, none) = parse_body(
            br#"{"to_number": "+919876543210", "agent_id": "a"}"#,
            &config,
        )
        .unwrap();
        assert_eq!(none, Value::Null);
        let lenient = Config {
            reject_unknown_fields: false,
            ..Config::default()
        };
        let (_, keyed) = parse_body(
            br#"{"zz": 1, "idempotency_key": "k", "batch_id": null, "to_number": "+919876543210", "agent_id": "a"}"#,
            &lenient,
        )
        .unwrap();
        assert_eq!(
            keyed,
            serde_json::json!({"agent_id": "a", "idempotency_key": "k", "to_number": "+919876543210", "zz": 1})
        );
        let err = parse_body(
            br#"{"to_number": "+919876543210", "to_number": null}"#,
            &config,
        )
        .unwrap_err();
        assert!(
            err.message.contains("duplicate field \"to_number\""),
            "{}",
            err.message
        );
    }
}
