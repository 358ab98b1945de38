//! Arbitrary bytes as a snapshot: a typed error or an engine that runs.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use redial::{Scheduler, Snapshot};

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = Snapshot::from_bytes(data) else { return };
    let Ok(mut engine) = Scheduler::restore(snapshot) else { return };
    let now: DateTime<Utc> = DateTime::from_timestamp(1_767_155_400, 0).unwrap_or_default();
    let _ = engine.dial(now, 8);
    let later = DateTime::from_timestamp(1_767_155_400 + 30 * 86_400, 0).unwrap_or_default();
    let _ = engine.handle_timeout(later);
    let _ = engine.dial(later, 8);
    while engine.poll_event().is_some() {}
    // What restored once restores again, to the same bytes.
    let bytes = engine.snapshot().to_bytes();
    let again = Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.snapshot().to_bytes(), bytes);
});
