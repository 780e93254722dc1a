//! Registration and heartbeats.
//!
//! ```text
//!  unregistered ──(GET /v1/data-nodes lists a member with our address)──▶ registered(id)
//!       ▲                                                                    │
//!       │                                               heartbeat every interval
//!       └── refused: 409 address_mismatch (update-data moved the ID),        │
//!           409 data_node_not_active (removed), 404, or reply state removed ─┘
//! ```
//! While unregistered the node keeps serving peers but neither heartbeats nor claims tasks.

use std::sync::Arc;
use std::time::Duration;

use meta_client::ClientError;
use meta_model::{DataNode, NodeId, NodeState};
use meta_wire::{HeartbeatRequest, ShardReport};

use crate::node::Node;

/// Keeps the node registered and heartbeating, forever (until the task is aborted).
pub(crate) async fn run(node: Arc<Node>) {
    loop {
        let node_id = wait_for_registration(&node).await;
        node.set_node_id(Some(node_id));
        tracing::info!(node_id, addr = %node.advertise, "registered with the meta service");
        let reason = heartbeat_until_refused(&node, node_id).await;
        node.set_node_id(None);
        tracing::warn!(node_id, addr = %node.advertise, %reason, "no longer registered; waiting to be registered again");
    }
}

/// The member data node registered under `addr` (its HTTP or TCP address); the newest if several.
pub(crate) fn find_registration(nodes: &[DataNode], addr: &str) -> Option<NodeId> {
    nodes.iter().filter(|n| n.is_member() && (n.http_addr == addr || n.tcp_addr == addr)).map(|n| n.id).max()
}

/// Whether a heartbeat refusal means the node no longer speaks for its ID: the ID moved to
/// another address (`update-data`), the node was removed, or it is unknown.
fn refuses_registration(status: u16, code: &str) -> bool {
    status == 404 || (status == 409 && matches!(code, "address_mismatch" | "data_node_not_active"))
}

/// Polls the data-node list until an operator registers this node's address.
async fn wait_for_registration(node: &Node) -> NodeId {
    let mut told = false;
    loop {
        match node.client.data_nodes().await {
            Ok(nodes) => {
                if let Some(node_id) = find_registration(&nodes, &node.advertise) {
                    return node_id;
                }
                if node.config.register {
                    // What `metactl add-data ADDR` does, for orchestrators that start nodes
                    // unattended (compose, systemd). A node retired meanwhile is not re-added:
                    // its address is then free, and the operator decides.
                    match node.client.add_data_node(&node.advertise, None, Default::default()).await {
                        Ok(added) => {
                            tracing::info!(node_id = added.id, addr = %node.advertise, "registered itself (--register)");
                            return added.id;
                        }
                        Err(error) => tracing::warn!(%error, "cannot register with the meta service; retrying"),
                    }
                } else if !told {
                    tracing::info!(addr = %node.advertise, "waiting for `metactl add-data {}`", node.advertise);
                    told = true;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list data nodes; retrying"),
        }
        tokio::time::sleep(node.config.claim_interval).await;
    }
}

/// Heartbeats until the meta service refuses them; returns why.
async fn heartbeat_until_refused(node: &Node, node_id: NodeId) -> String {
    let mut interval = node.config.heartbeat_interval;
    // The inventory (and its version) the leader acknowledged last.
    let mut sent: Option<(u64, Vec<ShardReport>)> = None;
    let mut resend = true;
    loop {
        let now = meta_model::wall_clock();
        let mut version = node.store.inventory_version();
        let meta = node.cache.current();
        let usable = |header: &crate::shard_file::ShardHeader| {
            crate::orphans::is_cluster_shard(meta.as_ref().map(|m| &m.state), header)
        };
        let inventory = node.store.inventory(
            |shard| node.cache.is_hot(shard, now),
            usable,
            node.config.cold_after,
            std::time::SystemTime::now(),
        );
        if let Some((sent_version, sent_inventory)) = &sent {
            // A shard went cold without its file changing: that is a new inventory too.
            if *sent_version == version && *sent_inventory != inventory {
                version = node.store.bump_inventory_version();
            }
        }
        // While legacy files wait for migration the inventory would lack their shards: none is sent.
        let migrating = node.legacy_pending.load(std::sync::atomic::Ordering::SeqCst);
        let full = !migrating && (resend || sent.as_ref().is_none_or(|(v, _)| *v != version));
        let request = HeartbeatRequest {
            addr: node.advertise.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            inventory_version: version,
            inventory: full.then(|| inventory.clone()),
            handoff: node.handoff.reports(),
            orphans: crate::orphans::orphans(&node.store, meta.as_ref().map(|m| &m.state), &node.retirement.retiring()),
        };
        match node.client.heartbeat(node_id, &request).await {
            Ok(reply) => {
                node.heartbeat_answered(interval);
                if full {
                    tracing::debug!(node_id, inventory_version = version, shards = inventory.len(), "inventory sent");
                    sent = Some((version, inventory));
                }
                resend = reply.send_inventory;
                if reply.heartbeat_interval_ms > 0 {
                    interval = Duration::from_millis(reply.heartbeat_interval_ms);
                }
                if reply.state == NodeState::Removed {
                    return "the node was removed".to_owned();
                }
            }
            Err(ClientError::Api { status, code, message }) if refuses_registration(status, &code) => {
                return format!("heartbeat refused: {message} ({code}, HTTP {status})");
            }
            Err(error) => {
                tracing::warn!(node_id, %error, "heartbeat failed");
                resend = true;
            }
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_node(id: NodeId, addr: &str, state: NodeState) -> DataNode {
        DataNode { id, tcp_addr: addr.into(), http_addr: addr.into(), state, labels: Default::default() }
    }

    #[test]
    fn registration_is_found_by_address_among_members() {
        let nodes = vec![
            data_node(1, "h:1", NodeState::Removed),
            data_node(2, "h:2", NodeState::Active),
            data_node(4, "h:1", NodeState::Draining),
        ];
        assert_eq!(find_registration(&nodes, "h:1"), Some(4));
        assert_eq!(find_registration(&nodes, "h:2"), Some(2));
        assert_eq!(find_registration(&nodes[..1], "h:1"), None, "a removed node is not a registration");
        let mut split = data_node(5, "tcp:1", NodeState::Active);
        split.http_addr = "http:1".into();
        assert_eq!(find_registration(&[split.clone()], "tcp:1"), Some(5));
        assert_eq!(find_registration(&[split], "http:1"), Some(5));
    }

    #[test]
    fn refusals_that_end_a_registration() {
        assert!(refuses_registration(409, "address_mismatch"));
        assert!(refuses_registration(409, "data_node_not_active"));
        assert!(refuses_registration(404, "data_node_not_found"));
        assert!(!refuses_registration(409, "anti_entropy_disabled"));
        assert!(!refuses_registration(503, "no_leader"));
    }
}
