//! Translation between the replicated metadata (plus the leader's soft state) and the planner's
//! own types, both ways.

use std::collections::BTreeMap;
use std::time::Instant;

use ae_planner::{
    Inventory, Membership, NodeView, PlanInput, ShardCopy, ShardView, TaskState as PlanTaskState, TaskView,
};
use meta_store::{CancelReason, CopyTaskSpec, MetaState, NodeId, NodeState, ShardId, TaskReason};
use meta_wire::Liveness;

use super::settings::AntiEntropySettings;
use super::tracker::Tracker;

/// The planner's input: every live shard, every non-removed data node with its liveness, the
/// inventories the leader holds, and the open and blocking tasks.
pub(crate) fn plan_input(
    state: &MetaState,
    tracker: &Tracker,
    now: Instant,
    settings: &AntiEntropySettings,
) -> PlanInput {
    let mut shards = Vec::with_capacity(state.shard_count());
    for database in state.databases().values() {
        for policy in database.retention_policies.values() {
            for group in policy.shard_groups.values().filter(|g| !g.is_deleted()) {
                shards.extend(group.shards.iter().map(|shard| ShardView {
                    id: shard.id,
                    replication: policy.replication_factor,
                    owners: shard.owners.clone(),
                }));
            }
        }
    }
    let nodes = state
        .data_nodes()
        .values()
        .filter_map(|node| {
            let membership = match node.state {
                NodeState::Active => Membership::Active,
                NodeState::Draining => Membership::Draining,
                NodeState::Removed => return None,
            };
            let liveness = planner_liveness(tracker.liveness(now, node.id, settings));
            Some(NodeView { id: node.id, membership, liveness, zone: node.zone().map(str::to_owned) })
        })
        .collect();
    let mut inventories: BTreeMap<NodeId, Inventory> =
        tracker.inventories().map(|(id, inventory)| (id, inventory.clone())).collect();
    // A new shard reaches every owner with the write, but each owner reports it on its own
    // heartbeat: until an owner has reported since, its gap is not a missing copy.
    for shard in tracker.recent_shards() {
        let owners = state.shard(shard).map(|v| v.shard.owners.clone()).unwrap_or_default();
        for owner in owners {
            if tracker.unconfirmed_gap(owner, shard, settings) {
                if let Some(inventory) = inventories.get_mut(&owner).filter(|inv| !inv.holds(shard)) {
                    inventory.shards.insert(shard, ShardCopy::default());
                }
            }
        }
    }
    let tasks = state
        .copy_tasks()
        .values()
        .filter_map(|task| {
            let state = match task.state {
                // An operator's copy is the operator's business: the planner neither counts it
                // as a repair nor cancels it, and plans no second copy of the same shard there.
                _ if task.state.is_open() && task.spec.reason == TaskReason::Operator => PlanTaskState::Blocked,
                meta_store::TaskState::Pending => PlanTaskState::Pending,
                meta_store::TaskState::Claimed => PlanTaskState::Claimed,
                _ if task.blocks_replanning() => PlanTaskState::Blocked,
                _ => return None,
            };
            Some(TaskView {
                id: task.id,
                shard: task.spec.shard_id,
                source: task.spec.source,
                target: task.spec.target,
                replaces: task.spec.replaces,
                state,
            })
        })
        .collect();
    PlanInput { shards, nodes, inventories, tasks }
}

/// The planner's liveness for the API's: a node not heard from yet is treated as suspect (its
/// copies count, nothing is copied from or to it).
fn planner_liveness(liveness: Liveness) -> ae_planner::Liveness {
    match liveness {
        Liveness::Online => ae_planner::Liveness::Online,
        Liveness::Suspect | Liveness::Unknown => ae_planner::Liveness::Suspect,
        Liveness::Dead => ae_planner::Liveness::Dead,
    }
}

/// A planned task as a command's spec.
pub(crate) fn task_spec(task: &ae_planner::NewTask) -> CopyTaskSpec {
    let reason = match task.reason {
        ae_planner::Reason::UnderReplicated => TaskReason::UnderReplicated,
        ae_planner::Reason::MissingOnOwner => TaskReason::MissingOnOwner,
        ae_planner::Reason::DeadOwner => TaskReason::DeadOwner,
        ae_planner::Reason::DrainingOwner => TaskReason::DrainingOwner,
    };
    CopyTaskSpec {
        shard_id: task.shard,
        source: task.source,
        target: task.target,
        replaces: task.replaces,
        priority: task.priority,
        reason,
    }
}

/// The planner's cancellation reason as the metadata records it.
pub(crate) fn cancel_reason(reason: ae_planner::CancelReason) -> CancelReason {
    match reason {
        ae_planner::CancelReason::ShardDropped => CancelReason::ShardDropped,
        ae_planner::CancelReason::TargetGone => CancelReason::TargetGone,
        ae_planner::CancelReason::SourceGone => CancelReason::SourceGone,
        ae_planner::CancelReason::NotNeeded => CancelReason::NotNeeded,
    }
}

/// Owners that are leaving (draining, or dead) of shards that keep their full replication factor
/// without them: `(shard, owner)` pairs to drop. The planner plans no copy for these (nothing is
/// missing), so without this a drained node whose shards were copied by an operator, or whose
/// policy's RF was lowered, would never finish draining.
pub(crate) fn surplus_owners(
    state: &MetaState,
    tracker: &Tracker,
    now: Instant,
    settings: &AntiEntropySettings,
) -> Vec<(ShardId, NodeId)> {
    let live = |id: NodeId| tracker.liveness(now, id, settings) != Liveness::Dead;
    let keeps = |id: NodeId, shard: ShardId| {
        state.data_node(id).is_some_and(|n| n.is_active())
            && live(id)
            && tracker.inventory(id).is_none_or(|inventory| inventory.holds(shard))
    };
    let mut surplus = Vec::new();
    for node in state.data_nodes().values().filter(|n| n.is_member()) {
        if node.state != NodeState::Draining && live(node.id) {
            continue;
        }
        for shard in state.shards_owned_by(node.id) {
            let Some(view) = state.shard(shard).filter(|v| !v.group.is_deleted()) else { continue };
            let others = view.shard.owners.iter().filter(|&&o| o != node.id && keeps(o, shard)).count();
            if others >= view.retention_policy.replication_factor as usize {
                surplus.push((shard, node.id));
            }
        }
    }
    surplus
}
