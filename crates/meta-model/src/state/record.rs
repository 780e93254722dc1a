//! [`MetaState`] to and from its persisted form, [`MetadataRecord`].
//!
//! Serialization borrows the state (a snapshot of a million shards is not cloned to be written)
//! and lists exactly the record's fields in the record's order; deserialization reads a record and
//! rebuilds the indexes.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MetaState;
use crate::changes::Journal;
use crate::index::{Index, OpenTasks};
use crate::model::copy_task::{CopyTask, TaskId};
use crate::model::database::Database;
use crate::model::node::{DataNode, MetaNode, NodeId};
use crate::model::shard_group::{ShardGroupId, ShardId};
use crate::record::MetadataRecord;
use crate::transient::Transient;

#[derive(Serialize)]
struct StateRecordRef<'a> {
    next_node_id: NodeId,
    next_shard_group_id: ShardGroupId,
    next_shard_id: ShardId,
    data_nodes: &'a BTreeMap<NodeId, DataNode>,
    meta_nodes: &'a BTreeMap<NodeId, MetaNode>,
    databases: &'a BTreeMap<String, Database>,
    next_task_id: TaskId,
    copy_tasks: &'a BTreeMap<TaskId, CopyTask>,
}

impl Serialize for MetaState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StateRecordRef {
            next_node_id: self.next_node_id,
            next_shard_group_id: self.next_shard_group_id,
            next_shard_id: self.next_shard_id,
            data_nodes: &self.data_nodes,
            meta_nodes: &self.meta_nodes,
            databases: &self.databases,
            next_task_id: self.next_task_id,
            copy_tasks: &self.copy_tasks,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MetaState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        MetadataRecord::deserialize(deserializer).map(MetaState::from)
    }
}

impl From<MetadataRecord> for MetaState {
    /// The state of a record, its indexes rebuilt.
    fn from(record: MetadataRecord) -> Self {
        let index = Index::build(&record.databases);
        let open_tasks = OpenTasks::build(&record.copy_tasks);
        MetaState {
            next_node_id: record.next_node_id,
            next_shard_group_id: record.next_shard_group_id,
            next_shard_id: record.next_shard_id,
            data_nodes: record.data_nodes,
            meta_nodes: record.meta_nodes,
            databases: record.databases,
            next_task_id: record.next_task_id,
            copy_tasks: record.copy_tasks,
            index,
            open_tasks,
            journal: Journal::default(),
            facts: Transient::default(),
        }
    }
}

impl MetaState {
    /// The persisted form of this state (a copy of its canonical data).
    pub fn to_record(&self) -> MetadataRecord {
        MetadataRecord {
            next_node_id: self.next_node_id,
            next_shard_group_id: self.next_shard_group_id,
            next_shard_id: self.next_shard_id,
            data_nodes: self.data_nodes.clone(),
            meta_nodes: self.meta_nodes.clone(),
            databases: self.databases.clone(),
            next_task_id: self.next_task_id,
            copy_tasks: self.copy_tasks.clone(),
        }
    }
}
