//! The cheap pass over the input's shards: pick out the shards that are not trivially healthy,
//! checking owners against their inventories on the way.

use failure_domains::{Place, Spread};

use crate::input::{NodeId, PlanInput, ShardId, ShardView};
use crate::node_table::NodeTable;
use crate::plan::MisReplicated;
use crate::scope_set::ScopeSet;
use crate::task_index::TaskIndex;

/// What the cheap pass finds.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Indexes (into `PlanInput::shards`) of the shards to look at closely.
    pub(crate) unsettled: Vec<u32>,
    /// Settled shards whose owners share a failure domain they could have avoided.
    pub(crate) mis_replicated: Vec<MisReplicated>,
}

impl Scan {
    /// Runs the pass. A shard is settled, and needs nothing, when it has no task, exactly
    /// `replication` owners, every owner is present, active, not dead and holds it, and the cold
    /// copies its owners reported have one content root.
    ///
    /// Each node keeps a cursor into its sorted inventory, and a full round visits the shards in
    /// ID order, so each node's lookups move forward through its inventory once. Input that is not
    /// in ID order (the metadata lists shards by database, then group) is visited through a sorted
    /// index: walking the inventories once per ascending run would cost more than the sort.
    pub(crate) fn run(
        input: &PlanInput,
        nodes: &NodeTable<'_>,
        tasks: &TaskIndex<'_>,
        scope: Option<&ScopeSet>,
    ) -> Self {
        let shards = &input.shards;
        let mut pass = Pass {
            nodes,
            tasks,
            scope,
            cursors: vec![0; nodes.len()],
            unsettled: Vec::new(),
            mis_replicated: Vec::new(),
            places: Vec::new(),
        };
        if scope.is_some() || shards.is_sorted_by_key(|s| s.id) {
            for (index, shard) in shards.iter().enumerate() {
                pass.visit(index, shard);
            }
        } else {
            // A stable sort merges the ascending runs the input is usually made of.
            let mut order: Vec<(ShardId, u32)> = shards.iter().enumerate().map(|(i, s)| (s.id, i as u32)).collect();
            order.sort_by_key(|&(id, _)| id);
            for (_, index) in order {
                pass.visit(index as usize, &shards[index as usize]);
            }
        }
        // Spread is judged in a pass of its own: folded into the visit above, which waits on
        // the inventories' memory, it doubled that loop's time.
        if let Some(spread) = nodes.spread() {
            let in_scope = |s: &&ShardView| scope.is_none_or(|scope| scope.contains(&s.id));
            for shard in shards.iter().filter(in_scope) {
                pass.check_spread(spread, shard);
            }
        }
        Scan { unsettled: pass.unsettled, mis_replicated: pass.mis_replicated }
    }
}

/// The state of the pass.
struct Pass<'p, 'a> {
    nodes: &'p NodeTable<'a>,
    tasks: &'p TaskIndex<'a>,
    scope: Option<&'p ScopeSet>,
    /// Per node: where in its inventory the next lookup starts.
    cursors: Vec<usize>,
    unsettled: Vec<u32>,
    mis_replicated: Vec<MisReplicated>,
    /// The places of the shard being checked (reused).
    places: Vec<&'p Place>,
}

impl Pass<'_, '_> {
    /// Checks one shard.
    #[inline]
    fn visit(&mut self, index: usize, shard: &ShardView) {
        let nodes = self.nodes;
        let has_tasks = self.tasks.group_of(shard.id).is_some();
        if !has_tasks && self.scope.is_some_and(|s| !s.contains(&shard.id)) {
            return;
        }
        let cursors = &mut self.cursors;
        let mut root = None;
        let settled = !has_tasks
            && shard.owners.len() == shard.replication as usize
            && shard.owners.iter().all(|&owner| {
                nodes.index(owner).is_some_and(|i| {
                    !nodes.is_dead(i)
                        && nodes.is_active(i)
                        && nodes.inventory(i).is_none_or(|inv| {
                            match inv.shards.get_from(&mut cursors[i as usize], shard.id) {
                                // A cold copy whose content differs from another owner's is unsettled.
                                Some(copy) => match (copy.content, root) {
                                    (Some(content), Some(first)) => content == first,
                                    (Some(content), None) => {
                                        root = Some(content);
                                        true
                                    }
                                    (None, _) => true,
                                },
                                None => nodes.is_unreported(i, shard.id),
                            }
                        })
                })
            });
        if !settled {
            self.unsettled.push(index as u32);
        }
    }

    /// Reports `shard` mis-replicated when it has its replication factor in owners that are all
    /// active and not dead, and they share a domain they could have avoided; written or not (a
    /// precreated group's shards take the next writes). Tasks and inventories play no part: the
    /// verdict is on where the owners are.
    fn check_spread(&mut self, spread: &Spread, shard: &ShardView) {
        let nodes = self.nodes;
        if shard.owners.len() != shard.replication as usize {
            return;
        }
        let fit = |&owner: &NodeId| nodes.index(owner).filter(|&i| !nodes.is_dead(i) && nodes.is_active(i));
        // One buffer for every shard: the pass visits a million of them.
        let mut places = std::mem::take(&mut self.places);
        places.clear();
        for owner in &shard.owners {
            let Some(i) = fit(owner) else { break };
            places.push(nodes.place(i));
        }
        if places.len() == shard.owners.len() {
            if let Some(level) = spread.shares_avoidably(&places) {
                let level = u32::try_from(level).unwrap_or(u32::MAX);
                self.mis_replicated.push(MisReplicated { shard: shard.id, level });
            }
        }
        self.places = places;
    }
}
