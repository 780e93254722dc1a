//! Test support: a cluster builder, a random cluster generator, and a simulation of tasks
//! completing, shared by the table-driven and the property tests.

use crate::input::{
    Inventory, Limits, Liveness, Membership, NodeId, NodeView, Owners, PlanInput, Scope, ShardCopy, ShardId, ShardView,
    TaskId, TaskKind, TaskState, TaskView,
};
use crate::plan::{NewTask, Plan, Reason};

/// A cluster under construction; nodes are active and online, without a report, unless said.
#[derive(Clone, Debug, Default)]
pub(super) struct Cluster {
    pub(super) input: PlanInput,
    pub(super) limits: Limits,
}

impl Cluster {
    /// Active, online nodes `ids`.
    pub(super) fn with_nodes(ids: impl IntoIterator<Item = NodeId>) -> Self {
        let mut cluster = Cluster::default();
        for id in ids {
            cluster = cluster.node(id, Membership::Active, Liveness::Online, None);
        }
        cluster
    }

    /// Adds or replaces node `id`, in the failure domain `domain` (`zone/rack/…`).
    pub(super) fn node(mut self, id: NodeId, membership: Membership, liveness: Liveness, domain: Option<&str>) -> Self {
        self.input.nodes.retain(|n| n.id != id);
        let domain = domain.into_iter().flat_map(|path| path.split('/')).map(String::from).collect();
        self.input.nodes.push(NodeView { id, membership, liveness, domain, owned: 0 });
        self
    }

    /// Sets node `id`'s liveness.
    pub(super) fn liveness(mut self, id: NodeId, liveness: Liveness) -> Self {
        self.input.nodes.iter_mut().filter(|n| n.id == id).for_each(|n| n.liveness = liveness);
        self
    }

    /// Sets node `id`'s membership.
    pub(super) fn membership(mut self, id: NodeId, membership: Membership) -> Self {
        self.input.nodes.iter_mut().filter(|n| n.id == id).for_each(|n| n.membership = membership);
        self
    }

    /// Adds shard `id` with replication factor `replication` and `owners`.
    pub(super) fn shard(mut self, id: ShardId, replication: u32, owners: &[NodeId]) -> Self {
        self.input.shards.push(ShardView { id, replication, owners: Owners::from_slice(owners), written: true });
        self
    }

    /// Marks shard `id` as never written.
    pub(super) fn unwritten(mut self, id: ShardId) -> Self {
        self.input.shards.iter_mut().filter(|s| s.id == id).for_each(|s| s.written = false);
        self
    }

    /// Adds shards `ids`, all alike.
    pub(super) fn shards(
        mut self,
        ids: impl IntoIterator<Item = ShardId>,
        replication: u32,
        owners: &[NodeId],
    ) -> Self {
        for id in ids {
            self = self.shard(id, replication, owners);
        }
        self
    }

    /// Gives node `id` a trusted report of exactly `shards` (cold copies).
    pub(super) fn report(mut self, id: NodeId, shards: impl IntoIterator<Item = ShardId>) -> Self {
        let copies =
            shards.into_iter().map(|s| (s, ShardCopy { size: 100, checksum: s, hot: false, content: None, points: 0 }));
        self.input.inventories.insert(id, copies.collect());
        self
    }

    /// Gives every node a trusted report of the shards it owns.
    pub(super) fn owners_report_all(mut self) -> Self {
        for node in self.input.nodes.clone() {
            let owned: Vec<ShardId> =
                self.input.shards.iter().filter(|s| s.owners.contains(&node.id)).map(|s| s.id).collect();
            self = self.report(node.id, owned);
        }
        self
    }

    /// Adds task `id`.
    pub(super) fn task(
        mut self,
        id: TaskId,
        shard: ShardId,
        (source, target): (NodeId, NodeId),
        replaces: Option<NodeId>,
        state: TaskState,
    ) -> Self {
        self.input.tasks.push(TaskView { id, kind: TaskKind::Copy, shard, source, target, replaces, state });
        self
    }

    /// Sets the limits.
    pub(super) fn limits(mut self, max_fetch: u32, max_sync: u32) -> Self {
        self.limits = Limits { max_fetch, max_sync, ..self.limits };
        self
    }

    /// Enables rebalancing.
    pub(super) fn balance(mut self, tolerance_percent: u32, max_moves: u32) -> Self {
        self.limits.balance = Some(crate::input::Balance { tolerance_percent, max_moves });
        self
    }

    /// A full plan (each node's `owned` counted from the shards).
    pub(super) fn plan(&self) -> Plan {
        let mut input = self.input.clone();
        input.count_owned();
        crate::plan(&input, &self.limits, Scope::All)
    }
}

/// A planned task, for expectations.
pub(super) fn new_task(
    shard: ShardId,
    (source, target): (NodeId, NodeId),
    replaces: Option<NodeId>,
    priority: u32,
    reason: Reason,
) -> NewTask {
    NewTask { shard, source, target, replaces, priority, reason }
}

/// Carries out `plan` on `input` as the AE service would: cancelled tasks disappear, created ones
/// become pending tasks with fresh IDs, dropped owners stop owning.
pub(super) fn apply(input: &mut PlanInput, plan: &Plan) {
    input.tasks.retain(|t| !plan.cancel.iter().any(|c| c.task == t.id));
    for drop in &plan.drop_owners {
        input.shards.iter_mut().filter(|s| s.id == drop.shard).for_each(|s| s.owners.retain(|o| *o != drop.owner));
    }
    for reassign in &plan.reassign {
        for shard in input.shards.iter_mut().filter(|s| s.id == reassign.shard) {
            shard.owners.retain(|o| !reassign.drop.contains(o));
            shard.owners.extend(reassign.add.iter().copied());
        }
    }
    let first = input.tasks.iter().map(|t| t.id).max().unwrap_or(0) + 1;
    input.count_owned();
    for (id, task) in (first..).zip(&plan.create) {
        input.tasks.push(TaskView {
            id,
            kind: task.kind(),
            shard: task.shard,
            source: task.source,
            target: task.target,
            replaces: task.replaces,
            state: TaskState::Pending,
        });
    }
}

/// Completes every pending and claimed task: a copy's target becomes an owner holding the shard and
/// the replaced owner stops being one; a repair leaves its source and target holding the union of
/// their points (content roots here are sets of points as bit masks). Blocked tasks stay.
pub(super) fn complete_all(input: &mut PlanInput) {
    let (done, kept): (Vec<TaskView>, Vec<TaskView>) =
        input.tasks.drain(..).partition(|t| t.state != TaskState::Blocked);
    input.tasks = kept;
    for task in done {
        if task.kind == TaskKind::Repair {
            let root = |node: NodeId| input.inventories.get(&node)?.shards.get(&task.shard)?.content;
            let union = root(task.source).unwrap_or(0) | root(task.target).unwrap_or(0);
            for node in [task.source, task.target] {
                if let Some(inventory) = input.inventories.get_mut(&node) {
                    let copy = ShardCopy {
                        content: Some(union),
                        ..inventory.shards.get(&task.shard).copied().unwrap_or_default()
                    };
                    inventory.shards.insert(task.shard, copy);
                }
            }
            continue;
        }
        let Some(shard) = input.shards.iter_mut().find(|s| s.id == task.shard) else { continue };
        if !shard.owners.contains(&task.target) {
            shard.owners.push(task.target);
        }
        if let Some(replaced) = task.replaces.filter(|&r| r != task.target) {
            shard.owners.retain(|o| *o != replaced);
        }
        // A move's target gets the source's copy, and the source deletes its own once the copy
        // is done (a data node retires it).
        let copy = match (task.kind, input.inventories.get_mut(&task.source)) {
            (TaskKind::Move, Some(source)) => {
                let copy = source.shards.get(&task.shard).copied();
                source.shards =
                    source.shards.iter().filter(|(&id, _)| id != task.shard).map(|(&id, &c)| (id, c)).collect();
                copy
            }
            _ => None,
        };
        if let Some(inventory) = input.inventories.get_mut(&task.target) {
            inventory.shards.insert(task.shard, copy.unwrap_or_default());
        }
    }
    input.count_owned();
}

/// A small deterministic random number generator (splitmix64).
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent` / 100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// IDs of nodes that were removed: they may still be named as owners or in tasks.
pub(super) const REMOVED: [NodeId; 2] = [100, 101];
/// ID of a shard that was dropped: it may still be named in tasks.
pub(super) const DROPPED: ShardId = 999;

/// A random cluster: 1–12 nodes of any membership, liveness and zone; 0–60 shards with RF 1–4 and
/// owners among the nodes and removed IDs, some never written; reports missing or holding at
/// random (owners mostly holding their written shards); random pending, claimed and blocked tasks.
pub(super) fn random_cluster(seed: u64) -> PlanInput {
    let mut rng = Rng::new(seed);
    let node_count = 1 + rng.below(12);
    let nodes: Vec<NodeView> = (1..=node_count)
        .map(|id| NodeView {
            id,
            membership: if rng.chance(20) { Membership::Draining } else { Membership::Active },
            liveness: match rng.below(100) {
                0..70 => Liveness::Online,
                70..85 => Liveness::Suspect,
                _ => Liveness::Dead,
            },
            // A zone (60%), and within it a rack (half of those).
            domain: match (rng.chance(60), rng.chance(50)) {
                (false, _) => Vec::new(),
                (true, false) => vec![format!("z{}", rng.below(3))],
                (true, true) => vec![format!("z{}", rng.below(3)), format!("r{}", rng.below(2))],
            },
            owned: 0,
        })
        .collect();
    let candidates: Vec<NodeId> = (1..=node_count).chain(REMOVED).collect();
    let shard_count = rng.below(61);
    let shards: Vec<ShardView> = (1..=shard_count)
        .map(|i| {
            let replication = 1 + rng.below(4) as u32;
            let wanted = match rng.below(10) {
                0 => 0,
                1..3 => u64::from(replication) + 1,
                3..6 => u64::from(replication).saturating_sub(1),
                _ => u64::from(replication),
            };
            let mut owners: Vec<NodeId> = Vec::new();
            for _ in 0..wanted * 2 {
                let pick = candidates[rng.below(candidates.len() as u64) as usize];
                let removed_ok = rng.chance(15);
                if owners.len() < wanted as usize && !owners.contains(&pick) && (pick <= node_count || removed_ok) {
                    owners.push(pick);
                }
            }
            ShardView { id: i * 3, replication, owners: owners.into(), written: !rng.chance(12) }
        })
        .collect();
    let mut inventories = std::collections::BTreeMap::new();
    for node in &nodes {
        if rng.chance(25) {
            continue; // No trusted report.
        }
        let empty_disk = rng.chance(15);
        let mut inventory = Inventory::default();
        // A shard never written is held by nobody (its files are made by its first write).
        for shard in shards.iter().filter(|s| !empty_disk && s.written) {
            if rng.chance(if shard.owners.contains(&node.id) { 85 } else { 8 }) {
                let hot = rng.chance(30);
                // Cold copies carry one of two roots (bit masks of points): owners agree about half
                // the time.
                let content = (!hot && rng.chance(50)).then(|| 1 + rng.below(2));
                let copy = ShardCopy { size: 10, checksum: shard.id, hot, content, points: 1 };
                inventory.shards.insert(shard.id, copy);
            }
        }
        inventories.insert(node.id, inventory);
    }
    let task_count = if shards.is_empty() { 0 } else { rng.below(16) };
    let tasks = (1..=task_count)
        .map(|id| {
            let shard = if rng.chance(10) { DROPPED } else { shards[rng.below(shards.len() as u64) as usize].id };
            let owners = shards.iter().find(|s| s.id == shard).map(|s| s.owners.clone()).unwrap_or_default();
            let pick = |rng: &mut Rng| candidates[rng.below(candidates.len() as u64) as usize];
            let source = if !owners.is_empty() && rng.chance(70) {
                owners[rng.below(owners.len() as u64) as usize]
            } else {
                pick(&mut rng)
            };
            let target = pick(&mut rng);
            let replaces =
                (!owners.is_empty() && rng.chance(40)).then(|| owners[rng.below(owners.len() as u64) as usize]);
            let state = match rng.below(10) {
                0..5 => TaskState::Pending,
                5..8 => TaskState::Claimed,
                _ => TaskState::Blocked,
            };
            TaskView { id, kind: TaskKind::Copy, shard, source, target, replaces, state }
        })
        .collect();
    let mut input = PlanInput {
        shards,
        nodes,
        inventories,
        tasks,
        unreported: Default::default(),
        owned_bytes: Default::default(),
    };
    input.count_owned();
    input
}

/// Random limits, small enough to bind.
pub(super) fn random_limits(seed: u64) -> Limits {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let (max_fetch, max_sync) = (1 + rng.below(4) as u32, 1 + rng.below(3) as u32);
    // Balancing on for half the clusters: every rule holds with moves planned too.
    let balance = rng
        .chance(50)
        .then(|| crate::input::Balance { tolerance_percent: rng.below(20) as u32, max_moves: 1 + rng.below(4) as u32 });
    Limits { max_fetch, max_sync, balance }
}
