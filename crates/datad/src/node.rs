//! What every part of a running data node shares: configuration, clients, the shard store, the
//! hinted-handoff queues, the metadata cache, its registration and the copy tasks it runs.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meta_client::Client;
use meta_model::{NodeId, ShardId, TaskId};

use crate::config::Config;
use crate::error::DatadError;
use crate::handoff::Handoff;
use crate::metadata_cache::MetadataCache;
use crate::metrics::DataMetrics;
use crate::retire::Retirement;
use crate::shard_store::{lock, ShardStore};

/// Timeout of one request to a peer data node.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of connecting to a peer data node. A write waits this long for an owner whose host
/// is gone (no answer at all, not even a refusal) before it queues the owner's copy for hinted
/// handoff and answers: a connection between data nodes takes milliseconds, so one second is
/// generous and keeps such writes within clients' usual timeouts.
const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The shortest silence of the meta leader after which the node counts as out of touch.
const IN_TOUCH_AT_LEAST: Duration = Duration::from_secs(3);

/// The shared state of one data node.
#[derive(Debug)]
pub(crate) struct Node {
    /// The configuration.
    pub(crate) config: Config,
    /// The address the node is registered under.
    pub(crate) advertise: String,
    /// Client of the meta service.
    pub(crate) client: Arc<Client>,
    /// Client of peer data nodes.
    pub(crate) peers: reqwest::Client,
    /// How peers' bare `host:port` addresses are reached: `https` with TLS configured.
    peer_scheme: &'static str,
    /// The shard files.
    pub(crate) store: Arc<ShardStore>,
    /// The cached metadata.
    pub(crate) cache: Arc<MetadataCache>,
    /// The hinted-handoff queues.
    pub(crate) handoff: Arc<Handoff>,
    /// Shard files of the layout before headers wait to be migrated: until then the node sends
    /// no inventory (it would lack those shards and look like it lost them).
    pub(crate) legacy_pending: AtomicBool,
    /// The node's ID while it is registered.
    node_id: Mutex<Option<NodeId>>,
    /// Signalled when the node becomes registered, so it claims work at once.
    pub(crate) registered: tokio::sync::Notify,
    /// Copy tasks being worked on, with their shard.
    running: Mutex<BTreeMap<TaskId, ShardId>>,
    /// What the node counts (`/metrics`).
    pub(crate) metrics: DataMetrics,
    /// Shard files waiting for deletion, and those deleted.
    pub(crate) retirement: Retirement,
    /// When the last heartbeat reached the meta leader, and the interval it asked for.
    last_heartbeat: Mutex<Option<(Instant, Duration)>>,
}

impl Node {
    /// A node that is not registered yet; its calls to peers carry the node token.
    ///
    /// # Errors
    /// [`DatadError::Config`] when `--token` cannot be sent as a header, [`DatadError::PeerClient`]
    /// when the HTTP client cannot be built.
    pub(crate) fn new(
        config: Config,
        advertise: String,
        client: Client,
        store: ShardStore,
        handoff: Handoff,
    ) -> Result<Self, DatadError> {
        let peer_headers = crate::auth::peer_headers(config.token.as_deref()).map_err(|reason| DatadError::Config {
            option: "--token",
            value: "(hidden)".to_owned(),
            reason,
        })?;
        let mut peers = reqwest::Client::builder()
            .timeout(PEER_TIMEOUT)
            .connect_timeout(PEER_CONNECT_TIMEOUT)
            .default_headers(peer_headers);
        peers = cluster_tls::client::configure(peers, config.tls.as_ref().map(|tls| &tls.client))?;
        let peers = peers.build().map_err(|e| DatadError::PeerClient(e.to_string()))?;
        let peer_scheme = if config.tls.is_some() { "https" } else { "http" };
        Ok(Node {
            config,
            peer_scheme,
            advertise,
            client: Arc::new(client),
            peers,
            store: Arc::new(store),
            cache: Arc::new(MetadataCache::default()),
            handoff: Arc::new(handoff),
            legacy_pending: AtomicBool::new(true),
            node_id: Mutex::new(None),
            registered: tokio::sync::Notify::new(),
            running: Mutex::new(BTreeMap::new()),
            metrics: DataMetrics::default(),
            retirement: Retirement::default(),
            last_heartbeat: Mutex::new(None),
        })
    }

    /// The node's ID, while registered.
    pub(crate) fn node_id(&self) -> Option<NodeId> {
        *lock(&self.node_id)
    }

    /// Records (or, with `None`, forgets) the node's registration.
    pub(crate) fn set_node_id(&self, id: Option<NodeId>) {
        *lock(&self.node_id) = id;
        if id.is_some() {
            self.registered.notify_one();
        }
    }

    /// Marks a task as running unless it, or another task of the same shard, already is.
    pub(crate) fn try_start_task(&self, task_id: TaskId, shard_id: ShardId) -> bool {
        let mut running = lock(&self.running);
        if running.contains_key(&task_id) || running.values().any(|&s| s == shard_id) {
            return false;
        }
        running.insert(task_id, shard_id);
        true
    }

    /// Marks a task as no longer running.
    pub(crate) fn finish_task(&self, task_id: TaskId) {
        lock(&self.running).remove(&task_id);
    }

    /// Runs `f` unless a task is copying `shard_id` now, holding off new tasks meanwhile (so a
    /// partial copy is never deleted under a copy that is starting); whether `f` ran.
    pub(crate) fn when_not_copying(&self, shard_id: ShardId, f: impl FnOnce()) -> bool {
        let running = lock(&self.running);
        if running.values().any(|&s| s == shard_id) {
            return false;
        }
        f();
        true
    }

    /// Whether a task is copying `shard_id` now.
    pub(crate) fn is_copying(&self, shard_id: ShardId) -> bool {
        lock(&self.running).values().any(|&s| s == shard_id)
    }

    /// Records a heartbeat the meta leader answered, and the interval it asked for.
    pub(crate) fn heartbeat_answered(&self, interval: Duration) {
        *lock(&self.last_heartbeat) = Some((Instant::now(), interval));
    }

    /// Whether the meta leader answered a heartbeat lately (within three intervals, and at least
    /// [`IN_TOUCH_AT_LEAST`]): if not, the node may be cut off and its metadata stale.
    pub(crate) fn meta_in_touch(&self) -> bool {
        lock(&self.last_heartbeat).is_some_and(|(at, interval)| at.elapsed() <= (interval * 3).max(IN_TOUCH_AT_LEAST))
    }

    /// The tasks running now.
    pub(crate) fn running_tasks(&self) -> Vec<TaskId> {
        lock(&self.running).keys().copied().collect()
    }

    /// The base URL of a peer's `host:port`: `https://` when this node has TLS configured, else
    /// `http://` (TLS is cluster-wide; an address never chooses its own scheme).
    pub(crate) fn peer_url(&self, addr: &str) -> String {
        format!("{}://{addr}", self.peer_scheme)
    }
}
