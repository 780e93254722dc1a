//! The API's view of a meta node: what the handlers need, implemented by `metad` over Raft.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use meta_store::storage::SharedState;
use meta_store::{Command, NodeId};

use crate::rpc::Proposed;

/// Why a request could not be served by the cluster right now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// No leader is known (election in progress, or this node is cut off from the quorum).
    #[error("no raft leader is available; retry shortly")]
    NoLeader,
    /// The cluster did not answer in time.
    #[error("the cluster did not answer within {0:?}")]
    Timeout(Duration),
    /// Raft or the network failed; the message is logged, the client sees a generic error.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Raft-level facts about this node, for `/v1/status`, `/ready` and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// This node's ID.
    pub node_id: NodeId,
    /// Leader, follower, candidate or learner.
    pub raft_state: String,
    /// The current leader, if known.
    pub leader_id: Option<NodeId>,
    /// The current term.
    pub term: u64,
    /// Index of the last log entry.
    pub last_log_index: Option<u64>,
    /// Index of the last entry known committed (replicated to a quorum).
    pub committed_index: Option<u64>,
    /// Index of the last entry applied to the state machine.
    pub applied_index: Option<u64>,
    /// Voting members with their addresses.
    pub voters: Vec<MemberStatus>,
    /// Non-voting members (catching up) with their addresses.
    pub learners: Vec<MemberStatus>,
}

/// A Raft member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberStatus {
    /// Node ID.
    pub id: NodeId,
    /// Address.
    pub addr: String,
}

/// What the HTTP handlers need from a meta node.
pub trait MetaService: Send + Sync + 'static {
    /// Commits `command` through Raft (forwarding it to the leader when this node is not) and
    /// returns its result once it is applied on this node.
    fn propose(&self, command: Command) -> impl Future<Output = Result<Proposed, ServiceError>> + Send;

    /// Returns once this node's state reflects every write committed before the call.
    fn read_barrier(&self) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// Returns once the applied index exceeds `index`, or after `wait`, whichever is first.
    fn wait_applied_beyond(&self, index: u64, wait: Duration) -> impl Future<Output = ()> + Send;

    /// The applied metadata of this node.
    fn state(&self) -> &SharedState;

    /// Raft-level status of this node.
    fn status(&self) -> NodeStatus;
}
