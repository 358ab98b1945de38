//! A live call's record (private): compact in memory, explicit in snapshots.
//!
//! Millions of calls wait at once, so the in-memory [`Call`] is 64 bytes:
//! the number as an integer (E.164 is `+` and at most 15 digits, no leading
//! zero, so the digits round-trip exactly) sharing a word with the small
//! counters and flags, the retry gap in the bits the sequence number does
//! not use, optional instants as a value with a sentinel for none, the
//! window packed into 32 bits, the agent and batch left to the lane (which
//! names both), and the rarely present fields (metadata, idempotency key,
//! a list of gaps) behind one pointer.
//! Snapshots use [`CallRecord`], the same facts spelled out, so the file
//! format does not follow the memory layout.

use std::sync::Arc;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::number::PhoneNumber;
use crate::number::e164_digits;
use crate::queue::{LaneId, MAX_SEQ, ReadyKey};
use crate::request::Language;
use crate::retry::{Gaps, MAX_GAPS, MAX_RETRIES};
use crate::window::Window;

/// Where a live call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Not due yet.
    Waiting,
    /// Due, waiting for a line (or for its batch, or its agent).
    Ready,
    /// Handed out; its attempt's outcome is awaited.
    InFlight,
}

/// `waiting`, `ready` or `in_flight`, as the HTTP contract writes it.
impl std::fmt::Display for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallState::Waiting => "waiting",
            CallState::Ready => "ready",
            CallState::InFlight => "in_flight",
        })
    }
}

/// A bit field of a packed word: (lowest bit, width).
type Field = (u32, u32);

/// `Call::seq_gap`: the sequence number, at most [`MAX_SEQ`], and the gap
/// between attempts in minutes.
const SEQ: Field = (0, 48);
const GAP: Field = (48, 16);
/// `Call::packed`: the number's digits (below 10^15 < 2^50), the attempt
/// (at most 11) and retries (at most 10), the state and three flags.
const NUMBER: Field = (0, 50);
const ATTEMPT: Field = (50, 4);
const RETRIES: Field = (54, 4);
const STATE: Field = (58, 2);
const CARRY_OVER: Field = (60, 1);
const CANCEL_REQUESTED: Field = (61, 1);
const SUPPRESS_REQUESTED: Field = (62, 1);

const _: () = assert!(MAX_SEQ < 1 << 48);
const _: () = assert!(MAX_RETRIES < 15);

/// An optional instant's "none": engine instants lie within a few years
/// of [`crate::time::MIN_TIME`]..=[`crate::time::MAX_TIME`], far above it.
const NONE: i64 = i64::MIN;

fn get(word: u64, (shift, width): Field) -> u64 {
    word >> shift & ((1 << width) - 1)
}

fn put(word: &mut u64, (shift, width): Field, value: u64) {
    let mask = ((1 << width) - 1) << shift;
    *word = *word & !mask | value << shift & mask;
}

fn optional(at: i64) -> Option<i64> {
    (at != NONE).then_some(at)
}

/// Fields most calls do not have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    /// Shared with every dispatch of the call, so dialing copies no text.
    metadata: Option<Arc<str>>,
    idempotency_key: Option<Box<str>>,
    gap_list: Option<GapList>,
    /// The end of its lifetime: no attempt at or after it.
    expires: Option<i64>,
}

/// A list of gaps held in place: at most [`MAX_GAPS`] minutes fit in the
/// room a pointer to them took (the box of an [`Extra`] stays in the same
/// allocator size class), so a call with a list costs one allocation, not
/// two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct GapList {
    len: u8,
    minutes: [u16; MAX_GAPS],
}

impl GapList {
    /// `list` held in place; `None` for an empty list or one longer than
    /// [`MAX_GAPS`] (validation refuses both before a call is made).
    fn new(list: &[u16]) -> Option<GapList> {
        let mut minutes = [0; MAX_GAPS];
        minutes.get_mut(..list.len())?.copy_from_slice(list);
        Some(GapList {
            len: u8::try_from(list.len()).ok().filter(|n| *n > 0)?,
            minutes,
        })
    }

    fn as_slice(&self) -> &[u16] {
        self.minutes
            .get(..usize::from(self.len))
            .unwrap_or_default()
    }
}

/// A live call as the engine keeps it: 64 bytes, the size of a cache line.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// [`SEQ`] and [`GAP`].
    seq_gap: u64,
    pub due: i64,
    /// End of the bound window occurrence, or [`NONE`].
    occurrence_end: i64,
    /// The pending timer's instant, or [`NONE`].
    timer: i64,
    /// [`NUMBER`], [`ATTEMPT`], [`RETRIES`], [`STATE`] and the flags.
    packed: u64,
    /// Derived on restore: lanes are numbered in the order they are made.
    /// The lane names the call's agent and batch (the registry's lane
    /// table), so the call does not keep them too.
    pub lane: LaneId,
    /// Its zones and policies: a rule set of the engine's calendar.
    pub rules: u32,
    extra: Option<Box<Extra>>,
    window: u32,
    pub tz: Tz,
    pub priority: i8,
    pub language: Option<Language>,
}

/// A live call as a snapshot spells it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CallRecord {
    pub seq: u64,
    /// The slot the call is stored in, which its ID names (format 2; a
    /// format-1 snapshot has none, and its calls get fresh slots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
    pub to_number: Box<str>,
    pub agent: u32,
    pub batch: u32,
    pub language: Option<Language>,
    pub metadata: Option<Box<str>>,
    pub tz: Tz,
    pub window: Option<Window>,
    pub carry_over: bool,
    pub retries: u8,
    pub gaps: Gaps,
    pub priority: i8,
    pub idempotency_key: Option<Box<str>>,
    pub state: CallState,
    /// The pending or in-flight attempt (1-based).
    pub attempt: u32,
    pub due: i64,
    /// End of the window occurrence the call is bound to; `None` without a window.
    pub occurrence_end: Option<i64>,
    /// The pending timer's instant, if any.
    pub timer: Option<i64>,
    pub cancel_requested: bool,
    /// Whether a suppression waits for the in-flight attempt to end.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppress_requested: bool,
    /// Its zones, the primary first, when they are not just `tz`
    /// (format 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<Tz>,
    /// The names of its calling policies (format 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// The end of its lifetime (format 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A new call's facts, as admission validated them: [`Call::admitted`]
/// builds the call straight from these, with no [`CallRecord`] between
/// (whose number the record would spell out for the call to parse again,
/// and whose metadata it would copy twice).
pub(crate) struct NewCall<'a> {
    pub seq: u64,
    /// The number's digits ([`e164_digits`]).
    pub number: u64,
    pub language: Option<Language>,
    pub metadata: Option<Arc<str>>,
    pub idempotency_key: Option<Box<str>>,
    pub tz: Tz,
    pub window: Option<Window>,
    pub carry_over: bool,
    pub retries: u8,
    pub gaps: &'a Gaps,
    pub priority: i8,
    pub due: i64,
    pub occurrence_end: Option<i64>,
    pub expires: Option<i64>,
}

impl Call {
    /// A new call, waiting for its first attempt; its lane is filled in
    /// by the caller (from the registry).
    ///
    /// # Errors
    /// A message when the facts break a rule requests obey (number,
    /// retries).
    pub fn admitted(n: NewCall<'_>) -> Result<Call, String> {
        if n.seq > MAX_SEQ {
            return Err(format!("call {} has a sequence number out of range", n.seq));
        }
        if n.number == 0 || get(n.number, NUMBER) != n.number {
            return Err(format!("call {} has an invalid to_number", n.seq));
        }
        if n.retries > MAX_RETRIES {
            return Err(format!("call {} has too many retries", n.seq));
        }
        let (gap, gap_list) = match n.gaps {
            Gaps::Every(g) => (*g, None),
            Gaps::List(list) => (
                0,
                Some(GapList::new(list).ok_or_else(|| {
                    format!(
                        "call {} has {} gaps between retries; expected 1 to {MAX_GAPS}",
                        n.seq,
                        list.len()
                    )
                })?),
            ),
        };
        let extra = Extra {
            metadata: n.metadata,
            idempotency_key: n.idempotency_key,
            gap_list,
            expires: n.expires,
        };
        let (mut seq_gap, mut packed) = (0, 0);
        put(&mut seq_gap, SEQ, n.seq);
        put(&mut seq_gap, GAP, u64::from(gap));
        put(&mut packed, NUMBER, n.number);
        put(&mut packed, ATTEMPT, 1);
        put(&mut packed, RETRIES, u64::from(n.retries));
        put(&mut packed, CARRY_OVER, u64::from(n.carry_over));
        let mut call = Call {
            seq_gap,
            due: n.due,
            occurrence_end: NONE,
            timer: NONE,
            packed,
            lane: 0,
            rules: 0,
            extra: (extra != Extra::default()).then(|| Box::new(extra)),
            window: Window::pack(n.window),
            tz: n.tz,
            priority: n.priority,
            language: n.language,
        };
        call.set_state(CallState::Waiting);
        call.set_occurrence_end(n.occurrence_end);
        Ok(call)
    }

    /// The compact form of a record; `lane` is filled in by the engine.
    ///
    /// # Errors
    /// A message when the record breaks a rule requests obey (number,
    /// retries, attempt).
    pub fn from_record(r: CallRecord) -> Result<Call, String> {
        let number = e164_digits(&r.to_number)
            .ok_or_else(|| format!("call {} has an invalid to_number", r.seq))?;
        let attempt = u8::try_from(r.attempt)
            .ok()
            .filter(|a| *a >= 1 && *a <= r.retries.saturating_add(1))
            .ok_or_else(|| format!("call {} has attempt {} out of range", r.seq, r.attempt))?;
        if r.cancel_requested && r.suppress_requested {
            return Err(format!(
                "call {} has both a cancel and a suppression pending",
                r.seq
            ));
        }
        let mut call = Call::admitted(NewCall {
            seq: r.seq,
            number,
            language: r.language,
            metadata: r.metadata.map(Arc::from),
            idempotency_key: r.idempotency_key,
            tz: r.tz,
            window: r.window,
            carry_over: r.carry_over,
            retries: r.retries,
            gaps: &r.gaps,
            priority: r.priority,
            due: r.due,
            occurrence_end: r.occurrence_end,
            expires: r.expires,
        })?;
        put(&mut call.packed, ATTEMPT, u64::from(attempt));
        call.set_state(r.state);
        put(
            &mut call.packed,
            CANCEL_REQUESTED,
            u64::from(r.cancel_requested),
        );
        put(
            &mut call.packed,
            SUPPRESS_REQUESTED,
            u64::from(r.suppress_requested),
        );
        call.set_timer_at(r.timer);
        Ok(call)
    }

    /// The record a snapshot writes, naming the call's agent and batch by
    /// their numbers in the snapshot's lists.
    pub fn to_record(&self, agent: u32, batch: u32) -> CallRecord {
        let extra = self.extra.as_deref();
        CallRecord {
            seq: self.seq(),
            slot: None,
            to_number: self.to_number().as_str().into(),
            agent,
            batch,
            language: self.language,
            metadata: extra.and_then(|e| e.metadata.as_deref()).map(Into::into),
            tz: self.tz,
            window: self.window(),
            carry_over: self.carry_over(),
            retries: self.retries(),
            gaps: match extra.and_then(|e| e.gap_list) {
                Some(list) => Gaps::List(list.as_slice().into()),
                None => Gaps::Every(self.gap()),
            },
            priority: self.priority,
            idempotency_key: extra.and_then(|e| e.idempotency_key.clone()),
            state: self.state(),
            attempt: self.attempt(),
            due: self.due,
            occurrence_end: self.occurrence_end(),
            timer: self.timer(),
            cancel_requested: self.cancel_requested(),
            suppress_requested: self.suppress_requested(),
            zones: Vec::new(),
            policies: Vec::new(),
            expires: self.expires(),
        }
    }

    pub fn ready_key(&self) -> ReadyKey {
        ReadyKey {
            priority: self.priority,
            due: self.due,
            seq: self.seq(),
        }
    }

    /// The sequence number: the call's place in acceptance order.
    pub fn seq(&self) -> u64 {
        get(self.seq_gap, SEQ)
    }

    pub fn state(&self) -> CallState {
        match get(self.packed, STATE) {
            0 => CallState::Waiting,
            1 => CallState::Ready,
            _ => CallState::InFlight,
        }
    }

    pub fn set_state(&mut self, state: CallState) {
        let bits = match state {
            CallState::Waiting => 0,
            CallState::Ready => 1,
            CallState::InFlight => 2,
        };
        put(&mut self.packed, STATE, bits);
    }

    /// How many retries the call may make after its first attempt.
    pub fn retries(&self) -> u8 {
        u8::try_from(get(self.packed, RETRIES)).unwrap_or(MAX_RETRIES)
    }

    fn gap(&self) -> u16 {
        u16::try_from(get(self.seq_gap, GAP)).unwrap_or(u16::MAX)
    }

    /// The number's digits (E.164 without the `+`).
    pub fn number(&self) -> u64 {
        get(self.packed, NUMBER)
    }

    /// The number in E.164 form.
    pub fn to_number(&self) -> PhoneNumber {
        PhoneNumber::from_digits(self.number())
    }

    pub fn metadata(&self) -> Option<&Arc<str>> {
        self.extra.as_deref().and_then(|e| e.metadata.as_ref())
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        self.extra
            .as_deref()
            .and_then(|e| e.idempotency_key.as_deref())
    }

    /// Minutes to wait after attempt `attempt` fails.
    pub fn gap_after(&self, attempt: u32) -> u32 {
        match self.extra.as_deref().and_then(|e| e.gap_list.as_ref()) {
            Some(list) => Gaps::list_gap_after(list.as_slice(), attempt),
            None => u32::from(self.gap()),
        }
    }

    pub fn window(&self) -> Option<Window> {
        Window::unpack(self.window)
    }

    /// The pending or in-flight attempt (1-based, at most 11).
    pub fn attempt(&self) -> u32 {
        // Four bits: the conversion cannot fail.
        u32::try_from(get(self.packed, ATTEMPT)).unwrap_or(0)
    }

    /// The last attempt handed out (the one in flight, or the one before
    /// the pending one); `None` before the first dial.
    pub fn current_attempt(&self) -> Option<u32> {
        match self.state() {
            CallState::InFlight => Some(self.attempt()),
            CallState::Waiting | CallState::Ready => {
                self.attempt().checked_sub(1).filter(|a| *a > 0)
            }
        }
    }

    pub fn next_attempt(&mut self) {
        let next = get(self.packed, ATTEMPT).saturating_add(1);
        debug_assert!(
            next <= u64::from(MAX_RETRIES) + 1,
            "attempt past the retries"
        );
        put(&mut self.packed, ATTEMPT, next);
    }

    pub fn carry_over(&self) -> bool {
        get(self.packed, CARRY_OVER) != 0
    }

    pub fn cancel_requested(&self) -> bool {
        get(self.packed, CANCEL_REQUESTED) != 0
    }

    /// Asks for the in-flight attempt's end to cancel the call, unless a
    /// suppression asked first (the first decides).
    pub fn request_cancel(&mut self) {
        if !self.suppress_requested() {
            put(&mut self.packed, CANCEL_REQUESTED, 1);
        }
    }

    pub fn suppress_requested(&self) -> bool {
        get(self.packed, SUPPRESS_REQUESTED) != 0
    }

    /// Asks for the in-flight attempt's end to end the call `suppressed`,
    /// unless a cancel asked first.
    pub fn request_suppress(&mut self) {
        if !self.cancel_requested() {
            put(&mut self.packed, SUPPRESS_REQUESTED, 1);
        }
    }

    /// The end of the call's lifetime, if it has one.
    pub fn expires(&self) -> Option<i64> {
        self.extra.as_deref().and_then(|e| e.expires)
    }

    pub fn occurrence_end(&self) -> Option<i64> {
        optional(self.occurrence_end)
    }

    pub fn set_occurrence_end(&mut self, end: Option<i64>) {
        debug_assert!(end != Some(NONE), "an instant out of the engine's range");
        self.occurrence_end = end.unwrap_or(NONE);
    }

    /// The pending timer's instant, if any.
    pub fn timer(&self) -> Option<i64> {
        optional(self.timer)
    }

    pub fn set_timer_at(&mut self, at: Option<i64>) {
        debug_assert!(at != Some(NONE), "an instant out of the engine's range");
        self.timer = at.unwrap_or(NONE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> CallRecord {
        CallRecord {
            seq: 7,
            slot: None,
            to_number: "+919876543210".into(),
            agent: 1,
            batch: 2,
            language: Some(Language::Hi),
            metadata: Some(r#"{"a":1}"#.into()),
            tz: chrono_tz::Asia::Kolkata,
            window: Window::new(crate::TimeOfDay::new(21, 0), crate::TimeOfDay::new(6, 0)).ok(),
            carry_over: true,
            retries: 3,
            gaps: Gaps::List(vec![5, 10].into()),
            priority: -4,
            idempotency_key: Some("k".into()),
            state: CallState::InFlight,
            attempt: 2,
            due: -5,
            occurrence_end: Some(0),
            timer: None,
            cancel_requested: true,
            suppress_requested: false,
            zones: Vec::new(),
            policies: Vec::new(),
            expires: Some(99),
        }
    }

    #[test]
    fn numbers_print_as_given() {
        for number in [
            "+12",
            "+919876543210",
            "+100000000000000",
            "+999999999999999",
        ] {
            let r = CallRecord {
                to_number: number.into(),
                ..record()
            };
            assert_eq!(Call::from_record(r).unwrap().to_number(), number);
        }
    }

    #[test]
    fn compact_record_is_small() {
        assert_eq!(size_of::<Call>(), 64);
        assert_eq!(size_of::<Option<Call>>(), 64);
        // The gap list held in place keeps the rare fields' box at 72
        // bytes: glibc's 80-byte chunk, as the 64 bytes with a pointer to
        // a separate list took.
        assert_eq!(size_of::<Extra>(), 72);
    }

    /// Every list of 1 to 10 gaps is held as given (the last repeats);
    /// a record with none or more than ten is refused by name, not cut.
    #[test]
    fn gap_lists_are_held_in_place() {
        for n in 1..=MAX_GAPS {
            let list: Vec<u16> = (1..=n).map(|g| u16::try_from(g * 7).unwrap()).collect();
            let r = CallRecord {
                gaps: Gaps::List(list.clone().into()),
                ..record()
            };
            let call = Call::from_record(r.clone()).unwrap();
            for attempt in 1..=12 {
                let k = (attempt as usize).min(n);
                assert_eq!(call.gap_after(attempt), u32::from(list[k - 1]));
            }
            assert_eq!(call.to_record(r.agent, r.batch), r);
        }
        for n in [0, MAX_GAPS + 1, 300] {
            let r = CallRecord {
                gaps: Gaps::List(vec![5; n].into()),
                ..record()
            };
            assert_eq!(
                Call::from_record(r).unwrap_err(),
                format!("call 7 has {n} gaps between retries; expected 1 to 10")
            );
        }
    }

    #[test]
    fn records_round_trip() {
        let r = record();
        assert_eq!(
            Call::from_record(r.clone())
                .unwrap()
                .to_record(r.agent, r.batch),
            r
        );
        let plain = CallRecord {
            language: None,
            metadata: None,
            window: None,
            carry_over: false,
            gaps: Gaps::Every(30),
            idempotency_key: None,
            attempt: 1,
            occurrence_end: None,
            timer: Some(crate::time::MIN_TIME),
            cancel_requested: false,
            expires: None,
            to_number: "+123456789012345".into(),
            ..r
        };
        let call = Call::from_record(plain.clone()).unwrap();
        assert!(call.extra.is_none());
        assert_eq!(call.gap_after(9), 30);
        assert_eq!(call.to_record(plain.agent, plain.batch), plain);
    }

    #[test]
    fn records_that_break_request_rules_are_refused() {
        for number in ["919876543210", "+0123", "+1", "+1234567890123456", "+12a4"] {
            let r = CallRecord {
                to_number: number.into(),
                ..record()
            };
            assert!(Call::from_record(r).is_err(), "{number}");
        }
        for (retries, attempt) in [(11, 1), (3, 0), (3, 5), (10, 300)] {
            let r = CallRecord {
                retries,
                attempt,
                ..record()
            };
            assert!(Call::from_record(r).is_err(), "{retries} {attempt}");
        }
    }
}
