//! What the anti-entropy scenarios share: a cluster of real `metad` and `datad` processes with
//! short anti-entropy timings, `metactl` runs, writes through a data node, and views of who owns
//! and who holds each shard.

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use cluster_harness::{sibling_binary, wait_for, Cluster};
use meta_model::{DataNode, NodeState, TaskState};
use meta_wire::{EntropyReport, Liveness, ShardInfo};

/// A copy task with its progress, as `/v1/copy-tasks` and `/v1/entropy` list it (the one place
/// the scenarios name its type).
pub(crate) type TaskInfo = meta_wire::CopyTaskInfo;

/// Anti-entropy timings short enough for tests: leases lapse in seconds, a new leader trusts
/// what it hears after two heartbeats.
pub(crate) const AE_CONFIG: &str = r#"
[anti-entropy]
check-interval = "5s"
heartbeat-interval = "1s"
suspect-timeout = "3s"
dead-node-timeout = "0"
grace-period = "2s"
lease = "4s"
retry-backoff = "200ms"
max-retry-backoff = "1s"
"#;

/// How long a repair may take in these small clusters.
pub(crate) const REPAIR_TIMEOUT: Duration = Duration::from_secs(90);

/// The first hour written to: 2024-01-01T00:00:00Z in nanoseconds.
pub(crate) const FIRST_HOUR: i64 = 1_704_067_200_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

/// Starts 3 meta nodes with `extra` TOML after [`AE_CONFIG`], then `data_nodes` data nodes
/// registered with `metactl add-data`.
pub(crate) async fn cluster_with_data_nodes(data_nodes: usize, extra: &str, datad_args: &[&str]) -> Cluster {
    cluster_with_config(&format!("{AE_CONFIG}{extra}"), data_nodes, datad_args).await
}

/// [`AE_CONFIG`] with some of its `[anti-entropy]` keys set to other values, e.g.
/// `[("check-interval", "1s")]` (a TOML table cannot be given twice, so `extra` cannot do this).
pub(crate) fn ae_config_with(overrides: &[(&str, &str)]) -> String {
    let mut config = String::new();
    for line in AE_CONFIG.lines() {
        let key = line.split('=').next().unwrap_or_default().trim();
        match overrides.iter().find(|(k, _)| *k == key) {
            Some((key, value)) => config.push_str(&format!("{key} = \"{value}\"")),
            None => config.push_str(line),
        }
        config.push('\n');
    }
    for (key, _) in overrides {
        assert!(AE_CONFIG.contains(&format!("\n{key} = ")), "AE_CONFIG has no key {key} to override");
    }
    config
}

/// Starts 3 meta nodes reading `config` (a whole TOML file), then `data_nodes` data nodes
/// registered with `metactl add-data`.
pub(crate) async fn cluster_with_config(config: &str, data_nodes: usize, datad_args: &[&str]) -> Cluster {
    let mut cluster = Cluster::start_with_config(&sibling_binary("metad"), 3, config).await;
    for _ in 0..data_nodes {
        add_data_node(&mut cluster, datad_args).await;
    }
    cluster
}

/// Starts one more data node, registers it and waits until it says it is registered; returns
/// its slot.
pub(crate) async fn add_data_node(cluster: &mut Cluster, datad_args: &[&str]) -> usize {
    let slot = cluster.start_data_node(datad_args);
    let addr = cluster.data_addr(slot).to_owned();
    let out = metactl(cluster, &["add-data", &addr]).await;
    assert!(out.starts_with("Added data node"), "{out}");
    wait_for(Duration::from_secs(20), &format!("data node {slot} registered"), || async {
        cluster.data_status(slot).await.filter(|s| s.registered).map(drop)
    })
    .await;
    slot
}

/// Runs `metactl --url <every meta node> ARGS` and returns its stdout; panics if it fails.
pub(crate) async fn metactl(cluster: &Cluster, args: &[&str]) -> String {
    let output = scenarios::metactl(cluster, args).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "metactl {args:?} failed: {}{stdout}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// Creates database `db` whose default policy has replication factor `rf` and 1h shard groups.
pub(crate) async fn create_database(cluster: &Cluster, rf: u32) {
    let rf = rf.to_string();
    metactl(cluster, &["create-database", "db", "--replication", &rf, "--shard-duration", "1h"]).await;
}

/// Writes `points` points into each of `hours` consecutive hours through data node `slot`:
/// one shard group per hour.
pub(crate) async fn write_hours(cluster: &Cluster, slot: usize, hours: i64, points: i64) {
    write_hour_range(cluster, slot, 0..hours, points).await;
}

/// Writes `points` points into each hour of `hours` (counted from [`FIRST_HOUR`]) through data
/// node `slot`.
pub(crate) async fn write_hour_range(cluster: &Cluster, slot: usize, hours: std::ops::Range<i64>, points: i64) {
    for hour in hours {
        let lines: Vec<String> = (0..points)
            .map(|i| {
                format!("cpu,host=h{},hour={hour} usage={i}.5 {}", i % 7, FIRST_HOUR + hour * HOUR + i * 1_000_000)
            })
            .collect();
        let url = format!("http://{}/write?db=db", cluster.data_addr(slot));
        let response = cluster.http.post(&url).body(lines.join("\n")).send().await.expect("write reaches datad");
        let status = response.status();
        assert_eq!(status.as_u16(), 204, "write of hour {hour}: {}", response.text().await.unwrap_or_default());
    }
}

/// Shard ID -> owner IDs, from any meta node that answers (empty if none does).
pub(crate) async fn owners(cluster: &Cluster) -> BTreeMap<u64, Vec<u64>> {
    cluster.client().shards().await.map(|shards| shard_owners(&shards)).unwrap_or_default()
}

/// The node ID registered for the data node in `slot`.
pub(crate) async fn node_id(cluster: &Cluster, slot: usize) -> u64 {
    let addr = cluster.data_addr(slot);
    let nodes = cluster.client().data_nodes().await.expect("a meta node lists the data nodes");
    let found = nodes.iter().find(|n| n.tcp_addr == addr && n.state != NodeState::Removed);
    found.map(|n| n.id).unwrap_or_else(|| panic!("no data node registered at {addr}: {nodes:?}"))
}

/// Shard ID -> (size, checksum) the data node in `slot` holds (empty if it does not answer).
pub(crate) async fn held(cluster: &Cluster, slot: usize) -> BTreeMap<u64, (u64, u64)> {
    try_held(cluster, slot).await.unwrap_or_default()
}

/// Shard ID -> (size, checksum) the data node in `slot` holds; `None` if it does not answer.
pub(crate) async fn try_held(cluster: &Cluster, slot: usize) -> Option<BTreeMap<u64, (u64, u64)>> {
    let status = cluster.data_status(slot).await?;
    Some(status.shards.iter().map(|s| (s.shard_id, (s.size, s.checksum))).collect())
}

/// The leader's `/v1/entropy` report (followers forward the request to it).
pub(crate) async fn entropy(cluster: &Cluster) -> EntropyReport {
    cluster.client().entropy().await.expect("the leader's /v1/entropy report")
}

/// How the leader judges data node `node` (`None` if its report does not list it).
pub(crate) async fn liveness(cluster: &Cluster, node: u64) -> Option<Liveness> {
    entropy(cluster).await.nodes.iter().find(|n| n.id == node).map(|n| n.liveness)
}

/// Copy tasks as the leader's `/v1/copy-tasks` lists them (empty if no meta node answers).
pub(crate) async fn tasks(cluster: &Cluster) -> Vec<TaskInfo> {
    try_tasks(cluster).await.unwrap_or_default()
}

/// Copy tasks as the leader's `/v1/copy-tasks` lists them, waiting for an answer (unlike
/// [`tasks`], never an empty list because nobody answered).
pub(crate) async fn all_tasks(cluster: &Cluster) -> Vec<TaskInfo> {
    wait_for(Duration::from_secs(20), "the leader's /v1/copy-tasks", || try_tasks(cluster)).await
}

/// Copy tasks as the leader's `/v1/copy-tasks` lists them; `None` if no meta node answers.
async fn try_tasks(cluster: &Cluster) -> Option<Vec<TaskInfo>> {
    cluster.client().copy_tasks(None).await.ok().map(|list| list.tasks)
}

/// Task `id` as `/v1/copy-tasks` lists it, if listed.
pub(crate) fn find_task(tasks: &[TaskInfo], id: u64) -> Option<&TaskInfo> {
    tasks.iter().find(|t| t.task.id == id)
}

/// Waits until every shard has exactly `rf` owners, all among `slots`' nodes, each holding the
/// same bytes (size and checksum) as every other owner.
pub(crate) async fn wait_healed(cluster: &Cluster, slots: &[usize], rf: usize) -> BTreeMap<u64, Vec<u64>> {
    let mut ids = BTreeMap::new();
    for &slot in slots {
        ids.insert(node_id(cluster, slot).await, slot);
    }
    wait_for(REPAIR_TIMEOUT, "every shard back to its replication factor with identical copies", || async {
        let owners = owners(cluster).await;
        let mut held_by = BTreeMap::new();
        for (&id, &slot) in &ids {
            held_by.insert(id, held(cluster, slot).await);
        }
        let healthy = !owners.is_empty()
            && owners.iter().all(|(shard, nodes)| {
                let copies: Vec<_> = nodes.iter().filter_map(|n| held_by.get(n)?.get(shard)).collect();
                nodes.len() == rf && copies.len() == rf && copies.windows(2).all(|w| w[0] == w[1])
            });
        healthy.then_some(owners)
    })
    .await
}

/// Shard ID -> owner IDs of the shards `/v1/shards` lists.
fn shard_owners(shards: &[ShardInfo]) -> BTreeMap<u64, Vec<u64>> {
    shards.iter().map(|s| (s.id, s.owners.iter().map(|o| o.id).collect())).collect()
}

/// Shard ID -> owner IDs as meta node `id` has them applied (a stale, local read), if it answers.
pub(crate) async fn owners_on(cluster: &Cluster, id: u64) -> Option<BTreeMap<u64, Vec<u64>>> {
    cluster.node_client(id).stale_shards().await.ok().map(|shards| shard_owners(&shards))
}

/// Every data node registered, removed ones included, as `/v1/data-nodes` lists them (empty if
/// no meta node answers).
async fn data_nodes(cluster: &Cluster) -> Vec<DataNode> {
    cluster.client().data_nodes().await.unwrap_or_default()
}

/// The state of data node `node` (`None` if no meta node answers or it is unknown).
pub(crate) async fn data_node_state(cluster: &Cluster, node: u64) -> Option<NodeState> {
    data_nodes(cluster).await.iter().find(|n| n.id == node).map(|n| n.state)
}

/// The slot of the data-node process registered as node `node`.
pub(crate) async fn slot_of(cluster: &Cluster, node: u64) -> usize {
    let nodes = data_nodes(cluster).await;
    let addr = nodes
        .iter()
        .find(|n| n.id == node)
        .map(|n| n.tcp_addr.as_str())
        .unwrap_or_else(|| panic!("data node {node} is not registered: {nodes:?}"));
    (0..cluster.data.len()).find(|&slot| cluster.data_addr(slot) == addr).expect("a data-node process at that address")
}

/// Node `id`'s `/metrics` text (`None` if it does not answer).
pub(crate) async fn metrics(cluster: &Cluster, id: u64) -> Option<String> {
    let response = cluster.http.get(cluster.url(id, "/metrics")).send().await.ok()?;
    response.text().await.ok()
}

/// The `/metrics` text of the data node in `slot` (`None` if it does not answer).
pub(crate) async fn data_metrics(cluster: &Cluster, slot: usize) -> Option<String> {
    let response = cluster.http.get(format!("http://{}/metrics", cluster.data_addr(slot))).send().await.ok()?;
    response.text().await.ok()
}

/// The value of the sample `name` (with its labels, if any, as written) in Prometheus text.
pub(crate) fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The leader's value of the anti-entropy metric `name` (`None` if it does not answer or the
/// leader has not got it: AE metrics appear only on the leader).
pub(crate) async fn leader_metric(cluster: &Cluster, name: &str) -> Option<f64> {
    let leader = tokio::time::timeout(Duration::from_secs(5), cluster.leader(Duration::from_secs(10))).await.ok()?;
    metric(&metrics(cluster, leader).await?, name)
}

/// Tasks whose state is `pending` or `claimed`.
pub(crate) fn open_tasks(tasks: &[TaskInfo]) -> Vec<&TaskInfo> {
    tasks.iter().filter(|t| t.task.state.is_open()).collect()
}

/// `(task id, state, attempt)` of every task, for logs.
pub(crate) fn task_states(tasks: &[TaskInfo]) -> Vec<(u64, TaskState, u32)> {
    tasks.iter().map(|t| (t.task.id, t.task.state, t.task.attempt)).collect()
}

/// Panics unless every shard has exactly `rf` owners, none of them twice.
pub(crate) fn assert_distinct_owners(owners: &BTreeMap<u64, Vec<u64>>, rf: usize) {
    for (shard, nodes) in owners {
        let distinct: BTreeSet<u64> = nodes.iter().copied().collect();
        assert_eq!(distinct.len(), nodes.len(), "shard {shard} lists an owner twice: {owners:?}");
        assert_eq!(nodes.len(), rf, "shard {shard} has {} owners, not {rf}: {owners:?}", nodes.len());
    }
}
