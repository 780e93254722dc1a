//! The `/v1` routes, one module per family of resources.

pub(crate) mod anti_entropy;
pub(crate) mod cluster;
pub(crate) mod nodes;
pub(crate) mod schema;
pub(crate) mod shards;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use meta_model::{Command, FromResponse};

use crate::error::ApiError;
use crate::service::MetaService;

pub(crate) use cluster::{health, metadata, ready, status};

/// The `/v1` routes.
pub(crate) fn v1<S: MetaService>() -> Router<Arc<S>> {
    Router::new()
        .route("/v1/status", get(status::<S>))
        .route("/v1/console", get(crate::console::console::<S>))
        .route("/v1/metadata", get(metadata::<S>))
        .route("/v1/data-nodes", get(nodes::list_data_nodes::<S>).post(nodes::add_data_node::<S>))
        .route(
            "/v1/data-nodes/{id}",
            get(nodes::get_data_node::<S>).put(nodes::update_data_node::<S>).delete(nodes::remove_data_node::<S>),
        )
        .route("/v1/data-nodes/{id}/labels", patch(nodes::set_node_labels::<S>))
        .route("/v1/placement", get(nodes::get_placement::<S>))
        .route("/v1/placement/failure-domains", put(nodes::set_failure_domains::<S>))
        .route("/v1/placement/balance", put(nodes::set_balance::<S>))
        .route("/v1/meta-nodes", get(nodes::list_meta_nodes::<S>).post(nodes::add_meta_node::<S>))
        .route("/v1/meta-nodes/{id}", delete(nodes::remove_meta_node::<S>))
        .route("/v1/databases", get(schema::list_databases::<S>).post(schema::create_database::<S>))
        .route("/v1/databases/{db}", get(schema::get_database::<S>).delete(schema::drop_database::<S>))
        .route("/v1/databases/{db}/retention-policies", post(schema::create_retention_policy::<S>))
        .route(
            "/v1/databases/{db}/retention-policies/{rp}",
            patch(schema::alter_retention_policy::<S>).delete(schema::drop_retention_policy::<S>),
        )
        .route("/v1/shard-groups", get(shards::list_shard_groups::<S>).post(shards::create_shard_group::<S>))
        .route("/v1/shards", get(shards::list_shards::<S>))
        .route("/v1/shards/{id}", get(shards::get_shard::<S>).delete(shards::drop_shard::<S>))
        .route("/v1/shards/written", post(shards::mark_written::<S>))
        .route("/v1/shards/{id}/owners", post(shards::add_owner::<S>))
        .route("/v1/shards/{id}/owners/{node}", delete(shards::remove_owner::<S>))
        .route("/v1/truncate-shards", post(shards::truncate_shards::<S>))
        .route("/v1/data-nodes/{id}/heartbeat", post(anti_entropy::heartbeat::<S>))
        .route("/v1/copy-tasks", get(anti_entropy::list_tasks::<S>).post(anti_entropy::copy_shard::<S>))
        .route("/v1/copy-tasks/claim", post(anti_entropy::claim::<S>))
        .route("/v1/copy-tasks/{id}", get(anti_entropy::get_task::<S>).delete(anti_entropy::kill_task::<S>))
        .route("/v1/copy-tasks/{id}/progress", post(anti_entropy::progress::<S>))
        .route("/v1/copy-tasks/{id}/complete", post(anti_entropy::complete::<S>))
        .route("/v1/copy-tasks/{id}/fail", post(anti_entropy::fail::<S>))
        .route("/v1/entropy", get(anti_entropy::report::<S>))
        .route("/v1/entropy/repair", post(anti_entropy::repair::<S>))
        .route("/v1/restore", post(cluster::restore::<S>).layer(DefaultBodyLimit::max(cluster::MAX_RESTORE_BYTES)))
}

/// Commits a command and returns its answer in the shape its kind of command answers; a
/// rejection becomes an API error.
pub(crate) async fn propose<S: MetaService, T: FromResponse>(service: &S, command: Command) -> Result<T, ApiError> {
    let name = command.name();
    let proposed = service.propose(command).await?;
    T::from_response(proposed.result?).map_err(|other| ApiError::internal(format!("{name} answered {other:?}")))
}

/// Waits, unless `stale`, until this node's state is current (linearizable read).
pub(crate) async fn read_barrier<S: MetaService>(service: &S, stale: bool) -> Result<(), ApiError> {
    if !stale {
        service.read_barrier().await?;
    }
    Ok(())
}
