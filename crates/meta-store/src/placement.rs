//! Choosing the owners of a new shard group's shards: deterministic and balanced.

use std::collections::BTreeSet;

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
pub(crate) fn place_shards(candidates: &mut [Candidate<'_>], shard_count: usize, replicas: usize) -> Vec<Vec<NodeId>> {
    let replicas = replicas.min(candidates.len());
    let mut placements = Vec::with_capacity(shard_count);
    for _ in 0..shard_count {
        let mut owners: Vec<NodeId> = Vec::with_capacity(replicas);
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

    #[test]
    fn no_candidates_gives_ownerless_shards() {
        assert_eq!(place_shards(&mut [], 1, 2), vec![Vec::<NodeId>::new()]);
    }
}
