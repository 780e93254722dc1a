//! Who a shard's writes go to, and how a receiving node checks that a sender routed them by
//! metadata that is still current.
//!
//! A shard's writes go to its owners and to its *pending owners*: the targets of its open copy
//! tasks ([`MetaState::pending_owners`]). A copy of a hot shard therefore ends holding every point
//! acknowledged while it ran, by this rule:
//!
//! ```text
//!  coordinator: sends to owners + pending owners; headers name both lists and the metadata index
//!  receiver:    stores only if its metadata (at least as new as the sender's) names the same
//!               lists, checked while holding off copy starts (ShardStore::hold_copy_start),
//!               else 409 owners_changed / not_owner: the sender reads the metadata and routes again
//!  copy source: serves a copy's starting point (size, checksum) only once its own metadata names
//!               the target (`min_index`), and reads it excluding routed appends
//!  ⇒ every append stored on the source after the copy's start was routed to the target too
//!  target:      stores what it receives into its own file; installing the copy adds those records
//! ```
//! The owners a write must reach for its consistency level are the owners only; a pending owner
//! must have stored the lines or have them queued (hinted handoff), or the write fails.

use axum::http::StatusCode;

use meta_model::{MetaState, NodeId, ShardId};

use crate::error::ApiError;
use crate::metadata_cache::CachedMetadata;

/// Header of an internal append: the metadata index the sender routed by. The receiving node
/// refuses (`409 not_owner`) unless its metadata, at that index or newer, makes it an owner or a
/// pending owner.
pub(crate) const METADATA_INDEX_HEADER: &str = "x-metadata-index";
/// Header of an internal append: the shard's owners the sender sends it to (IDs, comma-separated).
/// The receiver refuses (`409 owners_changed`) when its metadata names other owners: a write must
/// reach every current owner, not only the ones a stale view knew.
pub(crate) const OWNERS_HEADER: &str = "x-shard-owners";
/// Header of an internal append: the shard's pending owners (targets of open copy tasks) the
/// sender sends it to; absent means none. Checked like [`OWNERS_HEADER`].
pub(crate) const PENDING_OWNERS_HEADER: &str = "x-shard-pending-owners";
/// The code of an internal append refused because the sender routed by stale metadata.
pub(crate) const OWNERS_CHANGED: &str = "owners_changed";
/// The code of an internal append refused because the receiver neither owns the shard nor is
/// about to.
pub(crate) const NOT_OWNER: &str = "not_owner";

/// The nodes a shard's writes go to by some metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Recipients {
    /// The shard's owners, ascending: what the consistency level counts.
    pub(crate) owners: Vec<NodeId>,
    /// Targets of the shard's open copy tasks that do not own it yet, ascending.
    pub(crate) pending: Vec<NodeId>,
}

impl Recipients {
    /// The recipients of `shard_id`'s writes in `state` (none for an unknown shard).
    pub(crate) fn of(state: &MetaState, shard_id: ShardId) -> Self {
        let Some(view) = state.shard(shard_id) else { return Recipients::default() };
        Recipients { owners: view.shard.owners.clone(), pending: state.pending_owners(shard_id) }
    }

    /// Owners, then pending owners.
    pub(crate) fn all(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.owners.iter().chain(&self.pending).copied()
    }

    /// Whether `node` is an owner or a pending owner.
    pub(crate) fn includes(&self, node: NodeId) -> bool {
        self.owners.contains(&node) || self.pending.contains(&node)
    }

    /// The lists as [`OWNERS_HEADER`] and [`PENDING_OWNERS_HEADER`] carry them.
    pub(crate) fn header_values(&self) -> (String, String) {
        (ids_text(&self.owners), ids_text(&self.pending))
    }
}

/// How a copy of a write was routed: the metadata index and the shard's recipients at it.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// The metadata index routed by.
    pub(crate) index: u64,
    /// The shard's recipients at that index.
    pub(crate) recipients: Recipients,
}

impl Route {
    /// The route of `shard_id`'s writes by `meta`.
    pub(crate) fn of(meta: &CachedMetadata, shard_id: ShardId) -> Self {
        Route { index: meta.index, recipients: Recipients::of(&meta.state, shard_id) }
    }
}

/// The recipients a sender named in its headers, as texts.
#[derive(Clone, Debug, Default)]
pub(crate) struct SentRoute {
    /// [`OWNERS_HEADER`], when given (older senders and tools may leave it out).
    pub(crate) owners: Option<String>,
    /// [`PENDING_OWNERS_HEADER`] (empty when absent).
    pub(crate) pending: String,
}

/// Whether node `me`, by `meta`, takes an append of `shard_id` routed as `sent`: it must be an
/// owner or a pending owner, and the sender must have named the same owners and pending owners
/// (`409 not_owner` / `409 owners_changed` otherwise).
pub(crate) fn judge(
    meta: &CachedMetadata,
    shard_id: ShardId,
    me: Option<NodeId>,
    sent: &SentRoute,
) -> Result<(), ApiError> {
    let current = Recipients::of(&meta.state, shard_id);
    if !me.is_some_and(|id| current.includes(id)) {
        let whom = me.map_or_else(|| "this unregistered node".to_owned(), |id| format!("node {id}"));
        let message =
            format!("{whom} neither owns shard {shard_id} nor is copying it at metadata index {}", meta.index);
        return Err(ApiError::new(StatusCode::CONFLICT, NOT_OWNER, message));
    }
    let Some(sent_owners) = &sent.owners else { return Ok(()) };
    let (owners, pending) = current.header_values();
    if *sent_owners != owners || sent.pending != pending {
        let message = format!(
            "shard {shard_id} goes to owners [{owners}] and pending owners [{pending}] at metadata index {}, \
             not [{sent_owners}] and [{}]",
            meta.index, sent.pending
        );
        return Err(ApiError::new(StatusCode::CONFLICT, OWNERS_CHANGED, message));
    }
    Ok(())
}

/// Node IDs as the headers carry them: comma-separated.
fn ids_text(ids: &[NodeId]) -> String {
    ids.iter().map(NodeId::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_model::{Command, Response, TaskReason, TaskSpec};

    /// Three nodes, RF 1, one group; the shard, its owner and a copy of it to another node.
    fn copying() -> (MetaState, ShardId, NodeId, NodeId) {
        let mut state = crate::test_support::nodes_and_database(3);
        let create = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: 0 };
        let Ok(Response::ShardGroup { group, .. }) = state.apply(&create) else { panic!("group") };
        let shard = &group.shards[0];
        let owner = shard.owners[0];
        let target = (1..=3).find(|n| *n != owner).expect("another node");
        let spec = TaskSpec {
            shard_id: shard.id,
            source: owner,
            target,
            replaces: None,
            priority: 1,
            reason: TaskReason::Operator,
        };
        state.apply(&Command::CreateCopyTasks { now: 1, tasks: vec![spec] }).expect("task");
        (state, shard.id, owner, target)
    }

    fn cached(state: MetaState, index: u64) -> CachedMetadata {
        CachedMetadata { index, state }
    }

    #[test]
    fn a_copy_target_takes_writes_and_stale_routes_are_refused() {
        let (state, shard, owner, target) = copying();
        let recipients = Recipients::of(&state, shard);
        assert_eq!((recipients.owners.clone(), recipients.pending.clone()), (vec![owner], vec![target]));
        assert_eq!(recipients.all().collect::<Vec<_>>(), vec![owner, target]);
        let meta = cached(state, 10);
        let (owners, pending) = recipients.header_values();
        let current = SentRoute { owners: Some(owners.clone()), pending };
        assert!(judge(&meta, shard, Some(owner), &current).is_ok());
        assert!(judge(&meta, shard, Some(target), &current).is_ok(), "the pending owner stores");
        let other = (1..=3).find(|n| *n != owner && *n != target).expect("a third node");
        assert_eq!(judge(&meta, shard, Some(other), &current).map_err(|e| e.code), Err(NOT_OWNER.to_owned()));
        assert_eq!(judge(&meta, shard, None, &current).map_err(|e| e.code), Err(NOT_OWNER.to_owned()));
        // Routed by metadata from before the copy: refused, so the sender routes to the target too.
        let stale = SentRoute { owners: Some(owners), pending: String::new() };
        assert_eq!(judge(&meta, shard, Some(owner), &stale).map_err(|e| e.code), Err(OWNERS_CHANGED.to_owned()));
        assert!(judge(&meta, shard, Some(owner), &SentRoute::default()).is_ok(), "no headers: not checked");
    }
}
