//! Snapshots: the whole engine state in a versioned serde form and back.
//!
//! A snapshot holds facts: the configuration, the clock, every live call,
//! the agents and batches that are known (registered or paused, or named by
//! a live call), the idempotency keys and the undrained events. Everything
//! derived (heaps, lanes, in-flight and reference counts) is rebuilt on
//! restore (`restore`), so a restored engine continues exactly as the
//! original would. The engine's internal numbering of agents and batches
//! is not written: they are listed by name and calls refer to their place
//! in those lists, so two engines in the same state write the same bytes.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::CallRecord;
use crate::config::Config;
use crate::event::{CallId, CompactEvent, Event, EventKind};
use crate::index::BuildEngineIdHasher;
use crate::number::PhoneNumber;
use crate::scheduler::Scheduler;
use crate::scheduler::registry::NO_BATCH;

mod restore;

/// The snapshot format this build writes. It reads this one, format 2
/// (which had no calling policies: no zones, policies or lifetimes of
/// calls, no suppressions or attempt histories) and format 1 (which did not
/// record the slots calls are stored in, see [`CallId`]).
///
/// [`CallId`]: crate::CallId
pub const SNAPSHOT_FORMAT: u32 = 3;

/// The oldest format this build reads.
const OLDEST_FORMAT: u32 = 1;

/// The engine's state, ready to serialize.
///
/// # Example
/// ```
/// # use chrono::{DateTime, Utc};
/// use redial::{Config, Scheduler, Snapshot};
/// # let mut engine = Scheduler::new(Config::default())?;
/// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
/// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
/// let bytes = engine.snapshot().to_bytes();
/// let mut restored = Scheduler::restore(Snapshot::from_bytes(&bytes)?)?;
/// assert_eq!(restored.dial(now, 1)?, engine.dial(now, 1)?);
/// assert!(Snapshot::from_bytes(b"{garbage").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub(crate) format: u32,
    pub(crate) tzdb: String,
    pub(crate) config: Config,
    pub(crate) now: Option<i64>,
    pub(crate) next_seq: u64,
    /// Known agents in name order; calls name an agent by its place here.
    pub(crate) agents: Vec<AgentRecord>,
    /// Known batches in name order; calls name a batch by its place here.
    pub(crate) batches: Vec<BatchRecord>,
    pub(crate) calls: Vec<CallRecord>,
    /// Empty slots, in the order the engine reuses them (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) free_slots: Option<Vec<u32>>,
    pub(crate) idempotency: Vec<(String, IdempotencyRecord)>,
    pub(crate) events: Vec<EventRecord>,
    /// The version of the number data the calls' zones came from (format
    /// 3, with the `number-zones` feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) number_data: Option<String>,
    /// Suppressed numbers and when each suppression ends (format 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) suppressions: Vec<(String, Option<i64>)>,
    /// The attempts frequency caps still count, by number (format 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) histories: Vec<(String, Vec<i64>)>,
    /// Commands applied through [`Scheduler::apply`]: the journal position
    /// recovery replays from. Absent when 0, so an engine never fed
    /// commands writes the bytes it always wrote.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) journal_position: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An undrained event as a snapshot spells it (the shape snapshots have
/// always had, not the flat one [`Event`] serializes to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EventRecord {
    pub at: DateTime<Utc>,
    pub call: Option<CallId>,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<Arc<str>>,
}

impl From<&CompactEvent> for EventRecord {
    fn from(e: &CompactEvent) -> EventRecord {
        let Event {
            at,
            call,
            kind,
            agent_id,
            batch_id,
        } = Event::from(e.clone());
        EventRecord {
            at,
            call,
            kind,
            agent_id,
            batch_id,
        }
    }
}

impl From<EventRecord> for Event {
    fn from(r: EventRecord) -> Event {
        Event {
            at: r.at,
            call: r.call,
            kind: r.kind,
            agent_id: r.agent_id,
            batch_id: r.batch_id,
        }
    }
}

/// An agent as a snapshot spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AgentRecord {
    pub name: String,
    pub registered: bool,
    pub cap: Option<u32>,
}

/// A batch as a snapshot spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BatchRecord {
    pub name: String,
    pub paused: bool,
}

/// An idempotency key's entry as a snapshot spells it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct IdempotencyRecord {
    /// The sequence number of the call that carries the key.
    pub call: u64,
    pub request: Value,
    pub due: i64,
}

/// Bytes or a snapshot that cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    /// The journal position the snapshot includes: commands at positions
    /// before it are in the snapshot, so recovery replays from here
    /// ([`Scheduler::position`]).
    pub fn journal_position(&self) -> u64 {
        self.journal_position
    }

    /// The format version recorded in the snapshot.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// The IANA time zone database version of the build that wrote it.
    pub fn tzdb_version(&self) -> &str {
        &self.tzdb
    }

    /// The version of the number data (libphonenumber) the calls' zones
    /// came from, if the build that wrote it had it.
    pub fn number_data_version(&self) -> Option<&str> {
        self.number_data.as_deref()
    }

    /// Live calls in the snapshot.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// Serializes to JSON bytes (deterministic: the same state gives the
    /// same bytes).
    ///
    /// This cannot fail, by construction: serde_json fails only on a map
    /// whose keys are not strings or on a `Serialize` impl that returns an
    /// error, and a snapshot holds neither. Its maps are JSON objects
    /// with string keys (the configuration, metadata and idempotent
    /// requests, all `serde_json::Value`s built from JSON text), key lists
    /// are arrays of pairs, and every other field is a number, a string, a
    /// bool or a derived struct or enum of those; the hand-written impls
    /// (phone numbers, times of day, instants, call IDs) write strings and
    /// never fail. `tests/golden.rs` serializes a snapshot with every kind
    /// of record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let bytes = serde_json::to_vec(self);
        debug_assert!(bytes.is_ok(), "a snapshot always serializes");
        bytes.unwrap_or_default()
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

/// The number data's version, with the `number-zones` feature.
fn number_data_version() -> Option<String> {
    #[cfg(feature = "number-zones")]
    {
        Some(crate::zones::NUMBER_DATA_VERSION.to_owned())
    }
    #[cfg(not(feature = "number-zones"))]
    {
        None
    }
}

impl Scheduler {
    /// The engine's whole state. O(live calls).
    pub fn snapshot(&self) -> Snapshot {
        // The engine numbers agents and batches as it meets them; the
        // snapshot numbers them by their place in name order instead.
        let mut agent_at = HashMap::with_hasher(BuildEngineIdHasher::default());
        let mut agents = Vec::new();
        for (id, a) in self.registry.agents_by_name() {
            agent_at.insert(id, u32::try_from(agents.len()).unwrap_or(u32::MAX));
            agents.push(AgentRecord {
                name: a.name.to_string(),
                registered: a.registered,
                cap: a.cap,
            });
        }
        let mut batch_at = HashMap::with_hasher(BuildEngineIdHasher::default());
        let mut batches = Vec::new();
        for (id, b) in self.registry.batches_by_name() {
            batch_at.insert(id, u32::try_from(batches.len()).unwrap_or(u32::MAX));
            batches.push(BatchRecord {
                name: b.name.to_string(),
                paused: b.paused,
            });
        }
        let mut calls: Vec<CallRecord> = self
            .calls
            .iter()
            .map(|(slot, c)| {
                let member = self.registry.membership(c.lane);
                let agent = agent_at.get(&member.agent).copied().unwrap_or(u32::MAX);
                let batch = batch_at.get(&member.batch).copied().unwrap_or(NO_BATCH);
                let mut record = c.to_record(agent, batch);
                record.slot = Some(slot);
                if let Some(set) = self.calendar.set(c.rules)
                    && (set.zones.len() > 1 || !set.policies.is_empty())
                {
                    record.zones = set.zones.to_vec();
                    record.policies = set
                        .policies
                        .iter()
                        .filter_map(|p| self.config.policies.keys().nth(usize::from(*p)).cloned())
                        .collect();
                }
                record
            })
            .collect();
        calls.sort_unstable_by_key(|c| c.seq);
        let idempotency = self
            .calls
            .keys_sorted()
            .into_iter()
            .map(|(key, entry)| {
                (
                    key.to_owned(),
                    IdempotencyRecord {
                        call: entry.seq,
                        request: entry.request.clone(),
                        due: entry.due,
                    },
                )
            })
            .collect();
        Snapshot {
            format: SNAPSHOT_FORMAT,
            tzdb: chrono_tz::IANA_TZDB_VERSION.to_owned(),
            config: self.config.clone(),
            now: self.now,
            next_seq: self.calls.next_seq(),
            agents,
            batches,
            calls,
            free_slots: Some(self.calls.free_slots().to_vec()),
            idempotency,
            events: self.events.iter().map(EventRecord::from).collect(),
            number_data: number_data_version()
                .filter(|_| self.config.zones_from_number || !self.config.policies.is_empty()),
            suppressions: self
                .numbers
                .suppressions()
                .into_iter()
                .map(|(n, until)| (PhoneNumber::from_digits(n).to_string(), until))
                .collect(),
            histories: self
                .numbers
                .histories()
                .into_iter()
                .map(|(n, h)| (PhoneNumber::from_digits(n).to_string(), h))
                .collect(),
            journal_position: self.position,
        }
    }
}
