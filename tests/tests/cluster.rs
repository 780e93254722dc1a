//! Three real `metad` processes on loopback: bootstrap, forwarding, linearizable reads, and
//! durability of acknowledged writes across `kill -9` of the leader and a full restart.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_harness::{sibling_binary, wait_for, Cluster};
use meta_model::DataNode;
use meta_wire::{DatabaseList, ShardGroupReply};
use serde_json::{json, Value};

const LEADER_TIMEOUT: Duration = Duration::from_secs(15);

/// The names of the databases listed.
fn names(list: DatabaseList) -> BTreeSet<String> {
    list.databases.into_iter().map(|db| db.name).collect()
}

/// The value of counter `name` in a `/metrics` text (0 when absent).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_a_follower_are_read_on_every_node() {
    let cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let leader = cluster.leader(LEADER_TIMEOUT).await;
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    eprintln!("--- leader {leader}, writing through follower {follower}");

    let (status, node) =
        cluster.post(follower, "/v1/data-nodes", &json!({"tcp_addr": "data-1:8088"})).await.expect("answer");
    assert_eq!(status, 201, "{node}");
    let node: DataNode = serde_json::from_value(node).expect("a data node");
    assert_eq!(node.id, 4, "meta nodes 1-3 took the first IDs: {node:?}");
    let (status, body) = cluster
        .post(
            follower,
            "/v1/databases",
            &json!({"name": "telegraf", "retention_policy": {"name": "autogen", "duration": "0", "replication": 1}}),
        )
        .await
        .expect("answer");
    assert_eq!(status, 201, "{body}");

    eprintln!("--- linearizable reads see the writes at once on every node");
    for id in 1..=3 {
        let client = cluster.node_client(id);
        let nodes = client.data_nodes().await.expect("answer");
        let addrs: BTreeSet<String> = nodes.into_iter().map(|n| n.tcp_addr).collect();
        assert_eq!(addrs, BTreeSet::from(["data-1:8088".to_owned()]), "node {id}");
        let dbs = names(client.databases().await.expect("answer"));
        assert_eq!(dbs, BTreeSet::from(["telegraf".to_owned()]), "node {id}");
        let meta = client.meta_nodes().await.expect("answer");
        assert_eq!(meta.meta_nodes.len(), 3, "node {id}: {meta:?}");
    }

    eprintln!("--- a shard group created through another follower has its owner");
    let other = (1..=3).find(|id| *id != leader && *id != follower).expect("another follower");
    let (status, group) = cluster
        .post(other, "/v1/shard-groups", &json!({"database": "telegraf", "timestamp": 1_700_000_000_000_000_000_i64}))
        .await
        .expect("answer");
    assert_eq!(status, 201, "{group}");
    let group: ShardGroupReply = serde_json::from_value(group).expect("a shard group reply");
    let first_owners = group.shard_group.shards.first().map(|s| s.owners.as_slice());
    assert_eq!(first_owners, Some(&[4][..]), "{group:?}");
    let shards = cluster.node_client(leader).shards().await.expect("answer");
    assert_eq!(shards.len(), 1, "{shards:?}");

    eprintln!("--- every node's /metrics shows the commands it applied");
    for id in 1..=3 {
        let text =
            cluster.http.get(cluster.url(id, "/metrics")).send().await.expect("metrics").text().await.expect("text");
        let applied = metric(&text, "metad_apply_commands_total");
        assert!(applied >= 3, "node {id} applied {applied} commands:\n{text}");
        assert!(text.contains("metad_raft_voters 3"), "{text}");
    }
}

/// 64 concurrent creates, through every node, of 32 names each asked for twice: the leader
/// batches them into fewer log entries than commands, and every request still gets its own
/// answer (exactly one 201 and one 409 per name), the same on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_share_log_entries_and_each_gets_its_own_answer() {
    let cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let leader = cluster.leader(LEADER_TIMEOUT).await;
    let metrics = |id: u64| {
        let (http, url) = (cluster.http.clone(), cluster.url(id, "/metrics"));
        async move { http.get(url).send().await.expect("metrics").text().await.expect("text") }
    };
    let before = metrics(leader).await;

    let mut requests = Vec::new();
    for i in 0..64u64 {
        let (http, url) = (cluster.http.clone(), cluster.url(1 + i % 3, "/v1/databases"));
        let name = format!("db{}", i / 2);
        requests.push(tokio::spawn(async move {
            let response = http.post(url).json(&json!({ "name": name })).send().await.expect("answer");
            let status = response.status().as_u16();
            let text = response.text().await.expect("body");
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            (name, status, body)
        }));
    }
    let mut answers: std::collections::BTreeMap<String, Vec<u16>> = Default::default();
    for request in requests {
        let (name, status, body) = request.await.expect("request task");
        if status == 409 {
            assert_eq!(body["error"]["code"], "database_exists", "{name}: {body}");
        }
        answers.entry(name).or_default().push(status);
    }
    for (name, mut statuses) in answers {
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "{name}: one create wins, the other is told it exists");
    }

    let after = metrics(leader).await;
    let entries = metric(&after, "metad_proposed_entries_total") - metric(&before, "metad_proposed_entries_total");
    let commands = metric(&after, "metad_proposed_commands_total") - metric(&before, "metad_proposed_commands_total");
    eprintln!("--- the leader proposed {commands} commands in {entries} log entries");
    assert!(commands >= 64, "every create went through the leader's proposer: {commands}\n{after}");
    assert!(entries < commands, "concurrent writes shared entries: {entries} entries for {commands} commands");
    for id in 1..=3 {
        let dbs = names(cluster.node_client(id).databases().await.expect("answer"));
        assert_eq!(dbs.len(), 32, "node {id}: {dbs:?}");
    }
}

/// Concurrent linearizable reads, on every node, share the leader's leadership confirmations
/// (fewer rounds than reads), and a follower's concurrent reads share their requests to the
/// leader for its read index (fewer requests than reads). Each read still sees the write
/// acknowledged before it began.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_linearizable_reads_share_read_index_rounds_and_see_prior_writes() {
    let cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let leader = cluster.leader(LEADER_TIMEOUT).await;
    let metrics = |id: u64| {
        let (http, url) = (cluster.http.clone(), cluster.url(id, "/metrics"));
        async move { http.get(url).send().await.expect("metrics").text().await.expect("text") }
    };
    const READS: u64 = 96;
    let followers: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let before = metrics(leader).await;
    let mut followers_before = Vec::new();
    for &id in &followers {
        followers_before.push(metrics(id).await);
    }
    let mut requests = Vec::new();
    for i in 0..READS {
        let (http, node) = (cluster.http.clone(), 1 + i % 3);
        // Each client writes its own database through some node, then reads it on another.
        let write = cluster.url(node, "/v1/databases");
        let read = cluster.url(1 + (i + 1) % 3, &format!("/v1/databases/read{i}"));
        requests.push(tokio::spawn(async move {
            let created = http.post(write).json(&json!({ "name": format!("read{i}") })).send().await.expect("write");
            assert_eq!(created.status().as_u16(), 201, "create read{i}");
            http.get(read).send().await.expect("read").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.expect("request task"));
    }
    assert!(statuses.iter().all(|s| *s == 200), "every read saw the write acknowledged before it: {statuses:?}");

    let after = metrics(leader).await;
    let delta = |name: &str| metric(&after, name) - metric(&before, name);
    let (reads, rounds) = (delta("metad_read_index_reads_total"), delta("metad_read_index_rounds_total"));
    let (mut forwarded, mut requests) = (0, 0);
    for (&id, before) in followers.iter().zip(&followers_before) {
        let after = metrics(id).await;
        forwarded += metric(&after, "metad_read_index_forwarded_reads_total")
            - metric(before, "metad_read_index_forwarded_reads_total");
        requests +=
            metric(&after, "metad_read_index_requests_total") - metric(before, "metad_read_index_requests_total");
    }
    eprintln!(
        "--- followers asked the leader {requests} times for {forwarded} reads; the leader confirmed its leadership \
         {rounds} times for {reads} reads and requests"
    );
    // A third of the reads went to each node: the followers' reads each took a read index from
    // the leader, through requests they shared.
    assert!(forwarded >= READS * 2 / 3, "every read on a follower asked the leader: {forwarded}");
    assert!(requests < forwarded, "a follower's concurrent reads shared requests: {requests} for {forwarded} reads");
    assert!(reads >= READS / 3 + requests, "the leader served its own reads and every request: {reads}\n{after}");
    assert!(rounds < reads, "concurrent reads shared rounds: {rounds} rounds for {reads} reads");
}

/// 16 clients write unique databases through all nodes; the leader is killed with SIGKILL in the
/// middle. Every write that was acknowledged must be on every node afterwards, the killed node
/// included once restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_of_the_leader() {
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let addrs: Vec<String> = (1..=3).map(|id| cluster.addr(id).to_owned()).collect();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..16 {
        let (addrs, acked, stop, http) = (addrs.clone(), Arc::clone(&acked), Arc::clone(&stop), cluster.http.clone());
        writers.push(tokio::spawn(async move {
            let mut attempt = writer;
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("w{writer:02}-{i:05}");
                // Retry through other nodes until this write is acknowledged (or we stop).
                while !stop.load(Ordering::Relaxed) {
                    attempt += 1;
                    let url = format!("http://{}/v1/databases", addrs[attempt % addrs.len()]);
                    let sent = http.post(&url).json(&json!({"name": name})).send().await;
                    match sent.map(|r| r.status().as_u16()) {
                        Ok(201) => {
                            acked.lock().expect("lock").insert(name.clone());
                            break;
                        }
                        // Created by an earlier attempt whose answer was lost: not acknowledged.
                        Ok(409) => break,
                        _ => {}
                    }
                }
            }
        }));
    }
    let acked_count = || acked.lock().expect("lock").len();
    wait_for(Duration::from_secs(60), "100 acknowledged writes", || async { (acked_count() >= 100).then_some(()) })
        .await;

    let leader = cluster.leader(LEADER_TIMEOUT).await;
    let before = acked_count();
    eprintln!("--- kill -9 leader {leader} after {before} acknowledged writes");
    let killed_at = Instant::now();
    cluster.kill(leader);
    wait_for(Duration::from_secs(60), "writes acknowledged by the new leader", || async {
        (acked_count() >= before + 100).then_some(())
    })
    .await;
    eprintln!("--- 100 more writes acknowledged {:?} after the kill", killed_at.elapsed());
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer task");
    }

    eprintln!("--- restart node {leader}; every acknowledged write must be on every node");
    cluster.spawn(leader);
    cluster.wait_all_ready().await;
    let new_leader = cluster.leader(LEADER_TIMEOUT).await;
    let applied = cluster.status(new_leader).await.and_then(|s| s.applied_index).expect("applied index");
    let acked = acked.lock().expect("lock").clone();
    for id in 1..=3 {
        cluster.wait_applied(id, applied).await;
        let present = names(cluster.node_client(id).stale_databases().await.expect("answer"));
        let missing: Vec<_> = acked.difference(&present).collect();
        assert!(missing.is_empty(), "node {id} lost {} acknowledged writes: {missing:?}", missing.len());
    }
    eprintln!("--- all {} acknowledged writes present on all 3 nodes", acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cluster_restart_keeps_all_data() {
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    for i in 0..20 {
        let (status, body) =
            cluster.post(1 + i % 3, "/v1/databases", &json!({"name": format!("db{i}")})).await.expect("answer");
        assert_eq!(status, 201, "{body}");
    }
    eprintln!("--- kill -9 every node, then start them again");
    for id in 1..=3 {
        cluster.kill(id);
    }
    for id in 1..=3 {
        cluster.spawn(id);
    }
    cluster.wait_all_ready().await;
    for id in 1..=3 {
        let dbs = names(cluster.node_client(id).databases().await.expect("answer"));
        assert_eq!(dbs.len(), 20, "node {id}: {dbs:?}");
    }
    for id in 1..=3 {
        assert!(!cluster.log(id).contains("cluster bootstrapped") || id == 1, "only node 1 bootstraps");
        assert_eq!(cluster.log(id).matches("cluster bootstrapped").count(), usize::from(id == 1), "node {id} log");
    }
}

/// A node down while the log is compacted catches up by snapshot install, then by log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_a_purged_log_catches_up_by_snapshot() {
    let raft = "[raft]\nsnapshot-after-logs = 40\nlogs-kept-after-snapshot = 5\n";
    let mut cluster = Cluster::start_with_config(&sibling_binary("metad"), 3, raft).await;
    eprintln!("--- node 3 down; 200 writes compact the log past it");
    cluster.kill(3);
    for i in 0..200 {
        let (status, body) =
            cluster.post(1 + i % 2, "/v1/databases", &json!({"name": format!("db{i:03}")})).await.expect("answer");
        assert_eq!(status, 201, "{body}");
    }
    let leader = cluster.leader(LEADER_TIMEOUT).await;
    let applied = cluster.status(leader).await.and_then(|s| s.applied_index).expect("applied");
    eprintln!("--- node 3 back: it must install a snapshot to reach index {applied}");
    cluster.spawn(3);
    cluster.wait_applied(3, applied).await;
    let dbs = names(cluster.node_client(3).stale_databases().await.expect("answer"));
    assert_eq!(dbs.len(), 200, "{dbs:?}");
    assert!(cluster.log(3).contains("snapshot installed"), "node 3 caught up without a snapshot:\n{}", cluster.log(3));
}

/// The leader is frozen (SIGSTOP) under load: the others elect a new leader and go on; when the
/// old leader resumes it steps down. Every acknowledged write is present and all nodes end with
/// identical metadata, so no index was acknowledged with two different commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_leader_steps_down_and_nothing_acknowledged_diverges() {
    let cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let old = cluster.leader(LEADER_TIMEOUT).await;
    let addrs: Vec<String> = (1..=3).map(|id| cluster.addr(id).to_owned()).collect();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..8usize {
        let (addrs, acked, stop) = (addrs.clone(), Arc::clone(&acked), Arc::clone(&stop));
        // Short timeouts: requests to the frozen node must give up rather than hang the writer.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
        writers.push(tokio::spawn(async move {
            for i in 0usize.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("p{writer}-{i:05}");
                let url = format!("http://{}/v1/databases", addrs[(writer + i) % addrs.len()]);
                if let Ok(201) = http.post(&url).json(&json!({"name": name})).send().await.map(|r| r.status().as_u16())
                {
                    acked.lock().expect("lock").insert(name);
                }
            }
        }));
    }
    let acked_count = || acked.lock().expect("lock").len();
    wait_for(Duration::from_secs(30), "50 writes", || async { (acked_count() >= 50).then_some(()) }).await;

    eprintln!("--- SIGSTOP leader {old}");
    cluster.signal(old, "-STOP");
    let others: Vec<u64> = (1..=3).filter(|id| *id != old).collect();
    let new = wait_for(Duration::from_secs(20), "a new leader among the others", || async {
        let seen = cluster.status(others[0]).await.and_then(|s| s.leader_id);
        seen.filter(|l| *l != old)
    })
    .await;
    let before = acked_count();
    wait_for(Duration::from_secs(30), "writes through the new leader", || async {
        (acked_count() >= before + 50).then_some(())
    })
    .await;

    eprintln!("--- SIGCONT node {old}: it must step down");
    cluster.signal(old, "-CONT");
    wait_for(Duration::from_secs(20), "the old leader to follow", || async {
        let status = cluster.status(old).await?;
        (status.leader_id != Some(old) && status.raft_state == "follower").then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer task");
    }

    let leader = cluster.leader(LEADER_TIMEOUT).await;
    assert_ne!(leader, old, "leadership moved while {old} was frozen");
    eprintln!("--- leader {new} took over; comparing all nodes");
    let applied = cluster.status(leader).await.and_then(|s| s.applied_index).expect("applied");
    let mut states = Vec::new();
    for id in 1..=3 {
        cluster.wait_applied(id, applied).await;
        states.push(cluster.node_client(id).stale_metadata().await.expect("answer"));
    }
    let acked = acked.lock().expect("lock").clone();
    let present: BTreeSet<String> = states[0].metadata.databases().keys().cloned().collect();
    let missing: Vec<_> = acked.difference(&present).collect();
    assert!(missing.is_empty(), "acknowledged writes missing: {missing:?}");
    assert_eq!(states[0], states[1], "nodes 1 and 2 diverge");
    assert_eq!(states[0], states[2], "nodes 1 and 3 diverge");
}

/// A data dir that belongs to another cluster is refused with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_another_cluster_is_refused() {
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    cluster.kill(3);
    let data_dir = cluster.nodes[&3].data_dir.clone();
    let addr = cluster.addr(3).to_owned();
    let peers = format!("7={addr}");
    let mut child = cluster
        .command()
        .args(["--node-id", "7", "--listen", &addr, "--peers", &peers])
        .arg("--data-dir")
        .arg(&data_dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run metad");
    let status = wait_for(Duration::from_secs(20), "metad to exit", || {
        let exited = child.try_wait().expect("wait");
        async move { exited }
    })
    .await;
    assert!(!status.success(), "metad must refuse a foreign data dir");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read stderr");
    assert!(stderr.contains("belongs to a cluster whose members are [1, 2, 3]"), "{stderr}");
}

/// SIGTERM stops a node cleanly (exit status 0) and the internal routes refuse requests without
/// the cluster secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_node_cleanly_and_internal_routes_need_the_secret() {
    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let anonymous =
        cluster.http.post(cluster.url(2, "/internal/propose")).body(vec![1, 0]).send().await.expect("answer");
    assert_eq!(anonymous.status().as_u16(), 401, "internal routes need the cluster secret");

    cluster.signal(3, "-TERM");
    let status = wait_for(Duration::from_secs(20), "node 3 to exit", || {
        let exited = cluster.try_wait(3);
        async move { exited }
    })
    .await;
    assert!(status.success(), "SIGTERM should end metad cleanly, got {status}");
    assert!(cluster.log(3).contains("shutdown requested"), "{}", cluster.log(3));
}

/// A backup of 60,000 shards of a cluster with meta nodes 1 to 3: 6 data nodes (4 to 9), RF 2,
/// 20,000 hourly groups of 3 shards, built as a record (the model would take a while in a debug
/// build), then checked by the model.
fn large_backup() -> meta_model::MetaState {
    use meta_model::{Command, LeaderFacts, MetaState, RetentionPolicySpec, Shard, ShardGroup, HOUR};
    let mut state = MetaState::new();
    let mut apply = |command: Command| {
        let command = command.stamp(|| LeaderFacts { now: 0, live_data_nodes: None });
        state.apply(&command).expect("applies");
    };
    for id in 1..=3 {
        apply(Command::AddMetaNode { node_id: Some(id), addr: format!("meta-{id}:8091") });
    }
    for i in 1..=6 {
        apply(Command::AddDataNode {
            tcp_addr: format!("data-{i}:8088"),
            http_addr: format!("data-{i}:8086"),
            labels: Default::default(),
        });
    }
    let policy =
        RetentionPolicySpec { name: "rp".into(), duration: 0, shard_group_duration: Some(HOUR), replication_factor: 2 };
    apply(Command::CreateDatabase { name: "big".into(), default_retention_policy: Some(policy) });
    let mut record = state.to_record();
    let hour = HOUR as i64;
    let groups = &mut record.databases.get_mut("big").expect("database").retention_policies.get_mut("rp").expect("rp");
    let (mut group_id, mut shard_id) = (record.next_shard_group_id, record.next_shard_id);
    for k in 0..20_000_i64 {
        let shards = (0..3u64)
            .map(|s| {
                shard_id += 1;
                Shard { id: shard_id - 1, owners: vec![4 + s * 2, 5 + s * 2] }
            })
            .collect();
        let start = 1_704_067_200_000_000_000 + k * hour;
        let group = ShardGroup { id: group_id, start, end: start + hour, truncated_at: None, deleted_at: None, shards };
        groups.shard_groups.insert(group_id, group);
        group_id += 1;
    }
    (record.next_shard_group_id, record.next_shard_id) = (group_id, shard_id);
    let state = MetaState::from(record);
    state.check_invariants().expect("a consistent backup");
    state
}

/// A backup larger than one log entry may hold (256 KiB) is restored in parts: every node shows
/// all of it at once, when the last part applies, and the same on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_larger_than_one_entry_is_restored_in_parts_on_every_node() {
    let backup = large_backup();
    let bytes = meta_model::codec::encode("backup", &backup).expect("encodes").len();
    assert!(bytes > 2 * 256 * 1024, "the backup needs several entries: {bytes} bytes");
    let cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let leader = cluster.leader(LEADER_TIMEOUT).await;
    cluster.wait_all_ready().await;
    let before = cluster.status(leader).await.and_then(|s| s.last_log_index);

    let reply = meta_wire::MetadataReply { index: 0, metadata: meta_wire::Metadata::of(&backup) };
    cluster.node_client(leader).restore(&reply).await.expect("restore into an empty cluster");

    let after = cluster.status(leader).await.and_then(|s| s.applied_index).expect("leader status");
    let entries = after - before.unwrap_or(0);
    eprintln!("--- {bytes} bytes of backup restored in {entries} log entries");
    assert!(entries >= bytes.div_ceil(256 * 1024) as u64, "256 KiB an entry at most: {entries} entries");
    let last = backup.next_shard_id() - 1;
    for id in 1..=3 {
        cluster.wait_applied(id, after).await;
        let backup_on_node = cluster.node_client(id).metadata(None, Duration::ZERO).await.expect("metadata");
        assert_eq!(backup_on_node.metadata.shard_count(), 60_000, "node {id}");
        let (status, shard) = cluster.get(id, &format!("/v1/shards/{last}")).await.expect("answer");
        assert_eq!(status, 200, "node {id}: {shard}");
        let owners: Vec<&Value> = shard["owners"].as_array().expect("owners").iter().map(|o| &o["id"]).collect();
        assert_eq!(owners, [&json!(8), &json!(9)], "node {id}: {shard}");
    }
}
