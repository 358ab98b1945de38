//! The binary payload of a journal record: a command's fields in a fixed
//! order, integers as LEB128 varints (signed ones zigzagged), strings and
//! byte strings length-prefixed, options and enums as one tag byte.
//!
//! Why not a serde format: the crate's only serde format is JSON, which is
//! several times larger and slower to parse than this; a binary serde
//! format (bincode, postcard) would be a new dependency whose byte layout
//! follows our type definitions, so renaming or reordering a field would
//! silently change the journal. Writing the layout out by hand keeps it
//! explicit, versioned by [`super::JOURNAL_FORMAT`] and tested against a
//! golden file.

use chrono::{DateTime, Utc};

use crate::command::Command;
use crate::event::{AttemptId, CallId};
use crate::request::{BatchCall, CallRequest, Language, Metadata, ScheduleAt};
use crate::retry::{Gaps, Outcome};
use crate::window::TimeOfDay;

use super::HEADER;

/// Writes a command's fields.
pub(super) fn put_command(w: &mut Writer<'_>, c: &Command) {
    match c {
        Command::Submit { now, body } => put_submit(w, *now, body),
        Command::SubmitRequest { now, request } => put_submit_request(w, *now, request),
        Command::SubmitBatch {
            now,
            template,
            calls,
        } => put_submit_batch(w, *now, template, calls),
        Command::Dial { now, max } => put_dial(w, *now, *max),
        Command::Report {
            now,
            attempt,
            outcome,
        } => put_report(w, *now, *attempt, *outcome),
        Command::ReportCurrent { now, call, outcome } => {
            w.u8(5);
            w.time(*now);
            w.call(*call);
            w.outcome(*outcome);
        }
        Command::Cancel { now, call } => {
            w.u8(6);
            w.time(*now);
            w.call(*call);
        }
        Command::PauseBatch { now, batch } => {
            w.u8(7);
            w.time(*now);
            w.str(batch);
        }
        Command::ResumeBatch { now, batch } => {
            w.u8(8);
            w.time(*now);
            w.str(batch);
        }
        Command::CancelBatch { now, batch } => {
            w.u8(9);
            w.time(*now);
            w.str(batch);
        }
        Command::RegisterAgent {
            now,
            agent,
            max_concurrent_calls,
        } => {
            w.u8(10);
            w.time(*now);
            w.str(agent);
            w.opt(max_concurrent_calls.as_ref(), |w, cap| {
                w.varint(u64::from(*cap))
            });
        }
        Command::Suppress {
            now,
            to_number,
            until,
        } => {
            w.u8(11);
            w.time(*now);
            w.str(to_number);
            w.opt(until.as_ref(), |w, t| w.time(*t));
        }
        Command::Unsuppress { now, to_number } => {
            w.u8(12);
            w.time(*now);
            w.str(to_number);
        }
        Command::HandleTimeout { now } => put_handle_timeout(w, *now),
    }
}

// The commands a journaling host sends most, written from their fields so
// that `Journaled` needs no `Command` (nor its box or output) to record
// them: the same bytes as `put_command`.

/// [`Command::Submit`]'s fields.
pub(super) fn put_submit(w: &mut Writer<'_>, now: DateTime<Utc>, body: &[u8]) {
    w.u8(1);
    w.time(now);
    w.bytes(body);
}

/// [`Command::SubmitRequest`]'s fields.
pub(super) fn put_submit_request(w: &mut Writer<'_>, now: DateTime<Utc>, request: &CallRequest) {
    w.u8(2);
    w.time(now);
    w.request(request);
}

/// [`Command::SubmitBatch`]'s fields: the template, the number of calls,
/// then each call's number, metadata and schedule.
pub(super) fn put_submit_batch(
    w: &mut Writer<'_>,
    now: DateTime<Utc>,
    template: &CallRequest,
    calls: &[BatchCall],
) {
    w.u8(14);
    w.time(now);
    w.request(template);
    w.varint(calls.len() as u64);
    for call in calls {
        w.str(&call.to_number);
        w.opt(call.metadata.as_ref(), |w, m| w.str(m.as_str()));
        w.opt(call.schedule_at.as_ref(), Writer::schedule);
    }
}

/// [`Command::Dial`]'s fields.
#[inline(always)]
pub(super) fn put_dial(w: &mut Writer<'_>, now: DateTime<Utc>, max: u32) {
    w.u8(3);
    w.time(now);
    w.varint(u64::from(max));
}

/// [`Command::Report`]'s fields.
#[inline(always)]
pub(super) fn put_report(
    w: &mut Writer<'_>,
    now: DateTime<Utc>,
    attempt: AttemptId,
    outcome: Outcome,
) {
    w.u8(4);
    w.time(now);
    w.call(attempt.call);
    w.varint(u64::from(attempt.attempt));
    w.outcome(outcome);
}

/// [`Command::HandleTimeout`]'s fields.
#[inline(always)]
pub(super) fn put_handle_timeout(w: &mut Writer<'_>, now: DateTime<Utc>) {
    w.u8(13);
    w.time(now);
}

/// Reads a command's fields; the whole of `bytes` must be used.
pub(super) fn get_command(bytes: &[u8]) -> Result<Command, String> {
    let mut r = Reader { bytes, at: 0 };
    let tag = r.u8()?;
    let now = r.time()?;
    let command = match tag {
        1 => Command::Submit {
            now,
            body: r.bytes()?.to_vec(),
        },
        2 => Command::SubmitRequest {
            now,
            request: Box::new(r.request()?),
        },
        3 => Command::Dial {
            now,
            max: r.int("max")?,
        },
        4 => {
            let call = r.call()?;
            let attempt = r.int("attempt")?;
            Command::Report {
                now,
                attempt: AttemptId { call, attempt },
                outcome: r.outcome()?,
            }
        }
        5 => Command::ReportCurrent {
            now,
            call: r.call()?,
            outcome: r.outcome()?,
        },
        6 => Command::Cancel {
            now,
            call: r.call()?,
        },
        7 => Command::PauseBatch {
            now,
            batch: r.string()?,
        },
        8 => Command::ResumeBatch {
            now,
            batch: r.string()?,
        },
        9 => Command::CancelBatch {
            now,
            batch: r.string()?,
        },
        10 => Command::RegisterAgent {
            now,
            agent: r.string()?,
            max_concurrent_calls: r.opt(|r| r.int("max_concurrent_calls"))?,
        },
        11 => Command::Suppress {
            now,
            to_number: r.string()?,
            until: r.opt(Reader::time)?,
        },
        12 => Command::Unsuppress {
            now,
            to_number: r.string()?,
        },
        13 => Command::HandleTimeout { now },
        14 => {
            let template = Box::new(r.request()?);
            let n: usize = r.int("calls")?;
            // Each call takes at least 3 bytes: a count beyond what is
            // left is corrupt, and must not size an allocation.
            if n > r.bytes.len().saturating_sub(r.at) / 3 {
                return Err(format!("{n} calls in the bytes left"));
            }
            let mut calls = Vec::with_capacity(n);
            for _ in 0..n {
                calls.push(BatchCall {
                    to_number: r.string()?,
                    metadata: r.opt(Reader::metadata)?,
                    schedule_at: r.opt(Reader::schedule)?,
                });
            }
            Command::SubmitBatch {
                now,
                template,
                calls,
            }
        }
        other => return Err(format!("unknown command tag {other}")),
    };
    if r.at != bytes.len() {
        return Err(format!(
            "{} bytes after the command's last field",
            bytes.len().saturating_sub(r.at)
        ));
    }
    Ok(command)
}

/// Bytes a [`Writer`] gathers before it copies them to its vector.
const STAGE: usize = 64;

/// Writes a record to the end of a vector through a small buffer on the
/// stack: a byte costs a store at an index the compiler keeps in a
/// register, not a vector's length and capacity bookkeeping (which, behind
/// a `&mut`, it must reload after every byte). The header's room is staged
/// first, so a record that fits the stage reaches the vector in one
/// fixed-size copy; a longer one spills as it goes. Either is checksummed
/// in the vector; [`Writer::seal`] ends the record.
pub(super) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Where the record starts in `out`.
    start: usize,
    /// Whether part of the record is already in `out`.
    spilled: bool,
    stage: [u8; STAGE],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A record at the end of `out`, its header's room staged.
    pub fn record(out: &'a mut Vec<u8>) -> Writer<'a> {
        Writer {
            start: out.len(),
            out,
            spilled: false,
            stage: [0; STAGE],
            len: HEADER,
        }
    }

    /// Ends the record: `header` makes its header from its payload, or
    /// refuses it (`None`: the record is then taken out of the vector).
    /// The record's length, header included.
    pub fn seal(&mut self, header: impl FnOnce(&[u8]) -> Option<[u8; HEADER]>) -> Option<usize> {
        if self.spilled {
            self.flush();
        } else {
            // The whole stage (the header's room in it still zero), then
            // the length cut back: a copy of a known size is a few moves,
            // a copy of a variable one a call.
            self.out.extend_from_slice(&self.stage);
            self.out.truncate(self.start + self.len);
        }
        // Checksummed in the vector, after the copy: a load wider than the
        // fresh one-byte stores it reads cannot be forwarded from them and
        // waits until they reach the cache. The copy waits once; the
        // checksum's word loads then read the copy's wider stores, which
        // forward.
        let sealed = self
            .out
            .get(self.start + HEADER..)
            .and_then(header)
            .zip(self.out.get_mut(self.start..self.start + HEADER));
        match sealed {
            Some((h, slot)) => {
                slot.copy_from_slice(&h);
                Some(self.out.len() - self.start)
            }
            None => {
                self.out.truncate(self.start);
                None
            }
        }
    }

    fn flush(&mut self) {
        self.out
            .extend_from_slice(self.stage.get(..self.len).unwrap_or_default());
        self.len = 0;
        self.spilled = true;
    }

    /// Makes room for `n` more staged bytes (`n` at most [`STAGE`]).
    #[inline(always)]
    fn room(&mut self, n: usize) {
        if self.len + n > STAGE {
            self.flush();
        }
    }

    #[inline(always)]
    pub fn u8(&mut self, b: u8) {
        self.room(1);
        if let Some(slot) = self.stage.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    #[inline(always)]
    pub fn varint(&mut self, mut n: u64) {
        self.room(10);
        // Ten bytes of the stage (there after `room`), then no bounds
        // check per byte.
        let Some(window) = self.stage.get_mut(self.len..self.len + 10) else {
            return;
        };
        let mut used = 0;
        for slot in window {
            used += 1;
            if n < 0x80 {
                *slot = n as u8;
                break;
            }
            *slot = (n as u8) | 0x80;
            n >>= 7;
        }
        self.len += used;
    }

    #[inline(always)]
    fn zigzag(&mut self, n: i64) {
        self.varint(((n << 1) ^ (n >> 63)).cast_unsigned());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        let end = self.len + b.len();
        match self.stage.get_mut(self.len..end) {
            Some(to) => {
                to.copy_from_slice(b);
                self.len = end;
            }
            None => {
                self.flush();
                self.out.extend_from_slice(b);
            }
        }
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn opt<T>(&mut self, v: Option<&T>, put: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                put(self, v);
            }
        }
    }

    #[inline(always)]
    fn time(&mut self, t: DateTime<Utc>) {
        self.zigzag(t.timestamp());
        self.varint(u64::from(t.timestamp_subsec_nanos()));
    }

    #[inline(always)]
    fn call(&mut self, c: CallId) {
        self.varint(c.sequence());
        self.varint(u64::from(c.raw_slot()));
    }

    #[inline(always)]
    fn outcome(&mut self, o: Outcome) {
        let code = Outcome::ALL.iter().position(|x| *x == o).unwrap_or(0);
        self.u8(u8::try_from(code).unwrap_or(0));
    }

    fn schedule(&mut self, s: &ScheduleAt) {
        match s {
            ScheduleAt::Local(naive) => {
                self.u8(0);
                self.time(naive.and_utc());
            }
            ScheduleAt::Instant(t) => {
                self.u8(1);
                self.time(*t);
            }
        }
    }

    fn time_of_day(&mut self, t: TimeOfDay) {
        self.varint(u64::from(t.hour() * 60 + t.minute()));
    }

    fn request(&mut self, r: &CallRequest) {
        self.str(&r.to_number);
        self.str(&r.agent_id);
        self.opt(r.batch_id.as_ref(), |w, s| w.str(s));
        self.opt(r.metadata.as_ref(), |w, m| w.str(m.as_str()));
        self.opt(r.schedule_at.as_ref(), Writer::schedule);
        self.opt(r.min_trigger_time.as_ref(), |w, t| w.time_of_day(*t));
        self.opt(r.max_trigger_time.as_ref(), |w, t| w.time_of_day(*t));
        self.u8(u8::from(r.carry_over));
        self.u8(r.number_of_retries);
        self.opt(r.gap_between_retries.as_ref(), |w, g| match g {
            Gaps::Every(n) => {
                w.u8(0);
                w.varint(u64::from(*n));
            }
            Gaps::List(list) => {
                w.u8(1);
                w.varint(list.len() as u64);
                for n in list {
                    w.varint(u64::from(*n));
                }
            }
        });
        self.u8(r.priority.cast_unsigned());
        self.opt(r.language.as_ref(), |w, l| w.str(l.as_str()));
        self.opt(r.timezone.as_ref(), |w, tz| w.str(tz.name()));
        self.opt(r.idempotency_key.as_ref(), |w, s| w.str(s));
        self.opt(r.policy.as_ref(), |w, s| w.str(s));
        self.opt(r.expires_at.as_ref(), Writer::schedule);
    }
}

pub(super) struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn u8(&mut self) -> Result<u8, String> {
        let b = self
            .bytes
            .get(self.at)
            .copied()
            .ok_or_else(|| "cut short".to_owned())?;
        self.at += 1;
        Ok(b)
    }

    pub fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0_u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7F);
            if shift == 63 && bits > 1 {
                return Err("varint overflows 64 bits".to_owned());
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("varint longer than 10 bytes".to_owned())
    }

    fn int<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, String> {
        let n = self.varint()?;
        T::try_from(n).map_err(|_| format!("{what} {n} out of range"))
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let n = self.varint()?;
        Ok((n >> 1).cast_signed() ^ -((n & 1).cast_signed()))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len: usize = self.int("length")?;
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("a {len}-byte field runs past the record"))?;
        let b = self.bytes.get(self.at..end).unwrap_or_default();
        self.at = end;
        Ok(b)
    }

    fn string(&mut self) -> Result<String, String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| "a text field is not UTF-8".to_owned())
    }

    /// Metadata, checked as [`Metadata::parse`] checks it: a record can
    /// only carry what a request could.
    fn metadata(&mut self) -> Result<Metadata, String> {
        Metadata::parse(&self.string()?).map_err(|r| r.message)
    }

    fn opt<T>(
        &mut self,
        get: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match self.u8()? {
            0 => Ok(None),
            1 => get(self).map(Some),
            other => Err(format!("option tag {other}, expected 0 or 1")),
        }
    }

    fn time(&mut self) -> Result<DateTime<Utc>, String> {
        let secs = self.zigzag()?;
        let nanos: u32 = self.int("nanoseconds")?;
        DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| format!("instant {secs}.{nanos} out of range"))
    }

    fn call(&mut self) -> Result<CallId, String> {
        let seq = self.varint()?;
        let slot: u32 = self.int("slot")?;
        Ok(CallId::stored(seq, slot))
    }

    fn outcome(&mut self) -> Result<Outcome, String> {
        let code = self.u8()?;
        Outcome::ALL
            .get(usize::from(code))
            .copied()
            .ok_or_else(|| format!("outcome code {code}"))
    }

    fn schedule(&mut self) -> Result<ScheduleAt, String> {
        match self.u8()? {
            0 => Ok(ScheduleAt::Local(self.time()?.naive_utc())),
            1 => Ok(ScheduleAt::Instant(self.time()?)),
            other => Err(format!("schedule tag {other}")),
        }
    }

    fn time_of_day(&mut self) -> Result<TimeOfDay, String> {
        let m: u32 = self.int("time of day")?;
        TimeOfDay::new(m / 60, m % 60).ok_or_else(|| format!("time of day {m} minutes"))
    }

    fn request(&mut self) -> Result<CallRequest, String> {
        let mut r = CallRequest::new("", "");
        r.to_number = self.string()?;
        r.agent_id = self.string()?;
        r.batch_id = self.opt(Reader::string)?;
        r.metadata = self.opt(Reader::metadata)?;
        r.schedule_at = self.opt(Reader::schedule)?;
        r.min_trigger_time = self.opt(Reader::time_of_day)?;
        r.max_trigger_time = self.opt(Reader::time_of_day)?;
        r.carry_over = match self.u8()? {
            0 => false,
            1 => true,
            other => return Err(format!("carry_over {other}")),
        };
        r.number_of_retries = self.u8()?;
        r.gap_between_retries = self.opt(|r| match r.u8()? {
            0 => Ok(Gaps::Every(r.int("gap")?)),
            1 => {
                let len: usize = r.int("gap count")?;
                // Each gap takes at least a byte: a count beyond the record
                // is corrupt, not a reason to allocate.
                if len > r.bytes.len().saturating_sub(r.at) {
                    return Err(format!("{len} gaps in a shorter record"));
                }
                let list = (0..len)
                    .map(|_| r.int("gap"))
                    .collect::<Result<Vec<u16>, String>>()?;
                Ok(Gaps::List(list.into_boxed_slice()))
            }
            other => Err(format!("gaps tag {other}")),
        })?;
        r.priority = self.u8()?.cast_signed();
        r.language = self.opt(|r| {
            let code = r.string()?;
            Language::from_code(&code).ok_or_else(|| format!("language {code:?}"))
        })?;
        r.timezone = self.opt(|r| {
            let name = r.string()?;
            name.parse::<chrono_tz::Tz>()
                .map_err(|_| format!("time zone {name:?}"))
        })?;
        r.idempotency_key = self.opt(Reader::string)?;
        r.policy = self.opt(Reader::string)?;
        r.expires_at = self.opt(Reader::schedule)?;
        Ok(r)
    }
}
