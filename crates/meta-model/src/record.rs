//! [`MetadataRecord`]: the persisted form of the metadata — its canonical data, without the
//! indexes derived from it. Snapshots, backups and the restore command carry it; `MetaState`
//! encodes to exactly these fields in this order (borrowing them) and decodes from them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::CodecError;
use crate::model::cluster::ClusterIdentity;
use crate::model::database::Database;
use crate::model::node::{DataNode, MetaNode, NodeId};
use crate::model::placement_policy::PlacementPolicy;
use crate::model::shard_group::{ShardGroupId, ShardId};
use crate::model::staged_restore::StagedRestore;
use crate::model::task::{Task, TaskId};

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
    /// Tasks kept, by ID. (Named `copy_tasks` in JSON, as before task kinds existed, so backups
    /// and data nodes of earlier releases read it.)
    #[serde(rename = "copy_tasks")]
    pub tasks: BTreeMap<TaskId, Task>,
    /// Shards that never acknowledged a write. Absent (empty) in records of format 2 and in
    /// older backups: every shard of those counts as written, the safe side.
    #[serde(default)]
    pub unwritten_shards: BTreeSet<ShardId>,
    /// The cluster's identity. Absent in records of formats 2 and 3 and in older backups.
    #[serde(default)]
    pub cluster: Option<ClusterIdentity>,
    /// How shards are placed. Absent in records of formats 2 to 4 and in older backups:
    /// [`PlacementPolicy::upgraded`], which spreads owners by the `zone` label as those releases
    /// did and does not balance until enabled.
    #[serde(default = "PlacementPolicy::upgraded")]
    pub placement: PlacementPolicy,
    /// A restore arriving in parts, between its first and last part; none in records of formats
    /// 2 to 6. Never restored from a backup.
    #[serde(default)]
    pub staged_restore: Option<StagedRestore>,
}

impl MetadataRecord {
    /// Decodes a record written by [`crate::codec::encode`] of this or an older readable format,
    /// migrating older shapes.
    ///
    /// # Errors
    /// [`CodecError`] when the bytes are no record of a readable format.
    pub fn decode(what: &'static str, bytes: &[u8]) -> Result<Self, CodecError> {
        codec::decode_migrating(what, bytes, |version, body| match version {
            2 => codec::decode_body::<v2::MetadataRecord>(what, body).map(MetadataRecord::from),
            3 => codec::decode_body::<v3::MetadataRecord>(what, body).map(|old| v4::MetadataRecord::from(old).into()),
            4 => codec::decode_body::<v4::MetadataRecord>(what, body).map(MetadataRecord::from),
            5 => codec::decode_body::<v5::MetadataRecord>(what, body).map(MetadataRecord::from),
            6 => codec::decode_body::<v6::MetadataRecord>(what, body).map(MetadataRecord::from),
            found => Err(CodecError::UnsupportedFormat { what, found, supported: codec::FORMAT_VERSION }),
        })
    }
}

/// Format 2 to the current one, through each format between.
impl From<v2::MetadataRecord> for MetadataRecord {
    fn from(old: v2::MetadataRecord) -> MetadataRecord {
        v4::MetadataRecord::from(v3::MetadataRecord::from(old)).into()
    }
}

/// The record as format 2 wrote it, before tasks had kinds: read from snapshots, backups and
/// restore log entries of that format, never written.
pub(crate) mod v2 {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use crate::model::database::Database;
    use crate::model::node::{DataNode, MetaNode, NodeId};
    use crate::model::shard_group::{ShardGroupId, ShardId, Timestamp};
    use crate::model::task::{CancelReason, Task, TaskId, TaskKind, TaskSpec, TaskState};

    /// [`super::MetadataRecord`] of format 2: the same fields, tasks without a kind.
    #[allow(missing_docs)]
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MetadataRecord {
        pub next_node_id: NodeId,
        pub next_shard_group_id: ShardGroupId,
        pub next_shard_id: ShardId,
        pub data_nodes: BTreeMap<NodeId, DataNode>,
        pub meta_nodes: BTreeMap<NodeId, MetaNode>,
        pub databases: BTreeMap<String, Database>,
        pub next_task_id: TaskId,
        pub copy_tasks: BTreeMap<TaskId, CopyTask>,
    }

    /// A task of format 2: every task was a copy.
    #[allow(missing_docs)]
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CopyTask {
        pub id: TaskId,
        pub spec: TaskSpec,
        pub state: TaskState,
        pub attempt: u32,
        pub lease_deadline: Option<Timestamp>,
        pub failures: u32,
        pub retry_at: Option<Timestamp>,
        pub last_error: Option<String>,
        pub cancel_reason: Option<CancelReason>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }

    impl From<CopyTask> for Task {
        fn from(old: CopyTask) -> Task {
            Task {
                kind: TaskKind::Copy,
                id: old.id,
                spec: old.spec,
                state: old.state,
                attempt: old.attempt,
                lease_deadline: old.lease_deadline,
                failures: old.failures,
                retry_at: old.retry_at,
                last_error: old.last_error,
                cancel_reason: old.cancel_reason,
                created_at: old.created_at,
                updated_at: old.updated_at,
            }
        }
    }

    /// Format 2 to 3: every task a copy; no shard known unwritten (all may hold data).
    impl From<MetadataRecord> for super::v3::MetadataRecord {
        fn from(old: MetadataRecord) -> super::v3::MetadataRecord {
            super::v3::MetadataRecord {
                next_node_id: old.next_node_id,
                next_shard_group_id: old.next_shard_group_id,
                next_shard_id: old.next_shard_id,
                data_nodes: old.data_nodes,
                meta_nodes: old.meta_nodes,
                databases: old.databases,
                next_task_id: old.next_task_id,
                tasks: old.copy_tasks.into_iter().map(|(id, task)| (id, Task::from(task))).collect(),
                unwritten_shards: Default::default(),
            }
        }
    }
}

/// The record as format 3 wrote it, before clusters had an identity: read from snapshots,
/// backups and restore log entries of that format, never written.
pub(crate) mod v3 {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::{Deserialize, Serialize};

    use crate::model::database::Database;
    use crate::model::node::{DataNode, MetaNode, NodeId};
    use crate::model::shard_group::{ShardGroupId, ShardId};
    use crate::model::task::{Task, TaskId};

    /// [`super::MetadataRecord`] of format 3: the same fields but the cluster's identity.
    #[allow(missing_docs)]
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MetadataRecord {
        pub next_node_id: NodeId,
        pub next_shard_group_id: ShardGroupId,
        pub next_shard_id: ShardId,
        pub data_nodes: BTreeMap<NodeId, DataNode>,
        pub meta_nodes: BTreeMap<NodeId, MetaNode>,
        pub databases: BTreeMap<String, Database>,
        pub next_task_id: TaskId,
        pub tasks: BTreeMap<TaskId, Task>,
        pub unwritten_shards: BTreeSet<ShardId>,
    }

    /// Format 3 to 4: no cluster identity yet.
    impl From<MetadataRecord> for super::v4::MetadataRecord {
        fn from(old: MetadataRecord) -> super::v4::MetadataRecord {
            super::v4::MetadataRecord {
                next_node_id: old.next_node_id,
                next_shard_group_id: old.next_shard_group_id,
                next_shard_id: old.next_shard_id,
                data_nodes: old.data_nodes,
                meta_nodes: old.meta_nodes,
                databases: old.databases,
                next_task_id: old.next_task_id,
                tasks: old.tasks,
                unwritten_shards: old.unwritten_shards,
                cluster: None,
                placement: (),
            }
        }
    }
}

/// The record as formats 4 to 6 wrote it: the current fields but the staged restore, with the
/// placement policy of its format (`P`). Read from snapshots, backups and restore log entries of
/// those formats, never written.
pub(crate) mod with_policy {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::{Deserialize, Serialize};

    use crate::model::cluster::ClusterIdentity;
    use crate::model::database::Database;
    use crate::model::node::{DataNode, MetaNode, NodeId};
    use crate::model::placement_policy::PlacementPolicy;
    use crate::model::shard_group::{ShardGroupId, ShardId};
    use crate::model::task::{Task, TaskId};

    /// [`super::MetadataRecord`] with the placement policy `P` of an older format.
    #[allow(missing_docs)]
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MetadataRecord<P> {
        pub next_node_id: NodeId,
        pub next_shard_group_id: ShardGroupId,
        pub next_shard_id: ShardId,
        pub data_nodes: BTreeMap<NodeId, DataNode>,
        pub meta_nodes: BTreeMap<NodeId, MetaNode>,
        pub databases: BTreeMap<String, Database>,
        pub next_task_id: TaskId,
        pub tasks: BTreeMap<TaskId, Task>,
        pub unwritten_shards: BTreeSet<ShardId>,
        pub cluster: Option<ClusterIdentity>,
        pub placement: P,
    }

    /// An older format's placement policy as the current one.
    pub trait OlderPolicy {
        /// The current policy holding what this one held, the rest by default.
        fn upgrade(self) -> PlacementPolicy;
    }

    impl<P: OlderPolicy> From<MetadataRecord<P>> for super::MetadataRecord {
        fn from(old: MetadataRecord<P>) -> super::MetadataRecord {
            super::MetadataRecord {
                next_node_id: old.next_node_id,
                next_shard_group_id: old.next_shard_group_id,
                next_shard_id: old.next_shard_id,
                data_nodes: old.data_nodes,
                meta_nodes: old.meta_nodes,
                databases: old.databases,
                next_task_id: old.next_task_id,
                tasks: old.tasks,
                unwritten_shards: old.unwritten_shards,
                cluster: old.cluster,
                placement: old.placement.upgrade(),
                staged_restore: None,
            }
        }
    }
}

/// The record as format 4 wrote it, before the placement policy (`()` encodes to nothing).
pub(crate) mod v4 {
    use super::with_policy::OlderPolicy;
    use crate::model::placement_policy::PlacementPolicy;

    /// [`super::MetadataRecord`] of format 4: the same fields but the placement policy.
    pub(crate) type MetadataRecord = super::with_policy::MetadataRecord<()>;

    /// Format 4 had no policy: the default hierarchy, which spreads owners by `zone` as that
    /// release did, and balancing off until enabled ([`crate::BalancePolicy::upgraded`]).
    impl OlderPolicy for () {
        fn upgrade(self) -> PlacementPolicy {
            PlacementPolicy::upgraded()
        }
    }
}

/// The record as format 5 wrote it, before the balance policy.
pub(crate) mod v5 {
    use serde::{Deserialize, Serialize};

    use super::with_policy::OlderPolicy;
    use crate::model::placement_policy::{BalancePolicy, PlacementPolicy as Current};

    /// [`super::MetadataRecord`] of format 5: the same fields; its placement policy lacks the
    /// balance policy.
    pub(crate) type MetadataRecord = super::with_policy::MetadataRecord<PlacementPolicy>;

    /// [`Current`] of format 5: the failure-domain hierarchy alone.
    #[allow(missing_docs)]
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub(crate) struct PlacementPolicy {
        pub failure_domains: Vec<String>,
    }

    /// Format 5's hierarchy, balancing off until enabled ([`BalancePolicy::upgraded`]).
    impl OlderPolicy for PlacementPolicy {
        fn upgrade(self) -> Current {
            Current { failure_domains: self.failure_domains, balance: BalancePolicy::upgraded() }
        }
    }
}

/// The record as format 6 wrote it, before restores in parts.
pub(crate) mod v6 {
    use super::with_policy::OlderPolicy;
    use crate::model::placement_policy::PlacementPolicy;

    /// [`super::MetadataRecord`] of format 6: the same fields but the staged restore.
    pub(crate) type MetadataRecord = super::with_policy::MetadataRecord<PlacementPolicy>;

    /// Format 6's placement policy is the current one.
    impl OlderPolicy for PlacementPolicy {
        fn upgrade(self) -> PlacementPolicy {
            self
        }
    }
}
