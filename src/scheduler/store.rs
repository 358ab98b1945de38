//! The call store: every live call record, in the slot its ID names.
//!
//! It owns the slab of records, the free slots (reused last-freed first),
//! each slot's timer generation, the index for bare `call-n` IDs, the
//! idempotency keys of live calls and the next sequence number. Its
//! invariants: a slot is either free or holds one live call; an idempotency
//! key maps to the live call that carries it, and back; the bare-ID index,
//! once built, holds exactly the live calls.

use std::collections::HashMap;

use serde_json::Value;

use crate::call::{Call, CallState};
use crate::event::CallId;
use crate::grow;
use crate::index::CallIndex;
use crate::queue::{MAX_SEQ, ReadyKey, Slot, TimerEntry};
use crate::slab::Slab;
use crate::time::Secs;

/// What an idempotency key of a live call remembers.
#[derive(Clone, Debug)]
pub(crate) struct IdempotencyEntry {
    /// The sequence number of the call that carries the key.
    pub seq: u64,
    /// Its slot.
    pub slot: Slot,
    /// The request as canonical JSON, to compare repeats with.
    pub request: Value,
    /// Its first attempt's due instant, which a repeat reports.
    pub due: Secs,
}

/// Live calls by slot, and what finds them.
#[derive(Debug)]
pub(crate) struct CallStore {
    slab: Slab<Call>,
    /// Empty slots, the next one to reuse last.
    free: Vec<Slot>,
    /// Per slot: the generation of its pending timer (see
    /// [`CallStore::timer_is_current`]).
    generations: Vec<u32>,
    /// Slots by sequence number, built the first time a bare `call-n` ID
    /// is used (IDs the engine hands out name their slot).
    index: Option<CallIndex>,
    idempotency: HashMap<Box<str>, IdempotencyEntry>,
    /// The sequence number the next accepted call gets (1-based).
    next_seq: u64,
}

impl Default for CallStore {
    fn default() -> CallStore {
        CallStore {
            slab: Slab::default(),
            free: Vec::new(),
            generations: Vec::new(),
            index: None,
            idempotency: HashMap::new(),
            next_seq: 1,
        }
    }
}

impl CallStore {
    /// Live calls: waiting, ready or in flight.
    pub fn live(&self) -> usize {
        self.slab.slots() - self.free.len()
    }

    pub fn get(&self, slot: Slot) -> Option<&Call> {
        self.slab.get(slot)
    }

    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Call> {
        self.slab.get_mut(slot)
    }

    /// Live calls in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, &Call)> {
        self.slab.iter()
    }

    /// Empty slots, the next one to reuse last.
    pub fn free_slots(&self) -> &[Slot] {
        &self.free
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Why one more call cannot be stored, if it cannot: every slot in use,
    /// or every sequence number a packed key holds handed out.
    pub fn full(&self) -> Option<String> {
        if self.free.is_empty() && self.slab.slots() > Slot::MAX as usize {
            return Some(format!(
                "This engine holds {} live calls, the most it can; expected fewer",
                self.slab.slots()
            ));
        }
        (self.next_seq > MAX_SEQ).then(|| {
            format!(
                "This engine has accepted {MAX_SEQ} calls, the most its call IDs can number; expected a new engine"
            )
        })
    }

    /// Takes the next sequence number (the caller checked [`CallStore::full`]).
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        seq
    }

    /// Stores a new live call and returns its slot.
    pub fn insert(&mut self, call: Call) -> Slot {
        let seq = call.seq();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab.put(slot, call);
                slot
            }
            None => {
                grow::push(&mut self.generations, 0);
                let slot = self.slab.push(call);
                debug_assert!(slot.is_some(), "full() refuses a call with no slot left");
                slot.unwrap_or(Slot::MAX)
            }
        };
        if let Some(index) = &mut self.index {
            index.insert(seq, slot);
        }
        slot
    }

    /// Forgets the call in `slot`, with its bare-ID index entry and its
    /// idempotency key, and frees the slot.
    pub fn remove(&mut self, slot: Slot) -> Option<Call> {
        let call = self.slab.take(slot)?;
        self.free.push(slot);
        if let Some(index) = &mut self.index {
            index.remove(&call.seq());
        }
        if let Some(key) = call.idempotency_key()
            && self
                .idempotency
                .get(key)
                .is_some_and(|i| i.seq == call.seq())
        {
            self.idempotency.remove(key);
        }
        Some(call)
    }

    /// With no live call left, gives back the slots and their memory: the
    /// next call takes slot 0, as in a new engine, and a snapshot is as
    /// small as a new engine's. Every timer entry is stale by then, and the
    /// caller drops them all (slot generations start over).
    pub fn clear_if_empty(&mut self) -> bool {
        if self.live() != 0 || self.slab.slots() == 0 {
            return false;
        }
        self.slab = Slab::default();
        self.free = Vec::new();
        self.generations = Vec::new();
        self.index = None;
        self.idempotency = HashMap::new();
        true
    }

    /// The slot of the live call an ID names; a bare ID builds the bare-ID
    /// index on first use.
    pub fn resolve(&mut self, id: CallId) -> Option<Slot> {
        if id.slot().is_none() && self.index.is_none() {
            let mut index = CallIndex::with_capacity_and_hasher(self.live(), Default::default());
            for (slot, call) in self.slab.iter() {
                index.insert(call.seq(), slot);
            }
            self.index = Some(index);
        }
        self.find(id)
    }

    /// The slot holding the call an ID names: read from the ID, else from
    /// the bare-ID index if built, else by a scan of the live calls (`&self`
    /// cannot build the index).
    pub fn find(&self, id: CallId) -> Option<Slot> {
        let seq = id.sequence();
        match (id.slot(), &self.index) {
            (Some(slot), _) => self.get(slot).filter(|c| c.seq() == seq).map(|_| slot),
            (None, Some(index)) => index.get(&seq).copied(),
            (None, None) => self
                .slab
                .iter()
                .find(|(_, c)| c.seq() == seq)
                .map(|(s, _)| s),
        }
    }

    /// The sequence number of the call in `slot` (0 for an empty slot,
    /// whose timer entries are stale anyway).
    pub fn seq_in(&self, slot: Slot) -> u64 {
        self.get(slot).map_or(0, |c| c.seq())
    }

    /// Whether a ready-queue entry still stands for a ready call.
    pub fn ready_is_current(&self, slot: Slot, key: ReadyKey) -> bool {
        self.get(slot).is_some_and(|c| {
            c.seq() == key.seq && c.state() == CallState::Ready && c.due == key.due
        })
    }

    /// Whether a timer entry is its slot's current timer. Every change to a
    /// slot's timer bumps its generation, so the small dense array answers
    /// without touching the call record: two of an attempt's three timer
    /// entries go stale, and at millions of calls each record is a cache
    /// miss.
    pub fn timer_is_current(&self, e: &TimerEntry) -> bool {
        self.generations.get(e.slot as usize) == Some(&e.generation)
    }

    /// Makes every earlier timer entry of `slot` stale; returns the new
    /// generation. Slots keep counting across calls, so entries a previous
    /// call left behind never look current.
    pub fn next_generation(&mut self, slot: Slot) -> Option<u32> {
        let generation = self.generations.get_mut(slot as usize)?;
        *generation = generation.wrapping_add(1);
        Some(*generation)
    }

    /// The live call that carries idempotency key `key`.
    pub fn idempotent(&self, key: &str) -> Option<&IdempotencyEntry> {
        self.idempotency.get(key)
    }

    pub fn remember_key(&mut self, key: &str, entry: IdempotencyEntry) -> bool {
        self.idempotency.insert(key.into(), entry).is_none()
    }

    /// Idempotency keys with their entries, in key order.
    pub fn keys_sorted(&self) -> Vec<(&str, &IdempotencyEntry)> {
        let mut keys: Vec<(&str, &IdempotencyEntry)> = self
            .idempotency
            .iter()
            .map(|(k, v)| (k.as_ref(), v))
            .collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        keys
    }

    pub fn keys(&self) -> usize {
        self.idempotency.len()
    }

    // ---- restore ------------------------------------------------------

    /// Sets the next sequence number of a restored engine.
    pub fn set_next_seq(&mut self, next_seq: u64) {
        self.next_seq = next_seq;
    }

    /// Makes `total` empty slots, of which `free` (in reuse order) stay
    /// free; the others are filled with [`CallStore::put`].
    pub fn prepare_slots(&mut self, total: usize, free: Vec<Slot>) {
        self.slab.grow_to(total);
        self.generations = vec![0; total];
        self.free = free;
    }

    /// Puts a restored call into the (empty, not free) slot it had.
    pub fn put(&mut self, slot: Slot, call: Call) {
        self.slab.put(slot, call);
    }

    /// Checks invariants the store keeps on its own.
    pub fn check(&self) -> Result<(), String> {
        if self.live() != self.slab.iter().count() {
            return Err(format!(
                "{} live calls counted, {} stored",
                self.live(),
                self.slab.iter().count()
            ));
        }
        for (key, entry) in &self.idempotency {
            let owner = self.get(entry.slot);
            if owner.map(|c| c.seq()) != Some(entry.seq)
                || owner.and_then(Call::idempotency_key) != Some(key.as_ref())
            {
                return Err(format!("idempotency key {key:?} names no live call"));
            }
        }
        let keyed = self
            .slab
            .iter()
            .filter(|(_, c)| c.idempotency_key().is_some())
            .count();
        if keyed != self.idempotency.len() {
            return Err("a live call's idempotency key has no entry".to_owned());
        }
        if let Some(index) = &self.index
            && (index.len() != self.live()
                || index.iter().any(|(seq, slot)| self.seq_in(*slot) != *seq))
        {
            return Err("the bare-ID index does not match the live calls".to_owned());
        }
        if self.slab.iter().any(|(_, c)| c.seq() >= self.next_seq) {
            return Err("a call's sequence number is not below next_seq".to_owned());
        }
        Ok(())
    }
}
