//! A data node dies for good and is replaced, by `remove-data --force`
//! plus a new node, or by `update-data` onto a new machine.

use std::time::{Duration, Instant};

use cluster_harness::wait_for;
use meta_model::TaskReason;

use crate::support::{
    add_data_node, cluster_with_data_nodes, create_database, entropy, held, metactl, node_id, open_tasks, owners,
    tasks, wait_healed, write_hours,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_removed_with_force_is_replaced_from_the_survivors() {
    let mut cluster = cluster_with_data_nodes(3, "", &[]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 1, 6, 200).await;
    let before = wait_healed(&cluster, &[0, 1, 2], 2).await;
    assert!(tasks(&cluster).await.is_empty(), "writes reaching every owner need no copy");
    let dead = node_id(&cluster, 0).await;
    let lost: Vec<u64> = before.iter().filter(|(_, o)| o.contains(&dead)).map(|(s, _)| *s).collect();
    assert!(!lost.is_empty(), "node {dead} owns shards: {before:?}");

    eprintln!("--- data node {dead} dies for good; a new node joins; remove-data --force");
    cluster.kill_data_node(0);
    let new_slot = add_data_node(&mut cluster, &[]).await;
    let new_id = node_id(&cluster, new_slot).await;
    let dead_addr = cluster.data_addr(0).to_owned();
    let started = Instant::now();
    let out = metactl(&cluster, &["remove-data", "--force", &dead_addr]).await;
    assert!(out.starts_with(&format!("Removed data node {dead}")), "{out}");

    let first_claim = wait_for(Duration::from_secs(30), "a copy task claimed", || async {
        tasks(&cluster).await.iter().any(|t| t.task.attempt >= 1).then(|| started.elapsed())
    })
    .await;
    eprintln!("--- remove-data --force to the first claimed copy task: {first_claim:?}");

    let after = wait_healed(&cluster, &[1, 2, new_slot], 2).await;
    for shard in &lost {
        assert!(!after[shard].contains(&dead), "shard {shard} still owned by the removed node: {after:?}");
    }
    assert!(after.values().any(|o| o.contains(&new_id)), "the new node {new_id} owns shards now: {after:?}");
    let shown = metactl(&cluster, &["show-shards"]).await;
    assert!(shown.contains(cluster.data_addr(new_slot)), "show-shards lists the new owner:\n{shown}");

    let report = entropy(&cluster).await;
    assert!(report.under_replicated.is_empty(), "{report:?}");
    assert!(report.unrecoverable.is_empty(), "{report:?}");
    let listed = tasks(&cluster).await;
    let open = open_tasks(&listed);
    assert!(open.is_empty(), "no task left open: {open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_data_onto_an_empty_machine_copies_it_every_shard_it_owns() {
    let mut cluster = cluster_with_data_nodes(3, "", &[]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 1, 6, 200).await;
    let before = wait_healed(&cluster, &[0, 1, 2], 2).await;
    let replaced = node_id(&cluster, 0).await;
    let owned: Vec<u64> = before.iter().filter(|(_, o)| o.contains(&replaced)).map(|(s, _)| *s).collect();

    eprintln!("--- node {replaced}'s machine dies; an empty machine takes over its ID with update-data");
    cluster.kill_data_node(0);
    let new_slot = cluster.start_data_node(&[]);
    let (old_addr, new_addr) = (cluster.data_addr(0).to_owned(), cluster.data_addr(new_slot).to_owned());
    let out = metactl(&cluster, &["update-data", &old_addr, &new_addr]).await;
    assert!(out.starts_with(&format!("Updated data node {replaced}")), "{out}");

    let after = wait_healed(&cluster, &[1, 2, new_slot], 2).await;
    assert_eq!(after, before, "update-data keeps every owner list as it was");
    let now_held = held(&cluster, new_slot).await;
    for shard in &owned {
        assert!(now_held.contains_key(shard), "the new machine holds shard {shard}: {now_held:?}");
    }
    assert_eq!(node_id(&cluster, new_slot).await, replaced, "the new machine has the old ID");
    let reasons: Vec<_> = tasks(&cluster).await.iter().map(|t| t.task.spec.reason).collect();
    assert!(reasons.iter().all(|r| *r == TaskReason::MissingOnOwner), "the copies refilled an owner: {reasons:?}");
    assert_eq!(owners(&cluster).await, before);
}
