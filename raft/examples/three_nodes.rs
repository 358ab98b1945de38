//! Three redial replicas on openraft in one process: submit two calls
//! through the leader, dial them, report one, then kill the leader and
//! dial again through the new one.
//!
//! `cd raft && cargo run --example three_nodes`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openraft::BasicNode;
use redial::{Command, Outcome};
use redial_raft::{Answer, Input, Network, NodeId, Raft, start_node};

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn leader(nodes: &BTreeMap<NodeId, Raft>) -> Result<Raft, Error> {
    for _ in 0..100 {
        for raft in nodes.values() {
            if let Some(id) = raft.metrics().borrow().current_leader
                && let Some(leader) = nodes.get(&id)
            {
                return Ok(leader.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("no leader".into())
}

/// Proposes `command` through the current leader; prints the answer.
async fn write(nodes: &BTreeMap<NodeId, Raft>, command: Command) -> Result<Answer, Error> {
    let raft = leader(nodes).await?;
    let response = raft.client_write(Input(command)).await?;
    println!("entry {}: {:?}", response.log_id.index, response.data);
    Ok(response.data)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Arc::new(
        openraft::Config {
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            ..Default::default()
        }
        .validate()?,
    );
    let network = Network::default();
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        nodes.insert(id, start_node(id, &network, config.clone()).await.raft);
    }
    let members: BTreeMap<NodeId, BasicNode> =
        (1..=3).map(|id| (id, BasicNode::default())).collect();
    nodes[&1].initialize(members).await?;

    // The leader's clock stamps each command.
    let now: DateTime<Utc> = "2026-03-09T09:00:00Z".parse()?;
    for n in ["+12125550100", "+12125550101"] {
        let body = format!(
            r#"{{"to_number": "{n}", "agent_id": "a", "number_of_retries": 1, "gap_between_retries": 0}}"#
        );
        write(
            &nodes,
            Command::Submit {
                now,
                body: body.into_bytes(),
            },
        )
        .await?;
    }
    let Answer::Dispatched(ids) = write(&nodes, Command::Dial { now, max: 2 }).await? else {
        return Err("a dial answers with attempts".into());
    };
    let attempt = ids.first().ok_or("two calls handed out")?.parse()?;
    write(
        &nodes,
        Command::Report {
            now,
            attempt,
            outcome: Outcome::NoAnswer,
        },
    )
    .await?;

    // Kill the leader: a new one is elected and the retry is handed out
    // once, by it.
    let old = leader(&nodes).await?;
    let old_id = old.metrics().borrow().id;
    old.shutdown().await?;
    network
        .0
        .lock()
        .map_err(|_| "network lock")?
        .remove(&old_id);
    nodes.remove(&old_id);
    println!("killed node {old_id}");
    let retry = write(&nodes, Command::Dial { now, max: 2 }).await?;
    println!("the retry after the leader change: {retry:?}");
    for raft in nodes.values() {
        raft.shutdown().await?;
    }
    Ok(())
}
