//! Repair tasks: this node (the task's target) and another owner of a shard (its source) end
//! holding the same points, the union of both copies, exchanging only the ranges that differ.
//!
//! ```text
//!  trees compared, a level per request, down to the differing leaves (content_exchange)
//!  point hashes of those leaves, both sides  ─▶  theirs − ours, ours − theirs
//!  POST SOURCE/shards/{id}/points {leaves, hashes: theirs − ours}  ─▶ their lines ─▶ stored here
//!  our lines of ours − theirs ─▶ POST SOURCE/internal/shards/{id}/append (routed like a write)
//!  trees compared again: equal, or the task fails (and is retried)
//! ```
//!
//! Points are `(series, fields, timestamp)`: two records of one series and timestamp with
//! different fields are two points, and the union keeps both on every owner, so the owners end
//! equal whatever order the records arrived in. (InfluxDB resolves such a pair when it reads,
//! field by field, in favour of the later write; a reader of these files resolves it the same way
//! on every owner, since every owner holds both records.)

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use meta_model::ShardId;

use crate::blocking::blocking;
use crate::content_exchange::{self, PointsRequest};
use crate::error::{ApiError, DatadError};
use crate::node::Node;
use crate::routing::Route;
use crate::shard_file::ShardHeader;
use crate::write_path::{append_remotely, Sent};

/// What a repair exchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Repaired {
    /// Leaves (time slice × series bucket) that differed.
    pub(crate) leaves: u64,
    /// Points this node lacked and received.
    pub(crate) fetched: u64,
    /// Points the other owner lacked and received.
    pub(crate) pushed: u64,
    /// Bytes of lines moved, both ways.
    pub(crate) bytes: u64,
    /// Tree digests asked for, both comparisons.
    pub(crate) digests: u64,
}

/// Reconciles this node's copy of `shard_id` with the one at `peer` (`host:port`); `renew` is
/// called between steps with the bytes moved so far (reporting progress renews the task's lease).
pub(crate) async fn reconcile<F, Fut>(
    node: &Arc<Node>,
    shard_id: ShardId,
    peer: &str,
    renew: F,
) -> Result<Repaired, DatadError>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let failed = |error: ApiError| DatadError::Peer { url: peer.to_owned(), message: error.message };
    let found = content_exchange::exchange(node, shard_id, peer).await.map_err(failed)?;
    let mut repaired = Repaired { leaves: found.leaves.len() as u64, digests: found.asked, ..Repaired::default() };
    if found.leaves.is_empty() && found.ours.root == found.theirs.root {
        return Ok(repaired);
    }
    let (ours, theirs) = content_exchange::leaf_points(node, shard_id, peer, &found.leaves).await.map_err(failed)?;
    let (mut lacking_here, mut lacking_there) = (BTreeSet::new(), BTreeSet::new());
    for (ours, theirs) in ours.iter().zip(&theirs) {
        lacking_here.extend(theirs.iter().filter(|h| ours.binary_search(h).is_err()));
        lacking_there.extend(ours.iter().filter(|h| theirs.binary_search(h).is_err()));
    }
    let leaves: BTreeSet<usize> = found.leaves.iter().copied().collect();
    renew(0).await;

    if !lacking_here.is_empty() {
        let lines = fetch_points(node, shard_id, peer, &leaves, &lacking_here).await?;
        repaired.fetched = count_lines(&lines);
        repaired.bytes += lines.len() as u64;
        store_here(node, shard_id, lines).await?;
        renew(repaired.bytes).await;
    }
    if !lacking_there.is_empty() {
        let store = Arc::clone(&node.store);
        let wanted = (leaves.clone(), lacking_there.clone());
        let lines = blocking(move || store.matching_lines(shard_id, &wanted.0, &wanted.1)).await?;
        repaired.pushed = count_lines(&lines);
        repaired.bytes += lines.len() as u64;
        push_there(node, shard_id, peer, lines).await?;
        renew(repaired.bytes).await;
    }
    let after = content_exchange::exchange(node, shard_id, peer).await.map_err(failed)?;
    repaired.digests += after.asked;
    if !after.leaves.is_empty() || after.ours.root != after.theirs.root {
        let message = format!(
            "the copies still differ in {} range(s) after the repair (points written meanwhile?); retried",
            after.leaves.len()
        );
        return Err(DatadError::Peer { url: peer.to_owned(), message });
    }
    Ok(repaired)
}

/// Lines (each ending in a newline) in `lines`.
fn count_lines(lines: &[u8]) -> u64 {
    lines.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The peer's stored lines of the points `hashes` in `leaves`.
async fn fetch_points(
    node: &Node,
    shard_id: ShardId,
    peer: &str,
    leaves: &BTreeSet<usize>,
    hashes: &BTreeSet<u64>,
) -> Result<Vec<u8>, DatadError> {
    let url = format!("{}/shards/{shard_id}/points", node.peer_url(peer));
    let failed = |message: String| DatadError::Peer { url: url.clone(), message };
    let request = PointsRequest { leaves: leaves.iter().copied().collect(), hashes: hashes.iter().copied().collect() };
    let response = node.peers.post(&url).json(&request).send().await.map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("HTTP {status}: {}", response.text().await.unwrap_or_default())));
    }
    Ok(response.bytes().await.map_err(|e| failed(e.to_string()))?.to_vec())
}

/// Stores `lines` in this node's copy as one record (fsynced like any append).
async fn store_here(node: &Arc<Node>, shard_id: ShardId, lines: Vec<u8>) -> Result<(), DatadError> {
    if lines.is_empty() {
        return Ok(());
    }
    let meta = match node.cache.current() {
        Some(meta) => meta,
        None => node.cache.refresh(&node.client).await?,
    };
    let header = ShardHeader::of(&meta.state, shard_id).ok_or_else(|| DatadError::Peer {
        url: "metadata".to_owned(),
        message: format!("shard {shard_id}: the metadata has no such shard, or no cluster identity yet"),
    })?;
    let store = Arc::clone(&node.store);
    blocking(move || store.append(shard_id, &lines, &header)).await.map(drop)
}

/// Sends `lines` to the peer's copy, routed as a write would be (the peer checks the route).
async fn push_there(node: &Arc<Node>, shard_id: ShardId, peer: &str, lines: Vec<u8>) -> Result<(), DatadError> {
    let meta = node.cache.refresh(&node.client).await?;
    let route = Route::of(&meta, shard_id);
    match append_remotely(node, peer, &route, shard_id, Bytes::from(lines)).await {
        Sent::Stored => Ok(()),
        Sent::Misrouted => Err(DatadError::Peer {
            url: peer.to_owned(),
            message: "the other owner refused the points as misrouted (ownership changed meanwhile)".to_owned(),
        }),
        Sent::Rejected(message) | Sent::Failed(message) => Err(DatadError::Peer { url: peer.to_owned(), message }),
    }
}
