//! `meta-load`: starts a 3-node `metad` cluster on loopback (real processes, via the test
//! harness) and measures it:
//!
//! - writes: N concurrent clients each creating databases (a small replicated metadata write)
//!   through the leader, for a fixed duration; writes/s, p50, p99, max;
//! - reads: linearizable `GET /v1/databases/{name}` from all nodes;
//! - failover: `kill -9` of the leader while one client writes; time to the first acknowledged
//!   write afterwards, over several runs (the killed node is restarted between runs).
//!
//! ```text
//! cargo run --release -p meta-load -- --metad target/release/metad --clients 1,16,64,256 --duration 10s
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use cluster_harness::Cluster;
use hdrhistogram::Histogram;
use serde_json::json;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "meta-load", about = "Load and failover benchmark of a 3-node metad cluster")]
struct Options {
    /// The metad binary to run (build it with --release for meaningful figures).
    #[arg(long)]
    metad: PathBuf,
    /// Client counts to run, one after another.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    clients: Vec<usize>,
    /// How long each client count runs, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_seconds)]
    duration: Duration,
    /// Concurrent clients of the linearizable read run (0 skips it).
    #[arg(long, default_value_t = 64)]
    read_clients: usize,
    /// Leader kill -9 runs (0 skips them).
    #[arg(long, default_value_t = 5)]
    failover_runs: usize,
    /// A metad TOML file (e.g. a `[raft]` section) every node reads.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let number = text.strip_suffix('s').unwrap_or(text);
    number.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| format!("{text:?}: {e}"))
}

/// Latencies (µs) and counts of one run.
struct Run {
    latencies: Histogram<u64>,
    errors: u64,
    elapsed: Duration,
}

impl Run {
    fn line(&self, label: &str) -> String {
        let ok = self.latencies.len();
        let rate = ok as f64 / self.elapsed.as_secs_f64();
        format!(
            "{label:<24} {rate:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            self.latencies.value_at_quantile(0.50) as f64 / 1000.0,
            self.latencies.value_at_quantile(0.99) as f64 / 1000.0,
            self.latencies.max() as f64 / 1000.0,
            self.errors
        )
    }
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")
}

/// Runs `clients` loops of `op(client, i)` for `duration`; each returns whether it succeeded.
async fn drive<F, Fut>(clients: usize, duration: Duration, op: F) -> anyhow::Result<Run>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (op, stop, errors) = (Arc::clone(&op), Arc::clone(&stop), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut latencies = histogram()?;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                if op(client, i).await {
                    latencies.record(sent.elapsed().as_micros().max(1) as u64)?;
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    // The measured window itself, not synchronisation: clients run until it ends.
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = histogram()?;
    for task in tasks {
        latencies.add(task.await??)?;
    }
    Ok(Run { latencies, errors: errors.load(Ordering::Relaxed), elapsed: started.elapsed() })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(Duration::from_secs(10)).tcp_nodelay(true).build()?)
}

async fn create_database(http: &reqwest::Client, addr: &str, name: String) -> bool {
    let sent = http.post(format!("http://{addr}/v1/databases")).json(&json!({ "name": name })).send().await;
    matches!(sent.map(|r| r.status().as_u16()), Ok(201))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    if !options.metad.exists() {
        bail!("{} does not exist: build it with `cargo build --release -p metad`", options.metad.display());
    }
    let toml = match &options.config {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
        None => String::new(),
    };
    let mut cluster = Cluster::start_with_config(&options.metad, 3, &toml).await;
    let leader = cluster.leader(Duration::from_secs(15)).await;
    println!("3-node cluster on loopback, leader {leader}; each run lasts {:?}", options.duration);
    println!("{:<24} {:>10} {:>9} {:>9} {:>9} {:>8}", "run", "ops/s", "p50 ms", "p99 ms", "max ms", "errors");

    for &clients in &options.clients {
        let addr = cluster.addr(leader).to_owned();
        let http = http_client()?;
        let run = drive(clients, options.duration, move |client, i| {
            let (http, addr) = (http.clone(), addr.clone());
            async move { create_database(&http, &addr, format!("c{clients}-{client}-{i}")).await }
        })
        .await?;
        println!("{}", run.line(&format!("write, {clients} clients")));
    }

    if options.read_clients > 0 {
        let addrs: Vec<String> = (1..=3).map(|id| cluster.addr(id).to_owned()).collect();
        let http = http_client()?;
        let clients = options.read_clients;
        let run = drive(clients, options.duration, move |client, i| {
            let (http, addr) = (http.clone(), addrs[(client + i as usize) % addrs.len()].clone());
            async move {
                let url = format!("http://{addr}/v1/databases/c1-0-0");
                matches!(http.get(url).send().await.map(|r| r.status().as_u16()), Ok(200))
            }
        })
        .await?;
        println!("{}", run.line(&format!("linearizable read, {clients}")));
    }

    let mut failovers = Vec::new();
    for run in 0..options.failover_runs {
        let leader = cluster.leader(Duration::from_secs(15)).await;
        let addrs: Vec<String> = (1..=3).filter(|id| *id != leader).map(|id| cluster.addr(id).to_owned()).collect();
        let http = http_client()?;
        // Warm the connections to the survivors, then kill the leader and write until acknowledged.
        create_database(&http, &addrs[0], format!("warm-{run}")).await;
        cluster.kill(leader);
        let killed = Instant::now();
        let mut attempt = 0usize;
        while !create_database(&http, &addrs[attempt % addrs.len()], format!("failover-{run}")).await {
            attempt += 1;
            if killed.elapsed() > Duration::from_secs(30) {
                bail!("no write acknowledged 30 s after killing leader {leader}");
            }
        }
        let took = killed.elapsed();
        failovers.push(took);
        println!(
            "failover run {run}: leader {leader} killed; first acknowledged write after {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        cluster.spawn(leader);
        cluster.wait_all_ready().await;
    }
    if !failovers.is_empty() {
        failovers.sort();
        let median = failovers[failovers.len() / 2];
        let max = failovers[failovers.len() - 1];
        println!(
            "failover over {} runs: median {:.0} ms, max {:.0} ms",
            failovers.len(),
            median.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
