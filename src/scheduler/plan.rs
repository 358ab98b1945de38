//! The plan room: where an attempt may go (policy.md 3).
//!
//! It owns the rules of semantics 3.2-3.4 read with permitted instants in
//! place of the window: `next(O, d)` (the first permitted instant at or
//! after `d` in occurrence `O`), the first later occurrence that has one,
//! and how long a ready call may stay ready. The other rooms decide what
//! happens when there is no such instant (carry over, expire, defer).

use chrono_tz::Tz;

use super::Scheduler;
use crate::call::Call;
use crate::policy::calendar::{HORIZON_DAYS, Permit};
use crate::time::{DAY, MAX_TIME, Secs, ceil_secs, instant};
use crate::window::{Occurrence, Window};

/// What decides when a call may trigger.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    pub set: u32,
    pub window: Option<Window>,
    /// The primary zone, whose occurrences the window has.
    pub tz: Tz,
    pub carry_over: bool,
    /// The end of its lifetime, if any.
    pub expires: Option<Secs>,
}

impl Rules {
    pub fn of(c: &Call) -> Rules {
        Rules {
            set: c.rules,
            window: c.window(),
            tz: c.tz,
            carry_over: c.carry_over(),
            expires: c.expires(),
        }
    }
}

/// Where an attempt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    /// Due at `due`, bound to the occurrence ending at `end` (none without
    /// a window); `later` when that is a later occurrence than the call's.
    At {
        due: Secs,
        end: Option<Secs>,
        later: bool,
    },
    /// No permitted instant for it (within the horizon).
    Nowhere,
}

/// An occurrence's bounds in seconds.
fn bounds(o: &Occurrence) -> (Secs, Secs) {
    (ceil_secs(o.start), ceil_secs(o.end))
}

impl Scheduler {
    /// The first occurrence ending after `t`.
    fn occurrence_after(&mut self, r: &Rules, t: Secs) -> Option<Occurrence> {
        let w = r.window?;
        self.occurrences.first_ending_after(&w, r.tz, instant(t))
    }

    /// `next(O, d)`: the first permitted instant at or after `d` in the
    /// occurrence `[start, end)`.
    fn next_in(&mut self, r: &Rules, (start, end): (Secs, Secs), d: Secs) -> Option<Secs> {
        self.calendar
            .next_permitted(r.set, r.window, d.max(start), end)
    }

    /// The first occurrence ending after `d` and after `after` that has
    /// `next(O, d)`, with that instant; none within the horizon.
    pub(super) fn first_with_next(
        &mut self,
        r: &Rules,
        d: Secs,
        after: Option<Secs>,
    ) -> Option<(Secs, (Secs, Secs))> {
        let limit = d.saturating_add(HORIZON_DAYS * DAY).min(MAX_TIME);
        let mut from = after.map_or(d, |a| a.max(d));
        loop {
            let o = self.occurrence_after(r, from)?;
            let (start, end) = bounds(&o);
            if start > limit {
                return None;
            }
            if let Some(due) = self.next_in(r, (start, end), d) {
                return Some((due, (start, end)));
            }
            from = end;
        }
    }

    /// Where an attempt wanted at `d` goes, for a call bound to the
    /// occurrence ending at `bound` (semantics 3.4 with permitted instants):
    /// `next(O, d)` in its own occurrence; else, with `carry_over`, the
    /// first later occurrence's; without a window, the first permitted
    /// instant at or after `d`.
    pub(super) fn place(&mut self, r: &Rules, bound: Option<Secs>, d: Secs) -> Place {
        if r.window.is_none() {
            let limit = d.saturating_add(HORIZON_DAYS * DAY);
            return match self.calendar.next_permitted(r.set, None, d, limit) {
                Some(due) => Place::At {
                    due,
                    end: None,
                    later: false,
                },
                None => Place::Nowhere,
            };
        }
        if let Some(end) = bound
            && let Some(o) = self.occurrence_after(r, end.saturating_sub(1))
        {
            let own = bounds(&o);
            if let Some(due) = self.next_in(r, own, d) {
                return Place::At {
                    due,
                    end: Some(own.1),
                    later: false,
                };
            }
        }
        if !r.carry_over {
            return Place::Nowhere;
        }
        match self.first_with_next(r, d, bound) {
            Some((due, (_, end))) => Place::At {
                due,
                end: Some(end),
                later: true,
            },
            None => Place::Nowhere,
        }
    }

    /// Until when a call made ready at `at` may stay ready: the end of the
    /// permitted interval it is in, its occurrence's end, or its
    /// lifetime's, whichever comes first; `None` if never.
    pub(super) fn ready_until(&mut self, r: &Rules, bound: Option<Secs>, at: Secs) -> Option<Secs> {
        let permitted = match self.calendar.permit_at(r.set, r.window, at) {
            Permit::No => Some(at),
            Permit::Until(end) => Some(end),
            Permit::Forever => None,
        };
        [permitted, bound, r.expires].into_iter().flatten().min()
    }
}
