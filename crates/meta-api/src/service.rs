//! The API's view of a meta node: what the handlers need, implemented by `metad` over Raft.

use std::future::Future;
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use meta_model::{Command, CommandResult, MetaState, NodeId};
use meta_wire::{AeCall, AeError, MetaNodeHealth, NodeStatus};

/// Why a request could not be served by the cluster right now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No leader is known (election in progress, or this node is cut off from the quorum).
    #[error("no raft leader is available; retry shortly")]
    NoLeader,
    /// The cluster did not answer in time.
    #[error("the cluster did not answer within {0:?}")]
    Timeout(Duration),
    /// The cluster refused the request as such (e.g. removing the last meta node).
    #[error("{0}")]
    Refused(String),
    /// Raft or the network failed; the message is logged, the client sees a generic error.
    #[error("internal error: {0}")]
    Internal(String),
    /// The anti-entropy service refused the request as such.
    #[error(transparent)]
    AntiEntropy(#[from] AeError),
}

/// What the HTTP handlers need from a meta node.
pub trait MetaService: Send + Sync + 'static {
    /// Commits `command` through Raft (forwarding it to the leader when this node is not) and
    /// returns its result once it is applied on this node.
    fn propose(&self, command: Command) -> impl Future<Output = Result<Proposed, ServiceError>> + Send;

    /// Changes the meta nodes (Raft voters) through the leader; returns the ID added or removed.
    fn change_membership(&self, change: MembershipChange) -> impl Future<Output = Result<NodeId, ServiceError>> + Send;

    /// Returns once this node's state reflects every write committed before the call.
    fn read_barrier(&self) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Returns once the applied index exceeds `index`, or after `wait`, whichever is first.
    fn wait_applied_beyond(&self, index: u64, wait: Duration) -> impl Future<Output = ()> + Send;

    /// Runs `read` over this node's applied metadata and the index of the last entry applied
    /// (`0` before any), consistent for its duration.
    fn read<R>(&self, read: impl FnOnce(&MetaState, u64) -> R) -> R;

    /// Commands applied by this node's state machine since it started, and the seconds applying
    /// them took (for `/metrics`).
    fn apply_counters(&self) -> (u64, f64);

    /// Raft-level status of this node.
    fn status(&self) -> NodeStatus;

    /// Every meta node (voters, then learners) as it answers for itself: this node from its own
    /// status, the others over the network within a short timeout (an unreachable one carries
    /// the error instead).
    fn meta_node_health(&self) -> impl Future<Output = Vec<MetaNodeHealth>> + Send;

    /// Has the leader's anti-entropy service answer `call` (forwarding it there when this node
    /// does not lead); the reply is the one the call's type names.
    fn anti_entropy<C: AeCall>(&self, call: C) -> impl Future<Output = Result<C::Reply, ServiceError>> + Send;

    /// Metrics of the node's own services in Prometheus text format: its write batching and, on
    /// the leader, anti-entropy.
    fn node_metrics(&self, registry: &mut Registry);
}

/// A command applied through Raft: where it landed in the log and what applying it returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposed {
    /// The log index of the entry.
    pub log_index: u64,
    /// The state machine's result (identical on every replica).
    pub result: CommandResult,
}

/// A change of the meta nodes (the Raft voters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add the meta node serving at `addr`: it joins as a learner, catches up, then votes.
    Add {
        /// The new node's address; its ID is what the node itself reports.
        addr: String,
    },
    /// Remove a voter.
    Remove {
        /// The node to remove.
        node_id: NodeId,
    },
}
