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
