//! Daily trigger windows in a call's time zone, as pure functions.
//!
//! A wall-clock time is turned into an instant by one rule (semantics §2): the
//! first instant whose local time is at or after it. A time skipped by a DST
//! gap therefore means the end of the gap, and a time that occurs twice in a
//! fold means its first occurrence.
//!
//! A window `[min, max)` has one occurrence per local date; see
//! [`Window::occurrence`]. Nothing here panics: every calendar step uses
//! chrono's `checked_`/`_opt` forms and reports failure as `None`.

//!
//! This module owns what a window *is* ([`TimeOfDay`], [`Window`],
//! [`Occurrence`]); `zone` owns wall-clock conversion and `memo` the
//! engine's cache of occurrences.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::decimal;

mod memo;
mod zone;

pub(crate) use memo::OccurrenceCache;
pub(crate) use zone::WallMemo;
pub use zone::{local_date, wall_to_instant};

/// How many local dates past the first candidate an occurrence search looks
/// at. Only DST gaps make occurrences empty, and no zone has skipped more than
/// one calendar day (Pacific/Apia, 2011-12-30), so a week is ample.
const SEARCH_DAYS: u64 = 7;

/// A time of day with minute precision, written `H:MM` or `HH:MM`.
///
/// # Example
/// ```
/// use redial::TimeOfDay;
/// let t: TimeOfDay = "9:05".parse()?;
/// assert_eq!((t.hour(), t.minute()), (9, 5));
/// assert_eq!(t.to_string(), "09:05");
/// assert!(TimeOfDay::parse("24:00").is_err());
/// # Ok::<(), redial::InvalidTimeOfDay>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    minutes: u16,
}

impl TimeOfDay {
    /// Midnight, `00:00`.
    pub const MIDNIGHT: TimeOfDay = TimeOfDay { minutes: 0 };

    /// The time `hour:minute`, or `None` unless `hour < 24` and `minute < 60`.
    ///
    /// # Example
    /// ```
    /// use redial::TimeOfDay;
    /// assert!(TimeOfDay::new(23, 59).is_some());
    /// assert!(TimeOfDay::new(24, 0).is_none());
    /// ```
    pub fn new(hour: u32, minute: u32) -> Option<TimeOfDay> {
        if hour < 24 && minute < 60 {
            u16::try_from(hour * 60 + minute)
                .ok()
                .map(|minutes| TimeOfDay { minutes })
        } else {
            None
        }
    }

    /// Parses `H:MM` or `HH:MM` (the API's `^([0-1]?[0-9]|2[0-3]):[0-5][0-9]$`).
    ///
    /// # Errors
    /// [`InvalidTimeOfDay`], which says what was wrong: the shape, an hour
    /// above 23 or a minute above 59.
    ///
    /// # Example
    /// ```
    /// use redial::TimeOfDay;
    /// assert_eq!(TimeOfDay::parse("21:00").ok(), TimeOfDay::new(21, 0));
    /// let err = TimeOfDay::parse("24:00").unwrap_err();
    /// assert_eq!(err.to_string(), r#"invalid time of day "24:00": hour 24 is above 23; expected H:MM or HH:MM from 00:00 to 23:59"#);
    /// assert!(TimeOfDay::parse("9:5").is_err());
    /// assert!(" 9:05".parse::<TimeOfDay>().is_err());
    /// ```
    pub fn parse(text: &str) -> Result<TimeOfDay, InvalidTimeOfDay> {
        let bad = |reason: String| InvalidTimeOfDay {
            input: text.chars().take(64).collect(),
            reason,
        };
        let shape = || bad("not hours and minutes".to_owned());
        let (h, m) = text.split_once(':').ok_or_else(shape)?;
        if !(1..=2).contains(&h.len()) || m.len() != 2 {
            return Err(shape());
        }
        let (Some(hour), Some(minute)) = (decimal(h), decimal(m)) else {
            return Err(shape());
        };
        if hour > 23 {
            return Err(bad(format!("hour {hour} is above 23")));
        }
        if minute > 59 {
            return Err(bad(format!("minute {minute} is above 59")));
        }
        TimeOfDay::new(hour, minute).ok_or_else(shape)
    }

    /// The hour, `0..=23`.
    pub fn hour(self) -> u32 {
        u32::from(self.minutes / 60)
    }

    /// The minute, `0..=59`.
    pub fn minute(self) -> u32 {
        u32::from(self.minutes % 60)
    }

    fn on(self, date: NaiveDate) -> Option<NaiveDateTime> {
        date.and_hms_opt(self.hour(), self.minute(), 0)
    }
}

impl std::str::FromStr for TimeOfDay {
    type Err = InvalidTimeOfDay;

    /// As [`TimeOfDay::parse`].
    fn from_str(text: &str) -> Result<TimeOfDay, InvalidTimeOfDay> {
        TimeOfDay::parse(text)
    }
}

/// Text that is not a [`TimeOfDay`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidTimeOfDay {
    input: String,
    reason: String,
}

impl fmt::Display for InvalidTimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid time of day {:?}: {}; expected H:MM or HH:MM from 00:00 to 23:59",
            self.input, self.reason
        )
    }
}

impl std::error::Error for InvalidTimeOfDay {}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from `"HH:MM"` without allocating (snapshots hold two per call).
impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TimeOfDay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time of day HH:MM")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<TimeOfDay, E> {
                TimeOfDay::parse(text).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Why a pair of bounds does not make a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowError {
    /// Neither bound is given: that is "any time", not a window.
    NoBounds,
    /// The window can never contain an instant: `min == max`, or only
    /// `max = 00:00`.
    Empty,
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowError::NoBounds => {
                f.write_str("a window needs min_trigger_time or max_trigger_time")
            }
            WindowError::Empty => {
                f.write_str("the window [min_trigger_time, max_trigger_time) is empty")
            }
        }
    }
}

impl std::error::Error for WindowError {}

/// A daily trigger window `[min, max)` in local wall-clock time.
///
/// Only `min`: `[min, 24:00)`. Only `max`: `[00:00, max)`. `min > max` (or
/// `max == 00:00`) wraps midnight: the occurrence of date `D` ends on `D + 1`.
///
/// # Example
/// ```
/// use redial::{TimeOfDay, Window};
/// let w = Window::new(TimeOfDay::new(21, 0), TimeOfDay::new(6, 0)).unwrap();
/// assert!(w.is_overnight());
/// assert!(Window::new(TimeOfDay::new(9, 0), TimeOfDay::new(9, 0)).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    min: Option<TimeOfDay>,
    max: Option<TimeOfDay>,
}

/// One occurrence of a window: the instants `[start, end)` of local date `date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Occurrence {
    /// The local date the occurrence belongs to (the date of its start).
    pub date: NaiveDate,
    /// First instant in the window.
    pub start: DateTime<Utc>,
    /// First instant after the window.
    pub end: DateTime<Utc>,
}

impl Occurrence {
    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

impl Window {
    /// A window from optional bounds.
    ///
    /// # Errors
    /// [`WindowError::NoBounds`] when both are `None`; [`WindowError::Empty`]
    /// when `min == max` or when only `max` is given and it is `00:00`.
    ///
    /// # Example
    /// ```
    /// use redial::{TimeOfDay, Window, WindowError};
    /// assert_eq!(Window::new(None, TimeOfDay::new(0, 0)), Err(WindowError::Empty));
    /// assert!(Window::new(TimeOfDay::new(9, 0), None).is_ok());
    /// ```
    pub fn new(min: Option<TimeOfDay>, max: Option<TimeOfDay>) -> Result<Window, WindowError> {
        match (min, max) {
            (None, None) => Err(WindowError::NoBounds),
            (Some(a), Some(b)) if a == b => Err(WindowError::Empty),
            (None, Some(TimeOfDay::MIDNIGHT)) => Err(WindowError::Empty),
            _ => Ok(Window { min, max }),
        }
    }

    /// The lower bound, if any.
    pub fn min(&self) -> Option<TimeOfDay> {
        self.min
    }

    /// The upper bound, if any.
    pub fn max(&self) -> Option<TimeOfDay> {
        self.max
    }

    /// `window` in 32 bits: each bound's minutes, `0xFFFF` for none.
    pub(crate) fn pack(window: Option<Window>) -> u32 {
        let bits = |t: Option<TimeOfDay>| t.map_or(0xFFFF, |t| u32::from(t.minutes));
        window.map_or(u32::MAX, |w| bits(w.min) << 16 | bits(w.max))
    }

    /// The inverse of [`Window::pack`].
    pub(crate) fn unpack(bits: u32) -> Option<Window> {
        let bound = |b: u32| {
            u16::try_from(b & 0xFFFF)
                .ok()
                .filter(|m| *m < 24 * 60)
                .map(|minutes| TimeOfDay { minutes })
        };
        let (min, max) = (bound(bits >> 16), bound(bits));
        (min.is_some() || max.is_some()).then_some(Window { min, max })
    }

    /// Whether an occurrence ends on the day after it starts.
    pub fn is_overnight(&self) -> bool {
        match (self.min, self.max) {
            (_, None) => true,
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => false,
        }
    }

    /// The occurrence of local date `date` in zone `tz`, or `None` when it is
    /// empty (a DST gap swallowed it) or out of chrono's range.
    ///
    /// # Example
    /// ```
    /// use chrono::NaiveDate;
    /// use chrono_tz::America::New_York;
    /// use redial::{TimeOfDay, Window};
    /// // 02:00-02:30 does not exist on the spring-forward night.
    /// let w = Window::new(TimeOfDay::new(2, 0), TimeOfDay::new(2, 30)).unwrap();
    /// let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
    /// assert!(w.occurrence(New_York, day).is_none());
    /// assert!(w.occurrence(New_York, day.succ_opt().unwrap()).is_some());
    /// ```
    pub fn occurrence(&self, tz: Tz, date: NaiveDate) -> Option<Occurrence> {
        let start_wall = self.min.unwrap_or(TimeOfDay::MIDNIGHT).on(date)?;
        let end_date = if self.is_overnight() {
            date.succ_opt()?
        } else {
            date
        };
        let end_wall = self.max.unwrap_or(TimeOfDay::MIDNIGHT).on(end_date)?;
        let start = wall_to_instant(tz, start_wall)?;
        let end = wall_to_instant(tz, end_wall)?;
        (start < end).then_some(Occurrence { date, start, end })
    }

    /// The first non-empty occurrence whose end is after `t` (it may contain
    /// `t` or lie wholly after it).
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use chrono_tz::Asia::Kolkata;
    /// use redial::{TimeOfDay, Window};
    /// let w = Window::new(TimeOfDay::new(9, 0), TimeOfDay::new(18, 0)).unwrap();
    /// let t = Kolkata.with_ymd_and_hms(2025, 12, 31, 19, 0, 0).unwrap().with_timezone(&Utc);
    /// let o = w.first_ending_after(Kolkata, t).unwrap();
    /// assert_eq!(o.start, Kolkata.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap());
    /// ```
    pub fn first_ending_after(&self, tz: Tz, t: DateTime<Utc>) -> Option<Occurrence> {
        first_ending_after_by(self, tz, t, |date| self.occurrence(tz, date))
    }

    /// The first in-window instant at or after `t`, with its occurrence.
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use chrono_tz::Asia::Kolkata;
    /// use redial::{TimeOfDay, Window};
    /// let w = Window::new(TimeOfDay::new(9, 0), TimeOfDay::new(18, 0)).unwrap();
    /// let t = Kolkata.with_ymd_and_hms(2025, 12, 31, 10, 0, 0).unwrap().with_timezone(&Utc);
    /// assert_eq!(w.first_instant_at_or_after(Kolkata, t).unwrap().0, t);
    /// ```
    pub fn first_instant_at_or_after(
        &self,
        tz: Tz,
        t: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Occurrence)> {
        let o = self.first_ending_after(tz, t)?;
        Some((t.max(o.start), o))
    }

    /// Whether instant `t` is in the window (in some occurrence).
    ///
    /// # Example
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use chrono_tz::Asia::Kolkata;
    /// use redial::{TimeOfDay, Window};
    /// let w = Window::new(TimeOfDay::new(21, 0), TimeOfDay::new(6, 0)).unwrap();
    /// let at = |h| Kolkata.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap().with_timezone(&Utc);
    /// assert!(w.contains(Kolkata, at(5)));
    /// assert!(!w.contains(Kolkata, at(6)));
    /// assert!(w.contains(Kolkata, at(21)));
    /// ```
    pub fn contains(&self, tz: Tz, t: DateTime<Utc>) -> bool {
        self.first_ending_after(tz, t).is_some_and(|o| o.start <= t)
    }
}

/// [`Window::first_ending_after`] of `window` with occurrences from
/// `occurrence`.
fn first_ending_after_by(
    window: &Window,
    tz: Tz,
    t: DateTime<Utc>,
    mut occurrence: impl FnMut(NaiveDate) -> Option<Occurrence>,
) -> Option<Occurrence> {
    let today = local_date(tz, t)?;
    // The previous date's occurrence can still be open only if it ends on
    // the next date (an overnight window): a same-day occurrence of the
    // previous date ends at a wall-clock time before `t`'s, so (time being
    // the first instant at or after a wall-clock time) at or before `t`.
    let (mut date, days) = if window.is_overnight() {
        (today.pred_opt()?, SEARCH_DAYS + 2)
    } else {
        (today, SEARCH_DAYS + 1)
    };
    for _ in 0..days {
        if let Some(o) = occurrence(date)
            && o.end > t
        {
            return Some(o);
        }
        date = date.succ_opt()?;
    }
    None
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let min = self.min.unwrap_or(TimeOfDay::MIDNIGHT);
        match self.max {
            Some(max) => write!(f, "[{min}, {max})"),
            None => write!(f, "[{min}, 24:00)"),
        }
    }
}

#[cfg(test)]
mod tests;
