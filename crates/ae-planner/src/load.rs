//! Per-node slot accounting: how many tasks each node fetches and serves, and which nodes may still
//! receive a copy, least loaded first.

use std::collections::BTreeSet;

use crate::input::Limits;
use crate::node_table::{Ix, NodeTable};

/// Task counts per node, kept up to date as a round plans tasks.
#[derive(Debug)]
pub(crate) struct Load {
    limits: Limits,
    /// In-flight and planned tasks per target (checked against `max_fetch`).
    fetch: Vec<u32>,
    /// In-flight and planned tasks per source (checked against `max_sync`).
    sync: Vec<u32>,
    /// Shards owned plus tasks targeting the node: what "least loaded" compares.
    load: Vec<u64>,
    /// Nodes that may receive a copy and have a fetch slot free, by `(load, index)`.
    open: BTreeSet<(u64, Ix)>,
    /// Every node that may receive a copy, free slot or not, by index.
    receivers: Vec<Ix>,
}

impl Load {
    /// Starts from the shards each node owns and the `(source, target)` of every in-flight task.
    pub(crate) fn new(
        nodes: &NodeTable<'_>,
        in_flight: impl Iterator<Item = (Option<Ix>, Option<Ix>)>,
        limits: Limits,
    ) -> Self {
        let mut load: Vec<u64> = (0..nodes.len() as Ix).map(|i| nodes.owned(i)).collect();
        let mut fetch = vec![0; nodes.len()];
        let mut sync = vec![0; nodes.len()];
        for (source, target) in in_flight {
            if let Some(s) = source {
                sync[s as usize] += 1;
            }
            if let Some(t) = target {
                fetch[t as usize] += 1;
                load[t as usize] += 1;
            }
        }
        let receivers: Vec<Ix> = (0..nodes.len() as Ix).filter(|&i| nodes.can_receive(i)).collect();
        let open = receivers
            .iter()
            .filter(|&&i| fetch[i as usize] < limits.max_fetch)
            .map(|&i| (load[i as usize], i))
            .collect();
        Load { limits, fetch, sync, load, open, receivers }
    }

    /// Nodes that may receive a copy and have a fetch slot free, least loaded (then lowest ID) first.
    pub(crate) fn open_targets(&self) -> impl Iterator<Item = Ix> + '_ {
        self.open.iter().map(|&(_, i)| i)
    }

    /// Every node that may receive a copy (active and online), by ID.
    pub(crate) fn receivers(&self) -> &[Ix] {
        &self.receivers
    }

    /// Whether node `i` may take one more task as a target.
    pub(crate) fn has_fetch_slot(&self, i: Ix) -> bool {
        self.fetch[i as usize] < self.limits.max_fetch
    }

    /// Whether node `i` may serve one more task as a source.
    pub(crate) fn has_sync_slot(&self, i: Ix) -> bool {
        self.sync[i as usize] < self.limits.max_sync
    }

    /// Tasks node `i` serves as a source, in flight and planned.
    pub(crate) fn sync(&self, i: Ix) -> u32 {
        self.sync[i as usize]
    }

    /// Books a planned task from `source` to `target`.
    pub(crate) fn assign(&mut self, source: Ix, target: Ix) {
        let (s, t) = (source as usize, target as usize);
        self.sync[s] += 1;
        let was_open = self.open.remove(&(self.load[t], target));
        self.fetch[t] += 1;
        self.load[t] += 1;
        if was_open && self.fetch[t] < self.limits.max_fetch {
            self.open.insert((self.load[t], target));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::input::{Liveness, Membership, NodeView};

    fn node(id: u64, membership: Membership, liveness: Liveness, owned: u64) -> NodeView {
        NodeView { id, membership, liveness, domain: Vec::new(), owned }
    }

    #[test]
    fn orders_open_targets_by_load_then_id_and_closes_full_ones() {
        let nodes = [
            node(1, Membership::Active, Liveness::Online, 3),
            node(2, Membership::Active, Liveness::Online, 1),
            node(3, Membership::Draining, Liveness::Online, 0),
            node(4, Membership::Active, Liveness::Suspect, 0),
            node(5, Membership::Active, Liveness::Online, 1),
        ];
        let (inventories, unreported) = (BTreeMap::new(), BTreeSet::new());
        let table = NodeTable::new(&nodes, &inventories, &unreported);
        let limits = Limits { max_fetch: 2, max_sync: 1, balance: None };
        // Node 5 (index 4) fetches one in-flight copy from node 1 (index 0).
        let mut load = Load::new(&table, [(Some(0), Some(4))].into_iter(), limits);
        assert_eq!(load.receivers(), &[0, 1, 4]);
        assert_eq!(load.open_targets().collect::<Vec<_>>(), vec![1, 4, 0]);
        assert!(!load.has_sync_slot(0) && load.has_sync_slot(1));
        load.assign(1, 4);
        assert!(!load.has_fetch_slot(4));
        assert_eq!(load.open_targets().collect::<Vec<_>>(), vec![1, 0]);
        assert_eq!(load.sync(1), 1);
    }
}
