//! `meta-load`: starts a 3-node `metad` cluster on loopback (real processes, via the test
//! harness) and measures it, optionally side by side with a running etcd cluster:
//!
//! - writes: N concurrent clients each making small replicated writes through the leader for a
//!   fixed window (metad: create a database; etcd: put a 256-byte value); writes/s, p50, p99, max;
//! - reads: linearizable reads spread over all nodes;
//! - failover (metad): `kill -9` of the leader while one client writes; time to the first
//!   acknowledged write afterwards, over several runs (the killed node is restarted between runs).
//!
//! With `--etcd`, every write and read run is made against metad and then etcd, back to back with
//! the same client (disk fsync speed varies between hours, so only ratios from one run compare),
//! and a table of ratios closes the report (`benches/compare-etcd.sh` starts the etcd cluster).
//!
//! ```text
//! cargo run --release -p meta-load -- --metad target/release/metad --clients 1,16,64,256 --duration 10s
//! ```

mod drive;
mod target;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use cluster_harness::Cluster;

use drive::{drive, header, Run};
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
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let number = text.strip_suffix('s').unwrap_or(text);
    number.parse::<f64>().map(Duration::from_secs_f64).map_err(|e| format!("{text:?}: {e}"))
}

/// One kind of run, measured on each target.
struct Compared {
    label: String,
    metad: Run,
    etcd: Option<Run>,
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
    println!("\nmetad vs etcd, same client, back to back (ratio = metad / etcd; latency: lower is better)");
    println!(
        "{:<24} {:>12} {:>12} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "run", "metad ops/s", "etcd ops/s", "ratio", "metad p50", "etcd p50", "metad p99", "etcd p99"
    );
    for row in compared {
        let Some(etcd) = &row.etcd else { continue };
        println!(
            "{:<24} {:>12.0} {:>12.0} {:>6.2}x {:>8.2}ms {:>8.2}ms {:>8.2}ms {:>8.2}ms",
            row.label,
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
    let metad = Target::Metad {
        leader: cluster.addr(leader).to_owned(),
        nodes: (1..=3).map(|id| cluster.addr(id).to_owned()).collect(),
    };
    let etcd = match options.etcd.is_empty() {
        true => None,
        false => Some(Target::etcd(&http_client()?, options.etcd.clone()).await?),
    };
    println!("3-node metad cluster on loopback, leader {leader}; each run lasts {:?}", options.duration);
    if let Some(Target::Etcd { leader, .. }) = &etcd {
        println!("3-member etcd cluster at {:?}, leader {leader}", options.etcd);
    }
    println!("{}", header());

    let mut compared = Vec::new();
    for &clients in &options.clients {
        let label = format!("write, {clients} clients");
        let metad_run = write_run(&metad, clients, options.duration).await?;
        println!("{}", metad_run.line(&format!("metad {label}")));
        let etcd_run = match &etcd {
            Some(etcd) => Some(write_run(etcd, clients, options.duration).await?),
            None => None,
        };
        if let Some(run) = &etcd_run {
            println!("{}", run.line(&format!("etcd {label}")));
        }
        compared.push(Compared { label, metad: metad_run, etcd: etcd_run });
    }
    if options.read_clients > 0 {
        let label = format!("linearizable read, {}", options.read_clients);
        let metad_run = read_run(&metad, options.read_clients, options.duration).await?;
        println!("{}", metad_run.line(&format!("metad {label}")));
        let etcd_run = match &etcd {
            Some(etcd) => Some(read_run(etcd, options.read_clients, options.duration).await?),
            None => None,
        };
        if let Some(run) = &etcd_run {
            println!("{}", run.line(&format!("etcd {label}")));
        }
        compared.push(Compared { label, metad: metad_run, etcd: etcd_run });
    }
    failovers(&mut cluster, options.failover_runs).await?;
    if etcd.is_some() {
        print_ratios(&compared);
    }
    Ok(())
}
