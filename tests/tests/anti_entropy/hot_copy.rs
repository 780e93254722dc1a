//! Copies of hot shards with real processes (the content anti-entropy issue's failing case): a
//! shard written to throughout a throttled copy ends on the new node with every point
//! acknowledged while the copy ran, and a drain, which drops the old owner when its copies
//! complete, leaves the new owner with every acknowledged point.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cluster_harness::{wait_for, Cluster};
use meta_model::NodeState;
use meta_wire::ShardContent;

use crate::support::{
    add_data_node, cluster_with_data_nodes, create_database, data_node_state, held, metactl, node_id, owners,
    FIRST_HOUR,
};

/// A slow copy target: about 300 KB a second, in small chunks, so a copy of a shard of about a
/// megabyte runs for seconds while points keep arriving.
const THROTTLE: [&str; 4] = ["--max-copy-rate", "300000", "--chunk-size", "16384"];
/// Points written before the copy (about 2 MB of line protocol).
const PRELOAD: u64 = 20_000;

/// Writes [`PRELOAD`] points of about 100 bytes into the hour at [`FIRST_HOUR`] through data node
/// `slot`, spread over many series (so over every shard of the hour's group).
async fn preload(cluster: &Cluster, slot: usize) {
    let url = format!("http://{}/write?db=db", cluster.data_addr(slot));
    let pad = "x".repeat(48);
    for batch in 0..(PRELOAD / 1000) {
        let lines: Vec<String> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| format!("cpu,host=h{} usage={i}.5,pad=\"{pad}\" {}", i % 50, FIRST_HOUR + i as i64 * 1000))
            .collect();
        let answer = cluster.http.post(&url).body(lines.join("\n")).send().await.expect("write reaches datad");
        assert_eq!(answer.status().as_u16(), 204, "{}", answer.text().await.unwrap_or_default());
    }
}

/// A data node holding [`PRELOAD`] points of a policy with one copy, and a second, empty one that
/// copies slowly ([`THROTTLE`]), in its slot.
async fn preloaded_node_and_slow_one() -> (Cluster, usize) {
    let mut cluster = cluster_with_data_nodes(1, "", &[]).await;
    let slow = add_data_node(&mut cluster, &THROTTLE).await;
    create_database(&cluster, 1).await;
    preload(&cluster, 0).await;
    (cluster, slow)
}

/// Writes one new point about every 20 ms through the data nodes in `slots` in turn, each sent
/// again until it is acknowledged, until `stop` is set. `acked` counts the points acknowledged
/// (each a distinct series and time).
async fn write_steadily(cluster: &Cluster, slots: &[usize], acked: &AtomicU64, stop: &AtomicBool) {
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        pace.tick().await;
        let slot = slots[n as usize % slots.len()];
        let url = format!("http://{}/write?db=db", cluster.data_addr(slot));
        let line = format!("hot,writer=w{} n={n}i {}", n % 16, FIRST_HOUR + 1_800_000_000_000 + n as i64);
        let answer = cluster.http.post(&url).body(line).send().await;
        if answer.is_ok_and(|a| a.status().as_u16() == 204) {
            acked.fetch_add(1, Ordering::SeqCst);
            n += 1;
        }
    }
}

/// Runs `action` once points are arriving through the data nodes in `slots` (see
/// [`write_steadily`]), then stops writing: what `action` returned, the points acknowledged while
/// it ran, and all points acknowledged.
async fn while_writing<T>(cluster: &Cluster, slots: &[usize], action: impl Future<Output = T>) -> (T, u64, u64) {
    let (acked, stop) = (AtomicU64::new(0), AtomicBool::new(false));
    let act = async {
        wait_for(Duration::from_secs(10), "the writer under way", || async {
            (acked.load(Ordering::SeqCst) >= 10).then_some(())
        })
        .await;
        let before = acked.load(Ordering::SeqCst);
        let done = action.await;
        let during = acked.load(Ordering::SeqCst) - before;
        stop.store(true, Ordering::SeqCst);
        (done, during)
    };
    let ((), (done, during)) = tokio::join!(write_steadily(cluster, slots, &acked, &stop), act);
    (done, during, acked.load(Ordering::SeqCst))
}

/// The content digest the data node in `slot` reports for `shard`.
async fn content(cluster: &Cluster, slot: usize, shard: u64) -> Option<ShardContent> {
    cluster.data_status(slot).await?.content.into_iter().find(|c| c.shard_id == shard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_a_hot_shard_ends_with_every_point_acknowledged_while_it_ran() {
    let (cluster, target_slot) = preloaded_node_and_slow_one().await;
    let (a, b) = (node_id(&cluster, 0).await, node_id(&cluster, target_slot).await);
    let on_a = held(&cluster, 0).await;
    let shard = *owners(&cluster)
        .await
        .iter()
        .filter(|(s, o)| o.as_slice() == [a] && on_a.contains_key(s))
        .max_by_key(|(s, _)| on_a[s].0)
        .expect("a shard on the first node")
        .0;
    assert!(on_a[&shard].0 > 500_000, "a shard of more than 500 KB: {on_a:?}");

    eprintln!("--- copy-shard {a} {b} {shard} --wait, throttled, while points arrive through both nodes");
    let ids = [a.to_string(), b.to_string(), shard.to_string()];
    let args = ["copy-shard", &ids[0], &ids[1], &ids[2], "--wait"];
    let copy = metactl(&cluster, &args);
    let (out, during, _) = while_writing(&cluster, &[0, target_slot], copy).await;
    assert!(out.starts_with(&format!("Copied shard {shard} from")), "{out}");
    assert!(during >= 50, "points were acknowledged while the copy ran: {during}");
    eprintln!("--- {during} points acknowledged during the copy; both copies must hold the same points");

    // The old owner keeps the shard (a copy, not a move) and holds every acknowledged point of it.
    let (old, new) = wait_for(Duration::from_secs(15), "the new copy holding every point of the old", || async {
        let (old, new) = (content(&cluster, 0, shard).await?, content(&cluster, target_slot, shard).await?);
        (old.points > 0 && old == new).then_some((old, new))
    })
    .await;
    eprintln!("--- both copies hold {} points, root {:016x}", new.points, old.root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_while_points_arrive_leaves_the_new_owner_every_acknowledged_point() {
    let (cluster, target_slot) = preloaded_node_and_slow_one().await;
    let a = node_id(&cluster, 0).await;
    let moving = owners(&cluster).await.values().filter(|o| o.as_slice() == [a]).count();
    assert!(moving > 0, "the first node owns shards of the group");

    eprintln!("--- remove-data (graceful) of node {a}: its {moving} shard(s) move, throttled, while points arrive");
    let drain = async {
        let out = metactl(&cluster, &["remove-data", cluster.data_addr(0)]).await;
        assert!(out.contains("is draining"), "{out}");
        wait_for(Duration::from_secs(90), "the drained node removed", || async {
            (data_node_state(&cluster, a).await == Some(NodeState::Removed)).then_some(())
        })
        .await;
    };
    let ((), during, acked) = while_writing(&cluster, &[target_slot], drain).await;
    assert!(during >= 50, "points were acknowledged while the drain ran: {during}");

    let expected = PRELOAD + acked;
    eprintln!("--- {during} points acknowledged during the drain; the new owner must hold all {expected}");
    let remaining = owners(&cluster).await;
    assert!(remaining.values().all(|o| !o.contains(&a)), "node {a} owns nothing: {remaining:?}");
    wait_for(Duration::from_secs(15), "the remaining node holding every acknowledged point", || async {
        let status = cluster.data_status(target_slot).await?;
        let points: u64 = status.content.iter().map(|c| c.points).sum();
        (points == expected).then_some(())
    })
    .await;
}
