//! `--shard-groups N`: one retention policy grows to N shard groups while concurrent clients
//! create the groups of successive hours through `POST /v1/shard-groups`, as data nodes do when
//! points arrive for a new hour. Prints the creation rate of every bucket of groups, so a rate
//! that falls as the policy grows shows, and then each meta node's resident memory at that state.
//!
//! The cluster gets `data_nodes` data nodes (registered through the API; no `datad` runs, so the
//! nodes are never heard from) and a database whose one policy keeps data forever, with
//! replication factor 3 and 1-hour groups: each group has `data_nodes / 3` shards. Hours start
//! N hours before now, so every group is in the past and none is refused as too far ahead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use cluster_harness::Cluster;
use serde_json::json;

use crate::target::http_client;

/// One hour in nanoseconds.
const HOUR_NS: i64 = 3_600_000_000_000;

/// What a growth run does.
pub(crate) struct Growth {
    /// Groups to create in all.
    pub(crate) groups: u64,
    /// Groups per printed bucket.
    pub(crate) bucket: u64,
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// Data nodes registered first.
    pub(crate) data_nodes: usize,
}

/// Registers the data nodes and the policy, then grows it; prints a line per bucket.
pub(crate) async fn grow(cluster: &Cluster, leader: &str, growth: &Growth) -> anyhow::Result<()> {
    let http = http_client()?;
    for i in 0..growth.data_nodes {
        let body = json!({ "tcp_addr": format!("10.0.{}.{}:8088", i / 250, i % 250 + 1) });
        let status = http.post(format!("http://{leader}/v1/data-nodes")).json(&body).send().await?.status();
        if !status.is_success() {
            bail!("registering data node {i}: HTTP {status}");
        }
    }
    let database = json!({
        "name": "grow",
        "retention_policy": { "name": "forever", "duration": "inf", "shard_duration": "1h", "replication": 3 },
    });
    let status = http.post(format!("http://{leader}/v1/databases")).json(&database).send().await?.status();
    if !status.is_success() {
        bail!("creating the database: HTTP {status}");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).context("clock before 1970")?.as_nanos();
    let first_hour = i64::try_from(now).context("clock")? / HOUR_NS - i64::try_from(growth.groups)? - 1;
    println!(
        "growing one policy to {} groups ({} data nodes, RF 3, 1 h groups), {} clients, POST /v1/shard-groups to the leader",
        growth.groups, growth.data_nodes, growth.clients
    );
    println!("{:>10} {:>12} {:>10} {:>10} {:>8}", "groups", "groups/s", "p50 ms", "p99 ms", "errors");
    let next = Arc::new(AtomicU64::new(0));
    let mut created = 0;
    while created < growth.groups {
        let end = (created + growth.bucket).min(growth.groups);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..growth.clients {
            let (http, next, url) = (http.clone(), Arc::clone(&next), format!("http://{leader}/v1/shard-groups"));
            tasks.push(tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                loop {
                    let hour = next.fetch_add(1, Ordering::Relaxed);
                    if hour >= end {
                        // Leave the counter at the bucket's end for the next bucket.
                        next.fetch_min(end, Ordering::Relaxed);
                        return (latencies, errors);
                    }
                    let timestamp = (first_hour + hour as i64) * HOUR_NS;
                    let body = json!({ "database": "grow", "retention_policy": "forever", "timestamp": timestamp });
                    let sent = Instant::now();
                    match http.post(&url).json(&body).send().await {
                        Ok(reply) if reply.status().is_success() => latencies.push(sent.elapsed()),
                        _ => errors += 1,
                    }
                }
            }));
        }
        let (mut latencies, mut errors) = (Vec::new(), 0);
        for task in tasks {
            let (mine, failed) = task.await?;
            latencies.extend(mine);
            errors += failed;
        }
        latencies.sort_unstable();
        let quantile =
            |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)));
        let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        println!(
            "{:>10} {:>12.0} {:>10.2} {:>10.2} {:>8}",
            end,
            (end - created) as f64 / started.elapsed().as_secs_f64(),
            ms(quantile(0.5)),
            ms(quantile(0.99)),
            errors
        );
        created = end;
    }
    for id in 1..=3 {
        if let Some(pid) = cluster.pid(id) {
            println!("meta node {id}: {}", resident_memory(pid));
        }
    }
    Ok(())
}

/// `VmRSS` and `VmHWM` (peak) of process `pid`, as `/proc/PID/status` gives them.
pub(crate) fn resident_memory(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or_else(|| "?".to_owned(), |value| value.trim().to_owned())
    };
    format!("resident {} (peak {})", field("VmRSS:"), field("VmHWM:"))
}
