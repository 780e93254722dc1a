//! The data nodes in dense form: node `i` of the table is the `i`-th smallest node ID, so index
//! order is ID order and every per-node counter is a plain `Vec` slot.

use std::collections::{BTreeMap, BTreeSet};

use crate::id_hash::IdMap;
use crate::input::{Inventory, Liveness, Membership, NodeId, NodeView, ShardId};

/// Dense index of a node in a [`NodeTable`].
pub(crate) type Ix = u32;

/// Finds a node's dense index from its ID.
#[derive(Debug)]
enum Lookup {
    /// Indexed by ID; used when IDs are small (they come from a counter), costs one load.
    Table(Vec<Ix>),
    /// For sparse IDs.
    Map(IdMap<NodeId, Ix>),
}

const ABSENT: Ix = Ix::MAX;

/// What the planner needs of one node, compact so the shard scan touches little memory.
#[derive(Clone, Copy, Debug)]
struct Node<'a> {
    id: NodeId,
    dead: bool,
    online: bool,
    active: bool,
    zone: Option<u32>,
    owned: u64,
    inventory: Option<&'a Inventory>,
}

/// The data nodes of one planning round, with their inventories and zones.
#[derive(Debug)]
pub(crate) struct NodeTable<'a> {
    nodes: Vec<Node<'a>>,
    zone_count: usize,
    has_zoneless: bool,
    lookup: Lookup,
    unreported: &'a BTreeSet<(NodeId, ShardId)>,
}

impl<'a> NodeTable<'a> {
    /// Indexes `nodes` (the first of duplicate IDs wins) with their trusted inventories and the
    /// copies they hold that their inventories do not list yet.
    pub(crate) fn new(
        nodes: &'a [NodeView],
        inventories: &'a BTreeMap<NodeId, Inventory>,
        unreported: &'a BTreeSet<(NodeId, ShardId)>,
    ) -> Self {
        let mut sorted: Vec<&NodeView> = nodes.iter().collect();
        sorted.sort_by_key(|n| n.id);
        sorted.dedup_by_key(|n| n.id);
        let max_id = sorted.last().map_or(0, |n| n.id);
        let lookup = if max_id < 4 * sorted.len() as u64 + 1024 {
            let mut table = vec![ABSENT; max_id as usize + 1];
            for (i, n) in sorted.iter().enumerate() {
                table[n.id as usize] = i as Ix;
            }
            Lookup::Table(table)
        } else {
            Lookup::Map(sorted.iter().enumerate().map(|(i, n)| (n.id, i as Ix)).collect())
        };
        let mut zone_numbers: BTreeMap<&str, u32> = BTreeMap::new();
        let nodes: Vec<Node<'a>> = sorted
            .iter()
            .map(|n| Node {
                id: n.id,
                dead: n.liveness == Liveness::Dead,
                online: n.liveness == Liveness::Online,
                active: n.membership == Membership::Active,
                zone: n.zone.as_deref().map(|z| {
                    let next = zone_numbers.len() as u32;
                    *zone_numbers.entry(z).or_insert(next)
                }),
                owned: n.owned,
                inventory: inventories.get(&n.id),
            })
            .collect();
        let has_zoneless = nodes.iter().any(|n| n.zone.is_none());
        NodeTable { nodes, zone_count: zone_numbers.len(), has_zoneless, lookup, unreported }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The dense index of node `id`, if it is in the input.
    #[inline]
    pub(crate) fn index(&self, id: NodeId) -> Option<Ix> {
        match &self.lookup {
            Lookup::Table(table) => table.get(usize::try_from(id).ok()?).copied().filter(|&i| i != ABSENT),
            Lookup::Map(map) => map.get(&id).copied(),
        }
    }

    /// The ID of node `i`.
    pub(crate) fn id(&self, i: Ix) -> NodeId {
        self.nodes[i as usize].id
    }

    /// Whether node `i` is declared dead.
    #[inline]
    pub(crate) fn is_dead(&self, i: Ix) -> bool {
        self.nodes[i as usize].dead
    }

    /// Whether node `i` heartbeats on time.
    #[inline]
    pub(crate) fn is_online(&self, i: Ix) -> bool {
        self.nodes[i as usize].online
    }

    /// Whether node `i` is a full member (not draining).
    #[inline]
    pub(crate) fn is_active(&self, i: Ix) -> bool {
        self.nodes[i as usize].active
    }

    /// Whether node `i` may receive copies: active and online.
    #[inline]
    pub(crate) fn can_receive(&self, i: Ix) -> bool {
        self.is_active(i) && self.is_online(i)
    }

    /// Node `i`'s trusted inventory, if any.
    #[inline]
    pub(crate) fn inventory(&self, i: Ix) -> Option<&'a Inventory> {
        self.nodes[i as usize].inventory
    }

    /// Shards node `i` owns in the whole cluster.
    pub(crate) fn owned(&self, i: Ix) -> u64 {
        self.nodes[i as usize].owned
    }

    /// What node `i`'s trusted report says of `shard` (`None`: no trusted report). A copy known to
    /// exist but not reported yet counts as reported.
    #[inline]
    pub(crate) fn report(&self, i: Ix, shard: ShardId) -> Option<bool> {
        self.inventory(i).map(|inv| inv.holds(shard) || self.is_unreported(i, shard))
    }

    /// Whether node `i` holds a copy of `shard` that its inventory does not list yet.
    #[inline]
    pub(crate) fn is_unreported(&self, i: Ix, shard: ShardId) -> bool {
        !self.unreported.is_empty() && self.unreported.contains(&(self.id(i), shard))
    }

    /// The `(node, shard)` copies not reported yet.
    pub(crate) fn unreported(&self) -> &'a BTreeSet<(NodeId, ShardId)> {
        self.unreported
    }

    /// Whether node `i` holds `shard`: as reported, or, without a trusted report, if it owns it.
    #[inline]
    pub(crate) fn holds(&self, i: Ix, shard: ShardId, is_owner: bool) -> bool {
        self.report(i, shard).unwrap_or(is_owner)
    }

    /// Whether node `i` has a trusted report that lacks `shard`.
    #[inline]
    pub(crate) fn reports_lacking(&self, i: Ix, shard: ShardId) -> bool {
        self.report(i, shard) == Some(false)
    }

    /// Node `i`'s zone number (dense, numbered as first seen in ID order), if it has a zone.
    #[inline]
    pub(crate) fn zone(&self, i: Ix) -> Option<u32> {
        self.nodes[i as usize].zone
    }

    /// Number of distinct zones.
    pub(crate) fn zone_count(&self) -> usize {
        self.zone_count
    }

    /// Whether some node has no zone.
    pub(crate) fn has_zoneless(&self) -> bool {
        self.has_zoneless
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ShardCopy;

    fn node(id: NodeId, zone: Option<&str>) -> NodeView {
        NodeView {
            id,
            membership: Membership::Active,
            liveness: Liveness::Online,
            zone: zone.map(String::from),
            owned: 0,
        }
    }

    #[test]
    fn indexes_in_id_order_with_dense_and_sparse_ids() {
        let report = Inventory::from_iter([(5, ShardCopy::default())]);
        let inventories = BTreeMap::from([(9, report.clone()), (9_000_000, report)]);
        let unreported = BTreeSet::new();
        for ids in [[9, 2, 4], [9_000_000, 2, 4]] {
            let nodes: Vec<NodeView> = ids.iter().map(|&id| node(id, None)).collect();
            let table = NodeTable::new(&nodes, &inventories, &unreported);
            let max = ids[0];
            assert_eq!(table.len(), 3);
            assert_eq!((table.index(2), table.index(4), table.index(max)), (Some(0), Some(1), Some(2)));
            assert_eq!((table.index(3), table.index(u64::MAX)), (None, None));
            assert_eq!(table.id(2), max);
            assert!(table.holds(0, 5, true) && !table.holds(0, 5, false), "no report: owners are assumed to hold");
            assert!(table.holds(2, 5, false) && !table.holds(2, 6, true), "a report is believed");
        }
    }

    #[test]
    fn an_unreported_copy_counts_as_reported() {
        let nodes = [node(1, None), node(2, None)];
        let inventories = BTreeMap::from([(1, Inventory::default())]);
        let unreported = BTreeSet::from([(1, 7), (2, 8)]);
        let table = NodeTable::new(&nodes, &inventories, &unreported);
        assert_eq!((table.report(0, 7), table.report(0, 8)), (Some(true), Some(false)));
        assert_eq!(table.report(1, 8), None, "without a report nothing is reported, unreported copies aside");
        assert!(table.holds(0, 7, false) && !table.reports_lacking(0, 7));
    }

    #[test]
    fn numbers_zones_by_name() {
        let nodes = [node(1, Some("b")), node(2, Some("a")), node(3, None), node(4, Some("b"))];
        let (inventories, unreported) = (BTreeMap::new(), BTreeSet::new());
        let table = NodeTable::new(&nodes, &inventories, &unreported);
        assert_eq!((table.zone(0), table.zone(1), table.zone(2), table.zone(3)), (Some(0), Some(1), None, Some(0)));
        assert_eq!(table.zone_count(), 2);
        assert!(table.has_zoneless());
    }
}
