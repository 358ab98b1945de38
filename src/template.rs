//! Prompt templates: `{{metadata.key}}` filled from a call's metadata
//! (semantics §7).
//!
//! Nested keys use dots (`{{metadata.address.city}}`); whitespace inside the
//! braces is ignored. Strings render without quotes, other JSON values as
//! compact JSON text (`null` renders as `null`). Anything else, including
//! `{{name}}` without the `metadata.` prefix and an unclosed `{{`, is left
//! as written: nothing else is evaluated.

use std::fmt;

use serde_json::Value;

/// What a missing key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A missing key is an error naming it.
    Strict,
    /// A missing key renders as the empty string.
    Lenient,
}

/// A placeholder whose key the metadata lacks (strict mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingKey {
    /// The key as written after `metadata.`, such as `address.city`.
    pub key: String,
}

impl fmt::Display for MissingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metadata has no key {:?}: expected it for {{{{metadata.{}}}}}",
            self.key, self.key
        )
    }
}

impl std::error::Error for MissingKey {}

/// Renders `template` with `metadata`.
///
/// # Errors
/// [`MissingKey`] in [`Mode::Strict`] for the first placeholder whose key is
/// missing.
///
/// # Example
/// ```
/// use redial::template::{render, Mode};
/// let meta = serde_json::json!({"name": "Abhinav", "age": 25, "address": {"city": "Bangalore"}});
/// let out = render("Hi {{metadata.name}} ({{ metadata.age }}), {{metadata.address.city}}{{metadata.x}}", &meta, Mode::Lenient).unwrap();
/// assert_eq!(out, "Hi Abhinav (25), Bangalore");
/// assert_eq!(render("{{metadata.x.y}}", &meta, Mode::Strict).unwrap_err().key, "x.y");
/// assert_eq!(render("{{name}} {{metadata.name", &meta, Mode::Strict).unwrap(), "{{name}} {{metadata.name");
/// ```
pub fn render(template: &str, metadata: &Value, mode: Mode) -> Result<String, MissingKey> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let (before, after_open) = rest.split_at(open);
        out.push_str(before);
        let inner_start = after_open.get(2..).unwrap_or("");
        let Some(close) = inner_start.find("}}") else {
            out.push_str(after_open);
            return Ok(out);
        };
        let inner = inner_start.get(..close).unwrap_or("");
        let whole = after_open.get(..close + 4).unwrap_or(after_open);
        rest = inner_start.get(close + 2..).unwrap_or("");
        match inner.trim().strip_prefix("metadata.") {
            None => out.push_str(whole),
            Some(key) => match lookup(metadata, key) {
                Some(Value::String(s)) => out.push_str(s),
                Some(v) => out.push_str(&v.to_string()),
                None if mode == Mode::Lenient => {}
                None => {
                    return Err(MissingKey {
                        key: key.to_owned(),
                    });
                }
            },
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup<'a>(metadata: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.')
        .try_fold(metadata, |v, part| v.as_object()?.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_render_as_json_text_except_strings() {
        let m = json!({"s": "x", "n": 1.5, "b": true, "z": null, "a": [1, "2"], "o": {"k": 1}});
        let out = render("{{metadata.s}}|{{metadata.n}}|{{metadata.b}}|{{metadata.z}}|{{metadata.a}}|{{metadata.o}}", &m, Mode::Strict).unwrap();
        assert_eq!(out, r#"x|1.5|true|null|[1,"2"]|{"k":1}"#);
    }

    #[test]
    fn missing_keys_by_mode() {
        let m = json!({"a": {"b": 1}});
        assert_eq!(
            render("[{{metadata.a.c}}]", &m, Mode::Lenient).unwrap(),
            "[]"
        );
        assert_eq!(
            render("[{{metadata.a.b.c}}]", &m, Mode::Strict)
                .unwrap_err()
                .key,
            "a.b.c"
        );
        assert_eq!(
            render("{{metadata.}}", &m, Mode::Strict).unwrap_err().key,
            ""
        );
    }

    #[test]
    fn nothing_else_is_evaluated() {
        let m = json!({"x": "{{metadata.y}}", "y": "no"});
        // A value that looks like a placeholder is not expanded again.
        assert_eq!(
            render("{{metadata.x}}", &m, Mode::Strict).unwrap(),
            "{{metadata.y}}"
        );
        assert_eq!(
            render("{{ other.x }} {{metadata.y}}", &m, Mode::Strict).unwrap(),
            "{{ other.x }} no"
        );
        assert_eq!(render("", &m, Mode::Strict).unwrap(), "");
        assert_eq!(
            render("ünï {{metadata.y}} ✓", &m, Mode::Strict).unwrap(),
            "ünï no ✓"
        );
    }
}
