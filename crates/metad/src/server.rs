//! Wiring and lifecycle of a meta node: storage, Raft, HTTP, bootstrap, shutdown.
//!
//! ```text
//!  open store ─► Raft::new ─► check identity ─► bind ─► serve HTTP ─┬─► bootstrap (lowest ID, once)
//!                                                                   ├─► record meta nodes and the
//!                                                                   │   cluster's identity (leader)
//!                                                                   ├─► anti-entropy loop (leader)
//!                                                                   └─► retention and precreation
//!                                                                       (leader)
//!  shutdown signal ─► stop accepting, finish requests ─► raft.shutdown()
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Raft, SnapshotPolicy, StorageHelper};
use tokio::net::TcpListener;

use ae_service::AntiEntropy;
use meta_api::MetaService;
use meta_model::{ApplyError, Command, NodeId};
use meta_store::storage::{LogStore, StateMachineStore, TypeConfig};

use crate::config::Config;
use crate::lifecycle::Lifecycle;
use crate::network::{HttpNetwork, Peers};
use crate::node::{LeaderServices, Node};

/// Why a meta node could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum MetadError {
    /// The store could not be opened.
    #[error("cannot open the store in {path}: {source}")]
    Store {
        /// Its directory.
        path: String,
        /// Why.
        source: meta_store::StoreError,
    },
    /// The data directory belongs to another cluster.
    #[error(
        "data dir {path} belongs to a cluster whose members are {members:?}, which does not include node {node_id}; \
         point --data-dir at this node's own directory, or at an empty one to join afresh"
    )]
    ForeignDataDir {
        /// The directory.
        path: String,
        /// This node's ID.
        node_id: NodeId,
        /// The members recorded there.
        members: Vec<NodeId>,
    },
    /// Raft failed to start or stop.
    #[error("raft: {0}")]
    Raft(String),
    /// A TLS certificate, key or CA file cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] cluster_tls::TlsError),
    /// The listen address could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

fn raft_config(config: &Config) -> Result<Arc<openraft::Config>, MetadError> {
    let tuning = &config.raft;
    let raft = openraft::Config {
        cluster_name: "metad".to_owned(),
        heartbeat_interval: tuning.heartbeat_interval_ms,
        election_timeout_min: tuning.election_timeout_min_ms,
        election_timeout_max: tuning.election_timeout_max_ms,
        install_snapshot_timeout: tuning.snapshot_chunk_timeout_ms,
        snapshot_max_chunk_size: tuning.snapshot_chunk_bytes,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(tuning.snapshot_after_logs),
        max_in_snapshot_log_to_keep: tuning.logs_kept_after_snapshot,
        ..openraft::Config::default()
    };
    raft.validate().map(Arc::new).map_err(|e| MetadError::Raft(e.to_string()))
}

/// Runs a meta node until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), MetadError> {
    let raft_dir = config.data_dir.join("raft");
    let (mut log_store, mut state_machine) = meta_store::storage::open(&raft_dir)
        .map_err(|source| MetadError::Store { path: raft_dir.display().to_string(), source })?;
    check_identity(&mut log_store, &mut state_machine, &config).await?;
    let state = state_machine.shared();
    let client = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(60)).tcp_nodelay(true);
    let client = cluster_tls::client::configure(client, config.tls.as_ref().map(|tls| &tls.client))?;
    let client = client.build().map_err(|e| MetadError::Raft(e.to_string()))?;
    let server_tls = match &config.tls {
        Some(tls) => Some(tls.server.config()?),
        None => None,
    };
    let peers = Peers::new(client, config.tls.is_some(), config.cluster_secret.as_deref());
    let network = HttpNetwork::new(peers.clone());
    let raft = Raft::new(config.node_id, raft_config(&config)?, network, log_store.clone(), state_machine)
        .await
        .map_err(|e| MetadError::Raft(e.to_string()))?;

    let anti_entropy = Arc::new(AntiEntropy::new(config.node_id, config.anti_entropy.clone()));
    let lifecycle = Arc::new(Lifecycle::new(config.lifecycle.clone()));
    // The anti-entropy service hears what every applied command touched (while the state is still
    // write-locked), and is woken when this node's leadership moves: it never polls.
    let hears = Arc::clone(&anti_entropy);
    state.listen(Arc::new(move |changes| hears.applied(changes)));
    let leadership = tokio::spawn(wake_on_leadership_change(raft.clone(), Arc::clone(&anti_entropy)));
    let node = Arc::new(Node::new(
        config.node_id,
        raft.clone(),
        state,
        log_store,
        peers,
        LeaderServices { anti_entropy: Arc::clone(&anti_entropy), lifecycle: Arc::clone(&lifecycle) },
    ));
    let client_auth = config.tls.as_ref().is_some_and(|tls| tls.client_auth);
    let internal = crate::internal::internal_router(raft.clone(), Arc::clone(&node), config.cluster_secret.clone());
    let internal = if client_auth {
        internal.route_layer(axum::middleware::from_fn(cluster_tls::server::require_client_certificate))
    } else {
        internal
    };
    let app = meta_api::router(Arc::clone(&node), config.auth.clone()).merge(internal);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| MetadError::Listen { addr: config.listen.to_string(), source })?;
    let scheme = if server_tls.is_some() { "https" } else { "http" };
    tracing::info!(node_id = config.node_id, listen = %config.listen, advertise = %config.advertise, scheme, "meta node serving");

    let background =
        tokio::spawn(bootstrap_and_record_members(Arc::clone(&node), config.node_id, config.peers.clone()));
    let anti_entropy_loop = tokio::spawn(anti_entropy.run(Arc::clone(&node)));
    let lifecycle_loop = tokio::spawn(lifecycle.run(Arc::clone(&node)));
    let served = cluster_tls::server::serve(listener, app, server_tls, shutdown).await;
    background.abort();
    anti_entropy_loop.abort();
    lifecycle_loop.abort();
    leadership.abort();
    tracing::info!(node_id = config.node_id, "shutting down raft");
    raft.shutdown().await.map_err(|e| MetadError::Raft(e.to_string()))?;
    served.map_err(|source| MetadError::Listen { addr: config.listen.to_string(), source })
}

/// Wakes the anti-entropy service whenever this node's Raft role, vote or known leader changes
/// (openraft publishes server metrics only on such changes).
async fn wake_on_leadership_change(raft: Raft<TypeConfig>, anti_entropy: Arc<AntiEntropy>) {
    let mut server = raft.server_metrics();
    loop {
        anti_entropy.wake();
        if server.changed().await.is_err() {
            return; // Raft shut down.
        }
    }
}

/// Refuses a data dir whose recorded membership (snapshot and log, read before Raft starts)
/// does not include this node.
async fn check_identity(
    log_store: &mut LogStore,
    state_machine: &mut StateMachineStore,
    config: &Config,
) -> Result<(), MetadError> {
    let membership = StorageHelper::new(log_store, state_machine)
        .get_membership()
        .await
        .map_err(|e| MetadError::Raft(e.to_string()))?;
    let members: Vec<NodeId> = membership.effective().membership().nodes().map(|(id, _)| *id).collect();
    if members.is_empty() || members.contains(&config.node_id) {
        return Ok(());
    }
    Err(MetadError::ForeignDataDir { path: config.data_dir.display().to_string(), node_id: config.node_id, members })
}

/// How soon a deferred identity or catalog record is tried again.
const RECORD_RETRY: Duration = Duration::from_millis(200);

/// Bootstraps the cluster once (only the lowest-ID peer initializes, only on an empty store),
/// then, whenever this node leads, gives the cluster its identity when it has none and records
/// Raft members missing from the meta-node catalog.
async fn bootstrap_and_record_members(node: Arc<Node>, node_id: NodeId, peers: BTreeMap<NodeId, String>) {
    let raft = node.raft().clone();
    let initialized = raft.is_initialized().await.unwrap_or(true);
    if !initialized && peers.keys().next() == Some(&node_id) {
        let members: BTreeMap<NodeId, BasicNode> =
            peers.iter().map(|(id, addr)| (*id, BasicNode::new(addr.clone()))).collect();
        match raft.initialize(members).await {
            Ok(()) => tracing::info!(node_id, peers = ?peers.keys().collect::<Vec<_>>(), "cluster bootstrapped"),
            // Already initialized (a restart raced with an earlier bootstrap): nothing to do.
            Err(error) => tracing::info!(node_id, %error, "bootstrap skipped"),
        }
    }
    // Leadership and membership only (not every log append, as `raft.metrics()` would wake it).
    let mut metrics = raft.server_metrics();
    let mut refused = BTreeSet::new();
    loop {
        let mut deferred = false;
        let leading = metrics.borrow().current_leader == Some(node_id);
        if leading && MetaService::read(&*node, |state, _| state.cluster().is_none()) {
            // A new cluster, or one upgraded from a release without identities: made once.
            let id = uuid::Uuid::new_v4().simple().to_string();
            match node.propose(Command::InitCluster { id }).await.map(|p| p.result) {
                Ok(Ok(_)) => {
                    let id = MetaService::read(&*node, |state, _| state.cluster().map(|c| c.id.clone()));
                    tracing::info!(cluster_id = ?id, "cluster identity recorded");
                }
                Ok(Err(error)) => tracing::error!(%error, "the cluster identity was refused"),
                Err(error) => {
                    tracing::debug!(%error, "recording the cluster identity deferred");
                    deferred = true;
                }
            }
        }
        if leading {
            let members: Vec<(NodeId, String)> = {
                let m = metrics.borrow();
                let membership = m.membership_config.membership();
                membership.voter_ids().filter_map(|id| membership.get_node(&id).map(|n| (id, n.addr.clone()))).collect()
            };
            for (id, addr) in members {
                if refused.contains(&id) || MetaService::read(&*node, |state, _| state.meta_nodes().contains_key(&id)) {
                    continue;
                }
                match node.propose(Command::AddMetaNode { node_id: Some(id), addr }).await.map(|p| p.result) {
                    Ok(Ok(_)) => tracing::info!(meta_node = id, "meta node recorded"),
                    Ok(Err(ApplyError::NodeIdInUse { .. } | ApplyError::AddressInUse { .. })) => {
                        tracing::warn!(meta_node = id, "meta node ID or address already taken in the catalog");
                        refused.insert(id);
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(meta_node = id, %error, "cannot record meta node");
                        refused.insert(id);
                    }
                    Err(error) => {
                        tracing::debug!(meta_node = id, %error, "recording meta node deferred");
                        deferred = true;
                    }
                }
            }
        }
        // Something deferred (no quorum yet, a leader change under way) is tried again soon even
        // if leadership and membership stay as they are.
        let changed = if deferred {
            tokio::time::timeout(RECORD_RETRY, metrics.changed()).await.unwrap_or(Ok(()))
        } else {
            metrics.changed().await
        };
        if changed.is_err() {
            return;
        }
    }
}
