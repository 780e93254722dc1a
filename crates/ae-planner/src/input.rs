//! What the planner reads: the cluster as the Raft leader sees it, plus limits and scope.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

pub use crate::ids::{NodeId, ShardId, TaskId};
pub use crate::shard_map::ShardCopy;
use crate::shard_map::ShardMap;

/// Liveness as the leader judges it from heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Heartbeating on time.
    Online,
    /// Missed heartbeats but not yet declared dead: its copies still count, it is neither a source
    /// nor a target, and tasks it is involved in are left alone.
    Suspect,
    /// Silent for longer than the dead-node timeout: its copies no longer count.
    Dead,
}

/// Membership state from the replicated metadata (removed nodes are simply absent from the input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// A full member: may own and receive shards.
    Active,
    /// Being retired: its copies count until replaced, it never receives new ones.
    Draining,
}

/// A data node as the planner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// The node's ID.
    pub id: NodeId,
    /// Membership state from the replicated metadata.
    pub membership: Membership,
    /// Liveness from heartbeats.
    pub liveness: Liveness,
    /// The node's labels along the cluster's failure-domain hierarchy, highest level first (its
    /// `zone`, then its `rack`, …), up to the first level it has no label for. Owners of a shard
    /// spread over as many domains as the nodes offer, level by level (the `failure_domains`
    /// crate's rule, the same as placement's).
    #[serde(default)]
    pub domain: Vec<String>,
    /// Shards the node owns in the whole cluster, as the metadata counts them (kept there
    /// incrementally): the base of "least loaded", so a scoped round need not see every shard.
    pub owned: u64,
}

/// What a node reported holding.
///
/// The caller leaves a node out of [`PlanInput::inventories`] when its report is missing or not
/// trusted yet (e.g. during the grace period after a leader change): such a node is assumed to hold
/// every shard it owns, and nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The shards the node holds, by ID.
    pub shards: ShardMap,
}

impl Inventory {
    /// Whether the node reported holding `shard`.
    pub fn holds(&self, shard: ShardId) -> bool {
        self.shards.contains_key(&shard)
    }
}

impl FromIterator<(ShardId, ShardCopy)> for Inventory {
    fn from_iter<I: IntoIterator<Item = (ShardId, ShardCopy)>>(iter: I) -> Self {
        Inventory { shards: iter.into_iter().collect() }
    }
}

/// A shard's owners: up to four inline, so an input of a million shards is not a million
/// allocations (`Owners::from_slice(&[1, 2])`, `smallvec![1, 2]`).
pub type Owners = SmallVec<[NodeId; 4]>;

/// A shard as the replicated metadata holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardView {
    /// The shard's ID (unique within the input).
    pub id: ShardId,
    /// Desired number of copies: the retention policy's replication factor.
    pub replication: u32,
    /// The nodes that own the shard (distinct). May name nodes that are no longer in the input:
    /// those count as dead.
    pub owners: Owners,
    /// Whether a write to the shard was ever acknowledged (the meta service's written mark).
    /// `false` only for shards known never written: they hold nothing, so they get new owners by
    /// a metadata change ([`crate::Plan::reassign`]) and are never lost.
    pub written: bool,
}

/// Lifecycle state of a copy task, as far as the planner cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for its target to claim it.
    Pending,
    /// Being executed by its target.
    Claimed,
    /// Failed for good or killed by an operator: the planner never plans the same
    /// `(shard, target)` pair again, and never cancels the task.
    Blocked,
}

/// What a task does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// The target pulls a copy of the shard and becomes an owner.
    #[default]
    Copy,
    /// Two owners reconcile their copies (each gets the points the other lacks); owners do not
    /// change.
    Repair,
    /// Rebalancing: the target pulls a copy like [`TaskKind::Copy`] and takes the place of the
    /// owner it replaces, which is also its source.
    Move,
}

/// A task that exists already (finished and cancelled tasks are left out by the caller).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// The task's ID.
    pub id: TaskId,
    /// What it does.
    #[serde(default)]
    pub kind: TaskKind,
    /// The shard being copied.
    pub shard: ShardId,
    /// The node copied from.
    pub source: NodeId,
    /// The node copied to; it becomes an owner when the task completes.
    pub target: NodeId,
    /// The owner that stops being one when the task completes.
    pub replaces: Option<NodeId>,
    /// Where the task is in its lifecycle.
    pub state: TaskState,
}

/// Throttles on concurrent copy tasks, and whether to rebalance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Pending and claimed tasks per target node (`max-fetch`).
    pub max_fetch: u32,
    /// Pending and claimed tasks per source node (`max-sync`).
    pub max_sync: u32,
    /// Rebalancing, if enabled: planned in [`Scope::All`] rounds only, after every repair.
    #[serde(default)]
    pub balance: Option<Balance>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_fetch: 10, max_sync: 5, balance: None }
    }
}

/// How to rebalance (the cluster's balance policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// How far, in percent of the mean over the active nodes, a node's shard count or bytes may
    /// stray before shards move; a count within one shard of the mean is always balanced.
    pub tolerance_percent: u32,
    /// Most move tasks in flight at once in the whole cluster.
    pub max_moves: u32,
}

/// Everything one planning round looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// For [`Scope::All`], every live shard of the cluster; for [`Scope::Shards`], at least the
    /// shards in scope and those of every task. A task whose shard is not here is cancelled. Any
    /// order; a full plan is fastest with shards in ascending ID order, and sorts them (stably, so
    /// ascending runs merge cheaply) otherwise.
    pub shards: Vec<ShardView>,
    /// Every data node that is not removed.
    pub nodes: Vec<NodeView>,
    /// Trusted inventory reports by node. A node without an entry is assumed to hold what it owns.
    pub inventories: BTreeMap<NodeId, Inventory>,
    /// Pending, claimed and blocked copy tasks.
    pub tasks: Vec<TaskView>,
    /// `(node, shard)`: copies the caller knows exist although the node's inventory does not list
    /// them yet (a write or a completed copy landed after the node sent it). They count as held.
    pub unreported: BTreeSet<(NodeId, ShardId)>,
    /// Per node, the bytes of the shards it owns as its inventory reports them: the load
    /// rebalancing weighs (a copy a node keeps for a while after a move is not its load). A node
    /// left out counts every copy its inventory lists. Needed in [`Scope::All`] rounds only.
    #[serde(default)]
    pub owned_bytes: BTreeMap<NodeId, u64>,
}

impl PlanInput {
    /// Sets every node's [`NodeView::owned`] by counting the owners in `shards`, and
    /// [`PlanInput::owned_bytes`] from the inventories: for inputs that list every shard of the
    /// cluster (tests, benchmarks, tools).
    pub fn count_owned(&mut self) {
        let mut owned: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut bytes: BTreeMap<NodeId, u64> = BTreeMap::new();
        for shard in &self.shards {
            for owner in &shard.owners {
                *owned.entry(*owner).or_default() += 1;
                let copy = self.inventories.get(owner).and_then(|inv| inv.shards.get(&shard.id));
                *bytes.entry(*owner).or_default() += copy.map_or(0, |c| c.size);
            }
        }
        for node in &mut self.nodes {
            node.owned = owned.get(&node.id).copied().unwrap_or(0);
        }
        self.owned_bytes = self.nodes.iter().map(|n| (n.id, bytes.get(&n.id).copied().unwrap_or(0))).collect();
    }
}

/// Which shards a planning round may create tasks for and report on.
///
/// Cancellations are always checked over every in-flight task, whatever the scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every shard: the periodic full check.
    All,
    /// Only these shards get new tasks and reports: the prompt reaction to an event (node died,
    /// inventory shows a gap). IDs not in the input are ignored. The input may then leave out
    /// every other shard but those of tasks: the round costs what the scope holds, not the cluster.
    Shards(&'a [ShardId]),
}
