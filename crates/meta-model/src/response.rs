//! What applying a command returns when it is accepted.

use serde::{Deserialize, Serialize};

use crate::error::ApplyError;
use crate::model::node::{DataNode, MetaNode};
use crate::model::placement_policy::PlacementPolicy;
use crate::model::shard_group::{ShardGroup, ShardGroupId, ShardId, Timestamp};
use crate::model::task::Task;

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
    Task(Task),
    /// Copy tasks the command touched (claimed, expired, superseded).
    Tasks(Vec<Task>),
    /// The outcome of creating a batch of copy tasks: each spec is checked on its own.
    CopyTasksCreated {
        /// The tasks created, in the order of their specs.
        created: Vec<Task>,
        /// The specs refused, with why.
        rejected: Vec<RejectedCopyTask>,
    },
    /// The result of each command of a `Command::Batch`, in order.
    Batch(Vec<Result<Response, ApplyError>>),
    /// Shard groups truncated, and when.
    Truncated {
        /// Where the groups now end.
        at: Timestamp,
        /// The groups truncated.
        shard_groups: Vec<ShardGroupId>,
    },
    /// A data node removed (or draining), and the shards it was the last owner of.
    DataNodeRemoved {
        /// The node as it is now.
        node: DataNode,
        /// Shards left without any owner (a forced removal of their last owner).
        ownerless_shards: Vec<ShardId>,
    },
    /// The placement policy as it is now.
    Placement(PlacementPolicy),
}

/// The answer to `RemoveDataNode`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataNodeRemoval {
    /// The node as it is now (removed, or draining).
    pub node: DataNode,
    /// Shards left without any owner, by ID.
    pub ownerless_shards: Vec<ShardId>,
}

/// A copy-task spec that `CreateCopyTasks` refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedCopyTask {
    /// Its position in the command's list.
    pub index: usize,
    /// Why it was refused.
    pub error: ApplyError,
}

/// The created and refused tasks of a `CreateCopyTasks` command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedCopyTasks {
    /// The tasks created, in the order of their specs.
    pub created: Vec<Task>,
    /// The specs refused, with why.
    pub refused: Vec<RejectedCopyTask>,
}

/// A shard group as `CreateShardGroup` answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardGroupCreated {
    /// Database name.
    pub database: String,
    /// Retention policy name.
    pub retention_policy: String,
    /// The group.
    pub group: ShardGroup,
    /// Whether this command created it (false when it already existed).
    pub created: bool,
}

/// Shard groups `TruncateHotShardGroups` (or `TruncateShardGroupsAfter`) truncated, and the
/// time it truncated them at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Where the groups now end (the leader's clock plus the delay).
    pub at: Timestamp,
    /// The groups truncated.
    pub shard_groups: Vec<ShardGroupId>,
}

/// An accepted command's [`Response`] in the shape its kind of command answers: the one place
/// where a response is matched against what was asked, so callers get typed answers.
pub trait FromResponse: Sized {
    /// The typed answer, or the response itself when it has another shape (a bug: every kind
    /// of command always answers the same shape).
    fn from_response(response: Response) -> Result<Self, Box<Response>>;
}

macro_rules! from_response {
    ($($ty:ty => $pattern:pat => $value:expr;)*) => {$(
        impl FromResponse for $ty {
            fn from_response(response: Response) -> Result<Self, Box<Response>> {
                match response {
                    $pattern => Ok($value),
                    other => Err(Box::new(other)),
                }
            }
        }
    )*};
}

from_response! {
    () => Response::Done => ();
    DataNode => Response::DataNode(node) => node;
    DataNodeRemoval => Response::DataNodeRemoved { node, ownerless_shards } => DataNodeRemoval { node, ownerless_shards };
    MetaNode => Response::MetaNode(node) => node;
    PlacementPolicy => Response::Placement(policy) => policy;
    Task => Response::Task(task) => task;
    Vec<Task> => Response::Tasks(tasks) => tasks;
    Vec<ShardGroupId> => Response::ShardGroupIds(ids) => ids;
    CreatedCopyTasks => Response::CopyTasksCreated { created, rejected } => CreatedCopyTasks { created, refused: rejected };
    Truncation => Response::Truncated { at, shard_groups } => Truncation { at, shard_groups };
    ShardGroupCreated => Response::ShardGroup { database, retention_policy, group, created } =>
        ShardGroupCreated { database, retention_policy, group, created };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_converts_only_to_its_own_shape() {
        assert_eq!(<Vec<ShardGroupId>>::from_response(Response::ShardGroupIds(vec![3])), Ok(vec![3]));
        assert_eq!(Task::from_response(Response::Done), Err(Box::new(Response::Done)));
        assert_eq!(<()>::from_response(Response::Done), Ok(()));
    }
}
