//! The node's cached copy of the cluster metadata, kept current by long-polling
//! `GET /v1/metadata?index=N&wait=30s` (the call returns as soon as the index moves past `N`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use meta_client::{Client, ClientError};
use meta_model::{MetaState, ShardId, Timestamp};
use meta_wire::MetadataReply;

/// How long one long poll waits for a change.
const LONG_POLL: Duration = Duration::from_secs(30);
/// Pause after a failed poll.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The metadata as of one applied log index.
#[derive(Debug)]
pub(crate) struct CachedMetadata {
    /// The applied index the metadata reflects.
    pub(crate) index: u64,
    /// The metadata.
    pub(crate) state: MetaState,
}

/// The latest metadata seen, shared by the write path, heartbeats and routes.
#[derive(Debug, Default)]
pub(crate) struct MetadataCache {
    current: RwLock<Option<Arc<CachedMetadata>>>,
    /// Shards this node marked written, until the metadata it caches says so itself.
    marked: Mutex<BTreeSet<ShardId>>,
    /// Moves on each time the metadata stops continuing what was cached: another cluster's, or a
    /// lower index (the meta cluster was rebuilt or restored from a backup). Whatever was judged
    /// from the earlier metadata is judged again.
    lineage: AtomicU64,
}

impl MetadataCache {
    /// The latest metadata, if any was loaded yet.
    pub(crate) fn current(&self) -> Option<Arc<CachedMetadata>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Installs `reply` unless it is the cached metadata again; returns the current metadata.
    ///
    /// Metadata read linearizably never goes back: a lower index, or another cluster's identity,
    /// means the meta cluster was rebuilt or restored. It replaces the cache all the same (the
    /// old one describes a cluster that is gone), and the lineage moves on.
    pub(crate) fn install(&self, reply: MetadataReply<'static>) -> Arc<CachedMetadata> {
        let mut current = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = reply.metadata.into_state();
        match current.as_ref() {
            Some(cached) if cached.index == reply.index && cached.state.cluster() == state.cluster() => {
                Arc::clone(cached)
            }
            previous => {
                // A cluster that gets its identity (none before) continues; one that changes it or
                // loses it does not.
                let other_cluster =
                    |c: &CachedMetadata| c.state.cluster().is_some() && c.state.cluster() != state.cluster();
                if let Some(cached) = previous.filter(|c| c.index > reply.index || other_cluster(c)) {
                    self.lineage.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        cached_index = cached.index,
                        index = reply.index,
                        cached_cluster = ?cached.state.cluster().map(|c| &c.id),
                        cluster = ?state.cluster().map(|c| &c.id),
                        "the meta cluster's metadata no longer continues what this node cached (rebuilt or \
                         restored): taken as it is now"
                    );
                }
                let fresh = Arc::new(CachedMetadata { index: reply.index, state });
                // What the metadata now says itself need not be remembered any more.
                let mut marked = self.marked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                marked.retain(|&id| fresh.state.shard(id).is_none() || !fresh.state.is_written(id));
                *current = Some(Arc::clone(&fresh));
                fresh
            }
        }
    }

    /// How many times the metadata stopped continuing what was cached (see
    /// [`MetadataCache::install`]).
    pub(crate) fn lineage(&self) -> u64 {
        self.lineage.load(Ordering::Relaxed)
    }

    /// Of `shards` (about to be written), those not known to be marked written: unmarked in
    /// `meta`, or unknown to it (a group created a moment ago), and not marked by this node since.
    pub(crate) fn unmarked(&self, meta: &CachedMetadata, shards: impl IntoIterator<Item = ShardId>) -> Vec<ShardId> {
        let marked = self.marked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known_written = |id: ShardId| meta.state.shard(id).is_some() && meta.state.is_written(id);
        shards.into_iter().filter(|&id| !known_written(id) && !marked.contains(&id)).collect()
    }

    /// Commits the written marks of `shards` (see [`MetadataCache::unmarked`]) before a write to
    /// them is acknowledged; remembered so the next writes need no round trip.
    pub(crate) async fn mark_written(&self, client: &Client, shards: &[ShardId]) -> Result<(), ClientError> {
        client.mark_written(shards).await?;
        self.marked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(shards.iter().copied());
        Ok(())
    }

    /// Reads the metadata now (without waiting for a change) and installs it.
    pub(crate) async fn refresh(&self, client: &Client) -> Result<Arc<CachedMetadata>, ClientError> {
        let reply = client.metadata(None, Duration::ZERO).await?;
        Ok(self.install(reply))
    }

    /// [`MetadataCache::refresh`] bounded by `limit`: a request path that must learn the current
    /// metadata fails fast when the meta nodes do not answer.
    pub(crate) async fn refresh_within(
        &self,
        client: &Client,
        limit: Duration,
    ) -> Result<Arc<CachedMetadata>, ClientError> {
        match tokio::time::timeout(limit, self.refresh(client)).await {
            Ok(result) => result,
            Err(_) => {
                Err(ClientError::Unavailable { last: format!("no metadata from the meta nodes within {limit:?}") })
            }
        }
    }

    /// Whether a shard still takes writes: its group has not ended at `now`. Unknown shards (and
    /// an empty cache) count as hot, so nobody judges their digest as final.
    pub(crate) fn is_hot(&self, shard_id: ShardId, now: Timestamp) -> bool {
        let Some(cached) = self.current() else { return true };
        cached.state.shard(shard_id).is_none_or(|view| view.group.effective_end() > now)
    }

    /// Follows the metadata forever (until the task is aborted).
    pub(crate) async fn follow(self: Arc<Self>, client: Arc<Client>) {
        loop {
            let index = self.current().map(|cached| cached.index);
            match client.metadata(index, LONG_POLL).await {
                Ok(reply) => {
                    let installed = self.install(reply);
                    if Some(installed.index) != index {
                        tracing::debug!(index = installed.index, "metadata updated");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the metadata; retrying");
                    tokio::time::sleep(RETRY_DELAY).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use meta_model::{Command, MetaState};
    use meta_wire::{Metadata, MetadataReply};

    use super::*;

    /// A reply at `index` of a cluster whose identity is `id` (32 hex digits made of it).
    fn reply(index: u64, id: &str) -> MetadataReply<'static> {
        let mut state = MetaState::new();
        state.apply(&Command::InitCluster { id: id.repeat(32 / id.len()) }).expect("identity");
        MetadataReply { index, metadata: Metadata::of(&state).into_owned() }
    }

    #[test]
    fn metadata_that_does_not_continue_the_cache_replaces_it_and_moves_the_lineage() {
        let cache = MetadataCache::default();
        cache.install(reply(10, "a"));
        cache.install(reply(12, "a"));
        assert_eq!((cache.lineage(), cache.current().map(|c| c.index)), (0, Some(12)), "it continues");
        cache.install(reply(3, "a"));
        assert_eq!((cache.lineage(), cache.current().map(|c| c.index)), (1, Some(3)), "a lower index: restored");
        cache.install(reply(20, "b"));
        assert_eq!((cache.lineage(), cache.current().map(|c| c.index)), (2, Some(20)), "another cluster: rebuilt");
        cache.install(reply(20, "b"));
        assert_eq!(cache.lineage(), 2, "the same metadata again changes nothing");
    }
}
