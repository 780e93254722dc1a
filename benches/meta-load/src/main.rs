//! `meta-load`: starts a 3-node `metad` cluster on loopback (real processes, via the test
//! harness) and measures it, optionally side by side with a running etcd cluster:
//!
//! - writes: N concurrent clients each making small replicated writes through the leader for a
//!   fixed window (metad: create a database; etcd: put a 256-byte value); writes/s, p50, p99, max;
//! - reads: linearizable reads spread over all nodes;
//! - failover (metad): `kill -9` of the leader while one client writes; time to the first
//!   acknowledged write afterwards, over several runs (the killed node is restarted between runs);
//! - instead of all that, with `--shard-groups N`: the creation rate of shard groups while one
//!   policy grows to N groups, and the meta nodes' resident memory at the end (see `groups`);
//! - instead of all that, with `--million`: restore, memory, planner input and snapshot install
//!   of a million shards on 1,000 data nodes (see `million`).
//!
//! With `--etcd`, every write and read run is made against metad and then etcd, back to back
//! (disk fsync speed varies between hours, so only ratios from one run compare): through etcd's
//! JSON gateway with the same HTTP client, and, built with the `etcd-grpc` feature, through its
//! native gRPC API too. A table of ratios against each etcd path closes the report
//! (`benches/compare-etcd.sh` starts the etcd cluster and builds the feature).
//!
//! ```text
//! cargo run --release -p meta-load -- --metad target/release/metad --clients 1,16,64,256 --duration 10s
//! cargo run --release -p meta-load -- --metad target/release/metad --shard-groups 100000
//! cargo run --release -p meta-load -- --metad target/release/metad --million
//! ```

mod drive;
mod groups;
mod million;
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use cluster_harness::Cluster;

use drive::{drive, header, Run};
use groups::{grow, Growth};
use target::{http_client, Target};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "meta-load", about = "Load and failover benchmark of a 3-node metad cluster, optionally against etcd")]
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
    /// A running 3-member etcd cluster's client addresses (HOST:PORT,...): run every write and
    /// read run against it too, back to back, and print the ratios.
    #[arg(long, value_delimiter = ',')]
    etcd: Vec<String>,
    /// Instead of the runs above: grow one retention policy to this many shard groups and print
    /// the creation rate of every `--group-bucket` groups.
    #[arg(long)]
    shard_groups: Option<u64>,
    /// Groups per line of the growth run.
    #[arg(long, default_value_t = 10_000)]
    group_bucket: u64,
    /// Concurrent clients of the growth run.
    #[arg(long, default_value_t = 32)]
    group_clients: usize,
    /// Data nodes registered for the growth run (a group gets one shard per 3).
    #[arg(long, default_value_t = 30)]
    data_nodes: usize,
    /// Instead of the runs above: restore a generated backup of `--million-groups` groups of
    /// `--million-shards-per-group` shards on `--million-data-nodes` data nodes and measure it.
    #[arg(long)]
    million: bool,
    /// Data nodes of the `--million` backup.
    #[arg(long, default_value_t = 1_000)]
    million_data_nodes: u64,
    /// Hourly shard groups of the `--million` backup.
    #[arg(long, default_value_t = 100_000)]
    million_groups: u64,
    /// Shards per group of the `--million` backup (RF 3).
    #[arg(long, default_value_t = 10)]
    million_shards_per_group: u64,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let number = text.strip_suffix('s').unwrap_or(text);
    number.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| format!("{text:?}: {e}"))
}

/// One kind of run, measured on each target.
struct Compared {
    label: String,
    metad: Run,
    /// The same run on each etcd path, by name.
    etcd: Vec<(&'static str, Run)>,
}

async fn write_run(target: &Target, clients: usize, duration: Duration) -> anyhow::Result<Run> {
    let (target, http) = (target.clone(), http_client()?);
    drive(clients, duration, move |client, i| {
        let (target, http) = (target.clone(), http.clone());
        async move { target.write(&http, &format!("c{clients}-{client}-{i}")).await }
    })
    .await
}

async fn read_run(target: &Target, clients: usize, duration: Duration) -> anyhow::Result<Run> {
    let (target, http) = (target.clone(), http_client()?);
    if !target.write(&http, "read-probe").await {
        bail!("cannot write the key the read run reads to {}", target.name());
    }
    drive(clients, duration, move |client, i| {
        let (target, http) = (target.clone(), http.clone());
        async move { target.read(&http, client + i as usize, "read-probe").await }
    })
    .await
}

/// Kills the leader `runs` times while writing; prints the time to the first acknowledged write.
async fn failovers(cluster: &mut Cluster, runs: usize) -> anyhow::Result<()> {
    let mut took_all = Vec::new();
    for run in 0..runs {
        let leader = cluster.leader(Duration::from_secs(15)).await;
        let survivors: Vec<String> = (1..=3).filter(|id| *id != leader).map(|id| cluster.addr(id).to_owned()).collect();
        let http = http_client()?;
        let targets: Vec<Target> =
            survivors.iter().map(|s| Target::Metad { leader: s.clone(), nodes: survivors.clone() }).collect();
        // Warm the connections to the survivors, then kill the leader and write until acknowledged.
        targets[0].write(&http, &format!("warm-{run}")).await;
        cluster.kill(leader);
        let killed = Instant::now();
        let mut attempt = 0usize;
        while !targets[attempt % targets.len()].write(&http, &format!("failover-{run}")).await {
            attempt += 1;
            if killed.elapsed() > Duration::from_secs(30) {
                bail!("no write acknowledged 30 s after killing leader {leader}");
            }
        }
        let took = killed.elapsed();
        took_all.push(took);
        println!("failover run {run}: leader {leader} killed; first acknowledged write after {:.0} ms", ms(took));
        cluster.spawn(leader);
        cluster.wait_all_ready().await;
    }
    if !took_all.is_empty() {
        took_all.sort();
        let (median, max) = (took_all[took_all.len() / 2], took_all[took_all.len() - 1]);
        println!("failover over {} runs: median {:.0} ms, max {:.0} ms", took_all.len(), ms(median), ms(max));
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print_ratios(compared: &[Compared]) {
    println!("\nmetad vs etcd, back to back (ratio = metad / etcd; latency: lower is better; * = faster etcd path)");
    println!(
        "{:<24} {:<10} {:>12} {:>12} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "run", "etcd path", "metad ops/s", "etcd ops/s", "ratio", "metad p50", "etcd p50", "metad p99", "etcd p99"
    );
    for row in compared {
        let fastest = row.etcd.iter().map(|(_, run)| run.rate()).fold(0.0, f64::max);
        for (path, etcd) in &row.etcd {
            let mark = if row.etcd.len() > 1 && etcd.rate() == fastest { "*" } else { "" };
            println!(
                "{:<24} {:<10} {:>12.0} {:>12.0} {:>6.2}x {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms",
                row.label,
                format!("{path}{mark}"),
                row.metad.rate(),
                etcd.rate(),
                row.metad.rate() / etcd.rate().max(f64::MIN_POSITIVE),
                row.metad.ms(0.50),
                etcd.ms(0.50),
                row.metad.ms(0.99),
                etcd.ms(0.99)
            );
        }
    }
}

/// The etcd paths at `nodes`: the JSON gateway, and gRPC when built with `etcd-grpc`.
async fn etcd_targets(nodes: &[String]) -> anyhow::Result<Vec<Target>> {
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let gateway = Target::etcd(&http_client()?, nodes.to_vec()).await?;
    #[cfg(feature = "etcd-grpc")]
    {
        let grpc = gateway.etcd_grpc().await?;
        Ok(vec![gateway, grpc])
    }
    #[cfg(not(feature = "etcd-grpc"))]
    {
        println!("etcd through its JSON gateway only (build meta-load with --features etcd-grpc for its gRPC API)");
        Ok(vec![gateway])
    }
}

/// Runs `run` on metad and then on each etcd path, printing each line; one row of the ratios.
async fn compare<F, Fut>(label: String, metad: &Target, etcd: &[Target], run: F) -> anyhow::Result<Compared>
where
    F: Fn(Target) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Run>>,
{
    let metad_run = run(metad.clone()).await?;
    println!("{}", metad_run.line(&format!("metad {label}")));
    let mut etcd_runs = Vec::new();
    for target in etcd {
        let etcd_run = run(target.clone()).await?;
        println!("{}", etcd_run.line(&format!("{} {label}", target.name())));
        etcd_runs.push((target.name(), etcd_run));
    }
    Ok(Compared { label, metad: metad_run, etcd: etcd_runs })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    if !options.metad.exists() {
        bail!("{} does not exist: build it with `cargo build --release -p metad`", options.metad.display());
    }
    if options.million {
        let shape = million::Shape {
            data_nodes: options.million_data_nodes,
            groups: options.million_groups,
            shards_per_group: options.million_shards_per_group,
        };
        return million::run(&options.metad, &shape).await;
    }
    let toml = match &options.config {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
        None => String::new(),
    };
    let mut cluster = Cluster::start_with_config(&options.metad, 3, &toml).await;
    let leader = cluster.leader(Duration::from_secs(15)).await;
    if let Some(groups) = options.shard_groups {
        let growth = Growth {
            groups,
            bucket: options.group_bucket.max(1),
            clients: options.group_clients.max(1),
            data_nodes: options.data_nodes,
        };
        return grow(&cluster, cluster.addr(leader), &growth).await;
    }
    let metad = Target::Metad {
        leader: cluster.addr(leader).to_owned(),
        nodes: (1..=3).map(|id| cluster.addr(id).to_owned()).collect(),
    };
    let etcd = etcd_targets(&options.etcd).await?;
    println!("3-node metad cluster on loopback, leader {leader}; each run lasts {:?}", options.duration);
    if let Some(Target::Etcd { leader, .. }) = etcd.first() {
        println!("3-member etcd cluster at {:?}, leader {leader}", options.etcd);
    }
    println!("{}", header());

    let mut compared = Vec::new();
    let duration = options.duration;
    for &clients in &options.clients {
        let label = format!("write, {clients} clients");
        compared.push(
            compare(label, &metad, &etcd, |target| async move { write_run(&target, clients, duration).await }).await?,
        );
    }
    if options.read_clients > 0 {
        let (label, clients) = (format!("linearizable read, {}", options.read_clients), options.read_clients);
        compared.push(
            compare(label, &metad, &etcd, |target| async move { read_run(&target, clients, duration).await }).await?,
        );
    }
    failovers(&mut cluster, options.failover_runs).await?;
    if !etcd.is_empty() {
        print_ratios(&compared);
    }
    Ok(())
}
