//! Shard files that survive outside the metadata: a file of another cluster's shard under a
//! number this cluster hands out is never appended to, copied from or deleted: it is set aside,
//! kept and reported as an orphan (`/status`, `/metrics`, `entropy show`), and the shard starts a
//! file of its own. A data directory of the layout before headers is migrated at start, its
//! points kept.

use std::time::Duration;

use cluster_harness::{wait_for, Cluster};
use datad::{shard_file_lines, ShardHeader, ShardStore, SHARD_FORMAT};

use crate::support::{cluster_with_config, create_database, entropy, metactl, node_id, owners, AE_CONFIG, FIRST_HOUR};

/// The lines the data node in `slot` stores for `shard` (its file, without layout).
async fn stored_lines(cluster: &Cluster, slot: usize, shard: u64) -> String {
    let url = format!("http://{}/shards/{shard}", cluster.data_addr(slot));
    let response = cluster.http.get(&url).send().await.expect("shard read");
    assert!(response.status().is_success(), "shard {shard}: {}", response.status());
    let bytes = response.bytes().await.expect("body");
    String::from_utf8(shard_file_lines(&bytes).expect("a shard file")).expect("UTF-8 lines")
}

async fn write(cluster: &Cluster, slot: usize, line: &str) -> (u16, String) {
    let url = format!("http://{}/write?db=db", cluster.data_addr(slot));
    let response = cluster.http.post(&url).body(line.to_owned()).send().await.expect("write reaches datad");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_another_clusters_shard_is_set_aside_and_reported_never_used() {
    let mut cluster = cluster_with_config(AE_CONFIG, 1, &[]).await;
    let node = node_id(&cluster, 0).await;
    eprintln!("--- the data node's directory holds shard 1 of another cluster");
    cluster.kill_data_node(0);
    let foreign = ShardHeader {
        format: SHARD_FORMAT,
        cluster_id: "f".repeat(32),
        shard_id: 1,
        database: "db".to_owned(),
        retention_policy: "autogen".to_owned(),
        start: FIRST_HOUR,
        end: FIRST_HOUR + 3_600_000_000_000,
    };
    {
        let store = ShardStore::open(cluster.data_dir(0)).expect("the node's store");
        store.append(1, b"theirs v=1 1704067200000000001\n", &foreign).expect("their point");
    }
    cluster.restart_data_node(0);
    create_database(&cluster, 1).await;
    let (status, body) = write(&cluster, 0, &format!("ours v=1 {}", FIRST_HOUR + 2)).await;
    assert_eq!(status, 204, "{body}");
    let placed = owners(&cluster).await;
    assert_eq!(placed.get(&1), Some(&vec![node]), "this cluster's shard 1 is on the node: {placed:?}");
    let lines = stored_lines(&cluster, 0, 1).await;
    assert!(lines.contains("ours v=1") && !lines.contains("theirs"), "{lines}");
    let kept = cluster.data_dir(0).join("shards/orphans/1.shard");
    assert!(std::fs::read(&kept).expect("the other cluster's file is kept").windows(6).any(|w| w == b"theirs"));

    let status = cluster.data_status(0).await.expect("status");
    let orphan = status.orphans.iter().find(|o| o.name == "orphans/1.shard").expect("reported in /status");
    assert_eq!((orphan.shard_id, orphan.reason.as_str()), (Some(1), "other_cluster"));
    let url = format!("http://{}/metrics", cluster.data_addr(0));
    let metrics = cluster.http.get(&url).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("datad_orphan_shard_files 1"), "{metrics}");
    wait_for(Duration::from_secs(20), "the orphan in entropy show", || async {
        let report = entropy(&cluster).await;
        let set_aside = |o: &meta_wire::OrphanShardFile| o.name == "orphans/1.shard" && o.reason == "other_cluster";
        report.nodes.iter().any(|n| n.orphans.iter().any(set_aside)).then_some(())
    })
    .await;
    let shown = metactl(&cluster, &["entropy", "show"]).await;
    assert!(shown.contains("Orphan Shard Files") && shown.contains("orphans/1.shard"), "{shown}");
    let disagreements = metactl(&cluster, &["show-shards", "-m"]).await;
    assert!(disagreements.contains("orphans/1.shard") && disagreements.contains("other_cluster"), "{disagreements}");
    let inventory = cluster.data_status(0).await.expect("status").shards;
    assert_eq!(inventory.len(), 1, "only this cluster's shard is held: {inventory:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_layout_before_headers_is_migrated_at_start() {
    let mut cluster = cluster_with_config(AE_CONFIG, 1, &[]).await;
    create_database(&cluster, 1).await;
    // The group exists but was never written through this release: its shard is unmarked.
    let client = cluster.client();
    client.create_shard_group("db", None, FIRST_HOUR).await.expect("the hour's group");
    let state_of = |cluster: &Cluster| {
        let client = cluster.client();
        async move { client.metadata(None, Duration::ZERO).await.expect("metadata").metadata.into_state() }
    };
    assert!(!state_of(&cluster).await.is_written(1), "shard 1 starts unmarked");
    eprintln!("--- the node restarts on a directory an earlier release wrote: bare lines in 1.lp");
    cluster.kill_data_node(0);
    let shards = cluster.data_dir(0).join("shards");
    std::fs::create_dir_all(&shards).expect("the shard directory");
    let old = format!("cpu v=1 {}\ncpu v=2 {}\n", FIRST_HOUR + 1, FIRST_HOUR + 2);
    std::fs::write(shards.join("1.lp"), &old).expect("an old-layout file");
    cluster.restart_data_node(0);
    wait_for(Duration::from_secs(20), "the old file migrated", || async {
        let status = cluster.data_status(0).await?;
        (status.holds(1) && status.orphans.is_empty()).then_some(())
    })
    .await;
    assert!(!shards.join("1.lp").exists(), "the old file is replaced by the migrated one");
    assert!(state_of(&cluster).await.is_written(1), "the migrated data is known to the meta service");
    assert_eq!(stored_lines(&cluster, 0, 1).await, old, "every point kept, in order");
    let (status, body) = write(&cluster, 0, &format!("cpu v=3 {}", FIRST_HOUR + 3)).await;
    assert_eq!(status, 204, "{body}");
    assert!(stored_lines(&cluster, 0, 1).await.ends_with(&format!("cpu v=3 {}\n", FIRST_HOUR + 3)));
}
