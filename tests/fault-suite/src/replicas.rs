//! Who owns each shard (the metadata) against who holds it (the data nodes): the state the
//! anti-entropy test waits for after every fault, and the full read of every owner's copy.
//!
//! ```text
//!   metad /v1/shards ──▶ owners ─┐
//!                                ├─▶ problems(rf, excluded, compare): every shard has rf distinct
//!   datad /status ─────▶ held  ──┘   owners, none excluded, each holding it (with the same points,
//!                                    by content root, when compared)
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::data_nodes::{DataNodes, ShardCopy};
use crate::error::Error;
use crate::meta_view::{MetaApi, Owners};
use crate::points::Copies;

/// Shard owners and what the reachable data nodes hold, read one after the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaView {
    /// Shard ID → owner IDs.
    pub owners: Owners,
    /// Node ID → shard ID → the node's copy, for every data node that answered.
    pub held: BTreeMap<u64, BTreeMap<u64, ShardCopy>>,
}

impl ReplicaView {
    /// Reads the owners, then every data node that is not killed (`None` if no meta node
    /// answers). Owners are read first: a node becomes an owner only once it holds its copy, and
    /// data nodes never delete shard files, so an owner read then still holds the shard after.
    pub async fn read(meta: &MetaApi, data: &DataNodes) -> Option<ReplicaView> {
        let owners = meta.owners().await?;
        let mut held = BTreeMap::new();
        for slot in 0..data.len() {
            if let Some(status) = data.status(slot).await {
                held.insert(data.node_id(slot), status.shards);
            }
        }
        Some(ReplicaView { owners, held })
    }

    /// Everything that keeps the shards from being healthy: a shard without exactly `rf`
    /// distinct owners, owned by a node in `excluded`, or not held by one of its owners (or an
    /// owner that did not answer); with `identical`, owners whose copies hold different points
    /// (their content roots differ; the bytes may differ in order, e.g. after a copy of a shard
    /// written meanwhile).
    pub fn problems(&self, rf: usize, excluded: &BTreeSet<u64>, identical: bool) -> Vec<String> {
        let mut problems = Vec::new();
        if self.owners.is_empty() {
            problems.push("the metadata lists no shard".to_owned());
        }
        for (shard, nodes) in &self.owners {
            let distinct: BTreeSet<u64> = nodes.iter().copied().collect();
            if distinct.len() != rf || nodes.len() != rf {
                problems.push(format!("shard {shard} has owners {nodes:?}, not {rf} distinct ones"));
            }
            if let Some(node) = nodes.iter().find(|n| excluded.contains(n)) {
                problems.push(format!("shard {shard} is still owned by node {node}"));
            }
            let mut copies = Vec::new();
            for node in nodes {
                match self.held.get(node).map(|h| h.get(shard)) {
                    None => problems.push(format!("owner {node} of shard {shard} does not answer")),
                    Some(None) => problems.push(format!("owner {node} of shard {shard} does not hold it")),
                    Some(Some(copy)) => copies.push((*node, *copy)),
                }
            }
            if identical && copies.windows(2).any(|w| w[0].1.root != w[1].1.root) {
                problems.push(format!("the owners of shard {shard} hold different copies: {copies:?}"));
            }
        }
        problems
    }

    /// Node ID → the shards it owns.
    pub fn owned_by(&self) -> BTreeMap<u64, BTreeSet<u64>> {
        let mut owned: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for (shard, nodes) in &self.owners {
            for node in nodes {
                owned.entry(*node).or_default().insert(*shard);
            }
        }
        owned
    }
}

/// Reads every owner's copy of every shard in `owners` (`GET /shards/{id}`), as distinct lines.
pub async fn read_copies(data: &DataNodes, owners: &Owners) -> Result<Copies, Error> {
    let mut copies = Copies::new();
    for (shard, nodes) in owners {
        for node in nodes {
            let slot = data
                .slot_of(*node)
                .ok_or_else(|| Error::Cluster(format!("owner {node} of shard {shard} is not one of the data nodes")))?;
            let lines = data
                .shard_lines(slot, *shard)
                .await
                .ok_or_else(|| Error::Cluster(format!("data node {node} did not serve its copy of shard {shard}")))?;
            copies.entry(*shard).or_default().insert(*node, lines.into_iter().collect());
        }
    }
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ShardCopy = ShardCopy { size: 10, checksum: 1, root: 5 };
    const B: ShardCopy = ShardCopy { size: 12, checksum: 2, root: 6 };

    fn view(owners: &[(u64, &[u64])], held: &[(u64, &[(u64, ShardCopy)])]) -> ReplicaView {
        ReplicaView {
            owners: owners.iter().map(|(s, o)| (*s, o.to_vec())).collect(),
            held: held.iter().map(|(n, h)| (*n, h.iter().copied().collect())).collect(),
        }
    }

    #[test]
    fn healthy_shards_have_rf_holding_owners_with_the_same_copy() {
        let healthy = view(&[(1, &[4, 5]), (2, &[5, 6])], &[(4, &[(1, A)]), (5, &[(1, A), (2, B)]), (6, &[(2, B)])]);
        assert_eq!(healthy.problems(2, &BTreeSet::new(), true), Vec::<String>::new());
        assert_eq!(healthy.owned_by()[&5], BTreeSet::from([1, 2]));
        let excluded = healthy.problems(2, &BTreeSet::from([6]), true);
        assert_eq!(excluded, vec!["shard 2 is still owned by node 6".to_owned()]);
        assert_eq!(healthy.problems(3, &BTreeSet::new(), false).len(), 2, "RF 3 is not met by two owners");
    }

    #[test]
    fn missing_silent_and_differing_copies_are_problems() {
        let differing = view(&[(1, &[4, 5])], &[(4, &[(1, A)]), (5, &[(1, B)])]);
        assert!(differing.problems(2, &BTreeSet::new(), false).is_empty(), "sizes are compared only if asked");
        assert_eq!(differing.problems(2, &BTreeSet::new(), true).len(), 1);
        let missing = view(&[(1, &[4, 5])], &[(4, &[(1, A)]), (5, &[])]);
        assert_eq!(missing.problems(2, &BTreeSet::new(), true), vec!["owner 5 of shard 1 does not hold it".to_owned()]);
        let silent = view(&[(1, &[4, 5])], &[(4, &[(1, A)])]);
        assert_eq!(silent.problems(2, &BTreeSet::new(), true), vec!["owner 5 of shard 1 does not answer".to_owned()]);
        assert_eq!(view(&[], &[]).problems(2, &BTreeSet::new(), true).len(), 1, "no shard at all is a problem");
    }
}
