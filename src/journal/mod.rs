//! The journal: every [`Command`] as a checksummed binary record, so that a
//! host can log each input before acting on it and recover after a crash
//! by restoring its latest snapshot and replaying the records after it.
//!
//! The crate does no I/O: [`encode`] appends a record to the host's buffer
//! (the host writes and `fsync`s it), [`Reader`] decodes records from the
//! host's bytes, and [`Scheduler::replay_journal`] applies them.
//! [`Scheduler::apply_journaled`] records then applies a [`Command`];
//! [`Journaled`] ([`Scheduler::journaled`]) does the same for the input
//! methods a run loop calls most, straight from their arguments.
//!
//! # Record format (version 1)
//!
//! | bytes | field |
//! |---|---|
//! | 4 | payload length `L`, u32 little-endian, at least 3 |
//! | 4 | CRC-32C of the 4 length bytes followed by the payload, u32 LE |
//! | `L` | payload: format version (1 byte, [`JOURNAL_FORMAT`]), the record's position (varint), the command (a tag byte, its `now`, its fields) |
//!
//! The position is [`Scheduler::position`] when the command was applied:
//! records of one journal have consecutive positions, and a snapshot
//! records the position it includes ([`Snapshot::journal_position`]), so
//! recovery skips what the snapshot holds and replays the rest. The
//! payload layout is in the `codec` module's source; instants are
//! seconds and nanoseconds, integers LEB128 varints.
//!
//! # Torn tails and corruption
//!
//! A crash can cut the last record short, or leave it half written.
//! Decoding stops cleanly there: [`Reader::valid_len`] is the length of the
//! whole records before it, and the host truncates its file to it. A record
//! that is cut short (fewer bytes than its header or its length says), or
//! whose checksum fails with nothing after it, or a tail of zero bytes (a
//! preallocated file) is such a tail, provided no whole record with a valid
//! checksum starts anywhere in it: a damaged length field mid-journal must
//! not pass for a torn tail and take the records after it along. Anything else that fails, a bad
//! checksum with records after it, a position out of sequence, a payload
//! that does not decode, is [`JournalError::Corrupt`] naming its offset:
//! never a panic, never silently skipped.
//!
//! # Inputs that change nothing
//!
//! Every command applied through [`Scheduler::apply_journaled`] is
//! recorded, refused ones included (they move the clock). A dial that
//! would find nothing to hand out is the exception a host can make:
//! [`Scheduler::is_idle_at`] says when a dial or `handle_timeout` at `now`
//! would change nothing, and then the host answers "no calls" without a
//! record (and, replicated, without a round of consensus). Such an input
//! is not counted in [`Scheduler::position`], since it was never applied.
//!
//! # Example
//! ```
//! # use chrono::{DateTime, Utc};
//! use redial::{Command, Config, Scheduler, journal};
//! let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
//! let mut engine = Scheduler::new(Config::default())?;
//! let mut log = Vec::new(); // the host's journal file
//! let body = br#"{"to_number": "+919876543210", "agent_id": "a"}"#.to_vec();
//! for command in [Command::Submit { now, body }, Command::Dial { now, max: 1 }] {
//!     engine.apply_journaled(command, &mut log)?;
//!     while engine.poll_event().is_some() {}
//! }
//! // A crash cuts the journal mid-record; a new engine replays it.
//! log.extend_from_slice(&[9, 0, 0]);
//! let mut recovered = Scheduler::new(Config::default())?;
//! let replay = recovered.replay_journal(&log, |_event| {})?;
//! assert_eq!((replay.applied, replay.valid_len, replay.torn), (2, log.len() - 3, true));
//! assert_eq!(recovered.snapshot().to_bytes(), engine.snapshot().to_bytes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Snapshot::journal_position`]: crate::Snapshot::journal_position

use std::fmt;

use crate::command::{Command, Output};
use crate::event::Event;
use crate::scheduler::Scheduler;

mod codec;
mod crc32c;
mod journaled;

pub use journaled::Journaled;

/// The record format this build writes and reads.
pub const JOURNAL_FORMAT: u8 = 1;

/// Bytes before a record's payload: its length and checksum.
const HEADER: usize = 8;

/// The smallest payload: a version, a position and a command tag.
const MIN_PAYLOAD: usize = 3;

/// A journal that cannot be read past some record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalError {
    /// The record at byte `offset` is damaged or out of place.
    Corrupt {
        /// Where the record starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A command too large for a record (its payload over 4 GiB).
    TooLarge {
        /// The payload's size.
        len: usize,
    },
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Corrupt { offset, reason } => write!(
                f,
                "journal record at byte {offset} is corrupt: {reason}; expected a whole record with a matching checksum"
            ),
            JournalError::TooLarge { len } => write!(
                f,
                "a {len}-byte command does not fit a journal record; expected at most 4 GiB"
            ),
        }
    }
}

impl std::error::Error for JournalError {}

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its position in the journal ([`Scheduler::position`] before it was
    /// applied).
    pub position: u64,
    /// The command.
    pub command: Command,
}

/// Appends the record of `command` at `position` to `out` and returns its
/// length in bytes.
///
/// # Errors
/// [`JournalError::TooLarge`] for a payload over 4 GiB; `out` is then left
/// as it was.
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// use redial::{Command, journal};
/// let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// let mut log = Vec::new();
/// let len = journal::encode(7, &Command::HandleTimeout { now }, &mut log)?;
/// assert_eq!(len, log.len());
/// let record = journal::Reader::new(&log).next().ok_or("a record")??;
/// assert_eq!((record.position, record.command), (7, Command::HandleTimeout { now }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(position: u64, command: &Command, out: &mut Vec<u8>) -> Result<usize, JournalError> {
    append(position, out, |w| codec::put_command(w, command))
}

/// Appends a record at `position` whose command `put` writes.
#[inline(always)]
fn append(
    position: u64,
    out: &mut Vec<u8>,
    put: impl FnOnce(&mut codec::Writer<'_>),
) -> Result<usize, JournalError> {
    let mut w = codec::Writer::record(out);
    w.u8(JOURNAL_FORMAT);
    w.varint(position);
    put(&mut w);
    let mut too_large = 0;
    w.seal(|payload| {
        let Ok(len) = u32::try_from(payload.len()) else {
            too_large = payload.len();
            return None;
        };
        let crc = record_crc(payload);
        let [l0, l1, l2, l3] = len.to_le_bytes();
        let [c0, c1, c2, c3] = crc.to_le_bytes();
        Some([l0, l1, l2, l3, c0, c1, c2, c3])
    })
    .ok_or(JournalError::TooLarge { len: too_large })
}

/// Decodes records from the start of a journal's bytes, in order.
///
/// Iteration ends at the end of the bytes or at a torn tail ([`torn`]
/// then says so); a corrupt record yields one `Err` and ends it.
/// [`valid_len`] is the length of the whole, valid records read so far.
///
/// [`torn`]: Reader::torn
/// [`valid_len`]: Reader::valid_len
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
    next_position: Option<u64>,
    torn: bool,
    done: bool,
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`, a journal from its first record.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            offset: 0,
            next_position: None,
            torn: false,
            done: false,
        }
    }

    /// Bytes of whole, valid records read so far: where the host truncates
    /// a journal with a torn tail.
    pub fn valid_len(&self) -> usize {
        self.offset
    }

    /// Whether reading stopped at a torn tail (bytes after
    /// [`Reader::valid_len`] that are not a whole record).
    pub fn torn(&self) -> bool {
        self.torn
    }

    fn corrupt(&mut self, reason: String) -> Option<Result<Record, JournalError>> {
        self.done = true;
        Some(Err(JournalError::Corrupt {
            offset: self.offset,
            reason,
        }))
    }

    fn tail(&mut self) -> Option<Result<Record, JournalError>> {
        self.done = true;
        self.torn = true;
        None
    }
}

impl Iterator for Reader<'_> {
    type Item = Result<Record, JournalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.bytes.get(self.offset..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let Some((len, crc, body)) = header(rest) else {
            return self.tail();
        };
        if len < MIN_PAYLOAD {
            // Zero bytes where a record should start: a preallocated or
            // never-written tail.
            if rest.iter().all(|b| *b == 0) {
                return self.tail();
            }
            return self.corrupt(format!("payload length {len}, below {MIN_PAYLOAD}"));
        }
        let Some(payload) = body.get(..len) else {
            // Cut short: a torn tail, unless the length itself is damaged
            // and whole records follow.
            if let Some(at) = whole_record_in(rest.get(1..).unwrap_or_default()) {
                return self.corrupt(format!(
                    "payload length {len} runs past the end, but a whole record starts {} bytes on",
                    at + 1
                ));
            }
            return self.tail();
        };
        let actual = record_crc(payload);
        if actual != crc {
            if body.len() == len && whole_record_in(rest.get(1..).unwrap_or_default()).is_none() {
                // The last record, half written when the host crashed.
                return self.tail();
            }
            return self.corrupt(format!(
                "checksum {actual:#010x}, the header says {crc:#010x}"
            ));
        }
        match decode_payload(payload) {
            Err(reason) => self.corrupt(reason),
            Ok(record) => {
                if let Some(want) = self.next_position
                    && record.position != want
                {
                    return self.corrupt(format!(
                        "position {}, expected {want} (the one after the previous record's)",
                        record.position
                    ));
                }
                self.next_position = Some(record.position.saturating_add(1));
                self.offset += HEADER + len;
                Some(Ok(record))
            }
        }
    }
}

/// A record's header at the front of `bytes` (the payload's length and
/// checksum) and the bytes after it; `None` when fewer than [`HEADER`]
/// bytes are left.
fn header(bytes: &[u8]) -> Option<(usize, u32, &[u8])> {
    let (head, body) = bytes.split_first_chunk::<HEADER>()?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *head;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    Some((len, u32::from_le_bytes([c0, c1, c2, c3]), body))
}

/// The checksum a record with this payload carries: over the payload's
/// length (4 bytes, little-endian), then the payload.
fn record_crc(payload: &[u8]) -> u32 {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    crc32c::extend(crc32c::checksum_u32(len), payload)
}

/// Bytes of checksums a torn-tail check may compute before it gives up and
/// calls the tail corrupt (an error the host looks at, never a silent
/// truncation).
const TAIL_CHECK_BUDGET: usize = 16 << 20;

/// Where, in bytes that look like a torn tail, a whole record with a valid
/// checksum starts, if one does: then they are not a torn last record but
/// a damaged one with records after it. A real torn tail is shorter than
/// one record, so the scan is short; past its budget it answers as if it
/// had found one.
fn whole_record_in(bytes: &[u8]) -> Option<usize> {
    let mut budget = TAIL_CHECK_BUDGET;
    for at in 0..bytes.len() {
        let (len, crc, body) = header(bytes.get(at..)?)?;
        let Some(payload) = body.get(..len).filter(|_| len >= MIN_PAYLOAD) else {
            continue;
        };
        if payload.first() != Some(&JOURNAL_FORMAT) {
            continue;
        }
        budget = budget.saturating_sub(len);
        if budget == 0 {
            return Some(at);
        }
        if record_crc(payload) == crc {
            return Some(at);
        }
    }
    None
}

fn decode_payload(payload: &[u8]) -> Result<Record, String> {
    let mut r = codec::Reader {
        bytes: payload,
        at: 0,
    };
    let version = r.u8()?;
    if version != JOURNAL_FORMAT {
        return Err(format!(
            "format version {version}; this build reads version {JOURNAL_FORMAT}"
        ));
    }
    let position = r.varint()?;
    let command = codec::get_command(payload.get(r.at..).unwrap_or_default())?;
    Ok(Record { position, command })
}

/// What [`Scheduler::replay_journal`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Records applied.
    pub applied: u64,
    /// Records skipped: the engine (its snapshot) already included them.
    pub skipped: u64,
    /// Bytes of whole, valid records: truncate the journal file here.
    pub valid_len: usize,
    /// Whether a torn tail followed them.
    pub torn: bool,
}

impl Scheduler {
    /// Journals `command` (appends its record at [`Scheduler::position`]
    /// to `out`), then applies it. Write and `fsync` the record before
    /// acting on the output to make "acknowledged" mean "durable".
    ///
    /// # Errors
    /// [`JournalError::TooLarge`]; the command is then neither journaled
    /// nor applied.
    ///
    /// # Example
    /// See the [module docs](crate::journal).
    pub fn apply_journaled(
        &mut self,
        command: Command,
        out: &mut Vec<u8>,
    ) -> Result<Output, JournalError> {
        encode(self.position(), &command, out)?;
        Ok(self.apply_owned(command))
    }

    /// Recovery: applies the journal's records from this engine's
    /// [`Scheduler::position`] on (skipping those a restored snapshot
    /// already holds), handing each command's events to `on_event` as a
    /// host that drains events after every input would.
    ///
    /// The whole journal is decoded and checked before anything is
    /// applied (the commands to apply are held meanwhile: memory in
    /// proportion to the journal's tail).
    ///
    /// # Errors
    /// [`JournalError::Corrupt`] for a damaged record (not a torn tail), or
    /// when the records start after this engine's position (a gap: the
    /// snapshot is older than the journal's first record). The engine is
    /// then unchanged.
    ///
    /// # Example
    /// See the [module docs](crate::journal).
    pub fn replay_journal(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(Event),
    ) -> Result<Replay, JournalError> {
        // Decode (and so check) the whole journal first: a corrupt record
        // anywhere leaves the engine as it was. Records the engine already
        // holds are not kept.
        let mut reader = Reader::new(bytes);
        let mut records = Vec::new();
        let mut skipped = 0;
        for (i, record) in reader.by_ref().enumerate() {
            let record = record?;
            if i == 0 && record.position > self.position() {
                return Err(JournalError::Corrupt {
                    offset: 0,
                    reason: format!(
                        "the journal starts at position {}, after the engine's {}",
                        record.position,
                        self.position()
                    ),
                });
            }
            if record.position < self.position() {
                skipped += 1;
            } else {
                records.push(record.command);
            }
        }
        let mut replay = Replay {
            applied: 0,
            skipped,
            valid_len: reader.valid_len(),
            torn: reader.torn(),
        };
        for command in records {
            self.apply_owned(command);
            replay.applied += 1;
            while let Some(event) = self.poll_event() {
                on_event(event);
            }
        }
        Ok(replay)
    }
}

#[cfg(test)]
mod tests;
