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
use crate::orphans::is_cluster_shard;
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

/// Why `me` should no longer keep shard `shard_id` by the metadata `state`; `None` while it should
/// (or while a copy of it from or to `me` is pending or running).
pub(crate) fn retire_reason(state: &MetaState, me: NodeId, shard_id: ShardId) -> Option<RetireReason> {
    let copying =
        state.open_tasks().any(|t| t.spec.shard_id == shard_id && (t.spec.source == me || t.spec.target == me));
    if copying {
        return None;
    }
    match state.shard(shard_id) {
        // A shard ID beyond the counter is one this metadata has not seen made yet.
        None => (shard_id < state.next_shard_id()).then_some(RetireReason::Dropped),
        Some(view) if view.group.is_deleted() => Some(RetireReason::GroupDeleted),
        Some(view) if !view.shard.owners.contains(&me) => Some(RetireReason::NotOwner),
        Some(_) => None,
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
            // Files that are no shard of this cluster are orphans: kept, never deleted.
            if !is_cluster_shard(Some(&meta.state), header) {
                continue;
            }
            if let Some(reason) = retire_reason(&meta.state, me, summary.shard_id) {
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

    /// Two data nodes, one database, one group of two shards (one on each node, RF 1).
    fn state() -> MetaState {
        let mut state = crate::test_support::nodes_and_database(2);
        let create = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: 0 };
        state.apply(&create).expect("group");
        state
    }

    fn owned_by(state: &MetaState, node: NodeId) -> ShardId {
        state.shards_owned_by(node).next().expect("a shard")
    }

    #[test]
    fn owned_shards_stay_and_others_retire_by_reason() {
        let mut state = state();
        let (mine, theirs) = (owned_by(&state, 1), owned_by(&state, 2));
        assert_eq!(retire_reason(&state, 1, mine), None);
        assert_eq!(retire_reason(&state, 1, theirs), Some(RetireReason::NotOwner));
        assert_eq!(retire_reason(&state, 1, 999), None, "a shard not made yet as far as this metadata knows");
        state.apply(&Command::DropShard { shard_id: theirs }).expect("dropped");
        assert_eq!(retire_reason(&state, 1, theirs), Some(RetireReason::Dropped));
        state.apply(&Command::DeleteExpiredShardGroups { now: i64::MAX }).expect("nothing expires forever");
        assert_eq!(retire_reason(&state, 1, mine), None);
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
        assert_eq!(retire_reason(&state, 1, theirs), None, "the copy to node 1 is pending");
    }
}
