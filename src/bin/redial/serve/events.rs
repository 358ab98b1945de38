//! The event stream of `GET /events`: every engine event once its command
//! is durable, numbered by a cursor that survives restarts.
//!
//! Cursors count the engine's events from the data directory's first
//! command (the first event is 1). Replay regenerates the events after a
//! snapshot with the same numbers, and the snapshot file keeps the count
//! and the retained events before it, so a consumer that reconnects with
//! its last cursor sees nothing twice and misses nothing, as long as it is
//! no more than `event_retention` events behind.

use std::collections::VecDeque;
use std::sync::Arc;

use redial::Event;
use serde_json::Value;

/// The retained events, oldest first.
#[derive(Debug)]
pub struct EventLog {
    /// The cursor the next event gets.
    next: u64,
    /// `(cursor, the event's JSON object with its cursor)`.
    events: VecDeque<(u64, Arc<str>)>,
    retention: usize,
}

/// What a read of the stream returns.
#[derive(Debug, PartialEq)]
pub struct Page {
    /// JSON objects, in cursor order.
    pub events: Vec<Arc<str>>,
    /// The cursor to read after next.
    pub next: u64,
    /// Events after the asked cursor that are no longer retained.
    pub missed: u64,
}

impl EventLog {
    /// An empty log whose next event gets cursor `next`.
    pub fn new(next: u64, retention: usize) -> EventLog {
        EventLog {
            next: next.max(1),
            events: VecDeque::new(),
            retention: retention.max(1),
        }
    }

    /// The log a snapshot file saved: its next cursor and retained events
    /// (JSON objects carrying their `cursor`, in order).
    pub fn restore(next: u64, saved: Vec<String>, retention: usize) -> Result<EventLog, String> {
        #[derive(serde::Deserialize)]
        struct Cursor {
            cursor: u64,
        }
        let mut log = EventLog::new(next, retention);
        for event in saved {
            let Cursor { cursor } = serde_json::from_str(&event)
                .map_err(|e| format!("a saved event: {e}; expected a JSON object with a cursor"))?;
            let expected = log.events.back().map(|(c, _)| c.saturating_add(1));
            if cursor >= log.next || expected.is_some_and(|c| c != cursor) {
                return Err(format!("saved event cursor {cursor} out of order"));
            }
            log.events.push_back((cursor, Arc::from(event)));
        }
        // Cursors stay consecutive: `read` finds one by arithmetic.
        if log
            .events
            .back()
            .is_some_and(|(c, _)| c.saturating_add(1) != log.next)
        {
            return Err(format!("saved events end before cursor {}", log.next));
        }
        log.trim();
        Ok(log)
    }

    /// Numbers `event` and keeps it.
    pub fn push(&mut self, event: &Event) {
        let cursor = self.next;
        self.next = self.next.saturating_add(1);
        let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("cursor".into(), Value::from(cursor));
        }
        self.events
            .push_back((cursor, Arc::from(value.to_string())));
        self.trim();
    }

    fn trim(&mut self) {
        while self.events.len() > self.retention {
            self.events.pop_front();
        }
    }

    /// The cursor the next event gets.
    pub fn next_cursor(&self) -> u64 {
        self.next
    }

    /// Up to `limit` events after `after`.
    pub fn read(&self, after: u64, limit: usize) -> Page {
        let first_kept = self.events.front().map_or(self.next, |(c, _)| *c);
        let missed = first_kept.saturating_sub(after.saturating_add(1));
        // Cursors are consecutive: the index of `after + 1` is arithmetic.
        let skip = usize::try_from(after.saturating_add(1).saturating_sub(first_kept))
            .unwrap_or(usize::MAX);
        let mut next = after;
        let events: Vec<Arc<str>> = self
            .events
            .iter()
            .skip(skip)
            .take(limit)
            .map(|(c, e)| {
                next = *c;
                Arc::clone(e)
            })
            .collect();
        Page {
            events,
            next,
            missed,
        }
    }

    /// The `at` of each retained `triggered` event, oldest first: what
    /// the attempts chart is rebuilt from at start.
    pub fn triggered_at(&self) -> impl Iterator<Item = i64> + '_ {
        #[derive(serde::Deserialize)]
        struct Stamp {
            event: String,
            at: chrono::DateTime<chrono::Utc>,
        }
        self.events.iter().filter_map(|(_, text)| {
            serde_json::from_str::<Stamp>(text)
                .ok()
                .filter(|s| s.event == "triggered")
                .map(|s| s.at.timestamp())
        })
    }

    /// The retained events' JSON texts, for the snapshot file.
    pub fn saved(&self) -> Vec<Arc<str>> {
        self.events.iter().map(|(_, e)| Arc::clone(e)).collect()
    }
}

// Tests fail by panicking.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use redial::{CallId, EventKind};

    fn event(n: i64) -> Event {
        let at = chrono::DateTime::from_timestamp(1_772_755_200 + n, 0).unwrap_or_default();
        Event::new(at, "call-1-0".parse::<CallId>().ok(), EventKind::Completed)
    }

    fn cursors(page: &Page) -> Vec<u64> {
        page.events
            .iter()
            .map(|e| {
                serde_json::from_str::<Value>(e).unwrap()["cursor"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn reads_after_a_cursor_within_and_past_retention() {
        let mut log = EventLog::new(1, 5);
        assert_eq!(
            log.read(0, 10),
            Page {
                events: vec![],
                next: 0,
                missed: 0
            }
        );
        for n in 0..8 {
            log.push(&event(n));
        }
        // Cursors 1-8 were given; 4-8 are kept.
        assert_eq!(log.next_cursor(), 9);
        let all = log.read(0, 10);
        assert_eq!(
            (cursors(&all), all.next, all.missed),
            (vec![4, 5, 6, 7, 8], 8, 3)
        );
        let page = log.read(5, 2);
        assert_eq!((cursors(&page), page.next, page.missed), (vec![6, 7], 7, 0));
        let page = log.read(3, 10);
        assert_eq!((cursors(&page), page.missed), (vec![4, 5, 6, 7, 8], 0));
        // At or past the end: nothing, and the cursor stays.
        assert_eq!(
            log.read(8, 10),
            Page {
                events: vec![],
                next: 8,
                missed: 0
            }
        );
        assert_eq!(
            log.read(u64::MAX, 10),
            Page {
                events: vec![],
                next: u64::MAX,
                missed: 0
            }
        );
        let first: Value = serde_json::from_str(&all.events[0]).unwrap();
        assert_eq!(
            (first["event"].as_str(), first["call_id"].as_str()),
            (Some("completed"), Some("call-1-0"))
        );
    }

    #[test]
    fn restores_what_it_saved_and_refuses_a_gap() {
        let mut log = EventLog::new(1, 3);
        for n in 0..5 {
            log.push(&event(n));
        }
        let saved: Vec<String> = log.saved().iter().map(|e| e.to_string()).collect();
        let restored = EventLog::restore(log.next_cursor(), saved.clone(), 3).unwrap();
        assert_eq!(restored.read(0, 10), log.read(0, 10));
        // A smaller retention keeps the newest.
        let fewer = EventLog::restore(log.next_cursor(), saved.clone(), 2).unwrap();
        assert_eq!(cursors(&fewer.read(0, 10)), vec![4, 5]);
        // Out of order, a hole, or ending before the next cursor: refused.
        let mut swapped = saved.clone();
        swapped.swap(0, 1);
        assert!(EventLog::restore(6, swapped, 3).is_err());
        let holed = vec![saved[0].clone(), saved[2].clone()];
        assert!(EventLog::restore(6, holed, 3).is_err());
        assert!(EventLog::restore(7, saved.clone(), 3).is_err());
        assert!(EventLog::restore(6, vec!["{}".to_owned()], 3).is_err());
        // The next event continues the numbering.
        let mut restored = restored;
        restored.push(&event(9));
        assert_eq!(cursors(&restored.read(5, 10)), vec![6]);
    }
}
