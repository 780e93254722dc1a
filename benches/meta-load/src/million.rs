//! `--million`: the figures of a big cluster's metadata on real meta nodes. Generates a backup of
//! `shards` shards in `groups` hourly groups (one policy, RF 3) owned round-robin by
//! `data_nodes` data nodes, then, on a 3-node cluster with the default Raft timing:
//!
//! 1. `metactl restore` of it, timed, while every node's term and leader are sampled every 20 ms
//!    (leader churn = a term or leader change);
//! 2. each meta node's resident memory (`/proc/PID/status`) once restored;
//! 3. the leader's `metad_ae_full_plan_input_seconds` once a full planning round has run
//!    (building the planner's input from that state);
//! 4. a fourth meta node added with `metactl add-meta`: it catches up by installing a snapshot
//!    (taken after the restore: the configuration snapshots every 1,000 entries and keeps no log
//!    after one; Raft's timing is the default), timed, and answers for the last shard.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Process;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use cluster_harness::{try_wait_for, Cluster};
use meta_model::{Command, LeaderFacts, MetaState, MetadataRecord, RetentionPolicySpec, HOUR};
use meta_wire::{Metadata, MetadataReply};

use crate::groups::resident_memory;

/// The shape of the generated metadata.
pub(crate) struct Shape {
    /// Data nodes.
    pub(crate) data_nodes: u64,
    /// Hourly shard groups.
    pub(crate) groups: u64,
    /// Shards in each group.
    pub(crate) shards_per_group: u64,
}

/// The `[raft]` settings of the run: default timing; a snapshot every 1,000 entries and no log
/// kept after it, so the added node must install a snapshot.
const CONFIG: &str = "[raft]\nsnapshot-after-logs = 1000\nlogs-kept-after-snapshot = 0\n";
/// Entries written after the restore, so that a snapshot holds the restored state.
const WRITES_AFTER_RESTORE: usize = 1_100;

/// The backup: groups created by the model itself on `shards_per_group * 3` nodes (RF 3), then
/// the other nodes added and owners spread round-robin over all of them.
fn generate(shape: &Shape) -> anyhow::Result<MetadataRecord> {
    let stamp = |command: Command| command.stamp(|| LeaderFacts { now: 0, live_data_nodes: None });
    let mut state = MetaState::new();
    let apply = |state: &mut MetaState, command: Command| {
        state.apply(&stamp(command)).map(drop).map_err(|e| anyhow::anyhow!("generating the backup: {e}"))
    };
    let add = |i: u64| Command::AddDataNode {
        tcp_addr: format!("10.{}.{}.{}:8088", i / 65_536, i / 256 % 256, i % 256),
        http_addr: format!("10.{}.{}.{}:8086", i / 65_536, i / 256 % 256, i % 256),
        labels: Default::default(),
    };
    // The backed-up cluster's meta nodes, as the restoring cluster's: 1 to 3.
    for id in 1..=3 {
        apply(&mut state, Command::AddMetaNode { node_id: Some(id), addr: format!("meta-{id}:8091") })?;
    }
    let placing = shape.shards_per_group * 3;
    ensure!(shape.data_nodes >= placing, "at least {placing} data nodes for {} shards a group", shape.shards_per_group);
    for i in 0..placing {
        apply(&mut state, add(i))?;
    }
    let policy = RetentionPolicySpec {
        name: "autogen".into(),
        duration: 0,
        shard_group_duration: Some(HOUR),
        replication_factor: 3,
    };
    apply(&mut state, Command::CreateDatabase { name: "telemetry".into(), default_retention_policy: Some(policy) })?;
    let start = 1_700_000_000_000_000_000 / HOUR as i64 * HOUR as i64;
    for hour in 0..i64::try_from(shape.groups)? {
        let timestamp = start + hour * HOUR as i64;
        let create =
            Command::CreateShardGroup { database: "telemetry".into(), retention_policy: "autogen".into(), timestamp };
        apply(&mut state, create)?;
    }
    for i in placing..shape.data_nodes {
        apply(&mut state, add(i))?;
    }
    let mut record = state.to_record();
    let nodes: Vec<u64> = record.data_nodes.keys().copied().collect();
    let shards = record.databases.values_mut().flat_map(|d| d.retention_policies.values_mut());
    let mut next = 0usize;
    for shard in shards.flat_map(|p| p.shard_groups.values_mut()).flat_map(|g| g.shards.iter_mut()) {
        let mut owners: Vec<u64> = (0..3).map(|k| nodes[(next + k) % nodes.len()]).collect();
        owners.sort_unstable();
        shard.owners = owners;
        next += 3;
    }
    Ok(record)
}

/// Term and leader of every node, sampled until stopped: the distinct values seen.
#[derive(Default)]
struct Churn {
    terms: BTreeSet<u64>,
    leaders: BTreeSet<u64>,
    samples: u64,
}

/// Runs the whole measurement.
pub(crate) async fn run(metad: &Path, shape: &Shape) -> anyhow::Result<()> {
    let metactl = metad.with_file_name("metactl");
    if !metactl.exists() {
        bail!("{} does not exist: build it with `cargo build --release -p metactl`", metactl.display());
    }
    let generating = Instant::now();
    let record = generate(shape)?;
    let state = MetaState::from(record);
    let shards = state.shard_count();
    let body = serde_json::to_vec(&MetadataReply { index: 0, metadata: Metadata::of(&state) })?;
    let dir = tempfile::tempdir()?;
    let backup = dir.path().join("backup.json");
    std::fs::write(&backup, &body)?;
    println!(
        "backup: {shards} shards in {} groups on {} data nodes, {:.1} MB of JSON (generated in {:.1} s)",
        shape.groups,
        shape.data_nodes,
        body.len() as f64 / 1e6,
        generating.elapsed().as_secs_f64()
    );
    drop((state, body));

    let mut cluster = Cluster::start_with_config(metad, 3, CONFIG).await;
    let leader = cluster.leader(Duration::from_secs(15)).await;
    cluster.wait_all_ready().await;
    let leader_addr = cluster.addr(leader).to_owned();
    println!("3 meta nodes, default Raft timing, leader {leader}");

    let churn = Arc::new(Mutex::new(Churn::default()));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (churn, sampling) = (Arc::clone(&churn), Arc::clone(&sampling));
        let clients: Vec<_> = (1..=3).map(|id| cluster.node_client(id)).collect();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while sampling.load(Ordering::Relaxed) {
                tick.tick().await;
                for client in &clients {
                    if let Ok(status) = client.status().await {
                        let mut churn = churn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        churn.terms.insert(status.term);
                        churn.leaders.extend(status.leader_id);
                        churn.samples += 1;
                    }
                }
            }
        })
    };
    let restoring = Instant::now();
    let restored = Process::new(&metactl).args(["--url", &leader_addr, "restore"]).arg(&backup).status()?;
    let took = restoring.elapsed();
    ensure!(restored.success(), "metactl restore failed: {restored}");
    let applied = cluster.status(leader).await.and_then(|s| s.applied_index).context("leader status")?;
    for id in 1..=3 {
        cluster.wait_applied(id, applied).await;
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.await?;
    let churn = std::mem::take(&mut *churn.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    println!(
        "metactl restore: {:.2} s; terms seen {:?}, leaders seen {:?} over {} samples ({})",
        took.as_secs_f64(),
        churn.terms,
        churn.leaders,
        churn.samples,
        if churn.terms.len() == 1 && churn.leaders.len() == 1 { "no leader churn" } else { "LEADER CHURN" }
    );
    if churn.terms.len() > 1 {
        print_elections(&cluster);
    }
    for id in 1..=3 {
        let pid = cluster.pid(id).context("node pid")?;
        println!("meta node {id} after the restore: {}", resident_memory(pid));
    }
    let leader = cluster.leader(Duration::from_secs(15)).await;

    // The first full round over the restored shards. Rounds over the empty state (one runs when
    // the leader's grace period ends, maybe during the restore) take microseconds; listing a
    // million shards cannot take less than a millisecond.
    let input = try_wait_for(Duration::from_secs(120), || async {
        full_plan_input(&cluster, leader).await.filter(|s| *s > 0.001)
    })
    .await;
    match input {
        Some(seconds) => println!(
            "planner input of the first full round on the leader (the followers still applying the restore): {:.1} ms",
            seconds * 1000.0
        ),
        None => println!("planner input: no full round within 120 s"),
    }
    // The next full round (a check-interval later), on a cluster no longer busy with the restore;
    // and what each node holds by then.
    let next = match input {
        Some(first) => {
            try_wait_for(Duration::from_secs(120), || async {
                full_plan_input(&cluster, leader).await.filter(|s| *s > 0.001 && *s != first)
            })
            .await
        }
        None => None,
    };
    if let Some(seconds) = next {
        println!("planner input of the next full round on the leader (cluster idle): {:.1} ms", seconds * 1000.0);
        for id in 1..=3 {
            let pid = cluster.pid(id).context("node pid")?;
            println!("meta node {id} at that round: {}", resident_memory(pid));
        }
    }

    // Entries after the restore, one at a time (concurrent writes would share entries), so the
    // next snapshot holds the restored state.
    for i in 0..WRITES_AFTER_RESTORE {
        let created = cluster.node_client(leader).create_database(&format!("pad{i}"), None).await;
        created.map_err(|e| anyhow::anyhow!("write after the restore: {e}"))?;
    }
    // Above every ID the backup's data nodes took (IDs are never reused).
    let new_id = shape.data_nodes + 100;
    let new_addr = cluster.spawn_new_node(new_id);
    try_wait_for(Duration::from_secs(15), || async { cluster.get(new_id, "/health").await.map(drop) })
        .await
        .context("the new meta node does not answer")?;
    let adding = Instant::now();
    let added = Process::new(&metactl).args(["--url", &leader_addr, "add-meta", &new_addr]).status()?;
    ensure!(added.success(), "metactl add-meta failed: {added}");
    let applied = cluster.status(leader).await.and_then(|s| s.applied_index).context("leader status")?;
    cluster.wait_applied(new_id, applied).await;
    let caught_up = adding.elapsed();
    let last_shard = u64::try_from(shards)?;
    let answered = cluster.get(new_id, &format!("/v1/shards/{last_shard}?stale=true")).await.map(|(status, _)| status);
    let snapshot = cluster.status(new_id).await.and_then(|s| s.snapshot_index);
    let leader_snapshot = cluster.status(leader).await.and_then(|s| s.snapshot_index);
    println!(
        "add-meta of meta node {new_id} until it applied the leader's index: {:.2} s; its snapshot covers up to {snapshot:?} \
         (the leader's: {leader_snapshot:?}); shard {last_shard} on it: HTTP {answered:?}",
        caught_up.as_secs_f64()
    );
    ensure!(snapshot.is_some(), "the new node caught up without a snapshot");
    if let Some(pid) = cluster.pid(new_id) {
        println!("meta node {new_id} after the install: {}", resident_memory(pid));
    }
    Ok(())
}

/// The election-related lines of each node's log (openraft's "vote changed" notices left out).
fn print_elections(cluster: &Cluster) {
    for id in 1..=3 {
        let log = cluster.log(id);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| {
                !l.contains("vote changed") && (l.contains("vote") || l.contains("timeout") || l.contains("leader"))
            })
            .take(12)
            .collect();
        println!("--- node {id}: first election-related log lines\n{}", lines.join("\n"));
    }
}

/// The leader's `metad_ae_full_plan_input_seconds`, if it answers.
async fn full_plan_input(cluster: &Cluster, leader: u64) -> Option<f64> {
    let text = cluster.http.get(cluster.url(leader, "/metrics")).send().await.ok()?.text().await.ok()?;
    let line = text.lines().find(|l| l.starts_with("metad_ae_full_plan_input_seconds "))?;
    line.split_whitespace().nth(1)?.parse::<f64>().ok()
}
