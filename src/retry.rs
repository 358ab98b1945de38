//! Retry policy: outcomes, gaps and attempt counting (semantics §3.4).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Largest gap between attempts, in minutes (one week).
pub const MAX_GAP_MINUTES: u32 = 10_080;
/// Largest `number_of_retries`.
pub const MAX_RETRIES: u8 = 10;
/// Most entries in a `gap_between_retries` array.
pub const MAX_GAPS: usize = 10;

/// What happened to one attempt, as the host reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Answered and finished: the call is done.
    Completed,
    /// Rang out.
    NoAnswer,
    /// Line busy.
    Busy,
    /// The attempt failed (network, carrier).
    Failed,
    /// Reached voicemail.
    Voicemail,
    /// The number does not exist: never retried.
    InvalidNumber,
    /// The callee must not be called: never retried.
    DoNotCall,
    /// No report within `attempt_timeout_minutes`; the engine reports it itself.
    Timeout,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Completed,
        Outcome::NoAnswer,
        Outcome::Busy,
        Outcome::Failed,
        Outcome::Voicemail,
        Outcome::InvalidNumber,
        Outcome::DoNotCall,
        Outcome::Timeout,
    ];

    /// The API's name, such as `no_answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::NoAnswer => "no_answer",
            Outcome::Busy => "busy",
            Outcome::Failed => "failed",
            Outcome::Voicemail => "voicemail",
            Outcome::InvalidNumber => "invalid_number",
            Outcome::DoNotCall => "do_not_call",
            Outcome::Timeout => "timeout",
        }
    }

    /// Whether any configuration may make this outcome retryable.
    pub fn can_retry(self) -> bool {
        !matches!(
            self,
            Outcome::Completed | Outcome::InvalidNumber | Outcome::DoNotCall
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outcome name that is not one of [`Outcome::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownOutcome(pub String);

impl fmt::Display for UnknownOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown outcome {:?}: expected one of completed, no_answer, busy, failed, voicemail, invalid_number, do_not_call, timeout",
            self.0
        )
    }
}

impl std::error::Error for UnknownOutcome {}

impl FromStr for Outcome {
    type Err = UnknownOutcome;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

/// Minutes to wait before each retry: one gap for all, or a list whose last
/// entry repeats.
///
/// # Example
/// ```
/// use redial::Gaps;
/// let gaps = Gaps::list(vec![30, 60]).unwrap();
/// assert_eq!(gaps.after_attempt(1), 30);
/// assert_eq!(gaps.after_attempt(2), 60);
/// assert_eq!(gaps.after_attempt(3), 60);
/// assert_eq!(Gaps::every(15).unwrap().after_attempt(9), 15);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Gaps {
    /// The same gap before every retry.
    Every(u16),
    /// `list[k - 1]` after attempt `k`; the last entry repeats.
    List(Box<[u16]>),
}

impl Gaps {
    /// One gap for every retry, `0..=10080` minutes.
    pub fn every(minutes: u32) -> Option<Gaps> {
        gap(minutes).map(Gaps::Every)
    }

    /// A list of `1..=10` gaps, each `0..=10080` minutes.
    pub fn list(minutes: Vec<u32>) -> Option<Gaps> {
        Gaps::list_of(minutes.into_iter())
    }

    /// [`Gaps::list`] of any list of minutes, collected straight into the
    /// list kept (a body's array is read this way, with no vector between).
    pub(crate) fn list_of(minutes: impl ExactSizeIterator<Item = u32>) -> Option<Gaps> {
        if !(1..=MAX_GAPS).contains(&minutes.len()) {
            return None;
        }
        minutes.map(gap).collect::<Option<_>>().map(Gaps::List)
    }

    /// The gap, in minutes, after attempt `attempt` (1-based) failed.
    pub fn after_attempt(&self, attempt: u32) -> u32 {
        match self {
            Gaps::Every(g) => u32::from(*g),
            Gaps::List(list) => Gaps::list_gap_after(list, attempt),
        }
    }

    /// [`Gaps::after_attempt`] for a list of gaps.
    pub(crate) fn list_gap_after(list: &[u16], attempt: u32) -> u32 {
        let index = usize::try_from(attempt.max(1) - 1).unwrap_or(usize::MAX);
        list.get(index)
            .or_else(|| list.last())
            .map_or(0, |g| u32::from(*g))
    }
}

/// A number or an array of numbers, read without serde's untagged-enum
/// buffering (snapshots hold one per call).
impl<'de> Deserialize<'de> for Gaps {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Gaps;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("minutes as an integer or an array of integers")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Gaps, E> {
                u16::try_from(v)
                    .map(Gaps::Every)
                    .map_err(|_| E::custom("gap out of range"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Gaps, E> {
                u16::try_from(v)
                    .map(Gaps::Every)
                    .map_err(|_| E::custom("gap out of range"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Gaps, A::Error> {
                let mut list = Vec::new();
                while let Some(g) = seq.next_element::<u16>()? {
                    list.push(g);
                }
                Ok(Gaps::List(list.into_boxed_slice()))
            }
        }
        d.deserialize_any(V)
    }
}

fn gap(minutes: u32) -> Option<u16> {
    if minutes <= MAX_GAP_MINUTES {
        u16::try_from(minutes).ok()
    } else {
        None
    }
}

/// Whether attempt `attempt` (1-based) may be followed by another when a call
/// allows `retries` retries: `R` retries mean `R + 1` attempts.
///
/// # Example
/// ```
/// assert!(redial::retry::has_next_attempt(3, 3));
/// assert!(!redial::retry::has_next_attempt(3, 4));
/// assert!(!redial::retry::has_next_attempt(0, 1));
/// ```
pub fn has_next_attempt(retries: u8, attempt: u32) -> bool {
    attempt <= u32::from(retries)
}
