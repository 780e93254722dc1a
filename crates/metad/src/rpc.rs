//! Wire types of the internal routes between meta nodes (bincode bodies through the codec).
//!
//! ```text
//!  follower ── POST /internal/propose (Command) ──► leader: raft.client_write ──► Proposed
//!  follower ── POST /internal/read-index ─────────► leader: confirms leadership ──► read log id
//!  leader   ── POST /internal/raft/{append,vote,snapshot} ──► peer's openraft
//!  follower ── POST /internal/anti-entropy (meta_wire::AeRequest) ──► leader's anti-entropy service
//!           ◄── the bytes of the reply its call type names (decoded as that type)
//! ```

use serde::{Deserialize, Serialize};

use openraft::error::{ClientWriteError, ForwardToLeader, RaftError};
use openraft::{BasicNode, Raft};

use meta_api::Proposed;
use meta_model::{Command, NodeId};
use meta_store::storage::TypeConfig;
use meta_wire::AeError;

/// Path of openraft's AppendEntries RPC.
pub(crate) const RAFT_APPEND_PATH: &str = "/internal/raft/append";
/// Path of openraft's Vote RPC.
pub(crate) const RAFT_VOTE_PATH: &str = "/internal/raft/vote";
/// Path of openraft's InstallSnapshot RPC.
pub(crate) const RAFT_SNAPSHOT_PATH: &str = "/internal/raft/snapshot";
/// Path where followers forward commands to the leader.
pub(crate) const PROPOSE_PATH: &str = "/internal/propose";
/// Path where followers ask the leader for a linearizable read index.
pub(crate) const READ_INDEX_PATH: &str = "/internal/read-index";
/// Path where followers forward membership changes to the leader.
pub(crate) const MEMBERSHIP_PATH: &str = "/internal/membership";
/// Path where followers forward anti-entropy requests (soft state and task calls) to the leader.
pub(crate) const ANTI_ENTROPY_PATH: &str = "/internal/anti-entropy";
/// Path where a meta node answers its own status (the console's view of every meta node).
pub(crate) const STATUS_PATH: &str = "/internal/status";
/// Header carrying the cluster's shared secret on internal routes.
pub(crate) const CLUSTER_SECRET_HEADER: &str = "x-metad-cluster-secret";

/// Why the leader could not take a forwarded request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub(crate) enum ForwardError {
    /// The receiver is not the leader; it names the leader it knows of.
    #[error("not the leader (leader: {leader_id:?})")]
    NotLeader {
        /// The leader's ID, if known.
        leader_id: Option<NodeId>,
        /// The leader's address, if known.
        leader_addr: Option<String>,
    },
    /// The request is refused as such (e.g. removing the last meta node); retrying will not help.
    #[error("refused: {0}")]
    Refused(String),
    /// Raft failed (shutting down, storage error, quorum lost).
    #[error("raft: {0}")]
    Raft(String),
    /// The anti-entropy service refused the request as such.
    #[error(transparent)]
    AntiEntropy(AeError),
    /// The leader could not hear from a quorum in time (to confirm its leadership for a read):
    /// the cluster has no usable leader now, as if none were elected (503 to clients). Last, so
    /// the variants before it keep their encoding (bincode numbers variants by position): a
    /// node of an earlier build decodes every other answer as before.
    #[error("no quorum: {0}")]
    NoQuorum(String),
}

impl From<ForwardToLeader<NodeId, BasicNode>> for ForwardError {
    fn from(forward: ForwardToLeader<NodeId, BasicNode>) -> Self {
        ForwardError::NotLeader { leader_id: forward.leader_id, leader_addr: forward.leader_node.map(|n| n.addr) }
    }
}

/// Writes `command` through Raft on this node, which should be the leader; a follower answers
/// [`ForwardError::NotLeader`] with the leader it knows.
pub(crate) async fn write_as_leader(raft: &Raft<TypeConfig>, command: Command) -> Result<Proposed, ForwardError> {
    match raft.client_write(command).await {
        Ok(written) => Ok(Proposed { log_index: written.log_id.index, result: written.data }),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => Err(forward.into()),
        Err(error) => Err(ForwardError::Raft(error.to_string())),
    }
}
