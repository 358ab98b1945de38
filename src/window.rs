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

use std::fmt;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};

/// How many local dates past the first candidate an occurrence search looks
/// at. Only DST gaps make occurrences empty, and no zone has skipped more than
/// one calendar day (Pacific/Apia, 2011-12-30), so a week is ample.
const SEARCH_DAYS: u64 = 7;

/// A time of day with minute precision, written `H:MM` or `HH:MM`.
///
/// # Example
/// ```
/// use redial::TimeOfDay;
/// let t = TimeOfDay::parse("9:05").unwrap();
/// assert_eq!((t.hour(), t.minute()), (9, 5));
/// assert_eq!(t.to_string(), "09:05");
/// assert!(TimeOfDay::parse("24:00").is_none());
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
    /// # Example
    /// ```
    /// use redial::TimeOfDay;
    /// assert_eq!(TimeOfDay::parse("21:00"), TimeOfDay::new(21, 0));
    /// assert!(TimeOfDay::parse("9:5").is_none());
    /// assert!(TimeOfDay::parse(" 9:05").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<TimeOfDay> {
        let (h, m) = text.split_once(':')?;
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !(1..=2).contains(&h.len()) || m.len() != 2 || !all_digits(h) || !all_digits(m) {
            return None;
        }
        TimeOfDay::new(h.parse().ok()?, m.parse().ok()?)
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
                TimeOfDay::parse(text).ok_or_else(|| {
                    E::custom(format!("invalid time of day {text:?}: expected HH:MM"))
                })
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
        first_ending_after_by(tz, t, |date| self.occurrence(tz, date))
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

/// [`Window::first_ending_after`] with occurrences from `occurrence`.
fn first_ending_after_by(
    tz: Tz,
    t: DateTime<Utc>,
    mut occurrence: impl FnMut(NaiveDate) -> Option<Occurrence>,
) -> Option<Occurrence> {
    // The previous date's occurrence can still be open (overnight windows).
    let mut date = local_date(tz, t)?.pred_opt()?;
    for _ in 0..=SEARCH_DAYS + 1 {
        if let Some(o) = occurrence(date)
            && o.end > t
        {
            return Some(o);
        }
        date = date.succ_opt()?;
    }
    None
}

/// A memo of [`Window::occurrence`]: the engine asks for the same few
/// (zone, window, date) triples over and over, and each answer costs two
/// wall-clock conversions through chrono-tz. Direct-mapped and fixed in
/// size; a memo of a pure function, so it changes no result, only speed.
#[derive(Clone)]
pub(crate) struct OccurrenceCache {
    /// Entries, a power of two.
    size: usize,
    /// Empty until first used, so an engine that never sees a window pays
    /// nothing.
    entries: Vec<Option<CachedOccurrence>>,
}

impl fmt::Debug for OccurrenceCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A thousand entries of memo would drown a debug print of the engine.
        f.debug_struct("OccurrenceCache")
            .field("filled", &self.entries.iter().flatten().count())
            .field("entries", &self.size)
            .finish()
    }
}

#[derive(Clone, Copy, Debug)]
struct CachedOccurrence {
    tz: Tz,
    window: Window,
    date: NaiveDate,
    occurrence: Option<Occurrence>,
}

impl Default for OccurrenceCache {
    fn default() -> OccurrenceCache {
        OccurrenceCache::with_entries(1024)
    }
}

impl OccurrenceCache {
    /// A cache of `n` entries (a power of two).
    pub(crate) fn with_entries(n: usize) -> OccurrenceCache {
        OccurrenceCache {
            size: n.next_power_of_two().max(1),
            entries: Vec::new(),
        }
    }

    fn index(&self, tz: Tz, window: &Window, date: NaiveDate) -> usize {
        let h = (tz as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(Window::pack(Some(*window))))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(date.num_days_from_ce().cast_unsigned()))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // High bits are the best mixed.
        (h >> 32) as usize & (self.size - 1)
    }

    /// [`Window::occurrence`], remembered.
    pub(crate) fn occurrence(
        &mut self,
        window: &Window,
        tz: Tz,
        date: NaiveDate,
    ) -> Option<Occurrence> {
        if self.entries.is_empty() {
            self.entries = vec![None; self.size];
        }
        let i = self.index(tz, window, date);
        if let Some(Some(e)) = self.entries.get(i)
            && e.tz == tz
            && e.window == *window
            && e.date == date
        {
            return e.occurrence;
        }
        let occurrence = window.occurrence(tz, date);
        if let Some(e) = self.entries.get_mut(i) {
            *e = Some(CachedOccurrence {
                tz,
                window: *window,
                date,
                occurrence,
            });
        }
        occurrence
    }

    /// [`Window::first_ending_after`] through the cache.
    pub(crate) fn first_ending_after(
        &mut self,
        window: &Window,
        tz: Tz,
        t: DateTime<Utc>,
    ) -> Option<Occurrence> {
        first_ending_after_by(tz, t, |date| self.occurrence(window, tz, date))
    }

    /// [`Window::first_instant_at_or_after`] through the cache.
    pub(crate) fn first_instant_at_or_after(
        &mut self,
        window: &Window,
        tz: Tz,
        t: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Occurrence)> {
        let o = self.first_ending_after(window, tz, t)?;
        Some((t.max(o.start), o))
    }
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

/// The local calendar date of instant `t` in zone `tz`, or `None` when the
/// local time falls outside chrono's range (chrono's own conversion panics
/// there).
pub fn local_date(tz: Tz, t: DateTime<Utc>) -> Option<NaiveDate> {
    let offset = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(offset).map(|l| l.date())
}

/// The first instant whose local wall-clock time in `tz` is at or after
/// `wall` (semantics §2). `None` only outside chrono's range.
///
/// # Example
/// ```
/// use chrono::{NaiveDate, TimeZone, Utc};
/// use chrono_tz::America::New_York;
/// use redial::wall_to_instant;
/// let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
/// // 02:30 is skipped: it means 03:00 EDT, 07:00 UTC.
/// let t = wall_to_instant(New_York, day.and_hms_opt(2, 30, 0).unwrap()).unwrap();
/// assert_eq!(t, Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap());
/// // 01:30 on 2026-11-01 happens twice: the first one (EDT) counts.
/// let fold = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap().and_hms_opt(1, 30, 0).unwrap();
/// assert_eq!(wall_to_instant(New_York, fold).unwrap(), Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap());
/// ```
pub fn wall_to_instant(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, wall),
    }
}

/// The first existing instant after a wall-clock time that a gap skipped.
fn gap_end(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(end) = GapInfo::new(&wall, &tz).and_then(|g| g.end) {
        return Some(end.with_timezone(&Utc));
    }
    // GapInfo gives no end when the gap's end is itself ambiguous. Find the
    // first local time that exists by doubling, then bisecting, whole seconds.
    let exists = |s: i64| -> Option<bool> {
        let local = wall.checked_add_signed(chrono::TimeDelta::try_seconds(s)?)?;
        Some(!matches!(tz.from_local_datetime(&local), LocalResult::None))
    };
    let (mut lo, mut hi) = (0_i64, 1_i64);
    while !exists(hi)? {
        lo = hi;
        hi = hi.checked_mul(2).filter(|h| *h <= 4 * 86_400)?;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let local = wall.checked_add_signed(chrono::TimeDelta::try_seconds(hi)?)?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::{New_York, Santiago};
    use chrono_tz::Asia::{Kathmandu, Kolkata};
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::London;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn wall(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        date(y, m, d).and_hms_opt(h, min, 0).unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn win(min: Option<(u32, u32)>, max: Option<(u32, u32)>) -> Window {
        let t = |p: Option<(u32, u32)>| p.map(|(h, m)| TimeOfDay::new(h, m).unwrap());
        Window::new(t(min), t(max)).unwrap()
    }

    #[test]
    fn new_york_gap_and_fold() {
        // 2026-03-08 02:00 EST -> 03:00 EDT at 07:00 UTC.
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 3, 8, 1, 59)),
            Some(utc(2026, 3, 8, 6, 59))
        );
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 3, 8, 2, 0)),
            Some(utc(2026, 3, 8, 7, 0))
        );
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 3, 8, 2, 59)),
            Some(utc(2026, 3, 8, 7, 0))
        );
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 3, 8, 3, 0)),
            Some(utc(2026, 3, 8, 7, 0))
        );
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 3, 8, 3, 1)),
            Some(utc(2026, 3, 8, 7, 1))
        );
        // 2026-11-01 02:00 EDT -> 01:00 EST at 06:00 UTC: 01:xx happens twice.
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 11, 1, 1, 0)),
            Some(utc(2026, 11, 1, 5, 0))
        );
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 11, 1, 1, 59)),
            Some(utc(2026, 11, 1, 5, 59))
        );
        assert_eq!(
            wall_to_instant(New_York, wall(2026, 11, 1, 2, 0)),
            Some(utc(2026, 11, 1, 7, 0))
        );
    }

    #[test]
    fn window_inside_the_gap_is_empty_that_day_only() {
        let w = win(Some((2, 0)), Some((2, 30)));
        assert_eq!(w.occurrence(New_York, date(2026, 3, 8)), None);
        let next = w
            .first_ending_after(New_York, utc(2026, 3, 8, 5, 0))
            .unwrap();
        assert_eq!(next.date, date(2026, 3, 9));
        assert_eq!(next.start, utc(2026, 3, 9, 6, 0));
        // A window straddling the gap is shortened, not lost.
        let w = win(Some((2, 30)), Some((4, 0)));
        let o = w.occurrence(New_York, date(2026, 3, 8)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 8, 0))
        );
    }

    #[test]
    fn fold_window_occurs_once() {
        // 01:00-01:30 on the fold night: only the first pass counts.
        let w = win(Some((1, 0)), Some((1, 30)));
        let o = w.occurrence(New_York, date(2026, 11, 1)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30))
        );
        assert!(
            !w.contains(New_York, utc(2026, 11, 1, 6, 15)),
            "the second 01:15 is outside"
        );
        // From the first 01:30 to the first 02:30: the second pass of
        // 01:00-01:30 (EST) lies inside, as the contract's rule has it.
        let w = win(Some((1, 30)), Some((2, 30)));
        let o = w.occurrence(New_York, date(2026, 11, 1)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 30))
        );
        assert!(
            w.contains(New_York, utc(2026, 11, 1, 6, 10)),
            "01:10 EST, the second pass"
        );
        // A window spanning the fold is an hour longer in instants.
        let w = win(Some((0, 0)), Some((3, 0)));
        let o = w.occurrence(New_York, date(2026, 11, 1)).unwrap();
        assert_eq!((o.end - o.start).num_hours(), 4);
    }

    #[test]
    fn london_transitions() {
        // 2026-03-29 01:00 GMT -> 02:00 BST.
        assert_eq!(
            wall_to_instant(London, wall(2026, 3, 29, 1, 30)),
            Some(utc(2026, 3, 29, 1, 0))
        );
        // 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 first at 00:30 UTC.
        assert_eq!(
            wall_to_instant(London, wall(2026, 10, 25, 1, 30)),
            Some(utc(2026, 10, 25, 0, 30))
        );
        let w = win(Some((9, 0)), Some((17, 0)));
        let o = w.occurrence(London, date(2026, 3, 29)).unwrap();
        assert_eq!(o.start, utc(2026, 3, 29, 8, 0));
        let o = w.occurrence(London, date(2026, 3, 28)).unwrap();
        assert_eq!(o.start, utc(2026, 3, 28, 9, 0));
    }

    #[test]
    fn lord_howe_half_hour_dst() {
        // 2026-04-05 02:00 +11 -> 01:30 +10:30: 01:30-02:00 happens twice.
        assert_eq!(
            wall_to_instant(Lord_Howe, wall(2026, 4, 5, 1, 45)),
            Some(utc(2026, 4, 4, 14, 45))
        );
        // 2026-10-04 02:00 +10:30 -> 02:30 +11: 02:00-02:30 is skipped.
        assert_eq!(
            wall_to_instant(Lord_Howe, wall(2026, 10, 4, 2, 10)),
            Some(utc(2026, 10, 3, 15, 30))
        );
        let w = win(Some((2, 0)), Some((2, 30)));
        assert!(w.occurrence(Lord_Howe, date(2026, 10, 4)).is_none());
        assert!(w.occurrence(Lord_Howe, date(2026, 10, 5)).is_some());
    }

    #[test]
    fn kathmandu_and_kolkata_offsets() {
        assert_eq!(
            wall_to_instant(Kathmandu, wall(2026, 6, 1, 9, 0)),
            Some(utc(2026, 6, 1, 3, 15))
        );
        assert_eq!(
            wall_to_instant(Kolkata, wall(2026, 6, 1, 9, 0)),
            Some(utc(2026, 6, 1, 3, 30))
        );
        let w = win(Some((9, 0)), Some((18, 0)));
        // 18:00 Kathmandu is 12:15 UTC: a call at 12:14 UTC is in, at 12:15 out.
        assert!(w.contains(Kathmandu, utc(2026, 6, 1, 12, 14)));
        assert!(!w.contains(Kathmandu, utc(2026, 6, 1, 12, 15)));
    }

    #[test]
    fn santiago_midnight_gap() {
        // 2026-09-06 00:00 -04 -> 01:00 -03: local midnight does not exist.
        assert_eq!(
            wall_to_instant(Santiago, wall(2026, 9, 6, 0, 0)),
            Some(utc(2026, 9, 6, 4, 0))
        );
        let only_max = win(None, Some((8, 0)));
        let o = only_max.occurrence(Santiago, date(2026, 9, 6)).unwrap();
        assert_eq!(
            (o.start, o.end),
            (utc(2026, 9, 6, 4, 0), utc(2026, 9, 6, 11, 0))
        );
        // The day before ends at the gap: the only-min window [20:00, 24:00).
        let only_min = win(Some((20, 0)), None);
        let o = only_min.occurrence(Santiago, date(2026, 9, 5)).unwrap();
        assert_eq!(o.end, utc(2026, 9, 6, 4, 0));
        // 2026-04-05 00:00 -03 -> 23:00 -04 the day before: 23:xx twice.
        assert_eq!(
            wall_to_instant(Santiago, wall(2026, 4, 4, 23, 30)),
            Some(utc(2026, 4, 5, 2, 30))
        );
    }

    #[test]
    fn overnight_windows() {
        let w = win(Some((21, 0)), Some((6, 0)));
        let at = |d, h| {
            Kolkata
                .with_ymd_and_hms(2026, 1, d, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // At 03:00 the occurrence of the previous date is open.
        let o = w.first_ending_after(Kolkata, at(2, 3)).unwrap();
        assert_eq!(o.date, date(2026, 1, 1));
        assert_eq!((o.start, o.end), (at(1, 21), at(2, 6)));
        // At 10:00 the next one starts tonight.
        let o = w.first_ending_after(Kolkata, at(2, 10)).unwrap();
        assert_eq!(o.date, date(2026, 1, 2));
        assert_eq!(
            w.first_instant_at_or_after(Kolkata, at(2, 10)).unwrap().0,
            at(2, 21)
        );
        // 21:00-00:00 ends at next midnight.
        let w = win(Some((21, 0)), Some((0, 0)));
        let o = w.occurrence(Kolkata, date(2026, 1, 1)).unwrap();
        assert_eq!(
            o.end,
            Kolkata.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn half_open_bounds() {
        let w = win(Some((9, 0)), Some((18, 0)));
        let at = |h, m| {
            Kolkata
                .with_ymd_and_hms(2026, 1, 1, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(!w.contains(Kolkata, at(8, 59)));
        assert!(w.contains(Kolkata, at(9, 0)));
        assert!(w.contains(Kolkata, at(17, 59)));
        assert!(!w.contains(Kolkata, at(18, 0)));
        let only_max = win(None, Some((1, 0)));
        assert!(only_max.contains(Kolkata, at(0, 0)));
        assert!(!only_max.contains(Kolkata, at(1, 0)));
    }

    #[test]
    fn samoa_skipped_a_whole_day() {
        // Pacific/Apia jumped from 2011-12-29 23:59:59 -10 to 2011-12-31 00:00 +14.
        let apia = chrono_tz::Pacific::Apia;
        let w = win(Some((9, 0)), Some((17, 0)));
        assert!(w.occurrence(apia, date(2011, 12, 30)).is_none());
        // 04:00 UTC on the 30th is 18:00 on the 29th locally, after that day's window.
        let o = w.first_ending_after(apia, utc(2011, 12, 30, 4, 0)).unwrap();
        assert_eq!(o.date, date(2011, 12, 31));
    }

    /// The memo changes no answer, even when entries keep evicting each
    /// other (a 4-entry cache) and across DST changes.
    #[test]
    fn occurrence_cache_agrees_with_direct_computation() {
        let zones = [New_York, London, Lord_Howe, Santiago, Kolkata, Kathmandu];
        let mut small = OccurrenceCache::with_entries(4);
        let mut large = OccurrenceCache::default();
        let mut rand = crate::test_rng::xorshift(0x1234_5678_u64);
        let time = |m: u64| {
            TimeOfDay::new(
                u32::try_from(m / 60).unwrap(),
                u32::try_from(m % 60).unwrap(),
            )
        };
        let mut checked = 0;
        for _ in 0..20_000 {
            let tz = zones[rand(6) as usize];
            let (a, b) = (time(rand(1440) / 30 * 30), time(rand(1440) / 30 * 30));
            let Ok(w) = Window::new(if rand(5) == 0 { None } else { a }, b) else {
                continue;
            };
            // Mostly a week around a DST change (so the cache hits), else
            // anywhere in 2020-2030; second precision.
            let base =
                [1_772_668_800, 1_775_347_200, 1_777_075_200, 1_792_800_000][rand(4) as usize];
            let secs = if rand(4) == 0 {
                1_577_836_800 + i64::try_from(rand(11 * 365 * 86_400)).unwrap()
            } else {
                base + i64::try_from(rand(7 * 86_400)).unwrap()
            };
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let want = w.first_ending_after(tz, t);
            assert_eq!(small.first_ending_after(&w, tz, t), want, "{w} {tz} {t}");
            assert_eq!(large.first_ending_after(&w, tz, t), want, "{w} {tz} {t}");
            assert_eq!(
                large.first_instant_at_or_after(&w, tz, t),
                w.first_instant_at_or_after(tz, t)
            );
            checked += 1;
        }
        assert!(checked > 15_000);
    }

    /// The engine's only cache of zone computations is the occurrence memo
    /// (there is no offset-span table): over every zone chrono-tz knows and
    /// instants from 1970 through 2099, the memo, a tiny memo that keeps
    /// evicting, and direct computation agree, and `local_date` agrees with
    /// chrono-tz's own conversion.
    #[test]
    fn zone_computations_agree_with_chrono_tz_in_every_zone_1970_2099() {
        const FROM: i64 = 0; // 1970-01-01
        const TO: i64 = 4_102_444_800; // 2100-01-01
        let windows = [
            win(Some((9, 0)), Some((18, 0))),
            win(Some((22, 30)), Some((6, 0))),
            win(Some((1, 30)), Some((3, 0))),
            win(None, Some((0, 30))),
        ];
        let mut rand = crate::test_rng::xorshift(1970);
        let mut checked = 0;
        // Shared by all zones, so an entry from one zone must never answer
        // for another.
        let mut memo = OccurrenceCache::default();
        let mut tiny = OccurrenceCache::with_entries(2);
        for tz in chrono_tz::TZ_VARIANTS {
            // Two runs of nearby instants (so the memo hits) and scattered ones.
            let mut t = FROM + i64::try_from(rand((TO - FROM) as u64)).unwrap();
            for i in 0..400 {
                t = if i % 40 == 0 {
                    FROM + i64::try_from(rand((TO - FROM) as u64)).unwrap()
                } else {
                    (t + i64::try_from(rand(6 * 3600)).unwrap()).min(TO - 1)
                };
                let at = DateTime::from_timestamp(t, 0).unwrap();
                assert_eq!(
                    local_date(tz, at),
                    Some(at.with_timezone(&tz).date_naive()),
                    "{tz} {at}"
                );
                let w = &windows[rand(4) as usize];
                let want = w.first_ending_after(tz, at);
                assert_eq!(memo.first_ending_after(w, tz, at), want, "{w} {tz} {at}");
                assert_eq!(tiny.first_ending_after(w, tz, at), want, "{w} {tz} {at}");
                // The same question in Kolkata or New York, straight after.
                let other = if i % 2 == 0 { Kolkata } else { New_York };
                let want = w.first_ending_after(other, at);
                assert_eq!(
                    tiny.first_ending_after(w, other, at),
                    want,
                    "{w} {other} {at}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 400 * 590, "{checked}");
    }

    #[test]
    fn extremes_do_not_panic() {
        let w = win(Some((9, 0)), Some((17, 0)));
        for t in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            utc(1, 1, 1, 0, 0),
            utc(9999, 12, 31, 23, 59),
        ] {
            let _ = w.first_ending_after(New_York, t);
            let _ = w.contains(Lord_Howe, t);
        }
        assert_eq!(local_date(New_York, DateTime::<Utc>::MIN_UTC), None);
        let _ = wall_to_instant(Lord_Howe, NaiveDateTime::MAX);
        let _ = wall_to_instant(Lord_Howe, NaiveDateTime::MIN);
        assert!(
            w.first_ending_after(Kolkata, utc(9999, 12, 31, 23, 59))
                .is_some()
        );
    }

    #[test]
    fn time_of_day_parse() {
        for ok in ["0:00", "00:00", "9:30", "19:59", "23:59"] {
            assert!(TimeOfDay::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "24:00", "23:60", "123:00", "1:5", "", ":", "ab:cd", "+1:00", "1:00:00", "٣:00",
        ] {
            assert!(TimeOfDay::parse(bad).is_none(), "{bad}");
        }
    }
}
