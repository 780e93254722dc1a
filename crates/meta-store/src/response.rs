//! What applying a command returns when it is accepted.

use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::model::copy_task::CopyTask;
use crate::model::node::{DataNode, MetaNode};
use crate::model::shard_group::{ShardGroup, ShardGroupId};

/// The result of an accepted command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Accepted; nothing to report.
    Done,
    /// The data node as it is now.
    DataNode(DataNode),
    /// The meta node as it is now.
    MetaNode(MetaNode),
    /// A shard group and where it lives.
    ShardGroup {
        /// Database name.
        database: String,
        /// Retention policy name.
        retention_policy: String,
        /// The group.
        group: ShardGroup,
        /// Whether this command created it (false when it already existed).
        created: bool,
    },
    /// IDs of the shard groups the command touched.
    ShardGroupIds(Vec<ShardGroupId>),
    /// A copy task as it is now.
    CopyTask(CopyTask),
    /// Copy tasks the command touched (claimed, expired, superseded).
    CopyTasks(Vec<CopyTask>),
    /// The outcome of creating a batch of copy tasks: each spec is checked on its own.
    CopyTasksCreated {
        /// The tasks created, in the order of their specs.
        created: Vec<CopyTask>,
        /// The specs refused, with why.
        rejected: Vec<RejectedCopyTask>,
    },
    /// The result of each command of a `Command::Batch`, in order.
    Batch(Vec<Result<Response, ApplyError>>),
}

/// A copy-task spec that `CreateCopyTasks` refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedCopyTask {
    /// Its position in the command's list.
    pub index: usize,
    /// Why it was refused.
    pub error: ApplyError,
}
