//! Choosing the owners of a new shard group's shards: deterministic and balanced.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::node::NodeId;

/// A data node that may receive shards, with how many shards it owns now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate<'a> {
    pub(crate) id: NodeId,
    pub(crate) zone: Option<&'a str>,
    pub(crate) load: usize,
}

/// Picks `replicas` distinct owners for each of `shard_count` shards.
///
/// Each pick prefers, in order: a zone this shard does not use yet, the least loaded node, the
/// lowest ID. Loads grow as shards are placed, so a group spreads over all candidates. Owners of
/// each shard come back sorted by ID. `replicas` is capped at the number of candidates.
///
/// Candidates stay ordered by `(load, id)`, so a pick looks at the first few entries instead of
/// scanning every node: placing a group costs `O(shards × replicas × log nodes)` rather than
/// `O(shards × replicas × nodes)` (a group on 1,000 nodes has ~333 shards).
pub(crate) fn place_shards(candidates: &mut [Candidate<'_>], shard_count: usize, replicas: usize) -> Vec<Vec<NodeId>> {
    let replicas = replicas.min(candidates.len());
    let mut zone_numbers: BTreeMap<&str, usize> = BTreeMap::new();
    let zones: Vec<Option<usize>> = candidates
        .iter()
        .map(|c| {
            c.zone.map(|z| {
                let next = zone_numbers.len();
                *zone_numbers.entry(z).or_insert(next)
            })
        })
        .collect();
    let zone_count = zone_numbers.len();
    let has_zoneless = zones.iter().any(Option::is_none);
    let mut order: BTreeSet<(usize, NodeId, usize)> =
        candidates.iter().enumerate().map(|(i, c)| (c.load, c.id, i)).collect();
    let mut placements = Vec::with_capacity(shard_count);
    for _ in 0..shard_count {
        let mut picked: Vec<(usize, NodeId, usize)> = Vec::with_capacity(replicas);
        let mut used_zones: Vec<usize> = Vec::with_capacity(replicas);
        for _ in 0..replicas {
            let free = |entry: &&(usize, NodeId, usize)| !picked.iter().any(|p| p.2 == entry.2);
            // Look for an unused zone only while one can exist, so a full scan never happens
            // just to learn that every zone is taken.
            let fresh_zone = if used_zones.len() < zone_count || has_zoneless {
                order.iter().filter(free).find(|e| zones[e.2].is_none_or(|z| !used_zones.contains(&z))).copied()
            } else {
                None
            };
            let Some(choice) = fresh_zone.or_else(|| order.iter().find(free).copied()) else { break };
            if let Some(zone) = zones[choice.2] {
                used_zones.push(zone);
            }
            picked.push(choice);
        }
        for &(load, id, index) in &picked {
            order.remove(&(load, id, index));
            order.insert((load + 1, id, index));
            candidates[index].load = load + 1;
        }
        let mut owners: Vec<NodeId> = picked.iter().map(|p| p.1).collect();
        owners.sort_unstable();
        placements.push(owners);
    }
    placements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(spec: &[(NodeId, Option<&'static str>, usize)]) -> Vec<Candidate<'static>> {
        spec.iter().map(|&(id, zone, load)| Candidate { id, zone, load }).collect()
    }

    #[test]
    fn spreads_a_group_over_all_nodes() {
        let mut c = nodes(&[(1, None, 0), (2, None, 0), (3, None, 0), (4, None, 0)]);
        assert_eq!(place_shards(&mut c, 2, 2), vec![vec![1, 2], vec![3, 4]]);
        assert!(c.iter().all(|c| c.load == 1));
    }

    #[test]
    fn prefers_least_loaded_nodes() {
        let mut c = nodes(&[(1, None, 5), (2, None, 0), (3, None, 1)]);
        assert_eq!(place_shards(&mut c, 1, 2), vec![vec![2, 3]]);
    }

    #[test]
    fn spreads_copies_across_zones() {
        let mut c = nodes(&[(1, Some("a"), 0), (2, Some("a"), 0), (3, Some("b"), 3)]);
        // Node 3 is the most loaded but the only one in zone b.
        assert_eq!(place_shards(&mut c, 1, 2), vec![vec![1, 3]]);
    }

    #[test]
    fn caps_replicas_at_candidate_count() {
        let mut c = nodes(&[(7, None, 0)]);
        assert_eq!(place_shards(&mut c, 1, 3), vec![vec![7]]);
    }

    /// The straightforward version: scan every candidate for every pick. The real one must agree.
    fn place_naive(candidates: &mut [Candidate<'_>], shard_count: usize, replicas: usize) -> Vec<Vec<NodeId>> {
        let replicas = replicas.min(candidates.len());
        let mut placements = Vec::new();
        for _ in 0..shard_count {
            let mut owners: Vec<NodeId> = Vec::new();
            let mut zones: BTreeSet<&str> = BTreeSet::new();
            for _ in 0..replicas {
                let best = candidates
                    .iter_mut()
                    .filter(|c| !owners.contains(&c.id))
                    .min_by_key(|c| (c.zone.is_some_and(|z| zones.contains(z)), c.load, c.id));
                let Some(best) = best else { break };
                best.load += 1;
                owners.push(best.id);
                if let Some(zone) = best.zone {
                    zones.insert(zone);
                }
            }
            owners.sort_unstable();
            placements.push(owners);
        }
        placements
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_naive_scan(
            spec in proptest::collection::vec((0usize..5, proptest::option::of(0usize..3)), 0..40),
            shard_count in 0usize..20,
            replicas in 0usize..5,
        ) {
            const ZONES: [&str; 3] = ["a", "b", "c"];
            let build = || -> Vec<Candidate<'static>> {
                spec.iter()
                    .enumerate()
                    .map(|(i, &(load, zone))| Candidate { id: i as NodeId * 7 % 41 + 1, zone: zone.map(|z| ZONES[z]), load })
                    .collect()
            };
            let (mut fast, mut naive) = (build(), build());
            let mut ids: Vec<NodeId> = fast.iter().map(|c| c.id).collect();
            ids.sort_unstable();
            ids.dedup();
            proptest::prop_assume!(ids.len() == fast.len());
            proptest::prop_assert_eq!(
                place_shards(&mut fast, shard_count, replicas),
                place_naive(&mut naive, shard_count, replicas)
            );
            proptest::prop_assert_eq!(fast, naive);
        }
    }

    #[test]
    fn no_candidates_gives_ownerless_shards() {
        assert_eq!(place_shards(&mut [], 1, 2), vec![Vec::<NodeId>::new()]);
    }
}
