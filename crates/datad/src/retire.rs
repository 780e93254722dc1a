//! Deleting the files of shards the cluster no longer keeps on this node: their group was deleted
//! by retention, the shard left the metadata (its database or policy dropped, its group pruned or
//! emptied, `remove-shard`), or another node owns it now (a drain, a dead owner's replacement).
//!
//! Only committed metadata this node has seen decides, and only while the node is in touch with
//! the meta leader (stale metadata could show a shard just given to it as someone else's). A
//! shard is *retiring* from the first look that finds it so; its file is deleted once it has been
//! retiring for `--shard-delete-grace` without a break, never while a copy task from or to this
//! node for it is open or running. What waits and what was deleted show in `/status`
//! (`retiring`, `deleted_shards`, `deleted_bytes`) and `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meta_model::{MetaState, NodeId, ShardId};
use meta_wire::{RetireReason, RetiringShard};

use crate::node::Node;
use crate::orphans::{orphan_reason, DROPPED};
use crate::shard_file::ShardHeader;
use crate::shard_store::lock;

/// Shortest and longest pause between two looks.
const MIN_PERIOD: Duration = Duration::from_millis(100);
const MAX_PERIOD: Duration = Duration::from_secs(60);

/// The shards retiring on this node and what was deleted.
#[derive(Debug, Default)]
pub(crate) struct Retirement {
    /// Retiring shards: since when (without a break), why, and their size then.
    retiring: Mutex<BTreeMap<ShardId, Retiring>>,
    deleted_shards: AtomicU64,
    deleted_bytes: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
struct Retiring {
    since: Instant,
    reason: RetireReason,
    bytes: u64,
}

impl Retirement {
    /// The shards waiting for deletion now, with the time left (milliseconds).
    pub(crate) fn waiting(&self, grace: Duration) -> Vec<RetiringShard> {
        lock(&self.retiring)
            .iter()
            .map(|(&shard_id, r)| RetiringShard {
                shard_id,
                reason: r.reason,
                bytes: r.bytes,
                delete_in_ms: u64::try_from(grace.saturating_sub(r.since.elapsed()).as_millis()).unwrap_or(u64::MAX),
            })
            .collect()
    }

    /// Shards and bytes deleted since the node started.
    pub(crate) fn deleted(&self) -> (u64, u64) {
        (self.deleted_shards.load(Ordering::Relaxed), self.deleted_bytes.load(Ordering::Relaxed))
    }
}

/// Why `me` should no longer keep the shard file with `header` by the metadata `state`; `None`
/// while it should, while a copy of the shard from or to `me` is pending or running, and for
/// orphans (another cluster's file, a number not made yet, a header that does not match), which
/// are never deleted.
pub(crate) fn retire_reason(state: &MetaState, me: NodeId, header: &ShardHeader) -> Option<RetireReason> {
    let shard_id = header.shard_id;
    let copying =
        state.open_tasks().any(|t| t.spec.shard_id == shard_id && (t.spec.source == me || t.spec.target == me));
    if copying || state.cluster().is_none() {
        return None;
    }
    match orphan_reason(state, header) {
        Some(DROPPED) => Some(RetireReason::Dropped),
        Some(_) => None,
        None => {
            let view = state.shard(shard_id)?;
            if view.group.is_deleted() {
                Some(RetireReason::GroupDeleted)
            } else if !view.shard.owners.contains(&me) {
                Some(RetireReason::NotOwner)
            } else {
                None
            }
        }
    }
}

/// Looks at the shard files forever (until the task is aborted).
pub(crate) async fn run(node: Arc<Node>) {
    let period = (node.config.shard_delete_grace / 4).clamp(MIN_PERIOD, MAX_PERIOD);
    loop {
        // The pace of the looks (a deliberate pause, not a wait for a condition).
        tokio::time::sleep(period).await;
        look(&node, Instant::now());
    }
}

/// One look: judge every file by the cached metadata, then delete those retiring for the grace.
pub(crate) fn look(node: &Node, now: Instant) {
    let (Some(meta), Some(me)) = (node.cache.current(), node.node_id()) else { return };
    if meta.state.cluster().is_none() || !node.meta_in_touch() {
        return;
    }
    let files = node.store.files();
    let due: Vec<ShardId> = {
        let mut retiring = lock(&node.retirement.retiring);
        let mut next = BTreeMap::new();
        for (summary, header) in &files {
            if let Some(reason) = retire_reason(&meta.state, me, header) {
                let since = retiring.get(&summary.shard_id).map_or(now, |r: &Retiring| r.since);
                next.insert(summary.shard_id, Retiring { since, reason, bytes: summary.size });
            }
        }
        *retiring = next;
        let grace = node.config.shard_delete_grace;
        retiring.iter().filter(|(_, r)| now.saturating_duration_since(r.since) >= grace).map(|(&id, _)| id).collect()
    };
    for shard_id in due {
        let mut outcome = Ok(None);
        if !node.when_not_copying(shard_id, || outcome = node.store.remove_shard(shard_id)) {
            continue;
        }
        let reason = lock(&node.retirement.retiring).remove(&shard_id).map(|r| r.reason);
        match outcome {
            Ok(Some(bytes)) => {
                node.retirement.deleted_shards.fetch_add(1, Ordering::Relaxed);
                node.retirement.deleted_bytes.fetch_add(bytes, Ordering::Relaxed);
                tracing::info!(shard_id, bytes, ?reason, "shard file deleted: the cluster no longer keeps it here");
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(shard_id, %error, "cannot delete the file of a retired shard"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_model::{Command, TaskReason, TaskSpec};

    /// A cluster with its identity, two data nodes, one database, one group of two shards (one on
    /// each node, RF 1).
    fn state() -> MetaState {
        let mut state = crate::test_support::nodes_and_database(2);
        state.apply(&Command::InitCluster { id: "c1".repeat(16) }).expect("identity");
        let create = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: 0 };
        state.apply(&create).expect("group");
        state
    }

    fn owned_by(state: &MetaState, node: NodeId) -> ShardId {
        state.shards_owned_by(node).next().expect("a shard")
    }

    /// The header of shard `id`'s file as `state` would stamp it.
    fn header(state: &MetaState, id: ShardId) -> ShardHeader {
        ShardHeader::of(state, id).expect("a shard of the metadata")
    }

    #[test]
    fn owned_shards_stay_and_others_retire_by_reason() {
        let mut state = state();
        let (mine, theirs) = (owned_by(&state, 1), owned_by(&state, 2));
        let (mine_header, theirs_header) = (header(&state, mine), header(&state, theirs));
        assert_eq!(retire_reason(&state, 1, &mine_header), None);
        assert_eq!(retire_reason(&state, 1, &theirs_header), Some(RetireReason::NotOwner));
        let not_made_yet = ShardHeader { shard_id: 999, ..mine_header.clone() };
        assert_eq!(retire_reason(&state, 1, &not_made_yet), None, "a number the metadata has not made: an orphan");
        let foreign = ShardHeader { cluster_id: "another".into(), ..mine_header.clone() };
        assert_eq!(retire_reason(&state, 1, &foreign), None, "another cluster's file: an orphan");
        let mismatched = ShardHeader { database: "other".into(), ..mine_header.clone() };
        assert_eq!(retire_reason(&state, 1, &mismatched), None, "a header that does not match: an orphan");
        state.apply(&Command::DropShard { shard_id: theirs }).expect("dropped");
        assert_eq!(retire_reason(&state, 1, &theirs_header), Some(RetireReason::Dropped));
        state.apply(&Command::DeleteExpiredShardGroups { now: i64::MAX }).expect("nothing expires forever");
        assert_eq!(retire_reason(&state, 1, &mine_header), None);
    }

    #[test]
    fn a_shard_being_copied_from_or_to_the_node_never_retires() {
        let mut state = state();
        let theirs = owned_by(&state, 2);
        let spec = TaskSpec {
            shard_id: theirs,
            source: 2,
            target: 1,
            replaces: None,
            priority: 0,
            reason: TaskReason::Operator,
        };
        state.apply(&Command::CreateCopyTasks { now: 1, tasks: vec![spec] }).expect("task");
        assert_eq!(retire_reason(&state, 1, &header(&state, theirs)), None, "the copy to node 1 is pending");
    }
}
