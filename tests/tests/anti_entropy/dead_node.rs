//! Dead nodes are healed without an operator: a data node silent for `dead-node-timeout` stops
//! counting as a copy, its shards are copied elsewhere with the dead node as the owner replaced,
//! and when it comes back it is simply a live node again.

use std::time::{Duration, Instant};

use cluster_harness::wait_for;
use meta_model::{TaskReason, TaskState};
use meta_wire::Liveness;

use crate::support::{
    add_data_node, ae_config_with, all_tasks, cluster_with_config, create_database, liveness, metactl, node_id, owners,
    wait_healed, write_hours,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_is_declared_dead_and_its_shards_are_copied_elsewhere() {
    let config = ae_config_with(&[("dead-node-timeout", "5s")]);
    let mut cluster = cluster_with_config(&config, 3, &[]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 1, 4, 300).await;
    let before = wait_healed(&cluster, &[0, 1, 2], 2).await;
    // Repairs alone here: balancing would move shards to the empty spare before the kill, and
    // onto the node when it returns owning nothing (`balance::*` tests that).
    let out = metactl(&cluster, &["balance", "disable"]).await;
    assert!(out.starts_with("Balancing disabled"), "{out}");
    let spare = add_data_node(&mut cluster, &[]).await;
    let dead = node_id(&cluster, 0).await;
    let lost: Vec<u64> = before.iter().filter(|(_, o)| o.contains(&dead)).map(|(s, _)| *s).collect();

    eprintln!("--- data node {dead} goes silent; nobody runs a command");
    cluster.kill_data_node(0);
    let killed = Instant::now();
    wait_for(Duration::from_secs(20), "the node declared dead", || async {
        (liveness(&cluster, dead).await == Some(Liveness::Dead)).then_some(())
    })
    .await;
    eprintln!("--- declared dead {:?} after the kill (dead-node-timeout 5s)", killed.elapsed());

    let after = wait_healed(&cluster, &[1, 2, spare], 2).await;
    eprintln!("--- healed {:?} after the kill", killed.elapsed());
    for shard in &lost {
        assert!(!after[shard].contains(&dead), "shard {shard} no longer counts on the dead node: {after:?}");
    }
    let tasks = all_tasks(&cluster).await;
    let replacing: Vec<_> = tasks.iter().filter(|t| t.task.spec.replaces == Some(dead)).collect();
    assert_eq!(replacing.len(), lost.len(), "one replacement per shard the dead node owned: {tasks:?}");
    assert!(replacing.iter().all(|t| t.task.spec.reason == TaskReason::DeadOwner && t.task.state == TaskState::Done));

    eprintln!("--- the node comes back: live again, owning nothing it lost");
    cluster.restart_data_node(0);
    wait_for(Duration::from_secs(20), "the node online again", || async {
        (liveness(&cluster, dead).await == Some(Liveness::Online)).then_some(())
    })
    .await;
    assert_eq!(owners(&cluster).await, after, "its return changes no owner");
}
