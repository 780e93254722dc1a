//! A three-node `metad` cluster in containers, and the faults done to it.
//!
//! Every node is on two bridge networks:
//!
//! ```text
//!            <run>-cluster  (peers: meta1:8091, meta2:8091, meta3:8091, aliases on this network only)
//!        ┌────────┬─────────┬────────┐
//!      meta1    meta2     meta3
//!        └────────┴─────────┴────────┘
//!            <run>-client   (the test process reaches every node's IP here)
//! ```
//!
//! `docker network disconnect <run>-cluster <node>` cuts a node from its peers while the clients
//! still reach it (Docker isolates bridge networks from each other, and the peer names resolve on
//! the cluster network only), which is how the suite checks that the minority refuses writes.
//! Data lives in each container's anonymous volume (the image's `VOLUME /var/lib/metad`), kept
//! across `docker kill`/`start` and `docker restart`, removed with the container.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use meta_wire::{MetadataReply, NodeStatus};

use crate::docker::Docker;
use crate::error::Error;

/// The node IDs of the cluster.
pub const NODES: [u64; 3] = [1, 2, 3];
/// The port every node listens on inside its container.
const PORT: u16 = 8091;
/// How long a fault waits for a leader before it picks its target.
const LEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a (re)started node may take to answer `/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(45);

/// The client-network address (`ip:port`) of every node, `None` while a node is down. Shared
/// with the load clients, which read it for every request.
#[derive(Clone, Debug, Default)]
pub struct Addresses(Arc<RwLock<BTreeMap<u64, Option<String>>>>);

impl Addresses {
    /// The address of node `id`, if it is up.
    pub fn get(&self, id: u64) -> Option<String> {
        self.0.read().expect("lock").get(&id).cloned().flatten()
    }

    /// The nodes that are up, with their addresses.
    pub fn up(&self) -> Vec<(u64, String)> {
        self.0.read().expect("lock").iter().filter_map(|(id, a)| a.clone().map(|a| (*id, a))).collect()
    }

    fn set(&self, id: u64, address: Option<String>) {
        self.0.write().expect("lock").insert(id, address);
    }
}

/// What was done to a node and not undone yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    Up,
    Killed,
    Paused,
    CutOff,
}

/// What every node agreed on once the cluster converged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Converged {
    /// The applied index all nodes reached.
    pub index: u64,
    /// The databases every node holds.
    pub databases: BTreeSet<String>,
}

/// Where a node's container finds the TOML file of [`DockerCluster::start_with_config`].
const CONFIG_PATH: &str = "/etc/metad/metad.toml";

/// A running three-node cluster. Dropping it removes its containers and networks (once every
/// holder of its [`Docker`] guard, e.g. [`crate::DataNodes`], is dropped too).
#[derive(Debug)]
pub struct DockerCluster {
    docker: Arc<Docker>,
    prefix: String,
    cluster_net: String,
    client_net: String,
    states: BTreeMap<u64, NodeState>,
    /// The nodes' client-network addresses.
    pub addresses: Addresses,
    http: reqwest::Client,
    /// The host directory of the nodes' config file, bind-mounted read-only (kept while the
    /// containers may restart).
    _config_dir: Option<tempfile::TempDir>,
}

impl DockerCluster {
    /// Creates the networks and containers of `image` named after `prefix`, starts them and
    /// waits until every node is ready.
    pub async fn start(image: &str, prefix: &str) -> Result<DockerCluster, Error> {
        DockerCluster::start_with_config(image, prefix, None).await
    }

    /// [`DockerCluster::start`], with every node reading `config` (a TOML file, e.g. an
    /// `[anti-entropy]` section: settings only the file can set) from a host file bind-mounted
    /// read-only; flags and `METAD_*` variables still give the node ID, peers and addresses.
    pub async fn start_with_config(image: &str, prefix: &str, config: Option<&str>) -> Result<DockerCluster, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_millis(500))
            .no_proxy()
            .build()
            .map_err(|e| Error::Cluster(format!("HTTP client: {e}")))?;
        let (config_dir, mount) = match config {
            Some(text) => {
                let (dir, file) = write_config(prefix, text)?;
                (Some(dir), Some(file))
            }
            None => (None, None),
        };
        let cluster = DockerCluster {
            docker: Arc::new(Docker::new()),
            prefix: prefix.to_owned(),
            cluster_net: format!("{prefix}-cluster"),
            client_net: format!("{prefix}-client"),
            states: NODES.iter().map(|id| (*id, NodeState::Up)).collect(),
            addresses: Addresses::default(),
            http,
            _config_dir: config_dir,
        };
        cluster.docker.create_network(&cluster.cluster_net).await?;
        cluster.docker.create_network(&cluster.client_net).await?;
        let peers = NODES.iter().map(|id| format!("{id}=meta{id}:{PORT}")).collect::<Vec<_>>().join(",");
        // A secret per run: a stray request from another cluster is refused.
        let secret = format!("{prefix}-{}", std::process::id());
        for id in NODES {
            let mut options = vec![
                format!("--env=METAD_PEERS={peers}"),
                format!("--env=METAD_LISTEN=0.0.0.0:{PORT}"),
                "--env=METAD_DATA_DIR=/var/lib/metad".to_owned(),
                format!("--env=METAD_CLUSTER_SECRET={secret}"),
                "--env=RUST_LOG=info,openraft=warn".to_owned(),
            ];
            if let Some(file) = &mount {
                options.push(format!("--volume={}:{CONFIG_PATH}:ro", file.display()));
                options.push(format!("--env=METAD_CONFIG={CONFIG_PATH}"));
            }
            let args = ["--node-id".to_owned(), id.to_string(), "--advertise".to_owned(), format!("meta{id}:{PORT}")];
            let name = cluster.container(id);
            let alias = format!("meta{id}");
            cluster.docker.create_container(&name, &cluster.cluster_net, &alias, &options, image, &args).await?;
            cluster.docker.connect(&cluster.client_net, &name, None).await?;
        }
        let names: Vec<String> = NODES.iter().map(|id| cluster.container(*id)).collect();
        cluster.docker.start(&names.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        for id in NODES {
            cluster.refresh_address(id).await?;
        }
        for id in NODES {
            if let Err(error) = cluster.wait_ready(id).await {
                return Err(Error::Cluster(format!("{error}\n{}", cluster.logs(40).await)));
            }
        }
        Ok(cluster)
    }

    /// The container of node `id`.
    pub fn container(&self, id: u64) -> String {
        format!("{}-meta{id}", self.prefix)
    }

    /// The run's containers and networks (shared with what runs beside the cluster).
    pub(crate) fn docker(&self) -> Arc<Docker> {
        Arc::clone(&self.docker)
    }

    /// The prefix of the run's container and network names.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The network on which clients reach the nodes.
    pub(crate) fn client_network(&self) -> &str {
        &self.client_net
    }

    async fn refresh_address(&self, id: u64) -> Result<(), Error> {
        let ip = self.docker.ip(&self.container(id), &self.client_net).await?;
        self.addresses.set(id, ip.map(|ip| format!("{ip}:{PORT}")));
        Ok(())
    }

    /// `GET path` of node `id` (`None` if it is down or did not answer).
    async fn get(&self, id: u64, path: &str) -> Option<reqwest::Response> {
        let address = self.addresses.get(id)?;
        self.http.get(format!("http://{address}{path}")).send().await.ok()
    }

    /// Node `id`'s view of the cluster (`None` if it did not answer with one).
    async fn status(&self, id: u64) -> Option<NodeStatus> {
        self.get(id, "/v1/status").await?.json().await.ok()
    }

    /// The leader: a node that says it leads, in the term in which a majority follows it.
    pub async fn leader(&self) -> Result<u64, Error> {
        wait_for(LEADER_TIMEOUT, "a leader agreed on by a majority", || async {
            let mut statuses = BTreeMap::new();
            for id in NODES {
                if let Some(status) = self.status(id).await {
                    statuses.insert(id, status);
                }
            }
            statuses.iter().find_map(|(id, status)| {
                let leads = status.raft_state == "leader" && status.leader_id == Some(*id);
                let followers = statuses.values().filter(|s| s.leader_id == Some(*id) && s.term == status.term).count();
                (leads && followers * 2 > NODES.len()).then_some(*id)
            })
        })
        .await
    }

    /// A node other than `leader`, chosen by `pick` (an index).
    pub fn follower_of(&self, leader: u64, pick: usize) -> u64 {
        let others: Vec<u64> = NODES.iter().copied().filter(|id| *id != leader).collect();
        others[pick % others.len()]
    }

    /// Waits until node `id` answers `/ready` with 200.
    pub async fn wait_ready(&self, id: u64) -> Result<(), Error> {
        wait_for(READY_TIMEOUT, &format!("node {id} ready"), || async {
            let ready = self.get(id, "/ready").await.map(|response| response.status().as_u16());
            (ready == Some(200)).then_some(())
        })
        .await
    }

    /// Cuts node `id` off from its peers (the clients still reach it).
    pub async fn cut_off(&mut self, id: u64) -> Result<(), Error> {
        self.docker.disconnect(&self.cluster_net, &self.container(id)).await?;
        self.states.insert(id, NodeState::CutOff);
        Ok(())
    }

    /// Reconnects node `id` to its peers, under its peer name.
    pub async fn reconnect(&mut self, id: u64) -> Result<(), Error> {
        let alias = format!("meta{id}");
        self.docker.connect(&self.cluster_net, &self.container(id), Some(&alias)).await?;
        self.states.insert(id, NodeState::Up);
        Ok(())
    }

    /// `kill -9` of node `id`'s container.
    pub async fn kill(&mut self, id: u64) -> Result<(), Error> {
        self.addresses.set(id, None);
        self.docker.kill(&self.container(id)).await?;
        self.states.insert(id, NodeState::Killed);
        Ok(())
    }

    /// Starts node `id`'s killed container again (on its data).
    pub async fn start_again(&mut self, id: u64) -> Result<(), Error> {
        self.docker.start(&[&self.container(id)]).await?;
        self.states.insert(id, NodeState::Up);
        self.refresh_address(id).await
    }

    /// Freezes node `id` (`docker pause`).
    pub async fn pause(&mut self, id: u64) -> Result<(), Error> {
        self.docker.pause(&self.container(id)).await?;
        self.states.insert(id, NodeState::Paused);
        Ok(())
    }

    /// Thaws node `id`.
    pub async fn unpause(&mut self, id: u64) -> Result<(), Error> {
        self.docker.unpause(&self.container(id)).await?;
        self.states.insert(id, NodeState::Up);
        Ok(())
    }

    /// Restarts node `id` (`SIGTERM`, then `SIGKILL` after 5 s), on its data.
    pub async fn restart(&mut self, id: u64) -> Result<(), Error> {
        self.addresses.set(id, None);
        self.docker.restart(&self.container(id), Duration::from_secs(5)).await?;
        self.refresh_address(id).await
    }

    /// Undoes whatever fault is still in place on any node.
    pub async fn heal_all(&mut self) -> Result<(), Error> {
        for id in NODES {
            match self.states[&id] {
                NodeState::Up => {}
                NodeState::Killed => self.start_again(id).await?,
                NodeState::Paused => self.unpause(id).await?,
                NodeState::CutOff => self.reconnect(id).await?,
            }
        }
        // A container that exited by itself (a crash) is a finding, not something to restart.
        for id in NODES {
            let state = self.docker.state(&self.container(id)).await?;
            if state != "running" {
                return Err(Error::Cluster(format!("node {id}'s container is {state}, not running")));
            }
        }
        Ok(())
    }

    /// Waits until every node is ready and all hold the same metadata at the same applied
    /// index (read locally, `?stale=true`), seen twice in a row.
    pub async fn wait_converged(&self, timeout: Duration) -> Result<Converged, Error> {
        for id in NODES {
            self.wait_ready(id).await?;
        }
        let deadline = Instant::now() + timeout;
        let mut previous: Option<Converged> = None;
        loop {
            let seen = self.local_metadata().await;
            let agreed = seen.iter().all(|s| s.is_some() && *s == seen[0]).then(|| seen[0].clone()).flatten();
            if let Some(converged) = agreed.clone().filter(|a| previous.as_ref() == Some(a)) {
                return Ok(converged);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("all nodes holding the same metadata at the same index (last seen: {seen:?})"),
                    after: timeout,
                });
            }
            previous = agreed;
            // Poll interval between probes; the deadline above bounds the wait.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every node's own applied index and databases (`None` for a node that did not answer).
    async fn local_metadata(&self) -> Vec<Option<Converged>> {
        let mut seen = Vec::new();
        for id in NODES {
            let converged = match self.get(id, "/v1/metadata?stale=true").await {
                Some(response) if response.status().as_u16() == 200 => {
                    let reply: Option<MetadataReply> = response.json().await.ok();
                    reply.map(|r| Converged {
                        index: r.index,
                        databases: r.metadata.databases().keys().cloned().collect(),
                    })
                }
                _ => None,
            };
            seen.push(converged);
        }
        seen
    }

    /// The last `lines` log lines of every node, for a failure report.
    pub async fn logs(&self, lines: usize) -> String {
        let mut text = String::new();
        for id in NODES {
            let log = self.docker.logs(&self.container(id), lines).await;
            text.push_str(&format!("--- node {id} ({}), last {lines} log lines\n{log}\n", self.container(id)));
        }
        text
    }
}

/// Writes `text` to a new temporary directory as `metad.toml`, readable by the image's user;
/// returns the directory (removed on drop) and the file.
fn write_config(prefix: &str, text: &str) -> Result<(tempfile::TempDir, PathBuf), Error> {
    let failed = |e: std::io::Error| Error::Cluster(format!("cannot write the nodes' config file: {e}"));
    let dir = tempfile::Builder::new().prefix(&format!("{prefix}-config-")).tempdir().map_err(failed)?;
    let file = dir.path().join("metad.toml");
    std::fs::write(&file, text).map_err(failed)?;
    // The nodes run as uid 10001: the file must be readable by others whatever the umask.
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).map_err(failed)?;
    Ok((dir, file))
}

/// Polls `probe` every 50 ms until it yields a value; an error after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, probe: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let waited = cluster_harness::try_wait_for(timeout, probe).await;
    waited.ok_or_else(|| Error::Timeout { what: what.to_owned(), after: timeout })
}
