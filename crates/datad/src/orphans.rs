//! Which shard files the metadata does not know as this cluster's shards: the orphans a data
//! node keeps, never writes to, never offers as copy sources and never deletes (an operator
//! decides). Identifiers are never trusted alone: a shard number names a file of this cluster's
//! shard only when the file's header says so.

use std::collections::BTreeSet;

use meta_model::{MetaState, ShardId};
use meta_wire::OrphanShardFile;

use crate::shard_file::ShardHeader;
use crate::shard_store::ShardStore;

/// Why a file is no shard of the metadata (see [`orphan_reason`]): a shard of this cluster that
/// the metadata dropped (its ID is below the shard counter, and IDs are never reused). Its file is
/// deleted after the grace when this node saw the drop (`retire.rs`); kept as an orphan otherwise.
pub(crate) const DROPPED: &str = "dropped";

/// Why a file with `header` is no shard of the cluster `state` describes (`None`: it is one):
/// `other_cluster`, `unknown_shard` (a number the metadata has not made), `header_mismatch`, or
/// [`DROPPED`]. Before the metadata has the cluster's identity nothing can be told, and every
/// file counts.
pub(crate) fn orphan_reason(state: &MetaState, header: &ShardHeader) -> Option<&'static str> {
    let cluster = state.cluster()?;
    if header.cluster_id != cluster.id {
        return Some("other_cluster");
    }
    match ShardHeader::of(state, header.shard_id) {
        None if header.shard_id < state.next_shard_id() => Some(DROPPED),
        None => Some("unknown_shard"),
        Some(expected) if !expected.same_shard(header) => Some("header_mismatch"),
        Some(_) => None,
    }
}

/// Whether a file with `header` counts as this cluster's shard by the metadata `state` (every
/// file does before any metadata was read).
pub(crate) fn is_cluster_shard(state: Option<&MetaState>, header: &ShardHeader) -> bool {
    state.is_none_or(|state| orphan_reason(state, header).is_none())
}

/// The orphan files of `store` by the metadata `state`: files whose header does not name one of
/// its shards (dropped shards listed in `retiring` aside: they wait for deletion), and the files
/// the store could not take at all.
pub(crate) fn orphans(
    store: &ShardStore,
    state: Option<&MetaState>,
    retiring: &BTreeSet<ShardId>,
) -> Vec<OrphanShardFile> {
    let mut orphans: Vec<OrphanShardFile> = store
        .unusable()
        .into_iter()
        .map(|f| OrphanShardFile { name: f.name, shard_id: f.shard_id, bytes: f.bytes, reason: f.reason })
        .collect();
    if let Some(state) = state {
        for (summary, header) in store.files() {
            let waits = retiring.contains(&summary.shard_id);
            if let Some(reason) = orphan_reason(state, &header).filter(|&reason| reason != DROPPED || !waits) {
                orphans.push(OrphanShardFile {
                    name: format!("{}.shard", summary.shard_id),
                    shard_id: Some(summary.shard_id),
                    bytes: summary.size,
                    reason: reason.to_owned(),
                });
            }
        }
    }
    orphans.sort_by(|a, b| a.name.cmp(&b.name));
    orphans
}
