//! JSON bodies of the `/v1` API. Requests refuse unknown fields; durations are strings such as
//! `0`, `1h`, `7d`, `4w`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use meta_store::{parse_duration, DataNode, MetaNode, NodeId, NodeState, ShardGroupId, ShardId, Timestamp};

use crate::error::ApiError;

/// `POST /v1/data-nodes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDataNodeRequest {
    /// Address for shard traffic (`host:port`).
    pub tcp_addr: String,
    /// HTTP address; defaults to `tcp_addr` (the reference data node serves both on one port).
    #[serde(default)]
    pub http_addr: Option<String>,
    /// Labels such as `zone`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `PUT /v1/data-nodes/{id}`: move a node ID to new addresses (`update-data`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataNodeRequest {
    /// New address for shard traffic.
    pub tcp_addr: String,
    /// New HTTP address; defaults to `tcp_addr`.
    #[serde(default)]
    pub http_addr: Option<String>,
    /// New labels; absent keeps the current ones.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// A retention policy as clients write it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicyRequest {
    /// Policy name.
    pub name: String,
    /// How long data is kept (`0` or `inf` for forever).
    pub duration: String,
    /// Shard-group duration; absent picks InfluxDB's default for `duration`.
    #[serde(default)]
    pub shard_duration: Option<String>,
    /// Number of copies of every shard.
    pub replication: u32,
    /// Make it the database's default policy.
    #[serde(default)]
    pub default: bool,
}

/// `POST /v1/databases`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDatabaseRequest {
    /// Database name.
    pub name: String,
    /// Its first (default) retention policy.
    #[serde(default)]
    pub retention_policy: Option<RetentionPolicyRequest>,
}

/// `PATCH /v1/databases/{db}/retention-policies/{rp}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterRetentionPolicyRequest {
    /// New retention.
    #[serde(default)]
    pub duration: Option<String>,
    /// New shard-group duration.
    #[serde(default)]
    pub shard_duration: Option<String>,
    /// New replication factor.
    #[serde(default)]
    pub replication: Option<u32>,
    /// Make it the default policy.
    #[serde(default)]
    pub default: bool,
}

/// `POST /v1/shard-groups`: the group covering `timestamp`, created when missing.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateShardGroupRequest {
    /// Database name.
    pub database: String,
    /// Policy name; absent means the database's default policy.
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// The point's time in nanoseconds since the epoch.
    pub timestamp: Timestamp,
}

/// `POST /v1/truncate-shards`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruncateShardsRequest {
    /// How far in the future to truncate (default `1m`, as `influxd-ctl truncate-shards`).
    #[serde(default)]
    pub delay: Option<String>,
}

/// `POST /v1/shards/{id}/owners`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddOwnerRequest {
    /// The new owner.
    pub node_id: NodeId,
}

/// A data node as listed by the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNodeList {
    /// The nodes, removed ones included.
    pub data_nodes: Vec<DataNode>,
}

/// The meta nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaNodeList {
    /// The nodes recorded in the metadata.
    pub meta_nodes: Vec<MetaNode>,
}

/// An owner of a shard, as `show-shards` lists it.
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
    /// Owners.
    pub owners: Vec<ShardOwner>,
}

/// `GET /v1/shards`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardList {
    /// The shards, by ID.
    pub shards: Vec<ShardInfo>,
}

/// Query of linearizable-by-default reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadQuery {
    /// Read this node's state without confirming it is current.
    #[serde(default)]
    pub stale: bool,
}

/// Query of `DELETE /v1/data-nodes/{id}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveDataNodeQuery {
    /// Drop ownership at once instead of draining.
    #[serde(default)]
    pub force: bool,
}

/// Query of `GET /v1/metadata`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataQuery {
    /// Return once the applied index exceeds this (long poll).
    #[serde(default)]
    pub index: Option<u64>,
    /// How long to wait for a change (default 30s, at most 60s).
    #[serde(default)]
    pub wait: Option<String>,
    /// Read this node's state without confirming it is current.
    #[serde(default)]
    pub stale: bool,
}

/// Parses a duration field, naming it on error.
pub(crate) fn duration_field(field: &str, value: &str) -> Result<u64, ApiError> {
    parse_duration(value).map_err(|e| ApiError::invalid_field(field, e))
}
