//! The JSON bodies of the meta service's `/v1` API, shared by the server (`meta-api`) and its
//! clients (`meta-client`, `metactl`, data nodes), so both sides agree by construction.
//! Requests refuse unknown fields; durations are strings such as `0`, `1h`, `7d`, `4w`.
//!
//! ```
//! let request: meta_wire::AddDataNodeRequest =
//!     serde_json::from_str(r#"{"tcp_addr": "data-1:8088"}"#).expect("valid");
//! assert_eq!(request.http_addr, None);
//! ```

mod ae_calls;
mod anti_entropy;
mod backup;
mod console;
mod data_node;
pub mod formats;
mod metadata;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use ae_calls::{
    AeCall, AeError, AeHandler, AeRequest, CompleteTask, FailTask, GetReport, GetTask, Heartbeat, KillTask,
    ReplyEncoder, ReportProgress,
};
pub use anti_entropy::{
    BalanceState, BalanceView, ClaimReply, ClaimRequest, ClaimedTask, CompleteRequest, ContentDifference,
    ContentReport, CopyContent, CopyShardRequest, CopyTaskInfo, CopyTaskList, CopyTasksQuery, DataNodeHealth,
    EntropyReport, FailRequest, HandoffQueueReport, HeartbeatReply, HeartbeatRequest, LifecycleSummary, Liveness,
    LoadVerdict, MisReplicatedShard, MissingCopy, NodeLoad, OrphanShardFile, ProgressReply, ProgressRequest,
    RepairReply, RepairRequest, ShardHealth, ShardReport, TaskProgress,
};
pub use backup::{decode_backup, encode_backup, Backup, BackupError, BackupHeader, BACKUP_FORMAT, BACKUP_VERSION};
pub use console::{
    ConsoleQuery, ConsoleView, DataNodeView, EntropySummary, GroupRow, HandoffView, MetaNodeHealth, ShardMap,
    ShardProblem, ShardRow, TaskCounts,
};
pub use data_node::{
    CompareReply, ContentReply, DataNodeStatus, DifferingRange, RetireReason, RetiringShard, ShardContent, ShardSummary,
};
use meta_model::{DataNode, MetaNode, NodeId, NodeState, ShardGroup, ShardGroupId, ShardId, Timestamp};
pub use metadata::Metadata;

/// `POST /v1/data-nodes`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDataNodeRequest {
    /// Address for shard traffic (`host:port`).
    #[cfg_attr(feature = "openapi", schema(value_type = formats::HostPort))]
    pub tcp_addr: String,
    /// HTTP address; defaults to `tcp_addr` (the reference data node serves both on one port).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::HostPort>))]
    pub http_addr: Option<String>,
    /// Labels such as `zone`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = formats::Labels))]
    pub labels: BTreeMap<String, String>,
}

/// `PUT /v1/data-nodes/{id}`: move a node ID to new addresses (`update-data`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataNodeRequest {
    /// New address for shard traffic.
    #[cfg_attr(feature = "openapi", schema(value_type = formats::HostPort))]
    pub tcp_addr: String,
    /// New HTTP address; defaults to `tcp_addr`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::HostPort>))]
    pub http_addr: Option<String>,
    /// New labels; absent keeps the current ones.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::Labels>))]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `PATCH /v1/data-nodes/{id}/labels` (`node-labels`): labels set and deleted in one step; the
/// node's other labels stay.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeLabelsRequest {
    /// Labels to set (added or replaced).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = formats::Labels))]
    pub set: BTreeMap<String, String>,
    /// Label keys to delete (a key the node lacks is no error).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<formats::LabelKey>))]
    pub delete: Vec<String>,
}

/// `PUT /v1/placement/failure-domains` (`failure-domains set`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureDomainsRequest {
    /// Data-node label keys, highest level first (at most 8; empty: placement by load alone):
    /// the field of `GET /v1/placement`, so what is read can be sent back.
    #[cfg_attr(feature = "openapi", schema(value_type = formats::FailureDomains))]
    pub failure_domains: Vec<String>,
}

/// `PUT /v1/placement/balance` (`balance enable|disable`): the fields given replace the
/// cluster's balance policy's ([`meta_model::BalancePolicy`]); the others keep their value.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceRequest {
    /// Whether anti-entropy moves shards to even out the data nodes' load.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// How far (percent of the mean, 0 to 100) a node's load may stray before shards move.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub tolerance_percent: Option<u32>,
    /// Most moves in flight at once in the cluster (1 to 1000).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_moves: Option<u32>,
}

/// `POST /v1/meta-nodes` (`add-meta`): the new meta node must be running (started with its own
/// `--node-id`, not yet part of any cluster).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMetaNodeRequest {
    /// The new node's address, HOST:PORT.
    #[cfg_attr(feature = "openapi", schema(value_type = formats::HostPort))]
    pub addr: String,
}

/// A retention policy as clients write it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicyRequest {
    /// Policy name.
    #[cfg_attr(feature = "openapi", schema(value_type = formats::Name))]
    pub name: String,
    /// How long data is kept (`0` or `inf` for forever).
    #[cfg_attr(feature = "openapi", schema(value_type = formats::RetentionDuration))]
    pub duration: String,
    /// Shard-group duration; absent picks InfluxDB's default for `duration`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::ShardDuration>))]
    pub shard_duration: Option<String>,
    /// Number of copies of every shard (at most the active data nodes, else `409`; 1 is always
    /// accepted).
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub replication: u32,
    /// Make it the database's default policy.
    #[serde(default)]
    pub default: bool,
}

/// `POST /v1/databases`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDatabaseRequest {
    /// Database name.
    #[cfg_attr(feature = "openapi", schema(value_type = formats::Name))]
    pub name: String,
    /// Its first (default) retention policy.
    #[serde(default)]
    pub retention_policy: Option<RetentionPolicyRequest>,
}

/// `PATCH /v1/databases/{db}/retention-policies/{rp}`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterRetentionPolicyRequest {
    /// New retention (not shorter than the shard-group duration, else `400 invalid_duration`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::RetentionDuration>))]
    pub duration: Option<String>,
    /// New shard-group duration.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::ShardDuration>))]
    pub shard_duration: Option<String>,
    /// New replication factor (at most the active data nodes, else `409`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub replication: Option<u32>,
    /// Make it the default policy.
    #[serde(default)]
    pub default: bool,
}

/// `POST /v1/shard-groups`: the group covering `timestamp`, created when missing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateShardGroupRequest {
    /// Database name.
    pub database: String,
    /// Policy name; absent means the database's default policy.
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// The point's time in nanoseconds since the epoch. A time the policy does not take now
    /// (older than its retention, further ahead than the leader accepts, or in a shard-group
    /// window that would leave the representable range) is refused with `409`.
    #[cfg_attr(feature = "openapi", schema(value_type = formats::PointTime))]
    pub timestamp: Timestamp,
}

/// `POST /v1/truncate-shards`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruncateShardsRequest {
    /// How far in the future to truncate (default `1m`, as `influxd-ctl truncate-shards`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<formats::Duration>))]
    pub delay: Option<String>,
}

/// `DELETE /v1/data-nodes/{id}` reply: the node as it is now, and the shards the removal left
/// without any owner (only a forced removal of their last owner does that).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedDataNode {
    /// The node (removed, or draining).
    #[serde(flatten)]
    pub node: DataNode,
    /// Shards the node was the last owner of. Those that were written are lost unless the node
    /// comes back (anti-entropy reports them unrecoverable; writes to them are refused); those
    /// never written get new owners from anti-entropy.
    #[serde(default)]
    pub ownerless_shards: Vec<ShardId>,
}

/// `POST /v1/shards/written`: what a data node commits before it acknowledges the first write to
/// each of these shards.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkWrittenRequest {
    /// The shards written to (1 to [`MAX_MARKED_SHARDS`]).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10000))]
    pub shard_ids: Vec<ShardId>,
}

/// Most shards one `POST /v1/shards/written` may mark.
pub const MAX_MARKED_SHARDS: usize = 10_000;

/// `POST /v1/shards/{id}/owners`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddOwnerRequest {
    /// The new owner.
    pub node_id: NodeId,
}

/// A data node as listed by the API.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNodeList {
    /// The nodes, removed ones included.
    pub data_nodes: Vec<DataNode>,
}

/// The meta nodes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNodeList {
    /// The nodes recorded in the metadata.
    pub meta_nodes: Vec<MetaNode>,
}

/// An owner of a shard, as `show-shards` lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOwner {
    /// Node ID.
    pub id: NodeId,
    /// Its TCP address (empty when the node is unknown).
    pub tcp_addr: String,
    /// Its state.
    pub state: Option<NodeState>,
}

/// A shard with where it lives, as `show-shards` lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Shard ID.
    pub id: ShardId,
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// Desired number of copies (the policy's replication factor).
    pub replication_factor: u32,
    /// Shard group ID.
    pub shard_group: ShardGroupId,
    /// Start of the group's range.
    pub start: Timestamp,
    /// End of the group's range.
    pub end: Timestamp,
    /// When retention deletes the group (`None`: kept forever).
    pub expires: Option<Timestamp>,
    /// When the group was truncated.
    pub truncated_at: Option<Timestamp>,
    /// When the group was deleted.
    pub deleted_at: Option<Timestamp>,
    /// Where the shard's group stands: live, truncated, expired (awaiting the next retention
    /// check) or deleted (awaiting pruning), on the answering node's clock.
    #[serde(default)]
    pub status: GroupStatus,
    /// Whether the shard may hold data: a write to it was acknowledged (or it predates the marks).
    /// A shard never written gets new owners without a copy.
    #[serde(default = "written_by_default")]
    pub written: bool,
    /// Owners.
    pub owners: Vec<ShardOwner>,
}

/// Where a shard group stands in its lifecycle (`show-shards`' Status column).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    /// Takes points over its whole range.
    #[default]
    Live,
    /// Cut short by `truncate-shards`: later points of its range go to a new group.
    Truncated,
    /// Older than its policy keeps data: the next retention check deletes it.
    Expired,
    /// Deleted by retention: data nodes remove its files; pruned from the metadata later.
    Deleted,
}

/// Replies without `written` come from releases that did not know: the shard may hold data.
fn written_by_default() -> bool {
    true
}

/// `GET /v1/shards`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardList {
    /// The shards, by ID.
    pub shards: Vec<ShardInfo>,
}

/// Query of linearizable-by-default reads.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Read this node's state without confirming it is current.
    #[serde(default)]
    pub stale: bool,
}

/// Query of `DELETE /v1/shards/{id}/owners/{node}` (`remove-shard`).
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveOwnerQuery {
    /// Remove the last owner of a shard that holds data all the same (its copy then has no owner:
    /// the data node keeps the file, but nothing serves or repairs it).
    #[serde(default)]
    pub force: bool,
}

/// Query of `DELETE /v1/data-nodes/{id}`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveDataNodeQuery {
    /// Drop ownership at once instead of draining.
    #[serde(default)]
    pub force: bool,
}

/// Query of `GET /v1/metadata`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataQuery {
    /// Return once the applied index exceeds this (long poll).
    #[serde(default)]
    pub index: Option<u64>,
    /// How long to wait for a change (default 30s, at most 60s).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<formats::Duration>))]
    pub wait: Option<String>,
    /// Read this node's state without confirming it is current.
    #[serde(default)]
    pub stale: bool,
}

/// A retention policy as `/v1/databases` lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicyInfo {
    /// Name.
    pub name: String,
    /// Retention in nanoseconds (0: forever).
    pub duration: u64,
    /// Shard-group duration in nanoseconds.
    pub shard_group_duration: u64,
    /// Copies of every shard.
    pub replication_factor: u32,
    /// Whether it is the database's default.
    pub default: bool,
    /// Number of live shard groups.
    pub shard_groups: usize,
}

/// A database as `/v1/databases` lists it (without its shard groups).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// Name.
    pub name: String,
    /// Default retention policy.
    pub default_retention_policy: Option<String>,
    /// Its policies.
    pub retention_policies: Vec<RetentionPolicyInfo>,
}

/// `GET /v1/databases`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseList {
    /// The databases, by name.
    pub databases: Vec<DatabaseInfo>,
}

/// `POST /v1/shard-groups` reply.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardGroupReply {
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// Whether this request created the group.
    pub created: bool,
    /// The group with its shards and owners.
    pub shard_group: ShardGroup,
}

/// Query of `GET /v1/shard-groups`: the groups of one policy overlapping `[from, to)`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardGroupsQuery {
    /// Database name.
    pub database: String,
    /// Policy name; absent means the database's default policy.
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// Start of the range (inclusive), nanoseconds; absent means the beginning of time. Must be
    /// before `to`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<i64>, maximum = 9223372036854775806i64))]
    pub from: Option<Timestamp>,
    /// End of the range (exclusive), nanoseconds; absent means the end of time.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<i64>, minimum = -9223372036854775807i64))]
    pub to: Option<Timestamp>,
    /// Include deleted groups.
    #[serde(default)]
    pub deleted: bool,
    /// Read this node's state without confirming it is current.
    #[serde(default)]
    pub stale: bool,
}

/// `GET /v1/shard-groups` reply.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardGroupList {
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// The groups overlapping the range, by start time.
    pub shard_groups: Vec<ShardGroup>,
}

/// `POST /v1/truncate-shards` reply.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruncateReply {
    /// The truncation time.
    pub truncated_at: Timestamp,
    /// The groups truncated.
    pub shard_groups: Vec<ShardGroupId>,
}

/// `GET /v1/metadata` reply (and `POST /v1/restore` body): the whole metadata and the log index
/// it reflects. Served borrowing the state; clients read `MetadataReply<'static>`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataReply<'a> {
    /// The applied log index the metadata reflects.
    pub index: u64,
    /// The metadata.
    pub metadata: Metadata<'a>,
}

/// A Raft member.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Node ID.
    pub id: NodeId,
    /// Address.
    pub addr: String,
}

/// `GET /v1/status`: one node's Raft view of the cluster.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Index of the last entry this node's newest snapshot covers (built here, or installed from
    /// the leader); `None` before the first.
    #[serde(default)]
    pub snapshot_index: Option<u64>,
    /// Voting members with their addresses.
    pub voters: Vec<MemberStatus>,
    /// Non-voting members (catching up) with their addresses.
    pub learners: Vec<MemberStatus>,
    /// The cluster's identity as this node's applied metadata has it (`None` until the first
    /// leader made it).
    #[serde(default)]
    pub cluster_id: Option<String>,
}

/// The error body every failed request carries.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a message naming the problem.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code, e.g. `database_not_found`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}
