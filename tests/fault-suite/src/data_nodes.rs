//! `datad` containers beside a [`DockerCluster`], and the faults done to them.
//!
//! Every data node runs the suite's image with `datad` as its entrypoint and is on two networks:
//!
//! ```text
//!            <run>-data    (data1:8088, data2:8088, ...: writes fan out to owners, copies are
//!        ┌────────┬────────┬────────┐        pulled datad → datad, aliases on this network only)
//!      data1    data2    data3    data4
//!        └────────┴────────┴────────┘
//!            <run>-client  (the meta nodes' client network: heartbeats, claims, metadata)
//! ```
//!
//! A node registers itself (`--register`) under its data-network name and reaches the meta nodes
//! by their client-network IPs. `docker network disconnect <run>-client <node>` cuts it off from
//! the meta service while it keeps running and serving its peers; the test process reaches every
//! node at its data-network IP, which that leaves alone. Shards live in the container's anonymous
//! volume, removed with the container.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::cluster::{wait_for, DockerCluster};
use crate::docker::Docker;
use crate::error::Error;

/// The port every data node listens on inside its container.
pub const DATA_PORT: u16 = 8088;
/// How long a data node may take to serve and register itself.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(45);

/// What was done to a data node and not undone yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataNodeState {
    /// Running and on both networks.
    Up,
    /// `docker kill`ed (`SIGKILL`).
    Killed,
    /// Running, but detached from the meta nodes' network.
    CutOff,
}

/// One shard file as a data node reports it in `GET /status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardCopy {
    /// Bytes in the file.
    pub size: u64,
    /// Digest of the whole file's bytes.
    pub checksum: u64,
    /// Root of its content tree (`content` in the status; 0 when not given): the same for the
    /// same set of points, whatever their order in the file.
    pub root: u64,
}

/// A data node's `GET /status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataNodeStatus {
    /// Its ID while it considers itself registered.
    pub node_id: Option<u64>,
    /// The metadata index its cache reflects.
    pub metadata_index: Option<u64>,
    /// The shards it holds, by ID.
    pub shards: BTreeMap<u64, ShardCopy>,
    /// Copy tasks it is working on.
    pub running_tasks: usize,
}

impl DataNodeStatus {
    /// Parses a `GET /status` body (`None` if it is not one).
    pub fn parse(body: &Value) -> Option<DataNodeStatus> {
        let roots: BTreeMap<u64, u64> = body["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["shard_id"].as_u64()?, c["root"].as_u64()?)))
            .collect();
        let shards = body["shards"]
            .as_array()?
            .iter()
            .filter_map(|s| {
                let shard = s["shard_id"].as_u64()?;
                let root = roots.get(&shard).copied().unwrap_or(0);
                Some((shard, ShardCopy { size: s["size"].as_u64()?, checksum: s["checksum"].as_u64()?, root }))
            })
            .collect();
        Some(DataNodeStatus {
            node_id: body["node_id"].as_u64().filter(|_| body["registered"] == true),
            metadata_index: body["metadata_index"].as_u64(),
            shards,
            running_tasks: body["running_tasks"].as_array().map_or(0, Vec::len),
        })
    }
}

/// One data node's container.
#[derive(Debug)]
struct DataContainer {
    name: String,
    /// Its address on the data network (`ip:port`), `None` while it is not running.
    address: Option<String>,
    node_id: u64,
    state: DataNodeState,
}

/// Running data nodes, by slot (0, 1, ...). Dropping it removes their containers and network
/// (once the [`DockerCluster`] they belong to is dropped too: they share one guard).
#[derive(Debug)]
pub struct DataNodes {
    docker: Arc<Docker>,
    prefix: String,
    client_net: String,
    nodes: Vec<DataContainer>,
    http: reqwest::Client,
}

impl DataNodes {
    /// Starts `count` data nodes of `image` beside `cluster` (on its client network and a data
    /// network of their own) and waits until each has registered itself; extra `args` go to
    /// every `datad`.
    pub async fn start(cluster: &DockerCluster, image: &str, count: usize, args: &[&str]) -> Result<DataNodes, Error> {
        let http = http_client()?;
        let docker = cluster.docker();
        let prefix = cluster.prefix().to_owned();
        let data_net = format!("{prefix}-data");
        let client_net = cluster.client_network().to_owned();
        docker.create_network(&data_net).await?;
        let meta: Vec<String> = cluster.addresses.up().into_iter().map(|(_, address)| address).collect();
        if meta.is_empty() {
            return Err(Error::Cluster("no meta node is up to register data nodes with".to_owned()));
        }
        let mut names = Vec::new();
        for slot in 0..count {
            let alias = alias(slot);
            let name = format!("{prefix}-{alias}");
            let options = ["--entrypoint=/usr/local/bin/datad".to_owned(), "--env=RUST_LOG=info".to_owned()];
            let mut datad_args = vec![
                "--meta".to_owned(),
                meta.join(","),
                "--listen".to_owned(),
                format!("0.0.0.0:{DATA_PORT}"),
                "--advertise".to_owned(),
                format!("{alias}:{DATA_PORT}"),
                "--data-dir".to_owned(),
                "/var/lib/metad".to_owned(),
                "--register".to_owned(),
            ];
            datad_args.extend(args.iter().map(|a| (*a).to_owned()));
            docker.create_container(&name, &data_net, &alias, &options, image, &datad_args).await?;
            docker.connect(&client_net, &name, None).await?;
            names.push(name);
        }
        docker.start(&names.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        let mut nodes = DataNodes { docker, prefix, client_net, nodes: Vec::new(), http };
        for name in names {
            nodes.nodes.push(DataContainer { name, address: None, node_id: 0, state: DataNodeState::Up });
        }
        for slot in 0..count {
            let ip = nodes.docker.ip(&nodes.nodes[slot].name, &data_net).await?;
            nodes.nodes[slot].address = ip.map(|ip| format!("{ip}:{DATA_PORT}"));
            let registered = wait_for(REGISTER_TIMEOUT, &format!("data node {} registered", alias(slot)), || async {
                nodes.status(slot).await?.node_id
            })
            .await;
            match registered {
                Ok(node_id) => nodes.nodes[slot].node_id = node_id,
                Err(error) => return Err(Error::Cluster(format!("{error}\n{}", nodes.logs(40).await))),
            }
        }
        Ok(nodes)
    }

    /// How many data nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The container of the data node in `slot`.
    pub fn container(&self, slot: usize) -> &str {
        &self.nodes[slot].name
    }

    /// The node ID the data node in `slot` registered under.
    pub fn node_id(&self, slot: usize) -> u64 {
        self.nodes[slot].node_id
    }

    /// The slot of the data node registered as `node_id`.
    pub fn slot_of(&self, node_id: u64) -> Option<usize> {
        self.nodes.iter().position(|n| n.node_id == node_id)
    }

    /// What was done to the data node in `slot`.
    pub fn state(&self, slot: usize) -> DataNodeState {
        self.nodes[slot].state
    }

    /// The slots whose nodes are in `state`.
    pub fn slots_in(&self, state: DataNodeState) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&slot| self.nodes[slot].state == state).collect()
    }

    /// The data-network address (`ip:port`) the test process reaches the node in `slot` at,
    /// `None` while it is not running.
    pub fn address(&self, slot: usize) -> Option<String> {
        self.nodes[slot].address.clone()
    }

    /// The HTTP client the suite talks to data nodes with (2 s timeouts, no proxy).
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// `GET /status` of the node in `slot` (`None` if it does not answer).
    pub async fn status(&self, slot: usize) -> Option<DataNodeStatus> {
        let address = self.address(slot)?;
        let response = self.http.get(format!("http://{address}/status")).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        DataNodeStatus::parse(&response.json().await.ok()?)
    }

    /// The lines of the node's copy of `shard` (`GET /shards/{id}`, read as a shard file; `None`
    /// if it does not answer, does not hold the shard, or serves no shard file).
    pub async fn shard_lines(&self, slot: usize, shard: u64) -> Option<Vec<String>> {
        let address = self.address(slot)?;
        let response = self.http.get(format!("http://{address}/shards/{shard}")).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let lines = datad::shard_file_lines(&response.bytes().await.ok()?)?;
        Some(String::from_utf8_lossy(&lines).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
    }

    /// `SIGKILL`s the node in `slot` (`docker kill`); it stays down.
    pub async fn kill(&mut self, slot: usize) -> Result<(), Error> {
        self.nodes[slot].address = None;
        self.docker.kill(&self.nodes[slot].name).await?;
        self.nodes[slot].state = DataNodeState::Killed;
        Ok(())
    }

    /// Detaches the node in `slot` from the meta nodes' network: it keeps running and serving
    /// its peers and the test process, but can neither heartbeat nor read the metadata.
    pub async fn cut_off_from_meta(&mut self, slot: usize) -> Result<(), Error> {
        self.docker.disconnect(&self.client_net, &self.nodes[slot].name).await?;
        self.nodes[slot].state = DataNodeState::CutOff;
        Ok(())
    }

    /// Attaches the node in `slot` to the meta nodes' network again.
    pub async fn reconnect_to_meta(&mut self, slot: usize) -> Result<(), Error> {
        self.docker.connect(&self.client_net, &self.nodes[slot].name, None).await?;
        self.nodes[slot].state = DataNodeState::Up;
        Ok(())
    }

    /// Whether the container of the node in `slot` is `running`, `exited`...
    pub async fn container_state(&self, slot: usize) -> Result<String, Error> {
        self.docker.state(&self.nodes[slot].name).await
    }

    /// The last `lines` log lines of every data node, for a failure report.
    pub async fn logs(&self, lines: usize) -> String {
        let mut text = String::new();
        for (slot, node) in self.nodes.iter().enumerate() {
            let log = self.docker.logs(&node.name, lines).await;
            text.push_str(&format!(
                "--- data node {} (slot {slot}, {}, {:?}), last {lines} log lines\n{log}\n",
                node.node_id, node.name, node.state
            ));
        }
        text
    }

    /// The prefix of the run's container and network names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The network alias (and advertised host name) of the data node in `slot`.
fn alias(slot: usize) -> String {
    format!("data{}", slot + 1)
}

fn http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_millis(500))
        .no_proxy()
        .build()
        .map_err(|e| Error::Cluster(format!("HTTP client: {e}")))
}

/// `POST /write?db=DB` of `body` (line protocol) to the data node at `address`: `Ok` when it
/// answers 204 (every owner stored every line), else what went wrong.
pub async fn write_lines(http: &reqwest::Client, address: &str, db: &str, body: String) -> Result<(), String> {
    let response = http
        .post(format!("http://{address}/write?db={db}"))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("no answer from {address}: {e}"))?;
    let status = response.status().as_u16();
    if status == 204 {
        return Ok(());
    }
    Err(format!("HTTP {status} from {address}: {}", response.text().await.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_parsed_and_a_node_that_is_not_registered_has_no_id() {
        let body = serde_json::json!({
            "node_id": 4, "registered": true, "addr": "data1:8088", "metadata_index": 17,
            "inventory_version": 5, "running_tasks": [9],
            "shards": [{"shard_id": 3, "size": 10, "checksum": 77}, {"shard_id": 5, "size": 0, "checksum": 1}],
            "content": [{"shard_id": 3, "points": 2, "root": 99}],
        });
        let status = DataNodeStatus::parse(&body).expect("a status");
        assert_eq!(status.node_id, Some(4));
        assert_eq!(status.metadata_index, Some(17));
        assert_eq!(status.running_tasks, 1);
        assert_eq!(status.shards[&3], ShardCopy { size: 10, checksum: 77, root: 99 });
        assert_eq!(status.shards[&5].root, 0, "no content reported");
        assert_eq!(status.shards.len(), 2);
        let unregistered = serde_json::json!({"node_id": 4, "registered": false, "shards": []});
        assert_eq!(DataNodeStatus::parse(&unregistered).expect("a status").node_id, None);
        assert_eq!(DataNodeStatus::parse(&serde_json::json!({"error": {}})), None);
    }
}
