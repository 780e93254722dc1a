//! The identifiers the planner's input and output use (the metadata's, as plain integers).

/// Identifier of a data node.
pub type NodeId = u64;
/// Identifier of a shard.
pub type ShardId = u64;
/// Identifier of a copy task.
pub type TaskId = u64;
