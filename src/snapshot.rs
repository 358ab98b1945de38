//! Snapshots: the whole engine state in a versioned serde form and back.
//!
//! A snapshot holds the configuration, the clock, every live call, the
//! agents and batches, the idempotency keys and the undrained events.
//! Everything derived (heaps, lanes, in-flight counts) is rebuilt on
//! restore, so a restored engine continues exactly as the original would.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::call::CallRecord;
use crate::config::Config;
use crate::event::Event;
use crate::scheduler::{Agent, Batch, Idempotent, Scheduler};

/// The snapshot format this build writes. It reads this one and format 1,
/// which did not record the slots calls are stored in (see [`CallId`]).
///
/// [`CallId`]: crate::CallId
pub const SNAPSHOT_FORMAT: u32 = 2;

/// The oldest format this build reads.
const OLDEST_FORMAT: u32 = 1;

/// The engine's state, ready to serialize.
///
/// # Example
/// ```
/// use chrono::{TimeZone, Utc};
/// use redial::{Scheduler, Config, Snapshot};
/// let mut engine = Scheduler::new(Config::default()).unwrap();
/// let now = Utc.with_ymd_and_hms(2025, 12, 31, 4, 30, 0).unwrap();
/// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#).unwrap();
/// let bytes = engine.snapshot().to_bytes();
/// let mut restored = Scheduler::restore(Snapshot::from_bytes(&bytes).unwrap()).unwrap();
/// assert_eq!(restored.dial(now, 1).unwrap(), engine.dial(now, 1).unwrap());
/// assert!(Snapshot::from_bytes(b"{garbage").is_err());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) format: u32,
    pub(crate) tzdb: String,
    pub(crate) config: Config,
    pub(crate) now: Option<i64>,
    pub(crate) next_seq: u64,
    pub(crate) agents: Vec<Agent>,
    pub(crate) batches: Vec<Batch>,
    pub(crate) calls: Vec<CallRecord>,
    /// Empty slots, in the order the engine reuses them (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) free_slots: Option<Vec<u32>>,
    pub(crate) idempotency: Vec<(String, Idempotent)>,
    pub(crate) events: Vec<Event>,
}

/// Bytes or a snapshot that cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Not a snapshot: malformed JSON or missing fields.
    Corrupt(String),
    /// Written by another snapshot format.
    Format {
        /// The format in the bytes.
        found: u32,
        /// The format this build reads.
        expected: u32,
    },
    /// Well-formed but inconsistent (a call naming an unknown agent, say).
    Inconsistent(String),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Corrupt(e) => write!(f, "corrupt snapshot: {e}"),
            SnapshotError::Format { found, expected } => {
                write!(
                    f,
                    "snapshot format {found} is not supported: expected format {OLDEST_FORMAT} to {expected}"
                )
            }
            SnapshotError::Inconsistent(e) => write!(f, "inconsistent snapshot: {e}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl Snapshot {
    /// The format version recorded in the snapshot.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// The IANA time zone database version of the build that wrote it.
    pub fn tzdb_version(&self) -> &str {
        &self.tzdb
    }

    /// Live calls in the snapshot.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// Serializes to JSON bytes (deterministic: the same state gives the
    /// same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses bytes written by [`Snapshot::to_bytes`].
    ///
    /// # Errors
    /// [`SnapshotError::Format`] when the bytes carry another format
    /// version, [`SnapshotError::Corrupt`] when they are not a snapshot.
    pub fn from_bytes(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        #[derive(Deserialize)]
        struct Header {
            format: u32,
        }
        let wrong_format = |found| SnapshotError::Format {
            found,
            expected: SNAPSHOT_FORMAT,
        };
        // One parse for the common case; the header alone is read only to
        // explain a failure (another format may have another shape).
        let known = OLDEST_FORMAT..=SNAPSHOT_FORMAT;
        match serde_json::from_slice::<Snapshot>(bytes) {
            Ok(s) if known.contains(&s.format) => Ok(s),
            Ok(s) => Err(wrong_format(s.format)),
            Err(e) => match serde_json::from_slice::<Header>(bytes) {
                Ok(h) if !known.contains(&h.format) => Err(wrong_format(h.format)),
                _ => Err(SnapshotError::Corrupt(e.to_string())),
            },
        }
    }
}

impl Scheduler {
    /// The engine's whole state.
    pub fn snapshot(&self) -> Snapshot {
        let mut idempotency: Vec<(String, Idempotent)> = self
            .idempotency
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        idempotency.sort_by(|a, b| a.0.cmp(&b.0));
        Snapshot {
            format: SNAPSHOT_FORMAT,
            tzdb: chrono_tz::IANA_TZDB_VERSION.to_owned(),
            config: self.config.clone(),
            now: self.now,
            next_seq: self.next_seq,
            agents: self.agents.clone(),
            batches: self.batches.clone(),
            calls: self.live_call_records(),
            free_slots: Some(self.free_slots().to_vec()),
            idempotency,
            events: self.events.iter().cloned().collect(),
        }
    }

    /// An engine that continues exactly where the snapshot's left off.
    ///
    /// # Errors
    /// [`SnapshotError::Format`] for another format version,
    /// [`SnapshotError::Inconsistent`] for an invalid configuration or state.
    pub fn restore(snapshot: Snapshot) -> Result<Scheduler, SnapshotError> {
        if !(OLDEST_FORMAT..=SNAPSHOT_FORMAT).contains(&snapshot.format) {
            return Err(SnapshotError::Format {
                found: snapshot.format,
                expected: SNAPSHOT_FORMAT,
            });
        }
        Scheduler::from_parts(snapshot).map_err(SnapshotError::Inconsistent)
    }
}
