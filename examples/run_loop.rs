//! The run loop of a host, against a fake dialer: submit a few calls, then
//! loop: dial what is due on the free lines, "place" each call (the fake
//! dialer answers some and not others, after a while), report outcomes
//! with the dispatch's attempt, forward the events, and sleep until the
//! engine's next timeout or the next report, whichever comes first.
//!
//! Deterministic: a fake clock and a seeded answer pattern, so the output
//! is the same on every run. `cargo run --example run_loop`

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use redial::{AttemptId, Config, EventKind, Outcome, Scheduler};

/// A dialer with a fixed number of lines that "places" a call and knows
/// when it will end and how.
struct FakeDialer {
    lines: usize,
    /// Calls on the line: when they end, which attempt, and how.
    on_line: BTreeMap<(DateTime<Utc>, AttemptId), Outcome>,
    seed: u64,
}

impl FakeDialer {
    fn free_lines(&self) -> usize {
        self.lines - self.on_line.len()
    }

    /// Places a call: a third are answered (two minutes of talk), the rest
    /// ring out after 40 seconds.
    fn place(&mut self, now: DateTime<Utc>, attempt: AttemptId) {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let (outcome, secs) = if self.seed >> 62 == 0 {
            (Outcome::Completed, 120)
        } else {
            (Outcome::NoAnswer, 40)
        };
        let ends = now + TimeDelta::try_seconds(secs).unwrap_or_default();
        self.on_line.insert((ends, attempt), outcome);
    }

    /// The calls that have ended by `now`.
    fn ended(&mut self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, AttemptId, Outcome)> {
        let mut done = Vec::new();
        while let Some(entry) = self.on_line.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, attempt), outcome) = entry.remove_entry();
            done.push((at, attempt, outcome));
        }
        done
    }

    fn next_end(&self) -> Option<DateTime<Utc>> {
        self.on_line.keys().next().map(|k| k.0)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut engine = Scheduler::new(Config::default())?;
    let mut now: DateTime<Utc> = "2026-01-14T04:30:00Z".parse()?; // 10:00 in Kolkata
    for i in 0..6 {
        let body = format!(
            r#"{{"to_number": "+91987654321{i}", "agent_id": "collections", "batch_id": "jan",
                "min_trigger_time": "09:00", "max_trigger_time": "18:00", "carry_over": true,
                "number_of_retries": 2, "gap_between_retries": [10, 30], "priority": {}}}"#,
            i % 2
        );
        engine.submit(now, body.as_bytes())?;
    }
    let mut dialer = FakeDialer {
        lines: 2,
        on_line: BTreeMap::new(),
        seed: 7,
    };
    let mut ends = BTreeMap::<&'static str, u32>::new();
    loop {
        // 1. Reports of calls that ended, naming their attempt.
        for (at, attempt, outcome) in dialer.ended(now) {
            engine.report(at, attempt, outcome)?;
        }
        // 2. Dial what is due on the free lines.
        for d in engine.dial(now, dialer.free_lines())? {
            dialer.place(now, d.attempt_id());
        }
        // 3. Forward the events: they are the calls' history.
        while let Some(event) = engine.poll_event() {
            let call = event.call.map(|c| c.to_string()).unwrap_or_default();
            println!("{} {call:<10} {}", event.at.format("%H:%M:%S"), event.kind);
            if event.kind.is_terminal() {
                *ends.entry(event.kind.name()).or_default() += 1;
            }
            if let EventKind::RetryScheduled { due, .. } = event.kind {
                println!("{:>19} retry due {}", "", due.format("%H:%M:%S"));
            }
        }
        // 4. Sleep until the engine or the dialer needs us.
        let wake = [engine.poll_timeout(), dialer.next_end()]
            .into_iter()
            .flatten()
            .min();
        match wake {
            Some(t) => {
                now = t;
                engine.handle_timeout(now)?;
            }
            None => break,
        }
    }
    println!("ended: {ends:?}; live calls: {}", engine.live_calls());
    assert_eq!(engine.live_calls(), 0);
    assert_eq!(ends.values().sum::<u32>(), 6);
    Ok(())
}
