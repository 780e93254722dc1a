//! Errors: typed rejections of commands (identical on every replica) and records that cannot be
//! encoded or decoded.

use serde::{Deserialize, Serialize};

use crate::model::node::{NodeId, NodeState};
use crate::model::shard_group::{ShardGroupId, ShardId, Timestamp};
use crate::model::task::{TaskId, TaskState};

/// Why `apply` rejected a command. A rejected command changes nothing; every replica rejects it
/// the same way, so the error is part of the replicated result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApplyError {
    /// A database, policy or label name is not acceptable.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidName {
        /// Which field.
        field: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An address is not `host:port`.
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidAddress {
        /// Which field.
        field: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another live node already uses the address.
    #[error("address {addr} is already used by node {node_id}")]
    AddressInUse {
        /// The address.
        addr: String,
        /// The node holding it.
        node_id: NodeId,
    },
    /// No data node has this ID.
    #[error("data node {node_id} not found")]
    DataNodeNotFound {
        /// The ID asked for.
        node_id: NodeId,
    },
    /// The data node exists but is not in a state that allows the change.
    #[error("data node {node_id} is {state:?}")]
    DataNodeNotActive {
        /// The node.
        node_id: NodeId,
        /// Its state.
        state: NodeState,
    },
    /// The node ID is outside the range operators may choose.
    #[error("node ID {node_id} is invalid: must be between 1 and 4294967295")]
    InvalidNodeId {
        /// The rejected ID.
        node_id: NodeId,
    },
    /// No meta node has this ID.
    #[error("meta node {node_id} not found")]
    MetaNodeNotFound {
        /// The ID asked for.
        node_id: NodeId,
    },
    /// The ID is taken, or was taken once: node IDs are never reused.
    #[error("node ID {node_id} is in use or was used before; node IDs are never reused")]
    NodeIdInUse {
        /// The ID.
        node_id: NodeId,
    },
    /// Removing the node would leave no meta node.
    #[error("meta node {node_id} is the last one and cannot be removed")]
    LastMetaNode {
        /// The node.
        node_id: NodeId,
    },
    /// The database already exists.
    #[error("database {database:?} already exists")]
    DatabaseExists {
        /// Its name.
        database: String,
    },
    /// No such database.
    #[error("database {database:?} not found")]
    DatabaseNotFound {
        /// The name asked for.
        database: String,
    },
    /// The retention policy already exists.
    #[error("retention policy {retention_policy:?} already exists in database {database:?}")]
    RetentionPolicyExists {
        /// Database name.
        database: String,
        /// Policy name.
        retention_policy: String,
    },
    /// No such retention policy.
    #[error("retention policy {retention_policy:?} not found in database {database:?}")]
    RetentionPolicyNotFound {
        /// Database name.
        database: String,
        /// Policy name.
        retention_policy: String,
    },
    /// Replication factor 0.
    #[error("replication factor must be at least 1, got {replication_factor}")]
    InvalidReplicationFactor {
        /// The rejected value.
        replication_factor: u32,
    },
    /// More copies asked for than there are active data nodes to hold them.
    #[error("replication factor {replication_factor} exceeds the {active_nodes} active data nodes")]
    ReplicationFactorExceedsNodes {
        /// The rejected value.
        replication_factor: u32,
        /// Active data nodes now.
        active_nodes: u64,
    },
    /// A duration is out of range.
    #[error("invalid {field} of {value}ns: {reason}")]
    InvalidDuration {
        /// Which field.
        field: String,
        /// The rejected value in nanoseconds.
        value: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A timestamp is outside the range shard groups can cover.
    #[error(
        "timestamp {timestamp} is outside the range a shard group can cover (its group's window would be clamped)"
    )]
    InvalidTimestamp {
        /// The rejected value.
        timestamp: Timestamp,
    },
    /// A point older than its retention policy keeps data (the leader refuses to create its
    /// shard group: the group would be expired at once).
    #[error("timestamp {timestamp} is older than the retention policy keeps data (earliest accepted now: {earliest})")]
    TimestampExpired {
        /// The rejected value.
        timestamp: Timestamp,
        /// The oldest time accepted when it was refused.
        earliest: Timestamp,
    },
    /// A point further ahead of the leader's clock than `shard-groups.max-future` allows.
    #[error(
        "timestamp {timestamp} is further ahead than the meta leader accepts (latest accepted now: {latest}; \
         metad shard-groups.max-future)"
    )]
    TimestampTooFarAhead {
        /// The rejected value.
        timestamp: Timestamp,
        /// The latest time accepted when it was refused.
        latest: Timestamp,
    },
    /// A time range whose start is not before its end.
    #[error("invalid time range: {from} is not before {to}")]
    InvalidTimeRange {
        /// Start.
        from: Timestamp,
        /// End.
        to: Timestamp,
    },
    /// A shard group is needed but no data node is active to own it.
    #[error("no active data nodes to own new shards")]
    NoActiveDataNodes,
    /// No such shard.
    #[error("shard {shard_id} not found")]
    ShardNotFound {
        /// The ID asked for.
        shard_id: ShardId,
    },
    /// The shard's group was deleted.
    #[error("shard group {shard_group_id} is deleted")]
    ShardGroupDeleted {
        /// The group.
        shard_group_id: ShardGroupId,
    },
    /// The node already owns the shard.
    #[error("data node {node_id} already owns shard {shard_id}")]
    ShardOwnerExists {
        /// The shard.
        shard_id: ShardId,
        /// The node.
        node_id: NodeId,
    },
    /// The shard acknowledged a write: only a copy may give it a new owner now.
    #[error("shard {shard_id} holds data; only a copy can give it a new owner")]
    ShardWritten {
        /// The shard.
        shard_id: ShardId,
    },
    /// A restore needs a cluster without data nodes or databases.
    #[error("cannot restore: the cluster already has {what}; restore into a fresh cluster")]
    NotEmpty {
        /// What is already there.
        what: String,
    },
    /// A backup that is not a consistent metadata state.
    #[error("invalid backup: {reason}")]
    InvalidBackup {
        /// What is wrong with it.
        reason: String,
    },
    /// The node does not own the shard.
    #[error("data node {node_id} does not own shard {shard_id}")]
    NotShardOwner {
        /// The shard.
        shard_id: ShardId,
        /// The node.
        node_id: NodeId,
    },
    /// No copy task has this ID (or it finished long ago and was forgotten).
    #[error("copy task {task_id} not found")]
    TaskNotFound {
        /// The ID asked for.
        task_id: TaskId,
    },
    /// The task is not claimed, so its claimant cannot renew, complete or fail it.
    #[error("copy task {task_id} is {state:?}, not claimed")]
    TaskNotClaimed {
        /// The task.
        task_id: TaskId,
        /// Its state.
        state: TaskState,
    },
    /// The caller's claim is not the task's current one (its lease expired and the task was
    /// claimed again): the fencing token refuses it.
    #[error("copy task {task_id}: attempt {attempt} is stale, the current attempt is {current}")]
    StaleAttempt {
        /// The task.
        task_id: TaskId,
        /// The attempt presented.
        attempt: u32,
        /// The current attempt.
        current: u32,
    },
    /// The task already finished.
    #[error("copy task {task_id} is already {state:?}")]
    TaskNotOpen {
        /// The task.
        task_id: TaskId,
        /// Its state.
        state: TaskState,
    },
    /// An open task already copies the shard to the target.
    #[error("copy task {task_id} already copies shard {shard_id} to node {target}")]
    CopyTaskExists {
        /// The shard.
        shard_id: ShardId,
        /// The target.
        target: NodeId,
        /// The open task.
        task_id: TaskId,
    },
    /// A copy task that makes no sense (same source and target, replacing a non-owner...).
    #[error("invalid copy task: {reason}")]
    InvalidCopyTask {
        /// What is wrong with it.
        reason: String,
    },
    /// A batch of commands that contains a batch.
    #[error("a batch of commands may not contain a batch")]
    NestedBatch,
    /// A command that needs the leader's facts reached the state machine without them.
    #[error("{command} needs facts stamped by the leader")]
    NotStamped {
        /// The command's name.
        command: String,
    },
    /// A stamped command that holds a batch or another stamped command.
    #[error("a stamped command may hold one plain command only")]
    NestedStamp,
}

impl ApplyError {
    /// A stable machine-readable code for APIs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ApplyError::InvalidName { .. } => "invalid_name",
            ApplyError::InvalidAddress { .. } => "invalid_address",
            ApplyError::AddressInUse { .. } => "address_in_use",
            ApplyError::DataNodeNotFound { .. } => "data_node_not_found",
            ApplyError::DataNodeNotActive { .. } => "data_node_not_active",
            ApplyError::InvalidNodeId { .. } => "invalid_node_id",
            ApplyError::MetaNodeNotFound { .. } => "meta_node_not_found",
            ApplyError::NodeIdInUse { .. } => "node_id_in_use",
            ApplyError::LastMetaNode { .. } => "last_meta_node",
            ApplyError::DatabaseExists { .. } => "database_exists",
            ApplyError::DatabaseNotFound { .. } => "database_not_found",
            ApplyError::RetentionPolicyExists { .. } => "retention_policy_exists",
            ApplyError::RetentionPolicyNotFound { .. } => "retention_policy_not_found",
            ApplyError::InvalidReplicationFactor { .. } => "invalid_replication_factor",
            ApplyError::ReplicationFactorExceedsNodes { .. } => "replication_factor_exceeds_nodes",
            ApplyError::InvalidDuration { .. } => "invalid_duration",
            ApplyError::InvalidTimestamp { .. } => "invalid_timestamp",
            ApplyError::TimestampExpired { .. } => "timestamp_expired",
            ApplyError::TimestampTooFarAhead { .. } => "timestamp_too_far_ahead",
            ApplyError::InvalidTimeRange { .. } => "invalid_time_range",
            ApplyError::NoActiveDataNodes => "no_active_data_nodes",
            ApplyError::ShardNotFound { .. } => "shard_not_found",
            ApplyError::ShardGroupDeleted { .. } => "shard_group_deleted",
            ApplyError::ShardOwnerExists { .. } => "shard_owner_exists",
            ApplyError::ShardWritten { .. } => "shard_written",
            ApplyError::NotShardOwner { .. } => "not_shard_owner",
            ApplyError::NotEmpty { .. } => "not_empty",
            ApplyError::InvalidBackup { .. } => "invalid_backup",
            ApplyError::TaskNotFound { .. } => "task_not_found",
            ApplyError::TaskNotClaimed { .. } => "task_not_claimed",
            ApplyError::StaleAttempt { .. } => "stale_attempt",
            ApplyError::TaskNotOpen { .. } => "task_not_open",
            ApplyError::CopyTaskExists { .. } => "copy_task_exists",
            ApplyError::InvalidCopyTask { .. } => "invalid_copy_task",
            ApplyError::NestedBatch => "nested_batch",
            ApplyError::NotStamped { .. } => "not_stamped",
            ApplyError::NestedStamp => "nested_stamp",
        }
    }

    /// Whether the error means "the thing named does not exist" (HTTP 404 rather than 400/409).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ApplyError::DataNodeNotFound { .. }
                | ApplyError::MetaNodeNotFound { .. }
                | ApplyError::DatabaseNotFound { .. }
                | ApplyError::RetentionPolicyNotFound { .. }
                | ApplyError::ShardNotFound { .. }
                | ApplyError::TaskNotFound { .. }
        )
    }
}

/// A record that could not be encoded or decoded: corrupt, truncated, or written by a format this
/// build does not know.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Encoding a record failed.
    #[error("failed to encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: bincode::error::EncodeError,
    },
    /// Decoding a record failed (corrupt or truncated).
    #[error("failed to decode {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: bincode::error::DecodeError,
    },
    /// The record is shorter than its header.
    #[error("{what} is truncated ({len} bytes)")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The record was written by a format this build does not know.
    #[error("{what} has format version {found}; this build reads versions {oldest} to {supported}", oldest = crate::codec::OLDEST_READABLE)]
    UnsupportedFormat {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
    },
    /// The record has trailing bytes after its value.
    #[error("{what} has {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left.
        extra: usize,
    },
}
