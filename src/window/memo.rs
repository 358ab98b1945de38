//! The occurrence memo: the engine asks for the same few (zone, window,
//! date) triples over and over, and each answer costs two wall-clock
//! conversions through chrono-tz.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{Occurrence, Window, first_ending_after_by};

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
        first_ending_after_by(window, tz, t, |date| self.occurrence(window, tz, date))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::tests::win;
    use crate::window::{TimeOfDay, local_date};
    use chrono_tz::America::{New_York, Santiago};
    use chrono_tz::Asia::{Kathmandu, Kolkata};
    use chrono_tz::Australia::Lord_Howe;
    use chrono_tz::Europe::London;

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
            checked += 1;
        }
        assert!(checked > 15_000);
    }

    /// [`Window::first_ending_after`] as it was first written: every date's
    /// occurrence from the previous date on, overnight window or not.
    fn every_date_from_the_previous(w: &Window, tz: Tz, t: DateTime<Utc>) -> Option<Occurrence> {
        let mut date = local_date(tz, t)?.pred_opt()?;
        for _ in 0..=crate::window::SEARCH_DAYS + 1 {
            if let Some(o) = w.occurrence(tz, date)
                && o.end > t
            {
                return Some(o);
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The engine's only cache of zone computations is the occurrence memo
    /// (there is no offset-span table): over every zone chrono-tz knows and
    /// instants from 1970 through 2099, the memo, a tiny memo that keeps
    /// evicting, direct computation and the search from the previous date
    /// agree, and `local_date` agrees with chrono-tz's own conversion.
    #[test]
    fn zone_computations_agree_with_chrono_tz_in_every_zone_1970_2099() {
        const FROM: i64 = 0; // 1970-01-01
        const TO: i64 = 4_102_444_800; // 2100-01-01
        let windows = [
            win(Some((9, 0)), Some((18, 0))),
            win(Some((22, 30)), Some((6, 0))),
            win(Some((1, 30)), Some((3, 0))),
            win(None, Some((0, 30))),
            // Same-day, from just after midnight to just before the next:
            // zones that change their clocks at midnight.
            win(Some((0, 30)), Some((23, 30))),
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
                let w = &windows[rand(5) as usize];
                let want = w.first_ending_after(tz, at);
                assert_eq!(
                    want,
                    every_date_from_the_previous(w, tz, at),
                    "{w} {tz} {at}"
                );
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
}
