//! [`MetaState`] to and from its persisted form, [`MetadataRecord`].
//!
//! Serialization borrows the state (a snapshot of a million shards is not cloned to be written)
//! and lists exactly the record's fields in the record's order. A state is read back only through
//! its record (`MetaState::decode`, `MetaState::from(record)`), which rebuilds the indexes: it has
//! no `Deserialize` of its own, so nothing can read a snapshot past its format migration.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Serialize, Serializer};

use super::MetaState;
use crate::changes::Journal;
use crate::error::CodecError;
use crate::index::{Index, OpenTasks};
use crate::model::cluster::ClusterIdentity;
use crate::model::database::Database;
use crate::model::node::{DataNode, MetaNode, NodeId};
use crate::model::placement_policy::PlacementPolicy;
use crate::model::shard_group::{ShardGroupId, ShardId};
use crate::model::staged_restore::StagedRestore;
use crate::model::task::{Task, TaskId};
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
    #[serde(rename = "copy_tasks")]
    tasks: &'a BTreeMap<TaskId, Task>,
    unwritten_shards: &'a BTreeSet<ShardId>,
    cluster: &'a Option<ClusterIdentity>,
    placement: &'a PlacementPolicy,
    staged_restore: &'a Option<StagedRestore>,
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
            tasks: &self.tasks,
            unwritten_shards: &self.unwritten,
            cluster: &self.cluster,
            placement: &self.placement,
            staged_restore: &self.staged_restore,
        }
        .serialize(serializer)
    }
}

impl From<MetadataRecord> for MetaState {
    /// The state of a record, its indexes rebuilt.
    fn from(record: MetadataRecord) -> Self {
        let index = Index::build(&record.databases);
        let open_tasks = OpenTasks::build(&record.tasks);
        MetaState {
            next_node_id: record.next_node_id,
            next_shard_group_id: record.next_shard_group_id,
            next_shard_id: record.next_shard_id,
            data_nodes: record.data_nodes,
            meta_nodes: record.meta_nodes,
            databases: record.databases,
            next_task_id: record.next_task_id,
            tasks: record.tasks,
            unwritten: record.unwritten_shards,
            cluster: record.cluster,
            placement: record.placement,
            staged_restore: record.staged_restore,
            index,
            open_tasks,
            journal: Journal::default(),
            facts: Transient::default(),
            prepared: Transient::default(),
        }
    }
}

impl MetaState {
    /// Decodes a snapshot written by [`crate::codec::encode`] of a state (or of a record) in this
    /// or an older readable format. Snapshots must be read through this, never through
    /// [`crate::codec::decode`]: the record's shape differs between formats.
    ///
    /// # Errors
    /// [`CodecError`] when the bytes are no record of a readable format.
    pub fn decode(what: &'static str, bytes: &[u8]) -> Result<MetaState, CodecError> {
        MetadataRecord::decode(what, bytes).map(MetaState::from)
    }

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
            tasks: self.tasks.clone(),
            unwritten_shards: self.unwritten.clone(),
            cluster: self.cluster.clone(),
            placement: self.placement.clone(),
            staged_restore: self.staged_restore.clone(),
        }
    }
}
