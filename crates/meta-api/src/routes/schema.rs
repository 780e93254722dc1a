//! Databases and retention policies.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use meta_model::{validate_name, ApplyError, Command, Database, RetentionPolicySpec, RetentionPolicyUpdate};

use crate::error::{duration_field, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::responses::{NotFound, Refused, Unavailable};
use crate::routes::{propose, read_barrier};
use crate::service::MetaService;
use meta_wire::{
    AlterRetentionPolicyRequest, CreateDatabaseRequest, DatabaseInfo, DatabaseList, ErrorReply, ReadQuery,
    RetentionPolicyInfo, RetentionPolicyRequest,
};

fn spec(request: &RetentionPolicyRequest) -> Result<RetentionPolicySpec, ApiError> {
    validate_name("retention policy", &request.name)?;
    Ok(RetentionPolicySpec {
        name: request.name.clone(),
        duration: duration_field("duration", &request.duration)?,
        shard_group_duration: optional_duration("shard_duration", request.shard_duration.as_deref())?,
        replication_factor: request.replication,
    })
}

fn optional_duration(field: &str, value: Option<&str>) -> Result<Option<u64>, ApiError> {
    value.map(|d| duration_field(field, d)).transpose()
}

/// `GET /v1/databases`: databases with their retention policies (shard groups left out).
#[utoipa::path(get, path = "/v1/databases", tag = "schema", params(ReadQuery), responses(
    (status = 200, body = DatabaseList), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn list_databases<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<DatabaseList>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    Ok(Json(DatabaseList { databases: service.read(|state, _| state.databases().values().map(summary).collect()) }))
}

/// `GET /v1/databases/{db}`.
#[utoipa::path(get, path = "/v1/databases/{db}", tag = "schema", params(("db" = String, Path, description = "Database"), ReadQuery), responses(
    (status = 200, body = DatabaseInfo), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn get_database<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<DatabaseInfo>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    let database = service.read(|state, _| state.database(&name).map(summary));
    Ok(Json(database.ok_or(ApplyError::DatabaseNotFound { database: name })?))
}

/// A database without its shard groups.
fn summary(database: &Database) -> DatabaseInfo {
    let retention_policies = database
        .retention_policies
        .values()
        .map(|rp| RetentionPolicyInfo {
            name: rp.name.clone(),
            duration: rp.duration,
            shard_group_duration: rp.shard_group_duration,
            replication_factor: rp.replication_factor,
            default: database.default_retention_policy.as_deref() == Some(rp.name.as_str()),
            shard_groups: rp.live_groups().count(),
        })
        .collect();
    DatabaseInfo {
        name: database.name.clone(),
        default_retention_policy: database.default_retention_policy.clone(),
        retention_policies,
    }
}

/// `POST /v1/databases`.
#[utoipa::path(post, path = "/v1/databases", tag = "schema", request_body = CreateDatabaseRequest, responses(
    (status = 201, description = "Created", links(
        ("GetDatabase" = (operation_id = "get_database", parameters(("db" = "$request.body#/name")))),
        ("DropDatabase" = (operation_id = "drop_database", parameters(("db" = "$request.body#/name")))),
        ("CreateRetentionPolicy" = (operation_id = "create_retention_policy", parameters(("db" = "$request.body#/name")))),
        ("CreateShardGroup" = (operation_id = "create_shard_group",
            request_body = json!({"database": "$request.body#/name", "timestamp": 0}))),
    )),
    (status = "4XX", response = Refused),
    (status = 409, description = "`database_exists`, or `replication_factor_exceeds_nodes` (more copies than active data nodes)", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn create_database<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<CreateDatabaseRequest>,
) -> Result<StatusCode, ApiError> {
    validate_name("database", &request.name)?;
    let default_retention_policy = request.retention_policy.as_ref().map(spec).transpose()?;
    let () = propose(&*service, Command::CreateDatabase { name: request.name, default_retention_policy }).await?;
    Ok(StatusCode::CREATED)
}

/// `DELETE /v1/databases/{db}`.
#[utoipa::path(delete, path = "/v1/databases/{db}", tag = "schema", params(("db" = String, Path, description = "Database")), responses(
    (status = 204, description = "Dropped"), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn drop_database<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let () = propose(&*service, Command::DropDatabase { name }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/databases/{db}/retention-policies`.
#[utoipa::path(post, path = "/v1/databases/{db}/retention-policies", tag = "schema", params(("db" = String, Path, description = "Database")), request_body = RetentionPolicyRequest, responses(
    (status = 201, description = "Created", links(
        ("AlterRetentionPolicy" = (operation_id = "alter_retention_policy",
            parameters(("db" = "$request.path.db"), ("rp" = "$request.body#/name")))),
        ("DropRetentionPolicy" = (operation_id = "drop_retention_policy",
            parameters(("db" = "$request.path.db"), ("rp" = "$request.body#/name")))),
        ("CreateShardGroup" = (operation_id = "create_shard_group",
            request_body = json!({"database": "$request.path.db", "retention_policy": "$request.body#/name", "timestamp": 0}))),
    )),
    (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`retention_policy_exists`, or `replication_factor_exceeds_nodes`", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn create_retention_policy<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(database): ApiPath<String>,
    ApiJson(request): ApiJson<RetentionPolicyRequest>,
) -> Result<StatusCode, ApiError> {
    let command = Command::CreateRetentionPolicy { database, spec: spec(&request)?, make_default: request.default };
    let () = propose(&*service, command).await?;
    Ok(StatusCode::CREATED)
}

/// `PATCH /v1/databases/{db}/retention-policies/{rp}`.
#[utoipa::path(patch, path = "/v1/databases/{db}/retention-policies/{rp}", tag = "schema", params(("db" = String, Path, description = "Database"), ("rp" = String, Path, description = "Retention policy")), request_body = AlterRetentionPolicyRequest, responses(
    (status = 204, description = "Changed"), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`replication_factor_exceeds_nodes`", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn alter_retention_policy<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath((database, name)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<AlterRetentionPolicyRequest>,
) -> Result<StatusCode, ApiError> {
    let update = RetentionPolicyUpdate {
        duration: optional_duration("duration", request.duration.as_deref())?,
        shard_group_duration: optional_duration("shard_duration", request.shard_duration.as_deref())?,
        replication_factor: request.replication,
        make_default: request.default,
    };
    let () = propose(&*service, Command::AlterRetentionPolicy { database, name, update }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/databases/{db}/retention-policies/{rp}`.
#[utoipa::path(delete, path = "/v1/databases/{db}/retention-policies/{rp}", tag = "schema", params(("db" = String, Path, description = "Database"), ("rp" = String, Path, description = "Retention policy")), responses(
    (status = 204, description = "Dropped"), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn drop_retention_policy<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath((database, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let () = propose(&*service, Command::DropRetentionPolicy { database, name }).await?;
    Ok(StatusCode::NO_CONTENT)
}
