//! What the meta service says about the data: databases, shard owners, the leader's anti-entropy
//! report (data-node liveness, under-replicated shards) and copy tasks, over `/v1` of whichever
//! meta node answers (followers forward anti-entropy reads to the leader), read as the API's
//! typed replies (`meta-wire`). Not through `meta-client`: the nodes' addresses change as their
//! containers restart, and a poll here tries each node once, briefly, and never through a proxy.

use std::collections::BTreeMap;
use std::time::Duration;

use meta_model::{TaskReason, TaskState};
use meta_wire::{CopyTaskInfo, CopyTaskList, DataNodeHealth, EntropyReport, MetadataReply, ShardInfo, ShardList};
use serde::de::DeserializeOwned;
use serde_json::json;

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

    /// The body of the first `200` answer to `GET path` from a meta node that reads as a `T`,
    /// trying them in turn.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Option<T> {
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
        self.write(reqwest::Method::POST, "/v1/databases", &body, &format!("create database {name}")).await
    }

    /// Turns rebalancing on or off (`PUT /v1/placement/balance`), sent like
    /// [`MetaApi::create_database`].
    pub async fn set_balance(&self, enabled: bool) -> Result<(), Error> {
        let body = json!({ "enabled": enabled });
        self.write(reqwest::Method::PUT, "/v1/placement/balance", &body, "set balance").await
    }

    /// Sends a write to one node after the other until one answers; only a failure to connect
    /// moves on (then nothing was sent), so the write is never repeated.
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
        what: &str,
    ) -> Result<(), Error> {
        let mut unanswered = Vec::new();
        for (id, address) in self.addresses.up() {
            let sent = self.http.request(method.clone(), format!("http://{address}{path}")).json(body).send().await;
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    return Err(Error::Cluster(format!("{what} on meta node {id}: {status} {text}")));
                }
                Err(error) if error.is_connect() => unanswered.push(format!("meta node {id}: {error}")),
                Err(error) => return Err(Error::Cluster(format!("{what} on meta node {id}: {error}"))),
            }
        }
        Err(Error::Cluster(format!("{what}: no meta node answered: {}", unanswered.join("; "))))
    }

    /// Every shard's owners (a linearizable read), `None` if no meta node answers.
    pub async fn owners(&self) -> Option<Owners> {
        Some(owners_of(&self.get::<ShardList>("/v1/shards").await?.shards))
    }

    /// The leader's anti-entropy report (`GET /v1/entropy`).
    pub async fn entropy(&self) -> Option<EntropyReport> {
        self.get("/v1/entropy").await
    }

    /// How the leader judges data node `node` right now (`None` if nobody answers or the leader
    /// does not list it).
    pub async fn health(&self, node: u64) -> Option<DataNodeHealth> {
        health_of(&self.entropy().await?, node).cloned()
    }

    /// Every copy task with its progress (`GET /v1/copy-tasks`).
    pub async fn copy_tasks(&self) -> Option<Vec<CopyTaskInfo>> {
        Some(self.get::<CopyTaskList>("/v1/copy-tasks").await?.tasks)
    }

    /// The applied index of a linearizable metadata read: whatever was acknowledged before the
    /// call is at or below it.
    pub async fn metadata_index(&self) -> Option<u64> {
        Some(self.get::<MetadataReply>("/v1/metadata").await?.index)
    }
}

/// Shard ID → owner IDs of the shards a `/v1/shards` reply lists.
pub fn owners_of(shards: &[ShardInfo]) -> Owners {
    shards.iter().map(|s| (s.id, s.owners.iter().map(|o| o.id).collect())).collect()
}

/// Data node `node`'s entry in a `/v1/entropy` report.
pub fn health_of(report: &EntropyReport, node: u64) -> Option<&DataNodeHealth> {
    report.nodes.iter().find(|n| n.id == node)
}

/// The tasks that replaced owner `node` of a shard (`spec.replaces == node`), as
/// `(shard, target, reason, state)`.
pub fn replacements(tasks: &[CopyTaskInfo], node: u64) -> Vec<(u64, u64, TaskReason, TaskState)> {
    tasks
        .iter()
        .map(|t| &t.task)
        .filter(|task| task.spec.replaces == Some(node))
        .map(|task| (task.spec.shard_id, task.spec.target, task.spec.reason, task.state))
        .collect()
}

#[cfg(test)]
mod tests {
    use meta_wire::Liveness;
    use serde_json::Value;

    use super::*;

    #[test]
    fn owners_health_and_replacements_are_read_from_the_replies() {
        let shard = |id: u64, owners: Value| {
            json!({"id": id, "database": "db", "retention_policy": "rp", "replication_factor": 2,
                   "shard_group": 1, "start": 0, "end": 1, "owners": owners})
        };
        let shards: ShardList = serde_json::from_value(json!({"shards": [
            shard(1, json!([{"id": 4, "tcp_addr": "data1:8088"}, {"id": 5, "tcp_addr": "data2:8088"}])),
            shard(2, json!([])),
        ]}))
        .expect("a /v1/shards reply");
        assert_eq!(owners_of(&shards.shards), BTreeMap::from([(1, vec![4, 5]), (2, vec![])]));
        let node = |id: u64, liveness: &str, last_heartbeat_ms: Value| {
            json!({"id": id, "addr": "data:8088", "state": "active", "liveness": liveness,
                   "last_heartbeat_ms": last_heartbeat_ms})
        };
        let report: EntropyReport = serde_json::from_value(json!({
            "leader_id": 1, "trusted": true, "under_replicated": [], "missing_on_owner": [], "unrecoverable": [],
            "insufficient_nodes": [], "over_replicated": [], "tasks": [],
            "nodes": [node(4, "dead", json!(6100)), node(5, "online", Value::Null)],
        }))
        .expect("a /v1/entropy reply");
        let dead = health_of(&report, 4).map(|h| (h.liveness, h.last_heartbeat_ms));
        assert_eq!(dead, Some((Liveness::Dead, Some(6100))));
        assert_eq!(health_of(&report, 5).map(|h| h.last_heartbeat_ms), Some(None));
        assert_eq!(health_of(&report, 6), None);
        let task = |shard: u64, replaces: Value, reason: &str| {
            json!({"task": {"id": shard, "state": "done", "attempt": 1, "failures": 0, "created_at": 0,
                            "updated_at": 0, "spec": {"shard_id": shard, "source": 5, "target": 6,
                                                      "replaces": replaces, "priority": 1, "reason": reason}}})
        };
        let tasks: CopyTaskList = serde_json::from_value(json!({"tasks": [
            task(3, json!(4), "dead_owner"),
            task(7, Value::Null, "under_replicated"),
        ]}))
        .expect("a /v1/copy-tasks reply");
        assert_eq!(replacements(&tasks.tasks, 4), vec![(3, 6, TaskReason::DeadOwner, TaskState::Done)]);
        assert!(replacements(&tasks.tasks, 5).is_empty());
    }
}
