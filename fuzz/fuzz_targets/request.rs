//! Arbitrary bytes as a request body: never a panic; an accepted call is due
//! no earlier than now, with its metadata stored as the tree parser prints
//! it and reading back as itself; a rejection leaves only a `rejected` event.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use redial::{CallRequest, Config, EventKind, Scheduler};

fuzz_target!(|data: &[u8]| {
    let config = Config::default();
    let parsed = CallRequest::from_json(data, &config);
    let now: DateTime<Utc> = DateTime::from_timestamp(1_767_155_400, 0).unwrap_or_default();
    let mut engine = Scheduler::new(config).unwrap_or_else(|_| unreachable!());
    match engine.submit(now, data) {
        Ok(a) => {
            assert!(parsed.is_ok(), "the engine accepted what the parser refused");
            assert!(a.due >= now);
            assert_eq!(engine.live_calls(), 1);
            let calls = engine.dial(now, 1).unwrap_or_default();
            assert!(calls.len() <= 1);
            if let Some(c) = calls.first() {
                assert!(serde_json::from_str::<serde_json::Value>(&c.metadata).is_ok());
                // The stored metadata is what printing the parsed tree
                // gives, however it was rewritten.
                if let Ok(serde_json::Value::Object(body)) = serde_json::from_slice(data)
                    && let Some(m @ serde_json::Value::Object(_)) = body.get("metadata")
                {
                    assert_eq!(*c.metadata, serde_json::to_string(m).unwrap_or_default());
                }
                // Stored metadata reads back as itself: a journal's
                // replay checks it again.
                let again = redial::Metadata::parse(&c.metadata).ok();
                assert_eq!(again.as_deref(), Some(&*c.metadata));
            }
        }
        Err(r) => {
            assert!(matches!(r.status, 400 | 404 | 409));
            assert!(!r.message.is_empty());
            assert_eq!(engine.live_calls(), 0);
            let e = engine.poll_event().map(|e| e.kind);
            assert!(matches!(e, Some(EventKind::Rejected { .. })));
        }
    }
});
