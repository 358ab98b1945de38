//! A durable host: every command is journaled and `fsync`ed before it is
//! acknowledged, the state is snapshotted every N commands, and a restart
//! recovers from the latest snapshot and the journal after it. The crash
//! test (`tests/crash.rs`) kills it with SIGKILL at random moments.
//!
//! ```sh
//! cargo run --example durable_host -- DIR [SNAPSHOT_EVERY]
//! ```
//!
//! Protocol: one [`Command`] as JSON per line on stdin (serde's form, such
//! as `{"op":"dial","now":"2026-03-07T12:00:00Z","max":2}`). Each line is
//! answered on stdout, in order, once its record is durable:
//! `{"position":P,"call":"call-1-0"}` for an accepted submit,
//! `{"position":P,"status":400}` for a rejected one,
//! `{"position":P,"dispatched":["call-1-0.1"]}` for a dial and
//! `{"position":P,"ok":true}` (or `false`, refused) for anything else.
//! The line `#snapshot` prints the engine's snapshot; at start the host
//! prints `{"recovered":P}`, the position it recovered to.
//!
//! Group commit: the host applies every line it has already received,
//! then writes and `fsync`s their records once and answers them all; a
//! busy host shares one `fsync` among many commands.
//!
//! Files in DIR: `snapshot.json` (replaced atomically: written to a
//! temporary file, `fsync`ed, renamed, the directory `fsync`ed) and
//! `journal-P.bin`, the records from position P on. Every start opens a
//! new journal file after truncating a torn tail; files wholly before the
//! latest snapshot are deleted once it is durable.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use redial::{Command, Config, Output, Scheduler, Snapshot};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: durable_host DIR [SNAPSHOT_EVERY]")?,
    );
    let every: u64 = args.next().map_or(Ok(1000), |a| a.parse())?;
    fs::create_dir_all(&dir)?;
    let mut engine = recover(&dir)?;
    let mut journal = open_journal(&dir, engine.position())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, r#"{{"recovered":{}}}"#, engine.position())?;
    out.flush()?;

    let mut input = BufReader::new(std::io::stdin().lock());
    let mut records = Vec::new();
    let mut answers = String::new();
    let mut last_snapshot = engine.position();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim();
        if text == "#snapshot" {
            commit(&mut journal, &mut records, &mut answers, &mut out)?;
            out.write_all(&engine.snapshot().to_bytes())?;
            writeln!(out)?;
            out.flush()?;
            continue;
        }
        let command: Command = serde_json::from_str(text)?;
        let position = engine.position();
        let output = engine.apply_journaled(command, &mut records)?;
        while engine.poll_event().is_some() {}
        answers.push_str(&answer(position, &output));
        answers.push('\n');
        // Group commit: only once every line already received is applied.
        if input.buffer().is_empty() {
            commit(&mut journal, &mut records, &mut answers, &mut out)?;
            if engine.position() >= last_snapshot + every {
                snapshot(&dir, &engine)?;
                last_snapshot = engine.position();
                journal = open_journal(&dir, engine.position())?;
            }
        }
    }
    commit(&mut journal, &mut records, &mut answers, &mut out)?;
    Ok(())
}

/// Makes the records durable, then answers their commands.
fn commit(
    journal: &mut File,
    records: &mut Vec<u8>,
    answers: &mut String,
    out: &mut impl Write,
) -> Result<(), Error> {
    if records.is_empty() {
        return Ok(());
    }
    journal.write_all(records)?;
    journal.sync_data()?;
    records.clear();
    out.write_all(answers.as_bytes())?;
    out.flush()?;
    answers.clear();
    Ok(())
}

fn answer(position: u64, output: &Output) -> String {
    match output {
        Output::Submitted(Ok(a)) => format!(r#"{{"position":{position},"call":"{}"}}"#, a.call),
        Output::Submitted(Err(r)) => format!(r#"{{"position":{position},"status":{}}}"#, r.status),
        Output::SubmittedBatch(answers) => {
            let calls: Vec<String> = answers
                .iter()
                .map(|a| match a {
                    Ok(a) => format!("\"{}\"", a.call),
                    Err(r) => r.status.to_string(),
                })
                .collect();
            format!(r#"{{"position":{position},"calls":[{}]}}"#, calls.join(","))
        }
        Output::Dialed(Ok(calls)) => {
            let ids: Vec<String> = calls
                .iter()
                .map(|d| format!("\"{}\"", d.attempt_id()))
                .collect();
            format!(
                r#"{{"position":{position},"dispatched":[{}]}}"#,
                ids.join(",")
            )
        }
        Output::Dialed(Err(_)) => format!(r#"{{"position":{position},"dispatched":null}}"#),
        Output::Done(r) => format!(r#"{{"position":{position},"ok":{}}}"#, r.is_ok()),
    }
}

/// The latest snapshot (or a new engine), then every journal file's
/// records after it; torn tails are truncated away.
fn recover(dir: &Path) -> Result<Scheduler, Error> {
    let mut engine = match fs::read(dir.join("snapshot.json")) {
        Ok(bytes) => Scheduler::restore(Snapshot::from_bytes(&bytes)?)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Scheduler::new(Config::default())?,
        Err(e) => return Err(e.into()),
    };
    for (start, path) in journal_files(dir)? {
        let bytes = fs::read(&path)?;
        if bytes.is_empty() || start > engine.position() {
            // Empty, or wholly after a gap (cannot happen: files are
            // created at the position the engine had reached).
            continue;
        }
        let replay = engine.replay_journal(&bytes, |_| {})?;
        if replay.torn {
            OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(replay.valid_len as u64)?;
        }
    }
    Ok(engine)
}

/// Journal files by their first position.
fn journal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(start) = name
            .strip_prefix("journal-")
            .and_then(|n| n.strip_suffix(".bin"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            files.push((start, path));
        }
    }
    files.sort();
    Ok(files)
}

/// A new journal file for the records from `position` on.
fn open_journal(dir: &Path, position: u64) -> Result<File, Error> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("journal-{position:020}.bin")))?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

/// Replaces the snapshot atomically, then deletes the journal files it
/// makes unnecessary (all the current ones: the next file starts at its
/// position).
fn snapshot(dir: &Path, engine: &Scheduler) -> Result<(), Error> {
    let tmp = dir.join("snapshot.tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&engine.snapshot().to_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join("snapshot.json"))?;
    File::open(dir)?.sync_all()?;
    for (_, path) in journal_files(dir)? {
        fs::remove_file(path)?;
    }
    Ok(())
}
