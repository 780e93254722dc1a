//! The cluster test harness: real `metad` processes on loopback ports chosen here, each with its
//! own data directory and log file; conditions are awaited by polling with a deadline.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A meta node process and what it needs to be restarted.
pub struct MetaProcess {
    pub id: u64,
    pub addr: String,
    pub data_dir: PathBuf,
    child: Option<Child>,
}

/// A cluster of `metad` processes. Dropping it kills them all.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: BTreeMap<u64, MetaProcess>,
    peers: String,
    secret: String,
    pub http: reqwest::Client,
}

/// A loopback port free right now. Ports come from below the kernel's ephemeral range (where
/// outgoing connections take theirs), handed out in sequence within this test process so that
/// parallel tests never pick the same one; each is checked bindable before use.
fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 12_000 + (std::process::id() % 64) as u16 * 300;
    let _ = NEXT.compare_exchange(0, base, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "ran out of test ports");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Cluster {
    /// Starts `n` meta nodes with IDs 1..=n and waits until all are ready.
    pub async fn start(n: u64) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let addrs: BTreeMap<u64, String> = (1..=n).map(|id| (id, format!("127.0.0.1:{}", free_port()))).collect();
        let peers = addrs.iter().map(|(id, a)| format!("{id}={a}")).collect::<Vec<_>>().join(",");
        let nodes = addrs
            .into_iter()
            .map(|(id, addr)| {
                let data_dir = dir.path().join(format!("node-{id}"));
                (id, MetaProcess { id, addr, data_dir, child: None })
            })
            .collect();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client");
        // A secret per cluster: a stray request from another test's cluster is refused.
        let secret = format!("test-{}-{}", std::process::id(), free_port());
        let mut cluster = Cluster { dir, nodes, peers, secret, http };
        for id in 1..=n {
            cluster.spawn(id);
        }
        cluster.wait_all_ready().await;
        cluster
    }

    /// Starts (or restarts) node `id` on its port and data dir.
    pub fn spawn(&mut self, id: u64) {
        let log_path = self.dir.path().join(format!("node-{id}.log"));
        let node = self.nodes.get_mut(&id).expect("known node");
        let log = File::options().create(true).append(true).open(&log_path).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_metad"))
            .args(["--node-id", &id.to_string(), "--listen", &node.addr, "--peers", &self.peers])
            .arg("--data-dir")
            .arg(&node.data_dir)
            .env("RUST_LOG", "info,openraft=warn")
            .env("METAD_CLUSTER_SECRET", &self.secret)
            .stdout(Stdio::from(log.try_clone().expect("log fd")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn metad");
        node.child = Some(child);
    }

    /// `kill -9` node `id`.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.nodes.get_mut(&id).and_then(|n| n.child.take()) {
            child.kill().expect("kill -9");
            child.wait().expect("reap");
        }
    }

    /// Sends a signal (e.g. `-STOP`, `-CONT`) to node `id`.
    pub fn signal(&self, id: u64, signal: &str) {
        let pid = self.nodes[&id].child.as_ref().expect("running node").id();
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    pub fn addr(&self, id: u64) -> &str {
        &self.nodes[&id].addr
    }

    pub fn url(&self, id: u64, path: &str) -> String {
        format!("http://{}{path}", self.addr(id))
    }

    pub fn running(&self) -> Vec<u64> {
        self.nodes.values().filter(|n| n.child.is_some()).map(|n| n.id).collect()
    }

    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{id}.log"))).unwrap_or_default()
    }

    pub async fn get(&self, id: u64, path: &str) -> Option<(u16, Value)> {
        let response = self.http.get(self.url(id, path)).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn post(&self, id: u64, path: &str, body: &Value) -> Option<(u16, Value)> {
        let response = self.http.post(self.url(id, path)).json(body).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn status(&self, id: u64) -> Option<Value> {
        self.get(id, "/v1/status").await.map(|(_, v)| v)
    }

    /// The leader as seen by a majority of running nodes, waiting up to `timeout`.
    pub async fn leader(&self, timeout: Duration) -> u64 {
        let running = self.running();
        wait_for(timeout, "a leader agreed on by the running nodes", || async {
            let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
            for id in &running {
                if let Some(leader) = self.status(*id).await.and_then(|s| s["leader_id"].as_u64()) {
                    *votes.entry(leader).or_default() += 1;
                }
            }
            votes
                .into_iter()
                .find(|(leader, count)| *count * 2 > running.len() && running.contains(leader))
                .map(|(l, _)| l)
        })
        .await
    }

    /// Waits until every running node answers `/ready` with 200.
    pub async fn wait_all_ready(&self) {
        for id in self.running() {
            wait_for(Duration::from_secs(30), &format!("node {id} ready"), || async {
                matches!(self.get(id, "/ready").await, Some((200, _))).then_some(())
            })
            .await;
        }
    }

    /// Waits until node `id` has applied at least `index`.
    pub async fn wait_applied(&self, id: u64, index: u64) {
        wait_for(Duration::from_secs(30), &format!("node {id} applied {index}"), || async {
            let applied = self.status(id).await.and_then(|s| s["applied_index"].as_u64());
            applied.filter(|a| *a >= index).map(drop)
        })
        .await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in self.nodes.values_mut() {
            if let Some(mut child) = node.child.take() {
                let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for id in self.nodes.keys() {
                let log = std::fs::read_to_string(self.dir.path().join(format!("node-{id}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- node {id} log (last 40 lines, newest first)\n{}", tail.join("\n"));
            }
        }
    }
}

/// Polls `probe` every 50 ms until it yields a value, panicking after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
