//! Every cross-process scenario of the project, run as a user would: real `metad`, `datad` and
//! `metactl` processes on loopback through the harness (`cluster-harness`, in `tests/harness`),
//! and the Docker suites (`fault-suite`, in `tests/fault-suite`) behind their gate (skipped
//! loudly without Docker unless `CI=true`).
//!
//! | test | scenario |
//! |---|---|
//! | `tests/cluster.rs` | bootstrap, forwarding, linearizable reads, failover, restarts, membership |
//! | `tests/anti_entropy/` | anti-entropy with `datad` nodes: dead, replaced, retired and lost nodes, and failures mid-repair |
//! | `tests/metactl_e2e.rs` | `metactl` against a running cluster: tables, `--json`, errors, backup |
//! | `tests/influxdb_client.rs` | the InfluxDB 1.x Python client pings a data node and writes with `precision=s` |
//! | `tests/docker_faults.rs` | seeded partitions, kills and pauses in Docker, linearizability checked |
//! | `tests/docker_anti_entropy.rs` | data nodes killed and cut off in Docker, every point kept |
//!
//! The scenarios start the workspace's binaries from the target directory: build them first
//! (`cargo build --workspace --bins`, which `make test` does); a missing one fails the test with
//! that instruction, never silently.

use std::process::Output;

use cluster_harness::{sibling_binary, Cluster};

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
