//! The cheap pass over every shard: count what each node owns, and pick out the shards that are
//! not trivially healthy, checking owners against their inventories on the way.

use crate::input::{PlanInput, ShardId};
use crate::node_table::NodeTable;
use crate::scope_set::ScopeSet;
use crate::task_index::TaskIndex;

/// What the cheap pass finds.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Shards owned per node (every shard, whatever the scope): the base of "least loaded".
    pub(crate) owned: Vec<u64>,
    /// Indexes (into `PlanInput::shards`) of the shards to look at closely.
    pub(crate) unsettled: Vec<u32>,
}

impl Scan {
    /// Runs the pass (experiment E: per-node check lists, merged with the sorted inventories).
    pub(crate) fn run(
        input: &PlanInput,
        nodes: &NodeTable<'_>,
        tasks: &TaskIndex<'_>,
        scope: Option<&ScopeSet>,
    ) -> Self {
        const UNSETTLED: u32 = 1 << 31;
        let mut owned = vec![0u64; nodes.len()];
        let mut checks: Vec<Vec<(ShardId, u32)>> = (0..nodes.len() as u32)
            .map(|i| match (scope, nodes.inventory(i)) {
                (None, Some(inv)) => Vec::with_capacity(inv.shards.len()),
                _ => Vec::new(),
            })
            .collect();
        let mut looked: Vec<u32> = Vec::new();
        let mut state: Vec<u32> = Vec::new();
        for (index, shard) in input.shards.iter().enumerate() {
            let has_tasks = tasks.group_of(shard.id).is_some();
            let look = has_tasks || scope.is_none_or(|s| s.contains(&shard.id));
            let position = looked.len() as u32;
            let mut st = if has_tasks || shard.owners.len() != shard.replication as usize { UNSETTLED } else { 0 };
            for &owner in &shard.owners {
                let Some(i) = nodes.index(owner) else {
                    st |= UNSETTLED;
                    continue;
                };
                owned[i as usize] += 1;
                if !look {
                    continue;
                }
                if nodes.is_dead(i) || !nodes.is_active(i) {
                    st |= UNSETTLED;
                } else if st & UNSETTLED == 0 && nodes.inventory(i).is_some() {
                    checks[i as usize].push((shard.id, position));
                    st += 1;
                }
            }
            if look {
                looked.push(index as u32);
                state.push(st);
            }
        }
        for (i, list) in checks.iter_mut().enumerate() {
            let Some(inventory) = nodes.inventory(i as u32) else { continue };
            if !list.is_sorted() {
                list.sort();
            }
            let ids = inventory.shards.ids();
            let mut j = 0;
            for &(id, position) in list.iter() {
                while j < ids.len() && ids[j] < id {
                    j += 1;
                }
                if j < ids.len() && ids[j] == id {
                    state[position as usize] -= 1;
                }
            }
        }
        let unsettled = looked.into_iter().zip(state).filter(|&(_, st)| st != 0).map(|(index, _)| index).collect();
        Scan { owned, unsettled }
    }
}
