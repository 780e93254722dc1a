//! Choosing the owners of a new shard group's shards: deterministic, spread over failure domains,
//! balanced.

use std::collections::BTreeSet;

use failure_domains::{Picked, Place, Spread};

use crate::model::node::NodeId;

/// A data node that may receive shards: its place in the failure-domain hierarchy and how many
/// shards it owns now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) id: NodeId,
    pub(crate) place: Place,
    pub(crate) load: usize,
}

/// Picks `replicas` distinct owners for each of `shard_count` shards among `candidates`, whose
/// places are numbered under a hierarchy of `levels` levels. `kept[i]`, when given, are the places
/// of owners shard `i` already has from elsewhere (not candidates): picks spread away from them
/// too.
///
/// Each pick prefers, in order: the least overlap in the hierarchy with the shard's owners so far
/// (a zone it does not use yet, else a rack, …; see `failure_domains`), the least loaded node,
/// the lowest ID. Loads grow as shards are placed, so a group spreads over all candidates.
/// Owners of each shard come back sorted by ID. `replicas` is capped at the number of candidates.
///
/// Candidates stay ordered by `(load, id)` and a pick stops at the first one with the least
/// overlap possible, so it looks at a few entries instead of scanning every node: placing a
/// group costs about `O(shards × replicas × log nodes)` (a group on 1,000 nodes has ~333 shards).
pub(crate) fn place_shards(
    candidates: &mut [Candidate],
    levels: usize,
    shard_count: usize,
    replicas: usize,
    kept: &[Vec<Place>],
) -> Vec<Vec<NodeId>> {
    let replicas = replicas.min(candidates.len());
    let spread = Spread::new(levels, candidates.iter().map(|c| &c.place));
    let mut order: BTreeSet<(usize, NodeId, usize)> =
        candidates.iter().enumerate().map(|(i, c)| (c.load, c.id, i)).collect();
    let mut placements = Vec::with_capacity(shard_count);
    for shard in 0..shard_count {
        let mut owners = Picked::new(&spread);
        for place in kept.get(shard).into_iter().flatten() {
            owners.add(place, false);
        }
        let mut picked: Vec<(usize, NodeId, usize)> = Vec::with_capacity(replicas);
        for _ in 0..replicas {
            let free = order.iter().filter(|e| !picked.iter().any(|p| p.2 == e.2));
            let Some(&choice) = owners.choose(free, |e| &candidates[e.2].place) else { break };
            owners.add(&candidates[choice.2].place, true);
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
    use failure_domains::DomainNumbers;

    use super::*;

    /// Candidates `(id, zone/rack path or "" for none, load)` under `zone > rack`.
    fn nodes(spec: &[(NodeId, &str, usize)]) -> Vec<Candidate> {
        let mut numbers = DomainNumbers::new(2);
        spec.iter()
            .map(|&(id, path, load)| {
                let place = numbers.place(path.split('/').map(|p| (!p.is_empty()).then_some(p)));
                Candidate { id, place, load }
            })
            .collect()
    }

    fn place(candidates: &mut [Candidate], shard_count: usize, replicas: usize) -> Vec<Vec<NodeId>> {
        place_shards(candidates, 2, shard_count, replicas, &[])
    }

    #[test]
    fn spreads_a_group_over_all_nodes() {
        let mut c = nodes(&[(1, "", 0), (2, "", 0), (3, "", 0), (4, "", 0)]);
        assert_eq!(place(&mut c, 2, 2), vec![vec![1, 2], vec![3, 4]]);
        assert!(c.iter().all(|c| c.load == 1));
    }

    #[test]
    fn prefers_least_loaded_nodes() {
        let mut c = nodes(&[(1, "", 5), (2, "", 0), (3, "", 1)]);
        assert_eq!(place(&mut c, 1, 2), vec![vec![2, 3]]);
    }

    #[test]
    fn spreads_copies_across_zones() {
        let mut c = nodes(&[(1, "a", 0), (2, "a", 0), (3, "b", 3)]);
        // Node 3 is the most loaded but the only one in zone b.
        assert_eq!(place(&mut c, 1, 2), vec![vec![1, 3]]);
    }

    #[test]
    fn spreads_over_racks_once_zones_run_out() {
        // Two zones, RF 3: the third copy goes to the other rack of a zone, not the same rack,
        // though node 2 is less loaded.
        let mut c = nodes(&[(1, "a/r1", 0), (2, "a/r1", 0), (3, "a/r2", 4), (4, "b/r3", 4)]);
        assert_eq!(place(&mut c, 1, 3), vec![vec![1, 3, 4]]);
    }

    #[test]
    fn kept_owners_count_as_used_domains() {
        // The shard keeps an owner in zone a (not a candidate): its new copy goes to zone b.
        let mut c = nodes(&[(1, "a/r1", 0), (2, "b/r2", 5), (9, "a/r9", 0)]);
        let kept = vec![vec![c.pop().expect("node 9").place]];
        assert_eq!(place_shards(&mut c, 2, 1, 1, &kept), vec![vec![2]]);
    }

    #[test]
    fn caps_replicas_at_candidate_count() {
        let mut c = nodes(&[(7, "", 0)]);
        assert_eq!(place(&mut c, 1, 3), vec![vec![7]]);
    }

    /// The straightforward version: scan every candidate for every pick. The real one must agree.
    fn place_naive(candidates: &mut [Candidate], shard_count: usize, replicas: usize) -> Vec<Vec<NodeId>> {
        let replicas = replicas.min(candidates.len());
        let mut placements = Vec::new();
        for _ in 0..shard_count {
            let mut owners: Vec<NodeId> = Vec::new();
            let mut places: Vec<Place> = Vec::new();
            for _ in 0..replicas {
                let overlap = |p: &Place| places.iter().map(|o| o.shared_levels(p)).max().unwrap_or(0);
                let best = candidates
                    .iter_mut()
                    .filter(|c| !owners.contains(&c.id))
                    .min_by_key(|c| (overlap(&c.place), c.load, c.id));
                let Some(best) = best else { break };
                best.load += 1;
                owners.push(best.id);
                places.push(best.place);
            }
            owners.sort_unstable();
            placements.push(owners);
        }
        placements
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_naive_scan(
            spec in proptest::collection::vec((0usize..5, proptest::option::of(0usize..3), proptest::option::of(0usize..2)), 0..40),
            shard_count in 0usize..20,
            replicas in 0usize..5,
        ) {
            const ZONES: [&str; 3] = ["a", "b", "c"];
            const RACKS: [&str; 2] = ["r1", "r2"];
            let paths: Vec<String> = spec
                .iter()
                .map(|&(_, zone, rack)| match (zone, rack) {
                    (Some(z), Some(r)) => format!("{}/{}", ZONES[z], RACKS[r]),
                    (Some(z), None) => ZONES[z].to_owned(),
                    (None, _) => String::new(),
                })
                .collect();
            let build = || -> Vec<Candidate> {
                let spec: Vec<(NodeId, &str, usize)> = spec
                    .iter()
                    .zip(&paths)
                    .enumerate()
                    .map(|(i, (&(load, _, _), path))| (i as NodeId * 7 % 41 + 1, path.as_str(), load))
                    .collect();
                nodes(&spec)
            };
            let (mut fast, mut naive) = (build(), build());
            let mut ids: Vec<NodeId> = fast.iter().map(|c| c.id).collect();
            ids.sort_unstable();
            ids.dedup();
            proptest::prop_assume!(ids.len() == fast.len());
            proptest::prop_assert_eq!(place(&mut fast, shard_count, replicas), place_naive(&mut naive, shard_count, replicas));
            proptest::prop_assert_eq!(fast, naive);
        }
    }

    #[test]
    fn no_candidates_gives_ownerless_shards() {
        assert_eq!(place(&mut [], 1, 2), vec![Vec::<NodeId>::new()]);
    }
}
