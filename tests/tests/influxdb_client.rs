//! A real InfluxDB 1.x client writes through a data node: the `influxdb` Python package (5.3.2,
//! installed by `scripts/ensure-test-tools.sh`, which `make test` runs) pings it and writes points
//! with `time_precision="s"` and a consistency level; the data node stores them in nanoseconds.
//!
//! Without that Python environment the test says so loudly and passes, unless `CI=true`, where
//! it fails.

use std::path::PathBuf;
use std::time::Duration;

use cluster_harness::{sibling_binary, wait_for, Cluster};
use scenarios::metactl;
use serde::Deserialize;

/// What `tests/clients/influxdb_v1.py` prints.
#[derive(Debug, Deserialize)]
struct ClientRun {
    version: String,
    points: Vec<(String, String, i64)>,
}

/// The Python of the test tools' environment, if it is installed.
fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("METAD_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/metad/venv")))?;
    let python = venv.join("bin/python");
    python.exists().then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_influxdb_python_client_pings_and_writes_with_second_precision() {
    let Some(python) = python() else {
        let message = "SKIPPED: no test-tools Python environment (run scripts/ensure-test-tools.sh or `make test`)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("{message}");
        return;
    };
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let slot = cluster.start_data_node(&[]);
    let addr = cluster.data_addr(slot).to_owned();
    let added = metactl(&cluster, &["add-data", &addr]).await;
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    wait_for(Duration::from_secs(20), "the data node registered", || async {
        cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
    })
    .await;
    let created = metactl(&cluster, &["create-database", "telegraf", "--shard-duration", "1h"]).await;
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/influxdb_v1.py");
    let output = tokio::process::Command::new(&python)
        .args([script, host, port, "telegraf"])
        .output()
        .await
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the InfluxDB client failed:\n{stderr}");
    let run: ClientRun = serde_json::from_slice(&output.stdout).expect("the script prints its run");
    assert_eq!(run.version, env!("CARGO_PKG_VERSION"), "ping reports the data node's version");

    // Stored in nanoseconds: the shard's file holds each point with its second timestamp × 1e9.
    let status = cluster.data_status(slot).await.expect("the data node answers");
    let shard = status.shards.first().expect("a shard was written").shard_id;
    let url = format!("http://{addr}/shards/{shard}");
    let file = cluster.http.get(&url).send().await.expect("shard file").bytes().await.expect("bytes");
    let stored = String::from_utf8(datad::shard_file_lines(&file).expect("a shard file")).expect("UTF-8 lines");
    for (measurement, host, seconds) in &run.points {
        let nanos = seconds * 1_000_000_000;
        assert!(stored.contains(&format!("{measurement},host={host} ")), "{stored}");
        assert!(stored.contains(&format!(" {nanos}\n")), "{nanos} missing from:\n{stored}");
    }
    assert_eq!(stored.lines().count(), run.points.len(), "{stored}");
}
