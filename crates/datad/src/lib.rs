//! `datad`, the reference data node: a small but real data node that proves the meta service's
//! data-node protocol end to end, and what the tests, demo and benchmarks run.
//!
//! It serves HTTP at once, waits until an operator registers its address (`metactl add-data
//! HOST:PORT`), then heartbeats with its shard inventory, follows the metadata by long-polling,
//! stores line-protocol writes in one append-only file per shard (queueing what an owner could not
//! take for hinted handoff), serves shard files to peers and pulls the copy tasks it is the target
//! of, with resumable, checksum-verified transfers.
//!
//! ```text
//!            ┌───────────── meta service (/v1) ─────────────┐
//!  registration + heartbeats   metadata long poll   claim / progress / complete / fail
//!            │                        │                          │
//!  ┌─────────┴────────────────────────┴──────────────────────────┴─────────┐
//!  │ datad: routes ─ write_path ─ shard_store ◀── transfer ◀── copy_worker │
//!  └──────────────────────────────────┬────────────────────────────────────┘
//!              POST /write, /internal/shards/{id}/append, GET /shards/{id}[/digest]
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), datad::DatadError> {
//! use clap::Parser;
//! let cli = datad::Cli::parse_from([
//!     "datad", "--meta", "127.0.0.1:8091", "--listen", "127.0.0.1:8088", "--data-dir", "./datad-data",
//! ]);
//! datad::run(cli.into_config()?, daemon::shutdown_signal()).await
//! # }
//! ```

mod auth;
mod blocking;
mod config;
mod consistency;
mod content_exchange;
pub mod content_tree;
mod copy_worker;
mod error;
mod fnv;
mod frame;
mod handoff;
mod line_protocol;
mod metadata_cache;
mod metrics;
mod node;
mod orphans;
mod reclaim;
mod registration;
mod repair;
mod retire;
mod routes;
mod routing;
mod shard_file;
mod shard_store;
#[cfg(test)]
mod test_support;
mod transfer;
mod write_path;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use config::{Cli, Config, MAX_CHUNK_SIZE};
pub use consistency::Consistency;
pub use error::{ApiError, DatadError};
pub use fnv::{fnv1a, Fnv64};
pub use handoff::HandoffSettings;
pub use line_protocol::{parse_lines, InvalidLine, Line, ParsedBody, Precision};
pub use routes::{peer_router, MetadataIndex, MAX_WRITE_BYTES};
pub use shard_file::{lines as shard_file_lines, ShardHeader, SHARD_FORMAT};
pub use shard_store::{file_digest, PartialCopy, ShardStore, UnusableFile};
pub use transfer::{DigestReply, Transfer};

use crate::node::Node;

/// Rewrites shard files of the layout before headers once the metadata (with the cluster's
/// identity) says which shard each holds; until then they are kept unused, and files of shards
/// the metadata does not know stay as they are (reported as orphans). Retried with a growing
/// pause while the meta nodes cannot tell.
async fn migrate_legacy(node: Arc<Node>) {
    if node.store.unusable().iter().any(UnusableFile::is_legacy) {
        tracing::warn!("shard files of the layout before headers found: migrating them once the metadata is read");
        let mut pause = MIGRATION_RETRY_FIRST;
        while let Err(why) = migrate_legacy_once(&node).await {
            tracing::warn!(%why, ?pause, "cannot migrate the legacy shard files yet; retrying");
            // A deliberate backoff (doubling up to a bound) while the meta nodes do not answer.
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MIGRATION_RETRY_MAX);
        }
    }
    node.legacy_pending.store(false, std::sync::atomic::Ordering::SeqCst);
}

/// First and longest pause between attempts to migrate legacy shard files.
const MIGRATION_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(200);
const MIGRATION_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// One attempt: reads the metadata, marks the legacy shards written (the old files hold data:
/// the meta service must know before they count as copies, or a shard never marked would be given
/// new owners without its data), then rewrites the files.
async fn migrate_legacy_once(node: &Node) -> Result<(), String> {
    let meta = node.cache.refresh(&node.client).await.map_err(|e| e.to_string())?;
    if meta.state.cluster().is_none() {
        return Err("the metadata has no cluster identity yet".to_owned());
    }
    let legacy = node.store.unusable().into_iter().filter(UnusableFile::is_legacy).filter_map(|f| f.shard_id);
    let unmarked = node.cache.unmarked(&meta, legacy.filter(|&shard| meta.state.shard(shard).is_some()));
    if !unmarked.is_empty() {
        node.cache.mark_written(&node.client, &unmarked).await.map_err(|e| e.to_string())?;
        node.metrics.marked(unmarked.len() as u64);
    }
    let store = Arc::clone(&node.store);
    let migrated = blocking::blocking(move || store.migrate_legacy(|shard| ShardHeader::of(&meta.state, shard))).await;
    match migrated {
        Ok(shards) => tracing::info!(migrated = shards.len(), "legacy shard files migrated"),
        // Files that could not be rewritten stay as they were, reported as orphans.
        Err(error) => tracing::error!(%error, "cannot migrate legacy shard files"),
    }
    Ok(())
}

/// Runs a data node until `shutdown` completes. Copies in progress are abandoned; their partial
/// files are resumed after a restart.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), DatadError> {
    // Digesting the shard files happens once, before anything else runs.
    let store = ShardStore::open(&config.data_dir)?;
    let handoff = handoff::Handoff::open(&config.data_dir, config.handoff)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| DatadError::Listen { addr: config.listen.to_string(), source })?;
    let bound =
        listener.local_addr().map_err(|source| DatadError::Listen { addr: config.listen.to_string(), source })?;
    let advertise = config.advertise.clone().unwrap_or_else(|| bound.to_string());
    let server_tls = match &config.tls {
        Some(tls) => Some(tls.server.config()?),
        None => None,
    };
    let client_tls = config.tls.as_ref().map(|tls| &tls.client);
    let client = meta_client::Client::with_tls(&config.meta, client_tls)?.with_token(config.token.clone());
    let node = Arc::new(Node::new(config, advertise, client, store, handoff)?);

    let mut background = JoinSet::new();
    background.spawn(Arc::clone(&node.cache).follow(Arc::clone(&node.client)));
    background.spawn(migrate_legacy(Arc::clone(&node)));
    background.spawn(registration::run(Arc::clone(&node)));
    background.spawn(copy_worker::claim_loop(Arc::clone(&node)));
    background.spawn(reclaim::run(Arc::clone(&node)));
    background.spawn(retire::run(Arc::clone(&node)));
    background.spawn(handoff::drain::run(Arc::clone(&node)));

    let scheme = if server_tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %bound, addr = %node.advertise, scheme, meta = ?node.config.meta, "datad serving");
    let served = cluster_tls::server::serve(listener, routes::app(Arc::clone(&node)), server_tls, shutdown).await;
    background.abort_all();
    tracing::info!("datad stopped");
    served.map_err(|source| DatadError::Listen { addr: bound.to_string(), source })
}
