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
    let mut s = Scan {
        bytes: text.as_bytes(),
        at: 0,
        max_depth,
    };
    s.peek() == Some(b'{') && s.value(0) && s.at == s.bytes.len()
}

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
    max_depth: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.at += 1;
        }
        hit
    }

    /// A value whose container is `depth` levels deep.
    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth > self.max_depth {
            return false;
        }
        self.at += 1;
        if self.eat(b'}') {
            return true;
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            let Some(key) = self.string() else {
                return false;
            };
            // Sorted and unique, as a printed map's keys are.
            if previous.is_some_and(|p| p >= key) {
                return false;
            }
            previous = Some(key);
            if !self.eat(b':') || !self.value(depth) {
                return false;
            }
            if !self.eat(b',') {
                return self.eat(b'}');
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > self.max_depth {
            return false;
        }
        self.at += 1;
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
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let rest = self.bytes.get(start..)?;
        let len = first_special(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        rest.get(..len)
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
        let negative = self.eat(b'-');
        let start = self.at;
        let digits = self
            .bytes
            .get(start..)
            .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
        let first = self.peek();
        self.at = start + digits;
        // No leading zero but 0 itself, no -0, and small enough to print
        // back digit for digit.
        (1..=18).contains(&digits) && (first != Some(b'0') || (digits == 1 && !negative))
    }
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

    use super::is_canonical;

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
                    out.push(':');
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
            // And what validation prints of the plain subset is accepted,
            // so the fast path is taken for it.
            if let Some(p) = again
                && !p.contains('\\')
                && !p.as_bytes().windows(2).any(|w| w[0].is_ascii_digit() && matches!(w[1], b'.' | b'e' | b'E'))
                && p.split(|c: char| !c.is_ascii_digit()).all(|d| d.len() <= 18)
            {
                prop_assert!(is_canonical(&p, 32), "{}", p);
            }
        }
    }
}
