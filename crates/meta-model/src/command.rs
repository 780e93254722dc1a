//! The Raft log payload: every change to the metadata is one [`Command`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CodecError;
use crate::model::leader_facts::LeaderFacts;
use crate::model::node::NodeId;
use crate::model::retention_policy::{RetentionPolicySpec, RetentionPolicyUpdate};
use crate::model::shard_group::{ShardId, Timestamp};
use crate::model::task::{CancelReason, RetryPolicy, TaskId, TaskKind, TaskSpec};
use crate::record::{self, MetadataRecord};

/// A change to the cluster metadata. Any time it depends on was stamped by the proposer and
/// travels inside the command, so applying it is the same on every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Register a data node; it gets the next node ID.
    AddDataNode {
        /// Address for shard traffic.
        tcp_addr: String,
        /// Address of the node's HTTP API.
        http_addr: String,
        /// Labels such as `zone`.
        labels: BTreeMap<String, String>,
    },
    /// Point an existing node ID at new addresses (`update-data`): ownership is kept.
    UpdateDataNode {
        /// The node to change.
        node_id: NodeId,
        /// New address for shard traffic.
        tcp_addr: String,
        /// New HTTP address.
        http_addr: String,
        /// New labels; `None` keeps the current ones.
        labels: Option<BTreeMap<String, String>>,
    },
    /// Retire a data node. Gracefully it drains (keeps its shards until they are copied);
    /// `force` drops it from every shard at once.
    RemoveDataNode {
        /// The node to retire.
        node_id: NodeId,
        /// Drop ownership immediately instead of draining.
        force: bool,
    },
    /// Record a meta node; with no `node_id` one is taken from the shared counter.
    AddMetaNode {
        /// The Raft node ID, when the operator chose it (`--node-id`).
        node_id: Option<NodeId>,
        /// Its HTTP/Raft address.
        addr: String,
    },
    /// Forget a meta node.
    RemoveMetaNode {
        /// The node to forget.
        node_id: NodeId,
    },
    /// Create a database, optionally with a default retention policy.
    CreateDatabase {
        /// Database name.
        name: String,
        /// Its first retention policy, which becomes the default.
        default_retention_policy: Option<RetentionPolicySpec>,
    },
    /// Drop a database with everything in it.
    DropDatabase {
        /// Database name.
        name: String,
    },
    /// Add a retention policy to a database.
    CreateRetentionPolicy {
        /// Database name.
        database: String,
        /// The policy.
        spec: RetentionPolicySpec,
        /// Make it the default (the first policy of a database is always the default).
        make_default: bool,
    },
    /// Change a retention policy.
    AlterRetentionPolicy {
        /// Database name.
        database: String,
        /// Policy name.
        name: String,
        /// What to change.
        update: RetentionPolicyUpdate,
    },
    /// Drop a retention policy with its shard groups.
    DropRetentionPolicy {
        /// Database name.
        database: String,
        /// Policy name.
        name: String,
    },
    /// Return the shard group covering `timestamp`, creating it if none does (idempotent). A new
    /// group's shards are placed on the data nodes the stamped leader's facts call live, while
    /// there are enough of them (entries without facts place on every active node).
    CreateShardGroup {
        /// Database name.
        database: String,
        /// Policy name.
        retention_policy: String,
        /// The point's time.
        timestamp: Timestamp,
    },
    /// Create the next shard group of every policy whose newest group ends inside `(from, to)`,
    /// so points just past it find a group ready. One group per policy per command.
    PrecreateShardGroups {
        /// Lower bound (exclusive), usually now.
        from: Timestamp,
        /// Upper bound (exclusive), usually now plus the precreation window.
        to: Timestamp,
    },
    /// Stop writes to every live group at `at`: later points go to new groups.
    TruncateShardGroups {
        /// The truncation time.
        at: Timestamp,
    },
    /// Mark groups whose data has outlived its retention as deleted.
    DeleteExpiredShardGroups {
        /// The proposer's clock.
        now: Timestamp,
    },
    /// Forget groups deleted at or before `before` (after data nodes had time to see it).
    PruneDeletedShardGroups {
        /// Cut-off time.
        before: Timestamp,
    },
    /// Make a data node an owner of a shard.
    AddShardOwner {
        /// The shard.
        shard_id: ShardId,
        /// The new owner.
        node_id: NodeId,
    },
    /// Stop a data node owning a shard (`remove-shard`).
    RemoveShardOwner {
        /// The shard.
        shard_id: ShardId,
        /// The owner to drop.
        node_id: NodeId,
    },
    /// Delete a shard everywhere.
    DropShard {
        /// The shard.
        shard_id: ShardId,
    },
    /// [`Command::RestoreMetadata`] as format 2 wrote it, carrying the record of that format:
    /// applied when read from a log written by that format, never proposed.
    RestoreMetadataV2 {
        /// The backed-up metadata.
        backup: Box<record::v2::MetadataRecord>,
    },
    /// Create copy tasks ([`crate::TaskKind::Copy`]; planner or `copy-shard`). Each spec is checked on its own; refused
    /// ones are listed in the response and the rest are created.
    CreateCopyTasks {
        /// The proposer's clock.
        now: Timestamp,
        /// What to copy.
        tasks: Vec<TaskSpec>,
    },
    /// A data node claims pending copy tasks ([`crate::TaskKind::Copy`]) it is the target of,
    /// most urgent first, until it holds `max` claimed; each claim bumps the task's attempt and
    /// starts a lease. The reply lists the copy tasks it holds claimed.
    ClaimCopyTasks {
        /// The proposer's clock.
        now: Timestamp,
        /// The claiming node.
        node_id: NodeId,
        /// Most tasks the node holds claimed at once.
        max: u32,
        /// Lease length in nanoseconds.
        lease: i64,
    },
    /// Extend the lease of a claimed task (the claimant reported progress).
    RenewCopyTaskLease {
        /// The proposer's clock.
        now: Timestamp,
        /// The task.
        task_id: TaskId,
        /// The claimant's attempt (fencing token).
        attempt: u32,
        /// New lease length from `now`, in nanoseconds.
        lease: i64,
    },
    /// The claimant finished the copy: the target becomes an owner and the replaced owner, if
    /// any, stops being one, atomically.
    CompleteCopyTask {
        /// The proposer's clock.
        now: Timestamp,
        /// The task.
        task_id: TaskId,
        /// The claimant's attempt (fencing token).
        attempt: u32,
    },
    /// The claimant could not copy: retried after a backoff, or failed for good.
    FailCopyTask {
        /// The proposer's clock.
        now: Timestamp,
        /// The task.
        task_id: TaskId,
        /// The claimant's attempt (fencing token).
        attempt: u32,
        /// What went wrong.
        error: String,
        /// How failures are retried.
        retry: RetryPolicy,
    },
    /// Put claimed tasks whose lease ran out at `now` back to pending.
    ExpireCopyTaskLeases {
        /// The proposer's clock.
        now: Timestamp,
    },
    /// Withdraw an open task.
    CancelCopyTask {
        /// The proposer's clock.
        now: Timestamp,
        /// The task.
        task_id: TaskId,
        /// Why.
        reason: CancelReason,
    },
    /// `entropy repair`: clear a shard's failed and killed tasks so the planner may try again.
    RetryShardRepair {
        /// The proposer's clock.
        now: Timestamp,
        /// The shard.
        shard_id: ShardId,
    },
    /// Independent commands proposed together in one log entry (the leader batches concurrent
    /// writes): each is applied in order exactly as if it were its own entry, and answers with its
    /// own result (`Response::Batch`). A batch may not contain a batch.
    Batch(Vec<Command>),
    /// A command with the facts the leader stamped into it when it proposed it: the only way a
    /// command that needs them ([`Command::needs_leader_facts`]) is applied. May not contain a
    /// batch or another stamped command.
    Stamped {
        /// The leader's facts.
        facts: LeaderFacts,
        /// The command.
        command: Box<Command>,
    },
    /// Stop writes to current and future shard groups `delay` after the leader's clock (a later
    /// point goes to a new group): `truncate-shards`. Needs the leader's facts.
    TruncateShardGroupsAfter {
        /// Nanoseconds after the leader's `now`.
        delay: u64,
    },
    /// Load a backup into an empty cluster: its data nodes, databases, policies, groups and
    /// owners. The cluster's own meta nodes stay; ID counters move past both. Build it with
    /// [`Command::restore`].
    RestoreMetadata {
        /// The backed-up [`MetadataRecord`] as [`crate::codec::encode`] wrote it, so a later
        /// change of the record's shape leaves the log entry readable (decoded, and migrated,
        /// when applied). Encoded as one byte string (the same bytes as a sequence of `u8` in
        /// bincode, so earlier entries read alike).
        #[serde(with = "serde_bytes")]
        record: Vec<u8>,
    },
    /// The shards may hold data from now on: a data node commits this before it acknowledges the
    /// first write to any of them (once per shard in its lifetime). A shard never marked is known
    /// to hold nothing, so anti-entropy may give it new owners without copying.
    MarkShardsWritten {
        /// The shards written to.
        shard_ids: Vec<ShardId>,
    },
    /// Give a never-written shard other owners by a metadata change alone: `add` become owners,
    /// then `drop` stop being owners. Refused once the shard is marked written.
    ReassignUnwrittenShard {
        /// The shard.
        shard_id: ShardId,
        /// Owners that cannot take its writes (dead, removed, draining).
        drop: Vec<NodeId>,
        /// Active nodes that become owners.
        add: Vec<NodeId>,
    },
    /// Give the cluster its identity, once: the first leader proposes it when the metadata has
    /// none (a new cluster, or one upgraded from a release without it). Later proposals change
    /// nothing. Shard groups created from then on route points by their canonical series key.
    InitCluster {
        /// A random 128-bit ID as 32 lowercase hex digits.
        id: String,
    },
    /// `truncate-shards`: stop writes to the shard groups whose range holds the leader's clock
    /// plus `delay` (later points of their range go to a new group); groups that start later are
    /// left alone. Needs the leader's facts. (Replaces `TruncateShardGroupsAfter`, which also cut
    /// later groups, leaving their range to a second group.)
    TruncateHotShardGroups {
        /// Nanoseconds after the leader's `now`.
        delay: u64,
    },
    /// Create repair tasks ([`crate::TaskKind::Repair`]; planner or `entropy repair`): two owners
    /// of a shard reconcile their copies. Each spec is checked on its own; refused ones are listed
    /// in the response and the rest are created.
    CreateRepairTasks {
        /// The proposer's clock.
        now: Timestamp,
        /// Which owners reconcile which shard.
        tasks: Vec<TaskSpec>,
    },
    /// A data node claims pending tasks of `kinds` it is the target of, most urgent first, until
    /// it holds `max` claimed (each claim bumps the task's attempt and starts a lease). The reply
    /// lists the tasks of those kinds it holds claimed. ([`Command::ClaimCopyTasks`] claims copies
    /// only, for data nodes that run no other kind.)
    ClaimTasks {
        /// The proposer's clock.
        now: Timestamp,
        /// The claiming node.
        node_id: NodeId,
        /// The kinds the node runs.
        kinds: Vec<TaskKind>,
        /// Most tasks the node holds claimed at once.
        max: u32,
        /// Lease length in nanoseconds.
        lease: i64,
    },
    /// `failure-domains set`: the failure-domain hierarchy placement spreads owners over
    /// ([`crate::PlacementPolicy::failure_domains`]). New groups are placed by it; anti-entropy
    /// judges every shard's spread by it from then on.
    SetFailureDomains {
        /// Label keys, highest level first (at most 8; empty: by load alone).
        levels: Vec<String>,
    },
    /// `node-labels`: set and delete labels of a data node in one step, as `influxd-ctl
    /// node-labels` does. Unlike `UpdateDataNode`'s labels, keys not named are kept.
    SetNodeLabels {
        /// The node.
        node_id: NodeId,
        /// Labels to set (added or replaced).
        set: BTreeMap<String, String>,
        /// Label keys to delete.
        delete: Vec<String>,
    },
    /// `balance enable|disable`: whether and how anti-entropy rebalances
    /// ([`crate::BalancePolicy`]); fields left out keep their value.
    SetBalance {
        /// Whether moves are planned.
        enabled: Option<bool>,
        /// Tolerance in percent of the mean load.
        tolerance_percent: Option<u32>,
        /// Most moves in flight at once.
        max_moves: Option<u32>,
    },
    /// Create move tasks ([`crate::TaskKind::Move`], planned by rebalancing): each moves a
    /// shard from its owner `replaces` (the source) to the target. Checked one by one like
    /// [`Command::CreateCopyTasks`].
    CreateMoveTasks {
        /// The proposer's clock.
        now: Timestamp,
        /// What to move.
        tasks: Vec<TaskSpec>,
    },
    /// One part of a backup too large for one log entry, as [`Command::restore_in_parts`] splits
    /// it: [`Command::RestoreMetadata`] in bounded entries. Parts are staged in order in the
    /// replicated state ([`crate::StagedRestore`]); part 0 starts an upload (refused unless the
    /// cluster is empty, and replacing any upload not finished), and the last part restores the
    /// whole backup in one step, so no reader ever sees part of it. A part out of order (another
    /// upload began since) is refused with `invalid_backup`.
    RestoreMetadataPart {
        /// The upload the part belongs to.
        upload: u64,
        /// This part's number, from 0.
        part: u32,
        /// Parts in all (at least 1).
        parts: u32,
        /// The next slice of the encoded [`MetadataRecord`].
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
}

impl Command {
    /// The command that loads `backup` into an empty cluster.
    ///
    /// # Errors
    /// [`CodecError`] if the record cannot be encoded.
    pub fn restore(backup: &MetadataRecord) -> Result<Command, CodecError> {
        Ok(Command::RestoreMetadata { record: crate::codec::encode("backup record", backup)? })
    }

    /// The commands that load `backup` into an empty cluster in log entries of at most
    /// `part_bytes` bytes of backup each: one [`Command::RestoreMetadata`] when it fits (what
    /// meta nodes of any release apply), else [`Command::RestoreMetadataPart`]s of upload
    /// `upload` (any number the caller picks, different for each upload), to be proposed in
    /// order.
    ///
    /// # Errors
    /// [`CodecError`] if the record cannot be encoded.
    pub fn restore_in_parts(
        backup: &MetadataRecord,
        upload: u64,
        part_bytes: usize,
    ) -> Result<Vec<Command>, CodecError> {
        let record = crate::codec::encode("backup record", backup)?;
        if record.len() <= part_bytes {
            return Ok(vec![Command::RestoreMetadata { record }]);
        }
        // Parts are numbered by u32: never more of them than that, whatever `part_bytes` is.
        let size = part_bytes.max(record.len().div_ceil(u32::MAX as usize)).max(1);
        let chunks: Vec<&[u8]> = record.chunks(size).collect();
        let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        Ok(chunks
            .into_iter()
            .zip(0..)
            .map(|(bytes, part)| Command::RestoreMetadataPart { upload, part, parts, bytes: bytes.to_vec() })
            .collect())
    }

    /// A short, stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::AddDataNode { .. } => "add_data_node",
            Command::UpdateDataNode { .. } => "update_data_node",
            Command::RemoveDataNode { .. } => "remove_data_node",
            Command::AddMetaNode { .. } => "add_meta_node",
            Command::RemoveMetaNode { .. } => "remove_meta_node",
            Command::CreateDatabase { .. } => "create_database",
            Command::DropDatabase { .. } => "drop_database",
            Command::CreateRetentionPolicy { .. } => "create_retention_policy",
            Command::AlterRetentionPolicy { .. } => "alter_retention_policy",
            Command::DropRetentionPolicy { .. } => "drop_retention_policy",
            Command::CreateShardGroup { .. } => "create_shard_group",
            Command::PrecreateShardGroups { .. } => "precreate_shard_groups",
            Command::TruncateShardGroups { .. } => "truncate_shard_groups",
            Command::DeleteExpiredShardGroups { .. } => "delete_expired_shard_groups",
            Command::PruneDeletedShardGroups { .. } => "prune_deleted_shard_groups",
            Command::AddShardOwner { .. } => "add_shard_owner",
            Command::RemoveShardOwner { .. } => "remove_shard_owner",
            Command::DropShard { .. } => "drop_shard",
            Command::RestoreMetadata { .. } | Command::RestoreMetadataV2 { .. } => "restore_metadata",
            Command::RestoreMetadataPart { .. } => "restore_metadata_part",
            Command::CreateCopyTasks { .. } => "create_copy_tasks",
            Command::ClaimCopyTasks { .. } => "claim_copy_tasks",
            Command::RenewCopyTaskLease { .. } => "renew_copy_task_lease",
            Command::CompleteCopyTask { .. } => "complete_copy_task",
            Command::FailCopyTask { .. } => "fail_copy_task",
            Command::ExpireCopyTaskLeases { .. } => "expire_copy_task_leases",
            Command::CancelCopyTask { .. } => "cancel_copy_task",
            Command::RetryShardRepair { .. } => "retry_shard_repair",
            Command::Batch(_) => "batch",
            Command::Stamped { .. } => "stamped",
            Command::TruncateShardGroupsAfter { .. } => "truncate_shard_groups_after",
            Command::MarkShardsWritten { .. } => "mark_shards_written",
            Command::InitCluster { .. } => "init_cluster",
            Command::CreateRepairTasks { .. } => "create_repair_tasks",
            Command::ClaimTasks { .. } => "claim_tasks",
            Command::TruncateHotShardGroups { .. } => "truncate_hot_shard_groups",
            Command::ReassignUnwrittenShard { .. } => "reassign_unwritten_shard",
            Command::SetFailureDomains { .. } => "set_failure_domains",
            Command::SetNodeLabels { .. } => "set_node_labels",
            Command::SetBalance { .. } => "set_balance",
            Command::CreateMoveTasks { .. } => "create_move_tasks",
        }
    }

    /// Whether applying the command needs facts only the leader knows (its clock, its view of
    /// liveness): the leader's proposer stamps such commands ([`Command::stamp`]).
    pub fn needs_leader_facts(&self) -> bool {
        matches!(
            self,
            Command::TruncateShardGroupsAfter { .. }
                | Command::TruncateHotShardGroups { .. }
                | Command::CreateShardGroup { .. }
                | Command::PrecreateShardGroups { .. }
        )
    }

    /// The command as the leader proposes it: stamped with `facts()` if it needs them (facts
    /// stamped by anyone else are replaced), as it is otherwise.
    pub fn stamp(self, facts: impl FnOnce() -> LeaderFacts) -> Command {
        let command = match self {
            Command::Stamped { command, .. } => *command,
            other => other,
        };
        if command.needs_leader_facts() {
            Command::Stamped { facts: facts(), command: Box::new(command) }
        } else {
            command
        }
    }

    /// How many commands this is: a batch counts its members.
    pub fn count(&self) -> usize {
        match self {
            Command::Batch(commands) => commands.len(),
            _ => 1,
        }
    }

    /// Whether applying the command may replace the whole state (a restore, or the last part of
    /// one), which takes a while for a big backup (about a second for a million shards): a
    /// caller on an async runtime applies such entries off its worker threads.
    pub fn may_rebuild_state(&self) -> bool {
        match self {
            Command::Batch(commands) => commands.iter().any(Command::may_rebuild_state),
            Command::Stamped { command, .. } => command.may_rebuild_state(),
            Command::RestoreMetadata { .. }
            | Command::RestoreMetadataV2 { .. }
            | Command::RestoreMetadataPart { .. } => true,
            _ => false,
        }
    }

    /// Whether applying the command can leave open copy tasks without a shard, node or owner
    /// to work with (those tasks are then cancelled in the same apply; a batch's members each
    /// sweep after themselves).
    pub fn may_strand_copy_tasks(&self) -> bool {
        matches!(
            self,
            Command::RemoveDataNode { .. }
                | Command::DropDatabase { .. }
                | Command::DropRetentionPolicy { .. }
                | Command::DeleteExpiredShardGroups { .. }
                | Command::PruneDeletedShardGroups { .. }
                | Command::AddShardOwner { .. }
                | Command::RemoveShardOwner { .. }
                | Command::DropShard { .. }
                | Command::ReassignUnwrittenShard { .. }
        )
    }
}
