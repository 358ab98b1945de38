//! Arbitrary bytes as a journal: records decode, or reading stops at a torn
//! tail or a typed error; never a panic. Whatever decodes re-encodes to the
//! same bytes, and replays into an engine (applying arbitrary commands)
//! without a panic, twice to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redial::journal::{self, Reader};
use redial::{Config, Scheduler};

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(data);
    let mut records = Vec::new();
    let mut failed = false;
    for r in reader.by_ref() {
        match r {
            Ok(record) => records.push(record),
            Err(_) => failed = true,
        }
    }
    let valid = reader.valid_len();
    assert!(valid <= data.len());
    // The valid prefix is exactly the records read, byte for byte.
    let mut again = Vec::new();
    for r in &records {
        journal::encode(r.position, &r.command, &mut again).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(&again[..], &data[..valid]);
    assert!(!(failed && reader.torn()));
    // Replay from the first record's position.
    let Some(first) = records.first() else { return };
    if first.position != 0 {
        return;
    }
    let Ok(mut a) = Scheduler::new(Config::default()) else { return };
    let Ok(mut b) = Scheduler::new(Config::default()) else { return };
    let ra = a.replay_journal(&data[..valid], |_| {});
    let rb = b.replay_journal(&data[..valid], |_| {});
    assert_eq!(ra, rb);
    assert_eq!(a.snapshot().to_bytes(), b.snapshot().to_bytes());
});
