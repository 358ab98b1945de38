//! Permitted instants (policy.md 3): when a call may trigger, given its
//! zones, its window and its policies.
//!
//! An instant is permitted iff, in every zone of the call, the local wall
//! clock lies in the window (if any) and in every policy's hours for that
//! weekday, on a date that is none of their holidays. Membership can only
//! change where some zone's wall clock reaches a boundary (a window bound,
//! an interval edge, midnight) or jumps (a DST transition), so the
//! calendar computes, per UTC day, those candidate instants and the
//! maximal permitted intervals between them, once per (rules, window, day),
//! in a direct-mapped memo like the occurrence memo.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::Policy;
use crate::time::{DAY, MAX_TIME, Secs};
use crate::window::Window;

/// How far a search looks past the instant it starts from (policy.md 3).
pub(crate) const HORIZON_DAYS: i64 = 400;

/// The zones and policies of a call (its window is kept with the call).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RuleSet {
    /// The primary zone first, then the others in name order.
    pub zones: Box<[Tz]>,
    /// Indexes into the calendar's policies, ascending.
    pub policies: Box<[u16]>,
}

/// Whether an instant is permitted, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Not permitted.
    No,
    /// Permitted up to (not including) this instant.
    Until(Secs),
    /// Permitted for as far as the horizon reaches.
    Forever,
}

/// One memoised UTC day of one (rule set, window).
#[derive(Clone, Debug)]
struct Slice {
    set: u32,
    window: u32,
    day: i64,
    intervals: Box<[(Secs, Secs)]>,
}

/// Memo entries, a power of two.
const MEMO_ENTRIES: usize = 4096;
/// Empty-run entries, a power of two.
const EMPTY_ENTRIES: usize = 1024;

/// The engine's rule sets and the permitted-interval memo.
#[derive(Clone, Debug, Default)]
pub(crate) struct Calendar {
    policies: Vec<Policy>,
    sets: Vec<RuleSet>,
    ids: HashMap<RuleSet, u32>,
    /// The set of each zone alone, with no policy (most calls' set), by
    /// the zone's number: found without building or hashing a set.
    one_zone: Vec<Option<u32>>,
    /// Empty until first used.
    memo: Vec<Option<Slice>>,
    /// Per (rule set, window), the last run of UTC days found to hold no
    /// permitted instant, `[from, to)`: a search that meets it jumps over
    /// it (a number whose zones never agree costs 400 days of search once,
    /// not on every request).
    empty: Vec<Option<(u32, u32, i64, i64)>>,
}

fn offset_at(tz: Tz, t: Secs) -> Option<i64> {
    let utc = DateTime::<Utc>::from_timestamp(t, 0)?.naive_utc();
    Some(i64::from(
        tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
    ))
}

thread_local! {
    /// The last day number [`local`] turned into a date: most lookups fall
    /// on the same day, and the day-to-date step is most of the cost.
    static LAST_DATE: std::cell::Cell<Option<(i64, NaiveDate)>> = const { std::cell::Cell::new(None) };
}

/// The local date and second of the day of `t` in `tz` (whose offset at
/// `t` is `known`, if known).
fn local(tz: Tz, t: Secs, known: Option<i64>) -> Option<(NaiveDate, i64)> {
    let offset = match known {
        Some(o) => o,
        None => offset_at(tz, t)?,
    };
    let wall = t.checked_add(offset)?;
    let day = wall.div_euclid(DAY);
    let date = match LAST_DATE.get() {
        Some((d, date)) if d == day => date,
        _ => {
            // Days since 0001-01-01 (CE day 1) of the wall clock, whole.
            let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + 719_163).ok()?)?;
            LAST_DATE.set(Some((day, date)));
            date
        }
    };
    Some((date, wall.rem_euclid(DAY)))
}

/// Whether wall-clock second `s` of a day lies in the window `[min, max)`.
fn in_window(w: &Window, s: i64) -> bool {
    let min = w
        .min()
        .map_or(0, |t| i64::from(t.hour() * 3600 + t.minute() * 60));
    let max = w
        .max()
        .map(|t| i64::from(t.hour() * 3600 + t.minute() * 60));
    match max {
        None => s >= min,
        Some(max) if min < max => min <= s && s < max,
        // Overnight (or only max at 00:00, refused earlier).
        Some(max) => s >= min || s < max,
    }
}

impl Calendar {
    /// A calendar for the configuration's policies, in name order.
    pub fn new(policies: Vec<Policy>) -> Calendar {
        Calendar {
            policies,
            ..Calendar::default()
        }
    }

    /// The number of a rule set, made on first use.
    pub fn intern(&mut self, set: RuleSet) -> u32 {
        if let Some(id) = self.ids.get(&set) {
            return *id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }

    /// [`Calendar::intern`] of the set of `tz` alone, with no policy.
    pub fn intern_zone(&mut self, tz: Tz) -> u32 {
        let i = tz as usize;
        if let Some(Some(id)) = self.one_zone.get(i) {
            return *id;
        }
        let id = self.intern(RuleSet {
            zones: Box::new([tz]),
            policies: Box::new([]),
        });
        if self.one_zone.len() <= i {
            self.one_zone.resize(i + 1, None);
        }
        if let Some(place) = self.one_zone.get_mut(i) {
            *place = Some(id);
        }
        id
    }

    pub fn set(&self, id: u32) -> Option<&RuleSet> {
        self.sets.get(id as usize)
    }

    pub fn policy(&self, index: u16) -> Option<&Policy> {
        self.policies.get(usize::from(index))
    }

    /// Whether every instant is permitted: one zone, no policy, no window.
    pub fn always(&self, set: u32, window: Option<Window>) -> bool {
        window.is_none()
            && self
                .set(set)
                .is_none_or(|s| s.zones.len() <= 1 && s.policies.is_empty())
    }

    /// Whether instant `t` is permitted (computed directly).
    #[cfg(test)]
    pub fn permitted(&self, set: u32, window: Option<Window>, t: Secs) -> bool {
        self.permitted_with(set, window, t, &[])
    }

    /// [`Calendar::permitted`], with the offset of each zone (in order)
    /// given where it is known to hold at `t`.
    fn permitted_with(
        &self,
        set: u32,
        window: Option<Window>,
        t: Secs,
        fixed: &[Option<i64>],
    ) -> bool {
        let Some(rules) = self.set(set) else {
            return false;
        };
        rules.zones.iter().enumerate().all(|(i, tz)| {
            let known = fixed.get(i).copied().flatten();
            let Some((date, second)) = local(*tz, t, known) else {
                return false;
            };
            if window.is_some_and(|w| !in_window(&w, second)) {
                return false;
            }
            let minute = u32::try_from(second / 60).unwrap_or(0);
            rules.policies.iter().all(|p| {
                self.policy(*p)
                    .is_some_and(|p| !p.is_holiday(date) && p.allows(date.weekday(), minute))
            })
        })
    }

    /// Whether `t` is permitted and until when (the end of its maximal
    /// interval, which can run on over several days).
    pub fn permit_at(&mut self, set: u32, window: Option<Window>, t: Secs) -> Permit {
        if self.always(set, window) {
            return Permit::Forever;
        }
        let mut day = t.div_euclid(DAY);
        let last = day.saturating_add(HORIZON_DAYS);
        let Some(&(_, mut end)) = self
            .slice(set, window, day)
            .iter()
            .find(|(s, e)| *s <= t && t < *e)
        else {
            return Permit::No;
        };
        // An interval that reaches midnight UTC may go on the next day.
        while end == (day + 1) * DAY && day < last {
            day += 1;
            match self.slice(set, window, day).first() {
                Some(&(s, e)) if s == day * DAY => end = e,
                _ => return Permit::Until(end),
            }
        }
        if day >= last {
            Permit::Forever
        } else {
            Permit::Until(end)
        }
    }

    /// The first permitted instant at or after `from` and before `limit`
    /// (at most the horizon past `from`, and never past the engine's last
    /// instant).
    pub fn next_permitted(
        &mut self,
        set: u32,
        window: Option<Window>,
        from: Secs,
        limit: Secs,
    ) -> Option<Secs> {
        let limit = limit
            .min(from.saturating_add(HORIZON_DAYS * DAY))
            .min(MAX_TIME.saturating_add(1));
        if from >= limit {
            return None;
        }
        if self.always(set, window) {
            return Some(from);
        }
        let first = from.div_euclid(DAY);
        let mut day = first;
        // The days scanned so far that held nothing after `from`.
        let mut empty_from = None;
        while day * DAY < limit {
            if let Some(to) = self.known_empty(set, window, day) {
                empty_from.get_or_insert(day);
                day = to;
                continue;
            }
            let slice = self.slice(set, window, day);
            let found = slice
                .iter()
                .find(|(_, e)| *e > from)
                .map(|(s, _)| (*s).max(from));
            if slice.is_empty() {
                empty_from.get_or_insert(day);
            } else if day > first {
                // A permitted day ends a run of empty ones.
                if let Some(start) = empty_from.take() {
                    self.remember_empty(set, window, start, day);
                }
            } else {
                empty_from = None;
            }
            if let Some(t) = found {
                return (t < limit).then_some(t);
            }
            day += 1;
        }
        if let Some(start) = empty_from {
            self.remember_empty(set, window, start, day);
        }
        None
    }

    /// The end of a known run of empty days that holds `day`.
    fn known_empty(&self, set: u32, window: Option<Window>, day: i64) -> Option<i64> {
        let packed = Window::pack(window);
        match self.empty.get(Self::empty_index(set, packed)) {
            Some(Some((s, w, from, to)))
                if *s == set && *w == packed && *from <= day && day < *to =>
            {
                Some(*to)
            }
            _ => None,
        }
    }

    fn remember_empty(&mut self, set: u32, window: Option<Window>, from: i64, to: i64) {
        if self.empty.is_empty() {
            self.empty = vec![None; EMPTY_ENTRIES];
        }
        let packed = Window::pack(window);
        if let Some(e) = self.empty.get_mut(Self::empty_index(set, packed)) {
            // Join a run it touches; else the newer run wins the entry.
            let (from, to) = match e {
                Some((s, w, a, b)) if *s == set && *w == packed && from <= *b && *a <= to => {
                    ((*a).min(from), (*b).max(to))
                }
                _ => (from, to),
            };
            *e = Some((set, packed, from, to));
        }
    }

    fn empty_index(set: u32, packed: u32) -> usize {
        let h = (u64::from(set) << 32 | u64::from(packed)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 54) as usize & (EMPTY_ENTRIES - 1)
    }

    /// The permitted intervals of UTC day `day`, memoised.
    fn slice(&mut self, set: u32, window: Option<Window>, day: i64) -> &[(Secs, Secs)] {
        if self.memo.is_empty() {
            self.memo = vec![None; MEMO_ENTRIES];
        }
        let packed = Window::pack(window);
        let h = u64::from(set)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(u64::from(packed))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(day.cast_unsigned())
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let i = (h >> 40) as usize & (MEMO_ENTRIES - 1);
        let hit = matches!(self.memo.get(i), Some(Some(s)) if s.set == set && s.window == packed && s.day == day);
        if !hit {
            let intervals = self.compute(set, window, day).into_boxed_slice();
            if let Some(e) = self.memo.get_mut(i) {
                *e = Some(Slice {
                    set,
                    window: packed,
                    day,
                    intervals,
                });
            }
        }
        match self.memo.get(i) {
            Some(Some(s)) => &s.intervals,
            _ => &[],
        }
    }

    /// The maximal permitted intervals within UTC day `day`.
    fn compute(&self, set: u32, window: Option<Window>, day: i64) -> Vec<(Secs, Secs)> {
        let (start, end) = (day * DAY, (day + 1) * DAY);
        let mut cuts = vec![start];
        // Per zone, its offset when one holds all day (most days).
        let mut fixed: Vec<Option<i64>> = Vec::new();
        if let Some(rules) = self.set(set) {
            for tz in rules.zones.iter() {
                fixed.push(self.boundaries(&rules.policies, *tz, window, start, end, &mut cuts));
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut out: Vec<(Secs, Secs)> = Vec::new();
        for (i, from) in cuts.iter().enumerate() {
            let to = cuts.get(i + 1).copied().unwrap_or(end);
            if !self.permitted_with(set, window, *from, &fixed) {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 == *from => last.1 = to,
                _ => out.push((*from, to)),
            }
        }
        out
    }

    /// Instants in `[start, end)` where zone `tz`'s wall clock reaches a
    /// boundary (midnight, a window bound, a policy interval edge) or
    /// jumps (a transition). Returns the zone's offset if one holds all
    /// day.
    fn boundaries(
        &self,
        policies: &[u16],
        tz: Tz,
        window: Option<Window>,
        start: Secs,
        end: Secs,
        cuts: &mut Vec<Secs>,
    ) -> Option<i64> {
        // Offsets in force, and the transitions between them, sampled
        // every eight hours (no zone changes twice within eight hours).
        let mut offsets: Vec<i64> = Vec::new();
        let mut prev: Option<(Secs, i64)> = None;
        for k in 0..=3 {
            let t = (start + k * 8 * 3600).min(end - 1);
            let Some(o) = offset_at(tz, t) else { continue };
            if let Some((pt, po)) = prev
                && po != o
            {
                let (mut lo, mut hi) = (pt, t);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(tz, mid) == Some(po) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                cuts.push(hi);
            }
            if !offsets.contains(&o) {
                offsets.push(o);
            }
            prev = Some((t, o));
        }
        let mut edges: Vec<i64> = vec![0];
        if let Some(w) = window {
            for b in [w.min(), w.max()].into_iter().flatten() {
                edges.push(i64::from(b.hour() * 3600 + b.minute() * 60));
            }
        }
        let fixed = match offsets.as_slice() {
            [o] => Some(*o),
            _ => None,
        };
        let Some((first, _)) = local(tz, start, fixed) else {
            return fixed;
        };
        let mut marks = Vec::with_capacity(16);
        for date in first.iter_days().take(3) {
            marks.clear();
            marks.extend_from_slice(&edges);
            for p in policies.iter().filter_map(|p| self.policy(*p)) {
                if let Some(slots) = p.slots(date.weekday()) {
                    for (from, to) in slots {
                        marks.push(i64::from(*from) * 60);
                        marks.push(i64::from(*to) * 60);
                    }
                }
            }
            // The local midnight as if it were UTC: wall clock minus offset
            // is the instant.
            let midnight = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
            for m in &marks {
                let wall = midnight + m;
                for o in &offsets {
                    let t = wall - o;
                    if start <= t && t < end && (fixed.is_some() || offset_at(tz, t) == Some(*o)) {
                        cuts.push(t);
                    }
                }
            }
        }
        fixed
    }
}
