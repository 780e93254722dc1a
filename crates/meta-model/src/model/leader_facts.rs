//! [`LeaderFacts`]: what only the leader knows when it proposes a command (its clock, its view of
//! data-node liveness), stamped into the log entry so every replica applies the same facts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::node::NodeId;
use crate::model::shard_group::Timestamp;

/// Facts the leader stamps into a command that needs them ([`crate::Command::Stamped`]). Rules
/// that depend on time or liveness read these, never the clock of whichever node received a
/// request (Raft leaves the clock out of the replicated state machine; the leader's is the one
/// every replica agrees to use).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderFacts {
    /// The leader's wall clock when it proposed the command, in nanoseconds since the epoch.
    pub now: Timestamp,
    /// Data nodes the leader's anti-entropy service judged online (heartbeating on time) then;
    /// `None` while it does not trust its view yet (grace period after a takeover).
    pub live_data_nodes: Option<BTreeSet<NodeId>>,
}
