//! Shard-group lifecycle as operators drive it, with real processes: `truncate-shards` with data
//! written ahead of time cuts only the groups that hold its time, so a point written again lands
//! in the group that already holds it, never in a second group over the same range.

use std::time::Duration;

use cluster_harness::{sibling_binary, wait_for, Cluster};
use scenarios::metactl;

const DAY: i64 = 86_400_000_000_000;

fn ok(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncate_shards_leaves_future_groups_alone_and_a_point_keeps_its_one_group() {
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let slot = cluster.start_data_node(&[]);
    let addr = cluster.data_addr(slot).to_owned();
    ok(&metactl(&cluster, &["add-data", &addr]).await);
    wait_for(Duration::from_secs(20), "the data node registered", || async {
        cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
    })
    .await;
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
