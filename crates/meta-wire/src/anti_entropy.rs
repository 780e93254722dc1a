//! Bodies of the anti-entropy API: what data nodes send (heartbeats with their inventory, task
//! claims, progress, completion, failure) and what operators read (`entropy show`, copy tasks).
//!
//! ```text
//! data node                                   meta leader
//!   │ POST /v1/data-nodes/{id}/heartbeat  ──▶  liveness + inventory (soft state, off the log)
//!   │ POST /v1/copy-tasks/claim           ──▶  claim (Raft): attempt += 1, lease
//!   │ GET  source /shards/{id} (ranges)   ──▶  (to the source data node)
//!   │ POST /v1/copy-tasks/{id}/progress   ──▶  bytes done; the lease is renewed when half spent
//!   │ POST /v1/copy-tasks/{id}/complete   ──▶  (Raft) target becomes an owner
//!   │ POST /v1/copy-tasks/{id}/fail       ──▶  (Raft) retried with backoff, then failed
//! ```

use serde::{Deserialize, Serialize};

use meta_model::{NodeId, NodeState, ShardId, Task, TaskKind, TaskState, Timestamp};

/// One shard a data node holds, as it reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardReport {
    /// The shard.
    pub shard_id: ShardId,
    /// Bytes on disk.
    pub size: u64,
    /// Digest of the shard's content.
    pub checksum: u64,
    /// Whether the shard still receives writes (its group has not ended, or it was written within
    /// the data node's `--cold-after`).
    pub hot: bool,
    /// Root of the shard's content tree, once it is cold: owners of a cold shard compare it.
    /// (Always serialized, `null` when hot: followers forward heartbeats to the leader in
    /// bincode, which cannot skip a field.)
    #[serde(default)]
    pub content: Option<u64>,
    /// Distinct points of the shard, sent with `content`.
    #[serde(default)]
    pub points: Option<u64>,
}

/// `POST /v1/data-nodes/{id}/heartbeat`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The address the node listens on; must match the node's registered address, so a machine
    /// replaced with `update-data` cannot speak for the ID any more.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::formats::HostPort))]
    pub addr: String,
    /// The node's software version.
    pub version: String,
    /// Bumped by the node whenever the set or content of its shards changes.
    pub inventory_version: u64,
    /// The full inventory; sent when it changed or when the leader asks for it.
    #[serde(default)]
    pub inventory: Option<Vec<ShardReport>>,
    /// The node's hinted-handoff queues: what it holds for owners that could not take a write.
    #[serde(default)]
    pub handoff: Vec<HandoffQueueReport>,
    /// Files in its shard directory that are no shard of this cluster it can use.
    #[serde(default)]
    pub orphans: Vec<OrphanShardFile>,
}

/// A file in a data node's shard directory that the metadata does not know as one of its shards:
/// a shard dropped or never created here, a file of another cluster or of another shard under the
/// same number, a file of an older layout not migrated, or one it cannot read. The node keeps it,
/// never writes to it, never serves it as a copy source and never deletes it: an operator decides.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrphanShardFile {
    /// The file's name in the shard directory.
    pub name: String,
    /// The shard its name gives.
    pub shard_id: Option<ShardId>,
    /// Its size in bytes.
    pub bytes: u64,
    /// Why it is not used: `unknown_shard`, `other_cluster`, `header_mismatch`, `legacy_layout`,
    /// or `unreadable: ...`.
    pub reason: String,
}

/// One hinted-handoff queue a data node keeps: the writes it coordinated that one owner (the
/// queue's target) could not take, held durably until that owner takes them (InfluxDB's hinted
/// handoff).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffQueueReport {
    /// The owner the queued writes are for.
    pub target: NodeId,
    /// Writes queued (one per shard and request).
    pub entries: u64,
    /// Bytes queued on disk.
    pub bytes: u64,
    /// Age of the oldest queued write, in milliseconds (`None` when empty).
    pub oldest_age_ms: Option<u64>,
    /// Writes dropped for the target (kept across restarts): over `max-size`, older than
    /// `max-age`, or unwritable. Each is a copy the target lacks until its shard is repaired.
    pub dropped_entries: u64,
    /// Bytes of those dropped writes (as queued: framed).
    pub dropped_bytes: u64,
    /// The shards those dropped writes were for (at most 1,000): the target's copies of them lack
    /// points until they are repaired.
    #[serde(default)]
    pub dropped_shards: Vec<ShardId>,
}

/// Reply to a heartbeat.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// The node's ID.
    pub node_id: NodeId,
    /// Its state in the metadata.
    pub state: NodeState,
    /// How often the leader expects heartbeats, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// The leader lacks this node's current inventory: send it with the next heartbeat.
    pub send_inventory: bool,
}

/// `POST /v1/copy-tasks/claim`: a data node asks for copy tasks it is the target of.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The claiming data node (the tasks' target).
    pub node_id: NodeId,
    /// Most tasks the node wants to hold claimed at once, counting those it already holds (at most
    /// 1000).
    #[cfg_attr(feature = "openapi", schema(maximum = 1000))]
    pub max: u32,
    /// When the node holds no task and none can be claimed, wait up to this many milliseconds for
    /// one to be created before answering (long poll, at most 5000).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 5000))]
    pub wait_ms: u64,
    /// The kinds of task the node runs (default: copies only, as data nodes that know no other
    /// kind claim).
    #[serde(default = "copies_only")]
    pub kinds: Vec<TaskKind>,
}

/// What a claim that names no kinds asks for.
fn copies_only() -> Vec<TaskKind> {
    vec![TaskKind::Copy]
}

/// A claimed task with what the target needs to run it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedTask {
    /// The task; `attempt` is the fencing token to present.
    pub task: Task,
    /// HTTP address of the source node.
    pub source_addr: String,
}

/// Reply to a claim: every task the node holds claimed now (new and earlier claims), so a node
/// that restarted, or whose reply was lost, resumes its tasks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimReply {
    /// The claimed tasks, most urgent first.
    pub tasks: Vec<ClaimedTask>,
}

/// `POST /v1/copy-tasks/{id}/progress`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressRequest {
    /// The claim's attempt number.
    pub attempt: u32,
    /// Bytes copied so far (at most `bytes_total`).
    pub bytes_done: u64,
    /// Bytes to copy in all.
    pub bytes_total: u64,
}

/// Reply to a progress report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressReply {
    /// When the claim's lease runs out now (renewed when half of it was spent).
    pub lease_deadline: Timestamp,
}

/// `POST /v1/copy-tasks/{id}/complete`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The claim's attempt number.
    pub attempt: u32,
}

/// `POST /v1/copy-tasks/{id}/fail`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// The claim's attempt number.
    pub attempt: u32,
    /// What went wrong (at most 4096 bytes).
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub error: String,
}

/// `POST /v1/copy-tasks` (`copy-shard SRC DEST SHARD`): an operator's copy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyShardRequest {
    /// The shard.
    pub shard_id: ShardId,
    /// The owner to copy from.
    pub source: NodeId,
    /// The node to copy to; it becomes an owner.
    pub target: NodeId,
}

/// `POST /v1/entropy/repair` (`entropy repair SHARD`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairRequest {
    /// The shard to repair now (failed or killed tasks of it are cleared first).
    pub shard_id: ShardId,
}

/// Query of `GET /v1/copy-tasks`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyTasksQuery {
    /// Only tasks in this state.
    #[serde(default)]
    pub state: Option<TaskState>,
    /// Only tasks of this shard.
    #[serde(default)]
    pub shard_id: Option<ShardId>,
}

/// A task's transfer progress, as its target last reported it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// Bytes copied so far.
    pub bytes_done: u64,
    /// Bytes to copy in all.
    pub bytes_total: u64,
    /// Milliseconds since the report.
    pub age_ms: u64,
    /// Transfer rate of this attempt so far, in bytes per second: the bytes copied between its
    /// first report and its last over the time between them (`None` until two reports).
    #[serde(default)]
    pub bytes_per_sec: Option<u64>,
}

impl TaskProgress {
    /// Milliseconds until the copy is done at its rate so far, counted from the last report
    /// (`None` without a rate).
    pub fn eta_ms(&self) -> Option<u64> {
        let rate = self.bytes_per_sec.filter(|&rate| rate > 0)?;
        let left = self.bytes_total.saturating_sub(self.bytes_done);
        Some(left.saturating_mul(1000) / rate)
    }
}

/// A copy task with its progress.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyTaskInfo {
    /// The task.
    pub task: Task,
    /// Its progress, when its target reported some to this leader.
    pub progress: Option<TaskProgress>,
}

/// `GET /v1/copy-tasks` reply.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyTaskList {
    /// The tasks, by ID.
    pub tasks: Vec<CopyTaskInfo>,
}

/// How the leader judges a data node from its heartbeats.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Heartbeating.
    Online,
    /// Missed heartbeats; not a copy source or target, but its copies still count.
    Suspect,
    /// Silent for the dead-node timeout: its copies no longer count and are re-replicated.
    Dead,
    /// Not heard from since this leader took over (within the grace period).
    Unknown,
}

/// A data node's health as the leader sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNodeHealth {
    /// Node ID.
    pub id: NodeId,
    /// HTTP address.
    pub addr: String,
    /// State in the metadata.
    pub state: NodeState,
    /// Liveness.
    pub liveness: Liveness,
    /// Milliseconds since its last heartbeat to this leader.
    pub last_heartbeat_ms: Option<u64>,
    /// Milliseconds until it is declared dead if it stays silent (`None`: never).
    pub dead_in_ms: Option<u64>,
    /// Reported software version.
    pub version: Option<String>,
    /// Number of shards in its last inventory.
    pub shards_reported: Option<usize>,
    /// The hinted-handoff queues it reported last (writes it holds for other owners).
    #[serde(default)]
    pub handoff: Vec<HandoffQueueReport>,
    /// The orphan shard files it reported last.
    #[serde(default)]
    pub orphans: Vec<OrphanShardFile>,
}

/// A shard's copy count against its replication factor.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHealth {
    /// The shard.
    pub shard_id: ShardId,
    /// Live copies.
    pub live_copies: u32,
    /// Desired copies (replication factor).
    pub desired: u32,
}

/// An owner that lacks a shard it owns.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingCopy {
    /// The shard.
    pub shard_id: ShardId,
    /// The owner whose inventory lacks it.
    pub node_id: NodeId,
}

/// `GET /v1/entropy` (`entropy show`): the leader's last plan and the tasks in flight.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntropyReport {
    /// The leader that answers.
    pub leader_id: NodeId,
    /// Whether the leader trusts liveness and inventories yet (its grace period is over).
    pub trusted: bool,
    /// When the last plan ran (nanoseconds since the epoch).
    pub planned_at: Option<Timestamp>,
    /// How long it took, in microseconds: building its input from the metadata and planning.
    pub plan_micros: Option<u64>,
    /// Shards with fewer live copies than desired.
    pub under_replicated: Vec<ShardHealth>,
    /// Owners lacking a shard they own.
    pub missing_on_owner: Vec<MissingCopy>,
    /// Shards with no live copy anywhere: nothing can be copied.
    pub unrecoverable: Vec<ShardId>,
    /// Shards whose replication factor exceeds the nodes that could hold a copy.
    pub insufficient_nodes: Vec<ShardHealth>,
    /// Shards with more live copies than desired.
    pub over_replicated: Vec<ShardHealth>,
    /// Open and failed tasks, by ID.
    pub tasks: Vec<CopyTaskInfo>,
    /// Data nodes' health.
    pub nodes: Vec<DataNodeHealth>,
    /// Shards whose online owners hold cold copies with different points (their content roots
    /// differ).
    #[serde(default)]
    pub inconsistent: Vec<ShardId>,
    /// Shard groups outside anti-entropy's care, by where they stand in their lifecycle.
    #[serde(default)]
    pub lifecycle: LifecycleSummary,
    /// What the owners' copies hold, as their latest inventories say.
    #[serde(default)]
    pub content: ContentReport,
    /// The failure-domain hierarchy placement spreads owners over, highest level first.
    #[serde(default)]
    pub failure_domains: Vec<String>,
    /// Shards whose owners share a failure domain they could have avoided, by ID (HDFS `fsck`'s
    /// mis-replicated blocks).
    #[serde(default)]
    pub mis_replicated: Vec<MisReplicatedShard>,
    /// Rebalancing as the last full plan found it (`None` before the first, or from a leader of
    /// an earlier release).
    #[serde(default)]
    pub balance: Option<BalanceView>,
    /// How long the last full round (every live shard) took to build its input from the
    /// metadata, in microseconds (the part spent under the state's read lock). Absent from
    /// leaders of earlier versions.
    #[serde(default)]
    pub full_plan_input_micros: Option<u64>,
}

/// Rebalancing: the policy, where it stands and each node's load (`balance show`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceView {
    /// The cluster's balance policy.
    pub policy: meta_model::BalancePolicy,
    /// Where balancing stands.
    pub state: BalanceState,
    /// Why, in words: what it waits for, what keeps shards from moving, what is moving.
    pub why: String,
    /// Move tasks in flight once the plan's own were created.
    pub moves_in_flight: u32,
    /// When the full plan these findings come from ran (nanoseconds since the epoch; `None`
    /// when balancing is disabled and no full plan ran yet).
    pub planned_at: Option<Timestamp>,
    /// Each active, online data node's load (copies and moves in flight counted as done), by ID.
    pub nodes: Vec<NodeLoad>,
}

/// Where balancing stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceState {
    /// Balancing is disabled (`balance disable`).
    Disabled,
    /// Every node's load is within the tolerance.
    Balanced,
    /// Moves are in flight or were just planned.
    Moving,
    /// A node's load is outside the tolerance, but no move is allowed (see `why`).
    Limited,
    /// Balancing waits (see `why`): a node owning shards is suspect or draining, a node has not
    /// reported its inventory, or shards lack copies a repair can give them.
    Waiting,
}

/// One data node's load against the tolerated range around its group's mean (its zone's, or
/// the cluster's without a failure-domain hierarchy).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLoad {
    /// The node.
    pub node_id: NodeId,
    /// Shards it owns.
    pub shards: u64,
    /// Bytes its inventory reports.
    pub bytes: u64,
    /// Its shard count: `within`, `over` or `under` the tolerance.
    pub shards_verdict: LoadVerdict,
    /// Its bytes: `within`, `over` or `under` the tolerance.
    pub bytes_verdict: LoadVerdict,
}

/// A load against the tolerated range.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadVerdict {
    /// Within the tolerance.
    Within,
    /// Above it.
    Over,
    /// Below it.
    Under,
}

/// A shard whose owners share a failure domain although the live nodes offer another.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MisReplicatedShard {
    /// The shard.
    pub shard_id: ShardId,
    /// The label key of the highest level at which its owners share a domain they could avoid
    /// (e.g. `zone`).
    pub level: String,
    /// Its owners, by ID.
    pub owners: Vec<NodeId>,
}

/// The content status of the live, written shards, from their owners' latest inventories: a copy
/// is compared once it is cold (its data node's `--cold-after` without a write, its group ended).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentReport {
    /// Shards whose owners all reported cold copies with the same content root.
    pub consistent: u64,
    /// Shards whose owners' cold copies have different roots: they hold different points.
    pub inconsistent: u64,
    /// Shards with a copy still written (hot): never compared.
    pub hot: u64,
    /// Shards an owner gave no report of yet (no trusted inventory, or it lacks the copy).
    pub unknown: u64,
    /// The inconsistent shards, by ID, with each owner's copy.
    pub differing: Vec<ContentDifference>,
    /// Shards a hinted-handoff queue dropped writes for (so an owner lacks points) that are not
    /// yet found consistent: checked, and repaired when they differ, once every copy is cold. A
    /// dropped shard leaves this list when its owners' cold copies agree.
    #[serde(default)]
    pub awaiting_check: Vec<ShardId>,
}

/// An inconsistent shard: what each owner reported of its cold copy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentDifference {
    /// The shard.
    pub shard_id: ShardId,
    /// Each owner's copy, by node ID.
    pub copies: Vec<CopyContent>,
    /// The most points one copy holds beyond another's count: the least the copies differ by
    /// (the exact difference is found by the repair's exchange).
    pub points_apart: u64,
}

/// An owner's cold copy of a shard, as its inventory reported it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyContent {
    /// The owner.
    pub node_id: NodeId,
    /// Distinct points.
    pub points: u64,
    /// Root of its content tree.
    pub root: u64,
}

/// How many shard groups (and their shards) are truncated, expired or deleted: expired and deleted
/// ones are never repaired (retention is about to remove, or removed, their data); truncated ones
/// are repaired as any other.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleSummary {
    /// Groups cut short by `truncate-shards` (still live).
    pub truncated_groups: u64,
    /// Groups past their retention that the next retention check deletes.
    pub expired_groups: u64,
    /// Groups retention deleted, kept until pruned so data nodes see it.
    pub deleted_groups: u64,
    /// Shards of the expired and deleted groups: never planned.
    pub shards_not_planned: u64,
}

/// Reply to `entropy repair`: the shard's open copy tasks once it was planned again.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReply {
    /// The shard's open (pending or claimed) tasks; empty when it needs no copy.
    pub tasks: Vec<Task>,
}
