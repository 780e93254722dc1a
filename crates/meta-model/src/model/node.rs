//! Data nodes and meta nodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Identifier of a node. Meta and data nodes draw from one counter, so an ID names one machine.
pub type NodeId = u64;

/// The label key that places a data node in a failure zone; owners are spread across zones.
pub const ZONE_LABEL: &str = "zone";

/// Lifecycle of a data node.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Serves reads and writes and receives new shards.
    Active,
    /// Being retired: keeps its shards until copies exist elsewhere, receives no new shards.
    Draining,
    /// Gone for good. Kept as a tombstone so its ID is never handed out again.
    Removed,
}

/// A data node as the replicated metadata knows it (liveness and inventory live off the log).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNode {
    /// The node's ID.
    pub id: NodeId,
    /// Address peers use for shard traffic.
    pub tcp_addr: String,
    /// Address of the node's HTTP API.
    pub http_addr: String,
    /// Lifecycle state.
    pub state: NodeState,
    /// Operator labels such as `zone` or `rack`.
    pub labels: BTreeMap<String, String>,
}

impl DataNode {
    /// The node's labels along a failure-domain hierarchy (`levels`, highest first), up to the
    /// first level it has no label for.
    pub fn domain(&self, levels: &[String]) -> Vec<String> {
        levels.iter().map_while(|level| self.labels.get(level).cloned()).collect()
    }

    /// The node's failure zone, if it carries a `zone` label.
    pub fn zone(&self) -> Option<&str> {
        self.labels.get(ZONE_LABEL).map(String::as_str)
    }

    /// Whether the node may receive new shards.
    pub fn is_active(&self) -> bool {
        self.state == NodeState::Active
    }

    /// Whether the node still counts as a member (active or draining).
    pub fn is_member(&self) -> bool {
        self.state != NodeState::Removed
    }
}

/// A meta node: a member of the Raft quorum that stores this metadata.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNode {
    /// The node's ID (also its Raft node ID).
    pub id: NodeId,
    /// Address of its HTTP API and Raft RPC endpoint.
    pub addr: String,
}
