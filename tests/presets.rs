//! The policy presets in `examples/policies/` parse, and behave as their
//! rules say on a few instants. They are examples, not legal advice.

use chrono::{NaiveDate, Weekday};
use redial::Policy;

fn preset(name: &str) -> Policy {
    let path = format!(
        "{}/examples/policies/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        value["_source"].is_string() && value["_checked"].is_string(),
        "{name}: source and date"
    );
    Policy::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn at(h: u32, m: u32) -> u32 {
    h * 60 + m
}

#[test]
fn france_d_223_9() {
    let fr = preset("france");
    assert!(!fr.allows(Weekday::Tue, at(9, 59)));
    assert!(fr.allows(Weekday::Tue, at(10, 0)));
    assert!(fr.allows(Weekday::Tue, at(12, 59)));
    assert!(!fr.allows(Weekday::Tue, at(13, 30)), "lunch break");
    assert!(fr.allows(Weekday::Fri, at(19, 59)));
    assert!(!fr.allows(Weekday::Fri, at(20, 0)));
    assert!(!fr.allows(Weekday::Sat, at(11, 0)));
    assert!(!fr.allows(Weekday::Sun, at(11, 0)));
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    for holiday in [
        date(2026, 4, 6),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 7, 14),
        date(2027, 3, 29),
    ] {
        assert!(fr.is_holiday(holiday), "{holiday}");
    }
    assert!(!fr.is_holiday(date(2026, 4, 7)));
    let cap = fr.max_attempts().unwrap();
    assert_eq!((cap.count, cap.days), (4, 30));
    assert_eq!(fr.suppress_days_after_do_not_call(), Some(60));
}

#[test]
fn canada_crtc() {
    let ca = preset("canada");
    assert!(!ca.allows(Weekday::Mon, at(8, 59)));
    assert!(ca.allows(Weekday::Mon, at(21, 29)));
    assert!(!ca.allows(Weekday::Mon, at(21, 30)));
    assert!(!ca.allows(Weekday::Sat, at(9, 30)));
    assert!(ca.allows(Weekday::Sun, at(17, 59)));
    assert!(!ca.allows(Weekday::Sun, at(18, 0)));
}

#[test]
fn us_tcpa() {
    let us = preset("us");
    assert!(!us.allows(Weekday::Wed, at(7, 59)));
    assert!(us.allows(Weekday::Sun, at(8, 0)));
    assert!(us.allows(Weekday::Sat, at(20, 59)));
    assert!(!us.allows(Weekday::Sat, at(21, 0)));
    let cap = us.max_attempts().unwrap();
    assert_eq!((cap.count, cap.days), (7, 7));
}

#[test]
fn india_trai() {
    let india = preset("india");
    assert!(!india.allows(Weekday::Mon, at(8, 59)));
    assert!(india.allows(Weekday::Mon, at(9, 0)));
    assert!(!india.allows(Weekday::Sun, at(21, 0)));
}

/// The France preset in an engine: by the +33 prefix, a call submitted
/// before 10:00 Paris time is due at 10:00, one on a Saturday on Monday.
#[cfg(feature = "number-zones")]
#[test]
fn france_preset_in_an_engine() {
    use chrono::{DateTime, Utc};
    let text = std::fs::read_to_string(format!(
        "{}/examples/policies/france.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let config =
        format!(r#"{{"policies": {{"fr": {text}}}, "policy_by_prefix": {{"+33": "fr"}}}}"#);
    let mut e = redial::Scheduler::new(redial::Config::from_json(&config).unwrap()).unwrap();
    let tuesday_9: DateTime<Utc> = "2026-03-10T08:00:00Z".parse().unwrap();
    let a = e
        .submit(
            tuesday_9,
            br#"{"to_number": "+33144556677", "agent_id": "a"}"#,
        )
        .unwrap();
    assert_eq!(
        a.due,
        "2026-03-10T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    let saturday: DateTime<Utc> = "2026-03-14T10:00:00Z".parse().unwrap();
    let b = e
        .submit(
            saturday,
            br#"{"to_number": "+33144556678", "agent_id": "a"}"#,
        )
        .unwrap();
    assert_eq!(
        b.due,
        "2026-03-16T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
}
