//! The server's files: the journal it appends every command to, and the
//! snapshot it replaces now and then; recovery reads both.
//!
//! In the data directory:
//! - `journal-P.bin`: the records from position P on (`redial::journal`'s
//!   format). Every start and every snapshot opens a new one; a torn tail
//!   (a record cut short by a crash) is truncated away at start.
//! - `snapshot.bin`: a line of JSON (the format, the event stream's next
//!   cursor and how many retained events follow), those events one JSON
//!   object per line, then the engine's snapshot. Replaced
//!   atomically: written to `snapshot.tmp`, `fsync`ed, renamed, the
//!   directory `fsync`ed. The journal files it covers are then deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redial::{Config, Scheduler, Snapshot};
use serde::{Deserialize, Serialize};

use super::events::EventLog;

const SNAPSHOT: &str = "snapshot.bin";
const SNAPSHOT_TMP: &str = "snapshot.tmp";

/// The snapshot file's first line.
#[derive(Serialize, Deserialize)]
struct Meta {
    format: u32,
    next_cursor: u64,
    /// Lines of retained events after this one.
    events: usize,
}

/// The open journal and where it lives.
pub struct Store {
    dir: PathBuf,
    journal: File,
    fsync: bool,
    /// Bytes written to journals since the server started.
    pub journal_bytes: u64,
    /// The thread writing a snapshot, if one is.
    writer: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// What recovery found.
pub struct Recovered {
    pub engine: Scheduler,
    pub events: EventLog,
    pub store: Store,
    /// Records replayed from the journal.
    pub replayed: u64,
}

impl Store {
    /// Recovers the engine and its event stream from `dir` (creating it
    /// when new: the engine then starts from `config`, or the default),
    /// and opens a new journal file at the recovered position.
    pub fn open(
        dir: &Path,
        config: Option<Config>,
        retention: usize,
        fsync: bool,
    ) -> Result<Recovered, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        fs::create_dir_all(dir).map_err(|e| io(&format!("creating {}", dir.display()), e))?;
        let (mut engine, mut events) = match fs::read(dir.join(SNAPSHOT)) {
            Ok(bytes) => {
                let (engine, events) = load_snapshot(&bytes, retention)?;
                if config.as_ref().is_some_and(|c| c != engine.config()) {
                    eprintln!(
                        "redial serve: the data directory keeps the engine configuration it was created with; --config's engine section differs and is not used"
                    );
                }
                (engine, events)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !journal_files(dir)?.is_empty() {
                    return Err(format!(
                        "{} has journal files but no {SNAPSHOT}: expected both (a new directory gets its snapshot first)",
                        dir.display()
                    ));
                }
                // A new directory: its first snapshot pins the engine
                // configuration, so a restart with another --config
                // replays the journal under the one it was written with.
                let engine = Scheduler::new(config.unwrap_or_default())
                    .map_err(|e| format!("the configuration: {e}"))?;
                let events = EventLog::new(1, retention);
                write_snapshot(dir, &meta(&events, 0), &[], &engine.snapshot())
                    .map_err(|e| io("writing the first snapshot", e))?;
                (engine, events)
            }
            Err(e) => return Err(io("reading the snapshot", e)),
        };
        let before = engine.position();
        for (start, path) in journal_files(dir)? {
            let bytes =
                fs::read(&path).map_err(|e| io(&format!("reading {}", path.display()), e))?;
            if bytes.is_empty() {
                continue;
            }
            if start > engine.position() {
                return Err(format!(
                    "{} starts at position {start}, after the recovered position {}: a snapshot or journal file is missing",
                    path.display(),
                    engine.position()
                ));
            }
            let replay = engine
                .replay_journal(&bytes, |event| events.push(&event))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if replay.torn {
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| {
                        f.set_len(replay.valid_len as u64)
                            .and_then(|()| f.sync_all())
                    })
                    .map_err(|e| io("truncating a torn journal tail", e))?;
            }
        }
        let replayed = engine.position().saturating_sub(before);
        let journal =
            open_journal(dir, engine.position()).map_err(|e| io("opening the journal", e))?;
        Ok(Recovered {
            engine,
            events,
            store: Store {
                dir: dir.to_owned(),
                journal,
                fsync,
                journal_bytes: 0,
                writer: None,
            },
            replayed,
        })
    }

    /// Appends `records` and makes them durable; returns how long the
    /// `fsync` took (`None` when fsync is off).
    pub fn commit(&mut self, records: &[u8]) -> std::io::Result<Option<Duration>> {
        if records.is_empty() {
            return Ok(None);
        }
        self.journal.write_all(records)?;
        self.journal_bytes = self.journal_bytes.saturating_add(records.len() as u64);
        if !self.fsync {
            return Ok(None);
        }
        let start = Instant::now();
        self.journal.sync_data()?;
        Ok(Some(start.elapsed()))
    }

    /// Waits for a snapshot being written, if one is.
    pub fn close(mut self) -> std::io::Result<()> {
        match self.writer.take() {
            Some(writer) => writer
                .join()
                .map_err(|_| std::io::Error::other("the snapshot writer panicked"))?,
            None => Ok(()),
        }
    }

    /// Starts replacing the snapshot with `engine`'s and the event
    /// stream's: the engine's state is copied here, and a new journal file
    /// begins at its position; a background thread writes the file and
    /// then deletes the journal files it covers, so the engine does not
    /// stall on serializing and `fsync`ing a large state. At most one
    /// snapshot is written at a time: `false` when one still is. Call it
    /// only with every journaled record committed.
    ///
    /// # Errors
    /// The previous snapshot's failure, or the new journal file's.
    pub fn snapshot(&mut self, engine: &Scheduler, events: &EventLog) -> std::io::Result<bool> {
        if let Some(writer) = self.writer.take() {
            if !writer.is_finished() {
                self.writer = Some(writer);
                return Ok(false);
            }
            writer
                .join()
                .map_err(|_| std::io::Error::other("the snapshot writer panicked"))??;
        }
        let snapshot = engine.snapshot();
        let saved = events.saved();
        let meta = meta(events, saved.len());
        let position = engine.position();
        self.journal = open_journal(&self.dir, position)?;
        let dir = self.dir.clone();
        self.writer = Some(std::thread::spawn(move || {
            write_snapshot(&dir, &meta, &saved, &snapshot)?;
            for (start, path) in journal_files(&dir).map_err(std::io::Error::other)? {
                if start < position {
                    fs::remove_file(path)?;
                }
            }
            Ok(())
        }));
        Ok(true)
    }
}

/// The snapshot file's first line, for `events` of which the last
/// `saved` are kept.
fn meta(events: &EventLog, saved: usize) -> Meta {
    Meta {
        format: 1,
        next_cursor: events.next_cursor(),
        events: saved,
    }
}

/// Writes the snapshot file: to a temporary file, `fsync`ed, renamed, the
/// directory `fsync`ed.
fn write_snapshot(
    dir: &Path,
    meta: &Meta,
    events: &[Arc<str>],
    snapshot: &Snapshot,
) -> std::io::Result<()> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let mut file = BufWriter::new(File::create(&tmp)?);
    serde_json::to_writer(&mut file, meta)?;
    file.write_all(b"\n")?;
    for event in events {
        file.write_all(event.as_bytes())?;
        file.write_all(b"\n")?;
    }
    file.write_all(&snapshot.to_bytes())?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    fs::rename(&tmp, dir.join(SNAPSHOT))?;
    File::open(dir)?.sync_all()
}

fn load_snapshot(bytes: &[u8], retention: usize) -> Result<(Scheduler, EventLog), String> {
    let mut lines = bytes.splitn(2, |b| *b == b'\n');
    let meta: Meta = serde_json::from_slice(lines.next().unwrap_or_default())
        .map_err(|e| format!("the snapshot file's header: {e}"))?;
    if meta.format != 1 {
        return Err(format!("snapshot file format {}: expected 1", meta.format));
    }
    let mut rest = lines.next().unwrap_or_default();
    let mut saved = Vec::with_capacity(meta.events.min(retention));
    for _ in 0..meta.events {
        let mut split = rest.splitn(2, |b| *b == b'\n');
        let line = split.next().unwrap_or_default();
        let event = std::str::from_utf8(line).map_err(|e| format!("a saved event: {e}"))?;
        saved.push(event.to_owned());
        rest = split
            .next()
            .ok_or("the snapshot file ends among its events")?;
    }
    let snapshot = Snapshot::from_bytes(rest).map_err(|e| format!("the snapshot: {e}"))?;
    let engine = Scheduler::restore(snapshot).map_err(|e| format!("the snapshot: {e}"))?;
    let events = EventLog::restore(meta.next_cursor, saved, retention)?;
    Ok((engine, events))
}

/// Journal files by their first position.
fn journal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, String> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("listing {}: {e}", dir.display()))?
            .path();
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

/// The journal file for the records from `position` on, created (and
/// the directory entry made durable) if new.
fn open_journal(dir: &Path, position: u64) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("journal-{position:020}.bin")))?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}
