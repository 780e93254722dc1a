//! The input of a full planning round on the state of `meta-load --million`: 1,000,000 shards in
//! 100,000 hourly groups (10 shards each, RF 3), owners spread round-robin over 1,000 data nodes,
//! none of them heard from (as just after a restore). Built twice: with every shard never written
//! (a restored backup of fresh groups) and with every shard written (a cluster in use). The figure
//! is the service's own: the time the full round spent building its input under the state's read
//! lock (`full_plan_input_micros` of the entropy report, `metad_ae_full_plan_input_seconds`), and
//! the whole round (input and planning).
//!
//! Run with `cargo bench -p ae-service --bench full_input`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ae_service::{AntiEntropy, AntiEntropySection, MemoryPort};
use meta_model::{Command, MetaState, MetadataRecord, RetentionPolicySpec, HOUR};
use meta_wire::{AeHandler, GetReport};

/// The allocator `metad` runs on: the figure is the meta node's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NODES: u64 = 1_000;
const GROUPS: i64 = 100_000;
const SHARDS_PER_GROUP: u64 = 10;
const ROUNDS: usize = 5;

/// The million-shard record, every shard never written.
fn record() -> MetadataRecord {
    let mut state = MetaState::new();
    let add = |i: u64| Command::AddDataNode {
        tcp_addr: format!("data-{i}:8088"),
        http_addr: format!("data-{i}:8086"),
        labels: BTreeMap::new(),
    };
    // As many nodes as a group's shards need (placement makes one shard per RF nodes), then the rest.
    let placing = SHARDS_PER_GROUP * 3;
    for i in 0..placing {
        state.apply(&add(i)).expect("node added");
    }
    let spec =
        RetentionPolicySpec { name: "rp".into(), duration: 0, shard_group_duration: Some(HOUR), replication_factor: 3 };
    state.apply(&Command::CreateDatabase { name: "db".into(), default_retention_policy: Some(spec) }).expect("db");
    for hour in 0..GROUPS {
        let group = Command::CreateShardGroup {
            database: "db".into(),
            retention_policy: "rp".into(),
            timestamp: hour * HOUR as i64,
        };
        state.apply(&group).expect("group");
    }
    for i in placing..NODES {
        state.apply(&add(i)).expect("node added");
    }
    let mut record = state.to_record();
    let nodes: Vec<u64> = record.data_nodes.keys().copied().collect();
    let groups = record.databases.values_mut().flat_map(|d| d.retention_policies.values_mut());
    let shards = groups.flat_map(|p| p.shard_groups.values_mut()).flat_map(|g| g.shards.iter_mut());
    for (next, shard) in shards.enumerate() {
        let mut owners: Vec<u64> = (0..3).map(|k| nodes[(3 * next + k) % nodes.len()]).collect();
        owners.sort_unstable();
        shard.owners = owners;
    }
    record
}

/// Runs `ROUNDS` full rounds over `state`; prints the median input and round times.
async fn measure(label: &str, state: MetaState) {
    let shards = state.shard_count();
    // Every round a full one: the check interval is the smallest there is.
    let settings =
        AntiEntropySection { grace_period: "1s".into(), check_interval: "1ms".into(), ..AntiEntropySection::default() };
    let service = Arc::new(AntiEntropy::new(10_000, settings.validate().expect("valid")));
    let port = Arc::new(MemoryPort::new(state, Arc::clone(&service)));
    let runner = tokio::spawn(Arc::clone(&service).run(Arc::clone(&port)));
    let (mut inputs, mut totals) = (Vec::new(), Vec::new());
    let mut last = None;
    // The report is polled every 5 ms until ROUNDS new full rounds have run.
    let mut poll = tokio::time::interval(Duration::from_millis(5));
    while inputs.len() < ROUNDS {
        poll.tick().await;
        let report = service.serving(&*port).report(GetReport).await.expect("report");
        if let (Some(at), Some(total), Some(input)) =
            (report.planned_at, report.plan_micros, report.full_plan_input_micros)
        {
            if last != Some(at) {
                last = Some(at);
                inputs.push(Duration::from_micros(input));
                totals.push(Duration::from_micros(total));
            }
        }
    }
    runner.abort();
    inputs.sort();
    totals.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label}: {shards} shards, full round input median {:.1} ms (min {:.1}, max {:.1}); whole round median {:.1} ms",
        ms(inputs[ROUNDS / 2]),
        ms(inputs[0]),
        ms(inputs[ROUNDS - 1]),
        ms(totals[ROUNDS / 2])
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let started = Instant::now();
    let record = record();
    println!("state built in {:.1} s", started.elapsed().as_secs_f64());
    let mut written = record.clone();
    written.unwritten_shards.clear();
    measure("never written", MetaState::from(record)).await;
    measure("all written", MetaState::from(written)).await;
}
