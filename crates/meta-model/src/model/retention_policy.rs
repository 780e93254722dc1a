//! Retention policies: how long data lives, how it is split in time, and how many copies exist.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::duration::{DAY, HOUR, WEEK};
use crate::model::shard_group::{ShardGroup, ShardGroupId};

/// The shortest retention (and shard-group) duration accepted, as in InfluxDB.
pub const MIN_DURATION: u64 = HOUR;

/// A retention policy of one database.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Name, unique within its database.
    pub name: String,
    /// How long data is kept, in nanoseconds; 0 keeps it forever.
    pub duration: u64,
    /// Time span of one shard group, in nanoseconds.
    pub shard_group_duration: u64,
    /// Number of copies of every shard.
    pub replication_factor: u32,
    /// Shard groups by ID (deleted ones stay until pruned, so data nodes can see the deletion).
    pub shard_groups: BTreeMap<ShardGroupId, ShardGroup>,
}

impl RetentionPolicy {
    /// The shard-group duration InfluxDB picks for a retention duration (0 means forever).
    pub fn default_shard_group_duration(duration: u64) -> u64 {
        match duration {
            0 => WEEK,
            d if d < 2 * DAY => HOUR,
            d if d < 180 * DAY => DAY,
            _ => WEEK,
        }
    }

    /// The live (not deleted) shard groups.
    pub fn live_groups(&self) -> impl Iterator<Item = &ShardGroup> {
        self.shard_groups.values().filter(|g| !g.is_deleted())
    }
}

/// What a client asks for when it creates a retention policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicySpec {
    /// Name of the policy.
    pub name: String,
    /// Retention in nanoseconds; 0 keeps data forever.
    pub duration: u64,
    /// Shard-group duration in nanoseconds; `None` picks the InfluxDB default for `duration`.
    pub shard_group_duration: Option<u64>,
    /// Number of copies of every shard.
    pub replication_factor: u32,
}

/// A change to an existing retention policy; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicyUpdate {
    /// New retention in nanoseconds.
    pub duration: Option<u64>,
    /// New shard-group duration in nanoseconds (applies to groups created afterwards).
    pub shard_group_duration: Option<u64>,
    /// New replication factor (anti-entropy brings existing shards to it).
    pub replication_factor: Option<u32>,
    /// Make this the database's default policy.
    pub make_default: bool,
}
