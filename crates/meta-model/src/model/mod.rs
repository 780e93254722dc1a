//! The metadata model: plain data, no I/O.

pub(crate) mod cluster;
pub(crate) mod database;
pub(crate) mod duration;
pub(crate) mod leader_facts;
pub(crate) mod node;
pub(crate) mod placement_policy;
pub(crate) mod point_time;
pub(crate) mod retention_policy;
pub(crate) mod shard_group;
pub(crate) mod staged_restore;
pub(crate) mod task;
