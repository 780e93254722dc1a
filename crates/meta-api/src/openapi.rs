//! The OpenAPI document of the public API, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types' schemas, served at `/v1/openapi.json`.

use utoipa::OpenApi;

use crate::console;
use crate::routes::{anti_entropy, cluster, nodes, schema, shards};

/// The OpenAPI description of `/v1`, `/health` and `/ready`.
#[derive(OpenApi)]
#[openapi(
    info(title = "metad", description = "Raft-replicated cluster metadata service: the /v1 API of a meta node."),
    paths(
        cluster::status,
        cluster::health,
        cluster::ready,
        cluster::metadata,
        cluster::restore,
        console::console,
        nodes::list_data_nodes,
        nodes::get_data_node,
        nodes::add_data_node,
        nodes::update_data_node,
        nodes::remove_data_node,
        nodes::set_node_labels,
        nodes::get_placement,
        nodes::set_failure_domains,
        nodes::set_balance,
        nodes::list_meta_nodes,
        nodes::add_meta_node,
        nodes::remove_meta_node,
        schema::list_databases,
        schema::get_database,
        schema::create_database,
        schema::drop_database,
        schema::create_retention_policy,
        schema::alter_retention_policy,
        schema::drop_retention_policy,
        shards::list_shard_groups,
        shards::create_shard_group,
        shards::list_shards,
        shards::get_shard,
        shards::drop_shard,
        shards::mark_written,
        shards::add_owner,
        shards::remove_owner,
        shards::truncate_shards,
        anti_entropy::heartbeat,
        anti_entropy::claim,
        anti_entropy::progress,
        anti_entropy::complete,
        anti_entropy::fail,
        anti_entropy::list_tasks,
        anti_entropy::get_task,
        anti_entropy::copy_shard,
        anti_entropy::kill_task,
        anti_entropy::report,
        anti_entropy::repair,
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub(crate) fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
