use chrono::{DateTime, Utc};

use super::*;
use crate::event::{AttemptId, CallId};
use crate::request::{BatchCall, CallRequest, Language, Metadata, ScheduleAt};
use crate::retry::{Gaps, Outcome};
use crate::window::TimeOfDay;

fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).unwrap()
}

/// One command of every kind, with every optional field set in some.
fn every_command() -> Vec<Command> {
    let now = at(1_767_155_400, 0);
    let mut full = CallRequest::new("+919876543210", "agent-é");
    full.batch_id = Some("b".into());
    full.metadata = Some(Metadata::parse(r#"{"k":"v"}"#).unwrap());
    full.schedule_at = Some(ScheduleAt::Local(at(1_767_200_000, 5).naive_utc()));
    full.min_trigger_time = TimeOfDay::new(9, 0);
    full.max_trigger_time = TimeOfDay::new(21, 30);
    full.carry_over = true;
    full.number_of_retries = 10;
    full.gap_between_retries = Some(Gaps::List(vec![1, 10_080, 0].into_boxed_slice()));
    full.priority = -100;
    full.language = Some(Language::Ta);
    full.timezone = Some(chrono_tz::America::Argentina::ComodRivadavia);
    full.idempotency_key = Some("k".repeat(300));
    full.policy = Some("fr".into());
    full.expires_at = Some(ScheduleAt::Instant(at(-62_135_596_800, 999_999_999)));
    let mut plain = CallRequest::new("+12125550100", "a");
    plain.gap_between_retries = Some(Gaps::Every(30));
    plain.priority = 100;
    let call: CallId = "call-42-7".parse().unwrap();
    let bare: CallId = "call-9".parse().unwrap();
    vec![
        Command::Submit {
            now,
            body: br#"{"to_number": "+919876543210", "agent_id": "a"}"#.to_vec(),
        },
        Command::Submit {
            now: at(253_402_300_799, 999_999_999),
            body: vec![0xFF, 0, 0x80],
        },
        Command::SubmitBatch {
            now,
            template: Box::new(full.clone()),
            calls: vec![
                BatchCall::new("+12125550100"),
                BatchCall::new("not checked here")
                    .with_metadata(Metadata::parse(r#"{"n":[1,2]}"#).unwrap())
                    .with_schedule(ScheduleAt::Instant(at(1_767_200_000, 7))),
                BatchCall::new("+33612345678")
                    .with_schedule(ScheduleAt::Local(at(1_767_200_000, 0).naive_utc())),
            ],
        },
        Command::SubmitBatch {
            now,
            template: Box::new(CallRequest::new("", "a")),
            calls: Vec::new(),
        },
        Command::SubmitRequest {
            now,
            request: Box::new(full),
        },
        Command::SubmitRequest {
            now,
            request: Box::new(plain),
        },
        Command::Dial { now, max: u32::MAX },
        Command::Report {
            now,
            attempt: AttemptId { call, attempt: 3 },
            outcome: Outcome::DoNotCall,
        },
        Command::ReportCurrent {
            now,
            call: bare,
            outcome: Outcome::Timeout,
        },
        Command::Cancel { now, call },
        Command::PauseBatch {
            now,
            batch: "b".into(),
        },
        Command::ResumeBatch {
            now,
            batch: String::new(),
        },
        Command::CancelBatch {
            now,
            batch: "b\u{0}".into(),
        },
        Command::RegisterAgent {
            now,
            agent: "a".into(),
            max_concurrent_calls: Some(0),
        },
        Command::RegisterAgent {
            now,
            agent: "a".into(),
            max_concurrent_calls: None,
        },
        Command::Suppress {
            now,
            to_number: "+33612345678".into(),
            until: Some(at(-1, 1)),
        },
        Command::Suppress {
            now,
            to_number: "not a number".into(),
            until: None,
        },
        Command::Unsuppress {
            now,
            to_number: "+33612345678".into(),
        },
        Command::HandleTimeout {
            now: at(-62_135_596_800, 0),
        },
    ]
}

fn journal(commands: &[Command]) -> Vec<u8> {
    let mut log = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        encode(100 + i as u64, c, &mut log).unwrap();
    }
    log
}

#[test]
fn every_command_round_trips() {
    let commands = every_command();
    let log = journal(&commands);
    let mut reader = Reader::new(&log);
    let back: Vec<Record> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(back.len(), commands.len());
    for (i, (r, c)) in back.iter().zip(&commands).enumerate() {
        assert_eq!((r.position, &r.command), (100 + i as u64, c));
        // The bare ID stays bare, the stored one keeps its slot.
        if let Command::Cancel { call, .. } = &r.command {
            assert_eq!(call.to_string(), "call-42-7");
        }
        if let Command::ReportCurrent { call, .. } = &r.command {
            assert_eq!(call.to_string(), "call-9");
        }
    }
    assert_eq!((reader.valid_len(), reader.torn()), (log.len(), false));
}

/// A record's metadata is checked again when it is read: text with
/// floats must read back as written (the exact float parser), or a
/// replay would store other metadata than the engine that wrote it.
#[test]
fn float_metadata_reads_back_as_written() {
    for text in [
        r#"{"a": 90100010724120850000}"#,
        r#"{"x": 0.1, "y": 1e-7, "z": [2.5e300, -3.0, 123456789.98765433]}"#,
    ] {
        let mut request = CallRequest::new("+919876543210", "a");
        request.metadata = Some(Metadata::parse(text).unwrap());
        let command = Command::SubmitRequest {
            now: at(1_767_155_400, 0),
            request: Box::new(request),
        };
        let log = journal(std::slice::from_ref(&command));
        let back: Vec<Record> = Reader::new(&log).map(Result::unwrap).collect();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].command, command, "{text}");
    }
}

/// The writer stages 64 bytes, header included, before it spills into the
/// vector, where it checksums the record: records of every length across those
/// boundaries, and varints of every width, must be byte for byte what a
/// plain byte-at-a-time encoder writes, and decode.
#[test]
fn records_of_every_length_and_width_decode() {
    fn leb(mut n: u64, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }
    let now = at(1_767_155_400, 999_999_999);
    let mut log = Vec::new();
    let mut expected = Vec::new();
    let widths = [
        0,
        1,
        127,
        128,
        (1 << 56) - 1,
        1 << 56,
        u64::MAX >> 1,
        u64::MAX,
    ];
    let mut position = 0;
    for len in 0..300_usize {
        for (i, &w) in widths.iter().enumerate() {
            if (len + i) % 7 != 0 {
                continue;
            }
            position = w.max(position);
            let body: Vec<u8> = (0..len).map(|b| (b * 31 + i) as u8).collect();
            let command = Command::Submit {
                now,
                body: body.clone(),
            };
            let written = encode(position, &command, &mut log).unwrap();
            // By hand: format, position, tag, time, body.
            let mut payload = vec![JOURNAL_FORMAT];
            leb(position, &mut payload);
            payload.push(1);
            leb(
                ((now.timestamp() << 1) ^ (now.timestamp() >> 63)) as u64,
                &mut payload,
            );
            leb(u64::from(now.timestamp_subsec_nanos()), &mut payload);
            leb(len as u64, &mut payload);
            payload.extend_from_slice(&body);
            let crc =
                crc32c::checksum(&[&(payload.len() as u32).to_le_bytes()[..], &payload].concat());
            let start = expected.len();
            expected.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            expected.extend_from_slice(&crc.to_le_bytes());
            expected.extend_from_slice(&payload);
            assert_eq!(
                written,
                expected.len() - start,
                "len {len}, position {position}"
            );
            assert_eq!(log, expected, "len {len}, position {position}");
            // Decoded alone: positions repeat across these records.
            let records: Vec<Record> = Reader::new(&log[start..]).map(Result::unwrap).collect();
            assert_eq!(records.len(), 1);
            assert_eq!(
                (records[0].position, &records[0].command),
                (position, &command)
            );
        }
    }
}

/// Every cut of a journal is a clean torn tail at the last whole record.
#[test]
fn every_cut_is_a_torn_tail() {
    let commands = every_command();
    let log = journal(&commands);
    let mut ends = vec![0];
    for c in &commands {
        let mut one = Vec::new();
        let len = encode(0, c, &mut one).unwrap();
        // Positions 100.. take one varint byte, as 0 does.
        ends.push(ends.last().unwrap() + len);
    }
    assert_eq!(*ends.last().unwrap(), log.len());
    for cut in 0..log.len() {
        let mut reader = Reader::new(&log[..cut]);
        let n = reader.by_ref().map(Result::unwrap).count();
        let whole = ends.iter().rposition(|e| *e <= cut).unwrap();
        assert_eq!((n, reader.valid_len()), (whole, ends[whole]), "cut {cut}");
        assert_eq!(reader.torn(), ends[whole] != cut, "cut {cut}");
    }
}

/// A flipped bit anywhere but the last record is an error at that record's
/// offset; in the last record it is a torn tail. Never a panic, never a
/// record skipped.
#[test]
fn every_bit_flip_is_caught() {
    let commands = every_command();
    let log = journal(&commands);
    let starts: Vec<usize> = Reader::new(&log)
        .scan(0, |off, _| {
            let start = *off;
            let rest = &log[start..];
            *off += 8 + u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            Some(start)
        })
        .collect();
    let last = *starts.last().unwrap();
    for byte in 0..log.len() {
        for bit in [0, 3, 7] {
            let mut bad = log.clone();
            bad[byte] ^= 1 << bit;
            let record = starts.iter().rposition(|s| *s <= byte).unwrap();
            let mut reader = Reader::new(&bad);
            let results: Vec<_> = reader.by_ref().collect();
            let good = results.iter().filter(|r| r.is_ok()).count();
            match results.last() {
                Some(Err(JournalError::Corrupt { offset, .. })) => {
                    // The error names the damaged record.
                    assert_eq!(*offset, starts[record], "byte {byte} bit {bit}");
                    assert_eq!(good, record, "byte {byte} bit {bit}");
                }
                _ => {
                    // No error: only damage to the last record reads as a
                    // torn tail; a damaged length elsewhere is caught.
                    assert!(reader.torn(), "byte {byte} bit {bit}");
                    assert_eq!(good, record, "byte {byte} bit {bit}");
                    assert_eq!(starts[record], last, "byte {byte} bit {bit}");
                }
            }
        }
    }
}

#[test]
fn zero_tail_is_torn_and_garbage_is_corrupt() {
    let mut log = journal(&every_command()[..2]);
    let whole = log.len();
    log.extend_from_slice(&[0; 40]);
    let mut reader = Reader::new(&log);
    assert_eq!(reader.by_ref().count(), 2);
    assert_eq!((reader.valid_len(), reader.torn()), (whole, true));
    log[whole + 20] = 1;
    let errors: Vec<_> = Reader::new(&log).filter_map(Result::err).collect();
    assert!(
        matches!(&errors[..], [JournalError::Corrupt { offset, .. }] if *offset == whole),
        "{errors:?}"
    );
}

#[test]
fn positions_must_follow_each_other() {
    let now = at(1_767_155_400, 0);
    let mut log = Vec::new();
    encode(5, &Command::HandleTimeout { now }, &mut log).unwrap();
    let second = log.len();
    encode(7, &Command::HandleTimeout { now }, &mut log).unwrap();
    encode(8, &Command::HandleTimeout { now }, &mut log).unwrap();
    let results: Vec<_> = Reader::new(&log).collect();
    assert_eq!(results.len(), 2);
    let Err(err) = &results[1] else {
        panic!("a gap is an error")
    };
    assert_eq!(
        *err,
        JournalError::Corrupt {
            offset: second,
            reason: "position 7, expected 6 (the one after the previous record's)".into()
        }
    );
    assert!(err.to_string().starts_with("journal record at byte"));
}

#[test]
fn another_version_is_refused() {
    let now = at(1_767_155_400, 0);
    let mut log = Vec::new();
    encode(0, &Command::HandleTimeout { now }, &mut log).unwrap();
    encode(1, &Command::HandleTimeout { now }, &mut log).unwrap();
    // Rewrite the first record as version 2, with a matching checksum.
    log[8] = 2;
    let len = u32::from_le_bytes(log[..4].try_into().unwrap()) as usize;
    let crc = crc32c::extend(crc32c::checksum(&log[..4]), &log[8..8 + len]);
    log[4..8].copy_from_slice(&crc.to_le_bytes());
    let first = Reader::new(&log).next().unwrap();
    assert!(
        matches!(&first, Err(JournalError::Corrupt { offset: 0, reason }) if reason.contains("version 2")),
        "{first:?}"
    );
}

#[test]
fn replay_is_checked_before_anything_is_applied() {
    let now = at(1_767_155_400, 0);
    let mut log = Vec::new();
    let body = br#"{"to_number": "+919876543210", "agent_id": "a"}"#.to_vec();
    encode(0, &Command::Submit { now, body }, &mut log).unwrap();
    let second = log.len();
    encode(1, &Command::HandleTimeout { now }, &mut log).unwrap();
    encode(2, &Command::HandleTimeout { now }, &mut log).unwrap();
    log[second + 9] ^= 0xFF;
    let mut engine = Scheduler::new(crate::Config::default()).unwrap();
    let before = engine.snapshot().to_bytes();
    let err = engine.replay_journal(&log, |_| {}).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt { offset, .. } if offset == second));
    assert_eq!(engine.snapshot().to_bytes(), before);
    assert_eq!(engine.position(), 0);
}

#[test]
fn a_journal_that_starts_after_the_engine_is_a_gap() {
    let now = at(1_767_155_400, 0);
    let mut log = Vec::new();
    encode(3, &Command::HandleTimeout { now }, &mut log).unwrap();
    let mut engine = Scheduler::new(crate::Config::default()).unwrap();
    let err = engine.replay_journal(&log, |_| {}).unwrap_err();
    assert!(err.to_string().contains("starts at position 3"), "{err}");
    assert_eq!(engine.position(), 0);
}

/// Commands also serialize as JSON (tagged by `op`), and back.
#[test]
fn commands_round_trip_through_json() {
    for c in every_command() {
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.starts_with(&format!(r#"{{"op":"{}""#, c.name())),
            "{json}"
        );
        let back: Command = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
