//! The registry: agents, batches and the lanes between them.
//!
//! It owns what the engine knows of agents (registration, cap, calls in
//! flight) and batches (paused or not), and which ready-queue lane each
//! (agent, batch) pair uses; it keeps each lane's eligibility (agent below
//! its cap, batch not paused) current in the ready queue.
//!
//! What lasts (policy.md 6): an agent is known while it is registered or a
//! live call names it, a batch while it is paused or a live call names it,
//! a lane while a live call uses it. Each keeps a count of the live calls
//! that hold it, so forgetting is O(1) when the last one ends, and the
//! numbers of forgotten entries are reused: a host that gives every
//! upload its own `batch_id` does not grow the engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::index::BuildEngineIdHasher;
use crate::queue::{LaneId, Lanes};

/// The batch number of calls without a batch.
pub(crate) const NO_BATCH: u32 = u32::MAX;

/// An agent the engine knows.
#[derive(Debug)]
pub(crate) struct Agent {
    /// Shared with every dispatch for the agent.
    pub name: Arc<str>,
    pub registered: bool,
    pub cap: Option<u32>,
    /// Calls of the agent in flight.
    pub in_flight: u32,
    /// Live calls that name the agent.
    pub calls: u32,
    /// The agent's lanes, in no order.
    lanes: Vec<LaneId>,
}

impl Agent {
    fn below_cap(&self) -> bool {
        self.cap.is_none_or(|c| self.in_flight < c)
    }
}

/// A batch the engine knows.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Shared with every dispatch in the batch.
    pub name: Arc<str>,
    pub paused: bool,
    /// Live calls that name the batch.
    pub calls: u32,
    /// Of them, those ready and those in flight (the rest wait).
    pub ready: u32,
    pub in_flight: u32,
    lanes: Vec<LaneId>,
}

/// Who a lane belongs to, and where it sits in its owners' lane lists.
#[derive(Clone, Copy, Debug)]
struct Lane {
    agent: u32,
    batch: u32,
    /// Live calls in the lane.
    calls: u32,
    /// Its index in the agent's `lanes`, and in the batch's.
    at_agent: usize,
    at_batch: usize,
}

/// Numbered entries that reuse the numbers of removed ones.
#[derive(Debug)]
struct Numbered<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Numbered<T> {
    fn default() -> Self {
        Numbered {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Numbered<T> {
    fn insert(&mut self, item: T) -> u32 {
        if let Some(id) = self.free.pop()
            && let Some(place) = self.items.get_mut(id as usize)
        {
            *place = Some(item);
            return id;
        }
        // At most one entry per live call, and live calls fit in a u32.
        let id = u32::try_from(self.items.len()).unwrap_or(u32::MAX);
        self.items.push(Some(item));
        id
    }

    fn remove(&mut self, id: u32) -> Option<T> {
        let item = self.items.get_mut(id as usize)?.take();
        if item.is_some() {
            self.free.push(id);
            if self.free.len() == self.items.len() {
                // Empty: give back what a burst of entries grew it to.
                *self = Numbered::default();
            }
        }
        item
    }

    fn get(&self, id: u32) -> Option<&T> {
        self.items.get(id as usize)?.as_ref()
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.items.get_mut(id as usize)?.as_mut()
    }

    fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }

    fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.items
            .iter()
            .zip(0..)
            .filter_map(|(item, id)| item.as_ref().map(|item| (id, item)))
    }
}

/// The agent, batch and lane a live call holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    pub agent: u32,
    /// [`NO_BATCH`] for a call without a batch.
    pub batch: u32,
    pub lane: LaneId,
}

/// Agents, batches and lanes; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    agents: Numbered<Agent>,
    /// Names to numbers. Ordered maps: a handful of short host-chosen
    /// names compare faster than they hash with SipHash, no crafted name
    /// set can degrade them, and snapshots list names in this order.
    agent_ids: BTreeMap<Arc<str>, u32>,
    batches: Numbered<Batch>,
    batch_ids: BTreeMap<Arc<str>, u32>,
    lanes: Numbered<Lane>,
    lane_ids: HashMap<(u32, u32), LaneId, BuildEngineIdHasher>,
    /// Memberships [`Registry::join`] gave recently, by a cheap key of
    /// their names ([`recent_slot`]): a host's calls name a few agents and
    /// batches over and over (campaigns, batch uploads), and looking the
    /// names up costs tree walks and string compares. Checked by name and
    /// against a live lane before one is reused, so a stale or colliding
    /// one is only a miss.
    recent: [Option<Membership>; RECENT],
}

/// Slots of [`Registry::recent`].
const RECENT: usize = 32;

/// Where `agent` and `batch`'s membership is remembered: a multiplicative
/// hash of each name's length and last eight bytes (host IDs differ at
/// their ends: counters, hex digests): a few dozen instructions, where
/// looking the names up costs hundreds.
fn recent_slot(agent: &str, batch: Option<&str>) -> usize {
    fn word(name: &str) -> u64 {
        let bytes = name.as_bytes();
        let tail = bytes
            .get(bytes.len().saturating_sub(8)..)
            .unwrap_or_default();
        let mut w = [0_u8; 8];
        w.iter_mut().zip(tail).for_each(|(w, b)| *w = *b);
        u64::from_le_bytes(w) ^ (bytes.len() as u64).rotate_right(8)
    }
    let key = word(agent).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ batch.map_or(0, word).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (key.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 59) as usize % RECENT
}

/// How many agents, batches and lanes an engine knows (see
/// [`Registry::counts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RegistryCounts {
    pub agents: usize,
    pub batches: usize,
    pub lanes: usize,
}

impl Registry {
    /// A new live call names `agent` and `batch`: counts it, making the
    /// agent, batch and lane known if they were not.
    pub fn join(&mut self, agent: &str, batch: Option<&str>, ready: &mut Lanes) -> Membership {
        let slot = recent_slot(agent, batch);
        let recent = self.recent.get(slot).copied().flatten();
        if let Some(m) = recent.filter(|m| self.names(*m, agent, batch))
            && let Some(m) = self.rejoin(m)
        {
            return m;
        }
        let m = self.join_by_name(agent, batch, ready);
        if let Some(r) = self.recent.get_mut(slot) {
            *r = Some(m);
        }
        m
    }

    /// Whether membership `m` names `agent` and `batch`.
    fn names(&self, m: Membership, agent: &str, batch: Option<&str>) -> bool {
        let batch_named = match batch {
            None => m.batch == NO_BATCH,
            Some(b) => self.batches.get(m.batch).is_some_and(|x| *x.name == *b),
        };
        batch_named && self.agents.get(m.agent).is_some_and(|a| *a.name == *agent)
    }

    /// [`Registry::join`], looking the names up.
    fn join_by_name(&mut self, agent: &str, batch: Option<&str>, ready: &mut Lanes) -> Membership {
        let agent = self.agent_or_new(agent);
        let batch = batch.map_or(NO_BATCH, |b| self.batch_or_new(b));
        if let Some(a) = self.agents.get_mut(agent) {
            a.calls = a.calls.saturating_add(1);
        }
        if let Some(b) = self.batches.get_mut(batch) {
            b.calls = b.calls.saturating_add(1);
        }
        let lane = match self.lane_ids.get(&(agent, batch)) {
            Some(lane) => *lane,
            None => self.open_lane(agent, batch, ready),
        };
        if let Some(l) = self.lanes.get_mut(lane) {
            l.calls = l.calls.saturating_add(1);
        }
        Membership { agent, batch, lane }
    }

    /// [`Registry::join`] again for a membership a live call still holds
    /// (a batch's previous call, whose agent and batch are the template's,
    /// so not even the names need comparing): the same counts, without
    /// looking up the names. `None`, and nothing counted, when no live
    /// call holds it.
    pub fn rejoin(&mut self, m: Membership) -> Option<Membership> {
        let lane = self
            .lanes
            .get_mut(m.lane)
            .filter(|l| l.calls > 0 && l.agent == m.agent && l.batch == m.batch)?;
        lane.calls = lane.calls.saturating_add(1);
        if let Some(a) = self.agents.get_mut(m.agent) {
            a.calls = a.calls.saturating_add(1);
        }
        if let Some(b) = self.batches.get_mut(m.batch) {
            b.calls = b.calls.saturating_add(1);
        }
        Some(m)
    }

    /// What a live call in `lane` holds: the lane's agent and batch (a
    /// call keeps only its lane, which names both).
    pub fn membership(&self, lane: LaneId) -> Membership {
        let (agent, batch) = self
            .lanes
            .get(lane)
            .map_or((u32::MAX, NO_BATCH), |l| (l.agent, l.batch));
        Membership { agent, batch, lane }
    }

    /// A live call that held `m` ended: forgets what nothing holds now.
    /// The call has left the ready queue already.
    pub fn leave(&mut self, m: Membership, ready: &mut Lanes) {
        let lane_empty = self.lanes.get_mut(m.lane).is_some_and(|l| {
            l.calls = l.calls.saturating_sub(1);
            l.calls == 0
        });
        if lane_empty {
            self.close_lane(m.lane, ready);
        }
        let agent_unheld = self.agents.get_mut(m.agent).is_some_and(|a| {
            a.calls = a.calls.saturating_sub(1);
            a.calls == 0 && !a.registered
        });
        if agent_unheld && let Some(a) = self.agents.remove(m.agent) {
            self.agent_ids.remove(&a.name);
        }
        let batch_unheld = self.batches.get_mut(m.batch).is_some_and(|b| {
            b.calls = b.calls.saturating_sub(1);
            b.calls == 0 && !b.paused
        });
        if batch_unheld {
            self.forget_batch(m.batch);
        }
    }

    /// Registers `agent` with a cap on calls in flight (none: no cap).
    pub fn register(&mut self, agent: &str, cap: Option<u32>, ready: &mut Lanes) {
        let id = self.agent_or_new(agent);
        if let Some(a) = self.agents.get_mut(id) {
            a.registered = true;
            a.cap = cap;
        }
        self.refresh_agent(id, ready);
    }

    /// Whether `agent` is registered.
    pub fn is_registered(&self, agent: &str) -> bool {
        self.agent_ids
            .get(agent)
            .and_then(|id| self.agents.get(*id))
            .is_some_and(|a| a.registered)
    }

    /// The number of a known batch.
    pub fn batch_id(&self, name: &str) -> Option<u32> {
        self.batch_ids.get(name).copied()
    }

    /// Pauses or resumes a known batch. A resumed batch that no live call
    /// names is forgotten.
    pub fn set_paused(&mut self, batch: u32, paused: bool, ready: &mut Lanes) {
        let Some(b) = self.batches.get_mut(batch) else {
            debug_assert!(false, "set_paused on an unknown batch");
            return;
        };
        b.paused = paused;
        if !paused && b.calls == 0 {
            self.forget_batch(batch);
            return;
        }
        let Some(b) = self.batches.get(batch) else {
            debug_assert!(false, "the batch vanished");
            return;
        };
        for &lane in &b.lanes {
            let eligible = paused_free(self.agents.get(self.membership(lane).agent), paused);
            ready.set_eligible(lane, eligible);
        }
    }

    /// A call of `batch` became ready (`true`) or stopped being ready
    /// without being handed out (`false`).
    pub fn ready_changed(&mut self, batch: u32, ready: bool) {
        if let Some(b) = self.batches.get_mut(batch) {
            b.ready = if ready {
                b.ready.saturating_add(1)
            } else {
                b.ready.saturating_sub(1)
            };
        }
    }

    /// A ready call of `agent` and `batch` was handed out; returns the
    /// agent's name.
    pub fn start_attempt(&mut self, agent: u32, batch: u32, ready: &mut Lanes) -> Option<Arc<str>> {
        if let Some(b) = self.batches.get_mut(batch) {
            b.ready = b.ready.saturating_sub(1);
            b.in_flight = b.in_flight.saturating_add(1);
        }
        let a = self.agents.get_mut(agent)?;
        a.in_flight = a.in_flight.saturating_add(1);
        let name = Arc::clone(&a.name);
        if !a.below_cap() {
            self.refresh_agent(agent, ready);
        }
        Some(name)
    }

    /// An attempt of `agent` and `batch` ended (reported or timed out).
    pub fn end_attempt(&mut self, agent: u32, batch: u32, ready: &mut Lanes) {
        if let Some(b) = self.batches.get_mut(batch) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
        let Some(a) = self.agents.get_mut(agent) else {
            debug_assert!(false, "an attempt of an unknown agent ended");
            return;
        };
        let was_saturated = !a.below_cap();
        a.in_flight = a.in_flight.saturating_sub(1);
        if was_saturated && a.below_cap() {
            self.refresh_agent(agent, ready);
        }
    }

    /// The number of a known agent.
    pub fn agent_id(&self, name: &str) -> Option<u32> {
        self.agent_ids.get(name).copied()
    }

    pub fn agent(&self, agent: u32) -> Option<&Agent> {
        self.agents.get(agent)
    }

    pub fn batch(&self, batch: u32) -> Option<&Batch> {
        self.batches.get(batch)
    }

    /// Known agents in name order, with their numbers.
    pub fn agents_by_name(&self) -> impl Iterator<Item = (u32, &Agent)> {
        self.agent_ids
            .values()
            .filter_map(|id| self.agents.get(*id).map(|a| (*id, a)))
    }

    /// Known batches in name order, with their numbers.
    pub fn batches_by_name(&self) -> impl Iterator<Item = (u32, &Batch)> {
        self.batch_ids
            .values()
            .filter_map(|id| self.batches.get(*id).map(|b| (*id, b)))
    }

    pub fn counts(&self) -> RegistryCounts {
        RegistryCounts {
            agents: self.agents.len(),
            batches: self.batches.len(),
            lanes: self.lanes.len(),
        }
    }

    /// Starts lane numbering over (the ready queue was emptied with it).
    pub fn clear_lanes(&mut self) {
        debug_assert_eq!(self.lanes.len(), 0, "lanes cleared while in use");
        self.lanes = Numbered::default();
        self.lane_ids = HashMap::default();
    }

    // ---- restore ------------------------------------------------------

    /// Makes an agent known as a snapshot recorded it.
    pub fn restore_agent(&mut self, name: &str, registered: bool, cap: Option<u32>) {
        let id = self.agent_or_new(name);
        if let Some(a) = self.agents.get_mut(id) {
            a.registered = registered;
            a.cap = cap;
        }
    }

    /// Makes a batch known as a snapshot recorded it.
    pub fn restore_batch(&mut self, name: &str, paused: bool) {
        let id = self.batch_or_new(name);
        if let Some(b) = self.batches.get_mut(id) {
            b.paused = paused;
        }
    }

    /// Counts an in-flight call of a restored engine.
    pub fn restore_in_flight(&mut self, agent: u32, batch: u32) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.in_flight = a.in_flight.saturating_add(1);
        }
        if let Some(b) = self.batches.get_mut(batch) {
            b.in_flight = b.in_flight.saturating_add(1);
        }
    }

    /// Forgets what a restore made known but nothing holds (a snapshot may
    /// list agents and batches that an older build kept forever), and sets
    /// every lane's eligibility.
    pub fn finish_restore(&mut self, ready: &mut Lanes) {
        let agents: Vec<u32> = self
            .agents
            .iter()
            .filter(|(_, a)| a.calls == 0 && !a.registered)
            .map(|(id, _)| id)
            .collect();
        for id in agents {
            if let Some(a) = self.agents.remove(id) {
                self.agent_ids.remove(&a.name);
            }
        }
        let batches: Vec<u32> = self
            .batches
            .iter()
            .filter(|(_, b)| b.calls == 0 && !b.paused)
            .map(|(id, _)| id)
            .collect();
        for id in batches {
            self.forget_batch(id);
        }
        for (lane, l) in self.lanes.iter() {
            ready.set_eligible(lane, self.eligible(l.agent, l.batch));
        }
    }

    // ---- internals ------------------------------------------------------

    fn agent_or_new(&mut self, name: &str) -> u32 {
        if let Some(id) = self.agent_ids.get(name) {
            return *id;
        }
        let name: Arc<str> = Arc::from(name);
        let id = self.agents.insert(Agent {
            name: Arc::clone(&name),
            registered: false,
            cap: None,
            in_flight: 0,
            calls: 0,
            lanes: Vec::new(),
        });
        self.agent_ids.insert(name, id);
        id
    }

    fn batch_or_new(&mut self, name: &str) -> u32 {
        if let Some(id) = self.batch_ids.get(name) {
            return *id;
        }
        let name: Arc<str> = Arc::from(name);
        let id = self.batches.insert(Batch {
            name: Arc::clone(&name),
            paused: false,
            calls: 0,
            ready: 0,
            in_flight: 0,
            lanes: Vec::new(),
        });
        self.batch_ids.insert(name, id);
        id
    }

    fn forget_batch(&mut self, batch: u32) {
        if let Some(b) = self.batches.remove(batch) {
            debug_assert!(b.lanes.is_empty(), "a forgotten batch has no lane");
            self.batch_ids.remove(&b.name);
        }
    }

    fn eligible(&self, agent: u32, batch: u32) -> bool {
        let paused = self.batches.get(batch).is_some_and(|b| b.paused);
        paused_free(self.agents.get(agent), paused)
    }

    fn open_lane(&mut self, agent: u32, batch: u32, ready: &mut Lanes) -> LaneId {
        let at_agent = self.agents.get(agent).map_or(0, |a| a.lanes.len());
        let at_batch = self.batches.get(batch).map_or(0, |b| b.lanes.len());
        let lane = self.lanes.insert(Lane {
            agent,
            batch,
            calls: 0,
            at_agent,
            at_batch,
        });
        if let Some(a) = self.agents.get_mut(agent) {
            a.lanes.push(lane);
        }
        if let Some(b) = self.batches.get_mut(batch) {
            b.lanes.push(lane);
        }
        self.lane_ids.insert((agent, batch), lane);
        ready.open_lane(lane, self.eligible(agent, batch));
        lane
    }

    /// Closes a lane no live call uses: O(1), by swapping it out of its
    /// owners' lane lists.
    fn close_lane(&mut self, lane: LaneId, ready: &mut Lanes) {
        let Some(l) = self.lanes.remove(lane) else {
            debug_assert!(false, "close_lane on an unknown lane");
            return;
        };
        self.lane_ids.remove(&(l.agent, l.batch));
        ready.close_lane(lane);
        if let Some(a) = self.agents.get_mut(l.agent) {
            a.lanes.swap_remove(l.at_agent);
            if let Some(moved) = a.lanes.get(l.at_agent)
                && let Some(m) = self.lanes.get_mut(*moved)
            {
                m.at_agent = l.at_agent;
            }
        }
        if let Some(b) = self.batches.get_mut(l.batch) {
            b.lanes.swap_remove(l.at_batch);
            if let Some(moved) = b.lanes.get(l.at_batch)
                && let Some(m) = self.lanes.get_mut(*moved)
            {
                m.at_batch = l.at_batch;
            }
        }
    }

    fn refresh_agent(&mut self, agent: u32, ready: &mut Lanes) {
        let Some(a) = self.agents.get(agent) else {
            debug_assert!(false, "refresh_agent on an unknown agent");
            return;
        };
        for &lane in &a.lanes {
            let batch = self.membership(lane).batch;
            let paused = self.batches.get(batch).is_some_and(|b| b.paused);
            ready.set_eligible(lane, paused_free(Some(a), paused));
        }
    }

    /// Checks the registry's own invariants and its counts against
    /// `calls`: per live call, its (agent, batch, lane).
    /// `calls`: per live call, its (agent, batch, lane); `in_flight`: the
    /// (agent, batch) of each call in flight; `ready`: the batch of each
    /// ready call.
    pub fn check(
        &self,
        calls: &[Membership],
        in_flight: &[(u32, u32)],
        ready: &[u32],
    ) -> Result<(), String> {
        let mut agent_calls: BTreeMap<u32, u32> = BTreeMap::new();
        let mut batch_calls: BTreeMap<u32, u32> = BTreeMap::new();
        let mut lane_calls: BTreeMap<u32, u32> = BTreeMap::new();
        for m in calls {
            *agent_calls.entry(m.agent).or_default() += 1;
            if m.batch != NO_BATCH {
                *batch_calls.entry(m.batch).or_default() += 1;
            }
            *lane_calls.entry(m.lane).or_default() += 1;
            if self.lane_ids.get(&(m.agent, m.batch)) != Some(&m.lane) {
                return Err(format!("a call's lane {} is not its owners'", m.lane));
            }
        }
        let mut flying: BTreeMap<u32, u32> = BTreeMap::new();
        let mut batch_flying: BTreeMap<u32, u32> = BTreeMap::new();
        for (a, b) in in_flight {
            *flying.entry(*a).or_default() += 1;
            *batch_flying.entry(*b).or_default() += 1;
        }
        let mut batch_ready: BTreeMap<u32, u32> = BTreeMap::new();
        for b in ready {
            *batch_ready.entry(*b).or_default() += 1;
        }
        for (id, a) in self.agents.iter() {
            let calls = agent_calls.get(&id).copied().unwrap_or(0);
            if a.calls != calls || (calls == 0 && !a.registered) {
                return Err(format!(
                    "agent {:?} counts {} calls, holds {calls}",
                    a.name, a.calls
                ));
            }
            if a.in_flight != flying.get(&id).copied().unwrap_or(0) {
                return Err(format!("agent {:?} in-flight count is off", a.name));
            }
            if self.agent_ids.get(&a.name) != Some(&id) {
                return Err(format!("agent {:?} is not under its name", a.name));
            }
        }
        for (id, b) in self.batches.iter() {
            let calls = batch_calls.get(&id).copied().unwrap_or(0);
            if b.calls != calls || (calls == 0 && !b.paused) {
                return Err(format!(
                    "batch {:?} counts {} calls, holds {calls}",
                    b.name, b.calls
                ));
            }
            let counts = (
                batch_ready.get(&id).copied().unwrap_or(0),
                batch_flying.get(&id).copied().unwrap_or(0),
            );
            if (b.ready, b.in_flight) != counts {
                return Err(format!(
                    "batch {:?} counts {} ready and {} in flight, holds {counts:?}",
                    b.name, b.ready, b.in_flight
                ));
            }
            if self.batch_ids.get(&b.name) != Some(&id) {
                return Err(format!("batch {:?} is not under its name", b.name));
            }
        }
        for (id, l) in self.lanes.iter() {
            if l.calls != lane_calls.get(&id).copied().unwrap_or(0) || l.calls == 0 {
                return Err(format!("lane {id} counts {} calls", l.calls));
            }
            let listed = self
                .agents
                .get(l.agent)
                .and_then(|a| a.lanes.get(l.at_agent));
            let in_batch = self
                .batches
                .get(l.batch)
                .and_then(|b| b.lanes.get(l.at_batch));
            if listed != Some(&id) || (l.batch != NO_BATCH && in_batch != Some(&id)) {
                return Err(format!("lane {id} is not where its owners list it"));
            }
        }
        let counts = self.counts();
        if (
            self.agent_ids.len(),
            self.batch_ids.len(),
            self.lane_ids.len(),
        ) != (counts.agents, counts.batches, counts.lanes)
        {
            return Err("name maps and entries disagree".to_owned());
        }
        Ok(())
    }
}

/// Whether a lane of `agent` in a batch that is `paused` or not may dial.
fn paused_free(agent: Option<&Agent>, paused: bool) -> bool {
    !paused && agent.is_none_or(Agent::below_cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &Registry, m: Membership) -> (String, Option<String>) {
        (
            r.agent(m.agent)
                .map(|a| a.name.to_string())
                .unwrap_or_default(),
            r.batch(m.batch).map(|b| b.name.to_string()),
        )
    }

    /// Under churn through more name pairs than the memo has slots, every
    /// join gets the pair's one live lane (its count is the number of
    /// live calls that named the pair) and its own names.
    #[test]
    fn recent_memberships_agree_with_the_names_under_churn() {
        let mut ready = Lanes::default();
        let mut r = Registry::default();
        let mut rand = crate::test_rng::xorshift(7);
        let mut live: Vec<(String, Option<String>, Membership)> = Vec::new();
        let mut held: BTreeMap<(String, Option<String>), u32> = BTreeMap::new();
        let mut reused = 0;
        for _ in 0..20_000 {
            if live.is_empty() || (rand(3) > 0 && live.len() < 100) {
                let agent = format!("agent-{}", rand(7));
                let batch = (rand(4) > 0).then(|| format!("b{}", rand(9)));
                let slot = recent_slot(&agent, batch.as_deref());
                let before = r.recent[slot];
                let m = r.join(&agent, batch.as_deref(), &mut ready);
                reused += usize::from(before == Some(m));
                assert_eq!(names(&r, m), (agent.clone(), batch.clone()));
                let n = held.entry((agent.clone(), batch.clone())).or_default();
                *n += 1;
                assert_eq!(r.lanes.get(m.lane).map(|l| l.calls), Some(*n));
                live.push((agent, batch, m));
            } else {
                let (agent, batch, m) = live.swap_remove(rand(live.len() as u64) as usize);
                r.leave(m, &mut ready);
                let key = (agent, batch);
                let n = held.get_mut(&key).unwrap();
                *n -= 1;
                if *n == 0 {
                    held.remove(&key);
                }
            }
        }
        assert!(reused > 1_000, "the memo was used {reused} times");
        for (_, _, m) in live {
            r.leave(m, &mut ready);
        }
        assert_eq!(
            r.counts(),
            RegistryCounts {
                agents: 0,
                batches: 0,
                lanes: 0
            }
        );
    }

    /// A recent membership is reused only for the same names on a live
    /// lane, and counted as a join by name counts it; once its names are
    /// forgotten and their numbers go to other names, the old names get
    /// memberships of their own.
    #[test]
    fn a_recent_membership_is_reused_only_by_name() {
        let mut ready = Lanes::default();
        let mut r = Registry::default();
        let first = r.join("a", Some("b"), &mut ready);
        assert_eq!(r.join("a", Some("b"), &mut ready), first);
        assert_eq!(r.lanes.get(first.lane).map(|l| l.calls), Some(2));
        assert_eq!(r.agent(first.agent).map(|a| a.calls), Some(2));
        let unbatched = r.join("a", None, &mut ready);
        assert_eq!((unbatched.agent, unbatched.batch), (first.agent, NO_BATCH));
        assert_ne!(unbatched.lane, first.lane);
        for m in [first, first, unbatched] {
            r.leave(m, &mut ready);
        }
        assert_eq!(
            r.counts(),
            RegistryCounts {
                agents: 0,
                batches: 0,
                lanes: 0
            }
        );
        // The numbers start over: "z" and "y" take the old names' numbers.
        r.register("z", None, &mut ready);
        let other = r.join("z", Some("y"), &mut ready);
        assert_eq!((other.agent, other.batch), (first.agent, first.batch));
        let again = r.join("a", Some("b"), &mut ready);
        assert_eq!(names(&r, again), ("a".into(), Some("b".into())));
        assert_ne!(again.lane, other.lane);
        let z = r.join("z", Some("y"), &mut ready);
        assert_eq!(z, other);
        assert_eq!(names(&r, z), ("z".into(), Some("y".into())));
        assert_eq!(r.lanes.get(other.lane).map(|l| l.calls), Some(2));
    }
}
