//! Failures in the middle of a repair: the target data node is killed mid copy (its lease lapses,
//! the task is offered again, the stale claim is fenced off), or the meta leader is killed while
//! tasks are in flight (no task is lost or run twice).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cluster_harness::{wait_for, Cluster};
use meta_model::TaskState;
use serde_json::json;

use crate::support::{
    add_data_node, all_tasks, assert_distinct_owners, cluster_with_data_nodes, create_database, find_task, metactl,
    node_id, open_tasks, owners, owners_on, slot_of, task_states, wait_healed, write_hours, TaskInfo,
};

/// Copies run at 100 kB/s in 16 kB chunks: a 1 MB shard takes seconds, with progress reported
/// on the way.
const THROTTLE: [&str; 4] = ["--max-copy-rate", "100000", "--chunk-size", "16384"];

/// Of the data nodes in `slots`, the one owning the most shards (the lowest ID among equals),
/// with its slot.
async fn busiest(cluster: &Cluster, slots: &[usize], owned: &BTreeMap<u64, Vec<u64>>) -> (u64, usize) {
    let mut best = None;
    for &slot in slots {
        let id = node_id(cluster, slot).await;
        let load = owned.values().filter(|o| o.contains(&id)).count();
        if best.is_none_or(|(l, i, _)| load > l || (load == l && id < i)) {
            best = Some((load, id, slot));
        }
    }
    let (_, id, slot) = best.expect("data nodes");
    (id, slot)
}

/// `bytes_done` of a listed task's progress (0 if none reported).
fn bytes_done(info: &TaskInfo) -> u64 {
    info.progress.as_ref().map_or(0, |p| p.bytes_done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_node_killed_mid_copy_gets_its_task_back_after_the_lease() {
    let mut cluster = cluster_with_data_nodes(3, "", &THROTTLE).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 1, 2, 20000).await;
    let before = wait_healed(&cluster, &[0, 1, 2], 2).await;
    let spare = add_data_node(&mut cluster, &THROTTLE).await;
    let (dead, dead_slot) = busiest(&cluster, &[0, 1, 2], &before).await;

    eprintln!("--- data node {dead} dies and is removed with --force; its shards are copied to the others");
    cluster.kill_data_node(dead_slot);
    let dead_addr = cluster.data_addr(dead_slot).to_owned();
    let out = metactl(&cluster, &["remove-data", "--force", &dead_addr]).await;
    assert!(out.starts_with(&format!("Removed data node {dead}")), "{out}");

    // A copy under way whose target is no open task's source: killing it stalls only that task.
    let (task_id, target, shard) = wait_for(Duration::from_secs(30), "a claimed copy with progress", || async {
        let tasks = all_tasks(&cluster).await;
        let open = open_tasks(&tasks);
        let sources: BTreeSet<u64> = open.iter().map(|t| t.task.spec.source).collect();
        open.into_iter()
            .filter(|t| t.task.state == TaskState::Claimed && t.task.attempt == 1)
            .filter(|t| t.progress.as_ref().is_some_and(|p| p.bytes_done > 0 && p.bytes_done != p.bytes_total))
            .find(|t| !sources.contains(&t.task.spec.target))
            .map(|t| (t.task.id, t.task.spec.target, t.task.spec.shard_id))
    })
    .await;
    let target_slot = slot_of(&cluster, target).await;
    eprintln!(
        "--- kill -9 data node {target} (slot {target_slot}; the new node is slot {spare}) mid copy of task {task_id}"
    );
    cluster.kill_data_node(target_slot);
    let killed = Instant::now();

    let expired = wait_for(Duration::from_secs(15), "the task back to pending after its lease", || async {
        let tasks = all_tasks(&cluster).await;
        let info = find_task(&tasks, task_id)?;
        assert!(info.task.state == TaskState::Claimed || info.task.state == TaskState::Pending, "{info:?}");
        (info.task.state == TaskState::Pending).then(|| info.task.clone())
    })
    .await;
    let reoffered = killed.elapsed();
    eprintln!("--- lease expired: task {task_id} pending again {reoffered:?} after the kill (lease 4s)");
    assert_eq!(expired.attempt, 1, "{expired:?}");
    assert_eq!(expired.spec.target, target, "{expired:?}");
    assert_eq!(expired.last_error.as_deref(), Some("lease of attempt 1 expired"), "{expired:?}");

    eprintln!("--- data node {target} restarts on its data directory and claims the task again");
    cluster.restart_data_node(target_slot);
    let reclaimed = wait_for(Duration::from_secs(30), "the task claimed again with attempt 2", || async {
        let tasks = all_tasks(&cluster).await;
        let info = find_task(&tasks, task_id)?;
        let task = &info.task;
        assert!(task.attempt <= 2, "claimed once more only: {info:?}");
        let claimed_or_done = task.state == TaskState::Claimed || task.state == TaskState::Done;
        (task.attempt == 2 && claimed_or_done).then(|| task.clone())
    })
    .await;
    eprintln!("--- task {task_id} is {:?} with attempt 2, {:?} after the kill", reclaimed.state, killed.elapsed());

    let leader = cluster.leader(Duration::from_secs(15)).await;
    let path = format!("/v1/copy-tasks/{task_id}/complete");
    let (status, body) = cluster.post(leader, &path, &json!({ "attempt": 1 })).await.expect("leader answers");
    let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
    eprintln!("--- completing with the stale attempt 1: HTTP {status} {code}");
    assert_eq!(status, 409, "{body}");
    assert!(code == "stale_attempt" || code == "task_not_claimed", "{body}");

    let survivors: Vec<usize> = [0, 1, 2, spare].into_iter().filter(|&s| s != dead_slot).collect();
    let after = wait_healed(&cluster, &survivors, 2).await;
    eprintln!("--- healed {:?} after the kill", killed.elapsed());
    assert_distinct_owners(&after, 2);
    assert!(after.values().all(|o| !o.contains(&dead)), "the removed node owns nothing: {after:?}");
    assert!(after[&shard].contains(&target), "node {target} owns shard {shard} now: {after:?}");

    let tasks = all_tasks(&cluster).await;
    let task = &find_task(&tasks, task_id).expect("the task is kept").task;
    assert_eq!((task.state, task.attempt), (TaskState::Done, 2), "{task:?}");
    assert!(open_tasks(&tasks).is_empty(), "no task left open: {:?}", task_states(&tasks));
    let log = std::fs::read_to_string(cluster.dir.path().join(format!("data-{target_slot}.log"))).unwrap_or_default();
    assert!(log.contains("resuming a partial copy"), "the restarted node resumed from its partial file:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_meta_leader_mid_repair_loses_and_duplicates_nothing() {
    let mut cluster = cluster_with_data_nodes(3, "", &THROTTLE).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 1, 8, 6000).await;
    let before = wait_healed(&cluster, &[0, 1, 2], 2).await;
    // Repairs alone: the tasks are counted below, and balancing would add moves to the spare.
    let out = metactl(&cluster, &["balance", "disable"]).await;
    assert!(out.starts_with("Balancing disabled"), "{out}");
    let spare = add_data_node(&mut cluster, &THROTTLE).await;
    let (dead, dead_slot) = busiest(&cluster, &[0, 1, 2], &before).await;
    let lost = before.values().filter(|o| o.contains(&dead)).count();

    eprintln!("--- data node {dead} dies and is removed with --force: {lost} of {} shards to copy", before.len());
    cluster.kill_data_node(dead_slot);
    let dead_addr = cluster.data_addr(dead_slot).to_owned();
    let started = Instant::now();
    let out = metactl(&cluster, &["remove-data", "--force", &dead_addr]).await;
    assert!(out.starts_with(&format!("Removed data node {dead}")), "{out}");

    let in_flight = wait_for(Duration::from_secs(30), "a copy under way while others are still open", || async {
        let tasks = all_tasks(&cluster).await;
        let open = open_tasks(&tasks);
        let copying = open.iter().any(|t| t.task.state == TaskState::Claimed && bytes_done(t) > 0);
        let waiting = open.iter().filter(|t| t.progress.as_ref().is_none_or(|p| p.bytes_done < p.bytes_total)).count();
        (copying && waiting >= 2).then_some(tasks)
    })
    .await;
    let leader = cluster.leader(Duration::from_secs(15)).await;
    eprintln!("--- kill -9 the meta leader {leader} with tasks in flight: {:?}", task_states(&in_flight));
    cluster.kill(leader);
    let killed = Instant::now();
    let new_leader = cluster.leader(Duration::from_secs(20)).await;
    assert_ne!(new_leader, leader);
    eprintln!("--- node {new_leader} leads {:?} after the kill", killed.elapsed());

    let survivors: Vec<usize> = [0, 1, 2, spare].into_iter().filter(|&s| s != dead_slot).collect();
    let after = wait_healed(&cluster, &survivors, 2).await;
    eprintln!(
        "--- repair done {:?} after remove-data, {:?} after the leader died",
        started.elapsed(),
        killed.elapsed()
    );
    assert_distinct_owners(&after, 2);
    assert!(after.values().all(|o| !o.contains(&dead)), "the removed node owns nothing: {after:?}");
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "no shard lost or added");

    let tasks = wait_for(Duration::from_secs(15), "no copy task left open", || async {
        let tasks = all_tasks(&cluster).await;
        open_tasks(&tasks).is_empty().then_some(tasks)
    })
    .await;
    eprintln!("--- {} tasks in all: {:?}", tasks.len(), task_states(&tasks));
    for info in &in_flight {
        let id = info.task.id;
        assert!(find_task(&tasks, id).is_some(), "task {id}, in flight when the leader died, is still known");
    }
    let mut done: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    for info in &tasks {
        let task = &info.task;
        assert_ne!(task.state, TaskState::Failed, "{info:?}");
        if task.state == TaskState::Done {
            done.entry((task.spec.shard_id, task.spec.target)).or_default().push(task.id);
        }
    }
    for ((shard, target), ids) in &done {
        assert_eq!(ids.len(), 1, "shard {shard} copied to node {target} by more than one task: {ids:?}");
        assert!(after[shard].contains(target), "the target of a done task owns shard {shard}: {after:?}");
    }
    assert_eq!(done.len(), lost, "one done copy per shard that lost a copy: {done:?}");

    eprintln!("--- the old leader {leader} restarts and catches up");
    cluster.spawn(leader);
    wait_for(Duration::from_secs(30), "the restarted node's shards equal the leader's", || async {
        let local = owners_on(&cluster, leader).await?;
        (local == owners(&cluster).await).then_some(())
    })
    .await;
    assert_eq!(owners(&cluster).await, after);
}
