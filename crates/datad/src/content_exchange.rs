//! Comparing this node's copy of a shard with a peer's by their content trees
//! ([`crate::content_tree`]): the roots first, then, level by level, only the children of nodes
//! that differ, one request per level, until the differing leaves (time slices × series buckets)
//! are known. Copies that agree cost one digest.
//!
//! ```text
//!  compare(shard, peer) ──► POST peer/shards/{id}/content {nodes: [root]}
//!                       ◄── digests ── differ? ──► children of the differing nodes, next level …
//!                       ──► leaves that differ: their time ranges and series buckets
//! ```

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use meta_model::ShardId;
use meta_wire::{CompareReply, ContentReply, DifferingRange, ShardContent};

use crate::content_tree::{children_of, NodeId, DEPTH};
use crate::error::ApiError;
use crate::node::Node;

/// Body of `POST /shards/{id}/content`: the tree nodes whose digests are wanted, as
/// `[level, index]` pairs (level 0 is the root, 10 the leaves).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ContentRequest {
    /// The nodes.
    #[serde(default)]
    pub(crate) nodes: Vec<(u32, usize)>,
    /// Leaves whose point hashes are wanted.
    #[serde(default)]
    pub(crate) leaves: Vec<usize>,
}

impl ContentRequest {
    /// The nodes, checked to exist in the tree.
    pub(crate) fn node_ids(&self) -> Result<Vec<NodeId>, ApiError> {
        self.nodes
            .iter()
            .map(|&(level, index)| {
                if level > DEPTH || index >= 1 << level {
                    let message =
                        format!("nodes: no node {index} at level {level} (levels 0..={DEPTH}, 2^level nodes each)");
                    return Err(ApiError::bad_request("invalid_node", message));
                }
                Ok(NodeId { level, index })
            })
            .collect()
    }
}

/// Body of `POST /shards/{id}/points`: which points' stored lines are wanted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct PointsRequest {
    /// The leaves the points are in.
    #[serde(default)]
    pub(crate) leaves: Vec<usize>,
    /// The points' hashes.
    #[serde(default)]
    pub(crate) hashes: Vec<u64>,
}

/// The leaves where this node's tree of `shard_id` and `peer`'s differ, with both content
/// digests and the digests asked for.
pub(crate) struct Exchange {
    /// This node's content digest.
    pub(crate) ours: ShardContent,
    /// The peer's.
    pub(crate) theirs: ShardContent,
    /// The differing leaves, ascending.
    pub(crate) leaves: Vec<usize>,
    /// Digests asked for.
    pub(crate) asked: u64,
}

fn not_held(shard_id: ShardId) -> ApiError {
    ApiError::not_found("shard_not_found", format!("this node holds no copy of shard {shard_id}"))
}

/// Walks both trees of `shard_id` down to the leaves that differ (see the module docs).
pub(crate) async fn exchange(node: &Node, shard_id: ShardId, peer: &str) -> Result<Exchange, ApiError> {
    let (ours, _, _) = node.store.content(shard_id, &[], &[]).ok_or_else(|| not_held(shard_id))?;
    let theirs = ask(node, peer, shard_id, &ContentRequest::default()).await?.content;
    let mut asked = 1;
    let mut differing = if ours.root == theirs.root { Vec::new() } else { vec![NodeId::ROOT] };
    while differing.first().is_some_and(|n| n.level < DEPTH) {
        let nodes = children_of(&differing);
        asked += nodes.len() as u64;
        let request = ContentRequest { nodes: nodes.iter().map(|n| (n.level, n.index)).collect(), leaves: Vec::new() };
        let reply = ask(node, peer, shard_id, &request).await?;
        if reply.digests.len() != nodes.len() {
            let message = format!("{peer}: {} digests for {} nodes", reply.digests.len(), nodes.len());
            return Err(ApiError::new(StatusCode::BAD_GATEWAY, "peer_failed", message));
        }
        differing = node.store.still_differing(shard_id, &nodes, &reply.digests).ok_or_else(|| not_held(shard_id))?;
    }
    // The nodes left are at the leaves' level.
    let leaves = differing.iter().map(|n| n.index).collect();
    Ok(Exchange { ours, theirs, leaves, asked })
}

/// Where this node's copy of `shard_id` and `peer`'s differ.
pub(crate) async fn compare(node: &Node, shard_id: ShardId, peer: &str) -> Result<CompareReply, ApiError> {
    let Exchange { ours, theirs, leaves, asked } = exchange(node, shard_id, peer).await?;
    let differing: Vec<DifferingRange> = leaves
        .iter()
        .filter_map(|&leaf| node.store.leaf_range(shard_id, leaf))
        .map(|r| DifferingRange { start: r.start, end: r.end, series_bucket: r.series_bucket as u32 })
        .collect();
    Ok(CompareReply {
        ours,
        theirs,
        peer: peer.to_owned(),
        consistent: differing.is_empty() && ours.root == theirs.root,
        differing,
        digests_exchanged: asked,
    })
}

/// Whether `peer`'s copy of `shard_id` holds every point of this node's: the trees are compared,
/// then the point hashes of the differing leaves.
pub(crate) async fn covered_by(node: &Node, shard_id: ShardId, peer: &str) -> Result<bool, ApiError> {
    let Exchange { leaves, .. } = exchange(node, shard_id, peer).await?;
    if leaves.is_empty() {
        return Ok(true);
    }
    let (ours, theirs) = leaf_points(node, shard_id, peer, &leaves).await?;
    // Both lists are sorted: ours ⊆ theirs, leaf by leaf.
    Ok(ours.iter().zip(&theirs).all(|(ours, theirs)| ours.iter().all(|h| theirs.binary_search(h).is_ok())))
}

/// The point hashes of `leaves` in this node's copy of `shard_id` and in `peer`'s, each list
/// sorted, leaf by leaf.
pub(crate) async fn leaf_points(
    node: &Node,
    shard_id: ShardId,
    peer: &str,
    leaves: &[usize],
) -> Result<(Vec<Vec<u64>>, Vec<Vec<u64>>), ApiError> {
    let reply = ask(node, peer, shard_id, &ContentRequest { nodes: Vec::new(), leaves: leaves.to_vec() }).await?;
    let (_, _, ours) = node.store.content(shard_id, &[], leaves).ok_or_else(|| not_held(shard_id))?;
    if reply.leaf_points.len() != leaves.len() {
        let message = format!("{peer}: {} leaves for {} asked", reply.leaf_points.len(), leaves.len());
        return Err(ApiError::new(StatusCode::BAD_GATEWAY, "peer_failed", message));
    }
    Ok((ours, reply.leaf_points))
}

/// What `peer` answers for its tree of `shard_id`.
async fn ask(node: &Node, peer: &str, shard_id: ShardId, request: &ContentRequest) -> Result<ContentReply, ApiError> {
    let url = format!("{}/shards/{shard_id}/content", node.peer_url(peer));
    let failed = |what: String| ApiError::new(StatusCode::BAD_GATEWAY, "peer_failed", format!("{url}: {what}"));
    let response = node.peers.post(&url).json(request).send().await.map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(failed(format!("{status}: {}", response.text().await.unwrap_or_default())));
    }
    response.json().await.map_err(|e| failed(e.to_string()))
}
