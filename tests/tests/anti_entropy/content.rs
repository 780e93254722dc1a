//! Content digests with real processes: two owners of a shard compare their copies by Merkle
//! tree; equal copies agree on the root alone, and a record taken out of one copy's file (while
//! its node is stopped) is found in the one time slice and series bucket it was in. Once cold,
//! the copies' roots reach the meta leader, which reports the shard inconsistent and has a repair
//! task reconcile them. The same for a write both owners crashed in the middle of (one stored it,
//! the other had it unread when it died), and for writes an owner lacks because its
//! hinted-handoff queue was full and dropped them.

use std::time::Duration;

use cluster_harness::wait_for;
use meta_model::{Task, TaskKind, TaskReason, TaskState};
use meta_wire::{CompareReply, ShardContent};

use crate::support::{
    all_tasks, cluster_with_data_nodes, create_database, data_metrics, entropy, metric, node_id, slot_of, write_hours,
    FIRST_HOUR,
};

/// The repair the leader planned for `shard` because its copies differed, once it is done.
async fn repaired_once(cluster: &cluster_harness::Cluster, shard: u64) -> Task {
    let repair = wait_for(Duration::from_secs(60), "a repair of the shard done", || async {
        let tasks = all_tasks(cluster).await;
        let repair = tasks.into_iter().map(|t| t.task).find(|t| t.spec.shard_id == shard && t.kind == TaskKind::Repair);
        repair.filter(|t| t.state == TaskState::Done)
    })
    .await;
    assert_eq!(repair.spec.reason, TaskReason::Inconsistent, "{repair:?}");
    repair
}

/// The content digest the data node in `slot` reports for `shard`.
async fn content(cluster: &cluster_harness::Cluster, slot: usize, shard: u64) -> Option<ShardContent> {
    cluster.data_status(slot).await?.content.into_iter().find(|c| c.shard_id == shard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_compare_copies_by_merkle_tree_and_find_the_range_one_lacks() {
    let mut cluster = cluster_with_data_nodes(2, "", &["--cold-after", "1s"]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 1, 200).await;
    let shard = cluster.client().shards().await.expect("shards")[0].id;
    let both = || async {
        let (a, b) = (content(&cluster, 0, shard).await?, content(&cluster, 1, shard).await?);
        (a.points == 200 && a == b).then_some(a)
    };
    let agreed = wait_for(Duration::from_secs(10), "both owners hold the 200 points", both).await;
    let size_before =
        cluster.data_status(1).await.and_then(|s| s.shards.iter().find(|s| s.shard_id == shard).map(|s| s.size));

    let url = format!("http://{}/shards/{shard}/compare?peer={}", cluster.data_addr(0), cluster.data_addr(1));
    let http = cluster.http.clone();
    let compare = || async {
        let answer = http.get(&url).send().await.expect("compare answered");
        answer.json::<CompareReply>().await.expect("a comparison")
    };
    wait_for(Duration::from_secs(30), "the cold copies agreeing at the meta leader", || async {
        let report = entropy(&cluster).await;
        report
            .nodes
            .iter()
            .all(|n| n.shards_reported == Some(1))
            .then_some(())
            .filter(|()| report.inconsistent.is_empty())
    })
    .await;
    let same = compare().await;
    assert!(same.consistent && same.differing.is_empty(), "{same:?}");
    assert_eq!((same.digests_exchanged, same.ours, same.theirs), (1, agreed, agreed), "equal copies cost one digest");

    // One more point, in its own write: one more record at the end of each copy's file.
    let late = FIRST_HOUR + 1_800_000_000_000;
    let url = format!("http://{}/write?db=db", cluster.data_addr(0));
    let answer = cluster.http.post(&url).body(format!("mem,host=x free=1i {late}")).send().await.expect("write");
    assert_eq!(answer.status().as_u16(), 204);
    wait_for(Duration::from_secs(10), "both owners hold the new point", || async {
        let b = content(&cluster, 1, shard).await?;
        (b.points == 201).then_some(())
    })
    .await;
    // Take that record out of the second owner's file while it is stopped.
    cluster.kill_data_node(1);
    let file = cluster.data_dir(1).join("shards").join(format!("{shard}.shard"));
    let size_before = size_before.expect("the second owner reported the shard's size");
    let handle = std::fs::OpenOptions::new().write(true).open(&file).expect("open the shard file");
    handle.set_len(size_before).expect("cut the last record");
    drop(handle);
    cluster.restart_data_node(1);
    wait_for(Duration::from_secs(20), "the second owner back without the point", || async {
        (content(&cluster, 1, shard).await?.points == 200).then_some(())
    })
    .await;

    let differ = compare().await;
    assert!(!differ.consistent, "{differ:?}");
    assert_eq!((differ.ours.points, differ.theirs.points), (201, 200), "{differ:?}");
    assert_eq!(differ.differing.len(), 1, "one leaf holds the point: {differ:?}");
    let range = differ.differing[0];
    assert!(range.start <= late && late < range.end, "{range:?} holds {late}");
    assert!(differ.digests_exchanged <= 21, "logarithmic: {} digests", differ.digests_exchanged);

    // Cold again, the copies' roots reach the meta leader: the shard is found inconsistent, and a
    // repair task (planned in the same round) reconciles the owners.
    let repair = repaired_once(&cluster, shard).await;
    let (first, second) = (node_id(&cluster, 0).await, node_id(&cluster, 1).await);
    assert_eq!((repair.spec.target, repair.spec.source), (first.min(second), first.max(second)), "{repair:?}");
    let repaired = wait_for(Duration::from_secs(20), "both owners holding the 201 points", || async {
        let (a, b) = (content(&cluster, 0, shard).await?, content(&cluster, 1, shard).await?);
        (a.points == 201 && a == b).then_some(a)
    })
    .await;
    assert_eq!(repaired, differ.ours, "the second owner got the missing point back; nothing else changed");
    // The point moved once, from the first owner to the second, whichever ran the repair.
    let cluster = &cluster;
    let moved = |slot: usize, direction: &'static str| async move {
        let text = data_metrics(cluster, slot).await.unwrap_or_default();
        metric(&text, &format!("datad_repair_points_total{{direction=\"{direction}\"}}")).unwrap_or(0.0)
    };
    let (target_slot, source_slot) = if repair.spec.target == first { (0, 1) } else { (1, 0) };
    let (fetched, pushed) = (moved(target_slot, "fetched").await, moved(target_slot, "pushed").await);
    assert_eq!((fetched, pushed), if target_slot == 1 { (1.0, 0.0) } else { (0.0, 1.0) }, "one point moved");
    assert_eq!(moved(source_slot, "fetched").await + moved(source_slot, "pushed").await, 0.0, "the source ran nothing");

    // Cold once more, the leader sees equal roots: consistent.
    wait_for(Duration::from_secs(40), "the shard consistent at the meta leader", || async {
        let report = entropy(cluster).await;
        let reported = report.nodes.iter().all(|n| n.shards_reported == Some(1));
        (reported && report.inconsistent.is_empty() && report.under_replicated.is_empty()).then_some(())
    })
    .await;
    assert!(compare().await.consistent);
    let repairs = metric(&data_metrics(cluster, target_slot).await.unwrap_or_default(), "datad_repairs_total");
    assert_eq!(repairs, Some(1.0), "one repair: the leader forgets the roots a repair made stale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_a_full_handoff_queue_dropped_are_restored_by_a_repair_once_the_shard_is_cold() {
    let datad_args = ["--handoff-retry-interval", "200ms", "--handoff-max-size", "300", "--cold-after", "1s"];
    let mut cluster = cluster_with_data_nodes(3, "", &datad_args).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 1, 100).await;
    let owned = crate::support::owners(&cluster).await;
    let (&shard, shard_owners) = owned.iter().next().expect("the hour's shard");
    let (x, y) = (shard_owners[0], shard_owners[1]);
    let (x_slot, y_slot) = (slot_of(&cluster, x).await, slot_of(&cluster, y).await);
    let coordinator = (0..3).find(|s| *s != x_slot && *s != y_slot).expect("a node owning nothing");

    eprintln!("--- owner {y} down; 10 writes through a third node: its queue for {y} keeps a few, drops the rest");
    cluster.kill_data_node(y_slot);
    let url = format!("http://{}/write?db=db", cluster.data_addr(coordinator));
    for i in 1..=10i64 {
        let line = format!("mem,host=q{i} free={i}i {}", FIRST_HOUR + 2_000_000_000_000 + i);
        let answer = cluster.http.post(&url).body(line).send().await.expect("write reaches datad");
        assert_eq!(answer.status().as_u16(), 204, "owner {x} stored point {i}");
    }
    let status = cluster.data_status(coordinator).await.expect("coordinator status");
    let queue = status.handoff.into_iter().find(|q| q.target == y).expect("a queue for the down owner");
    assert!(queue.dropped_entries > 0 && queue.dropped_shards == vec![shard], "{queue:?}");

    eprintln!("--- owner {y} back: the queue is delivered, {} dropped writes stay missing", queue.dropped_entries);
    cluster.restart_data_node(y_slot);
    repaired_once(&cluster, shard).await;
    wait_for(Duration::from_secs(20), "both owners holding all 110 points", || async {
        let (a, b) = (content(&cluster, x_slot, shard).await?, content(&cluster, y_slot, shard).await?);
        (a.points == 110 && a == b).then_some(())
    })
    .await;
}

/// Both owners killed in the middle of a write at consistency `one`: the coordinating owner had
/// stored the point and was waiting on the other, which had the request unread (frozen) when it
/// died. The write was never acknowledged, nothing was queued for the other owner, and the
/// copies differ until the repair gives both the point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_both_owners_crashed_in_the_middle_of_is_repaired_to_the_union_once_cold() {
    let mut cluster = cluster_with_data_nodes(2, "", &["--cold-after", "1s"]).await;
    create_database(&cluster, 2).await;
    write_hours(&cluster, 0, 1, 100).await;
    let shard = cluster.client().shards().await.expect("shards")[0].id;
    wait_for(Duration::from_secs(10), "both owners hold the 100 points", || async {
        let (a, b) = (content(&cluster, 0, shard).await?, content(&cluster, 1, shard).await?);
        (a.points == 100 && a == b).then_some(())
    })
    .await;

    eprintln!("--- the second owner frozen; a write through the first stored there, the other copy pending");
    cluster.signal_data_node(1, "-STOP");
    let url = format!("http://{}/write?db=db&consistency=one", cluster.data_addr(0));
    let line = format!("mem,host=crash free=1i {}", FIRST_HOUR + 1_800_000_000_000);
    let pending = tokio::spawn(cluster.http.post(&url).body(line).send());
    wait_for(Duration::from_secs(10), "the first owner stored the point", || async {
        (content(&cluster, 0, shard).await?.points == 101).then_some(())
    })
    .await;
    cluster.kill_data_node(0);
    cluster.kill_data_node(1);
    let answer = pending.await.expect("the writer");
    assert!(answer.is_err(), "the coordinator died before answering: {answer:?}");

    cluster.restart_data_node(0);
    cluster.restart_data_node(1);
    let status = wait_for(Duration::from_secs(20), "both owners back", || async {
        let (a, b) = (content(&cluster, 0, shard).await?, content(&cluster, 1, shard).await?);
        Some((a.points, b.points, cluster.data_status(0).await?.handoff))
    })
    .await;
    assert_eq!((status.0, status.1), (101, 100), "the first owner has the point, the second not");
    assert!(status.2.iter().all(|q| q.entries == 0 && q.dropped_entries == 0), "nothing was queued: {:?}", status.2);

    repaired_once(&cluster, shard).await;
    wait_for(Duration::from_secs(20), "both owners holding the 101 points", || async {
        let (a, b) = (content(&cluster, 0, shard).await?, content(&cluster, 1, shard).await?);
        (a.points == 101 && a == b).then_some(())
    })
    .await;
}
