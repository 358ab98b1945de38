//! The event queue: what the engine has to say, until the host drains it.
//!
//! It owns the events' order (the order they are pushed) and their memory:
//! a drained queue gives back the room a burst of undrained events grew it
//! to, so a host that drains after every input keeps a small warm ring.

use std::collections::VecDeque;

use crate::event::Event;

/// Room for events kept while the queue is empty (about 64 KiB).
const MAX_IDLE_EVENT_CAPACITY: usize = 1024;

/// Events waiting for the host, oldest first.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    events: VecDeque<Event>,
}

impl EventQueue {
    pub fn push(&mut self, event: Event) {
        self.events.push_back(event);
    }

    pub fn pop(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() {
            // Drained: start the ring over at its first (warm) slots, and
            // give back what a burst of undrained events grew it to.
            if self.events.capacity() > MAX_IDLE_EVENT_CAPACITY {
                self.events = VecDeque::new();
            } else {
                self.events.clear();
            }
        }
        event
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    pub fn from_events(events: Vec<Event>) -> EventQueue {
        EventQueue {
            events: events.into(),
        }
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.events.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::scheduler::Scheduler;
    use crate::time::instant;

    /// A burst of undrained events does not keep its memory once drained,
    /// and the order of events is untouched.
    #[test]
    fn drained_event_queue_gives_back_a_burst() {
        let mut e = Scheduler::new(Config::default()).unwrap();
        let now = instant(1_767_155_400);
        let mut ids = Vec::new();
        for n in 0..5_000 {
            let body = format!(r#"{{"to_number": "+9198765{n:05}", "agent_id": "a"}}"#);
            ids.push(e.submit(now, body.as_bytes()).unwrap().call);
        }
        assert!(e.events.capacity() > MAX_IDLE_EVENT_CAPACITY);
        let drained: Vec<_> = std::iter::from_fn(|| e.poll_event())
            .filter_map(|ev| ev.call)
            .collect();
        assert_eq!(drained, ids);
        assert!(e.events.capacity() <= MAX_IDLE_EVENT_CAPACITY);
        // Small queues keep their room between inputs.
        e.cancel(now, ids[0]).unwrap();
        assert_eq!(e.poll_event().and_then(|ev| ev.call), Some(ids[0]));
        assert!(e.poll_event().is_none());
        assert!(e.events.capacity() > 0);
    }
}
