//! `ae-latency`: the anti-entropy service measured from outside, on a real cluster (3 `metad`,
//! `datad` nodes, loopback) with the **default** `[anti-entropy]` settings.
//!
//! * **Event to first claimed copy**: a data node owning shards is killed (`kill -9`); then
//!   `metactl remove-data --force` runs, and `/v1/copy-tasks` is polled every millisecond until a
//!   task shows as claimed. The clock starts when `metactl` is started, so the figure includes it.
//! * **Idle leader CPU**: the meta leader's user+system CPU time (from `/proc/PID/stat`) over a
//!   window in which nothing happens but data-node heartbeats.
//!
//! Run with `cargo run --release -p ae-latency -- --runs 5` after
//! `cargo build --release --workspace --bins` (the binaries next to this one are used).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use cluster_harness::{sibling_binary, wait_for, Cluster};
use serde_json::{json, Value};

/// Command-line options.
#[derive(Debug, Parser)]
struct Options {
    /// How many kill-and-remove events to time.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds of idling over which the leader's CPU is measured.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
}

/// The first hour written to: 2024-01-01T00:00:00Z in nanoseconds.
const FIRST_HOUR: i64 = 1_704_067_200_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse();
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    for _ in 0..3 {
        add_data_node(&mut cluster).await?;
    }
    metactl(&cluster, &["create-database", "db", "--replication", "2", "--shard-duration", "1h"]).await?;
    write_hours(&cluster, 0, 6).await?;
    let mut live: Vec<usize> = vec![0, 1, 2];

    let leader = cluster.leader(Duration::from_secs(15)).await;
    let pid = cluster.pid(leader).context("the leader's process")?;
    let idle = Duration::from_secs(options.idle_secs);
    settle(&cluster).await;
    // The last writes' inventories arrive over the next heartbeats and are planned for: the idle
    // window starts once no planning round has run for 3 s.
    let mut quiet_since = (plans(&cluster, leader).await?, Instant::now());
    while quiet_since.1.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(200)).await; // Poll interval.
        let now = plans(&cluster, leader).await?;
        if now != quiet_since.0 {
            quiet_since = (now, Instant::now());
        }
    }
    let plans_before = quiet_since.0;
    let turns_before = counter(&cluster, leader, "metad_ae_loop_turns_total").await.unwrap_or(0);
    let (cpu, wall) = cpu_over(pid, idle).await?;
    let plans = plans(&cluster, leader).await? - plans_before;
    // Absent before this build (the loop then woke every 200 ms).
    let turns = counter(&cluster, leader, "metad_ae_loop_turns_total").await.map(|t| t - turns_before);
    let turns = turns.map_or("loop turns not counted".to_owned(), |t| format!("{t} loop turns"));
    println!(
        "idle leader (node {leader}, {} data nodes heartbeating every second): {:.1} ms CPU in {:.0} s = {:.3}% of one core; {plans} planning rounds, {turns}",
        live.len(),
        cpu.as_secs_f64() * 1e3,
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );

    let mut figures = Vec::new();
    for run in 1..=options.runs {
        // A spare node to copy to, then the victim: a live node that owns shards.
        live.push(add_data_node(&mut cluster).await?);
        settle(&cluster).await;
        let victim = live.remove(0);
        let addr = cluster.data_addr(victim).to_owned();
        cluster.kill_data_node(victim);
        let started = Instant::now();
        let args = ["remove-data", "--force", addr.as_str()];
        let removal = scenarios::metactl(&cluster, &args);
        let first_claim = async {
            loop {
                if claimed_tasks(&cluster).await > 0 {
                    return Ok(started.elapsed());
                }
                if started.elapsed() > Duration::from_secs(30) {
                    bail!("no task claimed 30 s after remove-data");
                }
                tokio::time::sleep(Duration::from_millis(1)).await; // The poll interval: the figure's resolution.
            }
        };
        let (removed, claimed) = tokio::join!(removal, first_claim);
        succeeded(&removed)?;
        let claimed = claimed?;
        println!(
            "run {run}: remove-data --force to the first claimed copy task: {:.1} ms",
            claimed.as_secs_f64() * 1e3
        );
        figures.push(claimed);
    }
    figures.sort();
    if let (Some(min), Some(max)) = (figures.first(), figures.last()) {
        let median = figures[figures.len() / 2];
        println!(
            "event to first claimed copy over {} runs: median {:.1} ms, min {:.1} ms, max {:.1} ms",
            figures.len(),
            median.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Starts a data node, registers it and waits until it knows it is registered.
async fn add_data_node(cluster: &mut Cluster) -> Result<usize> {
    let slot = cluster.start_data_node(&[]);
    let addr = cluster.data_addr(slot).to_owned();
    metactl(cluster, &["add-data", &addr]).await?;
    wait_for(Duration::from_secs(20), "data node registered", || async {
        cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
    })
    .await;
    Ok(slot)
}

/// Waits until the cluster has nothing to repair and every copy task is finished.
async fn settle(cluster: &Cluster) {
    wait_for(Duration::from_secs(120), "nothing left to repair", || async {
        let report = get(cluster, "/v1/entropy").await?;
        let quiet = report["trusted"] == true
            && report["under_replicated"] == json!([])
            && report["tasks"]
                .as_array()
                .is_some_and(|t| t.iter().all(|t| t["task"]["state"] != "pending" && t["task"]["state"] != "claimed"));
        quiet.then_some(())
    })
    .await;
}

/// The leader's count of planning rounds (`metad_ae_plans_total`).
async fn plans(cluster: &Cluster, leader: u64) -> Result<u64> {
    counter(cluster, leader, "metad_ae_plans_total").await.context("metad_ae_plans_total on the leader")
}

/// A counter of the leader's `/metrics`, if it has it.
async fn counter(cluster: &Cluster, leader: u64, name: &str) -> Option<u64> {
    let text = cluster.http.get(cluster.url(leader, "/metrics")).send().await.ok()?.text().await.ok()?;
    let value = text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned));
    value?.trim().parse().ok()
}

async fn claimed_tasks(cluster: &Cluster) -> usize {
    let tasks = get(cluster, "/v1/copy-tasks?state=claimed").await;
    tasks.and_then(|t| t["tasks"].as_array().map(Vec::len)).unwrap_or(0)
}

/// GET from any meta node that answers 200.
async fn get(cluster: &Cluster, path: &str) -> Option<Value> {
    for id in cluster.running() {
        if let Some((200, body)) = cluster.get(id, path).await {
            return Some(body);
        }
    }
    None
}

/// Writes 200 points into each of `hours` hours through the data node in `slot`.
async fn write_hours(cluster: &Cluster, slot: usize, hours: i64) -> Result<()> {
    for hour in 0..hours {
        let lines: Vec<String> = (0..200)
            .map(|i| format!("cpu,host=h{} usage={i}.5 {}", i % 7, FIRST_HOUR + hour * HOUR + i * 1_000_000))
            .collect();
        let url = format!("http://{}/write?db=db", cluster.data_addr(slot));
        let response = cluster.http.post(&url).body(lines.join("\n")).send().await?;
        if response.status().as_u16() != 204 {
            bail!("write of hour {hour}: {}", response.text().await.unwrap_or_default());
        }
    }
    Ok(())
}

async fn metactl(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let output = scenarios::metactl(cluster, args).await;
    succeeded(&output)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Fails unless `metactl` exited successfully.
fn succeeded(output: &std::process::Output) -> Result<()> {
    if !output.status.success() {
        bail!("metactl failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// User and system CPU time of process `pid`, from `/proc/PID/stat` (fields 14 and 15, in clock
/// ticks of 1/100 s on Linux).
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields are counted after its closing paren.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 =
        fields.get(11).context("utime")?.parse::<u64>()? + fields.get(12).context("stime")?.parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

/// The CPU time process `pid` spends over `window`, and the wall time measured.
async fn cpu_over(pid: u32, window: Duration) -> Result<(Duration, Duration)> {
    let (cpu0, wall0) = (cpu_time(pid)?, Instant::now());
    tokio::time::sleep(window).await; // The measurement window itself.
    Ok((cpu_time(pid)?.saturating_sub(cpu0), wall0.elapsed()))
}
