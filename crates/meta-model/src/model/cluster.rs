//! [`ClusterIdentity`]: what names one cluster, made once by its first leader
//! ([`crate::Command::InitCluster`]) and never changed (a restore adopts the backup's).

use serde::{Deserialize, Serialize};

use crate::model::shard_group::ShardGroupId;

/// The identity of a cluster.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterIdentity {
    /// A random 128-bit ID as 32 lowercase hex digits. Data nodes stamp it into the header of
    /// every shard file, so a file of another cluster is never taken for one of this cluster's
    /// shards (shard IDs start at 1 in every cluster).
    pub id: String,
    /// Shard groups with this ID or a higher one route a point to one of their shards by its
    /// canonical series key (measurement and tags sorted by key, as InfluxDB builds it); older
    /// groups by the series key as the point was written, the rule their data was stored by.
    pub canonical_routing_from: ShardGroupId,
}

impl ClusterIdentity {
    /// Whether `group` routes points by their canonical series key.
    pub fn routes_canonically(&self, group: ShardGroupId) -> bool {
        group >= self.canonical_routing_from
    }
}

/// Why `id` cannot be a cluster ID (`None` when it can): 32 lowercase hex digits.
pub(crate) fn invalid_cluster_id(id: &str) -> Option<&'static str> {
    if id.len() != 32 {
        return Some("must be 32 hex digits");
    }
    if !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Some("must be lowercase hex digits");
    }
    None
}
