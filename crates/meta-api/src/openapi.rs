//! The OpenAPI document of the public API, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types' schemas, served at `/v1/openapi.json`.
//!
//! The document is the contract a client can rely on, and `scripts/check-api-contract.sh` holds
//! the server to it (Schemathesis, in `make verify`): every request it admits is accepted unless
//! the state refuses it (`404`, `409`, `503`, each listed with the operation), and every request
//! it rules out is refused with a `4xx` naming the field. Operations that create an object link to
//! those that take its ID (OpenAPI `links`), so stateful tests reach them with real IDs.

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::console;
use crate::responses::{Conflict, NotFound, Refused, Unavailable};
use crate::routes::{anti_entropy, cluster, nodes, schema, shards};

/// The OpenAPI description of `/v1`, `/health` and `/ready`, as derived; `/v1/openapi.json`
/// serves it completed with what the derive cannot state (the ranges of unsigned integers, the
/// keys of maps keyed by IDs, that a balance change gives a field, and links spelled as OpenAPI
/// spells them).
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
    ),
    components(responses(Refused, NotFound, Conflict, Unavailable))
)]
pub struct ApiDoc;

/// The document as JSON: [`ApiDoc`] with utoipa's misspellings put right, the range of every
/// unsigned integer stated (tools know the ranges of `int32` and `int64`, not of `uint32` and
/// `uint64`), the keys of maps keyed by IDs given as the decimal strings they are, and the rule
/// that a balance change gives at least one of its fields.
pub(crate) fn document() -> String {
    let completed = serde_json::to_value(ApiDoc::openapi()).map(|mut document| {
        for_each_object(&mut document, &mut |object| {
            respell(object);
            state_unsigned_range(object);
            integer_keys_as_decimal_strings(object);
        });
        require_a_balance_field(&mut document);
        document
    });
    completed
        .and_then(|document| serde_json::to_string_pretty(&document))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Calls `visit` on every object in `value`, each before the objects it holds.
fn for_each_object(value: &mut Value, visit: &mut impl FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(object) => {
            visit(object);
            for inner in object.values_mut() {
                for_each_object(inner, visit);
            }
        }
        Value::Array(items) => {
            for inner in items {
                for_each_object(inner, visit);
            }
        }
        _ => {}
    }
}

/// utoipa 5.5 writes a link's fields in snake case (`operation_id`, `request_body`) where OpenAPI
/// spells them in camel case, and the unsigned formats in kebab case (`u-int64` for `uint64`).
fn respell(object: &mut Map<String, Value>) {
    if let Some(Value::Object(links)) = object.get_mut("links") {
        for link in links.values_mut().filter_map(Value::as_object_mut) {
            for (snake, camel) in
                [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")]
            {
                if let Some(field) = link.remove(snake) {
                    link.insert(camel.to_owned(), field);
                }
            }
        }
    }
    if let Some(Value::String(format)) = object.get_mut("format") {
        if let Some(width) = format.strip_prefix("u-int") {
            *format = format!("uint{width}");
        }
    }
}

/// Gives an integer schema of an unsigned format its bounds, where it has none tighter.
fn state_unsigned_range(object: &mut Map<String, Value>) {
    let maximum = match object.get("format").and_then(Value::as_str) {
        Some("uint8") => u64::from(u8::MAX),
        Some("uint16") => u64::from(u16::MAX),
        Some("uint32") => u64::from(u32::MAX),
        Some("uint64") => u64::MAX,
        _ => return,
    };
    object.entry("minimum").or_insert(json!(0));
    object.entry("maximum").or_insert(json!(maximum));
}

/// The keys of a map keyed by IDs: JSON object keys are strings, so the key schema utoipa
/// derives from the Rust key type (an integer) admits no key at all. serde reads their decimal
/// form; the pattern admits those below 10^19, which holds every ID.
fn integer_keys_as_decimal_strings(object: &mut Map<String, Value>) {
    if let Some(names) = object.get_mut("propertyNames") {
        if names.get("type").and_then(Value::as_str) == Some("integer") {
            *names = json!({"type": "string", "pattern": "^(?:0|[1-9][0-9]{0,18})$"});
        }
    }
}

/// The fields of `PUT /v1/placement/balance`, of which a request gives at least one (not null).
const BALANCE_FIELDS: [(&str, &str); 3] =
    [("enabled", "boolean"), ("tolerance_percent", "integer"), ("max_moves", "integer")];

/// States that a `BalanceRequest` gives at least one of its fields, as the handler requires.
fn require_a_balance_field(document: &mut Value) {
    let one_of_them: Vec<Value> = BALANCE_FIELDS
        .iter()
        .map(|(field, kind)| json!({"required": [field], "properties": {*field: {"type": kind}}}))
        .collect();
    if let Some(schema) = document.pointer_mut("/components/schemas/BalanceRequest").and_then(Value::as_object_mut) {
        schema.insert("anyOf".to_owned(), Value::Array(one_of_them));
    }
}
