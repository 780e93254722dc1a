//! The data nodes in dense form: node `i` of the table is the `i`-th smallest node ID, so index
//! order is ID order and every per-node counter is a plain `Vec` slot.

use std::collections::{BTreeMap, BTreeSet};

use failure_domains::{DomainNumbers, Place, Spread};

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
    owned: u64,
    inventory: Option<&'a Inventory>,
}

/// The data nodes of one planning round, with their inventories and failure domains.
#[derive(Debug)]
pub(crate) struct NodeTable<'a> {
    nodes: Vec<Node<'a>>,
    /// Each node's place in the failure-domain hierarchy (as deep as the deepest node's labels).
    places: Vec<Place>,
    /// The domains of the nodes that may receive copies; `None` when no node has a label of the
    /// hierarchy (placement is by load alone).
    spread: Option<Spread>,
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
        let nodes: Vec<Node<'a>> = sorted
            .iter()
            .map(|n| Node {
                id: n.id,
                dead: n.liveness == Liveness::Dead,
                online: n.liveness == Liveness::Online,
                active: n.membership == Membership::Active,
                owned: n.owned,
                inventory: inventories.get(&n.id),
            })
            .collect();
        let depth = sorted.iter().map(|n| n.domain.len()).max().unwrap_or(0);
        let mut numbers = DomainNumbers::new(depth);
        let places: Vec<Place> =
            sorted.iter().map(|n| numbers.place(n.domain.iter().map(|l| Some(l.as_str())))).collect();
        let receivers = nodes.iter().zip(&places).filter(|(n, _)| n.active && n.online).map(|(_, p)| p);
        let spread = (depth > 0).then(|| Spread::new(depth, receivers));
        NodeTable { nodes, places, spread, lookup, unreported }
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

    /// Node `i`'s place in the failure-domain hierarchy.
    #[inline]
    pub(crate) fn place(&self, i: Ix) -> &Place {
        &self.places[i as usize]
    }

    /// The failure domains of the nodes that may receive copies (active and online); `None` when
    /// no node has a label of the hierarchy.
    pub(crate) fn spread(&self) -> Option<&Spread> {
        self.spread.as_ref()
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
            domain: zone.map(String::from).into_iter().collect(),
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
    fn places_nodes_by_their_domain_labels() {
        let nodes = [node(1, Some("b")), node(2, Some("a")), node(3, None), node(4, Some("b"))];
        let (inventories, unreported) = (BTreeMap::new(), BTreeSet::new());
        let table = NodeTable::new(&nodes, &inventories, &unreported);
        assert_eq!(table.place(0).shared_levels(table.place(3)), 1, "both in zone b");
        assert_eq!(table.place(0).shared_levels(table.place(1)), 0);
        assert_eq!(table.place(2).shared_levels(table.place(2)), 0, "no zone: shares nothing");
        assert_eq!(table.spread().map(|s| s.domains(0)), Some(3), "zones a, b and the unlabelled node");
        let unlabelled = [node(1, None)];
        assert!(NodeTable::new(&unlabelled, &inventories, &unreported).spread().is_none());
    }
}
