//! Calling policies (policy.md): when the law or the operator lets a number
//! be called at all, as data. This module owns a policy's shape, its
//! validation (errors name the key: `policies.fr.hours.mon[1]`), and the
//! pure questions about one local date and time: are these hours allowed
//! on this weekday, is this date a holiday. `calendar` turns them, with a
//! call's zones and window, into permitted instants.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

mod easter;

pub(crate) mod calendar;

pub use easter::easter_sunday;

/// Minutes in a day: the end `"24:00"` of a last interval.
const DAY_MINUTES: u16 = 24 * 60;

/// The weekday keys, Monday first, as `hours` spells them.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One calling policy: hours per weekday in the callee's local time,
/// holidays, a frequency cap and how long a `do_not_call` keeps a number
/// suppressed. Build one with [`Policy::from_json`] (or as part of a
/// [`Config`](crate::Config)); every policy that exists is valid.
///
/// # Example
/// ```
/// use chrono::{NaiveDate, Weekday};
/// use redial::Policy;
/// let fr = Policy::from_json(r#"{
///     "hours": {"daily": [["10:00", "13:00"], ["14:00", "20:00"]], "sat": [], "sun": []},
///     "holidays": {"fixed": ["05-01"], "easter": [1]},
///     "max_attempts": {"count": 4, "days": 30}
/// }"#)?;
/// assert!(fr.allows(Weekday::Tue, 10 * 60));
/// assert!(!fr.allows(Weekday::Tue, 13 * 60 + 30)); // lunch
/// assert!(!fr.allows(Weekday::Sat, 11 * 60));
/// let easter_monday = NaiveDate::from_ymd_opt(2026, 4, 6).ok_or("date")?;
/// assert!(fr.is_holiday(easter_monday));
/// let err = Policy::from_json(r#"{"hours": {"mon": [["10:00", "13:00"], ["12:00", "14:00"]]}}"#).unwrap_err();
/// assert_eq!(err.to_string(), "hours.mon[1]: intervals overlap: 12:00 starts before 13:00, where the previous one ends");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Allowed minutes of each weekday (Monday first), as `[from, to)`
    /// pairs; `None` without `hours` (any hour).
    hours: Option<WeekHours>,
    /// `hours` as written, for serializing back.
    hours_spec: Option<Map<String, Value>>,
    holidays: Holidays,
    max_attempts: Option<MaxAttempts>,
    suppress_days_after_do_not_call: Option<u32>,
}

/// Days on which no call is placed, by the callee's local date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Holidays {
    dates: BTreeSet<NaiveDate>,
    /// (month, day), every year; 02-29 only in leap years.
    fixed: BTreeSet<(u32, u32)>,
    /// Days after Western Easter Sunday.
    easter: BTreeSet<i32>,
}

/// A frequency cap: at most `count` attempts to one number in any period
/// of `days` x 24 hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MaxAttempts {
    /// Attempts allowed in the period (at least 1).
    pub count: u32,
    /// The period, in units of 24 hours (1 to 366).
    pub days: u32,
}

/// A policy that is not valid: the key at fault (`hours.mon[1]`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// Where, inside the policy.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for PolicyError {}

fn fail<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError {
        key: key.into(),
        message: message.into(),
    })
}

impl Policy {
    /// Parses and validates a policy from JSON text. Keys that start with
    /// `_` are comments (the presets in `examples/policies/` keep their
    /// source and the date it was checked there) and are not kept.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the key: a bad time, intervals out of order
    /// or overlapping, no hours on any day, a bad date, an Easter offset
    /// outside -63..=63, a cap out of range, or an unknown key.
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PolicyError {
            key: "policy".to_owned(),
            message: format!("{e}; expected a JSON object"),
        })?;
        Policy::from_value(&value)
    }

    /// [`Policy::from_json`] from a parsed JSON value.
    ///
    /// # Errors
    /// As [`Policy::from_json`].
    pub fn from_value(value: &Value) -> Result<Policy, PolicyError> {
        let Value::Object(map) = value else {
            return fail("policy", "expected an object");
        };
        let mut policy = Policy {
            hours: None,
            hours_spec: None,
            holidays: Holidays::default(),
            max_attempts: None,
            suppress_days_after_do_not_call: None,
        };
        for (key, v) in map {
            match key.as_str() {
                "hours" => {
                    let (hours, spec) = parse_hours(v)?;
                    policy.hours = Some(hours);
                    policy.hours_spec = Some(spec);
                }
                "holidays" => policy.holidays = parse_holidays(v)?,
                "max_attempts" => policy.max_attempts = Some(parse_cap(v)?),
                "suppress_days_after_do_not_call" => {
                    let days = v
                        .as_u64()
                        .filter(|d| *d >= 1)
                        .and_then(|d| u32::try_from(d).ok());
                    let Some(days) = days else {
                        return fail(key, format!("{v} is not an integer of at least 1"));
                    };
                    policy.suppress_days_after_do_not_call = Some(days);
                }
                // Keys starting with `_` are comments (a preset's source).
                other if other.starts_with('_') => {}
                other => {
                    return fail(
                        other,
                        "unknown key: expected hours, holidays, max_attempts or suppress_days_after_do_not_call (or a _comment)",
                    );
                }
            }
        }
        Ok(policy)
    }

    /// Whether the hours allow local minute `minute` (0..1440) of `day`.
    /// Without `hours`, every minute is allowed.
    pub fn allows(&self, day: Weekday, minute: u32) -> bool {
        let Some(hours) = &self.hours else {
            return true;
        };
        let day = day.num_days_from_monday() as usize;
        hours.get(day).is_some_and(|slots| {
            slots
                .iter()
                .any(|(from, to)| u32::from(*from) <= minute && minute < u32::from(*to))
        })
    }

    /// Whether local date `date` is a holiday of the policy.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        let h = &self.holidays;
        if h.dates.contains(&date) || h.fixed.contains(&(date.month(), date.day())) {
            return true;
        }
        if h.easter.is_empty() {
            return false;
        }
        easter_sunday(date.year()).is_some_and(|easter| {
            let offset = date.ordinal0().cast_signed() - easter.ordinal0().cast_signed();
            h.easter.contains(&offset)
        })
    }

    /// The allowed `[from, to)` minutes of `day`, or `None` when the policy
    /// has no `hours` (every minute).
    pub(crate) fn slots(&self, day: Weekday) -> Option<&[(u16, u16)]> {
        let hours = self.hours.as_ref()?;
        Some(
            hours
                .get(day.num_days_from_monday() as usize)
                .map_or(&[][..], Vec::as_slice),
        )
    }

    /// The frequency cap, if any.
    pub fn max_attempts(&self) -> Option<MaxAttempts> {
        self.max_attempts
    }

    /// How many 24-hour days a `do_not_call` outcome suppresses the number
    /// for under this policy, if it says.
    pub fn suppress_days_after_do_not_call(&self) -> Option<u32> {
        self.suppress_days_after_do_not_call
    }

    /// The policy as JSON, in the shape it was written.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        if let Some(spec) = &self.hours_spec {
            map.insert("hours".into(), Value::Object(spec.clone()));
        }
        let h = &self.holidays;
        if h != &Holidays::default() {
            let mut holidays = Map::new();
            if !h.dates.is_empty() {
                let dates: Vec<String> = h
                    .dates
                    .iter()
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .collect();
                holidays.insert("dates".into(), json!(dates));
            }
            if !h.fixed.is_empty() {
                let fixed: Vec<String> = h
                    .fixed
                    .iter()
                    .map(|(m, d)| format!("{m:02}-{d:02}"))
                    .collect();
                holidays.insert("fixed".into(), json!(fixed));
            }
            if !h.easter.is_empty() {
                holidays.insert("easter".into(), json!(h.easter));
            }
            map.insert("holidays".into(), Value::Object(holidays));
        }
        if let Some(cap) = self.max_attempts {
            map.insert(
                "max_attempts".into(),
                json!({"count": cap.count, "days": cap.days}),
            );
        }
        if let Some(days) = self.suppress_days_after_do_not_call {
            map.insert("suppress_days_after_do_not_call".into(), json!(days));
        }
        Value::Object(map)
    }
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Policy::from_value(&value).map_err(D::Error::custom)
    }
}

/// A time `HH:MM` as minutes of the day; `"24:00"` too when `end`.
fn minute_of(text: &Value, key: &str, end: bool) -> Result<u16, PolicyError> {
    let s = text.as_str().unwrap_or("");
    if end && s == "24:00" {
        return Ok(DAY_MINUTES);
    }
    match crate::window::TimeOfDay::parse(s) {
        Ok(t) => u16::try_from(t.hour() * 60 + t.minute()).or_else(|_| fail(key, "out of range")),
        Err(_) => fail(
            key,
            format!(
                "{text} is not a time HH:MM from 00:00 to 23:59{}",
                if end { " (or 24:00)" } else { "" }
            ),
        ),
    }
}

fn parse_day(v: &Value, key: &str) -> Result<Vec<(u16, u16)>, PolicyError> {
    let Some(items) = v.as_array() else {
        return fail(key, "expected an array of [\"HH:MM\", \"HH:MM\"] intervals");
    };
    let mut slots: Vec<(u16, u16)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{key}[{i}]");
        let pair = item.as_array().filter(|p| p.len() == 2);
        let Some([from, to]) = pair.map(Vec::as_slice) else {
            return fail(at, "expected a pair [\"HH:MM\", \"HH:MM\"]");
        };
        let (from, to) = (minute_of(from, &at, false)?, minute_of(to, &at, true)?);
        if from >= to {
            return fail(at, "the interval is empty: expected from before to");
        }
        if let Some((_, prev_to)) = slots.last()
            && from < *prev_to
        {
            return fail(
                at,
                format!(
                    "intervals overlap: {} starts before {}, where the previous one ends",
                    hhmm(from),
                    hhmm(*prev_to)
                ),
            );
        }
        slots.push((from, to));
    }
    Ok(slots)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Allowed `[from, to)` minutes of each weekday, Monday first.
type WeekHours = [Vec<(u16, u16)>; 7];

fn parse_hours(v: &Value) -> Result<(WeekHours, Map<String, Value>), PolicyError> {
    let Value::Object(map) = v else {
        return fail("hours", "expected an object with mon..sun and daily");
    };
    let daily = match map.get("daily") {
        Some(d) => Some(parse_day(d, "hours.daily")?),
        None => None,
    };
    let mut hours: WeekHours = Default::default();
    for (i, day) in DAYS.iter().enumerate() {
        let slots = match map.get(*day) {
            Some(d) => parse_day(d, &format!("hours.{day}"))?,
            None => daily.clone().unwrap_or_default(),
        };
        if let Some(h) = hours.get_mut(i) {
            *h = slots;
        }
    }
    if let Some(unknown) = map
        .keys()
        .find(|k| *k != "daily" && !DAYS.contains(&k.as_str()))
    {
        return fail(
            format!("hours.{unknown}"),
            "unknown key: expected mon, tue, wed, thu, fri, sat, sun or daily",
        );
    }
    if hours.iter().all(Vec::is_empty) {
        return fail(
            "hours",
            "no day has any hours: a number under this policy could never be called",
        );
    }
    Ok((hours, map.clone()))
}

fn parse_holidays(v: &Value) -> Result<Holidays, PolicyError> {
    let Value::Object(map) = v else {
        return fail(
            "holidays",
            "expected an object with dates, fixed and easter",
        );
    };
    let mut h = Holidays::default();
    for (key, list) in map {
        let at = format!("holidays.{key}");
        if !["dates", "fixed", "easter"].contains(&key.as_str()) {
            return fail(at, "unknown key: expected dates, fixed or easter");
        }
        let Some(items) = list.as_array() else {
            return fail(at, "expected an array");
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}[{i}]");
            match key.as_str() {
                "dates" => {
                    let date = item
                        .as_str()
                        .filter(|s| s.len() == 10)
                        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
                    let Some(date) = date else {
                        return fail(at, format!("{item} is not a date YYYY-MM-DD"));
                    };
                    h.dates.insert(date);
                }
                "fixed" => {
                    let md = item.as_str().filter(|s| s.len() == 5).and_then(|s| {
                        let (m, d) = s.split_once('-')?;
                        let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
                        // A month-day that exists in a leap year (02-29 included).
                        NaiveDate::from_ymd_opt(2000, m, d).map(|_| (m, d))
                    });
                    let Some(md) = md else {
                        return fail(at, format!("{item} is not a month and day MM-DD"));
                    };
                    h.fixed.insert(md);
                }
                "easter" => {
                    let offset = item
                        .as_i64()
                        .filter(|o| (-63..=63).contains(o))
                        .and_then(|o| i32::try_from(o).ok());
                    let Some(offset) = offset else {
                        return fail(
                            at,
                            format!(
                                "{item} is not an integer from -63 to 63 (days after Easter Sunday)"
                            ),
                        );
                    };
                    h.easter.insert(offset);
                }
                _ => {
                    return fail(
                        format!("holidays.{key}"),
                        "unknown key: expected dates, fixed or easter",
                    );
                }
            }
        }
    }
    Ok(h)
}

fn parse_cap(v: &Value) -> Result<MaxAttempts, PolicyError> {
    let Value::Object(map) = v else {
        return fail("max_attempts", "expected {\"count\": K, \"days\": D}");
    };
    if let Some(unknown) = map.keys().find(|k| *k != "count" && *k != "days") {
        return fail(
            format!("max_attempts.{unknown}"),
            "unknown key: expected count and days",
        );
    }
    let int = |key: &str, lo: u64, hi: u64| -> Result<u32, PolicyError> {
        map.get(key)
            .and_then(Value::as_u64)
            .filter(|n| (lo..=hi).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| PolicyError {
                key: format!("max_attempts.{key}"),
                message: format!("expected an integer from {lo} to {hi}"),
            })
    };
    Ok(MaxAttempts {
        count: int("count", 1, u64::from(u32::MAX))?,
        days: int("days", 1, 366)?,
    })
}

#[cfg(test)]
mod tests;
