//! Field rules, limits and validation order.

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
    let r = parse(
        r#"{"to_number": "+919876543210", "agent_id": "a", "priority": null, "schedule_at": null}"#,
    )
    .unwrap();
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
        field_of(
            r#"{"to_number": "+12125550100", "agent_id": "a", "language": "xx", "priority": 500}"#
        )
        .as_deref(),
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
    let e = CallRequest::from_json(sized(limit + 1).as_bytes(), &Config::default()).unwrap_err();
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
    let e = CallRequest::from_json(nested(MAX_BODY_NESTING + 1).as_bytes(), &lenient).unwrap_err();
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
        format!(r#"{{"to_number": "+12125550100", "agent_id": "a", "metadata": {{"k": "{s}"}}}}"#)
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
    let Ok(ScheduleAt::Local(w)) = ScheduleAt::parse("2025-12-31T09:30:00.123") else {
        panic!("local")
    };
    assert_eq!(w.nanosecond(), 123_000_000);
    // Every fraction length scales to nanoseconds.
    for (fraction, nanos) in [
        ("5", 500_000_000),
        ("000000001", 1),
        ("987654321", 987_654_321),
    ] {
        let text = format!("2025-12-31T09:30:00.{fraction}");
        let Ok(ScheduleAt::Local(w)) = ScheduleAt::parse(&text) else {
            panic!("{text}")
        };
        assert_eq!((w.second(), w.nanosecond()), (0, nanos), "{text}");
    }
    let Ok(ScheduleAt::Instant(t)) = ScheduleAt::parse("2025-12-31T09:30:00-05:00") else {
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
        "2025-+1-31T09:30:00",
        "2025-12-31T 9:30:00",
        "2025-12-31T09:30:00.+5",
        "2025-12-31t09:30:00",
    ] {
        assert!(ScheduleAt::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn to_value_round_trips_through_json() {
    let json = r#"{"to_number": "+919876543210", "agent_id": "a", "batch_id": "b", "metadata": {"x": [1, {"y": null}]},
        "schedule_at": "2025-12-31T09:30:00", "min_trigger_time": "09:00", "max_trigger_time": "18:00",
        "carry_over": true, "number_of_retries": 3, "gap_between_retries": [30, 60], "priority": -7,
        "language": "ta", "timezone": "Asia/Kathmandu", "idempotency_key": "k"}"#;
    let r = parse(json).unwrap();
    let again =
        CallRequest::from_json(r.to_value().to_string().as_bytes(), &Config::default()).unwrap();
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
    // Metadata that is not an object cannot be made.
    assert_eq!(
        Metadata::parse("[1]").unwrap_err().field.as_deref(),
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
    r.metadata = Some(Metadata::parse(r#"{ "k" :  "vvvv" }"#).unwrap());
    let tight = Config {
        max_metadata_bytes: 12,
        ..Config::default()
    };
    assert_eq!(r.metadata.as_deref(), Some(r#"{"k":"vvvv"}"#));
    assert!(r.validate(&tight).is_ok());
    r.metadata = Some(Metadata::parse(r#"{"k": "vvvvv"}"#).unwrap());
    assert_eq!(
        r.validate(&tight).unwrap_err().field.as_deref(),
        Some("metadata")
    );
    // Keys sorted; of a key given twice, the last value, as a body's.
    for (text, stored) in [
        (
            r#"{"b": 1, "a": [2, {"d": 3, "c": 4}]}"#,
            r#"{"a":[2,{"c":4,"d":3}],"b":1}"#,
        ),
        (r#"{"a": 1, "a": 2}"#, r#"{"a":2}"#),
        (r#"{"a": 1.50}"#, r#"{"a":1.5}"#),
    ] {
        let m = Metadata::parse(text).unwrap();
        assert_eq!(m.as_str(), stored, "{text}");
        let body =
            format!(r#"{{"to_number": "+919876543210", "agent_id": "a", "metadata": {text}}}"#);
        let parsed = CallRequest::from_json(body.as_bytes(), &Config::default()).unwrap();
        assert_eq!(parsed.metadata.as_deref(), Some(stored), "{text}");
    }
    let mut r = CallRequest::new("+919876543210", "a");
    r.gap_between_retries = Some(Gaps::List(Box::new([])));
    assert_eq!(
        r.validate(&Config::default()).unwrap_err().field.as_deref(),
        Some("gap_between_retries")
    );
}

/// Parse errors say what was wrong.
#[test]
fn parse_errors_give_their_reason() {
    for (text, reason) in [
        ("24:00", "hour 24 is above 23"),
        ("23:60", "minute 60 is above 59"),
        ("9:5", "not hours and minutes"),
    ] {
        let e = TimeOfDay::parse(text).unwrap_err().to_string();
        assert!(e.contains(reason), "{e}");
    }
    for (text, reason) in [
        ("2025-12-31 09:30:00", "not YYYY-MM-DDTHH:MM:SS"),
        ("2025-02-30T09:30:00", "no such date or time"),
        ("2025-12-31T25:30:00", "no such date or time"),
        ("2025-12-31T09:30:60", "seconds above 59"),
        ("2025-12-31T09:30:00.", "1 to 9 digits"),
        ("2025-12-31T09:30:00.1234567890", "1 to 9 digits"),
        ("2025-12-31T09:30:00+24:00", "offset"),
        ("2025-12-31T09:30:00+0530", "offset"),
    ] {
        let e = ScheduleAt::parse(text).unwrap_err().to_string();
        assert!(e.contains(reason), "{text}: {e}");
    }
}
