//! `metactl` as a real process against a real three-node cluster: tables, `--json`, and one-line
//! errors with a non-zero exit.

use std::process::Output;

use cluster_harness::{sibling_binary, Cluster};
use meta_model::NodeState;
use meta_wire::{NodeStatus, RemovedDataNode, ShardList};
use scenarios::metactl;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "metactl failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What `--json` printed, as the type metactl printed it (`Value` where it prints no wire type).
fn json<T: DeserializeOwned>(output: &Output) -> T {
    serde_json::from_str(&stdout(output)).expect("--json prints one JSON document of the expected shape")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_workflow_against_a_running_cluster() {
    let cluster = Cluster::start(&sibling_binary("metad"), 3).await;

    eprintln!("--- register data nodes, create a database, create shards");
    for addr in ["data-a:8088", "data-b:8088", "data-c:8088"] {
        let out = stdout(&metactl(&cluster, &["add-data", addr, "--label", "zone=z1"]).await);
        assert!(out.starts_with("Added data node"), "{out}");
    }
    let out =
        stdout(&metactl(&cluster, &["create-database", "telegraf", "--replication", "2", "--duration", "30d"]).await);
    assert_eq!(out, "Created database telegraf\n");
    let out = stdout(
        &metactl(&cluster, &["create-retention-policy", "telegraf", "hot", "--duration", "1d", "--replication", "3"])
            .await,
    );
    assert_eq!(out, "Created retention policy telegraf.hot\n");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    // One group ten days back (within the 30-day retention), one current (so truncate-shards has
    // something to cut).
    const DAY: i64 = 86_400_000_000_000;
    let past = now - 10 * DAY;
    for ts in [past, now] {
        let reply = cluster
            .post(1, "/v1/shard-groups", &serde_json::json!({"database": "telegraf", "timestamp": ts}))
            .await
            .expect("answer");
        assert_eq!(reply.0, 201, "{}", reply.1);
    }

    eprintln!("--- show, show-shards and show-databases as tables and as JSON");
    let show = stdout(&metactl(&cluster, &["show"]).await);
    assert!(show.contains("Data Nodes\n==========\nID  TCP Address"), "{show}");
    assert!(show.contains("data-b:8088") && show.contains("leader"), "{show}");
    let show: Value = json(&metactl(&cluster, &["--json", "show"]).await);
    let cluster_id = show["cluster_id"].as_str().expect("the first leader gave the cluster an identity");
    assert!(cluster_id.len() == 32 && cluster_id.bytes().all(|b| b.is_ascii_hexdigit()), "{show}");
    let leader = show["leader_id"].as_u64().expect("leader id");
    assert!((1..=3).contains(&leader), "{show}");
    assert_eq!(show["data_nodes"].as_array().map(Vec::len), Some(3));

    let shards = stdout(&metactl(&cluster, &["show-shards"]).await);
    assert!(shards.contains("ID  Database  Retention Policy  Desired Replicas  Shard Group  Start"), "{shards}");
    assert!(shards.contains("  Expires  ") && shards.contains("  Status  ") && shards.contains(" live "), "{shards}");
    let shards: ShardList = json(&metactl(&cluster, &["--json", "show-shards"]).await);
    assert_eq!(shards.shards.len(), 2, "{shards:?}");
    let first = &shards.shards[0];
    assert_eq!(first.start, past.div_euclid(DAY) * DAY, "one-day groups, the first ten days back: {first:?}");
    assert_eq!(first.expires, Some(first.end + 30 * DAY), "{first:?}");
    let owner_ids: Vec<u64> = first.owners.iter().map(|o| o.id).collect();
    assert_eq!(owner_ids.len(), 2, "RF 2 on 3 nodes: {first:?}");

    // A row per copy (these data nodes never heartbeat: nothing is known of their copies), and
    // nothing found missing or orphaned.
    let copies = stdout(&metactl(&cluster, &["show-shards", "--verbose"]).await);
    assert!(copies.starts_with("Shard Copies\n"), "{copies}");
    assert_eq!(copies.lines().filter(|l| l.contains(" telegraf ")).count(), 4, "two copies of two shards:\n{copies}");
    for owner in &first.owners {
        assert!(copies.contains(&owner.tcp_addr), "{copies}");
    }
    let listed: Value = json(&metactl(&cluster, &["--json", "show-shards", "-v"]).await);
    assert_eq!(listed["copies"].as_array().map(Vec::len), Some(4), "{listed}");
    let missing = stdout(&metactl(&cluster, &["show-shards", "-m"]).await);
    assert!(missing.contains("No owner lacks a copy"), "{missing}");
    assert!(missing.contains("No data node keeps a shard file"), "{missing}");

    let dbs = stdout(&metactl(&cluster, &["show-databases"]).await);
    assert!(dbs.contains("telegraf  autogen") && dbs.contains("720h0m0s"), "{dbs}");

    eprintln!("--- remove-shard, update-data, remove-data --force");
    let shard = first.id.to_string();
    let owner = owner_ids[0].to_string();
    let out = stdout(&metactl(&cluster, &["remove-shard", &owner, &shard]).await);
    assert!(out.starts_with(&format!("Removed shard {shard} from data node {owner}")), "{out}");
    let out = stdout(&metactl(&cluster, &["update-data", "data-c:8088", "data-c2:8088"]).await);
    assert!(out.contains("to data-c2:8088"), "{out}");
    let removed: RemovedDataNode = json(&metactl(&cluster, &["--json", "remove-data", "--force", "data-a:8088"]).await);
    assert_eq!(removed.node.state, NodeState::Removed, "{removed:?}");
    let out = stdout(&metactl(&cluster, &["truncate-shards", "--delay", "1s"]).await);
    assert!(out.starts_with("Truncated 1 shard groups"), "{out}");

    eprintln!("--- errors: one line on stderr, non-zero exit");
    let cases: [(&[&str], &str); 5] = [
        (&["create-database", "telegraf"], "database \"telegraf\" already exists"),
        (&["remove-data", "no-such-node:1"], "no data node with ID or address"),
        (&["create-retention-policy", "nope", "x", "--duration", "1d", "--replication", "1"], "not found"),
        (&["create-retention-policy", "telegraf", "x", "--duration", "soon", "--replication", "1"], "duration"),
        (&["add-data", "not-an-address"], "expected host:port"),
    ];
    for (args, expected) in cases {
        let output = metactl(&cluster, args).await;
        assert!(!output.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("metactl: ") && stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    eprintln!("--- backup, then restore into a fresh cluster");
    let backup_dir = tempfile::tempdir().expect("tempdir");
    let file = backup_dir.path().join("meta.backup");
    let file_arg = file.to_str().expect("utf-8 path");
    let out = stdout(&metactl(&cluster, &["backup", file_arg]).await);
    assert!(out.starts_with("Backed up metadata at index"), "{out}");
    let before: ShardList = json(&metactl(&cluster, &["--json", "show-shards"]).await);
    let fresh = Cluster::start(&sibling_binary("metad"), 3).await;
    // A damaged file is refused before anything is sent: the fresh cluster stays empty.
    let mut damaged = std::fs::read(&file).expect("the backup");
    damaged.truncate(damaged.len() - 10);
    let cut = backup_dir.path().join("cut.backup");
    std::fs::write(&cut, &damaged).expect("write");
    let refused = metactl(&fresh, &["restore", cut.to_str().expect("utf-8 path")]).await;
    assert!(!refused.status.success(), "a truncated backup is refused");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("truncated"), "{refused:?}");
    let out = stdout(&metactl(&fresh, &["restore", file_arg]).await);
    assert!(out.starts_with("Restored"), "{out}");
    let after: ShardList = json(&metactl(&fresh, &["--json", "show-shards"]).await);
    assert_eq!(before, after, "the restored cluster shows the same shards and owners");
    let again = metactl(&fresh, &["restore", file_arg]).await;
    assert!(String::from_utf8_lossy(&again.stderr).contains("restore into a fresh cluster"), "{again:?}");

    let unreachable = tokio::process::Command::new(sibling_binary("metactl"))
        .args(["--url", "127.0.0.1:1", "show"])
        .output()
        .await
        .expect("run metactl");
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("no meta node could serve"));
}

/// A fourth meta node joins a running cluster under write load, then the leader is removed; no
/// acknowledged write is lost and the remaining three serve on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn add_meta_and_remove_meta_under_load() {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let mut cluster = Cluster::start(&sibling_binary("metad"), 3).await;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = cluster.nodes.values().map(|n| n.addr.clone()).collect();
    let mut writers = Vec::new();
    for writer in 0..4usize {
        let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
        let client = meta_client::Client::new(&urls).expect("client");
        writers.push(tokio::spawn(async move {
            for i in 0usize.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("m{writer}-{i:05}");
                if client.create_database(&name, None).await.is_ok() {
                    acked.lock().expect("lock").insert(name);
                }
            }
        }));
    }
    let count = || acked.lock().expect("lock").len();
    cluster_harness::wait_for(Duration::from_secs(30), "writes before the join", || async {
        (count() >= 50).then_some(())
    })
    .await;

    eprintln!("--- start meta node 4 and add it");
    let addr = cluster.spawn_new_node(4);
    cluster_harness::wait_for(Duration::from_secs(20), "node 4 up", || async { cluster.status(4).await.map(drop) })
        .await;
    let out = stdout(&metactl(&cluster, &["add-meta", &addr]).await);
    assert_eq!(out, format!("Added meta node 4 at {addr}\n"));
    let voters = |status: NodeStatus| status.voters.len();
    // The leader answered once the change committed; node 4 learns it with the next append.
    cluster_harness::wait_for(Duration::from_secs(10), "node 4 to see itself a voter", || async {
        (cluster.status(4).await.map(voters) == Some(4)).then_some(())
    })
    .await;

    let leader = cluster.leader(Duration::from_secs(15)).await;
    let before = count();
    eprintln!("--- remove the leader, meta node {leader}");
    let out = stdout(&metactl(&cluster, &["remove-meta", &leader.to_string()]).await);
    assert!(out.starts_with(&format!("Removed meta node {leader}")), "{out}");
    let remaining: Vec<u64> = (1..=4).filter(|id| *id != leader).collect();
    for id in &remaining {
        cluster_harness::wait_for(Duration::from_secs(20), "three voters", || async {
            (cluster.status(*id).await.map(voters) == Some(3)).then_some(())
        })
        .await;
    }
    cluster_harness::wait_for(Duration::from_secs(30), "writes after the removal", || async {
        (count() >= before + 50).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer");
    }

    let acked = acked.lock().expect("lock").clone();
    let remaining_urls: Vec<String> = remaining.iter().map(|id| cluster.addr(*id).to_owned()).collect();
    let client = meta_client::Client::new(&remaining_urls).expect("client");
    let present: BTreeSet<String> =
        client.databases().await.expect("databases").databases.into_iter().map(|d| d.name).collect();
    let missing: Vec<_> = acked.difference(&present).collect();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let meta = client.meta_nodes().await.expect("meta nodes").meta_nodes;
    let ids: Vec<u64> = meta.iter().map(|m| m.id).collect();
    assert_eq!(ids, remaining, "the catalog lists the members");
    let refused = metactl(&cluster, &["remove-meta", "99"]).await;
    assert!(!refused.status.success());
}
