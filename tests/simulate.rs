//! `redial simulate`: the default scenario's invariants, determinism, the
//! JSON summary's schema, the SVG chart, and errors for bad scenario files.
#![cfg(feature = "cli")]

use std::path::PathBuf;
mod common;

use common::cli::redial;
use std::sync::OnceLock;

use serde_json::Value;

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("redial_sim_{}_{name}", std::process::id()))
}

struct DefaultRun {
    stdout: String,
    json: String,
    svg: String,
}

/// The default scenario, run once with a chart and a JSON summary.
fn default_run() -> &'static DefaultRun {
    static RUN: OnceLock<DefaultRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let (json, svg) = (tmp("default.json"), tmp("default.svg"));
        let (code, stdout, err) = redial(&[
            "simulate",
            "--no-timings",
            "--json",
            json.to_str().unwrap(),
            "--chart",
            svg.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        DefaultRun {
            stdout,
            json: std::fs::read_to_string(json).unwrap(),
            svg: std::fs::read_to_string(svg).unwrap(),
        }
    })
}

#[test]
fn default_scenario_accounts_for_every_call_and_stays_in_window() {
    let summary: Value = serde_json::from_str(&default_run().json).unwrap();
    let total = &summary["total"];
    assert_eq!(
        total["accepted"].as_u64().unwrap() + total["rejected"].as_u64().unwrap(),
        100_000
    );
    // Callbacks do not carry over: those requested after 22:00 are refused, some expire.
    assert!(summary["campaigns"][2]["rejected"].as_u64().unwrap() > 0);
    assert!(summary["campaigns"][2]["expired"].as_u64().unwrap() > 0);
    assert_eq!(total["outside_permitted"], 0);
    let mut campaigns = 0;
    for c in summary["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .chain([total])
    {
        let n = |k: &str| c[k].as_u64().unwrap();
        let ended = n("completed")
            + n("exhausted")
            + n("expired")
            + n("cancelled")
            + n("failed")
            + n("still_pending");
        assert_eq!(
            ended,
            n("accepted"),
            "{}: every accepted call is completed, ended or pending",
            c["name"]
        );
        assert!(
            n("attempts") >= n("accepted") - n("still_pending"),
            "{}",
            c["name"]
        );
        assert!(n("completed") > 0);
        campaigns += 1;
    }
    assert_eq!(campaigns, 4);
    // The chart's data adds up to the attempts.
    let hourly: u64 = summary["attempts_per_hour"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(hourly, total["attempts"].as_u64().unwrap());
    // The collections pause (13:00-15:00 IST on day 2 = hours 31.5-33.5) shows: no collections attempt in hour 32.
    assert_eq!(summary["attempts_per_hour"][0][32], 0);
    assert!(summary["attempts_per_hour"][0][30].as_u64().unwrap() > 0);
    let utilisation = summary["line_utilisation"].as_f64().unwrap();
    assert!(utilisation > 0.0 && utilisation <= 1.0);
}

#[test]
fn json_summary_schema() {
    let summary: Value = serde_json::from_str(&default_run().json).unwrap();
    for key in [
        "seed",
        "start",
        "days",
        "lines",
        "campaigns",
        "total",
        "line_utilisation",
        "engine",
        "attempts_per_hour",
    ] {
        assert!(summary.get(key).is_some(), "missing {key}");
    }
    for key in [
        "name",
        "accepted",
        "rejected",
        "completed",
        "exhausted",
        "expired",
        "cancelled",
        "failed",
        "still_pending",
        "attempts",
        "attempts_per_call",
        "carry_overs",
        "connect_p50_minutes",
        "connect_p95_minutes",
        "connect_max_minutes",
        "outside_permitted",
    ] {
        assert!(summary["total"].get(key).is_some(), "total lacks {key}");
    }
    assert!(summary["engine"]["peak_pending_calls"].as_u64().unwrap() > 0);
    assert_eq!(summary["attempts_per_hour"].as_array().unwrap().len(), 3);
    assert_eq!(
        summary["attempts_per_hour"][0].as_array().unwrap().len(),
        72
    );
}

#[test]
fn same_seed_same_output_other_seed_other_output() {
    let first = default_run();
    let json = tmp("again.json");
    let (code, stdout, _) = redial(&[
        "simulate",
        "--no-timings",
        "--seed",
        "42",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read_to_string(&json).unwrap(),
        first.json,
        "same seed, same JSON bytes"
    );
    let table = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("written to"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&stdout), table(&first.stdout));
    let (code, stdout, _) = redial(&["simulate", "--no-timings", "--seed", "7"]);
    assert_eq!(code, 0);
    assert_ne!(table(&stdout), table(&first.stdout));
}

#[test]
fn chart_is_a_well_formed_labelled_svg() {
    let svg = &default_run().svg;
    assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for label in [
        "attempts per hour",
        "collections (Asia/Kolkata)",
        "reminders (America/New_York)",
        "America/New_York clocks forward",
        "collections paused",
        "collections window [09:00, 21:00)",
    ] {
        assert!(svg.contains(label), "chart lacks {label:?}");
    }
    assert_well_formed(svg);
}

/// Every element opened is closed, in order (a small XML tag matcher).
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("unterminated tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        if tag.starts_with('/') {
            assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
        } else {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
}

#[test]
fn the_tag_matcher_rejects_broken_xml() {
    assert!(std::panic::catch_unwind(|| assert_well_formed("<svg><g></svg>")).is_err());
    assert_well_formed("<svg><g a=\"1\"/><text>x</text></svg>");
}

#[test]
fn shipped_example_is_the_default_scenario() {
    let (code, stdout, _) = redial(&["simulate", "--print-default-scenario"]);
    assert_eq!(code, 0);
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/default_scenario.json"
    ))
    .unwrap();
    assert_eq!(stdout, shipped);
}

#[test]
fn small_scenario_file_runs() {
    let path = tmp("small.json");
    std::fs::write(
        &path,
        r#"{"days": 1, "lines": 5, "campaigns": [{"name": "tiny", "timezone": "Europe/London", "min_trigger_time": "09:00",
            "max_trigger_time": "17:00", "calls": 50, "agents": ["a"], "submit_at": "2026-03-06T08:00:00Z", "number_prefix": "+44"}],
            "agents": [{"id": "a", "max_concurrent_calls": 2}], "pauses": []}"#,
    )
    .unwrap();
    let (code, stdout, err) = redial(&[
        "simulate",
        "--scenario",
        path.to_str().unwrap(),
        "--no-timings",
    ]);
    assert_eq!(code, 0, "{err}");
    let row = stdout.lines().find(|l| l.starts_with("tiny")).unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("50"), "accepted: {row}");
}

#[test]
fn bad_scenario_files_name_the_field() {
    for (text, needle) in [
        (r#"{"dayz": 3}"#, "unknown field `dayz`"),
        (r#"{"days": 0}"#, "scenario field days"),
        (r#"{"days": "3"}"#, "scenario field days: invalid type"),
        (
            r#"{"campaigns": [{"name": "x", "timezone": "UTC", "calls": 1, "agents": ["a"], "submit_at": "2026-03-06T00:00:00Z", "number_prefix": "+1"}, {"name": "y", "calls": -5}]}"#,
            "scenario field campaigns[1]",
        ),
        (
            r#"{"pauses": [{"batch_id": "collections", "at": "yesterday", "resume_at": "2026-03-07T09:30:00Z"}]}"#,
            "scenario field pauses[0]",
        ),
        (r#"{"lines": 0}"#, "scenario field lines"),
        (r#"{"answer_rate_by_hour": [0.5]}"#, "answer_rate_by_hour"),
        (
            r#"{"unanswered_mix": {"busy": 0.9, "voicemail": 0.9, "failed": 0}}"#,
            "unanswered_mix",
        ),
        (r#"{"talk_seconds": [10, 5]}"#, "talk_seconds"),
        (r#"{"campaigns": []}"#, "scenario field campaigns"),
        (
            r#"{"campaigns": [{"name": "x", "timezone": "Mars/Base", "calls": 1, "agents": ["a"], "submit_at": "2026-03-06T00:00:00Z", "number_prefix": "+1"}]}"#,
            "campaigns[0].timezone",
        ),
        (
            r#"{"campaigns": [{"name": "x", "timezone": "UTC", "calls": 1, "agents": ["a"], "submit_at": "2026-03-06T00:00:00Z", "number_prefix": "1"}]}"#,
            "campaigns[0].number_prefix",
        ),
        (
            r#"{"config": {"policies": {"x": {"hours": {"mon": [["10:00", "09:00"]]}}}}}"#,
            "scenario field config: invalid config policies.x.hours.mon[0]",
        ),
        (
            r#"{"campaigns": [{"name": "x", "timezone": "UTC", "calls": 1, "agents": ["a"], "submit_at": "2026-03-06T00:00:00Z", "number_prefix": "+1", "number_prefixes": ["+1212", "212"]}]}"#,
            "campaigns[0].number_prefixes[1]",
        ),
        (r#"{"seed": -1}"#, "scenario field seed: invalid value"),
        (r#"{"seed": 1"#, "malformed JSON"),
        (
            r#"{"pauses": [{"batch_id": "nope", "at": "2026-03-06T01:00:00Z", "resume_at": "2026-03-06T02:00:00Z"}]}"#,
            "scenario field pauses[0].batch_id",
        ),
        (
            r#"{"pauses": [{"batch_id": "collections", "at": "2026-03-06T03:00:00Z", "resume_at": "2026-03-06T02:00:00Z"}]}"#,
            "scenario field pauses[0].resume_at",
        ),
    ] {
        let path = tmp("bad.json");
        std::fs::write(&path, text).unwrap();
        let (code, _, err) = redial(&["simulate", "--scenario", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(needle), "{text}: {err}");
    }
}

/// The policy scenario (examples/policy_scenario.json): a French campaign
/// under D. 223-9's hours (lunch break, no weekends, Easter Monday) and a US
/// campaign across five area codes (one of them in two zones) under TCPA
/// hours, each call's zones taken from its number.
#[test]
fn policy_scenario_keeps_every_attempt_in_permitted_time() {
    let (json, svg) = (tmp("policy.json"), tmp("policy.svg"));
    let (code, stdout, err) = redial(&[
        "simulate",
        "--scenario",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/policy_scenario.json"),
        "--no-timings",
        "--json",
        json.to_str().unwrap(),
        "--chart",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("calls placed outside permitted time: 0"),
        "{stdout}"
    );
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(summary["total"]["outside_permitted"], 0);
    let fr: Vec<u64> = summary["attempts_per_hour"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // Hours since Wednesday 1 April 2026 00:00 UTC; Paris is UTC+2.
    for day in [0, 1, 2, 6] {
        let h = |utc_hour: usize| fr[day * 24 + utc_hour];
        assert_eq!(h(11), 0, "day {day}: 13:00-14:00 is the lunch break");
        assert_eq!(h(7), 0, "day {day}: nothing before 10:00");
        assert_eq!(h(18), 0, "day {day}: nothing from 20:00");
    }
    assert!(fr[8] > 0 && fr[12] > 0, "Wednesday morning and afternoon");
    // Saturday, Sunday and Easter Monday: not a single attempt.
    assert_eq!(fr[3 * 24..6 * 24].iter().sum::<u64>(), 0);
    assert!(fr[6 * 24 + 8] > 0, "Tuesday 10:00 resumes");
    let us = &summary["campaigns"][1];
    assert!(us["completed"].as_u64().unwrap() > 0);
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.contains("fr-renewals window [09:00, 20:30) under policy fr"));
    assert!(svg.contains("us-renewals window [09:00, 20:00) under policy us"));
    // The strips show permitted time: France's two intervals on each of
    // Wednesday, Thursday, Friday and Tuesday (lunch break, weekend, Easter
    // Monday left blank); New York's every day.
    let strips = |fill: &str| {
        svg.lines()
            .filter(|l| {
                l.starts_with("<rect") && l.contains("opacity=\"0.35\"") && l.contains(fill)
            })
            .count()
    };
    assert_eq!(strips("#1F77B4"), 8, "{svg}");
    assert_eq!(strips("#D62728"), 7);
    assert_well_formed(&svg);
}
