//! What the meta service says about the data: databases, shard owners, the leader's anti-entropy
//! report (data-node liveness, under-replicated shards) and copy tasks, over `/v1` of whichever
//! meta node answers (followers forward anti-entropy reads to the leader).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{Addresses, DockerCluster};
use crate::error::Error;

/// Shard ID → owner node IDs, as the metadata lists them.
pub type Owners = BTreeMap<u64, Vec<u64>>;

/// A client of the meta nodes' `/v1` API.
#[derive(Clone, Debug)]
pub struct MetaApi {
    http: reqwest::Client,
    addresses: Addresses,
}

/// How the leader judges one data node (an entry of `/v1/entropy`'s `nodes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeHealth {
    /// `online`, `suspect`, `dead` or `unknown`.
    pub liveness: String,
    /// Milliseconds since its last heartbeat reached the leader.
    pub last_heartbeat_ms: Option<u64>,
}

impl MetaApi {
    /// A client of `cluster`'s meta nodes (at their client-network addresses).
    pub fn new(cluster: &DockerCluster) -> Result<MetaApi, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_millis(500))
            .no_proxy()
            .build()
            .map_err(|e| Error::Cluster(format!("HTTP client: {e}")))?;
        Ok(MetaApi { http, addresses: cluster.addresses.clone() })
    }

    /// The body of the first `200` answer to `GET path` from a meta node, trying them in turn.
    pub async fn get(&self, path: &str) -> Option<Value> {
        for (_, address) in self.addresses.up() {
            let Ok(response) = self.http.get(format!("http://{address}{path}")).send().await else { continue };
            if response.status().as_u16() == 200 {
                if let Ok(body) = response.json().await {
                    return Some(body);
                }
            }
        }
        None
    }

    /// Creates database `name` whose default retention policy `rp` keeps data forever in shard
    /// groups of `shard_duration`, with `replication` copies of every shard.
    ///
    /// Sent to one node after the other until one answers: only a failure to connect moves on
    /// (then nothing was sent), so the create is never repeated.
    pub async fn create_database(
        &self,
        name: &str,
        rp: &str,
        replication: u32,
        shard_duration: &str,
    ) -> Result<(), Error> {
        let body = json!({
            "name": name,
            "retention_policy": {
                "name": rp, "duration": "0", "shard_duration": shard_duration,
                "replication": replication, "default": true,
            },
        });
        let mut unanswered = Vec::new();
        for (id, address) in self.addresses.up() {
            let sent = self.http.post(format!("http://{address}/v1/databases")).json(&body).send().await;
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    return Err(Error::Cluster(format!("create database {name} on meta node {id}: {status} {text}")));
                }
                Err(error) if error.is_connect() => unanswered.push(format!("meta node {id}: {error}")),
                Err(error) => {
                    return Err(Error::Cluster(format!("create database {name} on meta node {id}: {error}")));
                }
            }
        }
        Err(Error::Cluster(format!("create database {name}: no meta node answered: {}", unanswered.join("; "))))
    }

    /// Every shard's owners (a linearizable read), `None` if no meta node answers.
    pub async fn owners(&self) -> Option<Owners> {
        Some(parse_owners(&self.get("/v1/shards").await?))
    }

    /// The leader's anti-entropy report (`GET /v1/entropy`).
    pub async fn entropy(&self) -> Option<Value> {
        self.get("/v1/entropy").await
    }

    /// How the leader judges data node `node` right now (`None` if nobody answers or the leader
    /// does not list it).
    pub async fn health(&self, node: u64) -> Option<NodeHealth> {
        parse_health(&self.entropy().await?, node)
    }

    /// Every copy task (`GET /v1/copy-tasks`: `{"task": .., "progress": ..}` each).
    pub async fn copy_tasks(&self) -> Option<Vec<Value>> {
        Some(self.get("/v1/copy-tasks").await?["tasks"].as_array()?.clone())
    }

    /// The applied index of a linearizable metadata read: whatever was acknowledged before the
    /// call is at or below it.
    pub async fn metadata_index(&self) -> Option<u64> {
        self.get("/v1/metadata").await?["index"].as_u64()
    }
}

/// Shard ID → owner IDs in a `/v1/shards` reply.
pub fn parse_owners(body: &Value) -> Owners {
    let shards = body["shards"].as_array().map(Vec::as_slice).unwrap_or_default();
    shards
        .iter()
        .filter_map(|s| {
            let owners = s["owners"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_u64()).collect();
            Some((s["id"].as_u64()?, owners))
        })
        .collect()
}

/// Data node `node`'s entry in a `/v1/entropy` report.
pub fn parse_health(report: &Value, node: u64) -> Option<NodeHealth> {
    let entry = report["nodes"].as_array()?.iter().find(|n| n["id"].as_u64() == Some(node))?;
    Some(NodeHealth {
        liveness: entry["liveness"].as_str()?.to_owned(),
        last_heartbeat_ms: entry["last_heartbeat_ms"].as_u64(),
    })
}

/// The tasks that replaced owner `node` of a shard (`spec.replaces == node`), as
/// `(shard, target, reason, state)`.
pub fn replacements(tasks: &[Value], node: u64) -> Vec<(u64, u64, String, String)> {
    tasks
        .iter()
        .map(|t| &t["task"])
        .filter(|task| task["spec"]["replaces"].as_u64() == Some(node))
        .map(|task| {
            (
                task["spec"]["shard_id"].as_u64().unwrap_or(0),
                task["spec"]["target"].as_u64().unwrap_or(0),
                task["spec"]["reason"].as_str().unwrap_or("?").to_owned(),
                task["state"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_health_and_replacements_are_read_from_the_replies() {
        let shards = json!({"shards": [
            {"id": 1, "owners": [{"id": 4, "tcp_addr": "data1:8088"}, {"id": 5, "tcp_addr": "data2:8088"}]},
            {"id": 2, "owners": []},
        ]});
        assert_eq!(parse_owners(&shards), BTreeMap::from([(1, vec![4, 5]), (2, vec![])]));
        let report = json!({"nodes": [
            {"id": 4, "liveness": "dead", "last_heartbeat_ms": 6100},
            {"id": 5, "liveness": "online", "last_heartbeat_ms": null},
        ]});
        assert_eq!(
            parse_health(&report, 4),
            Some(NodeHealth { liveness: "dead".into(), last_heartbeat_ms: Some(6100) })
        );
        assert_eq!(parse_health(&report, 5).map(|h| h.last_heartbeat_ms), Some(None));
        assert_eq!(parse_health(&report, 6), None);
        let tasks = json!([
            {"task": {"state": "done", "spec": {"shard_id": 3, "target": 6, "replaces": 4, "reason": "dead_owner"}}},
            {"task": {"state": "done", "spec": {"shard_id": 7, "target": 6, "replaces": null, "reason": "x"}}},
        ]);
        let tasks = tasks.as_array().expect("an array");
        assert_eq!(replacements(tasks, 4), vec![(3, 6, "dead_owner".to_owned(), "done".to_owned())]);
        assert!(replacements(tasks, 5).is_empty());
    }
}
