//! The close look at one shard that is not trivially healthy: who holds it, which of its tasks
//! still make sense, and how many new owners it needs.

use crate::input::{NodeId, ShardView, TaskKind, TaskState, TaskView};
use crate::node_table::{Ix, NodeTable};
use crate::plan::{Cancel, CancelReason, DropOwner, DropReason, Reason, ShardHealth};

/// One owner of the shard.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner {
    pub(crate) id: NodeId,
    /// Dense index; `None` if the node was removed.
    pub(crate) ix: Option<Ix>,
    /// Holds a copy that counts: not dead, and reported (or assumed) holding.
    pub(crate) holds: bool,
    /// Its trusted report lists the shard.
    pub(crate) reports_it: bool,
    /// Its trusted report lacks the shard.
    pub(crate) reports_lacking: bool,
}

/// A shard under a close look.
#[derive(Debug)]
pub(crate) struct ShardCase<'a> {
    pub(crate) shard: &'a ShardView,
    /// Whether the round may plan for and report on this shard (else: cancellations only).
    pub(crate) in_scope: bool,
    /// Distinct owners by ID.
    pub(crate) owners: Vec<Owner>,
    /// Non-dead owners holding a copy (draining and suspect ones included).
    pub(crate) live: u32,
    /// Live copies on active (not draining) owners.
    pub(crate) stable_live: u32,
    /// Owners that stay: present, not dead, active, and not refused a refill they lack.
    pub(crate) staying: u32,
    /// Non-owner nodes (not dead) reporting a copy; only looked up when no online owner holds one.
    pub(crate) extra_holders: Vec<Ix>,
    /// Targets of in-flight tasks that stay, and of blocked tasks: never planned again for this shard.
    pub(crate) busy_targets: Vec<NodeId>,
    /// Owners that in-flight tasks replace.
    covered: Vec<NodeId>,
    /// Copies in-flight tasks add to the staying owners once they complete.
    incoming: u32,
    /// Active owners (not dead) and in-flight targets: the failure domains the shard uses.
    pub(crate) placed: Vec<Ix>,
    /// `(source, target)` of the in-flight tasks that stay, for slot accounting.
    pub(crate) in_flight: Vec<(Option<Ix>, Option<Ix>)>,
    /// Leaving owners the shard can do without (see [`ShardCase::surplus_owners`]).
    pub(crate) surplus: Vec<DropOwner>,
    /// A copy task stays in flight (a repair waits for it).
    pub(crate) copying: bool,
    /// A repair task stays in flight (one at a time).
    pub(crate) repairing: bool,
    /// Move tasks that stay in flight.
    pub(crate) moves: u32,
    /// Nodes that in-flight copies and moves make owners (not owners yet).
    pub(crate) arriving: Vec<Ix>,
    /// Owners that in-flight moves take the shard from.
    pub(crate) leaving: Vec<Ix>,
}

impl<'a> ShardCase<'a> {
    /// Looks at `shard` and its `tasks` (all states, by ID); pushes the cancellations it finds.
    /// Moves are cancelled unless `moves_allowed` (balancing enabled).
    pub(crate) fn new(
        shard: &'a ShardView,
        in_scope: bool,
        nodes: &NodeTable<'_>,
        tasks: &[&TaskView],
        moves_allowed: bool,
        cancel: &mut Vec<Cancel>,
    ) -> Self {
        let mut owners: Vec<Owner> = shard
            .owners
            .iter()
            .map(|&id| {
                let ix = nodes.index(id);
                let report = ix.and_then(|i| nodes.report(i, shard.id));
                let holds = ix.is_some_and(|i| !nodes.is_dead(i)) && report != Some(false);
                Owner { id, ix, holds, reports_it: report == Some(true), reports_lacking: report == Some(false) }
            })
            .collect();
        owners.sort_by_key(|o| o.id);
        owners.dedup_by_key(|o| o.id);
        let blocked = |id: NodeId| tasks.iter().any(|t| t.state == TaskState::Blocked && t.target == id);
        let active = |o: &Owner| o.ix.is_some_and(|i| !nodes.is_dead(i) && nodes.is_active(i));
        let staying_owner = |o: &Owner| active(o) && (o.holds || !blocked(o.id));
        let mut case = ShardCase {
            shard,
            in_scope,
            live: owners.iter().filter(|o| o.holds).count() as u32,
            stable_live: owners.iter().filter(|o| o.holds && active(o)).count() as u32,
            staying: owners.iter().filter(|o| staying_owner(o)).count() as u32,
            placed: owners.iter().filter(|o| active(o)).filter_map(|o| o.ix).collect(),
            owners,
            extra_holders: Vec::new(),
            busy_targets: Vec::new(),
            covered: Vec::new(),
            incoming: 0,
            in_flight: Vec::new(),
            surplus: Vec::new(),
            copying: false,
            repairing: false,
            moves: 0,
            arriving: Vec::new(),
            leaving: Vec::new(),
        };
        case.surplus = case.surplus_owners(nodes);
        let mut incoming_targets: Vec<NodeId> = Vec::new();
        for task in tasks {
            if task.state == TaskState::Blocked {
                case.busy_targets.push(task.target);
                continue;
            }
            let move_unfit = task.kind == TaskKind::Move && !moves_allowed;
            if let Some(reason) = case.cancel_reason(task, nodes).or(move_unfit.then_some(CancelReason::NotNeeded)) {
                cancel.push(Cancel { task: task.id, reason });
                continue;
            }
            if task.kind == TaskKind::Repair {
                // Between owners: it adds no owner and takes no one's place, but it takes slots.
                case.in_flight.push((nodes.index(task.source), nodes.index(task.target)));
                case.busy_targets.push(task.target);
                case.repairing = true;
                continue;
            }
            if task.replaces.is_some_and(|r| case.surplus.iter().any(|d| d.owner == r)) {
                // The owner it replaces is dropped instead: the shard has its copies. Cancelled,
                // it keeps nothing waiting (a repair of the shard is planned in this round).
                cancel.push(Cancel { task: task.id, reason: CancelReason::NotNeeded });
                continue;
            }
            case.copying = true;
            let target = nodes.index(task.target);
            case.in_flight.push((nodes.index(task.source), target));
            case.busy_targets.push(task.target);
            case.covered.extend(task.replaces);
            // Once per node: a refill's target is an owner placed already, and counting its
            // domain twice would hide a free one (a better-spread node only busy now).
            if let Some(target) = target.filter(|t| !case.placed.contains(t)) {
                case.placed.push(target);
            }
            let replaces_staying = task.replaces.and_then(|r| case.owner(r)).is_some_and(staying_owner);
            if case.owner(task.target).is_none() && !replaces_staying {
                incoming_targets.push(task.target);
            }
            if case.owner(task.target).is_none() {
                case.arriving.extend(target);
            }
            if task.kind == TaskKind::Move {
                case.moves += 1;
                case.leaving.extend(task.replaces.and_then(|r| nodes.index(r)));
            }
        }
        incoming_targets.sort_unstable();
        incoming_targets.dedup();
        case.incoming = incoming_targets.len() as u32;
        case
    }

    /// Why `task` (pending or claimed) should be cancelled, if it should.
    fn cancel_reason(&self, task: &TaskView, nodes: &NodeTable<'_>) -> Option<CancelReason> {
        if !self.shard.written {
            return Some(CancelReason::NotNeeded); // Nothing to copy: owners change by metadata.
        }
        if task.kind == TaskKind::Repair {
            return self.repair_cancel_reason(task, nodes);
        }
        if task.kind == TaskKind::Move {
            // A move takes the shard from its source, an active owner: once that owner is dead,
            // draining or gone, the shard needs a plain replacement instead.
            let source = task.replaces.and_then(|r| self.owner(r)).and_then(|o| o.ix);
            if source.is_none_or(|s| nodes.is_dead(s) || !nodes.is_active(s)) {
                return Some(CancelReason::SourceGone);
            }
        }
        let id = self.shard.id;
        let target = nodes.index(task.target);
        if target.is_none_or(|t| nodes.is_dead(t) || !nodes.is_active(t)) {
            return Some(CancelReason::TargetGone);
        }
        if task.state == TaskState::Pending {
            let source = nodes.index(task.source);
            if source.is_none_or(|s| nodes.is_dead(s) || nodes.reports_lacking(s, id)) {
                return Some(CancelReason::SourceGone);
            }
        }
        let target_owner = self.owner(task.target);
        let target_has_it = target_owner.is_some_and(|o| o.reports_it);
        let replaces_owner = task.replaces.is_some_and(|r| self.owner(r).is_some());
        let full = self.stable_live >= self.shard.replication;
        (target_has_it || (target_owner.is_none() && !replaces_owner && full)).then_some(CancelReason::NotNeeded)
    }

    /// Why a repair should be cancelled: its target or source is no longer an owner that is
    /// active (the target) or alive (both).
    fn repair_cancel_reason(&self, task: &TaskView, nodes: &NodeTable<'_>) -> Option<CancelReason> {
        let fit = |id: NodeId, active: bool| {
            self.owner(id).and_then(|o| o.ix).is_some_and(|i| !nodes.is_dead(i) && (!active || nodes.is_active(i)))
        };
        if !fit(task.target, true) {
            return Some(if self.owner(task.target).is_some() {
                CancelReason::TargetGone
            } else {
                CancelReason::NotNeeded
            });
        }
        if !fit(task.source, false) {
            return Some(if self.owner(task.source).is_some() {
                CancelReason::SourceGone
            } else {
                CancelReason::NotNeeded
            });
        }
        None
    }

    /// The content roots of the cold copies online owners reported, by owner ID.
    pub(crate) fn cold_roots(&self, nodes: &NodeTable<'_>) -> Vec<(NodeId, Ix, u64)> {
        self.owners
            .iter()
            .filter_map(|o| o.ix.filter(|&i| nodes.is_online(i)).map(|i| (o.id, i)))
            .filter_map(|(id, i)| Some((id, i, nodes.inventory(i)?.shards.get(&self.shard.id)?.content?)))
            .collect()
    }

    /// The owner with ID `id`, if it is one.
    pub(crate) fn owner(&self, id: NodeId) -> Option<&Owner> {
        self.owners.iter().find(|o| o.id == id)
    }

    /// Whether some online owner holds a copy (a source without looking beyond the owners).
    pub(crate) fn has_online_owner_copy(&self, nodes: &NodeTable<'_>) -> bool {
        self.owners.iter().any(|o| o.holds && o.ix.is_some_and(|i| nodes.is_online(i)))
    }

    /// Whether any node that is not dead holds a copy.
    pub(crate) fn has_data(&self) -> bool {
        self.live > 0 || !self.extra_holders.is_empty()
    }

    /// A written shard that nobody alive holds: nothing to copy from. That is so when an owner
    /// died or none is left, and when every owner reports lacking it (e.g. an empty machine took
    /// the sole owner's identity with `update-data`). A never-written shard is never lost.
    pub(crate) fn is_unrecoverable(&self, nodes: &NodeTable<'_>) -> bool {
        self.shard.written
            && !self.has_data()
            && (self.owners.is_empty()
                || self.owners.iter().any(|o| o.ix.is_none_or(|i| nodes.is_dead(i)) || o.reports_lacking))
    }

    /// For a never-written shard: the owners that cannot take its writes (dead, removed,
    /// draining) and how many active owners it lacks. `None` when it needs nothing.
    pub(crate) fn unwritten_needs(&self, nodes: &NodeTable<'_>) -> Option<(Vec<NodeId>, usize)> {
        let unfit: Vec<NodeId> = self
            .owners
            .iter()
            .filter(|o| o.ix.is_none_or(|i| nodes.is_dead(i) || !nodes.is_active(i)))
            .map(|o| o.id)
            .collect();
        let fit = self.owners.len() - unfit.len();
        let missing = (self.shard.replication as usize).saturating_sub(fit);
        (!unfit.is_empty() || missing > 0).then_some((unfit, missing))
    }

    /// Whether a never-written shard needs nothing: its replication factor in owners, all
    /// present, alive and active.
    pub(crate) fn fit_unwritten(&self, nodes: &NodeTable<'_>) -> bool {
        self.owners.len() == self.shard.replication as usize && self.unwritten_needs(nodes).is_none()
    }

    /// The shard's size as the first holder that reports it gives it (0 if none does).
    pub(crate) fn size(&self, nodes: &NodeTable<'_>) -> u64 {
        let holders = self.owners.iter().filter_map(|o| o.ix).chain(self.extra_holders.iter().copied());
        holders.filter_map(|i| nodes.inventory(i)?.shards.get(&self.shard.id)).map(|c| c.size).next().unwrap_or(0)
    }

    /// Online nodes holding a copy, as `(not an owner, index)`: owners first, then other holders.
    pub(crate) fn sources(&self, nodes: &NodeTable<'_>) -> Vec<(bool, Ix)> {
        let owners = self.owners.iter().filter(|o| o.holds).filter_map(|o| o.ix).map(|i| (false, i));
        let others = self.extra_holders.iter().map(|&i| (true, i));
        owners.chain(others).filter(|&(_, i)| nodes.is_online(i)).collect()
    }

    /// Owners to refill: active, online, reporting that they lack the shard, no task for them yet.
    pub(crate) fn refill_targets<'s>(&'s self, nodes: &'s NodeTable<'_>) -> impl Iterator<Item = Ix> + 's {
        self.owners
            .iter()
            .filter(|o| o.reports_lacking && !self.busy_targets.contains(&o.id))
            .filter_map(|o| o.ix)
            .filter(|&i| nodes.can_receive(i))
    }

    /// The new owners the shard needs, each with the owner it replaces: dead or removed owners first,
    /// then draining ones, then plain additions; in-flight tasks already count.
    pub(crate) fn new_owners(&self, nodes: &NodeTable<'_>) -> Vec<(Reason, Option<NodeId>)> {
        let need = self.shard.replication.saturating_sub(self.staying + self.incoming) as usize;
        let uncovered = self.owners.iter().filter(|o| !self.covered.contains(&o.id));
        let dead = uncovered.clone().filter(|o| o.ix.is_none_or(|i| nodes.is_dead(i)));
        let draining = uncovered.filter(|o| o.ix.is_some_and(|i| !nodes.is_dead(i) && !nodes.is_active(i)));
        dead.map(|o| (Reason::DeadOwner, Some(o.id)))
            .chain(draining.map(|o| (Reason::DrainingOwner, Some(o.id))))
            .chain(std::iter::repeat((Reason::UnderReplicated, None)))
            .take(need)
            .collect()
    }

    /// Leaving owners (draining, or dead) the shard can do without: at least `replication` other
    /// owners are active, online and *report* holding it. Dropping an owner is not undone, so an
    /// assumed copy (no inventory yet, e.g. right after `update-data`) or a suspect owner's does not
    /// count here, though both count as live copies everywhere else.
    fn surplus_owners(&self, nodes: &NodeTable<'_>) -> Vec<DropOwner> {
        let vouched = |o: &Owner| o.reports_it && o.ix.is_some_and(|i| nodes.is_active(i) && nodes.is_online(i));
        if self.owners.iter().filter(|o| vouched(o)).count() < self.shard.replication as usize {
            return Vec::new();
        }
        let mut surplus = Vec::new();
        for owner in &self.owners {
            let Some(i) = owner.ix else { continue };
            let reason = if nodes.is_dead(i) {
                DropReason::Dead
            } else if !nodes.is_active(i) {
                DropReason::Draining
            } else {
                continue;
            };
            surplus.push(DropOwner { shard: self.shard.id, owner: owner.id, reason });
        }
        surplus
    }

    /// The shard's health line for the report.
    pub(crate) fn health(&self) -> ShardHealth {
        ShardHealth { shard: self.shard.id, live_copies: self.stable_live, desired: self.shard.replication }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::input::{Inventory, Liveness, Membership, NodeView, Owners, ShardCopy};

    fn node(id: NodeId, membership: Membership, liveness: Liveness) -> NodeView {
        NodeView { id, membership, liveness, domain: Vec::new(), owned: 0 }
    }

    const NONE_UNREPORTED: &BTreeSet<(NodeId, u64)> = &BTreeSet::new();

    #[test]
    fn counts_copies_and_picks_replacements_dead_first() {
        let nodes = [
            node(1, Membership::Active, Liveness::Online),
            node(2, Membership::Draining, Liveness::Online),
            node(3, Membership::Active, Liveness::Dead),
            node(4, Membership::Active, Liveness::Suspect),
        ];
        let inventories = BTreeMap::from([(4, Inventory::default())]);
        let table = NodeTable::new(&nodes, &inventories, NONE_UNREPORTED);
        // Owner 9 was removed; owner 4 is suspect and reports an empty disk.
        let shard = ShardView { id: 7, replication: 4, owners: Owners::from_slice(&[9, 3, 2, 1, 4]), written: true };
        let case = ShardCase::new(&shard, true, &table, &[], true, &mut Vec::new());
        assert_eq!((case.live, case.stable_live, case.staying), (2, 1, 2));
        assert_eq!(
            case.new_owners(&table),
            vec![(Reason::DeadOwner, Some(3)), (Reason::DeadOwner, Some(9))],
            "two staying owners, so two new ones; the draining owner waits"
        );
        assert_eq!(case.sources(&table), vec![(false, 0), (false, 1)]);
        assert_eq!(case.refill_targets(&table).count(), 0, "a suspect owner is not refilled");
        assert!(!case.is_unrecoverable(&table));
    }

    #[test]
    fn in_flight_tasks_count_and_unfit_ones_are_cancelled() {
        let nodes = [
            node(1, Membership::Active, Liveness::Online),
            node(2, Membership::Active, Liveness::Online),
            node(3, Membership::Active, Liveness::Online),
            node(4, Membership::Draining, Liveness::Online),
        ];
        let inventories = BTreeMap::from([(1, Inventory::from_iter([(7, ShardCopy::default())]))]);
        let table = NodeTable::new(&nodes, &inventories, NONE_UNREPORTED);
        let shard = ShardView { id: 7, replication: 3, owners: Owners::from_slice(&[1]), written: true };
        let task = |id, target, state| TaskView {
            id,
            kind: TaskKind::Copy,
            shard: 7,
            source: 1,
            target,
            replaces: None,
            state,
        };
        let tasks = [task(1, 2, TaskState::Claimed), task(2, 4, TaskState::Pending), task(3, 3, TaskState::Blocked)];
        let refs: Vec<&TaskView> = tasks.iter().collect();
        let mut cancel = Vec::new();
        let case = ShardCase::new(&shard, true, &table, &refs, true, &mut cancel);
        assert_eq!(cancel, vec![Cancel { task: 2, reason: CancelReason::TargetGone }]);
        assert_eq!(case.new_owners(&table), vec![(Reason::UnderReplicated, None)]);
        assert_eq!(case.busy_targets, vec![2, 3]);
    }
}
