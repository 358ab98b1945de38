//! Conformance cases (`trace-format.md`): replay a case through the engine
//! and compare its events with the expected ones.
//!
//! The `redial replay` command and the conformance tests both use this.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::event::{AttemptId, CallId, Event, EventKind};
use crate::retry::Outcome;
use crate::scheduler::Scheduler;
use crate::snapshot::Snapshot;

/// One conformance case.
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    /// What the case shows.
    #[serde(default)]
    pub name: String,
    /// Engine configuration; missing keys take defaults.
    #[serde(default)]
    pub config: Value,
    /// Inputs, each at an instant.
    pub steps: Vec<Step>,
    /// The full expected event stream.
    #[serde(default)]
    pub expect: Vec<Value>,
}

/// One input of a case.
#[derive(Clone, Debug, Deserialize)]
pub struct Step {
    /// When the input happens.
    pub at: DateTime<FixedOffset>,
    /// What it is.
    #[serde(flatten)]
    pub op: Op,
}

/// The operations of a case.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Op {
    Submit {
        #[serde(rename = "ref")]
        name: String,
        #[serde(default)]
        request: Option<Value>,
        #[serde(default)]
        body: Option<String>,
    },
    Dial {
        max: u64,
    },
    Report {
        #[serde(rename = "ref")]
        name: String,
        outcome: String,
        #[serde(default)]
        attempt: Option<u32>,
    },
    Cancel {
        #[serde(rename = "ref")]
        name: String,
    },
    PauseBatch {
        batch_id: String,
    },
    ResumeBatch {
        batch_id: String,
    },
    CancelBatch {
        batch_id: String,
    },
    RegisterAgent {
        agent_id: String,
        #[serde(default)]
        max_concurrent_calls: Option<u64>,
    },
    Suppress {
        to_number: String,
        #[serde(default)]
        until: Option<DateTime<FixedOffset>>,
    },
    Unsuppress {
        to_number: String,
    },
    Advance,
    Restart,
}

/// A case that cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseError(pub String);

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid case: {}", self.0)
    }
}

impl std::error::Error for CaseError {}

impl Case {
    /// Parses a case from JSON text.
    ///
    /// # Errors
    /// [`CaseError`] when the text is not a case.
    pub fn from_json(text: &str) -> Result<Case, CaseError> {
        serde_json::from_str(text).map_err(|e| CaseError(e.to_string()))
    }
}

/// Replays a case and returns the events as trace lines (JSON objects with
/// `at`, `event`, `ref` and the event's fields), in order.
///
/// # Errors
/// [`CaseError`] for an invalid config, an unknown outcome name, or a
/// failed restart.
///
/// # Example
/// ```
/// let case = redial::trace::Case::from_json(r#"{"steps": [
///   {"at": "2025-12-31T10:00:00+05:30", "op": "submit", "ref": "a",
///    "request": {"to_number": "+919876543210", "agent_id": "x"}}]}"#).unwrap();
/// let lines = redial::trace::replay(&case).unwrap();
/// assert_eq!(lines[0]["event"], "accepted");
/// assert_eq!(lines[0]["ref"], "a");
/// ```
pub fn replay(case: &Case) -> Result<Vec<Value>, CaseError> {
    let config = if case.config.is_null() {
        Config::default()
    } else {
        Config::from_json(&case.config.to_string()).map_err(|e| CaseError(e.to_string()))?
    };
    let mut engine = Scheduler::new(config).map_err(|e| CaseError(e.to_string()))?;
    let mut refs: HashMap<String, CallId> = HashMap::new();
    let mut names: HashMap<CallId, String> = HashMap::new();
    let mut out = Vec::new();
    for step in &case.steps {
        let now = step.at.with_timezone(&Utc);
        let op_name = op_name(&step.op);
        engine
            .handle_timeout(now)
            .map_err(|e| CaseError(e.to_string()))?;
        drain(&mut engine, &names, None, &mut out);
        let lookup = |name: &str| refs.get(name).copied();
        let result: Result<(), (Option<String>, &'static str)> = match &step.op {
            Op::Submit {
                name,
                request,
                body,
            } => {
                let bytes = match (request, body) {
                    (_, Some(b)) => b.clone().into_bytes(),
                    (Some(r), None) => r.to_string().into_bytes(),
                    (None, None) => return Err(CaseError("submit needs request or body".into())),
                };
                if let Ok(accepted) = engine.submit(now, &bytes) {
                    refs.insert(name.clone(), accepted.call);
                    names.entry(accepted.call).or_insert_with(|| name.clone());
                }
                drain(&mut engine, &names, Some(name), &mut out);
                Ok(())
            }
            Op::Dial { max } => {
                let max = usize::try_from(*max).unwrap_or(usize::MAX);
                engine
                    .dial(now, max)
                    .map(|_| ())
                    .map_err(|e| (None, e.code()))
            }
            Op::Suppress { to_number, until } => engine
                .suppress(now, to_number, until.map(|u| u.with_timezone(&Utc)))
                .map_err(|e| (None, e.code())),
            Op::Unsuppress { to_number } => engine
                .unsuppress(now, to_number)
                .map_err(|e| (None, e.code())),
            Op::Report {
                name,
                outcome,
                attempt,
            } => {
                let outcome: Outcome = outcome
                    .parse()
                    .map_err(|e: crate::retry::UnknownOutcome| CaseError(e.to_string()))?;
                match (lookup(name), attempt) {
                    (None, _) => Err((Some(name.clone()), "unknown_call")),
                    (Some(call), Some(attempt)) => {
                        let attempt = AttemptId {
                            call,
                            attempt: *attempt,
                        };
                        engine
                            .report(now, attempt, outcome)
                            .map_err(|e| (Some(name.clone()), e.code()))
                    }
                    (Some(call), None) => engine
                        .report_current(now, call, outcome)
                        .map_err(|e| (Some(name.clone()), e.code())),
                }
            }
            Op::Cancel { name } => match lookup(name) {
                None => Err((Some(name.clone()), "unknown_call")),
                Some(id) => engine
                    .cancel(now, id)
                    .map_err(|e| (Some(name.clone()), e.code())),
            },
            Op::PauseBatch { batch_id } => engine
                .pause_batch(now, batch_id)
                .map_err(|e| (None, e.code())),
            Op::ResumeBatch { batch_id } => engine
                .resume_batch(now, batch_id)
                .map_err(|e| (None, e.code())),
            Op::CancelBatch { batch_id } => engine
                .cancel_batch(now, batch_id)
                .map_err(|e| (None, e.code())),
            Op::RegisterAgent {
                agent_id,
                max_concurrent_calls,
            } => {
                let cap = max_concurrent_calls.map(|c| u32::try_from(c).unwrap_or(u32::MAX));
                engine
                    .register_agent(now, agent_id, cap)
                    .map_err(|e| (None, e.code()))
            }
            Op::Advance => Ok(()),
            Op::Restart => {
                let bytes = engine.snapshot().to_bytes();
                let snapshot =
                    Snapshot::from_bytes(&bytes).map_err(|e| CaseError(e.to_string()))?;
                engine = Scheduler::restore(snapshot).map_err(|e| CaseError(e.to_string()))?;
                Ok(())
            }
        };
        drain(&mut engine, &names, None, &mut out);
        if let Err((name, code)) = result {
            // An error happens at the engine's clock: a step whose `at` is
            // earlier than one already seen acts at the latest instant seen.
            let at = engine.now().unwrap_or(now);
            let mut line = Map::new();
            line.insert("at".into(), Value::from(format_instant(at)));
            line.insert("event".into(), Value::from("error"));
            line.insert("ref".into(), name.map_or(Value::Null, Value::from));
            line.insert("op".into(), Value::from(op_name));
            line.insert("code".into(), Value::from(code));
            out.push(Value::Object(line));
        }
    }
    Ok(out)
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Submit { .. } => "submit",
        Op::Dial { .. } => "dial",
        Op::Report { .. } => "report",
        Op::Cancel { .. } => "cancel",
        Op::PauseBatch { .. } => "pause_batch",
        Op::ResumeBatch { .. } => "resume_batch",
        Op::CancelBatch { .. } => "cancel_batch",
        Op::RegisterAgent { .. } => "register_agent",
        Op::Suppress { .. } => "suppress",
        Op::Unsuppress { .. } => "unsuppress",
        Op::Advance => "advance",
        Op::Restart => "restart",
    }
}

fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Moves the engine's pending events into trace lines. `submit_ref` names
/// the events of a submit step's own effect (`accepted`, `rejected`).
fn drain(
    engine: &mut Scheduler,
    names: &HashMap<CallId, String>,
    submit_ref: Option<&String>,
    out: &mut Vec<Value>,
) {
    while let Some(event) = engine.poll_event() {
        out.push(trace_line(&event, names, submit_ref));
    }
}

/// One event as a trace line.
pub fn trace_line(
    event: &Event,
    names: &HashMap<CallId, String>,
    submit_ref: Option<&String>,
) -> Value {
    // The event's own flat form (at, call_id, event, its fields, and the
    // agent and batch of a terminal event), plus the case's ref.
    let mut line = match serde_json::to_value(event) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    if event.call.is_none() {
        line.remove("call_id");
    }
    let own = matches!(
        event.kind,
        EventKind::Accepted { .. } | EventKind::Rejected { .. }
    );
    let name = match (own, submit_ref) {
        (true, Some(r)) => Some(r.clone()),
        _ => event.call.and_then(|c| names.get(&c).cloned()),
    };
    line.insert("ref".into(), name.map_or(Value::Null, Value::from));
    line.insert("at".into(), Value::from(format_instant(event.at)));
    Value::Object(line)
}

/// Writes a trace line as compact JSON with `at`, `event` and `ref` first.
pub fn format_line(line: &Value) -> String {
    let Value::Object(map) = line else {
        return line.to_string();
    };
    let mut parts = Vec::new();
    let first = ["at", "event", "ref"];
    for key in first {
        if let Some(v) = map.get(key) {
            parts.push(format!("{}:{}", Value::from(key), v));
        }
    }
    for (k, v) in map {
        if !first.contains(&k.as_str()) {
            parts.push(format!("{}:{}", Value::from(k.as_str()), v));
        }
    }
    format!("{{{}}}", parts.join(","))
}

/// Compares actual trace lines with a case's `expect`: same length, and
/// each expected field equal in the actual line (instants compared as
/// instants; `message` and `call_id` never compared).
///
/// # Errors
/// A readable list of differences.
pub fn compare(expect: &[Value], actual: &[Value]) -> Result<(), String> {
    let mut diffs = Vec::new();
    for i in 0..expect.len().max(actual.len()) {
        match (expect.get(i), actual.get(i)) {
            (Some(e), Some(a)) => {
                let bad = mismatched_fields(e, a);
                if !bad.is_empty() {
                    diffs.push(format!(
                        "event #{}: fields {} differ\n  expected {}\n  actual   {}",
                        i + 1,
                        bad.join(", "),
                        format_line(e),
                        format_line(a)
                    ));
                }
            }
            (Some(e), None) => diffs.push(format!(
                "event #{}: missing\n  expected {}",
                i + 1,
                format_line(e)
            )),
            (None, Some(a)) => diffs.push(format!(
                "event #{}: unexpected\n  actual   {}",
                i + 1,
                format_line(a)
            )),
            (None, None) => {}
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

fn mismatched_fields(expect: &Value, actual: &Value) -> Vec<String> {
    let (Value::Object(e), Value::Object(a)) = (expect, actual) else {
        return vec!["(not an object)".into()];
    };
    let mut bad = Vec::new();
    let sorted: BTreeMap<&String, &Value> = e.iter().collect();
    for (k, ev) in sorted {
        if k == "message" || k == "call_id" {
            continue;
        }
        let same = match (a.get(k), k.as_str()) {
            (None, _) => false,
            (Some(av), "at" | "due") => same_instant(ev, av),
            (Some(av), _) => av == ev,
        };
        if !same {
            bad.push(k.clone());
        }
    }
    bad
}

fn same_instant(a: &Value, b: &Value) -> bool {
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Replays a case and compares it with its `expect`.
///
/// # Errors
/// The differences, or why the case could not be replayed.
pub fn check(case: &Case) -> Result<(), String> {
    let actual = replay(case).map_err(|e| e.to_string())?;
    compare(&case.expect, &actual)
}
