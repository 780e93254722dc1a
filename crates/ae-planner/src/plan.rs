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
    /// Node loads and what rebalancing did, in [`crate::Scope::All`] rounds (else `None`).
    pub balance: Option<BalanceReport>,
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
    /// What the task does: a repair for [`Reason::Inconsistent`], a move for rebalancing
    /// ([`Reason::Rebalance`], [`Reason::MisReplicated`]), else a copy.
    pub fn kind(&self) -> TaskKind {
        match self.reason {
            Reason::Inconsistent => TaskKind::Repair,
            Reason::Rebalance | Reason::MisReplicated => TaskKind::Move,
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
    /// A move: the source holds more shards than its share, the target fewer; the target takes
    /// the source's place.
    Rebalance,
    /// A move: the owners share a failure domain the target does not, the source does.
    MisReplicated,
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
    /// receive copies offer (HDFS `fsck`'s mis-replicated blocks). Reported; with balancing on,
    /// moved ([`Reason::MisReplicated`]).
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

/// The load of the active, online data nodes and what rebalancing made of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceReport {
    /// Where balancing stands.
    pub status: BalanceStatus,
    /// Why, in words (a node not ready, the limit reached, what keeps a shard from moving).
    pub why: String,
    /// The tolerance applied, in percent of the mean.
    pub tolerance_percent: u32,
    /// Move tasks in flight once this round's are created.
    pub moves_in_flight: u32,
    /// The most moves in flight at once.
    pub max_moves: u32,
    /// Each active, online node's load, counting moves and copies in flight as done, by ID.
    pub nodes: Vec<NodeLoad>,
}

/// Where balancing stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceStatus {
    /// Every node's load is within the tolerance.
    #[default]
    Balanced,
    /// Moves are in flight or planned this round.
    Moving,
    /// Some node is outside the tolerance, but no move is allowed (see `why`).
    Limited,
    /// Balancing waits: a node that owns shards is not active and online, a node has not
    /// reported its inventory, or shards lack copies (repairs first).
    Waiting,
}

/// One node's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLoad {
    /// The node.
    pub node: NodeId,
    /// Shards it owns, with those arriving and leaving by tasks in flight counted as done.
    pub shards: u64,
    /// Bytes its inventory reports, likewise.
    pub bytes: u64,
    /// How its shard count compares with the tolerated range.
    pub shards_verdict: LoadVerdict,
    /// How its bytes compare with the tolerated range.
    pub bytes_verdict: LoadVerdict,
}

/// A load against the tolerated range around the mean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadVerdict {
    /// Within the tolerance.
    #[default]
    Within,
    /// Above it.
    Over,
    /// Below it.
    Under,
}
