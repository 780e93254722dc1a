//! The node's cached copy of the cluster metadata, kept current by long-polling
//! `GET /v1/metadata?index=N&wait=30s` (the call returns as soon as the index moves past `N`).

use std::collections::BTreeSet;
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
}

impl MetadataCache {
    /// The latest metadata, if any was loaded yet.
    pub(crate) fn current(&self) -> Option<Arc<CachedMetadata>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Keeps `reply` unless the cache already holds a newer index; returns the current metadata.
    pub(crate) fn install(&self, reply: MetadataReply<'static>) -> Arc<CachedMetadata> {
        let mut current = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match current.as_ref() {
            Some(cached) if cached.index > reply.index => Arc::clone(cached),
            _ => {
                let fresh = Arc::new(CachedMetadata { index: reply.index, state: reply.metadata.into_state() });
                // What the metadata now says itself need not be remembered any more.
                let mut marked = self.marked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                marked.retain(|&id| fresh.state.shard(id).is_none() || !fresh.state.is_written(id));
                *current = Some(Arc::clone(&fresh));
                fresh
            }
        }
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
