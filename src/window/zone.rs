//! Wall-clock time in a zone, by the contract's one rule (semantics §2):
//! a wall-clock time means the first instant whose local time is at or
//! after it. So a time a spring-forward gap skips means the gap's end
//! (02:30 on 2026-03-08 in New York is 03:00 EDT, not the 03:30 that
//! jiff's and Temporal's `compatible` disambiguation give), and a time a
//! fall-back fold repeats means its first occurrence.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};

use crate::time::{Secs, ceil_secs};

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

/// The last wall-clock time [`WallMemo::read`] read, and its instant:
/// a campaign's calls share their `schedule_at`, and each reading is a
/// binary search of the zone's transitions. A memo of a pure function, so
/// it changes no result.
#[derive(Debug, Default)]
pub(crate) struct WallMemo {
    last: Option<(Tz, NaiveDateTime, Option<Secs>)>,
}

impl WallMemo {
    /// [`wall_to_instant`] of `wall` in `tz` in whole seconds, rounded up.
    pub fn read(&mut self, tz: Tz, wall: NaiveDateTime) -> Option<Secs> {
        if let Some((t, w, secs)) = self.last
            && t == tz
            && w == wall
        {
            return secs;
        }
        let secs = wall_to_instant(tz, wall).map(ceil_secs);
        self.last = Some((tz, wall, secs));
        secs
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
