//! Deleting the files of shards the cluster no longer keeps on this node: their group was deleted
//! by retention, the shard left the metadata (its database or policy dropped, its group pruned or
//! emptied, `remove-shard`), or other nodes own it now (a drain, a dead owner's replacement).
//!
//! Deleting is the one thing here that cannot be undone, so every rule errs on keeping:
//! - only committed metadata this node has seen decides, and only while the node is registered
//!   and in touch with the meta leader; a break (out of touch, a new node ID, metadata that no
//!   longer continues what was cached: a rebuilt or restored meta cluster) restarts every wait;
//! - a shard missing from the metadata counts as dropped only while the metadata has continued
//!   unbroken since the node started, or if the node saw it there since the last break: after a
//!   rebuilt or restored meta cluster, a shard the node never saw in the new metadata stays an
//!   orphan;
//! - a file whose shard has other owners goes only once one of them holds every point of it
//!   (their content trees compared, then the point hashes of the leaves that differ); a shard
//!   without any owner keeps its file (it may be the last copy);
//! - never while a copy task of the shard from or to this node is open; never an orphan.
//!
//! A shard is *retiring* from the first look that finds it so; its file is deleted once it has
//! been retiring for `--shard-delete-grace` without a break. What waits (and why a file is kept
//! past its time) and what was deleted show in `/status` and `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meta_model::{MetaState, NodeId, ShardId};
use meta_wire::{RetireReason, RetiringShard};

use crate::content_exchange::covered_by;
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
    judged: Mutex<Judged>,
    deleted_shards: AtomicU64,
    deleted_bytes: AtomicU64,
}

/// What the looks so far found, and what they rest on.
#[derive(Debug, Default)]
struct Judged {
    /// The node's ID and the metadata lineage the judgments rest on; a change restarts them.
    basis: Option<(NodeId, u64)>,
    /// Shards of files held that the metadata was seen to have (in this lineage).
    seen: BTreeSet<ShardId>,
    /// Retiring shards: since when (without a break), why, their size, and why one is kept past
    /// its time.
    retiring: BTreeMap<ShardId, Retiring>,
}

#[derive(Clone, Debug)]
struct Retiring {
    since: Instant,
    reason: RetireReason,
    bytes: u64,
    kept_because: Option<String>,
}

impl Retirement {
    /// The shards waiting for deletion now, with the time left (milliseconds).
    pub(crate) fn waiting(&self, grace: Duration) -> Vec<RetiringShard> {
        lock(&self.judged)
            .retiring
            .iter()
            .map(|(&shard_id, r)| RetiringShard {
                shard_id,
                reason: r.reason,
                bytes: r.bytes,
                delete_in_ms: u64::try_from(grace.saturating_sub(r.since.elapsed()).as_millis()).unwrap_or(u64::MAX),
                kept_because: r.kept_because.clone(),
            })
            .collect()
    }

    /// The shards retiring now.
    pub(crate) fn retiring(&self) -> BTreeSet<ShardId> {
        lock(&self.judged).retiring.keys().copied().collect()
    }

    /// Shards and bytes deleted since the node started.
    pub(crate) fn deleted(&self) -> (u64, u64) {
        (self.deleted_shards.load(Ordering::Relaxed), self.deleted_bytes.load(Ordering::Relaxed))
    }
}

impl Judged {
    /// Forgets every judgment and rests the next ones on `basis`: every wait starts anew.
    fn restart(&mut self, basis: Option<(NodeId, u64)>) {
        self.retiring.clear();
        self.seen.clear();
        self.basis = basis;
    }
}

/// Why `me` should no longer keep the shard file with `header` by the metadata `state`; `None`
/// while it should, while a copy of the shard from or to `me` is open, and for orphans and shards
/// without any owner. A shard missing from the metadata counts as dropped when the metadata
/// has continued unbroken since the node started (`trusted_lineage`: shard IDs are never reused,
/// so one below the counter was made and dropped), or when it is among the shards `seen` in it
/// since the last break.
pub(crate) fn retire_reason(
    state: &MetaState,
    me: NodeId,
    header: &ShardHeader,
    seen: &BTreeSet<ShardId>,
    trusted_lineage: bool,
) -> Option<RetireReason> {
    let shard_id = header.shard_id;
    let copying =
        state.open_tasks().any(|t| t.spec.shard_id == shard_id && (t.spec.source == me || t.spec.target == me));
    if copying || state.cluster().is_none() {
        return None;
    }
    match orphan_reason(state, header) {
        Some(DROPPED) if seen.contains(&shard_id) || trusted_lineage => Some(RetireReason::Dropped),
        Some(_) => None,
        None => {
            let view = state.shard(shard_id)?;
            let other_owners = view.shard.owners.iter().any(|&o| o != me);
            if view.group.is_deleted() {
                Some(RetireReason::GroupDeleted)
            } else if !view.shard.owners.contains(&me) && other_owners {
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
        for (shard_id, reason) in look(&node, Instant::now()) {
            retire(&node, shard_id, reason).await;
        }
    }
}

/// One look: judges every file by the cached metadata; returns the shards retiring for the grace.
pub(crate) fn look(node: &Node, now: Instant) -> Vec<(ShardId, RetireReason)> {
    let (meta, me) = match (node.cache.current(), node.node_id()) {
        (Some(meta), Some(me)) if node.meta_in_touch() => (meta, me),
        _ => {
            lock(&node.retirement.judged).restart(None);
            return Vec::new();
        }
    };
    let basis = (me, node.cache.lineage());
    let files = node.store.files();
    let mut judged = lock(&node.retirement.judged);
    if judged.basis != Some(basis) {
        judged.restart(Some(basis));
    }
    let mut next = BTreeMap::new();
    for (summary, header) in &files {
        if orphan_reason(&meta.state, header).is_none() {
            judged.seen.insert(summary.shard_id);
        }
        let trusted_lineage = basis.1 == 0;
        if let Some(reason) = retire_reason(&meta.state, me, header, &judged.seen, trusted_lineage) {
            let (since, kept_because) = judged
                .retiring
                .get(&summary.shard_id)
                .filter(|r| r.reason == reason)
                .map_or((now, None), |r| (r.since, r.kept_because.clone()));
            next.insert(summary.shard_id, Retiring { since, reason, bytes: summary.size, kept_because });
        }
    }
    let held: BTreeSet<ShardId> = files.iter().map(|(s, _)| s.shard_id).collect();
    judged.seen.retain(|id| held.contains(id));
    judged.retiring = next;
    let grace = node.config.shard_delete_grace;
    judged
        .retiring
        .iter()
        .filter(|(_, r)| now.saturating_duration_since(r.since) >= grace)
        .map(|(&id, r)| (id, r.reason))
        .collect()
}

/// Deletes a retired shard's file, unless a copy runs on it now or, for a shard other nodes own,
/// none of them holds every point of it yet (then it is kept, saying why, and asked again at the
/// next look).
async fn retire(node: &Node, shard_id: ShardId, reason: RetireReason) {
    if reason == RetireReason::NotOwner {
        if let Err(why) = held_by_an_owner(node, shard_id).await {
            if let Some(r) = lock(&node.retirement.judged).retiring.get_mut(&shard_id) {
                if r.kept_because.as_deref() != Some(why.as_str()) {
                    tracing::warn!(shard_id, why, "file of a shard owned elsewhere kept");
                }
                r.kept_because = Some(why);
            }
            return;
        }
    }
    let mut outcome = Ok(None);
    if !node.when_not_copying(shard_id, || outcome = node.store.remove_shard(shard_id)) {
        return;
    }
    lock(&node.retirement.judged).retiring.remove(&shard_id);
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

/// `Ok` once some current owner of the shard holds every point of this node's copy; otherwise why
/// not.
async fn held_by_an_owner(node: &Node, shard_id: ShardId) -> Result<(), String> {
    let meta = node.cache.current().ok_or("no metadata")?;
    let me = node.node_id();
    let owners: Vec<(NodeId, String)> = meta
        .state
        .shard(shard_id)
        .map(|view| view.shard.owners.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|&o| Some(o) != me)
        .filter_map(|o| meta.state.data_node(o).filter(|n| n.is_member()).map(|n| (o, n.http_addr.clone())))
        .collect();
    let mut answers = Vec::new();
    for (owner, addr) in owners {
        match covered_by(node, shard_id, &addr).await {
            Ok(true) => return Ok(()),
            Ok(false) => answers.push(format!("owner {owner} lacks points of this copy")),
            Err(error) => answers.push(format!("owner {owner}: {}", error.message)),
        }
    }
    if answers.is_empty() {
        return Err("no live owner to hold its points".to_owned());
    }
    Err(answers.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
        let seen = BTreeSet::from([mine, theirs]);
        assert_eq!(retire_reason(&state, 1, &mine_header, &seen, false), None);
        assert_eq!(retire_reason(&state, 1, &theirs_header, &seen, false), Some(RetireReason::NotOwner));
        let not_made_yet = ShardHeader { shard_id: 999, ..mine_header.clone() };
        assert_eq!(
            retire_reason(&state, 1, &not_made_yet, &seen, false),
            None,
            "a number the metadata has not made: an orphan"
        );
        let foreign = ShardHeader { cluster_id: "another".into(), ..mine_header.clone() };
        assert_eq!(retire_reason(&state, 1, &foreign, &seen, false), None, "another cluster's file: an orphan");
        let mismatched = ShardHeader { database: "other".into(), ..mine_header.clone() };
        assert_eq!(
            retire_reason(&state, 1, &mismatched, &seen, false),
            None,
            "a header that does not match: an orphan"
        );
        state.apply(&Command::DropShard { shard_id: theirs }).expect("dropped");
        assert_eq!(retire_reason(&state, 1, &theirs_header, &seen, false), Some(RetireReason::Dropped));
        let never_seen = BTreeSet::from([mine]);
        assert_eq!(
            retire_reason(&state, 1, &theirs_header, &never_seen, false),
            None,
            "gone from metadata this node never saw it in, after a break (a restore, a rebuilt cluster): an orphan"
        );
        assert_eq!(
            retire_reason(&state, 1, &theirs_header, &never_seen, true),
            Some(RetireReason::Dropped),
            "metadata unbroken since the node started: a missing shard below the counter was dropped"
        );
        // The last owner removed: the file may be the only copy.
        state.apply(&Command::RemoveShardOwner { shard_id: mine, node_id: 1 }).expect("removed");
        assert_eq!(retire_reason(&state, 1, &mine_header, &seen, false), None, "a shard without owners keeps its file");
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
        assert_eq!(
            retire_reason(&state, 1, &header(&state, theirs), &BTreeSet::new(), true),
            None,
            "the copy to node 1 is pending"
        );
    }
}
