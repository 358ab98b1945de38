//! What the engine remembers about numbers beyond their live calls
//! (policy.md 4, 5, 6): suppressions (do-not-call) and the attempt history
//! frequency caps need.
//!
//! Both are bounded: a suppression is forgotten when it ends, an attempt
//! once it is older than the longest cap period of any policy. Each keeps
//! an index by time, so forgetting is O(log n) per entry as the clock
//! passes it, and nothing is ever scanned.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::policy::MaxAttempts;
use crate::time::{DAY, Secs};

/// Suppressions and attempt histories, by number (its E.164 digits).
#[derive(Debug, Default)]
pub(crate) struct NumberMemory {
    /// Suppressed numbers and when each suppression ends (`None`: never).
    suppressed: HashMap<u64, Option<Secs>>,
    /// The suppressions that end, by end.
    ends: BTreeSet<(Secs, u64)>,
    /// Per number, the instants of its attempts, oldest first.
    history: HashMap<u64, VecDeque<Secs>>,
    /// Every remembered attempt, oldest first, to forget them in order.
    attempts: VecDeque<(Secs, u64)>,
    /// How long attempts are kept: the longest cap period (0: not at all).
    keep: Secs,
}

impl NumberMemory {
    /// A memory that keeps attempts for `keep_days` x 24 hours.
    pub fn new(keep_days: u32) -> NumberMemory {
        NumberMemory {
            keep: Secs::from(keep_days) * DAY,
            ..NumberMemory::default()
        }
    }

    /// Forgets suppressions that ended and attempts no cap can count any
    /// more, as of `now`.
    pub fn forget_until(&mut self, now: Secs) {
        while let Some(&(end, number)) = self.ends.first() {
            if end > now {
                break;
            }
            self.ends.pop_first();
            if self.suppressed.get(&number) == Some(&Some(end)) {
                self.suppressed.remove(&number);
            }
        }
        // A cap counts attempts in (now - D, now]: older ones never again.
        while let Some(&(t, number)) = self.attempts.front() {
            if t > now.saturating_sub(self.keep) {
                break;
            }
            self.attempts.pop_front();
            if let Some(h) = self.history.get_mut(&number) {
                h.pop_front();
                if h.is_empty() {
                    self.history.remove(&number);
                }
            }
        }
    }

    /// Whether `number` is suppressed at `now`, and until when (`None`:
    /// no end).
    pub fn suppressed(&self, number: u64, now: Secs) -> Option<Option<Secs>> {
        self.suppressed
            .get(&number)
            .copied()
            .filter(|until| until.is_none_or(|u| u > now))
    }

    /// Suppresses `number` until `until` (`None`: no end), never shortening
    /// a suppression in force. False when nothing changed (an `until` at
    /// or before `now`).
    pub fn suppress(&mut self, number: u64, now: Secs, until: Option<Secs>) -> bool {
        if until.is_some_and(|u| u <= now) {
            return false;
        }
        let current = self.suppressed(number, now);
        let longer = match (current, until) {
            (None, _) => until,
            (Some(None), _) | (_, None) => None,
            (Some(Some(a)), Some(b)) => Some(a.max(b)),
        };
        if let Some(Some(old)) = self.suppressed.insert(number, longer) {
            self.ends.remove(&(old, number));
        }
        if let Some(end) = longer {
            self.ends.insert((end, number));
        }
        true
    }

    /// Lifts a suppression (none: nothing happens).
    pub fn unsuppress(&mut self, number: u64) {
        if let Some(Some(end)) = self.suppressed.remove(&number) {
            self.ends.remove(&(end, number));
        }
    }

    /// Whether attempts are remembered at all (some policy has a cap).
    pub fn records(&self) -> bool {
        self.keep > 0
    }

    /// Remembers an attempt to `number` at `at` (the clock, which never
    /// runs backwards, so both lists stay in order).
    pub fn record(&mut self, number: u64, at: Secs) {
        if !self.records() {
            return;
        }
        self.history.entry(number).or_default().push_back(at);
        self.attempts.push_back((at, number));
    }

    /// When `number` may be dialed again if a cap of `caps` is used up at
    /// `now`: for each cap {K, D} with K attempts in (now - D, now], the
    /// oldest of the last K plus D; the latest of them. `None` if no cap is
    /// used up.
    pub fn capped(&self, number: u64, now: Secs, caps: &[MaxAttempts]) -> Option<Secs> {
        let history = self.history.get(&number)?;
        caps.iter()
            .filter_map(|cap| {
                let period = Secs::from(cap.days) * DAY;
                let k = usize::try_from(cap.count).unwrap_or(usize::MAX);
                let oldest = *history.get(history.len().checked_sub(k)?)?;
                (oldest > now - period).then_some(oldest + period)
            })
            .max()
    }

    /// Suppressions in force, by number.
    pub fn suppressions(&self) -> Vec<(u64, Option<Secs>)> {
        let mut all: Vec<(u64, Option<Secs>)> =
            self.suppressed.iter().map(|(n, u)| (*n, *u)).collect();
        all.sort_unstable();
        all
    }

    /// Remembered attempts, by number.
    pub fn histories(&self) -> Vec<(u64, Vec<Secs>)> {
        let mut all: Vec<(u64, Vec<Secs>)> = self
            .history
            .iter()
            .map(|(n, h)| (*n, h.iter().copied().collect()))
            .collect();
        all.sort_unstable();
        all
    }

    /// Restores a history (instants in order, as a snapshot keeps them);
    /// `finish_restore` orders the global list.
    pub fn restore_history(&mut self, number: u64, instants: &[Secs]) {
        if !self.records() {
            return;
        }
        for t in instants {
            self.history.entry(number).or_default().push_back(*t);
            self.attempts.push_back((*t, number));
        }
    }

    /// Orders the global attempt list after restoring histories.
    pub fn finish_restore(&mut self) {
        self.attempts.make_contiguous().sort_unstable();
    }

    /// Numbers with a suppression in force, and with a remembered history.
    pub fn counts(&self) -> (usize, usize) {
        (self.suppressed.len(), self.history.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressions_are_never_shortened_and_end_silently() {
        let mut m = NumberMemory::new(0);
        assert!(m.suppress(1, 100, Some(200)));
        assert!(m.suppress(1, 100, Some(150)));
        assert_eq!(m.suppressed(1, 100), Some(Some(200)));
        assert!(
            !m.suppress(1, 100, Some(100)),
            "an end at or before now changes nothing"
        );
        assert!(m.suppress(1, 100, None));
        assert!(m.suppress(1, 100, Some(300)));
        assert_eq!(m.suppressed(1, 100), Some(None));
        m.unsuppress(1);
        assert_eq!(m.suppressed(1, 100), None);
        m.suppress(2, 100, Some(200));
        assert_eq!(m.suppressed(2, 199), Some(Some(200)));
        assert_eq!(m.suppressed(2, 200), None);
        m.forget_until(200);
        assert_eq!(m.counts(), (0, 0));
    }

    #[test]
    fn caps_count_the_open_period_and_history_is_forgotten() {
        let mut m = NumberMemory::new(1);
        let cap = [MaxAttempts { count: 2, days: 1 }];
        m.record(7, 1_000);
        assert_eq!(m.capped(7, 1_000, &cap), None);
        m.record(7, 5_000);
        assert_eq!(m.capped(7, 6_000, &cap), Some(1_000 + DAY));
        // (now - D, now]: the attempt exactly D ago no longer counts.
        assert_eq!(m.capped(7, 1_000 + DAY, &cap), None);
        m.forget_until(1_000 + DAY);
        assert_eq!(m.histories(), vec![(7, vec![5_000])]);
        m.forget_until(5_000 + DAY);
        assert_eq!(m.counts(), (0, 0));
        let mut none = NumberMemory::new(0);
        none.record(7, 1);
        assert_eq!(none.counts(), (0, 0));
    }
}
