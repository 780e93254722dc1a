//! `GET /v1/console`: everything the operators' web console shows, in one reply, with a version
//! the next request passes back to wait for a change (long poll).

use serde::{Deserialize, Serialize};

use meta_model::{NodeId, NodeState, ShardGroupId, ShardId, Timestamp};

use crate::{CopyTaskInfo, Liveness, NodeStatus};

/// `GET /v1/console` query.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleQuery {
    /// The `version` of the view the caller shows: the reply waits until the view differs from
    /// it, or `wait` passes (long poll). Without it the reply comes at once.
    #[serde(default)]
    pub after: Option<String>,
    /// How long to wait for a change (a duration such as `10s`; default 10s; longer waits are
    /// cut to 30s).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::formats::Duration>))]
    pub wait: Option<String>,
    /// How many of the newest shard groups the shard map shows (default 24, at most 500); groups
    /// holding a shard with a problem are shown besides.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(maximum = 500))]
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
    /// The leader's last anti-entropy findings, counted (`None` when no leader answered; see
    /// `entropy_error`; `metactl entropy show` lists them).
    pub entropy: Option<EntropySummary>,
    /// Why there is no report.
    pub entropy_error: Option<String>,
    /// The newest copy and repair tasks kept in the metadata (open, failed and recently
    /// finished; at most 200), newest first, with the progress their targets reported.
    pub tasks: Vec<CopyTaskInfo>,
    /// Tasks kept in the metadata in all, and how many of them are open.
    pub task_counts: TaskCounts,
    /// The newest shard groups, and groups holding a shard with a problem (up to 200 of those).
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
    /// Shards the metadata names it an owner of (those of deleted groups not yet pruned too).
    pub shards_owned: usize,
    /// How the leader judges it (`None` without a report, or when the report does not name it).
    pub liveness: Option<Liveness>,
    /// Milliseconds since its last heartbeat reached the leader.
    pub last_heartbeat_ms: Option<u64>,
    /// Milliseconds until it is declared dead if it stays silent (`None`: never, or dead).
    pub dead_in_ms: Option<u64>,
    /// The software version it reported.
    pub version: Option<String>,
    /// Shards in its last inventory.
    pub shards_reported: Option<usize>,
    /// Its hinted-handoff queues: writes it holds for owners that could not take them.
    pub handoff: Vec<HandoffView>,
}

/// One hinted-handoff queue of a data node.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffView {
    /// The owner the queued writes are for.
    pub target: NodeId,
    /// Writes queued.
    pub entries: u64,
    /// Bytes queued.
    pub bytes: u64,
    /// Writes dropped for the target (over the queue's limits).
    pub dropped_entries: u64,
}

/// The leader's anti-entropy findings, counted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntropySummary {
    /// The leader that reported.
    pub leader_id: NodeId,
    /// Whether the leader trusts liveness and inventories yet (its grace period is over).
    pub trusted: bool,
    /// When the last plan ran (nanoseconds since the epoch).
    pub planned_at: Option<Timestamp>,
    /// How long it took, in microseconds.
    pub plan_micros: Option<u64>,
    /// Shards with fewer live copies than their replication factor.
    pub under_replicated: usize,
    /// Shards with no live copy anywhere.
    pub unrecoverable: usize,
    /// Shards whose owners hold copies with different points.
    pub inconsistent: usize,
    /// Owners lacking a shard they own.
    pub missing_on_owner: usize,
    /// Shards whose owners share a failure domain they could have avoided.
    pub mis_replicated: usize,
    /// Shards with more live copies than their replication factor.
    pub over_replicated: usize,
    /// Shards whose replication factor exceeds the nodes that could hold a copy.
    pub insufficient_nodes: usize,
}

/// How many tasks the metadata keeps.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    /// Every kept task.
    pub kept: usize,
    /// Pending or claimed.
    pub open: usize,
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
    /// Nodes an open task is copying it to (its pending owners).
    pub copying_to: Vec<NodeId>,
    /// What the leader's last report found wrong with it (empty: nothing).
    pub problems: Vec<ShardProblem>,
}

/// What can be wrong with a shard, as the anti-entropy report names it, worst first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardProblem {
    /// No live copy anywhere.
    Unrecoverable,
    /// Owners hold copies with different points.
    Inconsistent,
    /// Fewer live copies than its replication factor.
    UnderReplicated,
    /// An owner lacks its copy.
    MissingOnOwner,
    /// Owners share a failure domain they could have avoided.
    MisReplicated,
    /// More live copies than its replication factor.
    OverReplicated,
}
