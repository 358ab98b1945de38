//! Three redial replicas on openraft, in one process: a stream of submits,
//! dials, reports and timeouts goes to whichever node leads, while the
//! leader is killed at random points; each time a new leader is elected
//! and a fresh node replaces the dead one, catching up from a redial
//! snapshot because the log it would need is purged. Checks: every
//! acknowledged command is applied with the acknowledged answer on every
//! replica; no attempt is handed out twice over the cluster's life; all
//! replicas' engines are byte-identical at the same log index.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use openraft::{BasicNode, Config, SnapshotPolicy};
use redial::{AttemptId, Command, Outcome};
use redial_raft::{Answer, Input, Network, Node, NodeId, start_node};

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

fn config() -> Arc<Config> {
    let config = Config {
        cluster_name: "redial".into(),
        heartbeat_interval: 40,
        election_timeout_min: 150,
        election_timeout_max: 300,
        // Snapshot often and keep little log, so a new node must install
        // a snapshot to catch up.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(30),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Config::default()
    };
    Arc::new(config.validate().unwrap())
}

struct Cluster {
    network: Network,
    nodes: BTreeMap<NodeId, Node>,
    next_id: NodeId,
}

impl Cluster {
    async fn leader(&self) -> (NodeId, Node) {
        for _ in 0..200 {
            for node in self.nodes.values() {
                let leader = node.raft.metrics().borrow().current_leader;
                if let Some(id) = leader
                    && let Some(n) = self.nodes.get(&id)
                    && n.raft.metrics().borrow().current_leader == Some(id)
                {
                    return (id, n.clone());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no leader elected");
    }

    /// Kills the leader, waits for a new one, and replaces the dead node
    /// with a fresh one that catches up.
    async fn kill_leader(&mut self) -> NodeId {
        let (dead, node) = self.leader().await;
        node.raft.shutdown().await.unwrap();
        self.network.0.lock().unwrap().remove(&dead);
        self.nodes.remove(&dead);
        let (_, leader) = self.leader().await;
        let id = self.next_id;
        self.next_id += 1;
        let fresh = start_node(id, &self.network, config()).await;
        self.nodes.insert(id, fresh);
        leader
            .raft
            .add_learner(id, BasicNode::default(), true)
            .await
            .unwrap();
        let voters: BTreeSet<NodeId> = self.nodes.keys().copied().collect();
        leader.raft.change_membership(voters, false).await.unwrap();
        dead
    }
}

fn now_after(t: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    t + TimeDelta::try_seconds(seconds as i64).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_survive_leader_kills_and_never_hand_out_twice() {
    let network = Network::default();
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        nodes.insert(id, start_node(id, &network, config()).await);
    }
    let members: BTreeMap<NodeId, BasicNode> =
        (1..=3).map(|id| (id, BasicNode::default())).collect();
    nodes[&1].raft.initialize(members).await.unwrap();
    let mut cluster = Cluster {
        network,
        nodes,
        next_id: 4,
    };
    let mut rng = Rng(14);
    // The leader's clock: it stamps `now` into each command it proposes.
    let mut clock: DateTime<Utc> = "2026-03-09T09:00:00Z".parse().unwrap();
    let mut acked: BTreeMap<u64, Answer> = BTreeMap::new();
    let mut handed_out: BTreeSet<String> = BTreeSet::new();
    let mut in_flight: Vec<AttemptId> = Vec::new();
    let mut kills = 0;
    let mut failed_writes = 0;
    // Kills at random steps, each while a write is in flight: 5 by
    // default, `RAFT_KILLS=50 cargo test` for more.
    let planned: u64 = std::env::var("RAFT_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(5);
    let kill_at: BTreeSet<u64> = (0..planned).map(|k| 50 + k * 110 + rng.below(60)).collect();
    for step in 0..(planned * 110 + 100) {
        clock = now_after(clock, rng.below(90));
        let now = clock;
        let command = match rng.below(10) {
            0..=3 => {
                let body = format!(
                    r#"{{"to_number": "+1212555{:04}", "agent_id": "a{}", "number_of_retries": 2, "gap_between_retries": 1}}"#,
                    rng.below(10_000),
                    rng.below(3)
                );
                Command::Submit {
                    now,
                    body: body.into_bytes(),
                }
            }
            4..=6 => Command::Dial {
                now,
                max: 1 + rng.below(3) as u32,
            },
            7..=8 if !in_flight.is_empty() => {
                let i = rng.below(in_flight.len() as u64) as usize;
                Command::Report {
                    now,
                    attempt: in_flight.swap_remove(i),
                    outcome: [Outcome::NoAnswer, Outcome::Completed][rng.below(2) as usize],
                }
            }
            _ => Command::HandleTimeout { now },
        };
        let (_, leader) = cluster.leader().await;
        let write = tokio::spawn(async move { leader.raft.client_write(Input(command)).await });
        if kill_at.contains(&step) {
            // Often before the write commits (tokio's timer is too coarse
            // for this: yield a few times instead).
            for _ in 0..rng.below(4) {
                tokio::task::yield_now().await;
            }
            cluster.kill_leader().await;
            kills += 1;
        }
        match write.await.unwrap() {
            Ok(response) => {
                if let Answer::Dispatched(ids) = &response.data {
                    for id in ids {
                        assert!(handed_out.insert(id.clone()), "{id} handed out twice");
                        in_flight.push(id.parse().unwrap());
                    }
                }
                acked.insert(response.log_id.index, response.data);
            }
            // The leader changed under the write: not acknowledged.
            Err(_) => failed_writes += 1,
        }
    }
    assert_eq!(kills, planned);
    assert!(
        acked.len() as u64 > planned * 100,
        "{} acknowledged, {failed_writes} failed",
        acked.len()
    );
    assert!(handed_out.len() > 50, "{}", handed_out.len());

    // Let every replica apply everything (metrics may lag the state
    // machines; read the machines), then compare them.
    let target = *acked.keys().next_back().unwrap();
    let mut last = 0;
    for _ in 0..400 {
        let mut applied = Vec::new();
        for node in cluster.nodes.values() {
            applied.push(
                node.machine
                    .0
                    .lock()
                    .await
                    .last_applied
                    .map_or(0, |l| l.index),
            );
        }
        if applied.iter().all(|a| *a == applied[0] && *a >= target) {
            last = applied[0];
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(last >= target, "replicas did not catch up to {target}");
    let mut engines = Vec::new();
    let mut installed = 0;
    for (id, node) in &cluster.nodes {
        let m = node.machine.0.lock().await;
        assert_eq!(m.last_applied.map(|l| l.index), Some(last), "node {id}");
        for (index, answer) in &acked {
            assert_eq!(
                m.answers.get(index),
                Some(answer),
                "node {id}, entry {index}"
            );
        }
        installed += m.installed;
        engines.push(m.engine.snapshot().to_bytes());
    }
    assert!(engines.windows(2).all(|w| w[0] == w[1]), "replicas differ");
    // Over the whole committed history, acknowledged or not, no attempt
    // was handed out twice.
    let history = cluster
        .nodes
        .values()
        .next()
        .unwrap()
        .machine
        .0
        .lock()
        .await
        .answers
        .clone();
    let mut every = BTreeSet::new();
    for answer in history.values() {
        if let Answer::Dispatched(ids) = answer {
            for id in ids {
                assert!(every.insert(id.clone()), "{id} handed out twice in the log");
            }
        }
    }
    assert!(every.len() >= handed_out.len());
    // The nodes that replaced the dead ones caught up from snapshots.
    assert!(installed >= 1, "no snapshot was installed");
    eprintln!(
        "{} acknowledged commands, {} attempts handed out, {kills} leader kills, {failed_writes} writes lost to a leader change, {installed} snapshots installed",
        acked.len(),
        handed_out.len()
    );
    for node in cluster.nodes.values() {
        node.raft.shutdown().await.unwrap();
    }
}
