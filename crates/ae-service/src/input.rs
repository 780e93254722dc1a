//! Translation between the replicated metadata (plus the leader's soft state) and the planner's
//! own types, both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use ae_planner::{Inventory, Membership, NodeView, Owners, PlanInput, ShardView, TaskState as PlanTaskState, TaskView};
use meta_model::{
    CancelReason, MetaState, NodeId, NodeState, RetentionPolicy, Shard, ShardId, TaskKind, TaskReason, TaskSpec,
    Timestamp, WrittenMarks,
};
use meta_wire::Liveness;

use crate::settings::AntiEntropySettings;
use crate::tracker::Tracker;

/// The planner's input for a round over `scope` (`None`: every shard). A full round lists every
/// live shard; a scoped one only the shards in scope and those of tasks, so it costs what the scope
/// holds. Shards of groups that are deleted, or expired at `wall` (the leader's clock) and about
/// to be, are left out: nothing is copied for data retention is about to delete (their open
/// tasks are cancelled). Either way: every non-removed data node with its liveness and the shards it owns, the
/// inventories the leader holds (shared, not copied), copies not reported yet, and the open and
/// blocking tasks. The shards are listed in `reuse` (emptied first: its capacity is what is
/// reused).
pub(crate) fn plan_input(
    state: &MetaState,
    tracker: &Tracker,
    now: Instant,
    wall: Timestamp,
    settings: &AntiEntropySettings,
    scope: Option<&BTreeSet<ShardId>>,
    reuse: Vec<ShardView>,
) -> PlanInput {
    let tasks = task_views(state);
    // Shards come in ascending runs (the scope is sorted; a group's shards and a policy's groups
    // mostly ascend): their written marks are read by walking the never-written set alongside.
    let mut written = state.written_marks();
    let mut shards = reuse;
    shards.clear();
    match scope {
        Some(scope) => {
            let wanted: BTreeSet<ShardId> = scope.iter().copied().chain(tasks.iter().map(|t| t.shard)).collect();
            let live = wanted.iter().filter_map(|&shard| {
                state.shard(shard).filter(|v| !v.group.is_deleted() && !v.retention_policy.is_expired(v.group, wall))
            });
            shards.extend(live.map(|view| shard_view(view.retention_policy, view.shard, &mut written)));
        }
        None => {
            shards.reserve(state.shard_count());
            for policy in state.databases().values().flat_map(|d| d.retention_policies.values()) {
                for group in policy.shard_groups.values().filter(|g| !g.is_deleted() && !policy.is_expired(g, wall)) {
                    shards.extend(group.shards.iter().map(|shard| shard_view(policy, shard, &mut written)));
                }
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
            Some(NodeView {
                id: node.id,
                membership,
                liveness: planner_liveness(tracker.liveness(now, node.id, settings)),
                domain: node.domain(&state.placement().failure_domains),
                owned: state.owned_shard_count(node.id) as u64,
            })
        })
        .collect();
    let inventories: BTreeMap<NodeId, Inventory> =
        tracker.inventories().map(|(id, inventory)| (id, inventory.clone())).collect();
    let owners_of = |shard| state.shard(shard).map(|v| v.shard.owners.clone()).unwrap_or_default();
    let unreported = tracker.unreported(owners_of, settings);
    // What rebalancing weighs, in full rounds only: a walk of each node's owned shards and its
    // inventory, both sorted.
    let owned_bytes = match scope {
        Some(_) => BTreeMap::new(),
        None => {
            let mut bytes: BTreeMap<NodeId, u64> = inventories
                .iter()
                .map(|(&id, inventory)| (id, owned_bytes(state.shards_owned_by(id), inventory)))
                .collect();
            // A copy that landed after its node's report (a move just completed) weighs what
            // another owner reports of it: else the node would look light until it reports.
            for &(node, shard) in &unreported {
                let others = state.shard(shard).map(|v| v.shard.owners.clone()).unwrap_or_default();
                let size = others.iter().find_map(|o| inventories.get(o)?.shards.get(&shard)).map_or(0, |c| c.size);
                if let Some(total) = bytes.get_mut(&node) {
                    *total = total.saturating_add(size);
                }
            }
            bytes
        }
    };
    PlanInput { shards, nodes, inventories, tasks, unreported, owned_bytes }
}

/// The planner's view of `shard` of `policy`.
fn shard_view(policy: &RetentionPolicy, shard: &Shard, written: &mut WrittenMarks<'_>) -> ShardView {
    ShardView {
        id: shard.id,
        replication: policy.replication_factor,
        owners: Owners::from_slice(&shard.owners),
        written: written.is_written(shard.id),
    }
}

/// The bytes `inventory` reports of the shards in `owned` (ascending IDs): one merge walk.
fn owned_bytes(owned: impl Iterator<Item = ShardId>, inventory: &Inventory) -> u64 {
    let mut copies = inventory.shards.iter().peekable();
    let mut total: u64 = 0;
    for shard in owned {
        while copies.next_if(|(&id, _)| id < shard).is_some() {}
        if let Some((_, copy)) = copies.next_if(|(&id, _)| id == shard) {
            total = total.saturating_add(copy.size);
        }
    }
    total
}

/// The open and the blocking copy tasks, as the planner sees them.
fn task_views(state: &MetaState) -> Vec<TaskView> {
    state
        .tasks()
        .values()
        .filter_map(|task| {
            let state = match task.state {
                // An operator's copy is the operator's business: the planner neither counts it
                // as a repair nor cancels it, and plans no second copy of the same shard there.
                _ if task.state.is_open() && task.spec.reason == TaskReason::Operator => PlanTaskState::Blocked,
                meta_model::TaskState::Pending => PlanTaskState::Pending,
                meta_model::TaskState::Claimed => PlanTaskState::Claimed,
                _ if task.blocks_replanning() => PlanTaskState::Blocked,
                _ => return None,
            };
            let kind = match task.kind {
                meta_model::TaskKind::Copy => ae_planner::TaskKind::Copy,
                meta_model::TaskKind::Repair => ae_planner::TaskKind::Repair,
                meta_model::TaskKind::Move => ae_planner::TaskKind::Move,
            };
            Some(TaskView {
                id: task.id,
                kind,
                shard: task.spec.shard_id,
                source: task.spec.source,
                target: task.spec.target,
                replaces: task.spec.replaces,
                state,
            })
        })
        .collect()
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

/// The metadata's task kind for a planned task's.
pub(crate) fn task_kind(kind: ae_planner::TaskKind) -> TaskKind {
    match kind {
        ae_planner::TaskKind::Copy => TaskKind::Copy,
        ae_planner::TaskKind::Repair => TaskKind::Repair,
        ae_planner::TaskKind::Move => TaskKind::Move,
    }
}

/// A planned task as a command's spec.
pub(crate) fn task_spec(task: &ae_planner::NewTask) -> TaskSpec {
    let reason = match task.reason {
        ae_planner::Reason::UnderReplicated => TaskReason::UnderReplicated,
        ae_planner::Reason::MissingOnOwner => TaskReason::MissingOnOwner,
        ae_planner::Reason::DeadOwner => TaskReason::DeadOwner,
        ae_planner::Reason::DrainingOwner => TaskReason::DrainingOwner,
        ae_planner::Reason::Inconsistent => TaskReason::Inconsistent,
        ae_planner::Reason::Rebalance => TaskReason::Rebalance,
        ae_planner::Reason::MisReplicated => TaskReason::MisReplicated,
    };
    TaskSpec {
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
