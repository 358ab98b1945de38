//! A request's metadata, validated once: [`Metadata`] can only hold a JSON
//! object in the form a submit stores (compact, keys sorted, nested at most
//! [`MAX_METADATA_DEPTH`] levels), so a request that carries it is not
//! scanned again when it is submitted.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::parse::check_metadata;
use super::{MAX_METADATA_DEPTH, Rejection, canonical};

/// A request's `metadata`: a JSON object held as its compact text, keys
/// sorted, nested at most [`MAX_METADATA_DEPTH`] levels. This is the text
/// a call keeps and hands back in its dispatches.
///
/// The only way to make one is [`Metadata::parse`] (or `str::parse`, or
/// deserializing it from a JSON string), which checks the text and writes
/// it in that form. Its size is checked against the engine's
/// `max_metadata_bytes` when the request is submitted.
///
/// It reads as its text (`Deref<Target = str>`), and cloning shares the
/// text (a reference count, no copy).
///
/// # Example
/// ```
/// use redial::Metadata;
/// let m = Metadata::parse(r#"{ "name": "Asha", "age": 31 }"#).unwrap();
/// assert_eq!(m.as_str(), r#"{"age":31,"name":"Asha"}"#);
/// assert!(Metadata::parse("[1, 2]").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Metadata(Arc<str>);

impl Metadata {
    /// Checks `text` and writes it as stored: whitespace dropped, each
    /// object's keys sorted (a key given twice keeps its last value).
    ///
    /// # Errors
    /// A 400 [`Rejection`] on `metadata` when `text` is not a JSON object,
    /// or is nested more than [`MAX_METADATA_DEPTH`] levels.
    ///
    /// # Example
    /// ```
    /// use redial::Metadata;
    /// let m = Metadata::parse(r#"{"order": {"id": "A-1", "amount": 4999}}"#).unwrap();
    /// assert_eq!(m.as_str(), r#"{"order":{"amount":4999,"id":"A-1"}}"#);
    /// let e = Metadata::parse("{").unwrap_err();
    /// assert_eq!(e.field.as_deref(), Some("metadata"));
    /// ```
    pub fn parse(text: &str) -> Result<Metadata, Rejection> {
        if canonical::is_canonical(text, MAX_METADATA_DEPTH) {
            return Ok(Metadata(Arc::from(text)));
        }
        // Spaced or unsorted text of the plain subset: rewritten without a
        // tree.
        if let Some(rewritten) = canonical::canonicalize(text, MAX_METADATA_DEPTH) {
            return Ok(Metadata::from_canonical(&rewritten));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
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
        Metadata::from_map(&map)
    }

    /// The metadata of a parsed object, checked for depth.
    pub(super) fn from_map(map: &Map<String, Value>) -> Result<Metadata, Rejection> {
        check_metadata(map).map(|text| Metadata::from_canonical(&text))
    }

    /// Text already in the stored form (written by the canonical scan or
    /// printed from a checked map).
    pub(super) fn from_canonical(text: &str) -> Metadata {
        Metadata(Arc::from(text))
    }

    /// The stored text: compact JSON, keys sorted.
    ///
    /// # Example
    /// ```
    /// let m: redial::Metadata = r#"{"b": 1, "a": 2}"#.parse().unwrap();
    /// assert_eq!(m.as_str(), r#"{"a":2,"b":1}"#);
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The metadata as a JSON value (an object).
    ///
    /// # Example
    /// ```
    /// let m = redial::Metadata::parse(r#"{"a": [1, true]}"#).unwrap();
    /// assert_eq!(m.to_value(), serde_json::json!({"a": [1, true]}));
    /// ```
    pub fn to_value(&self) -> Value {
        // The text is a valid object by construction; `Null` cannot occur.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The shared text, for the call that keeps it.
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

impl FromStr for Metadata {
    type Err = Rejection;

    fn from_str(text: &str) -> Result<Metadata, Rejection> {
        Metadata::parse(text)
    }
}

impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stored text, so that a `Metadata` reads as a `str`
/// (`request.metadata.as_deref()`).
impl Deref for Metadata {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Metadata {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Serialized as its text (a JSON string), as requests always carried it.
impl Serialize for Metadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserialized from a JSON string through [`Metadata::parse`]: invalid
/// text is an error, not a request that fails later.
impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Metadata, D::Error> {
        let text = String::deserialize(deserializer)?;
        Metadata::parse(&text).map_err(|r| serde::de::Error::custom(r.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_writes_the_stored_form_or_rejects() {
        for (text, stored) in [
            ("{}", "{}"),
            (r#"{"a":1}"#, r#"{"a":1}"#),
            (
                r#"{ "b": [1, 2.5], "a": null }"#,
                r#"{"a":null,"b":[1,2.5]}"#,
            ),
            (r#"{"a": 1, "a": 2}"#, r#"{"a":2}"#),
            (r#"{"s": "\u0041\n"}"#, r#"{"s":"A\n"}"#),
        ] {
            let m = Metadata::parse(text).unwrap();
            assert_eq!(m.as_str(), stored, "{text}");
            assert_eq!(m.len(), stored.len());
            // The stored form is a fixed point.
            assert_eq!(Metadata::parse(stored).unwrap(), m);
            assert_eq!(stored.parse::<Metadata>().unwrap().to_string(), stored);
        }
        for bad in ["", "[]", "1", r#""{}""#, "{", r#"{"a":1} x"#, "null"] {
            let e = Metadata::parse(bad).unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (400, Some("metadata")),
                "{bad}"
            );
            assert!(
                e.message.contains("expected a JSON object"),
                "{bad}: {}",
                e.message
            );
        }
        let deep = format!("{}{}", r#"{"a":"#.repeat(MAX_METADATA_DEPTH), "1");
        let deep = format!("{deep}{}", "}".repeat(MAX_METADATA_DEPTH));
        assert!(Metadata::parse(&deep).is_ok());
        let deeper = format!(r#"{{"b":{deep}}}"#);
        let e = Metadata::parse(&deeper).unwrap_err();
        assert!(e.message.contains("nested 33 levels deep"), "{}", e.message);
    }

    proptest::proptest! {
        /// Whatever the spacing, key order, repeats, escapes or numbers,
        /// the stored text is what printing the parsed tree gives, and it
        /// parses back to itself.
        #[test]
        fn parse_is_printing_the_tree(
            members in proptest::collection::vec(
                ("[a-d]{1,2}", proptest::prop_oneof![
                    "-?[0-9]{1,20}",
                    "-?[0-9]{1,3}\\.[0-9]{1,3}(e[+-]?[0-9])?",
                    "\"[a-c\\\\n é]{0,4}\"",
                    proptest::strategy::Just("true".to_owned()),
                    proptest::strategy::Just("null".to_owned()),
                    proptest::strategy::Just("[1, {\"z\": [], \"y\": {}}]".to_owned()),
                ]),
                0..6,
            ),
            spaced in proptest::bool::ANY,
        ) {
            let sep = if spaced { " , " } else { "," };
            let colon = if spaced { " : " } else { ":" };
            let body: Vec<String> =
                members.iter().map(|(k, v)| format!("\"{k}\"{colon}{v}")).collect();
            let text = format!("{{{}}}", body.join(sep));
            let tree: Option<Map<String, Value>> = serde_json::from_str(&text).ok();
            match (Metadata::parse(&text), tree) {
                (Ok(m), Some(tree)) => {
                    proptest::prop_assert_eq!(m.as_str(), serde_json::to_string(&tree).unwrap());
                    proptest::prop_assert_eq!(Metadata::parse(m.as_str()).unwrap(), m);
                }
                (Err(e), None) => proptest::prop_assert_eq!(e.field.as_deref(), Some("metadata")),
                (m, tree) => proptest::prop_assert!(false, "{text}: {m:?} but tree {tree:?}"),
            }
        }
    }

    #[test]
    fn serde_is_the_text_and_checks_it() {
        let m = Metadata::parse(r#"{"b":1,"a":2}"#).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#""{\"a\":2,\"b\":1}""#);
        assert_eq!(serde_json::from_str::<Metadata>(&json).unwrap(), m);
        let spaced: Metadata = serde_json::from_str(r#""{ \"a\" : 2 }""#).unwrap();
        assert_eq!(spaced.as_str(), r#"{"a":2}"#);
        assert!(serde_json::from_str::<Metadata>(r#""[1]""#).is_err());
        assert!(serde_json::from_str::<Metadata>("7").is_err());
    }
}
