//! Recognising metadata that is already in its canonical form: the compact
//! JSON, keys sorted and unique, that validating and printing it again
//! (`check_metadata`) would give. A request built in code usually carries
//! such text (a map printed by `serde_json`), and keeping it as it is saves
//! parsing it into a tree and printing it back.
//!
//! Only a plain subset is recognised: integers of at most 18 digits (no
//! fraction, no exponent, no `-0`), strings without escapes or control
//! characters, `true`, `false`, `null`, arrays and objects. Text outside it
//! may still be canonical; it takes the full path, which gives the same
//! answer more slowly.

use super::swar;

/// Whether `text` is a JSON object in canonical form, nested at most
/// `max_depth` levels (an object of scalars is 1).
pub(super) fn is_canonical(text: &str, max_depth: usize) -> bool {
    let mut s = Scan::<false>::new(text, max_depth);
    s.peek() == Some(b'{') && s.value(0) && s.at == s.bytes.len()
}

/// The canonical form of `text`, when it is an object of the plain subset
/// nested at most `max_depth` levels, written with any JSON whitespace and
/// its keys in any order: a JSON body's metadata as hosts send it. `None`
/// for anything else, duplicate keys included (the full path decides
/// which one wins).
pub(super) fn canonicalize(text: &str, max_depth: usize) -> Option<String> {
    let (canonical, len) = canonical_prefix(text, max_depth)?;
    let rest = text.as_bytes().get(len..)?;
    rest.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .then_some(canonical)
}

/// [`canonicalize`] of the object that `text` starts with (after any
/// whitespace), and how many bytes of `text` it took: what a body's
/// `metadata` is when the body is read without a parser.
pub(super) fn canonical_prefix(text: &str, max_depth: usize) -> Option<(String, usize)> {
    let mut s = Scan::<true>::new(text, max_depth);
    s.space();
    if s.peek() != Some(b'{') || !s.value(0) {
        return None;
    }
    // Whole tokens of valid UTF-8 were copied: this check cannot fail.
    Some((String::from_utf8(s.out).ok()?, s.at))
}

/// A scan of the plain subset. `WRITE` false: the text must already be
/// canonical, and nothing is written. `WRITE` true: whitespace is skipped,
/// the compact text written to `out`, and each object's members sorted.
struct Scan<'a, const WRITE: bool> {
    bytes: &'a [u8],
    at: usize,
    max_depth: usize,
    out: Vec<u8>,
    /// The members of the objects being written, innermost last: key, and
    /// where the member (`"key":value`) is in `out`.
    members: Vec<(&'a [u8], usize, usize)>,
}

impl<'a, const WRITE: bool> Scan<'a, WRITE> {
    fn new(text: &'a str, max_depth: usize) -> Self {
        Scan {
            bytes: text.as_bytes(),
            at: 0,
            max_depth,
            // Room for the compact text and a sorted copy of its largest
            // object (see `sort_members`), so that it is allocated once.
            out: Vec::with_capacity(if WRITE { 2 * text.len() } else { 0 }),
            members: Vec::with_capacity(if WRITE { 16 } else { 0 }),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips JSON whitespace, when writing (canonical text has none).
    fn space(&mut self) {
        if WRITE {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if WRITE {
            self.out.extend_from_slice(bytes);
        }
    }

    /// Writes the text scanned since `start`.
    fn put_since(&mut self, start: usize) {
        if WRITE && let Some(token) = self.bytes.get(start..self.at) {
            self.out.extend_from_slice(token);
        }
    }

    /// Eats `b` (after whitespace, when writing) and writes it.
    fn eat(&mut self, b: u8) -> bool {
        self.space();
        let hit = self.peek() == Some(b);
        if hit {
            self.at += 1;
            self.put(&[b]);
        }
        hit
    }

    /// A value whose container is `depth` levels deep.
    fn value(&mut self, depth: usize) -> bool {
        self.space();
        let start = self.at;
        let scalar = match self.peek() {
            Some(b'{') => return self.object(depth + 1),
            Some(b'[') => return self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        };
        if scalar {
            self.put_since(start);
        }
        scalar
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth > self.max_depth || !self.eat(b'{') {
            return false;
        }
        if self.eat(b'}') {
            return true;
        }
        let first = self.members.len();
        let mut previous: Option<&[u8]> = None;
        let mut sorted = true;
        loop {
            self.space();
            let start = self.out.len();
            let key_start = self.at;
            let Some(key) = self.string() else {
                return false;
            };
            self.put_since(key_start);
            // Sorted and unique, as a printed map's keys are.
            if previous.is_some_and(|p| p >= key) {
                if !WRITE {
                    return false;
                }
                sorted = false;
            }
            previous = Some(key);
            if !self.eat(b':') || !self.value(depth) {
                return false;
            }
            if WRITE {
                self.members.push((key, start, self.out.len()));
            }
            if !self.eat(b',') {
                break;
            }
        }
        if !self.eat(b'}') {
            return false;
        }
        if WRITE && !sorted && !self.sort_members(first) {
            return false;
        }
        self.members.truncate(first);
        true
    }

    /// Rewrites the object whose members are `members[first..]` (the last
    /// thing in `out`, its closing brace included) with its members in key
    /// order; false if a key is given twice.
    fn sort_members(&mut self, first: usize) -> bool {
        let Some(members) = self.members.get_mut(first..) else {
            return false;
        };
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if members
            .windows(2)
            .any(|w| w.first().map(|m| m.0) == w.get(1).map(|m| m.0))
        {
            return false;
        }
        let Some(&(_, begin, _)) = members.iter().min_by_key(|m| m.1) else {
            return false;
        };
        // The members are copied in order after the object, then moved
        // over it.
        let sorted = self.out.len();
        for (i, &(_, start, end)) in members.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            if start > end || end > sorted {
                return false;
            }
            self.out.extend_from_within(start..end);
        }
        self.out.push(b'}');
        self.out.copy_within(sorted.., begin);
        self.out
            .truncate(begin + self.out.len().saturating_sub(sorted));
        true
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > self.max_depth || !self.eat(b'[') {
            return false;
        }
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            if !self.eat(b',') {
                return self.eat(b']');
            }
        }
    }

    /// A string's content, when it has no escape and no control character.
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = plain_string(self.bytes.get(self.at..)?)?;
        let content = self.bytes.get(self.at + 1..self.at + 1 + len);
        self.at += len + 2;
        content
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self
            .bytes
            .get(self.at..)
            .is_some_and(|r| r.starts_with(word));
        if hit {
            self.at += word.len();
        }
        hit
    }

    fn integer(&mut self) -> bool {
        let len = self.bytes.get(self.at..).and_then(plain_integer);
        self.at += len.unwrap_or(0);
        len.is_some()
    }
}

/// How long the content of the string `bytes` start with is, when it has
/// no escape and no control character.
pub(super) fn plain_string(bytes: &[u8]) -> Option<usize> {
    let rest = bytes.strip_prefix(b"\"")?;
    let len = first_special(rest)?;
    (rest.get(len) == Some(&b'"')).then_some(len)
}

/// How long the integer `bytes` start with is, when it is plain: no
/// leading zero but 0 itself, no -0, and at most 18 digits, so that it
/// prints back digit for digit.
pub(super) fn plain_integer(bytes: &[u8]) -> Option<usize> {
    let negative = bytes.first() == Some(&b'-');
    let rest = bytes.get(usize::from(negative)..)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let first = rest.first().copied();
    ((1..=18).contains(&digits) && (first != Some(b'0') || (digits == 1 && !negative)))
        .then_some(usize::from(negative) + digits)
}

/// Where the first `"`, `\\` or control character of `bytes` is, eight
/// bytes at a time: a string's end, or why it is not plain.
fn first_special(bytes: &[u8]) -> Option<usize> {
    swar::first(bytes, |w| {
        swar::eq(w, b'"') | swar::eq(w, b'\\') | swar::below(w, 0x20)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::{canonicalize, is_canonical};

    /// What validation prints for `text`, when it is an object.
    fn printed(text: &str) -> Option<String> {
        let map: Map<String, Value> = serde_json::from_str(text).ok()?;
        serde_json::to_string(&map).ok()
    }

    #[test]
    fn the_plain_subset_is_recognised_and_nothing_else() {
        for yes in [
            "{}",
            r#"{"a":1}"#,
            r#"{"a":-12,"b":0,"c":true,"d":false,"e":null,"f":"x y/é"}"#,
            r#"{"a":[],"b":[1,"2",[3]],"c":{"d":{}}}"#,
            r#"{"A":1,"B":2,"a":3}"#,
            r#"{"n":999999999999999999}"#,
        ] {
            assert!(is_canonical(yes, 32), "{yes}");
            assert_eq!(printed(yes).as_deref(), Some(yes));
        }
        for no in [
            "",
            "[]",
            r#""a""#,
            r#"{"a": 1}"#,
            r#"{ "a":1}"#,
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1.0}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":1000000000000000000}"#,
            r#"{"a":"\n"}"#,
            r#"{"a":"\u0041"}"#,
            "{\"a\":\"\t\"}",
            r#"{"a":1}x"#,
            r#"{"a":1"#,
            r#"{"a":[1,]}"#,
            r#"{"a":tru}"#,
        ] {
            assert!(!is_canonical(no, 32), "{no}");
        }
        // Depth: an object of scalars is 1.
        assert!(is_canonical(r#"{"a":{"b":[1]}}"#, 3));
        assert!(!is_canonical(r#"{"a":{"b":[1]}}"#, 2));
    }

    #[test]
    fn whitespace_and_key_order_are_rewritten() {
        for (text, canonical) in [
            ("{}", "{}"),
            (" { } ", "{}"),
            (r#"{"a": 1}"#, r#"{"a":1}"#),
            (
                "{\n  \"b\" : [ 1 , { \"d\":2, \"c\" :3} ],\r\n\t\"a\": null }",
                r#"{"a":null,"b":[1,{"c":3,"d":2}]}"#,
            ),
            (
                r#"{"name": "Abhinav", "age": 25, "order": {"id": "A-1", "amount": 4999}}"#,
                r#"{"age":25,"name":"Abhinav","order":{"amount":4999,"id":"A-1"}}"#,
            ),
            (r#"{"b":1,"a":2,"B":3}"#, r#"{"B":3,"a":2,"b":1}"#),
        ] {
            assert_eq!(canonicalize(text, 32).as_deref(), Some(canonical), "{text}");
            assert_eq!(printed(text).as_deref(), Some(canonical), "{text}");
        }
        for no in [
            "",
            "[]",
            r#""a""#,
            r#"{"a":1,"a":2}"#,
            r#"{"b":1,"a":2,"b":3}"#,
            r#"{"a":1.0}"#,
            r#"{"a":"\n"}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"{"a":[1,]}"#,
            r#"{,}"#,
        ] {
            assert_eq!(canonicalize(no, 32), None, "{no}");
        }
        assert!(canonicalize(r#"{ "a" : { "b" : [1] } }"#, 3).is_some());
        assert_eq!(canonicalize(r#"{ "a" : { "b" : [1] } }"#, 2), None);
    }

    /// A JSON tree, and the choices of how to write it.
    #[derive(Clone, Debug)]
    enum Node {
        Int(i64),
        Float(f64),
        Str(String),
        Lit(&'static str),
        Array(Vec<Node>),
        Object(Vec<(String, Node)>),
    }

    fn node() -> impl Strategy<Value = Node> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Node::Int),
            (-1e6..1e6_f64).prop_map(Node::Float),
            "[a-c\"\\\\\n é]{0,4}".prop_map(Node::Str),
            prop_oneof![
                Just("true"),
                Just("false"),
                Just("null"),
                Just("-0"),
                Just("007")
            ]
            .prop_map(Node::Lit),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Node::Array),
                prop::collection::vec(("[a-d]{1,2}", inner), 0..4).prop_map(Node::Object),
            ]
        })
    }

    /// Writes `n`, with a space after separators when `spaced`.
    fn write(n: &Node, spaced: bool, out: &mut String) {
        let sep = if spaced { ", " } else { "," };
        match n {
            Node::Int(i) => out.push_str(&i.to_string()),
            Node::Float(f) => out.push_str(&format!("{f:?}")),
            Node::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            Node::Lit(l) => out.push_str(l),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    write(item, spaced, out);
                }
                out.push(']');
            }
            Node::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push_str(if spaced { " :\n\t" } else { ":" });
                    write(v, spaced, out);
                }
                out.push('}');
            }
        }
    }

    proptest! {
        /// Whatever the scan accepts, validation would print unchanged:
        /// keeping the text is the same as the full path.
        #[test]
        fn accepted_text_is_what_validation_prints(fields in prop::collection::vec(("[a-d]{1,2}", node()), 0..5), spaced: bool) {
            let mut text = String::new();
            write(&Node::Object(fields), spaced, &mut text);
            let again = printed(&text);
            if is_canonical(&text, 32) {
                prop_assert_eq!(again.as_deref(), Some(text.as_str()));
            }
            // Rewriting gives what validation prints, whenever it answers.
            if let Some(c) = canonicalize(&text, 32) {
                prop_assert_eq!(Some(c), again.clone());
            }
            // And what validation prints of the plain subset is accepted,
            // so the fast path is taken for it.
            if let Some(p) = again
                && !p.contains('\\')
                && !p.as_bytes().windows(2).any(|w| w[0].is_ascii_digit() && matches!(w[1], b'.' | b'e' | b'E'))
                && p.split(|c: char| !c.is_ascii_digit()).all(|d| d.len() <= 18)
            {
                prop_assert!(is_canonical(&p, 32), "{}", p);
                let rewritten = canonicalize(&p, 32);
                prop_assert_eq!(rewritten.as_deref(), Some(p.as_str()));
            }
        }
    }
}
