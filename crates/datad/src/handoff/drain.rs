//! Delivering the hinted-handoff queues: every `--handoff-retry-interval`, each queue with writes
//! is worked through in order, at once with the others, until it is empty or its head cannot be
//! delivered yet.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use meta_model::{NodeId, ShardId};
use tokio::task::JoinSet;

use crate::blocking::blocking;
use crate::handoff::now_ms;
use crate::handoff::queue::{Entry, HandoffQueue};
use crate::metadata_cache::CachedMetadata;
use crate::node::Node;
use crate::routing::Route;
use crate::shard_store::lock;
use crate::write_path::{self, append_locally, append_remotely, Sent};

/// What became of a queue's head.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// Stored by its owners: removed from the queue.
    Delivered,
    /// Can never be delivered (`why`): removed and counted as dropped.
    Dropped(&'static str),
    /// Not yet: the queue waits for the next round.
    Wait,
    /// Refused as misrouted: the metadata is read again before the next round.
    Stale,
}

/// Delivers the queues forever (until the task is aborted).
pub(crate) async fn run(node: Arc<Node>) {
    let period = node.handoff.settings().retry_interval;
    loop {
        // The retry pace: a queue whose owner is down is tried once a period, not in a tight loop.
        tokio::time::sleep(period).await;
        let mut drains = JoinSet::new();
        for target in node.handoff.pending() {
            if let Some(queue) = node.handoff.queue_of(target) {
                drains.spawn(drain(Arc::clone(&node), queue));
            }
        }
        while drains.join_next().await.is_some() {}
    }
}

/// Works through one queue until it is empty or its head must wait.
async fn drain(node: Arc<Node>, queue: Arc<Mutex<HandoffQueue>>) {
    loop {
        let head = {
            let (queue, max_age) = (Arc::clone(&queue), node.handoff.settings().max_age);
            let expired_before = now_ms().saturating_sub(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
            blocking(move || {
                let mut queue = lock(&queue);
                let mut expired = 0;
                while let Some(entry) = queue.peek()?.filter(|e| e.enqueued_ms < expired_before) {
                    queue.pop(&entry, true)?;
                    expired += 1;
                }
                Ok((queue.target(), expired, queue.peek()?))
            })
            .await
        };
        let (target, entry) = match head {
            Ok((target, expired, entry)) => {
                if expired > 0 {
                    node.metrics.handoff_dropped("max_age", expired);
                    tracing::error!(target_node = target, expired, "queued writes older than --handoff-max-age dropped: the owner lacks them until its shards are repaired");
                }
                match entry {
                    Some(entry) => (target, entry),
                    None => return,
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot read a hinted-handoff queue");
                return;
            }
        };
        let Some(meta) = node.cache.current() else { return };
        let fate = deliver(&node, &meta, target, &entry).await;
        match fate {
            Fate::Delivered | Fate::Dropped(_) => {
                let dropped = fate != Fate::Delivered;
                let popped = {
                    let (queue, entry) = (Arc::clone(&queue), entry.clone());
                    blocking(move || lock(&queue).pop(&entry, dropped)).await
                };
                if let Err(error) = popped {
                    tracing::error!(target_node = target, %error, "cannot advance a hinted-handoff queue");
                    return;
                }
                match fate {
                    Fate::Dropped(why) => {
                        node.metrics.handoff_dropped(why, 1);
                        tracing::warn!(target_node = target, shard_id = entry.shard_id, why, "queued write dropped");
                    }
                    _ => node.metrics.handoff_delivered(1),
                }
            }
            Fate::Wait => return,
            Fate::Stale => {
                if let Err(error) = node.cache.refresh_within(&node.client, write_path::REFRESH_LIMIT).await {
                    tracing::warn!(target_node = target, %error, "cannot read the metadata to route queued writes");
                }
                return;
            }
        }
    }
}

/// Delivers one queued write meant for `target`: to it while it owns the shard or is about to (a
/// pending owner), else to the shard's current owners; and to every pending owner, since a copy in
/// progress must end holding it. Those other nodes get it queued when they fail.
async fn deliver(node: &Arc<Node>, meta: &CachedMetadata, target: NodeId, entry: &Entry) -> Fate {
    if meta.state.shard(entry.shard_id).is_none() {
        return Fate::Dropped("shard_deleted");
    }
    let route = Route::of(meta, entry.shard_id);
    let others: Vec<NodeId> = if route.recipients.includes(target) {
        let Some(addr) = meta.state.data_node(target).map(|n| n.http_addr.clone()) else { return Fate::Wait };
        match append_remotely(node, &addr, &route, entry.shard_id, entry.data.clone()).await {
            Sent::Stored => {}
            Sent::Misrouted => return Fate::Stale,
            Sent::Rejected(error) => {
                tracing::error!(target_node = target, shard_id = entry.shard_id, %error, "owner refused a queued write");
                return Fate::Dropped("refused");
            }
            Sent::Failed(error) => {
                tracing::debug!(target_node = target, %error, "owner does not take its queued writes yet");
                return Fate::Wait;
            }
        }
        route.recipients.pending.iter().copied().filter(|&p| p != target).collect()
    } else if route.recipients.owners.is_empty() {
        // Kept until an owner is assigned, or until it expires.
        return Fate::Wait;
    } else {
        // The target no longer owns the shard (replaced or removed): its current owners get it.
        route.recipients.all().collect()
    };
    if others.is_empty() {
        return Fate::Delivered;
    }
    // This node's own copy must be stored now; the others may be queued.
    let me = node.node_id();
    let mut missed = Vec::new();
    for other in others {
        let sent = if Some(other) == me {
            match append_locally(node, meta, &route, entry.shard_id, entry.data.clone()).await {
                Sent::Failed(_) => return Fate::Wait,
                sent => sent,
            }
        } else if let Some(addr) = meta.state.data_node(other).map(|n| n.http_addr.clone()) {
            append_remotely(node, &addr, &route, entry.shard_id, entry.data.clone()).await
        } else {
            return Fate::Stale;
        };
        match sent {
            Sent::Stored => {}
            Sent::Misrouted => return Fate::Stale,
            Sent::Rejected(error) => {
                tracing::error!(node = other, shard_id = entry.shard_id, %error, "a node refused a handed-over write");
            }
            Sent::Failed(_) => missed.push(other),
        }
    }
    let (queuing, shard_id, data) = (Arc::clone(node), entry.shard_id, entry.data.clone());
    if !missed.is_empty() {
        let requeued = tokio::task::spawn_blocking(move || requeue(&queuing, &missed, shard_id, &data)).await;
        if let Err(error) = requeued {
            tracing::error!(shard_id, %error, "queueing a handed-over write did not finish");
        }
    }
    tracing::info!(from = target, shard_id, "queued write handed to the shard's current owners and pending owners");
    Fate::Delivered
}

/// Queues `data` for each of `owners`, counting those it could not be queued for as dropped.
fn requeue(node: &Node, owners: &[NodeId], shard_id: ShardId, data: &Bytes) {
    for &owner in owners {
        match node.handoff.enqueue(owner, shard_id, data) {
            Ok(()) => node.metrics.handoff_queued(1),
            Err(error) => {
                node.metrics.handoff_dropped(error.reason(), 1);
                tracing::error!(owner, shard_id, %error, "handed-over write dropped for an owner");
            }
        }
    }
}
