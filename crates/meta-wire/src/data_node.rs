//! What a data node (`datad`) serves to operators and tools: `GET /status`.

use serde::{Deserialize, Serialize};

use meta_model::{NodeId, ShardId, TaskId};

/// A shard file's size and digest, as a data node reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// The shard.
    pub shard_id: ShardId,
    /// Bytes in its file.
    pub size: u64,
    /// Digest of the whole file (xxh3-64): equal files, equal bytes.
    pub checksum: u64,
}

/// The content digest of a shard on a data node: independent of the order its points arrived in,
/// of duplicates and of the file layout (equal point sets, equal roots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardContent {
    /// The shard.
    pub shard_id: ShardId,
    /// Distinct points held.
    pub points: u64,
    /// Root of the shard's Merkle tree over time slices and series (0 when empty).
    pub root: u64,
}

/// `GET /shards/{id}/content?nodes=LEVEL:INDEX,...` of a data node: its content digest of a shard
/// and the digests of the tree nodes asked for (in the order asked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentReply {
    /// The shard's content digest.
    #[serde(flatten)]
    pub content: ShardContent,
    /// The digests of the nodes asked for.
    pub digests: Vec<u64>,
    /// The sorted point hashes of each leaf asked for.
    #[serde(default)]
    pub leaf_points: Vec<Vec<u64>>,
}

/// Points of one time slice and series bucket of a shard, where two copies differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DifferingRange {
    /// Inclusive start of the time slice (nanoseconds).
    pub start: i64,
    /// Exclusive end of the time slice.
    pub end: i64,
    /// The series bucket (0..16, by a hash of the series key).
    pub series_bucket: u32,
}

/// `GET /shards/{id}/compare?peer=HOST:PORT` of a data node: where its copy and the peer's differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareReply {
    /// This node's content digest of the shard.
    pub ours: ShardContent,
    /// The peer's.
    pub theirs: ShardContent,
    /// The peer compared with.
    pub peer: String,
    /// Whether both copies hold the same points.
    pub consistent: bool,
    /// Where they differ.
    pub differing: Vec<DifferingRange>,
    /// Digests the exchange asked the peer for (logarithmic in the tree's size per differing range).
    pub digests_exchanged: u64,
}

/// `GET /status` of a data node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataNodeStatus {
    /// The node's ID while registered.
    pub node_id: Option<NodeId>,
    /// Whether the node is registered (heartbeating, claiming tasks).
    pub registered: bool,
    /// The address it is registered under.
    pub addr: String,
    /// The metadata index its cache reflects.
    pub metadata_index: Option<u64>,
    /// Its inventory version.
    pub inventory_version: u64,
    /// The shards it holds.
    pub shards: Vec<ShardSummary>,
    /// Copy tasks it is working on.
    pub running_tasks: Vec<TaskId>,
    /// Bytes of partial copies no task works on (killed or moved copies): deleted once their
    /// `--partial-ttl` has passed.
    #[serde(default)]
    pub reclaimable_bytes: u64,
    /// Its hinted-handoff queues, by target.
    #[serde(default)]
    pub handoff: Vec<crate::HandoffQueueReport>,
    /// Files in its shard directory it does not use (see [`crate::OrphanShardFile`]).
    #[serde(default)]
    pub orphans: Vec<crate::OrphanShardFile>,
    /// Shard files the cluster no longer keeps here, waiting out `--shard-delete-grace`.
    #[serde(default)]
    pub retiring: Vec<RetiringShard>,
    /// The content digest of every shard held.
    #[serde(default)]
    pub content: Vec<ShardContent>,
    /// Shard files deleted since the node started.
    #[serde(default)]
    pub deleted_shards: u64,
    /// Their bytes.
    #[serde(default)]
    pub deleted_bytes: u64,
}

/// Why a data node no longer keeps a shard's file.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetireReason {
    /// Retention deleted the shard's group.
    GroupDeleted,
    /// The shard left the metadata: its database or policy dropped, its group pruned, the shard
    /// removed.
    Dropped,
    /// Other nodes own the shard now (a drain, or a dead owner's replacement).
    NotOwner,
}

/// A shard file waiting for deletion.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringShard {
    /// The shard.
    pub shard_id: ShardId,
    /// Why it goes.
    pub reason: RetireReason,
    /// Its file's size.
    pub bytes: u64,
    /// Milliseconds until it is deleted (0: at the next look, unless a copy holds it).
    pub delete_in_ms: u64,
    /// Why it is kept although its time is up (e.g. no owner holds every point of this copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<String>,
}

impl DataNodeStatus {
    /// Whether the node holds a file of `shard`.
    pub fn holds(&self, shard: ShardId) -> bool {
        self.shards.iter().any(|s| s.shard_id == shard)
    }
}
