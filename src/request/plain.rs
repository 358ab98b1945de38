//! Reading a body of the plain subset without a parser: most bodies a host
//! sends are a flat object of strings without escapes, small integers,
//! booleans, arrays of those, and a metadata object. Such a body is read
//! in one pass over its text into the same fields the parser would give
//! (a test compares the two on random bodies); anything else, errors
//! included, is left to the parser, which says what is wrong.

use serde_json::Value;

use super::MAX_METADATA_DEPTH;
use super::canonical::{canonical_prefix, plain_integer, plain_string};
use super::parse::BodyFields;

/// Reads `text` into `fields` (empty) when it is a body of the plain
/// subset with no field given twice; false otherwise, with `fields` in
/// any state.
pub(super) fn read_plain<'a>(text: &'a str, fields: &mut BodyFields<'a>) -> bool {
    let mut r = Reader { text, at: 0 };
    if !r.eat(b'{') {
        return false;
    }
    if r.eat(b'}') {
        return r.at_end();
    }
    loop {
        let Some(key) = r.string() else {
            return false;
        };
        if !r.eat(b':') {
            return false;
        }
        let filed = if key == "metadata" {
            let Some((canonical, len)) = r
                .text
                .get(r.at..)
                .and_then(|rest| canonical_prefix(rest, MAX_METADATA_DEPTH))
            else {
                return false;
            };
            r.at += len;
            fields.file_metadata_text(canonical)
        } else if r.peek_space() == Some(b'"') {
            // A string is kept as a slice of the body: most are parsed
            // into a type (a time, a zone) and dropped.
            let Some(value) = r.string() else {
                return false;
            };
            fields.file_str(key, value)
        } else {
            let Some(value) = r.value() else {
                return false;
            };
            fields.file(key, value)
        };
        if filed.is_err() {
            return false;
        }
        if r.eat(b'}') {
            return r.at_end();
        }
        if !r.eat(b',') {
            return false;
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Eats `b` after any whitespace.
    fn eat(&mut self, b: u8) -> bool {
        self.space();
        let hit = self.peek() == Some(b);
        if hit {
            self.at += 1;
        }
        hit
    }

    /// The next byte after any whitespace.
    fn peek_space(&mut self) -> Option<u8> {
        self.space();
        self.peek()
    }

    fn at_end(&mut self) -> bool {
        self.space();
        self.at == self.text.len()
    }

    /// A string without escapes or control characters, after any
    /// whitespace.
    fn string(&mut self) -> Option<&'a str> {
        self.space();
        let len = plain_string(self.text.get(self.at..)?.as_bytes())?;
        let content = self.text.get(self.at + 1..self.at + 1 + len);
        self.at += len + 2;
        content
    }

    /// A scalar, or an array of scalars.
    fn value(&mut self) -> Option<Value> {
        if self.eat(b'[') {
            let mut items = Vec::new();
            if self.eat(b']') {
                return Some(Value::Array(items));
            }
            loop {
                items.push(self.scalar()?);
                if self.eat(b']') {
                    return Some(Value::Array(items));
                }
                if !self.eat(b',') {
                    return None;
                }
            }
        }
        self.scalar()
    }

    fn scalar(&mut self) -> Option<Value> {
        self.space();
        let rest = self.text.get(self.at..)?;
        let (value, len) = match rest.as_bytes().first()? {
            b'"' => return self.string().map(|s| Value::String(s.to_owned())),
            b't' if rest.starts_with("true") => (Value::Bool(true), 4),
            b'f' if rest.starts_with("false") => (Value::Bool(false), 5),
            b'n' if rest.starts_with("null") => (Value::Null, 4),
            _ => {
                let len = plain_integer(rest.as_bytes())?;
                (Value::from(rest.get(..len)?.parse::<i64>().ok()?), len)
            }
        };
        self.at += len;
        Some(value)
    }
}
