//! Hinted handoff and write consistency: an owner that is down no longer blocks its shards'
//! writes. The coordinating data node answers by the consistency the client asks
//! (`any|one|quorum|all`, default `one`), keeps what the down owner missed in a durable queue,
//! reports the queue (its `/status`, `/metrics`, heartbeats into `entropy show`) and delivers it
//! in order once the owner is back, so every acknowledged point ends on every owner.

use std::collections::BTreeMap;
use std::time::Duration;

use cluster_harness::{wait_for, Cluster};
use meta_wire::HandoffQueueReport;

use crate::support::{
    cluster_with_config, create_database, entropy, metactl, metric, node_id, owners, slot_of, AE_CONFIG, FIRST_HOUR,
};

/// The line of point `i`: all in the first hour (one shard: 3 nodes, RF 2).
fn line(i: u64) -> String {
    format!("mem,host=h{} used={i}i {}", i % 5, FIRST_HOUR + i as i64 * 1_000)
}

/// Writes point `i` through the data node in `slot` with `consistency` (none: the default).
async fn write(cluster: &Cluster, slot: usize, i: u64, consistency: Option<&str>) -> (u16, String) {
    let mut url = format!("http://{}/write?db=db", cluster.data_addr(slot));
    if let Some(level) = consistency {
        url.push_str(&format!("&consistency={level}"));
    }
    let response = cluster.http.post(&url).body(line(i)).send().await.expect("write reaches datad");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// The queue the data node in `slot` keeps for `target`, from its `/status`.
async fn queue_for(cluster: &Cluster, slot: usize, target: u64) -> Option<HandoffQueueReport> {
    let status = cluster.data_status(slot).await?;
    status.handoff.into_iter().find(|q| q.target == target)
}

/// The shard file of `shard` on the data node in `slot`, as text.
async fn shard_text(cluster: &Cluster, slot: usize, shard: u64) -> String {
    let url = format!("http://{}/shards/{shard}", cluster.data_addr(slot));
    let response = cluster.http.get(&url).send().await.expect("shard read");
    assert!(response.status().is_success(), "shard {shard} on slot {slot}: {}", response.status());
    response.text().await.expect("shard body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_owner_gets_its_writes_by_hinted_handoff_at_the_consistency_asked() {
    let datad_args = ["--handoff-retry-interval", "200ms"];
    let mut cluster = cluster_with_config(AE_CONFIG, 3, &datad_args).await;
    create_database(&cluster, 2).await;
    let mut acked: Vec<u64> = Vec::new();
    assert_eq!(write(&cluster, 0, 0, None).await.0, 204);
    acked.push(0);
    let placed = owners(&cluster).await;
    let (&shard, shard_owners) = placed.iter().next().expect("the hour's shard");
    assert_eq!(shard_owners.len(), 2, "{placed:?}");
    let (x, y) = (shard_owners[0], shard_owners[1]);
    let (x_slot, y_slot) = (slot_of(&cluster, x).await, slot_of(&cluster, y).await);
    let coordinator = (0..3).find(|s| *s != x_slot && *s != y_slot).expect("a node owning nothing");
    let coordinator_id = node_id(&cluster, coordinator).await;

    eprintln!("--- kill -9 owner {y}: writes through node {coordinator_id} at the default consistency (one)");
    cluster.kill_data_node(y_slot);
    for i in 1..=10 {
        let (status, body) = write(&cluster, coordinator, i, None).await;
        assert_eq!(status, 204, "point {i} with one owner down: {body}");
        acked.push(i);
    }
    let queue = queue_for(&cluster, coordinator, y).await.expect("a queue for the down owner");
    assert_eq!(queue.entries, 10, "{queue:?}");
    assert!(queue.bytes > 0 && queue.oldest_age_ms.is_some(), "{queue:?}");

    eprintln!("--- consistency=all and quorum (2 of 2 owners) are not met; one and any are");
    for level in ["all", "quorum"] {
        let (status, body) = write(&cluster, coordinator, 100, Some(level)).await;
        assert_eq!(status, 503, "{level}: {body}");
        assert!(body.contains("write_failed") && body.contains(&format!("consistency {level} not met")), "{body}");
        assert!(body.contains(&format!("node {y} (queued)")), "the missed copy is queued: {body}");
    }
    for (i, level) in [(11, "one"), (12, "any")] {
        let (status, body) = write(&cluster, coordinator, i, Some(level)).await;
        assert_eq!(status, 204, "{level}: {body}");
        acked.push(i);
    }
    let unknown = write(&cluster, coordinator, 13, Some("most")).await;
    assert_eq!(unknown.0, 400, "{}", unknown.1);
    assert!(unknown.1.contains("consistency"), "{}", unknown.1);

    eprintln!("--- the queue shows in entropy show, metactl show and /metrics");
    let reported = wait_for(Duration::from_secs(20), "the queue in the leader's report", || async {
        let report = entropy(&cluster).await;
        let holder = report.nodes.into_iter().find(|n| n.id == coordinator_id)?;
        holder.handoff.into_iter().find(|q| q.target == y && q.entries >= 12)
    })
    .await;
    assert_eq!(reported.dropped_entries, 0, "{reported:?}");
    let shown = metactl(&cluster, &["entropy", "show"]).await;
    assert!(shown.contains("Hinted Handoff"), "{shown}");
    let url = format!("http://{}/metrics", cluster.data_addr(coordinator));
    let text = cluster.http.get(&url).send().await.expect("metrics").text().await.expect("metrics text");
    let queued = metric(&text, &format!("datad_handoff_queue_writes{{target=\"{y}\"}}")).expect("queue gauge");
    assert!(queued >= 12.0, "{text}");

    eprintln!("--- both owners down: one is refused, any is acknowledged (queued for both)");
    cluster.kill_data_node(x_slot);
    let (status, body) = write(&cluster, coordinator, 200, None).await;
    assert_eq!(status, 503, "no owner stores it: {body}");
    let (status, body) = write(&cluster, coordinator, 14, Some("any")).await;
    assert_eq!(status, 204, "{body}");
    acked.push(14);

    eprintln!("--- the owners come back: the queues drain in order onto them");
    cluster.restart_data_node(x_slot);
    cluster.restart_data_node(y_slot);
    wait_for(Duration::from_secs(60), "the coordinator's queues empty", || async {
        let status = cluster.data_status(coordinator).await?;
        status.handoff.iter().all(|q| q.entries == 0).then_some(())
    })
    .await;
    for (owner, slot) in [(x, x_slot), (y, y_slot)] {
        let text = shard_text(&cluster, slot, shard).await;
        let missing: Vec<u64> = acked.iter().copied().filter(|&i| !text.contains(&line(i))).collect();
        assert!(missing.is_empty(), "owner {owner} lacks acknowledged points {missing:?}:\n{text}");
    }
    let by_target: BTreeMap<u64, u64> = cluster
        .data_status(coordinator)
        .await
        .expect("status")
        .handoff
        .iter()
        .map(|q| (q.target, q.dropped_entries))
        .collect();
    assert!(by_target.values().all(|&d| d == 0), "nothing dropped: {by_target:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_a_full_queue_cannot_keep_are_dropped_loudly_and_the_count_survives_a_restart() {
    let datad_args = ["--handoff-retry-interval", "200ms", "--handoff-max-size", "300"];
    let mut cluster = cluster_with_config(AE_CONFIG, 3, &datad_args).await;
    create_database(&cluster, 2).await;
    assert_eq!(write(&cluster, 0, 0, None).await.0, 204);
    let placed = owners(&cluster).await;
    let (&shard, shard_owners) = placed.iter().next().expect("the hour's shard");
    let (x, y) = (shard_owners[0], shard_owners[1]);
    let (x_slot, y_slot) = (slot_of(&cluster, x).await, slot_of(&cluster, y).await);
    let coordinator = (0..3).find(|s| *s != x_slot && *s != y_slot).expect("a node owning nothing");
    cluster.kill_data_node(y_slot);
    for i in 1..=10 {
        let (status, body) = write(&cluster, coordinator, i, None).await;
        assert_eq!(status, 204, "point {i}: owner {x} stored it: {body}");
    }
    let queue = queue_for(&cluster, coordinator, y).await.expect("a queue for the down owner");
    assert!(queue.bytes <= 300 && queue.entries >= 1, "{queue:?}");
    assert_eq!(queue.entries + queue.dropped_entries, 10, "every write kept or counted: {queue:?}");
    assert_eq!(queue.dropped_shards, vec![shard], "{queue:?}");
    let url = format!("http://{}/metrics", cluster.data_addr(coordinator));
    let text = cluster.http.get(&url).send().await.expect("metrics").text().await.expect("metrics text");
    let dropped = metric(&text, "datad_handoff_dropped_total{reason=\"max_size\"}").expect("drop counter");
    assert_eq!(dropped, queue.dropped_entries as f64, "{text}");
    let shown = wait_for(Duration::from_secs(20), "the drop in entropy show", || async {
        let shown = metactl(&cluster, &["entropy", "show"]).await;
        shown.contains("DROPPED").then_some(shown)
    })
    .await;
    assert!(shown.contains(&format!("node {y} lacks writes to shard(s) {shard}")), "{shown}");

    eprintln!("--- the coordinator restarts: the drop count is kept");
    cluster.kill_data_node(coordinator);
    cluster.restart_data_node(coordinator);
    let again = wait_for(Duration::from_secs(20), "the coordinator back", || queue_for(&cluster, coordinator, y)).await;
    assert_eq!((again.dropped_entries, again.dropped_shards.clone()), (queue.dropped_entries, vec![shard]));
}
