//! Snapshot to a file and restore: a host that stops (a deploy, a crash
//! after its last snapshot) picks up exactly where it left off, with the
//! same call IDs and the same future.
//!
//! `cargo run --example snapshot_file [PATH]` (default: a file in the
//! system's temporary directory).

use chrono::{DateTime, TimeDelta, Utc};
use redial::{Config, Outcome, Scheduler, Snapshot};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("redial-example.snapshot.json"));
    let now: DateTime<Utc> = "2026-01-14T04:30:00Z".parse()?;
    let mut engine = Scheduler::new(Config::default())?;
    engine.register_agent(now, "support", Some(1))?;
    for n in ["+919876543210", "+919876543211", "+919876543212"] {
        let body = format!(
            r#"{{"to_number": "{n}", "agent_id": "support", "batch_id": "renewals",
                "number_of_retries": 1, "gap_between_retries": 15,
                "metadata": {{"plan": "gold"}}}}"#
        );
        engine.submit(now, body.as_bytes())?;
    }
    let first = engine.dial(now, 3)?.remove(0); // the agent's cap is 1
    engine.pause_batch(now, "renewals")?;

    // Stop: write the whole state.
    let bytes = engine.snapshot().to_bytes();
    std::fs::write(&path, &bytes)?;
    println!("wrote {} bytes to {}", bytes.len(), path.display());

    // Start again: read it back.
    let read = std::fs::read(&path)?;
    let snapshot = Snapshot::from_bytes(&read)?;
    println!(
        "snapshot format {}, tzdb {}, {} live calls",
        snapshot.format(),
        snapshot.tzdb_version(),
        snapshot.live_calls()
    );
    let mut restored = Scheduler::restore(snapshot)?;
    assert_eq!(restored.snapshot().to_bytes(), bytes, "the same state");

    // Both engines go on the same way; the dispatch's attempt ID from
    // before the stop still names the call.
    let later = now + TimeDelta::try_minutes(5).ok_or("range")?;
    for e in [&mut engine, &mut restored] {
        e.report(later, &first, Outcome::NoAnswer)?;
        e.resume_batch(later, "renewals")?;
    }
    let a: Vec<_> = engine.dial(later, 3)?;
    let b: Vec<_> = restored.dial(later, 3)?;
    assert_eq!(a, b);
    let drained = |e: &mut Scheduler| std::iter::from_fn(|| e.poll_event()).collect::<Vec<_>>();
    assert_eq!(drained(&mut engine), drained(&mut restored));
    for d in &b {
        println!(
            "after the restart: dial {} (attempt {}) for {}",
            d.to_number, d.attempt, d.call
        );
    }
    std::fs::remove_file(&path)?;
    Ok(())
}
