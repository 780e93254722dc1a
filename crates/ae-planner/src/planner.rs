//! The planning round: scan every shard cheaply, look closely at the few that are not healthy,
//! cancel unfit tasks, then hand out copy slots to the most endangered shards first.

use failure_domains::Picked;

use crate::id_hash::IdMap;
use crate::input::{Limits, NodeId, PlanInput, Scope, ShardId, TaskState};
use crate::load::Load;
use crate::node_table::{Ix, NodeTable};
use crate::plan::{Cancel, CancelReason, NewTask, Plan, Reason, Reassign, Report};
use crate::scan::Scan;
use crate::scope_set::ScopeSet;
use crate::shard_case::ShardCase;
use crate::task_index::TaskIndex;

/// Plans one anti-entropy round: which copy tasks to create, which in-flight ones to cancel, and
/// the health of the shards in `scope`. Pure and deterministic; see the crate docs for the rules.
pub fn plan(input: &PlanInput, limits: &Limits, scope: Scope<'_>) -> Plan {
    let nodes = NodeTable::new(&input.nodes, &input.inventories, &input.unreported);
    let tasks = TaskIndex::new(&input.tasks);
    let full = matches!(scope, Scope::All);
    let scope: Option<ScopeSet> = match scope {
        Scope::All => None,
        Scope::Shards(ids) => Some(ScopeSet::new(ids)),
    };
    let scan = Scan::run(input, &nodes, &tasks, scope.as_ref());

    let mut cancel = Vec::new();
    let mut found = vec![false; tasks.group_count()];
    let mut cases: Vec<ShardCase<'_>> = Vec::with_capacity(scan.unsettled.len());
    for &index in &scan.unsettled {
        let shard = &input.shards[index as usize];
        let in_scope = scope.as_ref().is_none_or(|s| s.contains(&shard.id));
        let shard_tasks = match tasks.group_of(shard.id) {
            Some(group) if !found[group as usize] => {
                found[group as usize] = true;
                tasks.tasks(group)
            }
            _ => &[],
        };
        cases.push(ShardCase::new(shard, in_scope, &nodes, shard_tasks, limits.balance.is_some(), &mut cancel));
    }
    for group in (0..tasks.group_count()).filter(|&g| !found[g]) {
        let open = tasks.tasks(group as u32).iter().filter(|t| t.state != TaskState::Blocked);
        cancel.extend(open.map(|t| Cancel { task: t.id, reason: CancelReason::ShardDropped }));
    }
    cancel.sort_by_key(|c| c.task);

    let in_flight = cases.iter().flat_map(|c| c.in_flight.iter().copied());
    let load = Load::new(&nodes, in_flight, *limits);
    cases.retain(|c| c.in_scope);
    find_extra_holders(&mut cases, &nodes);
    cases.sort_by_key(|c| (c.live, c.shard.id));

    let mut round = Round { nodes: &nodes, load, plan: Plan { cancel, ..Plan::default() } };
    round.plan.report.mis_replicated = scan.mis_replicated;
    for case in &cases {
        if !case.shard.written {
            round.reassign_unwritten(case);
            continue;
        }
        round.report(case);
        if case.has_data() {
            round.plan_shard(case);
            round.plan_repair(case);
        }
        round.plan.drop_owners.extend(case.surplus.iter().cloned());
    }
    round.plan.drop_owners.sort_by_key(|d| (d.shard, d.owner));
    round.plan.reassign.sort_by_key(|r| r.shard);
    let report = &mut round.plan.report;
    report.under_replicated.sort_by_key(|h| h.shard);
    report.missing_on_owner.sort_unstable();
    report.inconsistent.sort_unstable();
    report.unrecoverable.sort_unstable();
    report.insufficient_nodes.sort_by_key(|h| h.shard);
    report.over_replicated.sort_by_key(|h| h.shard);
    report.mis_replicated.sort_by_key(|m| m.shard);
    if let Some(balance) = limits.balance.filter(|_| full) {
        crate::balance::plan_moves(input, &nodes, &mut round.load, &cases, &scan.unsettled, balance, &mut round.plan);
        round.plan.reassign.sort_by_key(|r| r.shard);
    }
    round.plan
}

/// Finds non-owner nodes reporting a copy, for the shards no online owner holds (they may be the
/// only source, and decide whether the shard is unrecoverable). Looks each such shard up in every
/// report, or walks every report once, whichever is cheaper.
fn find_extra_holders(cases: &mut [ShardCase<'_>], nodes: &NodeTable<'_>) {
    let orphans: Vec<usize> = (0..cases.len()).filter(|&k| !cases[k].has_online_owner_copy(nodes)).collect();
    if orphans.is_empty() {
        return;
    }
    let reporters: Vec<Ix> =
        (0..nodes.len() as Ix).filter(|&i| !nodes.is_dead(i) && nodes.inventory(i).is_some()).collect();
    let walk_cost: usize = reporters.iter().filter_map(|&i| nodes.inventory(i)).map(|inv| inv.shards.len()).sum();
    if orphans.len().saturating_mul(reporters.len()) <= walk_cost {
        for &k in &orphans {
            let case = &mut cases[k];
            for &i in &reporters {
                if nodes.holds(i, case.shard.id, false) && case.owner(nodes.id(i)).is_none() {
                    case.extra_holders.push(i);
                }
            }
        }
    } else {
        let by_shard: IdMap<ShardId, usize> = orphans.iter().map(|&k| (cases[k].shard.id, k)).collect();
        for &i in &reporters {
            let id = nodes.id(i);
            let unreported = nodes.unreported().range((id, 0)..=(id, ShardId::MAX)).map(|(_, shard)| shard);
            let reported = nodes.inventory(i).into_iter().flat_map(|inv| inv.shards.keys());
            for shard in reported.chain(unreported) {
                if let Some(&k) = by_shard.get(shard) {
                    if cases[k].owner(nodes.id(i)).is_none() {
                        cases[k].extra_holders.push(i);
                    }
                }
            }
        }
    }
}

/// The state of a round while it hands out slots.
struct Round<'n, 'a> {
    nodes: &'n NodeTable<'a>,
    load: Load,
    plan: Plan,
}

impl<'n> Round<'n, '_> {
    /// The failure domains a shard uses through the nodes `placed` (owners it keeps, targets of
    /// its copies in flight), against those of the nodes that may receive copies; `None` when no
    /// node is labelled for the hierarchy (targets go by load alone).
    fn domains(&self, placed: impl Iterator<Item = Ix>) -> Option<Picked<'n>> {
        let nodes = self.nodes;
        let mut picked = Picked::new(nodes.spread()?);
        for i in placed {
            picked.add(nodes.place(i), nodes.can_receive(i));
        }
        Some(picked)
    }

    /// Adds `case` (in scope) to the report.
    fn report(&mut self, case: &ShardCase<'_>) {
        let report: &mut Report = &mut self.plan.report;
        let nodes = self.nodes;
        if case.is_unrecoverable(nodes) {
            report.unrecoverable.push(case.shard.id);
        } else if !case.has_data() {
            return; // Never written: nothing to report.
        }
        let health = case.health();
        if health.live_copies < health.desired {
            report.under_replicated.push(health);
        } else if health.live_copies > health.desired {
            report.over_replicated.push(health);
        }
        if case.has_data() {
            let online_lacking =
                case.owners.iter().filter(|o| o.reports_lacking && o.ix.is_some_and(|i| nodes.is_online(i)));
            report.missing_on_owner.extend(online_lacking.map(|o| (case.shard.id, o.id)));
            // The content roots of the cold copies online owners reported: two differ, the copies do.
            let roots = case.cold_roots(nodes);
            if roots.iter().any(|&(_, _, root)| root != roots[0].2) {
                report.inconsistent.push(case.shard.id);
            }
        }
    }

    /// Gives a never-written shard owners that can take its writes, without a copy: its unfit
    /// owners (dead, removed, draining) leave and active, online nodes make up the replication
    /// factor, spread over zones, least owned first. Slots do not apply (nothing moves). Left as
    /// it is when that would leave it without any owner.
    fn reassign_unwritten(&mut self, case: &ShardCase<'_>) {
        let nodes = self.nodes;
        let Some((drop, missing)) = case.unwritten_needs(nodes) else { return };
        let kept = case.owners.iter().filter(|o| !drop.contains(&o.id)).filter_map(|o| o.ix);
        let mut domains = self.domains(kept);
        let mut candidates: Vec<Ix> = self
            .load
            .receivers()
            .iter()
            .copied()
            .filter(|&i| case.owner(nodes.id(i)).is_none() && !case.busy_targets.contains(&nodes.id(i)))
            .collect();
        candidates.sort_by_key(|&i| (nodes.owned(i), nodes.id(i)));
        let mut add = Vec::with_capacity(missing);
        while add.len() < missing {
            let pick = match &domains {
                Some(picked) => picked.choose(0..candidates.len(), |&k| nodes.place(candidates[k])),
                None => (!candidates.is_empty()).then_some(0),
            };
            let Some(at) = pick else { break };
            let chosen = candidates.remove(at);
            if let Some(picked) = &mut domains {
                picked.add(nodes.place(chosen), true);
            }
            add.push(nodes.id(chosen));
        }
        if add.is_empty() && drop.len() == case.owners.len() {
            return; // No node can take it: better an owner that may come back than none.
        }
        if add.is_empty() && drop.is_empty() {
            return;
        }
        add.sort_unstable();
        self.plan.reassign.push(Reassign { shard: case.shard.id, drop, add });
    }

    /// Plans the copies `case` (in scope, with data somewhere) needs, as far as slots allow.
    fn plan_shard(&mut self, case: &ShardCase<'_>) {
        let nodes = self.nodes;
        let shard = case.shard.id;
        let new_owners = case.new_owners(nodes);
        let sources = case.sources(nodes);
        // Nodes that could take a new copy of this shard, busy or not. A non-owner holding a
        // leftover copy (a move's or a drain's source before it deletes it, a node back from the
        // dead) may: the copy brings it up to date, at no transfer if it is current. Not when it
        // is the only source.
        let could_take = |i: Ix| {
            case.owner(nodes.id(i)).is_none()
                && !case.busy_targets.contains(&nodes.id(i))
                && (!nodes.holds(i, shard, false) || sources.iter().any(|&(_, s)| s != i))
        };
        // A fact about the cluster, not about free slots. Counting stops at what is needed, so a
        // large cluster is not scanned for every shard.
        let candidates = self.load.receivers().iter().filter(|&&i| could_take(i)).take(new_owners.len()).count();
        if candidates < new_owners.len() {
            self.plan.report.insufficient_nodes.push(case.health());
        }
        if sources.is_empty() {
            return; // Only suspect nodes hold it: wait until one is back or declared dead.
        }
        for target in case.refill_targets(nodes) {
            if self.load.has_fetch_slot(target) {
                self.create(case, &sources, target, Reason::MissingOnOwner, None);
            }
        }
        let mut taken: Vec<Ix> = Vec::new();
        let mut domains = self.domains(case.placed.iter().copied());
        for (reason, replaces) in new_owners {
            // A holder of a leftover copy only if another source can serve it now: else the
            // pick would fail for want of a source while a node without a copy could be served.
            let served = |i: Ix| {
                !nodes.holds(i, shard, false) || sources.iter().any(|&(_, s)| s != i && self.load.has_sync_slot(s))
            };
            let eligible = |i: &Ix| !taken.contains(i) && could_take(*i) && served(*i);
            let open = self.load.open_targets().filter(eligible);
            let target = match &domains {
                Some(picked) => picked.choose(open, |&i| nodes.place(i)).filter(|&chosen| {
                    // Never a worse spread than a node that could take the copy gives when it is
                    // only busy now (its fetch slots, or the sync slots of the sources that could
                    // serve it, all taken): the copy waits for a slot (a few rounds) rather than
                    // land in a domain the shard already uses, to be moved again once the better
                    // node is free. Slots are left out of this judgement, so the next round
                    // judges the same way whatever this round planned after it.
                    let overlap = picked.overlap(nodes.place(chosen));
                    overlap == picked.best_overlap()
                        || !self
                            .load
                            .receivers()
                            .iter()
                            .filter(|&&i| !taken.contains(&i) && could_take(i))
                            .any(|&i| picked.overlap(nodes.place(i)) < overlap)
                }),
                None => open.into_iter().next(),
            };
            // No eligible node left, or all of them (or all that spread it best) busy, or every
            // source busy: next round.
            let Some(target) = target else { return };
            if !self.create(case, &sources, target, reason, replaces) {
                return;
            }
            taken.push(target);
            if let Some(picked) = &mut domains {
                picked.add(nodes.place(target), true);
            }
        }
    }

    /// Plans a repair of `case` when its owners' cold copies differ and it has all its copies with
    /// none in flight: the lowest-ID online owner with a root reconciles with the lowest-ID other
    /// online owner whose root differs from it, if both have a slot free.
    fn plan_repair(&mut self, case: &ShardCase<'_>) {
        let nodes = self.nodes;
        let complete = case.stable_live >= case.shard.replication && !case.copying;
        if !complete || case.repairing {
            return;
        }
        // Owners this round drops (leaving, and not needed) take no part.
        let mut roots = case.cold_roots(nodes);
        roots.retain(|&(id, _, _)| !case.surplus.iter().any(|d| d.owner == id));
        let Some(&(target_id, target, root)) = roots.first() else { return };
        let Some(&(source_id, source, _)) = roots.iter().find(|&&(_, _, other)| other != root) else { return };
        let fit = nodes.is_active(target) && !case.busy_targets.contains(&target_id);
        if !fit || !self.load.has_fetch_slot(target) || !self.load.has_sync_slot(source) {
            return;
        }
        self.load.assign(source, target);
        self.plan.create.push(NewTask {
            shard: case.shard.id,
            source: source_id,
            target: target_id,
            replaces: None,
            priority: case.shard.replication + 1,
            reason: Reason::Inconsistent,
        });
    }

    /// Creates a task to `target` from the least busy source with a slot free; false if none has.
    fn create(
        &mut self,
        case: &ShardCase<'_>,
        sources: &[(bool, Ix)],
        target: Ix,
        reason: Reason,
        replaces: Option<NodeId>,
    ) -> bool {
        let source = sources
            .iter()
            .filter(|&&(_, i)| i != target && self.load.has_sync_slot(i))
            .min_by_key(|&&(not_owner, i)| (not_owner, self.load.sync(i), i));
        let Some(&(_, source)) = source else { return false };
        self.load.assign(source, target);
        self.plan.create.push(NewTask {
            shard: case.shard.id,
            source: self.nodes.id(source),
            target: self.nodes.id(target),
            replaces,
            priority: case.live,
            reason,
        });
        true
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod rebalancing;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
