//! Every cross-process scenario of the project, run as a user would: real `metad`, `datad` and
//! `metactl` processes on loopback through the harness (`cluster-harness`, in `tests/harness`),
//! and the Docker suites (`fault-suite`, in `tests/fault-suite`) behind their gate (skipped
//! loudly without Docker unless `CI=true`).
//!
//! | test | scenario |
//! |---|---|
//! | `tests/cluster.rs` | bootstrap, forwarding, linearizable reads, failover, restarts, membership |
//! | `tests/anti_entropy/` | anti-entropy with `datad` nodes: dead, replaced, retired and lost nodes, and failures mid-repair; the web console in a real browser |
//! | `tests/metactl_e2e.rs` | `metactl` against a running cluster: tables, `--json`, errors, backup |
//! | `tests/influxdb_client.rs` | the InfluxDB 1.x Python client pings a data node and writes with `precision=s`; line-protocol rules and partial writes |
//! | `tests/lifecycle.rs` | shard-group lifecycle: `truncate-shards` with data written ahead, bounded group creation |
//! | `tests/names.rs` | every accepted database and policy name round-trips over HTTP |
//! | `tests/tls.rs` | meta and data nodes over mutual TLS: Raft, registration, writes between owners; clients verified or refused |
//! | `tests/docker_faults.rs` | seeded partitions, kills and pauses in Docker, linearizability checked |
//! | `tests/docker_anti_entropy.rs` | data nodes killed and cut off in Docker, every point kept |
//!
//! The scenarios start the workspace's binaries from the target directory: build them first
//! (`cargo build --workspace --bins`, which `make test` does); a missing one fails the test with
//! that instruction, never silently.

use std::process::Output;
use std::time::Duration;

use cluster_harness::{sibling_binary, wait_for, Cluster};

/// Runs `metactl --url <every meta node> ARGS` and returns what it did.
pub async fn metactl(cluster: &Cluster, args: &[&str]) -> Output {
    let result = tokio::process::Command::new(sibling_binary("metactl"))
        .arg("--url")
        .arg(cluster.meta_urls())
        .args(args)
        .output()
        .await;
    match result {
        Ok(output) => output,
        Err(error) => panic!("cannot run metactl {args:?}: {error}"),
    }
}

/// Starts 3 meta nodes and one data node with extra `datad_args`, registers it with `metactl
/// add-data` and waits until it says it is registered; returns the cluster and the data node's slot.
pub async fn cluster_with_one_data_node(datad_args: &[&str]) -> (Cluster, usize) {
    configured_cluster_with_one_data_node("", datad_args).await
}

/// [`cluster_with_one_data_node`] with `meta_toml` as every meta node's configuration file.
pub async fn configured_cluster_with_one_data_node(meta_toml: &str, datad_args: &[&str]) -> (Cluster, usize) {
    let mut cluster = Cluster::start_with_config(&sibling_binary("metad"), 3, meta_toml).await;
    let slot = cluster.start_data_node(datad_args);
    let added = metactl(&cluster, &["add-data", cluster.data_addr(slot)]).await;
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    wait_for(Duration::from_secs(20), "the data node registered", || async {
        cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
    })
    .await;
    (cluster, slot)
}
