//! `GET /v1/console`: everything the operators' web console shows, in one reply, with a version
//! the next request passes back to wait for a change (long poll).

use serde::{Deserialize, Serialize};

use meta_model::{NodeId, NodeState, ShardGroupId, ShardId, Timestamp};

use crate::{CopyTaskInfo, DataNodeHealth, EntropyReport, NodeStatus};

/// `GET /v1/console` query.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleQuery {
    /// The `version` of the view the caller shows: the reply waits until the view differs from
    /// it, or `wait` passes (long poll). Without it the reply comes at once.
    #[serde(default)]
    pub after: Option<String>,
    /// How long to wait for a change (a duration such as `10s`; default 10s, at most 30s).
    #[serde(default)]
    pub wait: Option<String>,
    /// How many of the newest shard groups the shard map shows (default 24, at most 500); groups
    /// holding a shard with a problem are shown besides.
    #[serde(default)]
    pub groups: Option<u32>,
}

/// `GET /v1/console` reply.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleView {
    /// Identifies what the view shows, without its clocks (heartbeat ages, countdowns): pass it
    /// back as `after` to wait for the next change.
    pub version: String,
    /// The meta node that answered.
    pub answered_by: NodeId,
    /// When the answering node built the view (its wall clock, nanoseconds since the epoch).
    pub generated_at: Timestamp,
    /// The applied index of the answering node's metadata the view reflects.
    pub applied_index: u64,
    /// Every meta node (Raft voters and learners), as each answered for itself.
    pub meta_nodes: Vec<MetaNodeHealth>,
    /// Every data node in the metadata, with its health as the leader judges it.
    pub data_nodes: Vec<DataNodeView>,
    /// The leader's last anti-entropy report (`None` when no leader answered; see
    /// `entropy_error`).
    pub entropy: Option<EntropyReport>,
    /// Why there is no report.
    pub entropy_error: Option<String>,
    /// Copy and repair tasks kept in the metadata (open, failed and recently finished), newest
    /// first, with the progress their targets reported.
    pub tasks: Vec<CopyTaskInfo>,
    /// The newest shard groups, and every group holding a shard with a problem.
    pub shard_map: ShardMap,
}

/// A meta node as it answered for itself.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNodeHealth {
    /// Node ID.
    pub id: NodeId,
    /// Address.
    pub addr: String,
    /// A voter (else a learner catching up).
    pub voter: bool,
    /// Its own status (`None` when it did not answer; see `error`).
    pub status: Option<NodeStatus>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// A data node: what the metadata says and how the leader judges it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNodeView {
    /// Node ID.
    pub id: NodeId,
    /// HTTP address.
    pub addr: String,
    /// State in the metadata.
    pub state: NodeState,
    /// Shards the metadata names it an owner of.
    pub shards_owned: usize,
    /// The leader's judgement (liveness, last heartbeat, time until declared dead, version,
    /// hinted-handoff queues); `None` without a report.
    pub health: Option<DataNodeHealth>,
}

/// Shard groups against their owners.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    /// Live shard groups in the cluster.
    pub total_groups: usize,
    /// Shards in those groups.
    pub total_shards: usize,
    /// The groups shown: by database, retention policy, then newest first.
    pub groups: Vec<GroupRow>,
}

/// One shard group of the map.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// The policy's replication factor.
    pub replication_factor: u32,
    /// The group.
    pub group_id: ShardGroupId,
    /// Inclusive start of its time range (nanoseconds since the epoch).
    pub start: Timestamp,
    /// Exclusive end of its time range (nanoseconds since the epoch).
    pub end: Timestamp,
    /// Its shards.
    pub shards: Vec<ShardRow>,
}

/// One shard of the map.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRow {
    /// The shard.
    pub shard_id: ShardId,
    /// Its owners.
    pub owners: Vec<NodeId>,
    /// Nodes an open task is copying it to.
    pub copying_to: Vec<NodeId>,
    /// What the leader's last report found wrong with it (empty: nothing).
    pub problems: Vec<ShardProblem>,
}

/// What can be wrong with a shard, as the anti-entropy report names it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardProblem {
    /// Fewer live copies than its replication factor.
    UnderReplicated,
    /// No live copy anywhere.
    Unrecoverable,
    /// Owners hold copies with different points.
    Inconsistent,
    /// An owner lacks its copy.
    MissingOnOwner,
    /// Owners share a failure domain they could have avoided.
    MisReplicated,
    /// More live copies than its replication factor.
    OverReplicated,
}
