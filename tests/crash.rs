//! Crash test of `examples/durable_host.rs`: a stream of submits, dials,
//! reports and timeouts goes to the host, which is killed with SIGKILL at
//! random moments and restarted, `REDIAL_CRASH_KILLS` times (200 by
//! default; `REDIAL_CRASH_KILLS=2000 cargo test --test crash` for more).
//! Checks:
//! - every acknowledged command is durable: each start recovers at least
//!   past every command acknowledged before the kill;
//! - what was acknowledged is what the engine did: replaying the durable
//!   commands in a fresh engine gives the acknowledged answer at each
//!   acknowledged position (so every acknowledged submit is present, by
//!   call ID);
//! - no (call, attempt) is handed out twice over the host's whole life;
//! - the restarted host's snapshot equals the one a never-crashed engine
//!   builds from the same durable commands.
#![allow(clippy::disallowed_methods)]
#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::Rng;
use redial::{AttemptId, Command, Config, Outcome, Output, Scheduler};

/// The example's binary, built (or found fresh) with this test run's
/// features, so that `cargo test` (which builds examples with them) finds
/// nothing to do and a run of this test alone gets a current binary.
fn host_binary() -> PathBuf {
    let features: Vec<&str> = [
        (cfg!(feature = "number-zones"), "number-zones"),
        (cfg!(feature = "cli"), "cli"),
        (cfg!(feature = "delayqueue-peer"), "delayqueue-peer"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Process::new(cargo)
        .args([
            "build",
            "--quiet",
            "--example",
            "durable_host",
            "--features",
        ])
        .arg(features.join(","))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success());
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    profile.join("examples").join("durable_host")
}

struct Host {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Host {
    fn start(host: &std::path::Path, dir: &std::path::Path, every: u64) -> (Host, u64) {
        let mut child = Process::new(host)
            .arg(dir)
            .arg(every.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("durable_host builds with the tests (cargo test builds examples)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        let recovered = v["recovered"].as_u64().unwrap();
        (
            Host {
                child,
                stdin,
                lines,
            },
            recovered,
        )
    }
}

/// The answer the host prints for an output (as the example formats it).
fn answer(position: u64, output: &Output) -> serde_json::Value {
    let mut v = serde_json::json!({ "position": position });
    match output {
        Output::Submitted(Ok(a)) => v["call"] = a.call.to_string().into(),
        Output::Submitted(Err(r)) => v["status"] = r.status.into(),
        Output::SubmittedBatch(answers) => {
            v["calls"] = answers
                .iter()
                .map(|a| match a {
                    Ok(a) => serde_json::Value::from(a.call.to_string()),
                    Err(r) => r.status.into(),
                })
                .collect::<Vec<_>>()
                .into();
        }
        Output::Dialed(Ok(calls)) => {
            v["dispatched"] = calls
                .iter()
                .map(|d| d.attempt_id().to_string())
                .collect::<Vec<_>>()
                .into();
        }
        Output::Dialed(Err(_)) => v["dispatched"] = serde_json::Value::Null,
        Output::Done(r) => v["ok"] = r.is_ok().into(),
    }
    v
}

struct Gen {
    rng: Rng,
    now: DateTime<Utc>,
    dispatched: Vec<AttemptId>,
}

impl Gen {
    fn next(&mut self) -> Command {
        let r = &mut self.rng;
        self.now += TimeDelta::try_seconds(r.below(400) as i64).unwrap();
        let now = self.now;
        match r.below(10) {
            0..=3 => {
                let body = format!(
                    r#"{{"to_number": "+1212555{:04}", "agent_id": "a{}", "batch_id": "b{}", "number_of_retries": {}, "gap_between_retries": {}}}"#,
                    r.below(10_000),
                    r.below(3),
                    r.below(2),
                    r.below(3),
                    r.below(20)
                );
                Command::Submit {
                    now,
                    body: body.into_bytes(),
                }
            }
            4..=5 => Command::Dial {
                now,
                max: u32::try_from(1 + r.below(3)).unwrap(),
            },
            6..=7 if !self.dispatched.is_empty() => {
                let i = r.below(self.dispatched.len() as u64) as usize;
                Command::Report {
                    now,
                    attempt: self.dispatched.swap_remove(i),
                    outcome: [Outcome::NoAnswer, Outcome::Completed, Outcome::Busy]
                        [r.below(3) as usize],
                }
            }
            8 if r.chance(30) => Command::PauseBatch {
                now,
                batch: "b1".into(),
            },
            8 => Command::ResumeBatch {
                now,
                batch: "b1".into(),
            },
            _ => Command::HandleTimeout { now },
        }
    }
}

#[test]
fn killed_at_random_the_host_loses_nothing_it_acknowledged() {
    let kills: usize = std::env::var("REDIAL_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(200);
    let binary = host_binary();
    let dir = std::env::temp_dir().join(format!("redial-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut stream = Gen {
        rng: Rng(2026),
        now: "2026-03-07T12:00:00Z".parse().unwrap(),
        dispatched: Vec::new(),
    };
    let mut rng = Rng(99);
    // Every command sent, by the position it was given if it was durable.
    let mut durable: Vec<Command> = Vec::new();
    let mut acked: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    let mut handed_out: BTreeSet<String> = BTreeSet::new();
    let mut recovered_to = 0;
    // Kills that landed between the fsync and the answer (durable, not
    // acknowledged), and before the fsync (lost, not acknowledged).
    let (mut unanswered, mut lost) = (0, 0);
    for round in 0..=kills {
        let (mut host, recovered) = Host::start(&binary, &dir, 1 + rng.below(60));
        // Acknowledged means durable: nothing acknowledged is lost.
        let last_acked = acked.keys().next_back().map_or(0, |p| p + 1);
        assert!(
            recovered >= last_acked,
            "round {round}: recovered {recovered} < {last_acked}"
        );
        assert!(recovered as usize <= durable.len(), "round {round}");
        unanswered += usize::from(recovered > last_acked);
        lost += usize::from((recovered as usize) < durable.len());
        durable.truncate(recovered as usize);
        recovered_to = recovered;
        if round == kills {
            // The last start: compare its state with a never-crashed engine.
            writeln!(host.stdin, "#snapshot").unwrap();
            let snapshot = host.lines.recv_timeout(Duration::from_secs(30)).unwrap();
            let mut reference = Scheduler::new(Config::default()).unwrap();
            for (position, command) in durable.iter().enumerate() {
                let output = reference.apply(command);
                while reference.poll_event().is_some() {}
                if let Some(want) = acked.get(&(position as u64)) {
                    assert_eq!(
                        &answer(position as u64, &output),
                        want,
                        "position {position}"
                    );
                }
            }
            assert_eq!(snapshot.as_bytes(), reference.snapshot().to_bytes());
            host.child.kill().unwrap();
            host.child.wait().unwrap();
            break;
        }
        // A burst of commands, then a kill after a random short while.
        let burst = 1 + rng.below(40) as usize;
        let mut sent = Vec::new();
        for _ in 0..burst {
            let command = stream.next();
            let line = serde_json::to_string(&command).unwrap();
            if writeln!(host.stdin, "{line}").is_err() {
                break;
            }
            sent.push(command);
        }
        let _ = host.stdin.flush();
        // Often at once (the host is mid-way through the burst), else
        // within a few milliseconds.
        let wait = Duration::from_micros(if rng.chance(40) { 0 } else { rng.below(3_000) });
        let deadline = std::time::Instant::now() + wait;
        let mut answers = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match host.lines.recv_timeout(left) {
                Ok(line) => answers.push(line),
                Err(_) => break,
            }
        }
        host.child.kill().unwrap(); // SIGKILL
        host.child.wait().unwrap();
        // Answers printed before the kill landed may still be in the pipe.
        answers.extend(host.lines.try_iter());
        for (i, line) in answers.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let position = v["position"].as_u64().unwrap();
            assert_eq!(
                position,
                recovered + i as u64,
                "answers in order, none missing"
            );
            if let Some(ids) = v["dispatched"].as_array() {
                for id in ids {
                    let id = id.as_str().unwrap().to_owned();
                    assert!(handed_out.insert(id.clone()), "{id} handed out twice");
                    stream.dispatched.push(id.parse().unwrap());
                }
            }
            acked.insert(position, v);
        }
        // What may be durable: everything sent this round, in order.
        durable.extend(sent);
    }
    assert!(recovered_to > 0);
    // The kills hit every window (needs a few dozen kills).
    if kills >= 100 {
        assert!(unanswered > 0 && lost > 0, "{unanswered} {lost}");
    }
    eprintln!(
        "{kills} kills: {recovered_to} durable commands, {} answered, {unanswered} kills after an fsync before its answers, {lost} before an fsync",
        acked.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
