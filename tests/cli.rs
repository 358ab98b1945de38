//! The command-line tool, run as a user would (needs `--features cli`).
#![cfg(feature = "cli")]

mod common;

use common::cli::redial;

#[test]
fn replay_prints_json_lines() {
    let (code, out, _) = redial(&["replay", "tests/conformance/seed_basic_call.json"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["accepted", "triggered", "completed"]);
    assert!(out.lines().all(|l| l.starts_with(r#"{"at":"#)), "{out}");
}

#[test]
fn replay_check_fails_on_a_wrong_expectation() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/seed_basic_call.json"
    ))
    .unwrap();
    let wrong = text.replacen("\"attempt\": 1", "\"attempt\": 7", 1);
    let path = std::env::temp_dir().join("redial_wrong_case.json");
    std::fs::write(&path, wrong).unwrap();
    let (code, out, _) = redial(&["replay", "--check", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("event #2: fields attempt differ"), "{out}");
    let (code, out, _) = redial(&[
        "replay",
        "--check",
        "tests/conformance/seed_basic_call.json",
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn plan_shows_the_ladder_across_dst() {
    let path = std::env::temp_dir().join("redial_plan_request.json");
    std::fs::write(
        &path,
        r#"{"to_number": "+12125550100", "agent_id": "a", "min_trigger_time": "09:00", "max_trigger_time": "17:00",
            "carry_over": true, "number_of_retries": 2, "gap_between_retries": 600}"#,
    )
    .unwrap();
    let (code, out, err) = redial(&[
        "plan",
        path.to_str().unwrap(),
        "--now",
        "2026-03-07T18:00:00-05:00",
        "--timezone",
        "America/New_York",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[1].contains("2026-03-08 09:00:00 EDT (2026-03-08T13:00:00Z)")
            && lines[1].contains("carried over"),
        "{out}"
    );
    assert!(
        lines[2].contains("2026-03-09 09:00:00 EDT") && lines[2].contains("retry carried over"),
        "{out}"
    );
    assert!(lines[3].contains("2026-03-10 09:00:00 EDT"), "{out}");
    assert!(lines[4].starts_with("exhausted"), "{out}");
}

#[test]
fn plan_reports_rejections_and_bad_arguments() {
    let path = std::env::temp_dir().join("redial_plan_bad.json");
    std::fs::write(&path, r#"{"to_number": "12", "agent_id": "a"}"#).unwrap();
    let (code, _, err) = redial(&[
        "plan",
        path.to_str().unwrap(),
        "--now",
        "2026-03-07T18:00:00Z",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("Invalid to_number"), "{err}");
    let (code, _, err) = redial(&["plan", path.to_str().unwrap(), "--now", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("--now"), "{err}");
    let (code, _, err) = redial(&["replay", "/nonexistent.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("reading /nonexistent.json"), "{err}");
}

#[test]
fn plan_explains_the_first_attempt() {
    let cases = [
        (
            r#"{"to_number": "+919876543210", "agent_id": "a"}"#,
            "due now",
        ),
        (
            r#"{"to_number": "+919876543210", "agent_id": "a", "schedule_at": "2025-12-31T12:00:00.5"}"#,
            "12:00:01 IST (2025-12-31T06:30:01Z)  schedule_at",
        ),
        (
            r#"{"to_number": "+919876543210", "agent_id": "a", "min_trigger_time": "09:00"}"#,
            "window not open yet",
        ),
        (
            r#"{"to_number": "+919876543210", "agent_id": "a", "schedule_at": "2025-12-31T08:00:00", "min_trigger_time": "09:00"}"#,
            "schedule_at, then the window opens",
        ),
        (
            r#"{"to_number": "+919876543210", "agent_id": "a", "max_trigger_time": "06:00", "carry_over": true}"#,
            "carried over to the next day's window",
        ),
    ];
    for (i, (body, reason)) in cases.iter().enumerate() {
        let path = std::env::temp_dir().join(format!("redial_plan_reason_{i}.json"));
        std::fs::write(&path, body).unwrap();
        let (code, out, err) = redial(&[
            "plan",
            path.to_str().unwrap(),
            "--now",
            "2025-12-31T07:15:00+05:30",
        ]);
        assert_eq!(code, 0, "{err}");
        let first = out.lines().nth(1).unwrap();
        assert!(first.contains(reason), "{body}: {first}");
    }
}

/// `plan --config` on the README's example: the call's zones and policies,
/// its permitted intervals (the lunch break, Christmas and the weekend left
/// out) and a ladder whose retries land in them, with the cap's deferral.
#[cfg(feature = "number-zones")]
#[test]
fn plan_with_a_policy_shows_permitted_intervals_and_deferrals() {
    // The README's example files.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/plan");
    let (request, config) = (
        format!("{dir}/request_fr.json"),
        format!("{dir}/config_fr.json"),
    );
    let (code, out, err) = redial(&[
        "plan",
        &request,
        "--now",
        "2026-12-24T11:30:00Z",
        "--config",
        &config,
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("Europe/Paris") && lines[0].contains("fr"),
        "{out}"
    );
    // Thursday 24th until the lunch break, after it, then Monday 28th (the
    // 25th is a holiday, the 26th and 27th a weekend).
    assert!(
        lines[2].contains("Thu 2026-12-24 12:30 - Thu 2026-12-24 13:00"),
        "{out}"
    );
    assert!(
        lines[3].contains("Thu 2026-12-24 14:00 - Thu 2026-12-24 20:00"),
        "{out}"
    );
    assert!(
        lines[4].contains("Mon 2026-12-28 10:00 - Mon 2026-12-28 13:00"),
        "{out}"
    );
    let ladder: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| !l.starts_with("attempt  1"))
        .collect();
    assert!(ladder[0].contains("2026-12-24 12:30:00 CET"), "{out}");
    assert!(
        ladder[1].contains("2026-12-24 14:00:00 CET"),
        "lunch break: {out}"
    );
    assert!(ladder[2].contains("2026-12-24 15:00:00 CET"), "{out}");
    assert!(
        ladder[3].contains("2026-12-28 10:00:00 CET"),
        "holiday, weekend: {out}"
    );
    // Four attempts in 30 days: the fifth waits for the first to age out,
    // to the next permitted instant (Saturday 23 January is not).
    assert!(
        ladder[4].starts_with("deferred") && ladder[4].contains("to 2027-01-25 10:00:00 CET"),
        "{out}"
    );
    assert!(ladder[5].contains("2027-01-25 10:00:00 CET"), "{out}");
    assert!(ladder[6].starts_with("exhausted"), "{out}");
}

/// `redial ... | head`: a reader that goes away ends the output quietly
/// (status 0, nothing on stderr), not in a panic.
#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        &["replay", "tests/conformance/agent_concurrency.json"][..],
        &["plan", "--help"][..],
        &[
            "plan",
            "examples/plan/request_fr.json",
            "--config",
            "examples/plan/config_fr.json",
            "--now",
            "2026-01-05T10:00:00Z",
        ][..],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_redial"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the program writes.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
