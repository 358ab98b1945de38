//! Restore: a snapshot checked as strictly as requests are, then rebuilt
//! into an engine through the engine's own paths.

use std::collections::{BTreeMap, BTreeSet};

use super::{OLDEST_FORMAT, SNAPSHOT_FORMAT, Snapshot, SnapshotError};
use chrono_tz::Tz;

use crate::call::{Call, CallRecord, CallState};
use crate::event::{CompactEvent, Event};
use crate::number::e164_digits;
use crate::policy::calendar::RuleSet;
use crate::queue::{MAX_SEQ, Slot};
use crate::scheduler::Scheduler;
use crate::scheduler::registry::NO_BATCH;
use crate::time::{DAY, MAX_TIME, MIN_TIME, in_range};

impl Scheduler {
    /// An engine that continues exactly where the snapshot's left off.
    ///
    /// # Errors
    /// [`SnapshotError::Format`] for another format version,
    /// [`SnapshotError::Inconsistent`] for an invalid configuration or state.
    ///
    /// # Example
    /// ```
    /// # use chrono::{DateTime, Utc};
    /// use redial::{Config, Scheduler, Snapshot};
    /// # let mut engine = Scheduler::new(Config::default())?;
    /// # let now: DateTime<Utc> = "2025-12-31T04:30:00Z".parse()?;
    /// engine.submit(now, br#"{"to_number": "+919876543210", "agent_id": "a"}"#)?;
    /// let restored = Scheduler::restore(engine.snapshot())?;
    /// assert_eq!(restored.live_calls(), 1);
    /// assert_eq!(restored.snapshot().to_bytes(), engine.snapshot().to_bytes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(snapshot: Snapshot) -> Result<Scheduler, SnapshotError> {
        if !(OLDEST_FORMAT..=SNAPSHOT_FORMAT).contains(&snapshot.format) {
            return Err(SnapshotError::Format {
                found: snapshot.format,
                expected: SNAPSHOT_FORMAT,
            });
        }
        rebuild(snapshot).map_err(SnapshotError::Inconsistent)
    }
}

/// Checks a snapshot and rebuilds its engine.
fn rebuild(snapshot: Snapshot) -> Result<Scheduler, String> {
    let Snapshot {
        format,
        config,
        now,
        next_seq,
        agents,
        batches,
        calls,
        free_slots,
        idempotency,
        events,
        suppressions,
        histories,
        journal_position,
        ..
    } = snapshot;
    let mut engine = Scheduler::new(config).map_err(|e| e.to_string())?;
    if now.is_some_and(|n| !in_range(n)) {
        return Err("now out of range".to_owned());
    }
    engine.now = now;
    engine.position = journal_position;
    if next_seq == 0 || next_seq > MAX_SEQ + 1 {
        return Err(format!("next_seq {next_seq} out of range"));
    }
    engine.calls.set_next_seq(next_seq);
    let (total, free) = slot_layout(format, &calls, free_slots)?;
    engine.calls.prepare_slots(total, free);
    let mut names = BTreeSet::new();
    for a in &agents {
        if !names.insert(a.name.as_str()) {
            return Err(format!("agent {:?} is listed twice", a.name));
        }
        engine.registry.restore_agent(&a.name, a.registered, a.cap);
    }
    names.clear();
    for b in &batches {
        if !names.insert(b.name.as_str()) {
            return Err(format!("batch {:?} is listed twice", b.name));
        }
        engine.registry.restore_batch(&b.name, b.paused);
    }
    // Derived instants stay within a few years of `now`'s range.
    let sane = MIN_TIME..=MAX_TIME.saturating_add(20 * 366 * DAY);
    let mut keyed: BTreeMap<String, (u64, Slot)> = BTreeMap::new();
    let mut last_seq = 0;
    for record in calls {
        let seq = record.seq;
        if seq <= last_seq || seq >= next_seq {
            return Err(format!("call sequence {seq} out of order"));
        }
        last_seq = seq;
        let agent = agents
            .get(record.agent as usize)
            .ok_or_else(|| format!("call {seq} names an unknown agent"))?;
        let batch = match record.batch {
            NO_BATCH => None,
            b => Some(
                batches
                    .get(b as usize)
                    .ok_or_else(|| format!("call {seq} names an unknown batch"))?,
            ),
        };
        // A due instant is one the engine accepts; timers and window ends
        // may lie a little past the last (they fire at it).
        let times = [Some(record.due), record.timer, record.occurrence_end];
        if !in_range(record.due) || times.iter().flatten().any(|t| !sane.contains(t)) {
            return Err(format!("call {seq} has an instant out of range"));
        }
        if (record.cancel_requested || record.suppress_requested)
            && record.state != CallState::InFlight
        {
            return Err(format!(
                "call {seq} has a cancel or suppression requested but is not in flight"
            ));
        }
        if record.expires.is_some_and(|e| !sane.contains(&e)) {
            return Err(format!("call {seq} has a lifetime out of range"));
        }
        let zones: Box<[Tz]> = if record.zones.is_empty() {
            Box::new([record.tz])
        } else if record.zones.first() == Some(&record.tz) {
            record.zones.clone().into_boxed_slice()
        } else {
            return Err(format!("call {seq}'s zones do not start with its zone"));
        };
        let mut policies = Vec::with_capacity(record.policies.len());
        for name in &record.policies {
            let index = engine
                .policy_index(name)
                .ok_or_else(|| format!("call {seq} names an unknown policy {name:?}"))?;
            policies.push(index);
        }
        policies.sort_unstable();
        policies.dedup();
        let rules = engine.calendar.intern(RuleSet {
            zones,
            policies: policies.into_boxed_slice(),
        });
        let key = record.idempotency_key.as_deref().map(str::to_owned);
        let slot = record.slot;
        let mut call = Call::from_record(record)?;
        call.rules = rules;
        let slot = engine.restore_call(slot, call, &agent.name, batch.map(|b| b.name.as_str()));
        if let Some(key) = key {
            keyed.insert(key, (seq, slot));
        }
    }
    // Keys and calls must point at each other, one to one.
    let listed = idempotency.len();
    for (key, entry) in idempotency {
        match keyed.get(&key) {
            Some((seq, slot)) if *seq == entry.call => {
                if !engine.restore_key(&key, *seq, *slot, entry.request, entry.due) {
                    return Err(format!("idempotency key {key:?} appears twice"));
                }
            }
            _ => {
                return Err(format!(
                    "idempotency key {key:?} does not match call-{}",
                    entry.call
                ));
            }
        }
    }
    if keyed.len() != listed {
        return Err("a call's idempotency key has no entry".to_owned());
    }
    for (number, until) in suppressions {
        let digits = e164_digits(&number)
            .ok_or_else(|| format!("suppressed number {number:?} is not E.164"))?;
        if until.is_some_and(|u| !sane.contains(&u)) {
            return Err(format!("suppression of {number} ends out of range"));
        }
        engine
            .numbers
            .suppress(digits, now.unwrap_or(MIN_TIME), until);
    }
    for (number, instants) in histories {
        let digits = e164_digits(&number)
            .ok_or_else(|| format!("history number {number:?} is not E.164"))?;
        if instants.windows(2).any(|w| w.first() > w.get(1))
            || instants.iter().any(|t| !in_range(*t))
        {
            return Err(format!(
                "the attempt history of {number} is out of order or range"
            ));
        }
        engine.numbers.restore_history(digits, &instants);
    }
    engine.numbers.finish_restore();
    let events = events
        .into_iter()
        .map(|e| CompactEvent::try_from(Event::from(e)))
        .collect::<Result<_, _>>()?;
    engine.finish_restore(events);
    Ok(engine)
}

/// The number of slots and the free ones (in reuse order) a snapshot's
/// calls go back into: a format-2 snapshot names every call's slot and the
/// free slots, and together they must cover `0..n` once each; a format-1
/// snapshot names none, and its calls take fresh slots.
fn slot_layout(
    format: u32,
    calls: &[CallRecord],
    free: Option<Vec<Slot>>,
) -> Result<(usize, Vec<Slot>), String> {
    let named = calls.iter().filter(|c| c.slot.is_some()).count();
    let free = match (format, free) {
        (1, None) if named == 0 => return Ok((0, Vec::new())),
        (2 | 3, Some(free)) if named == calls.len() => free,
        _ => {
            return Err(format!(
                "format {format} snapshot with missing or unexpected slots"
            ));
        }
    };
    let total = calls.len().saturating_add(free.len());
    // The last slot number stands for "no slot" in bare IDs.
    if total >= Slot::MAX as usize {
        return Err(format!("{total} slots: expected fewer than 2^32 - 1"));
    }
    let mut used = vec![false; total];
    for slot in calls
        .iter()
        .filter_map(|c| c.slot)
        .chain(free.iter().copied())
    {
        match used.get_mut(slot as usize) {
            Some(u) if !*u => *u = true,
            _ => return Err(format!("slot {slot} out of range or named twice")),
        }
    }
    Ok((total, free))
}
