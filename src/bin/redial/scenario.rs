//! The scenario of `redial simulate`: campaigns, agents, pauses, answer
//! rates and durations, as JSON with defaults (the built-in default
//! scenario) and messages that name the bad field.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The scenario file's format. Every key is optional: missing keys take the
/// default scenario's values.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Seeds every random choice: same seed, same output.
    pub seed: u64,
    /// Simulation start (UTC).
    pub start: DateTime<Utc>,
    /// Simulated days.
    pub days: u32,
    /// Phone lines: calls in flight at once.
    pub lines: u32,
    /// The engine's attempt timeout.
    pub attempt_timeout_minutes: u32,
    /// Agents and their concurrency caps.
    pub agents: Vec<AgentSpec>,
    /// Campaigns (batches).
    pub campaigns: Vec<Campaign>,
    /// Batch pauses.
    pub pauses: Vec<Pause>,
    /// Probability that an attempt is answered, by the callee's local hour (24 values).
    pub answer_rate_by_hour: Vec<f64>,
    /// Probability that an attempt hits an invalid number.
    pub invalid_number_rate: f64,
    /// How unanswered attempts end: shares of busy, voicemail and failed (the rest is no_answer).
    pub unanswered_mix: UnansweredMix,
    /// Talk time of an answered call, seconds `[min, max]`.
    pub talk_seconds: [u32; 2],
    /// Ring time of an unanswered call, seconds `[min, max]`.
    pub ring_seconds: [u32; 2],
    /// More of the engine's configuration, as in `Config::from_json`:
    /// calling policies (`policies`, `policy_by_prefix`,
    /// `zones_from_number`, ...). `attempt_timeout_minutes` above wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    pub id: String,
    #[serde(default)]
    pub max_concurrent_calls: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    pub timezone: String,
    #[serde(default)]
    pub min_trigger_time: Option<String>,
    #[serde(default)]
    pub max_trigger_time: Option<String>,
    #[serde(default)]
    pub carry_over: bool,
    pub calls: u32,
    #[serde(default)]
    pub priority: i8,
    #[serde(default)]
    pub number_of_retries: u8,
    #[serde(default)]
    pub gap_between_retries: Option<Value>,
    pub agents: Vec<String>,
    /// First submission (UTC).
    pub submit_at: DateTime<Utc>,
    /// Submissions spread evenly over this many minutes (0: all at once).
    #[serde(default)]
    pub submit_over_minutes: u32,
    /// Prefix of generated numbers: a country code such as `+91`, or more
    /// digits (`+1212`, an area code; `+336`, French mobiles).
    pub number_prefix: String,
    /// Several prefixes, used in turn instead of `number_prefix` (a US
    /// campaign across area codes and zones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub number_prefixes: Vec<String>,
    /// Digits after the prefix (10 unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_digits: Option<u8>,
    /// Send no `timezone`: the engine takes the callee's zones from the
    /// number (needs `zones_from_number` or a policy). `timezone` then only
    /// labels the chart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timezone_from_number: bool,
    #[serde(default)]
    pub languages: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub batch_id: String,
    pub at: DateTime<Utc>,
    pub resume_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnansweredMix {
    pub busy: f64,
    pub voicemail: f64,
    pub failed: f64,
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Default for Scenario {
    fn default() -> Self {
        let agent = |id: &str, cap| AgentSpec {
            id: id.to_owned(),
            max_concurrent_calls: Some(cap),
        };
        Scenario {
            seed: 42,
            start: utc("2026-03-06T00:00:00Z"),
            days: 3,
            lines: 200,
            attempt_timeout_minutes: 120,
            agents: vec![
                agent("collect-hi", 90),
                agent("collect-en", 60),
                agent("remind-a", 50),
                agent("remind-b", 50),
                agent("callback-1", 25),
                agent("callback-2", 25),
            ],
            campaigns: vec![
                Campaign {
                    name: "collections".into(),
                    timezone: "Asia/Kolkata".into(),
                    min_trigger_time: Some("09:00".into()),
                    max_trigger_time: Some("21:00".into()),
                    carry_over: true,
                    calls: 55_000,
                    priority: 0,
                    number_of_retries: 3,
                    gap_between_retries: Some(json!([60, 120, 240])),
                    agents: vec!["collect-hi".into(), "collect-en".into()],
                    submit_at: utc("2026-03-06T02:00:00Z"),
                    submit_over_minutes: 0,
                    number_prefix: "+91".into(),
                    number_prefixes: Vec::new(),
                    number_digits: None,
                    timezone_from_number: false,
                    languages: vec!["hi".into(), "en".into(), "ta".into()],
                },
                Campaign {
                    name: "reminders".into(),
                    timezone: "America/New_York".into(),
                    min_trigger_time: Some("08:00".into()),
                    max_trigger_time: Some("21:00".into()),
                    carry_over: true,
                    calls: 35_000,
                    priority: 0,
                    number_of_retries: 2,
                    gap_between_retries: Some(json!(90)),
                    agents: vec!["remind-a".into(), "remind-b".into()],
                    submit_at: utc("2026-03-06T11:00:00Z"),
                    submit_over_minutes: 48 * 60,
                    number_prefix: "+1".into(),
                    number_prefixes: Vec::new(),
                    number_digits: None,
                    timezone_from_number: false,
                    languages: vec!["en".into()],
                },
                Campaign {
                    name: "callbacks".into(),
                    timezone: "Asia/Kolkata".into(),
                    min_trigger_time: Some("08:00".into()),
                    max_trigger_time: Some("22:00".into()),
                    carry_over: false,
                    calls: 10_000,
                    priority: 10,
                    number_of_retries: 2,
                    gap_between_retries: Some(json!(15)),
                    agents: vec!["callback-1".into(), "callback-2".into()],
                    submit_at: utc("2026-03-06T03:00:00Z"),
                    submit_over_minutes: 60 * 60,
                    number_prefix: "+91".into(),
                    number_prefixes: Vec::new(),
                    number_digits: None,
                    timezone_from_number: false,
                    languages: vec!["hi".into()],
                },
            ],
            pauses: vec![Pause {
                batch_id: "collections".into(),
                at: utc("2026-03-07T07:30:00Z"),
                resume_at: utc("2026-03-07T09:30:00Z"),
            }],
            answer_rate_by_hour: vec![
                0.05, 0.05, 0.05, 0.05, 0.05, 0.08, 0.12, 0.18, 0.25, 0.32, 0.36, 0.38, 0.35, 0.30,
                0.32, 0.36, 0.40, 0.45, 0.50, 0.52, 0.48, 0.40, 0.25, 0.12,
            ],
            invalid_number_rate: 0.02,
            unanswered_mix: UnansweredMix {
                busy: 0.2,
                voicemail: 0.25,
                failed: 0.05,
            },
            talk_seconds: [60, 420],
            ring_seconds: [20, 45],
            config: None,
        }
    }
}

impl Scenario {
    /// Parses a scenario file. serde's own errors give a line and column;
    /// this also names the field (`campaigns[1].calls`) that failed.
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
        serde_json::from_value::<Scenario>(value.clone()).map_err(|e| match locate(&value) {
            Some(field) => format!("scenario field {field}: {e}"),
            None => e.to_string(),
        })
    }

    /// Checks every knob; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |field: &str, why: &str| Err(format!("scenario field {field}: {why}"));
        if !(1..=60).contains(&self.days) {
            return bad("days", "expected 1 to 60");
        }
        if !(1..=100_000).contains(&self.lines) {
            return bad("lines", "expected 1 to 100000");
        }
        if self.answer_rate_by_hour.len() != 24
            || self
                .answer_rate_by_hour
                .iter()
                .any(|p| !(0.0..=1.0).contains(p))
        {
            return bad(
                "answer_rate_by_hour",
                "expected 24 probabilities from 0 to 1",
            );
        }
        if !(0.0..=1.0).contains(&self.invalid_number_rate) {
            return bad("invalid_number_rate", "expected a probability from 0 to 1");
        }
        let m = &self.unanswered_mix;
        if [m.busy, m.voicemail, m.failed]
            .iter()
            .any(|p| !(0.0..=1.0).contains(p))
            || m.busy + m.voicemail + m.failed > 1.0
        {
            return bad(
                "unanswered_mix",
                "expected shares from 0 to 1 adding up to at most 1",
            );
        }
        for (field, [lo, hi]) in [
            ("talk_seconds", self.talk_seconds),
            ("ring_seconds", self.ring_seconds),
        ] {
            if lo == 0 || lo > hi || hi > 86_400 {
                return bad(
                    field,
                    "expected [min, max] seconds with 1 <= min <= max <= 86400",
                );
            }
        }
        if self.campaigns.is_empty() || self.campaigns.len() > 16 {
            return bad("campaigns", "expected 1 to 16 campaigns");
        }
        let total: u64 = self.campaigns.iter().map(|c| u64::from(c.calls)).sum();
        if total == 0 || total > 5_000_000 {
            return bad("campaigns[].calls", "expected 1 to 5000000 calls in all");
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            if c.timezone.parse::<Tz>().is_err() {
                return bad(
                    &format!("campaigns[{i}].timezone"),
                    "expected an IANA zone name",
                );
            }
            if c.agents.is_empty() {
                return bad(
                    &format!("campaigns[{i}].agents"),
                    "expected at least one agent",
                );
            }
            let prefix_ok = |p: &str| {
                p.strip_prefix('+').is_some_and(|d| {
                    (1..=8).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
                })
            };
            if !prefix_ok(&c.number_prefix) {
                return bad(
                    &format!("campaigns[{i}].number_prefix"),
                    "expected + and 1 to 8 digits",
                );
            }
            if let Some(j) = c.number_prefixes.iter().position(|p| !prefix_ok(p)) {
                return bad(
                    &format!("campaigns[{i}].number_prefixes[{j}]"),
                    "expected + and 1 to 8 digits",
                );
            }
            if c.number_digits.is_some_and(|d| !(4..=12).contains(&d)) {
                return bad(
                    &format!("campaigns[{i}].number_digits"),
                    "expected 4 to 12 digits",
                );
            }
            if c.submit_over_minutes > 60 * 24 * 60 {
                return bad(
                    &format!("campaigns[{i}].submit_over_minutes"),
                    "expected at most 86400",
                );
            }
        }
        for (i, p) in self.pauses.iter().enumerate() {
            if !self.campaigns.iter().any(|c| c.name == p.batch_id) {
                return bad(
                    &format!("pauses[{i}].batch_id"),
                    "expected the name of a campaign",
                );
            }
            if p.resume_at <= p.at {
                return bad(
                    &format!("pauses[{i}].resume_at"),
                    "expected an instant after `at`",
                );
            }
        }
        Ok(())
    }
}

/// The first field of a scenario that does not deserialize on its own.
fn locate(value: &Value) -> Option<String> {
    let object = value.as_object()?;
    for (key, v) in object {
        let alone = Value::Object(serde_json::Map::from_iter([(key.clone(), v.clone())]));
        if serde_json::from_value::<Scenario>(alone).is_ok() {
            continue;
        }
        let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
        let bad_item = |ok: &dyn Fn(&Value) -> bool| items.iter().position(|i| !ok(i));
        let inner = match key.as_str() {
            "campaigns" => bad_item(&|i| serde_json::from_value::<Campaign>(i.clone()).is_ok()),
            "agents" => bad_item(&|i| serde_json::from_value::<AgentSpec>(i.clone()).is_ok()),
            "pauses" => bad_item(&|i| serde_json::from_value::<Pause>(i.clone()).is_ok()),
            _ => None,
        };
        return Some(match inner {
            Some(i) => format!("{key}[{i}]"),
            None => key.clone(),
        });
    }
    None
}
