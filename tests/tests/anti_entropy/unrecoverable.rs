//! RF=1 and the only owner is gone. Nothing can be copied: the shards are
//! reported as unrecoverable (`/v1/entropy`, `entropy show`, `/metrics`), kept in the metadata,
//! and never planned, however many planning rounds run.

use std::collections::BTreeSet;
use std::time::Duration;

use cluster_harness::wait_for;

use crate::support::{
    ae_config_with, all_tasks, cluster_with_config, create_database, entropy, leader_metric, metactl, owners, slot_of,
    wait_healed, write_hours,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rf1_shard_whose_only_owner_is_removed_is_reported_unrecoverable_and_never_copied() {
    // Full planning rounds every second, so several run within the test.
    let config = ae_config_with(&[("check-interval", "1s")]);
    let mut cluster = cluster_with_config(&config, 3, &[]).await;
    create_database(&cluster, 1).await;
    // One hour: its series spread over all three shards of the group (one per node).
    write_hours(&cluster, 0, 1, 600).await;
    let before = wait_healed(&cluster, &[0, 1, 2], 1).await;
    assert!(all_tasks(&cluster).await.is_empty(), "writes reaching every owner need no copy");

    let (&shard, first_owners) = before.iter().next().expect("shards written");
    let owner = first_owners[0];
    let lost: BTreeSet<u64> = before.iter().filter(|(_, o)| o.contains(&owner)).map(|(s, _)| *s).collect();
    assert!(lost.contains(&shard));
    let slot = slot_of(&cluster, owner).await;
    let addr = cluster.data_addr(slot).to_owned();

    eprintln!("--- the only owner of shards {lost:?} (node {owner}) is destroyed and removed with --force");
    cluster.kill_data_node(slot);
    let out = metactl(&cluster, &["remove-data", "--force", &addr]).await;
    assert!(out.starts_with(&format!("Removed data node {owner}")), "{out}");

    eprintln!("--- /v1/entropy reports them unrecoverable");
    let report = wait_for(Duration::from_secs(20), "the lost shards reported unrecoverable", || async {
        let report = entropy(&cluster).await;
        let listed: BTreeSet<u64> = report.unrecoverable.iter().copied().collect();
        (listed == lost).then_some(report)
    })
    .await;
    assert!(report.tasks.is_empty(), "{report:?}");

    let shown = metactl(&cluster, &["entropy", "show"]).await;
    let ids: Vec<String> = lost.iter().map(u64::to_string).collect();
    let line = format!("UNRECOVERABLE: no live copy of shard(s) {} exists anywhere", ids.join(", "));
    assert!(shown.contains(&line), "entropy show names the lost shards ({line:?}):\n{shown}");

    let expected = lost.len() as f64;
    wait_for(Duration::from_secs(10), "metad_ae_unrecoverable_shards on the leader", || async {
        (leader_metric(&cluster, "metad_ae_unrecoverable_shards").await == Some(expected)).then_some(())
    })
    .await;

    eprintln!("--- three more planning rounds: no copy task appears, nothing loops");
    let plans = leader_metric(&cluster, "metad_ae_plans_total").await.expect("the leader counts its plans");
    let rounds = wait_for(Duration::from_secs(20), "three more planning rounds", || async {
        let tasks = all_tasks(&cluster).await;
        assert!(tasks.is_empty(), "no copy task for an unrecoverable shard (or any other): {tasks:?}");
        let now = leader_metric(&cluster, "metad_ae_plans_total").await?;
        (now >= plans + 3.0).then_some(now - plans)
    })
    .await;
    eprintln!("--- {rounds} planning rounds ran; still no task");
    assert!(all_tasks(&cluster).await.is_empty());
    assert_eq!(leader_metric(&cluster, "metad_ae_tasks_created_total").await, Some(0.0));
    assert_eq!(leader_metric(&cluster, "metad_ae_unrecoverable_shards").await, Some(expected));

    let after = owners(&cluster).await;
    for shard in &lost {
        assert_eq!(after.get(shard), Some(&Vec::new()), "shard {shard} is kept, with no owner: {after:?}");
    }
    for (shard, nodes) in &before {
        if !lost.contains(shard) {
            assert_eq!(after.get(shard), Some(nodes), "shard {shard} kept its owner");
        }
    }
}
