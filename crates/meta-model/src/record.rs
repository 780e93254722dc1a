//! [`MetadataRecord`]: the persisted form of the metadata — its canonical data, without the
//! indexes derived from it. Snapshots, backups and the restore command carry it; `MetaState`
//! encodes to exactly these fields in this order (borrowing them) and decodes from them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::copy_task::{CopyTask, TaskId};
use crate::model::database::Database;
use crate::model::node::{DataNode, MetaNode, NodeId};
use crate::model::shard_group::{ShardGroupId, ShardId};

/// The canonical data of the metadata, as persisted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataRecord {
    /// The next node ID the shared counter hands out.
    pub next_node_id: NodeId,
    /// The next shard group ID.
    pub next_shard_group_id: ShardGroupId,
    /// The next shard ID.
    pub next_shard_id: ShardId,
    /// Data nodes by ID, removed ones included.
    pub data_nodes: BTreeMap<NodeId, DataNode>,
    /// Meta nodes by ID.
    pub meta_nodes: BTreeMap<NodeId, MetaNode>,
    /// Databases by name, with their policies, groups, shards and owners.
    pub databases: BTreeMap<String, Database>,
    /// The next copy task ID.
    pub next_task_id: TaskId,
    /// Copy tasks kept, by ID.
    pub copy_tasks: BTreeMap<TaskId, CopyTask>,
}
