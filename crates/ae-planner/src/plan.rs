//! What the planner returns: tasks to create, tasks to cancel, and a health report.

use serde::{Deserialize, Serialize};

use crate::input::{NodeId, ShardId, TaskId, TaskKind};

/// The outcome of one planning round. Every list is in a deterministic order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Copy tasks to create, most urgent first (by priority, then shard ID).
    pub create: Vec<NewTask>,
    /// In-flight tasks to cancel, by task ID.
    pub cancel: Vec<Cancel>,
    /// Leaving owners to drop, by shard then owner: the shard keeps its replication factor
    /// without them. Apply after the cancellations and creations.
    pub drop_owners: Vec<DropOwner>,
    /// Never-written shards to give other owners without a copy, by shard.
    pub reassign: Vec<Reassign>,
    /// Shard health for the shards in scope.
    pub report: Report,
}

/// A copy task the planner asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    /// The shard to copy.
    pub shard: ShardId,
    /// An online node holding the shard.
    pub source: NodeId,
    /// The node that pulls the copy and becomes an owner.
    pub target: NodeId,
    /// The dead or draining owner the target takes the place of.
    pub replaces: Option<NodeId>,
    /// The shard's live copies when planned; lower runs first (1 = most urgent).
    pub priority: u32,
    /// Why the task is needed.
    pub reason: Reason,
}

impl NewTask {
    /// What the task does: a repair for [`Reason::Inconsistent`], else a copy.
    pub fn kind(&self) -> TaskKind {
        match self.reason {
            Reason::Inconsistent => TaskKind::Repair,
            _ => TaskKind::Copy,
        }
    }
}

/// Why a copy task is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The shard has fewer owners than its replication factor; the target becomes an extra owner.
    UnderReplicated,
    /// An owner reported that it lacks the shard; the target is that owner.
    MissingOnOwner,
    /// An owner is dead or removed; the target takes its place.
    DeadOwner,
    /// An owner is draining; the target takes its place.
    DrainingOwner,
    /// The owners' cold copies differ: a repair task, the target an owner that reconciles its copy
    /// with the source's (another owner whose content root differs).
    Inconsistent,
}

/// An owner that is leaving (draining or dead) of a shard that keeps `replication` copies on
/// active, live owners without it. No copy is planned for such a shard (nothing is missing), so
/// without dropping it a drained node whose shards an operator copied, or whose policy's RF was
/// lowered, would never finish draining.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropOwner {
    /// The shard.
    pub shard: ShardId,
    /// The owner to drop.
    pub owner: NodeId,
    /// Why it is leaving.
    pub reason: DropReason,
}

/// A never-written shard's new owners: `add` become owners and `drop` stop being owners, by a
/// metadata change alone (there is nothing to copy). The meta service refuses it if the shard was
/// written in the meantime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reassign {
    /// The shard.
    pub shard: ShardId,
    /// Owners that cannot take its writes: dead, removed or draining.
    pub drop: Vec<NodeId>,
    /// Active, online nodes that take their place (and fill the replication factor), least loaded
    /// first, spread over zones.
    pub add: Vec<NodeId>,
}

/// Why an owner is leaving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The node is draining (`remove-data` of a live node).
    Draining,
    /// The node is declared dead.
    Dead,
}

/// An in-flight task the planner wants withdrawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    /// The task to cancel.
    pub task: TaskId,
    /// Why.
    pub reason: CancelReason,
}

/// Why an in-flight task should be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The shard is no longer in the metadata (dropped, expired, truncated away).
    ShardDropped,
    /// The target is removed, dead, or no longer active.
    TargetGone,
    /// A pending task's source is removed, dead, or reports that it no longer holds the shard.
    SourceGone,
    /// The copy is no longer needed.
    NotNeeded,
}

/// The health of one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHealth {
    /// The shard.
    pub shard: ShardId,
    /// Copies held by active (not draining), not dead owners.
    pub live_copies: u32,
    /// The replication factor.
    pub desired: u32,
}

/// Shard health found while planning, for the shards in scope; each list sorted by shard ID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Shards with fewer live copies on active owners than desired (unrecoverable ones included;
    /// empty shards, which nobody holds because nothing was written yet, are not).
    pub under_replicated: Vec<ShardHealth>,
    /// `(shard, owner)`: an online owner reported not holding the shard while another node does.
    pub missing_on_owner: Vec<(ShardId, NodeId)>,
    /// Shards nobody alive holds while a dead owner (or no owner at all) is to blame: nothing can
    /// be copied. They get no tasks.
    pub unrecoverable: Vec<ShardId>,
    /// Shards that need another owner but no eligible node is left (replication factor larger
    /// than the eligible nodes). Reported, not retried in a loop.
    pub insufficient_nodes: Vec<ShardHealth>,
    /// Shards with more live copies on active owners than desired.
    pub over_replicated: Vec<ShardHealth>,
    /// Shards whose online owners hold cold copies with different content: they differ in what
    /// points they hold (found by their content roots; repaired by [`Reason::Inconsistent`]
    /// tasks once the shard has all its copies).
    #[serde(default)]
    pub inconsistent: Vec<ShardId>,
    /// Shards whose owners (all active, as many as the replication factor) share a failure domain
    /// they could have avoided, written or not: at some level
    /// of the hierarchy they use fewer domains than they number and than the nodes that may
    /// receive copies offer (HDFS `fsck`'s mis-replicated blocks). Reported; moving one is the
    /// balancer's work.
    #[serde(default)]
    pub mis_replicated: Vec<MisReplicated>,
}

/// A shard whose owners share a failure domain they could have avoided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MisReplicated {
    /// The shard.
    pub shard: ShardId,
    /// The highest level of the hierarchy (0: the first, e.g. `zone`) at which its owners use
    /// fewer domains than they could.
    pub level: u32,
}
