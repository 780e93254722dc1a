//! The operator's commands around copies, through the real `metactl`: `copy-shard --wait`,
//! `kill-copy-shard`, `entropy kill-repair` (the planner leaves a killed copy alone) and
//! `entropy repair` (it plans the shard again).

use std::time::Duration;

use cluster_harness::wait_for;
use meta_model::{CancelReason, TaskState};

use crate::support::{
    add_data_node, cluster_with_data_nodes, create_database, metactl, node_id, open_tasks, owners, tasks, try_held,
    wait_healed, write_hours, TaskInfo,
};

/// The newest task of `shard`, if any.
fn task_of(tasks: &[TaskInfo], shard: u64) -> Option<&TaskInfo> {
    tasks.iter().filter(|t| t.task.spec.shard_id == shard).max_by_key(|t| t.task.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_shard_waits_for_the_copy_and_kill_copy_shard_stops_one() {
    // The third node copies slowly, so a copy to it can be stopped half-way.
    let mut cluster = cluster_with_data_nodes(2, "", &[]).await;
    let slow = add_data_node(&mut cluster, &["--max-copy-rate", "20000"]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 3, 2000).await;
    let before = wait_healed(&cluster, &[0, 1, slow], 2).await;
    let mut ids = Vec::new();
    for slot in [0, 1, slow] {
        ids.push((slot, node_id(&cluster, slot).await));
    }
    let outsider = |shard: u64| *ids.iter().find(|(_, id)| !before[&shard].contains(id)).expect("a non-owner");
    let slow_id = ids[2].1;
    // The shard the slow node lacks is copied to it (and killed); another one to a fast node.
    let second = *before.iter().find(|(_, o)| !o.contains(&slow_id)).expect("a shard the slow node lacks").0;
    let first = *before.keys().find(|&&s| s != second).expect("another shard");

    eprintln!("--- copy-shard --wait: the destination becomes a third owner");
    let (dest_slot, dest) = outsider(first);
    let source = before[&first][0];
    let out =
        metactl(&cluster, &["copy-shard", &source.to_string(), &dest.to_string(), &first.to_string(), "--wait"]).await;
    assert!(out.starts_with(&format!("Copied shard {first} from")), "{out}");
    assert!(owners(&cluster).await[&first].contains(&dest), "node {dest} owns shard {first} after the copy");
    let held = try_held(&cluster, dest_slot).await.expect("destination answers");
    assert!(held.contains_key(&first), "{held:?}");

    eprintln!("--- kill-copy-shard stops a copy in flight");
    let target = slow_id;
    let source = before[&second].iter().copied().find(|&o| o != target).expect("a source");
    metactl(&cluster, &["copy-shard", &source.to_string(), &target.to_string(), &second.to_string()]).await;
    wait_for(Duration::from_secs(20), "the copy claimed", || async {
        task_of(&tasks(&cluster).await, second).filter(|t| t.task.state == TaskState::Claimed).map(drop)
    })
    .await;
    let out =
        metactl(&cluster, &["kill-copy-shard", &source.to_string(), &target.to_string(), &second.to_string()]).await;
    assert!(out.starts_with("Killed copy task"), "{out}");
    let listed = tasks(&cluster).await;
    let killed = &task_of(&listed, second).expect("the task is kept").task;
    assert_eq!((killed.state, killed.cancel_reason), (TaskState::Cancelled, Some(CancelReason::Operator)));
    let status = metactl(&cluster, &["copy-shard-status"]).await;
    assert!(status.contains("cancelled"), "{status}");
    assert!(!owners(&cluster).await[&second].contains(&target), "a killed copy adds no owner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_repair_stays_killed_until_entropy_repair() {
    let mut cluster = cluster_with_data_nodes(2, "", &[]).await;
    let slow = add_data_node(&mut cluster, &["--max-copy-rate", "20000"]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 3, 2000).await;
    wait_healed(&cluster, &[0, 1, slow], 2).await;

    eprintln!("--- a node is dropped; its shards are repaired onto the slow node; one repair is killed");
    let gone = node_id(&cluster, 0).await;
    cluster.kill_data_node(0);
    metactl(&cluster, &["remove-data", "--force", &gone.to_string()]).await;
    let victim = wait_for(Duration::from_secs(20), "a repair claimed", || async {
        tasks(&cluster).await.into_iter().map(|t| t.task).find(|t| t.state == TaskState::Claimed)
    })
    .await;
    let (task_id, shard) = (victim.id, victim.spec.shard_id);
    let out = metactl(&cluster, &["entropy", "kill-repair", &task_id.to_string()]).await;
    assert!(out.starts_with(&format!("Killed copy task {task_id}")), "{out}");

    eprintln!("--- the other repairs finish; the killed shard is left under-replicated, not replanned");
    wait_for(Duration::from_secs(60), "every other repair done", || async {
        let all = tasks(&cluster).await;
        (open_tasks(&all).is_empty() && all.len() > 1).then_some(())
    })
    .await;
    let shown = metactl(&cluster, &["entropy", "show"]).await;
    assert!(shown.contains("Under-replicated Shards"), "{shown}");
    assert_eq!(owners(&cluster).await[&shard].len(), 1, "shard {shard} stays at one owner");
    let replanned = tasks(&cluster).await.iter().filter(|t| t.task.spec.shard_id == shard).count();
    assert_eq!(replanned, 1, "only the killed task exists for shard {shard}");

    eprintln!("--- entropy repair plans it again");
    let out = metactl(&cluster, &["entropy", "repair", &shard.to_string(), "--wait"]).await;
    assert!(out.starts_with(&format!("Repaired shard {shard}")), "{out}");
    wait_healed(&cluster, &[1, slow], 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_copys_partial_file_is_reclaimed_and_a_retry_needs_no_cleanup() {
    let mut cluster = cluster_with_data_nodes(2, "", &[]).await;
    let slow = add_data_node(&mut cluster, &["--max-copy-rate", "20000", "--partial-ttl", "3s"]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 3, 2000).await;
    let before = wait_healed(&cluster, &[0, 1, slow], 2).await;
    let target = node_id(&cluster, slow).await;
    let (&shard, shard_owners) = before.iter().find(|(_, o)| !o.contains(&target)).expect("a shard it lacks");
    let source = shard_owners[0];
    let args = [source.to_string(), target.to_string(), shard.to_string()];

    eprintln!("--- a copy of shard {shard} to the slow node {target} is killed half-way");
    metactl(&cluster, &["copy-shard", &args[0], &args[1], &args[2]]).await;
    wait_for(Duration::from_secs(20), "the copy under way", || async {
        let status = cluster.data_status(slow).await?;
        (!status.running_tasks.is_empty()).then_some(())
    })
    .await;
    wait_for(Duration::from_secs(20), "some bytes of the copy arrived", || async {
        let progress = task_of(&tasks(&cluster).await, shard).and_then(|t| t.progress.clone());
        progress.filter(|p| p.bytes_done > 0).map(drop)
    })
    .await;
    metactl(&cluster, &["kill-copy-shard", &args[0], &args[1], &args[2]]).await;
    let reclaimable = wait_for(Duration::from_secs(10), "the partial file abandoned", || async {
        let status = cluster.data_status(slow).await?;
        (status.running_tasks.is_empty() && status.reclaimable_bytes > 0).then_some(status.reclaimable_bytes)
    })
    .await;
    eprintln!("--- {reclaimable} bytes reclaimable; --partial-ttl 3s later they are gone");
    wait_for(Duration::from_secs(15), "the partial file reclaimed", || async {
        let status = cluster.data_status(slow).await?;
        (status.reclaimable_bytes == 0).then_some(())
    })
    .await;

    eprintln!("--- copy-shard again: it starts afresh and completes, no manual cleanup");
    let out = metactl(&cluster, &["copy-shard", &args[0], &args[1], &args[2], "--wait"]).await;
    assert!(out.starts_with(&format!("Copied shard {shard} from")), "{out}");
    let held = try_held(&cluster, slow).await.expect("the slow node answers");
    assert!(held.contains_key(&shard), "{held:?}");
}
