//! A live node is retired with `remove-data` (no `--force`). It drains: each of
//! its shards is copied elsewhere first, and it stops owning a shard only when that copy is done,
//! so no shard ever has fewer copies than its replication factor on the way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cluster_harness::Cluster;
use meta_model::{NodeState, TaskReason, TaskState};

use crate::support::{
    all_tasks, assert_distinct_owners, cluster_with_data_nodes, create_database, data_node_state, entropy, metactl,
    node_id, owners, try_held, wait_healed, write_hours, TaskInfo, REPAIR_TIMEOUT,
};

/// What the sampler saw while the node drained.
#[derive(Debug, Default)]
struct Samples {
    /// Complete samples taken (every meta and data node answered).
    taken: usize,
    /// Samples in which the retired node was `draining`.
    draining: usize,
    /// Samples in which some but not all of the retired node's shards had moved.
    midway: usize,
    /// Fewest owners holding a copy seen for any shard in any sample.
    fewest_copies: usize,
}

/// Samples owners (metadata) and holdings (data nodes) every poll interval until `retired` is
/// `removed`, panicking at the first sample where a shard has fewer than `rf` distinct owners
/// holding a copy.
///
/// Owners are read before holdings: a node becomes an owner only after it installed its copy,
/// and data nodes never delete shard files, so an owner read at one instant must hold the shard
/// at any later one. The check is therefore free of races between the two reads.
async fn sample_until_removed(
    cluster: &Cluster,
    slots: &BTreeMap<u64, usize>,
    retired: u64,
    moving: &BTreeSet<u64>,
    rf: usize,
) -> Samples {
    let mut samples = Samples { fewest_copies: usize::MAX, ..Samples::default() };
    let deadline = Instant::now() + REPAIR_TIMEOUT;
    loop {
        let state = data_node_state(cluster, retired).await;
        let owned = owners(cluster).await;
        let mut held = BTreeMap::new();
        for (&id, &slot) in slots {
            if let Some(shards) = try_held(cluster, slot).await {
                held.insert(id, shards);
            }
        }
        if state.is_some() && !owned.is_empty() && held.len() == slots.len() {
            samples.taken += 1;
            for (shard, nodes) in &owned {
                let distinct: BTreeSet<u64> = nodes.iter().copied().collect();
                let holding = distinct.iter().filter(|n| held.get(*n).is_some_and(|h| h.contains_key(shard))).count();
                assert!(
                    distinct.len() >= rf && holding >= rf,
                    "sample {}: shard {shard} has owners {nodes:?}, {holding} of them holding a copy (RF {rf}); \
                     retired node {retired} is {state:?}",
                    samples.taken
                );
                samples.fewest_copies = samples.fewest_copies.min(holding);
            }
            if state == Some(NodeState::Draining) {
                samples.draining += 1;
            }
            let still_owned = moving.iter().filter(|s| owned.get(s).is_some_and(|o| o.contains(&retired))).count();
            if still_owned > 0 && still_owned < moving.len() {
                samples.midway += 1;
            }
            if state == Some(NodeState::Removed) {
                return samples;
            }
        }
        assert!(Instant::now() < deadline, "node {retired} not removed after {REPAIR_TIMEOUT:?}: {samples:?}");
        // Poll interval between samples; the deadline above bounds the loop.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_a_live_node_drains_it_without_ever_lowering_redundancy() {
    // Throttled copies in small chunks: the drain takes seconds, so the sampler sees it happen.
    let throttle = ["--max-copy-rate", "200000", "--chunk-size", "16384"];
    let cluster = cluster_with_data_nodes(4, "", &throttle).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 1, 6, 10000).await;
    let before = wait_healed(&cluster, &[0, 1, 2, 3], 2).await;
    // The drain alone here: when the retired node's co-owner of every shard it holds is the same
    // node, the drain can only copy onto the other two, and balancing then rightly moves shards
    // onto the lighter node, tasks this test would count as false repairs (`balance::*` tests that).
    let out = metactl(&cluster, &["balance", "disable"]).await;
    assert!(out.starts_with("Balancing disabled"), "{out}");

    let mut slots = BTreeMap::new();
    for slot in 0..4 {
        slots.insert(node_id(&cluster, slot).await, slot);
    }
    let load = |id: u64| before.values().filter(|o| o.contains(&id)).count();
    let retired = *slots.keys().max_by_key(|&&id| (load(id), std::cmp::Reverse(id))).expect("data nodes");
    let moving: BTreeSet<u64> = before.iter().filter(|(_, o)| o.contains(&retired)).map(|(s, _)| *s).collect();
    assert!(!moving.is_empty(), "node {retired} owns shards: {before:?}");
    let addr = cluster.data_addr(slots[&retired]).to_owned();

    eprintln!("--- remove-data {addr} (graceful): node {retired} drains {} of {} shards", moving.len(), before.len());
    let started = Instant::now();
    let command = async {
        let out = metactl(&cluster, &["remove-data", &addr]).await;
        assert!(out.contains(&format!("Data node {retired} at {addr} is draining")), "{out}");
    };
    let (samples, ()) = tokio::join!(sample_until_removed(&cluster, &slots, retired, &moving, 2), command);
    let drained = started.elapsed();
    eprintln!("--- node {retired} removed after {drained:?}; {samples:?}");
    assert!(samples.draining > 0, "the node was seen draining before it was removed: {samples:?}");

    eprintln!("--- every shard back on two other nodes with identical copies");
    let remaining: Vec<usize> = slots.iter().filter(|(&id, _)| id != retired).map(|(_, &slot)| slot).collect();
    let after = wait_healed(&cluster, &remaining, 2).await;
    assert_distinct_owners(&after, 2);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "no shard lost or added");
    for (shard, nodes) in &after {
        assert!(!nodes.contains(&retired), "shard {shard} still owned by the retired node: {after:?}");
        if !moving.contains(shard) {
            assert_eq!(nodes, &before[shard], "shard {shard} did not involve node {retired} and kept its owners");
        }
    }
    assert_eq!(data_node_state(&cluster, retired).await, Some(NodeState::Removed));

    // The drain needs exactly one copy per shard it moves; any other task is a false repair.
    let tasks = all_tasks(&cluster).await;
    let is_drain_copy = |info: &TaskInfo| {
        info.task.state == TaskState::Done
            && info.task.spec.reason == TaskReason::DrainingOwner
            && info.task.spec.replaces == Some(retired)
    };
    let others: Vec<&TaskInfo> = tasks.iter().filter(|info| !is_drain_copy(info)).collect();
    assert!(others.is_empty(), "only the drain's copies ran, each done; also found: {others:#?}");
    let mut done_per_shard: BTreeMap<u64, usize> = BTreeMap::new();
    for info in &tasks {
        *done_per_shard.entry(info.task.spec.shard_id).or_default() += 1;
    }
    assert_eq!(done_per_shard.keys().copied().collect::<BTreeSet<_>>(), moving, "one copy per drained shard");
    assert!(done_per_shard.values().all(|&n| n == 1), "no shard copied twice: {done_per_shard:?}");
    let report = entropy(&cluster).await;
    assert!(report.under_replicated.is_empty(), "{report:?}");
    assert!(report.over_replicated.is_empty(), "{report:?}");
}
