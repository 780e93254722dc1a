//! The cluster test harness: real `metad` (and `datad`) processes on loopback ports chosen here,
//! each with its own data directory and log file; conditions are awaited by polling with a deadline, never by
//! fixed sleeps. Dropping a [`Cluster`] kills its processes (and prints their logs if the test
//! is failing).
//!
//! ```no_run
//! # async fn demo() {
//! let cluster = cluster_harness::Cluster::start(&cluster_harness::sibling_binary("metad"), 3).await;
//! let leader = cluster.leader(std::time::Duration::from_secs(10)).await;
//! # let _ = leader;
//! # }
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use meta_client::{Client, ClientTls};
use meta_wire::NodeStatus;
use serde_json::Value;

mod data_nodes;

pub use data_nodes::DataProcess;

/// A meta node process and what it needs to be restarted.
#[derive(Debug)]
pub struct MetaProcess {
    /// Node ID.
    pub id: u64,
    /// Its loopback address.
    pub addr: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    child: Option<Child>,
}

/// A cluster of `metad` processes. Dropping it kills them all.
#[derive(Debug)]
pub struct Cluster {
    /// Holds data directories and logs.
    pub dir: tempfile::TempDir,
    /// The nodes by ID.
    pub nodes: BTreeMap<u64, MetaProcess>,
    /// The `metad` binary.
    binary: PathBuf,
    /// The TOML file every node reads.
    config: PathBuf,
    peers: String,
    secret: String,
    /// A client for talking to the nodes.
    pub http: reqwest::Client,
    /// How clients reach the nodes over TLS (`None`: plain HTTP).
    tls: Option<ClientTls>,
    /// Data node processes (`datad`), by the slot [`Cluster::start_data_node`] returned.
    pub data: Vec<DataProcess>,
}

/// A binary built next to the running test or benchmark (`target/<profile>/<name>`): how a test
/// of one package (in `target/<profile>/deps`) or another binary (in `target/<profile>`) finds a
/// package's binary. `cargo test --workspace` builds them all.
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("target dir");
    let dir = if dir.ends_with("deps") { dir.parent().expect("target dir") } else { dir };
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built: run `cargo build --workspace --bins` (make test does)", path.display());
    path
}

/// A loopback port free right now. Ports come from below the kernel's ephemeral range (where
/// outgoing connections take theirs), handed out in sequence within this test process so that
/// parallel tests never pick the same one; each is checked bindable before use.
pub(crate) fn free_port() -> u16 {
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
    /// Starts `n` meta nodes of `binary` with IDs 1..=n and waits until all are ready.
    pub async fn start(binary: &std::path::Path, n: u64) -> Cluster {
        Self::start_with_config(binary, n, "").await
    }

    /// Like [`Cluster::start`], with `toml` (e.g. a `[raft]` section) as every node's `--config`.
    pub async fn start_with_config(binary: &std::path::Path, n: u64, toml: &str) -> Cluster {
        Self::start_with_tls(binary, n, toml, None).await
    }

    /// Like [`Cluster::start_with_config`] for nodes that serve HTTPS (`toml` holds their `[tls]`
    /// section): the harness's clients, and those [`Cluster::client`] makes, connect as `tls`
    /// says.
    pub async fn start_with_tls(binary: &std::path::Path, n: u64, toml: &str, tls: Option<ClientTls>) -> Cluster {
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
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(20));
        if let Some(tls) = &tls {
            http = tls.apply(http).expect("the test's TLS files");
        }
        let http = http.build().expect("client");
        // A secret per cluster: a stray request from another test's cluster is refused.
        let secret = format!("test-{}-{}", std::process::id(), free_port());
        let config = dir.path().join("metad.toml");
        std::fs::write(&config, toml).expect("write config");
        let mut cluster =
            Cluster { dir, nodes, binary: binary.to_owned(), config, peers, secret, http, tls, data: Vec::new() };
        for id in 1..=n {
            cluster.spawn(id);
        }
        cluster.wait_all_ready().await;
        cluster
    }

    /// Starts a new, empty meta node `id` that knows the cluster's peers but is not a member
    /// (what an operator does before `metactl add-meta`); returns its address.
    pub fn spawn_new_node(&mut self, id: u64) -> String {
        let addr = format!("127.0.0.1:{}", free_port());
        let data_dir = self.dir.path().join(format!("node-{id}"));
        self.peers = format!("{},{id}={addr}", self.peers);
        self.nodes.insert(id, MetaProcess { id, addr: addr.clone(), data_dir, child: None });
        self.spawn(id);
        addr
    }

    /// Starts (or restarts) node `id` on its port and data dir.
    pub fn spawn(&mut self, id: u64) {
        let log_path = self.dir.path().join(format!("node-{id}.log"));
        let node = self.nodes.get_mut(&id).expect("known node");
        let log = File::options().create(true).append(true).open(&log_path).expect("log file");
        let child = Command::new(&self.binary)
            .args(["--node-id", &id.to_string(), "--listen", &node.addr, "--peers", &self.peers])
            .arg("--data-dir")
            .arg(&node.data_dir)
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,openraft=warn")
            .env("METAD_CLUSTER_SECRET", &self.secret)
            .stdout(Stdio::from(log.try_clone().expect("log fd")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn metad");
        node.child = Some(child);
    }

    /// A `metad` command with this cluster's secret, to start with other options (identity tests).
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.env("METAD_CLUSTER_SECRET", &self.secret);
        command
    }

    /// The exit status of node `id` if its process has ended (it is then forgotten).
    pub fn try_wait(&mut self, id: u64) -> Option<std::process::ExitStatus> {
        let node = self.nodes.get_mut(&id)?;
        let status = node.child.as_mut()?.try_wait().ok()??;
        node.child = None;
        Some(status)
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
        let pid = self.pid(id).expect("running node");
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// The process ID of node `id`, if it runs (for CPU accounting from `/proc`).
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.nodes.get(&id)?.child.as_ref().map(Child::id)
    }

    /// The address of node `id`.
    pub fn addr(&self, id: u64) -> &str {
        &self.nodes[&id].addr
    }

    /// A URL on node `id` (`https://` when the cluster serves TLS).
    pub fn url(&self, id: u64, path: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr(id))
    }

    /// The nodes whose process was started and not killed.
    pub fn running(&self) -> Vec<u64> {
        self.nodes.values().filter(|n| n.child.is_some()).map(|n| n.id).collect()
    }

    /// Everything node `id` logged.
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node-{id}.log"))).unwrap_or_default()
    }

    /// GET a path of node `id`: status and JSON body (`None` if it did not answer).
    pub async fn get(&self, id: u64, path: &str) -> Option<(u16, Value)> {
        let response = self.http.get(self.url(id, path)).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// POST JSON to a path of node `id`.
    pub async fn post(&self, id: u64, path: &str, body: &Value) -> Option<(u16, Value)> {
        let response = self.http.post(self.url(id, path)).json(body).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// A `meta-client` of the running meta nodes: any of them serves a read (followers forward
    /// what the leader must answer), and the client moves on from one that does not answer.
    pub fn client(&self) -> Client {
        let addrs: Vec<&str> = self.running().into_iter().map(|id| self.addr(id)).collect();
        Client::with_tls(addrs, self.tls.as_ref()).expect("a running meta node")
    }

    /// A `meta-client` of node `id` alone: its answers, e.g. its stale reads of what it applied.
    pub fn node_client(&self, id: u64) -> Client {
        Client::with_tls([self.addr(id)], self.tls.as_ref()).expect("a meta node address")
    }

    /// `/v1/status` of node `id` (`None` if it does not answer).
    pub async fn status(&self, id: u64) -> Option<NodeStatus> {
        self.node_client(id).status().await.ok()
    }

    /// The leader as seen by a majority of running nodes, waiting up to `timeout`.
    pub async fn leader(&self, timeout: Duration) -> u64 {
        let running = self.running();
        wait_for(timeout, "a leader agreed on by the running nodes", || async {
            let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
            for id in &running {
                if let Some(leader) = self.status(*id).await.and_then(|s| s.leader_id) {
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
            let applied = self.status(id).await.and_then(|s| s.applied_index);
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
        self.kill_data_nodes();
        if std::thread::panicking() {
            let logs = self.nodes.keys().map(|id| format!("node-{id}"));
            let data_logs = (0..self.data.len()).map(|slot| format!("data-{slot}"));
            for name in logs.chain(data_logs) {
                let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- {name} log (last 40 lines, newest first)\n{}", tail.join("\n"));
            }
        }
    }
}

/// Polls `probe` every 50 ms until it yields a value, panicking after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    match try_wait_for(timeout, probe).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `probe` every 50 ms until it yields a value; `None` once `timeout` has passed.
pub async fn try_wait_for<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // Poll interval between probes; the deadline above bounds the wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
