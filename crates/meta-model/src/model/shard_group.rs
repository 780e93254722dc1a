//! Shard groups and their shards.

use serde::{Deserialize, Serialize};

use crate::model::node::NodeId;

/// Identifier of a shard group.
pub type ShardGroupId = u64;
/// Identifier of a shard.
pub type ShardId = u64;
/// A point in time: nanoseconds since the Unix epoch, as in InfluxDB.
pub type Timestamp = i64;

/// This process's wall clock as a [`Timestamp`] (saturating; 0 before the epoch): for proposers
/// stamping commands and for clients. `apply` never reads it: time reaches the state machine only
/// inside commands (the property tests would catch replicas disagreeing).
pub fn wall_clock() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::try_from(since.as_nanos()).unwrap_or(Timestamp::MAX)
}

/// The earliest timestamp a shard group may cover (InfluxDB's `MinNanoTime`).
pub const MIN_TIMESTAMP: Timestamp = i64::MIN + 2;
/// The latest timestamp a shard group may cover (InfluxDB's `MaxNanoTime`).
pub const MAX_TIMESTAMP: Timestamp = i64::MAX - 1;

/// The shards of one database / retention policy for one time range `[start, end)`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardGroup {
    /// The group's ID.
    pub id: ShardGroupId,
    /// Inclusive start of the time range.
    pub start: Timestamp,
    /// Exclusive end of the time range.
    pub end: Timestamp,
    /// Set by `truncate-shards`: no point at or after this time is written here any more.
    pub truncated_at: Option<Timestamp>,
    /// Set when retention (or dropping its last shard) deleted the group.
    pub deleted_at: Option<Timestamp>,
    /// The group's shards; points are spread across them by series.
    pub shards: Vec<Shard>,
}

impl ShardGroup {
    /// End of the range still accepting points: `end`, or the truncation time if earlier, but
    /// never before `start` (a group truncated before it began covers nothing).
    pub fn effective_end(&self) -> Timestamp {
        let end = self.truncated_at.map_or(self.end, |t| t.min(self.end));
        end.max(self.start)
    }

    /// Whether `t` falls in the range still accepting points.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.effective_end()
    }

    /// Whether retention or a drop deleted the group.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether the group has been truncated.
    pub fn is_truncated(&self) -> bool {
        self.truncated_at.is_some()
    }
}

/// One shard and the data nodes that own a copy of it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// The shard's ID.
    pub id: ShardId,
    /// Owners, sorted by node ID, without duplicates.
    pub owners: Vec<NodeId>,
}
