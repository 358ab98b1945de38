//! Call and attempt IDs: what the engine hands out and the host names
//! calls and attempts by.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A call's ID, `call-n-s`: `n` is its sequence number (the `n`th
/// accepted call) and `s` the slot the engine stores it in, so naming a
/// call costs the engine no lookup. IDs are unique within an engine and
/// deterministic; a snapshot keeps every call in its slot, so IDs stay
/// valid across a restart.
///
/// The bare form `call-n` (the IDs of format-1 snapshots' engines) is
/// accepted too: the engine then finds the call by its number, through an
/// index it builds the first time a bare ID is used and keeps from then on.
/// An ID whose slot does not hold call `n` names no call.
///
/// IDs compare, hash and order by `n` alone, which no two calls of an
/// engine share: `call-42-7` and `call-42` are equal, so either finds the
/// other as a `HashMap` key (what a host that mixes the two forms wants);
/// the slot is a lookup hint, not part of the identity.
///
/// # Example
/// ```
/// let id: redial::CallId = "call-42-7".parse().unwrap();
/// assert_eq!(id.to_string(), "call-42-7");
/// assert_eq!(id.sequence(), 42);
/// let bare: redial::CallId = "call-42".parse().unwrap();
/// assert_eq!((bare, bare.to_string()), (id, "call-42".to_owned()));
/// for bad in ["call-x", "call-042-7", "call-42-07", "call-42-", "call-42-7-1"] {
///     assert!(bad.parse::<redial::CallId>().is_err(), "{bad}");
/// }
/// ```
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CallId {
    seq: u64,
    /// The call's slot; `NO_SLOT` for a bare ID.
    slot: u32,
}

/// A bare ID's slot. No call is ever stored there: an engine refuses a
/// call rather than fill the last of 2^32 slots.
const NO_SLOT: u32 = u32::MAX;

impl CallId {
    /// The sequence number behind the ID: the call was the `n`th accepted
    /// (1-based).
    pub fn sequence(self) -> u64 {
        self.seq
    }

    /// The ID of call number `seq`, stored in `slot`.
    pub(crate) fn stored(seq: u64, slot: u32) -> CallId {
        CallId { seq, slot }
    }

    /// The slot field as stored (`u32::MAX` for a bare ID), for the
    /// journal: [`CallId::stored`] takes it back.
    pub(crate) fn raw_slot(self) -> u32 {
        self.slot
    }

    /// The slot the ID names, unless it is bare.
    pub(crate) fn slot(self) -> Option<u32> {
        (self.slot != NO_SLOT).then_some(self.slot)
    }
}

impl PartialEq for CallId {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for CallId {}

impl std::hash::Hash for CallId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.seq.hash(state);
    }
}

impl PartialOrd for CallId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CallId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.seq.cmp(&other.seq)
    }
}

/// Shows the whole ID, slot included: `CallId(call-42-7)`.
impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({self})")
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slot() {
            Some(slot) => write!(f, "call-{}-{slot}", self.seq),
            None => write!(f, "call-{}", self.seq),
        }
    }
}

/// Text that is not a [`CallId`] (or an [`AttemptId`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCallId(pub String);

impl fmt::Display for BadCallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid ID {:?}: expected call-N-S (a call) or call-N-S.K (attempt K)",
            self.0
        )
    }
}

impl std::error::Error for BadCallId {}

impl FromStr for CallId {
    type Err = BadCallId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Digits with no leading zero (but "0" itself, for a slot).
        fn number<T: FromStr>(text: &str, zero_ok: bool) -> Option<T> {
            let canonical = !text.starts_with('0') || (zero_ok && text == "0");
            (canonical && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        }
        let id = s.strip_prefix("call-").and_then(|rest| {
            let (seq, slot) = match rest.split_once('-') {
                Some((seq, slot)) => (seq, Some(slot)),
                None => (rest, None),
            };
            let seq = number::<u64>(seq, false)?;
            let slot = match slot {
                Some(text) => number::<u32>(text, true).filter(|s| *s != NO_SLOT)?,
                None => NO_SLOT,
            };
            Some(CallId { seq, slot })
        });
        id.ok_or_else(|| BadCallId(s.to_owned()))
    }
}

impl From<CallId> for String {
    fn from(id: CallId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for CallId {
    type Error = BadCallId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// One attempt of one call, as a report names it: the attempt a
/// [`Dispatch`](crate::Dispatch) handed out. A report that names its attempt
/// is refused if the call has moved on to another attempt, so a late or
/// redelivered report can never end the wrong one
/// ([`Scheduler::report`](crate::Scheduler::report)).
///
/// Written `call-n-s.k` (attempt `k` of call `call-n-s`), for hosts that
/// carry it through a carrier's webhook as text.
///
/// # Example
/// ```
/// use redial::{AttemptId, CallId};
/// let a: AttemptId = "call-42-7.2".parse()?;
/// assert_eq!((a.call, a.attempt), ("call-42-7".parse::<CallId>()?, 2));
/// assert_eq!(a.to_string(), "call-42-7.2");
/// assert!("call-42-7".parse::<AttemptId>().is_err());
/// assert!("call-42-7.0".parse::<AttemptId>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct AttemptId {
    /// The call.
    pub call: CallId,
    /// The attempt's number, 1-based.
    pub attempt: u32,
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.call, self.attempt)
    }
}

impl FromStr for AttemptId {
    type Err = BadCallId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCallId(s.to_owned());
        let (call, attempt) = s.rsplit_once('.').ok_or_else(bad)?;
        let canonical = !attempt.starts_with('0') && attempt.bytes().all(|b| b.is_ascii_digit());
        let attempt: u32 = attempt.parse().ok().filter(|_| canonical).ok_or_else(bad)?;
        Ok(AttemptId {
            call: call.parse().map_err(|_| bad())?,
            attempt,
        })
    }
}

impl From<AttemptId> for String {
    fn from(id: AttemptId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for AttemptId {
    type Error = BadCallId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
