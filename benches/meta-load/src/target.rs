//! What is measured: the same kind of small replicated write and linearizable read, against a
//! `metad` cluster or an etcd cluster, through one HTTP client configured identically.
//!
//! - metad: write = `POST /v1/databases` (create a database: one Raft entry, fsynced on a
//!   quorum); read = linearizable `GET /v1/databases/{name}` (leader read index).
//! - etcd through its v3 JSON gateway: write = `POST /v3/kv/put` of a 256-byte value; read =
//!   `POST /v3/kv/range` of one key (linearizable, etcd's default).
//! - etcd through its native gRPC API (feature `etcd-grpc`, the `etcd-client` crate): the same
//!   put and linearizable range, one HTTP/2 channel per member shared by all clients. The gateway
//!   costs etcd a JSON translation and a loopback gRPC call per request; this path does not.

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use serde_json::{json, Value};

/// Size of the value written to etcd.
const ETCD_VALUE_BYTES: usize = 256;

/// A cluster under load.
#[derive(Clone)]
pub(crate) enum Target {
    /// A metad cluster: its nodes' addresses, writes sent to the leader.
    Metad { leader: String, nodes: Vec<String> },
    /// An etcd cluster through its JSON gateway: its client URLs' addresses, writes sent to the
    /// leader.
    Etcd { leader: String, nodes: Vec<String>, value: String },
    /// The same etcd cluster through gRPC: one KV client per member, writes sent to the leader's.
    #[cfg(feature = "etcd-grpc")]
    EtcdGrpc { leader: Box<etcd_client::KvClient>, nodes: Vec<etcd_client::KvClient>, value: Vec<u8> },
}

/// The one HTTP client every run uses, whatever the target.
pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().timeout(Duration::from_secs(10)).tcp_nodelay(true).build()?)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Target {
    /// An etcd cluster at `nodes` (HOST:PORT client addresses); finds its leader.
    pub(crate) async fn etcd(http: &reqwest::Client, nodes: Vec<String>) -> anyhow::Result<Target> {
        let mut leader_id = None;
        let mut members = Vec::new();
        for node in &nodes {
            let status: Value = http
                .post(format!("http://{node}/v3/maintenance/status"))
                .json(&json!({}))
                .send()
                .await
                .with_context(|| format!("etcd at {node}"))?
                .json()
                .await?;
            leader_id = status["leader"].as_str().map(str::to_owned).or(leader_id);
            members.push((status["header"]["member_id"].as_str().map(str::to_owned), node.clone()));
        }
        let leader = members
            .iter()
            .find(|(id, _)| id.is_some() && *id == leader_id)
            .map(|(_, node)| node.clone())
            .context("no etcd member reports itself as the leader")?;
        Ok(Target::Etcd { leader, nodes, value: b64(&[b'v'; ETCD_VALUE_BYTES]) })
    }

    /// The same etcd cluster as `self` (an [`Target::Etcd`]) through its gRPC API, on the same
    /// client addresses (etcd serves gRPC and the gateway on one listener).
    #[cfg(feature = "etcd-grpc")]
    pub(crate) async fn etcd_grpc(&self) -> anyhow::Result<Target> {
        let Target::Etcd { leader, nodes, .. } = self else { anyhow::bail!("not an etcd target") };
        let connect = |node: String| async move {
            let client = etcd_client::Client::connect([format!("http://{node}")], None)
                .await
                .with_context(|| format!("etcd gRPC at {node}"))?;
            anyhow::Ok(client.kv_client())
        };
        let mut clients = Vec::new();
        for node in nodes {
            clients.push(connect(node.clone()).await?);
        }
        let leader = connect(leader.clone()).await?;
        Ok(Target::EtcdGrpc { leader: Box::new(leader), nodes: clients, value: vec![b'v'; ETCD_VALUE_BYTES] })
    }

    /// One acknowledged replicated write of key `key`.
    pub(crate) async fn write(&self, http: &reqwest::Client, key: &str) -> bool {
        let (url, body) = match self {
            Target::Metad { leader, .. } => (format!("http://{leader}/v1/databases"), json!({ "name": key })),
            Target::Etcd { leader, value, .. } => {
                (format!("http://{leader}/v3/kv/put"), json!({ "key": b64(key.as_bytes()), "value": value }))
            }
            #[cfg(feature = "etcd-grpc")]
            Target::EtcdGrpc { leader, value, .. } => {
                return leader.as_ref().clone().put(key, value.clone(), None).await.is_ok();
            }
        };
        let expected = if matches!(self, Target::Metad { .. }) { 201 } else { 200 };
        matches!(http.post(url).json(&body).send().await.map(|r| r.status().as_u16()), Ok(s) if s == expected)
    }

    /// One linearizable read of `key` (written before) from node number `node`.
    pub(crate) async fn read(&self, http: &reqwest::Client, node: usize, key: &str) -> bool {
        let sent = match self {
            Target::Metad { nodes, .. } => {
                http.get(format!("http://{}/v1/databases/{key}", nodes[node % nodes.len()])).send().await
            }
            Target::Etcd { nodes, .. } => {
                let url = format!("http://{}/v3/kv/range", nodes[node % nodes.len()]);
                http.post(url).json(&json!({ "key": b64(key.as_bytes()) })).send().await
            }
            #[cfg(feature = "etcd-grpc")]
            Target::EtcdGrpc { nodes, .. } => {
                let mut kv = nodes[node % nodes.len()].clone();
                // Linearizable unless asked to be serializable: etcd's default, as on the gateway.
                return kv.get(key, None).await.is_ok_and(|reply| reply.kvs().len() == 1);
            }
        };
        matches!(sent.map(|r| r.status().as_u16()), Ok(200))
    }

    /// The target's name in tables.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Target::Metad { .. } => "metad",
            Target::Etcd { .. } => "etcd-http",
            #[cfg(feature = "etcd-grpc")]
            Target::EtcdGrpc { .. } => "etcd-grpc",
        }
    }
}
