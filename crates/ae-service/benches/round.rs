//! Planning rounds of the service on a large cluster, end to end in memory: 1,000,000 shards (RF 2)
//! on 1,000 data nodes, every node's inventory held by the leader and every node heartbeating. A
//! full round, then incremental rounds, each after one data node is removed with `--force` (the
//! round plans that node's 2,000 shards, and those the last rounds found in need). The figure is the service's own `plan_micros`: building the round's input
//! from the metadata and the soft state, and planning (not the commits that follow).
//!
//! Run with `cargo bench -p ae-service --bench round`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ae_service::{AntiEntropy, AntiEntropySection, MemoryPort, MetaPort};
use meta_model::{Command, MetaState, RetentionPolicySpec, HOUR};
use meta_wire::{AeHandler, GetReport, Heartbeat, HeartbeatRequest, ShardReport};

const NODES: u64 = 1_000;
const GROUPS: i64 = 2_000;
const REMOVALS: u64 = 9;

fn cluster() -> MetaState {
    let mut state = MetaState::new();
    for i in 1..=NODES {
        let add = Command::AddDataNode {
            tcp_addr: format!("data-{i}:8088"),
            http_addr: format!("data-{i}:8086"),
            labels: BTreeMap::new(),
        };
        state.apply(&add).expect("node added");
    }
    let spec =
        RetentionPolicySpec { name: "rp".into(), duration: 0, shard_group_duration: Some(HOUR), replication_factor: 2 };
    state.apply(&Command::CreateDatabase { name: "db".into(), default_retention_policy: Some(spec) }).expect("db");
    for hour in 0..GROUPS {
        let timestamp = hour * HOUR as i64;
        let group = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp };
        state.apply(&group).expect("group");
    }
    state
}

/// Waits (polling the report) until a round newer than `after` has run; returns its cost.
async fn next_round(service: &AntiEntropy, port: &MemoryPort, after: Option<i64>) -> (i64, Duration) {
    loop {
        let report = service.serving(port).report(GetReport).await.expect("report");
        if let (Some(at), Some(micros)) = (report.planned_at, report.plan_micros) {
            if Some(at) != after {
                return (at, Duration::from_micros(micros));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await; // Poll interval of the benchmark.
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let started = Instant::now();
    let state = cluster();
    println!("{} shards on {NODES} data nodes built in {:?}", state.shard_count(), started.elapsed());
    let settings = AntiEntropySection { grace_period: "1s".into(), ..AntiEntropySection::default() };
    let service = Arc::new(AntiEntropy::new(10_000, settings.validate().expect("valid")));
    let port = Arc::new(MemoryPort::new(state, Arc::clone(&service)));
    for node_id in 1..=NODES {
        let inventory: Vec<ShardReport> = port.read(|s| {
            s.shards_owned_by(node_id)
                .map(|shard_id| ShardReport {
                    shard_id,
                    size: 1 << 20,
                    checksum: 0,
                    hot: false,
                    content: None,
                    points: None,
                })
                .collect()
        });
        let request = HeartbeatRequest {
            addr: format!("data-{node_id}:8086"),
            version: "bench".into(),
            inventory_version: 1,
            inventory: Some(inventory),
            handoff: Vec::new(),
            orphans: Vec::new(),
        };
        service.serving(&*port).heartbeat(Heartbeat { node_id, request }).await.expect("heartbeat");
    }
    tokio::spawn(Arc::clone(&service).run(Arc::clone(&port)));
    // The data nodes keep heartbeating (without inventories: theirs are held), so none turns
    // suspect while the benchmark runs.
    let (beating, beat_port) = (Arc::clone(&service), Arc::clone(&port));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await; // The heartbeat interval.
            for node_id in 1..=NODES {
                let request = HeartbeatRequest {
                    addr: format!("data-{node_id}:8086"),
                    version: "bench".into(),
                    inventory_version: 1,
                    inventory: None,
                    handoff: Vec::new(),
                    orphans: Vec::new(),
                };
                // A node removed by the benchmark is refused: it stays silent, as a dead one would.
                let _ = beating.serving(&*beat_port).heartbeat(Heartbeat { node_id, request }).await;
            }
        }
    });
    let (mut last, full) = next_round(&service, &port, None).await;
    println!("full round over every shard: {:.1} ms", full.as_secs_f64() * 1e3);

    let mut rounds = Vec::new();
    // Placement puts a group's shards on pairs of nodes (1 and 2, 3 and 4, ...): one node of each
    // pair goes, so each round has copies to plan (not shards lost for good).
    for node_id in (1..=2 * REMOVALS).step_by(2) {
        let owned = port.read(|s| s.owned_shard_count(node_id));
        let removal = Command::RemoveDataNode { node_id, force: true };
        port.propose(removal).await.expect("proposed").expect("removed");
        let (at, took) = next_round(&service, &port, Some(last)).await;
        last = at;
        let open = port.read(|s| s.open_tasks().count());
        println!(
            "incremental round after removing node {node_id} ({owned} shards): {:.2} ms; {open} copy tasks open",
            took.as_secs_f64() * 1e3
        );
        rounds.push(took);
    }
    rounds.sort();
    println!(
        "incremental rounds over {} removals: median {:.2} ms, min {:.2} ms, max {:.2} ms",
        rounds.len(),
        rounds[rounds.len() / 2].as_secs_f64() * 1e3,
        rounds[0].as_secs_f64() * 1e3,
        rounds[rounds.len() - 1].as_secs_f64() * 1e3
    );
}
