//! [`Metadata`]: the whole metadata as `GET /v1/metadata`, `POST /v1/restore` and backup files
//! carry it. A JSON body of its own, apart from the snapshot record (`meta_model::MetadataRecord`,
//! bincode): a change of how snapshots are stored changes neither what data nodes cache nor what a
//! backup file holds.
//!
//! Served borrowing the state ([`Metadata::of`]: a million shards are not cloned to be sent);
//! read owned. Its JSON fields are those the body had when it was the snapshot record itself, so
//! backups and data nodes of earlier releases read it and are read by it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use meta_model::{
    ClusterIdentity, DataNode, Database, MetaNode, MetaState, MetadataRecord, NodeId, PlacementPolicy, ShardGroupId,
    ShardId, Task, TaskId,
};

/// The metadata in its JSON form: nodes, databases with their policies, groups, shards and owners,
/// the ID counters, and the tasks kept.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    next_node_id: NodeId,
    next_shard_group_id: ShardGroupId,
    next_shard_id: ShardId,
    data_nodes: Cow<'a, BTreeMap<NodeId, DataNode>>,
    meta_nodes: Cow<'a, BTreeMap<NodeId, MetaNode>>,
    databases: Cow<'a, BTreeMap<String, Database>>,
    next_task_id: TaskId,
    /// Read for completeness; a restore never loads tasks, so a body without them is accepted.
    #[serde(default)]
    copy_tasks: Cow<'a, BTreeMap<TaskId, Task>>,
    /// Shards that never acknowledged a write (absent from bodies of earlier releases: then every
    /// shard counts as written, the safe side).
    #[serde(default)]
    unwritten_shards: Cow<'a, BTreeSet<ShardId>>,
    /// The cluster's identity (absent from bodies of earlier releases, and until the first
    /// leader made it).
    #[serde(default)]
    cluster: Option<ClusterIdentity>,
    /// How shards are placed (absent from bodies of earlier releases: spreading by `zone`, not
    /// balancing until enabled).
    #[serde(default = "PlacementPolicy::upgraded")]
    placement: PlacementPolicy,
}

impl<'a> Metadata<'a> {
    /// The metadata of `state`, borrowing it.
    pub fn of(state: &'a MetaState) -> Metadata<'a> {
        Metadata {
            next_node_id: state.next_node_id(),
            next_shard_group_id: state.next_shard_group_id(),
            next_shard_id: state.next_shard_id(),
            data_nodes: Cow::Borrowed(state.data_nodes()),
            meta_nodes: Cow::Borrowed(state.meta_nodes()),
            databases: Cow::Borrowed(state.databases()),
            next_task_id: state.next_task_id(),
            copy_tasks: Cow::Borrowed(state.tasks()),
            unwritten_shards: Cow::Borrowed(state.unwritten_shards()),
            cluster: state.cluster().cloned(),
            placement: state.placement().clone(),
        }
    }

    /// Data nodes by ID, removed ones included.
    pub fn data_nodes(&self) -> &BTreeMap<NodeId, DataNode> {
        &self.data_nodes
    }

    /// Meta nodes by ID.
    pub fn meta_nodes(&self) -> &BTreeMap<NodeId, MetaNode> {
        &self.meta_nodes
    }

    /// Databases by name.
    pub fn databases(&self) -> &BTreeMap<String, Database> {
        &self.databases
    }

    /// Number of shards in every group, deleted groups included.
    pub fn shard_count(&self) -> usize {
        let groups = self.databases.values().flat_map(|db| db.retention_policies.values());
        groups.flat_map(|rp| rp.shard_groups.values()).map(|g| g.shards.len()).sum()
    }

    /// The snapshot record holding this metadata.
    pub fn into_record(self) -> MetadataRecord {
        MetadataRecord {
            next_node_id: self.next_node_id,
            next_shard_group_id: self.next_shard_group_id,
            next_shard_id: self.next_shard_id,
            data_nodes: self.data_nodes.into_owned(),
            meta_nodes: self.meta_nodes.into_owned(),
            databases: self.databases.into_owned(),
            next_task_id: self.next_task_id,
            tasks: self.copy_tasks.into_owned(),
            unwritten_shards: self.unwritten_shards.into_owned(),
            cluster: self.cluster,
            placement: self.placement,
            staged_restore: None,
        }
    }

    /// The state holding this metadata, its indexes built (what a data node routes writes by).
    pub fn into_state(self) -> MetaState {
        MetaState::from(self.into_record())
    }

    /// An owned copy, free of the state it may borrow (e.g. to keep or to build a reply by hand).
    pub fn into_owned(self) -> Metadata<'static> {
        Metadata {
            data_nodes: Cow::Owned(self.data_nodes.into_owned()),
            meta_nodes: Cow::Owned(self.meta_nodes.into_owned()),
            databases: Cow::Owned(self.databases.into_owned()),
            copy_tasks: Cow::Owned(self.copy_tasks.into_owned()),
            unwritten_shards: Cow::Owned(self.unwritten_shards.into_owned()),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_model::{Command, LeaderFacts, RetentionPolicySpec};

    fn state() -> MetaState {
        let mut state = MetaState::new();
        let commands = [
            Command::AddDataNode {
                tcp_addr: "d1:8088".into(),
                http_addr: "d1:8086".into(),
                labels: Default::default(),
            },
            Command::AddMetaNode { node_id: None, addr: "m1:8091".into() },
            Command::CreateDatabase {
                name: "db".into(),
                default_retention_policy: Some(RetentionPolicySpec {
                    name: "rp".into(),
                    duration: 0,
                    shard_group_duration: None,
                    replication_factor: 1,
                }),
            },
            Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: 0 },
        ];
        for command in commands {
            let command = command.stamp(|| LeaderFacts { now: 0, live_data_nodes: None });
            state.apply(&command).expect("applies");
        }
        state
    }

    #[test]
    fn the_body_round_trips_to_the_same_state() {
        let state = state();
        let json = serde_json::to_vec(&Metadata::of(&state)).expect("serializes");
        let read: Metadata<'static> = serde_json::from_slice(&json).expect("reads");
        assert_eq!(read.shard_count(), state.shard_count());
        assert_eq!(read.meta_nodes(), state.meta_nodes());
        assert_eq!(read.into_state(), state);
    }

    #[test]
    fn the_body_keeps_the_fields_of_the_record_it_once_was() {
        let state = state();
        assert_eq!(state.unwritten_shards().len(), 1);
        let body = serde_json::to_value(Metadata::of(&state)).expect("serializes");
        let mut record = serde_json::to_value(state.to_record()).expect("serializes");
        // A restore arriving in parts is the cluster's own business, never in a backup's body.
        let staged = record.as_object_mut().expect("an object").remove("staged_restore");
        assert_eq!(staged, Some(serde_json::Value::Null));
        assert_eq!(body, record, "data nodes and backups of earlier releases read and write this shape");
        let mut older = body;
        older.as_object_mut().expect("an object").remove("copy_tasks");
        older.as_object_mut().expect("an object").remove("unwritten_shards");
        let read: Metadata<'static> = serde_json::from_value(older).expect("tasks and marks are optional");
        let read = read.into_state();
        assert_eq!(read.databases(), state.databases());
        assert!(read.unwritten_shards().is_empty(), "a body without marks: every shard may hold data");
    }
}
