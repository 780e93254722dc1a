//! A real InfluxDB 1.x client writes through a data node: the `influxdb` Python package (5.3.2,
//! installed by `scripts/ensure-test-tools.sh`, which `make test` runs) pings it and writes points
//! with `time_precision="s"` and a consistency level; the data node stores them in nanoseconds.
//!
//! Without that Python environment the test says so loudly and passes, unless `CI=true`, where
//! it fails. Beside it, InfluxDB's line-protocol rules: invalid lines refused and named, the valid
//! lines of the same body stored (a partial write).

use std::path::PathBuf;

use cluster_harness::Cluster;
use scenarios::{cluster_with_one_data_node, metactl};
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

/// 3 meta nodes, one registered data node (its slot and address), database `telegraf`.
async fn one_data_node() -> (Cluster, usize, String) {
    let (cluster, slot) = cluster_with_one_data_node(&[]).await;
    let addr = cluster.data_addr(slot).to_owned();
    let created = metactl(&cluster, &["create-database", "telegraf", "--shard-duration", "1h"]).await;
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    (cluster, slot, addr)
}

/// The lines the data node at `addr` stores for `shard`.
async fn stored(cluster: &Cluster, addr: &str, shard: u64) -> String {
    let url = format!("http://{addr}/shards/{shard}");
    let file = cluster.http.get(&url).send().await.expect("shard file").bytes().await.expect("bytes");
    String::from_utf8(datad::shard_file_lines(&file).expect("a shard file")).expect("UTF-8 lines")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_influxdb_refuses_are_dropped_and_named_and_the_valid_ones_stored() {
    let (cluster, slot, addr) = one_data_node().await;
    let url = format!("http://{addr}/write?db=telegraf&precision=s");
    let post = |body: &'static str| cluster.http.post(&url).body(body).send();
    for bad in ["cpu v=", "cpu,host= v=1", "cpu, v=1", "cpu v=tru", "cpu v=NaN", "cpu v=inf"] {
        let response = post(bad).await.expect("answer");
        assert_eq!(response.status().as_u16(), 400, "{bad:?} must be refused");
        let body = response.text().await.expect("body");
        assert!(body.contains("invalid_line") && body.contains("nothing was written"), "{bad:?}: {body}");
    }
    let response =
        post("cpu,host=a v=1 1700000000\ncpu,host=b v= 2\ncpu,z=1,host=c v=3 1700000001").await.expect("answer");
    assert_eq!(response.status().as_u16(), 400, "a partial write is reported");
    let body = response.text().await.expect("body");
    assert!(body.contains("partial_write") && body.contains("line 2") && body.contains("dropped=1"), "{body}");
    let status = cluster.data_status(slot).await.expect("status");
    let shard = status.shards.first().expect("the valid points were stored").shard_id;
    let lines = stored(&cluster, &addr, shard).await;
    assert_eq!(
        lines, "cpu,host=a v=1 1700000000000000000\ncpu,host=c,z=1 v=3 1700000001000000000\n",
        "the valid points, their tags sorted as InfluxDB keys series"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_influxdb_python_client_pings_and_writes_with_second_precision() {
    let Some(python) = python() else {
        let message = "SKIPPED: no test-tools Python environment (run scripts/ensure-test-tools.sh or `make test`)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("{message}");
        return;
    };
    let (cluster, slot, addr) = one_data_node().await;

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
    let stored = stored(&cluster, &addr, shard).await;
    for (measurement, host, seconds) in &run.points {
        let nanos = seconds * 1_000_000_000;
        assert!(stored.contains(&format!("{measurement},host={host} ")), "{stored}");
        assert!(stored.contains(&format!(" {nanos}\n")), "{nanos} missing from:\n{stored}");
    }
    assert_eq!(stored.lines().count(), run.points.len(), "{stored}");
}
