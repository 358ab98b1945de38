//! redial replicated with openraft: each node's state machine is a
//! `redial::Scheduler`, and the Raft log carries `redial::Command`s. The
//! leader stamps `now` into each command before it is proposed, so every
//! replica applies the same inputs and, redial being deterministic, holds
//! the same engine; a dial is a command, so calls are handed out only once
//! the command is committed, and a leader change can never hand out the
//! same attempt twice.
//!
//! Raft snapshots are redial snapshots (plus the answers given so far, for
//! the tests), so a lagging follower catches up from one. Logs, votes and
//! the network are in memory: three nodes in one process, as openraft's
//! own examples run them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::sync::Arc;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, LogState, RaftLogId, RaftLogReader, RaftSnapshotBuilder,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// A node's ID.
pub type NodeId = u64;

/// What a client asks of the cluster: a redial command whose `now` the
/// leader fills in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Input(pub redial::Command);

/// What the state machine answers, as the durable host prints it: the
/// accepted call, the rejection's status, the attempts handed out, or
/// whether an operation was done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// A submit was accepted as this call.
    Accepted(String),
    /// A submit was refused with this status.
    Rejected(u16),
    /// A batch upload: each call's answer, in order.
    Batch(Vec<Answer>),
    /// A dial handed out these attempts.
    Dispatched(Vec<String>),
    /// Another command: done, or refused.
    Done(bool),
    /// A Raft entry that is no command (blank, membership).
    None,
}

impl Answer {
    fn of(output: &redial::Output) -> Answer {
        match output {
            redial::Output::Submitted(Ok(a)) => Answer::Accepted(a.call.to_string()),
            redial::Output::Submitted(Err(r)) => Answer::Rejected(r.status),
            redial::Output::SubmittedBatch(answers) => Answer::Batch(
                answers
                    .iter()
                    .map(|a| match a {
                        Ok(a) => Answer::Accepted(a.call.to_string()),
                        Err(r) => Answer::Rejected(r.status),
                    })
                    .collect(),
            ),
            redial::Output::Dialed(Ok(d)) => {
                Answer::Dispatched(d.iter().map(|d| d.attempt_id().to_string()).collect())
            }
            redial::Output::Dialed(Err(_)) => Answer::Dispatched(Vec::new()),
            redial::Output::Done(r) => Answer::Done(r.is_ok()),
        }
    }
}

openraft::declare_raft_types!(
    /// The cluster's types.
    pub TypeConfig:
        D = Input,
        R = Answer,
);

/// A Raft node.
pub type Raft = openraft::Raft<TypeConfig>;

// ---- the log ----------------------------------------------------------

#[derive(Debug, Default)]
struct LogInner {
    last_purged: Option<LogId<NodeId>>,
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    committed: Option<LogId<NodeId>>,
    vote: Option<Vote<NodeId>>,
}

/// The Raft log, votes and commit index, in memory.
#[derive(Clone, Debug, Default)]
pub struct LogStore(Arc<Mutex<LogInner>>);

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        let log = self.0.lock().await;
        Ok(log.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let log = self.0.lock().await;
        let last = log.entries.values().next_back().map(|e| *e.get_log_id());
        Ok(LogState {
            last_purged_log_id: log.last_purged,
            last_log_id: last.or(log.last_purged),
        })
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.0.lock().await.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.0.lock().await.committed)
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.0.lock().await.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.0.lock().await.vote)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>>,
    {
        let mut log = self.0.lock().await;
        for e in entries {
            log.entries.insert(e.get_log_id().index, e);
        }
        // In memory, written is durable.
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut log = self.0.lock().await;
        log.entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut log = self.0.lock().await;
        let rest = log.entries.split_off(&(log_id.index + 1));
        log.entries = rest;
        log.last_purged = Some(log_id);
        Ok(())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }
}

// ---- the state machine ------------------------------------------------

/// What a snapshot carries: the redial snapshot and the answers so far.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    engine: String,
    answers: BTreeMap<u64, Answer>,
}

/// The replicated engine and the Raft bookkeeping around it.
#[derive(Debug)]
pub struct Machine {
    /// The engine every replica holds.
    pub engine: redial::Scheduler,
    /// The last Raft entry applied.
    pub last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    /// Every answer given, by log index (test instrumentation: it grows
    /// with the log).
    pub answers: BTreeMap<u64, Answer>,
    current: Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>,
    snapshots: u64,
    /// Snapshots installed from the leader (a lagging follower's catch-up).
    pub installed: u64,
}

/// A node's state machine, shared with the test that inspects it.
#[derive(Clone, Debug)]
pub struct StateMachine(pub Arc<Mutex<Machine>>);

impl StateMachine {
    /// A new, empty engine.
    pub fn new() -> StateMachine {
        let engine = redial::Scheduler::new(redial::Config::default())
            .unwrap_or_else(|e| panic!("the default configuration is valid: {e}"));
        StateMachine(Arc::new(Mutex::new(Machine {
            engine,
            last_applied: None,
            membership: StoredMembership::default(),
            answers: BTreeMap::new(),
            current: None,
            snapshots: 0,
            installed: 0,
        })))
    }
}

impl Default for StateMachine {
    fn default() -> Self {
        StateMachine::new()
    }
}

fn io_error(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::read_state_machine(&e).into()
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let mut m = self.0.lock().await;
        let data = SnapshotData {
            engine: String::from_utf8(m.engine.snapshot().to_bytes()).map_err(io_error)?,
            answers: m.answers.clone(),
        };
        let bytes = serde_json::to_vec(&data).map_err(io_error)?;
        m.snapshots += 1;
        let id = match m.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, m.snapshots),
            None => format!("--{}", m.snapshots),
        };
        let meta = SnapshotMeta {
            last_log_id: m.last_applied,
            last_membership: m.membership.clone(),
            snapshot_id: id,
        };
        m.current = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let m = self.0.lock().await;
        Ok((m.last_applied, m.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Answer>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
    {
        let mut m = self.0.lock().await;
        let mut answers = Vec::new();
        for entry in entries {
            m.last_applied = Some(entry.log_id);
            let answer = match entry.payload {
                EntryPayload::Blank => Answer::None,
                EntryPayload::Normal(Input(command)) => {
                    let output = m.engine.apply_owned(command);
                    // Replicas drain events as a host would; the history
                    // consumer reads them from the leader.
                    while m.engine.poll_event().is_some() {}
                    Answer::of(&output)
                }
                EntryPayload::Membership(mem) => {
                    m.membership = StoredMembership::new(Some(entry.log_id), mem);
                    Answer::None
                }
            };
            m.answers.insert(entry.log_id.index, answer.clone());
            answers.push(answer);
        }
        Ok(answers)
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        let data: SnapshotData = serde_json::from_slice(&bytes).map_err(io_error)?;
        let snapshot = redial::Snapshot::from_bytes(data.engine.as_bytes()).map_err(io_error)?;
        let engine = redial::Scheduler::restore(snapshot).map_err(io_error)?;
        let mut m = self.0.lock().await;
        m.engine = engine;
        m.answers = data.answers;
        m.last_applied = meta.last_log_id;
        m.membership = meta.last_membership.clone();
        m.current = Some((meta.clone(), bytes));
        m.installed += 1;
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let m = self.0.lock().await;
        Ok(m.current.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.clone())),
        }))
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }
}

// ---- the network --------------------------------------------------------

/// The nodes that are up, by ID: an RPC to any other is unreachable.
#[derive(Clone, Default)]
pub struct Network(pub Arc<std::sync::Mutex<BTreeMap<NodeId, Raft>>>);

impl Network {
    fn node(&self, id: NodeId) -> Option<Raft> {
        self.0.lock().ok().and_then(|nodes| nodes.get(&id).cloned())
    }
}

fn unreachable<E: std::error::Error>(target: NodeId) -> RPCError<NodeId, BasicNode, E> {
    let e = std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        format!("node {target} is down"),
    );
    RPCError::Unreachable(Unreachable::new(&e))
}

/// A connection to one node.
pub struct Connection {
    network: Network,
    target: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Connection {
        Connection {
            network: self.clone(),
            target,
        }
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        req: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let Some(node) = self.network.node(self.target) else {
            return Err(unreachable(self.target));
        };
        node.append_entries(req)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        req: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let Some(node) = self.network.node(self.target) else {
            return Err(unreachable(self.target));
        };
        node.install_snapshot(req)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        req: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let Some(node) = self.network.node(self.target) else {
            return Err(unreachable(self.target));
        };
        node.vote(req)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// A node: its Raft handle and its state machine.
#[derive(Clone)]
pub struct Node {
    /// The Raft handle.
    pub raft: Raft,
    /// Its state machine (for inspection).
    pub machine: StateMachine,
}

/// Starts node `id` on `network` with a fresh log and engine.
pub async fn start_node(id: NodeId, network: &Network, config: Arc<openraft::Config>) -> Node {
    let machine = StateMachine::new();
    let raft = Raft::new(
        id,
        config,
        network.clone(),
        LogStore::default(),
        machine.clone(),
    )
    .await
    .unwrap_or_else(|e| panic!("node {id} starts: {e}"));
    if let Ok(mut nodes) = network.0.lock() {
        nodes.insert(id, raft.clone());
    }
    Node { raft, machine }
}
