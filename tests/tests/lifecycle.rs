//! Shard-group lifecycle as operators drive it, with real processes: `truncate-shards` with data
//! written ahead of time cuts only the groups that hold its time, so a point written again lands
//! in the group that already holds it, never in a second group over the same range; one write
//! creates a bounded number of groups.

use scenarios::{cluster_with_one_data_node, metactl};

const DAY: i64 = 86_400_000_000_000;

fn ok(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_shards_leaves_future_groups_alone_and_a_point_keeps_its_one_group() {
    let (cluster, slot) = cluster_with_one_data_node(&[]).await;
    let addr = cluster.data_addr(slot).to_owned();
    ok(&metactl(&cluster, &["create-database", "db", "--replication", "1", "--shard-duration", "72h"]).await);
    let ahead = meta_model::wall_clock() + 10 * DAY;
    let point = format!("cpu,host=a v=1 {ahead}");
    let write = || cluster.http.post(format!("http://{addr}/write?db=db")).body(point.clone()).send();
    assert_eq!(write().await.expect("write").status().as_u16(), 204);
    let truncated = ok(&metactl(&cluster, &["truncate-shards", "--delay", "1s"]).await);
    eprintln!("{truncated}");
    assert_eq!(write().await.expect("write again").status().as_u16(), 204);
    let groups = cluster.client().shard_groups("db", None, ahead - 1, ahead + 1).await.expect("groups").shard_groups;
    assert_eq!(groups.len(), 1, "one group holds the point: {groups:?}");
    assert_eq!(groups[0].truncated_at, None, "the future group was not cut: {groups:?}");
    let shards = cluster.client().shards().await.expect("shards");
    assert_eq!(shards.len(), 1, "{shards:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_creates_a_bounded_number_of_shard_groups() {
    let (cluster, slot) = cluster_with_one_data_node(&["--max-new-shard-groups", "8"]).await;
    let addr = cluster.data_addr(slot).to_owned();
    ok(&metactl(&cluster, &["create-database", "db", "--replication", "1", "--shard-duration", "1h"]).await);
    const HOUR: i64 = 3_600_000_000_000;
    let start = 1_704_067_200_000_000_000;
    let body =
        |hours: i64| (0..hours).map(|h| format!("cpu v={h} {}", start + h * HOUR)).collect::<Vec<_>>().join("\n");
    let write = |body: String| cluster.http.post(format!("http://{addr}/write?db=db")).body(body).send();

    let refused = write(body(500)).await.expect("answer");
    assert_eq!(refused.status().as_u16(), 400);
    let message = refused.text().await.expect("body");
    assert!(message.contains("too_many_shard_groups") && message.contains("line 9:"), "{message}");
    let groups = cluster.client().shard_groups("db", None, start, start + 500 * HOUR).await.expect("groups");
    assert!(groups.shard_groups.is_empty(), "nothing was created: {groups:?}");

    assert_eq!(write(body(8)).await.expect("answer").status().as_u16(), 204, "eight new groups are within the bound");
    assert_eq!(write(body(16)).await.expect("answer").status().as_u16(), 204, "eight existing and eight new");
}
