//! Anti-entropy: data-node heartbeats, the pull side of copy tasks, and the operator's view
//! (`entropy show`, `copy-shard`, `kill-copy-shard`, `entropy repair`). Every call goes to the
//! leader's anti-entropy service (forwarded by followers), which keeps the soft state and stamps
//! task commands with its clock.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use meta_model::{NodeId, Task, TaskId};
use meta_wire::{
    AeCall, ClaimReply, ClaimRequest, CompleteRequest, CompleteTask, CopyShardRequest, CopyTaskInfo, CopyTaskList,
    CopyTasksQuery, EntropyReport, ErrorReply, FailRequest, FailTask, GetReport, GetTask, Heartbeat, HeartbeatReply,
    HeartbeatRequest, KillTask, ProgressReply, ProgressRequest, RepairReply, RepairRequest, ReportProgress,
};

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::responses::{NotFound, Refused, Unavailable};
use crate::service::MetaService;

/// Most tasks one claim may hold.
const MAX_CLAIM: u32 = 1000;
/// Longest a claim may wait for a task (below the forwarding timeout between meta nodes).
const MAX_CLAIM_WAIT_MS: u64 = 5000;
/// Longest error text a data node may report.
const MAX_ERROR_LEN: usize = 4096;

/// Has the leader's service answer `call`, as JSON.
async fn call<S: MetaService, C: AeCall>(service: &S, call: C) -> Result<Json<C::Reply>, ApiError> {
    Ok(Json(service.anti_entropy(call).await?))
}

/// `POST /v1/data-nodes/{id}/heartbeat`.
#[utoipa::path(post, path = "/v1/data-nodes/{id}/heartbeat", tag = "anti-entropy", params(("id" = u64, Path, description = "Data node ID")), request_body = HeartbeatRequest, responses(
    (status = 200, body = HeartbeatReply), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`address_mismatch` (not the node's registered address) or `data_node_not_active` (removed)", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn heartbeat<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(node_id): ApiPath<NodeId>,
    ApiJson(request): ApiJson<HeartbeatRequest>,
) -> Result<Json<HeartbeatReply>, ApiError> {
    meta_model::validate_addr("addr", &request.addr)?;
    call(&*service, Heartbeat { node_id, request }).await
}

/// `POST /v1/copy-tasks/claim`: the reply lists every task the node holds claimed; with `wait_ms`
/// an idle node's claim waits for a task to be created (long poll).
#[utoipa::path(post, path = "/v1/copy-tasks/claim", tag = "anti-entropy", request_body = ClaimRequest, responses(
    (status = 200, body = ClaimReply, links(
        ("ReportProgress" = (operation_id = "progress", parameters(("id" = "$response.body#/tasks/0/task/id")),
            request_body = json!({"attempt": "$response.body#/tasks/0/task/attempt"}))),
        ("CompleteTask" = (operation_id = "complete", parameters(("id" = "$response.body#/tasks/0/task/id")),
            request_body = json!({"attempt": "$response.body#/tasks/0/task/attempt"}))),
        ("FailTask" = (operation_id = "fail", parameters(("id" = "$response.body#/tasks/0/task/id")),
            request_body = json!({"attempt": "$response.body#/tasks/0/task/attempt"}))),
    )),
    (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn claim<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<ClaimRequest>,
) -> Result<Json<ClaimReply>, ApiError> {
    if request.max > MAX_CLAIM {
        return Err(ApiError::invalid_field("max", format!("at most {MAX_CLAIM}")));
    }
    if request.wait_ms > MAX_CLAIM_WAIT_MS {
        return Err(ApiError::invalid_field("wait_ms", format!("at most {MAX_CLAIM_WAIT_MS}")));
    }
    call(&*service, request).await
}

/// `POST /v1/copy-tasks/{id}/progress`.
#[utoipa::path(post, path = "/v1/copy-tasks/{id}/progress", tag = "anti-entropy", params(("id" = u64, Path, description = "Task ID")), request_body = ProgressRequest, responses(
    (status = 200, body = ProgressReply), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "The claim is stale (`task_not_claimed`, `stale_attempt`): stop", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn progress<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(request): ApiJson<ProgressRequest>,
) -> Result<Json<ProgressReply>, ApiError> {
    if request.bytes_done > request.bytes_total {
        return Err(ApiError::invalid_field("bytes_done", "exceeds bytes_total"));
    }
    call(&*service, ReportProgress { task_id, request }).await
}

/// `POST /v1/copy-tasks/{id}/complete`: the target becomes an owner.
#[utoipa::path(post, path = "/v1/copy-tasks/{id}/complete", tag = "anti-entropy", params(("id" = u64, Path, description = "Task ID")), request_body = CompleteRequest, responses(
    (status = 200, body = Task), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "The claim is stale (`task_not_claimed`, `stale_attempt`)", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn complete<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(request): ApiJson<CompleteRequest>,
) -> Result<Json<Task>, ApiError> {
    call(&*service, CompleteTask { task_id, attempt: request.attempt }).await
}

/// `POST /v1/copy-tasks/{id}/fail`: retried with backoff, or failed for good.
#[utoipa::path(post, path = "/v1/copy-tasks/{id}/fail", tag = "anti-entropy", params(("id" = u64, Path, description = "Task ID")), request_body = FailRequest, responses(
    (status = 200, body = Task), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "The claim is stale (`task_not_claimed`, `stale_attempt`)", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn fail<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(request): ApiJson<FailRequest>,
) -> Result<Json<Task>, ApiError> {
    if request.error.len() > MAX_ERROR_LEN {
        return Err(ApiError::invalid_field("error", format!("longer than {MAX_ERROR_LEN} bytes")));
    }
    call(&*service, FailTask { task_id, request }).await
}

/// `GET /v1/copy-tasks`: tasks kept in the metadata (open, failed, killed, recent finished).
#[utoipa::path(get, path = "/v1/copy-tasks", tag = "anti-entropy", params(CopyTasksQuery), responses(
    (status = 200, body = CopyTaskList), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn list_tasks<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<CopyTasksQuery>,
) -> Result<Json<CopyTaskList>, ApiError> {
    call(&*service, query).await
}

/// `GET /v1/copy-tasks/{id}`.
#[utoipa::path(get, path = "/v1/copy-tasks/{id}", tag = "anti-entropy", params(("id" = u64, Path, description = "Task ID")), responses(
    (status = 200, body = CopyTaskInfo), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn get_task<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(task_id): ApiPath<TaskId>,
) -> Result<Json<CopyTaskInfo>, ApiError> {
    call(&*service, GetTask { task_id }).await
}

/// `POST /v1/copy-tasks` (`copy-shard SRC DEST SHARD`): the target becomes an extra owner.
#[utoipa::path(post, path = "/v1/copy-tasks", tag = "anti-entropy", request_body = CopyShardRequest, responses(
    (status = 201, body = Task, links(
        ("GetTask" = (operation_id = "get_task", parameters(("id" = "$response.body#/id")))),
        ("KillTask" = (operation_id = "kill_task", parameters(("id" = "$response.body#/id")))),
        ("ReportProgress" = (operation_id = "progress", parameters(("id" = "$response.body#/id")),
            request_body = json!({"attempt": "$response.body#/attempt"}))),
        ("CompleteTask" = (operation_id = "complete", parameters(("id" = "$response.body#/id")),
            request_body = json!({"attempt": "$response.body#/attempt"}))),
        ("FailTask" = (operation_id = "fail", parameters(("id" = "$response.body#/id")),
            request_body = json!({"attempt": "$response.body#/attempt"}))),
    )),
    (status = "4XX", description = "Refused; the body names the problem (`invalid_copy_task`: source and target are one node)", body = ErrorReply),
    (status = 404, response = NotFound),
    (status = 409, description = "The state refuses the copy now: `shard_owner_exists`, `copy_task_exists`, \
        `data_node_not_active`, `shard_group_deleted`, `target_dead`, `source_lacks_shard`, `anti_entropy_disabled`", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn copy_shard<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<CopyShardRequest>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let created = call(&*service, request).await?;
    Ok((StatusCode::CREATED, created))
}

/// `DELETE /v1/copy-tasks/{id}` (`kill-copy-shard`, `entropy kill-repair`).
#[utoipa::path(delete, path = "/v1/copy-tasks/{id}", tag = "anti-entropy", params(("id" = u64, Path, description = "Task ID")), responses(
    (status = 200, body = Task), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`task_not_open`: it already finished", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn kill_task<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(task_id): ApiPath<TaskId>,
) -> Result<Json<Task>, ApiError> {
    call(&*service, KillTask { task_id }).await
}

/// `GET /v1/entropy` (`entropy show`).
#[utoipa::path(get, path = "/v1/entropy", tag = "anti-entropy", responses(
    (status = 200, body = EntropyReport), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn report<S: MetaService>(State(service): State<Arc<S>>) -> Result<Json<EntropyReport>, ApiError> {
    call(&*service, GetReport).await
}

/// `POST /v1/entropy/repair` (`entropy repair SHARD`): clears the shard's failed or killed
/// tasks and plans it at once.
#[utoipa::path(post, path = "/v1/entropy/repair", tag = "anti-entropy", request_body = RepairRequest, responses(
    (status = 200, body = RepairReply), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`anti_entropy_disabled`, or the shard's group is deleted", body = ErrorReply),
    (status = 503, description = "No leader, or `not_trusted_yet`: the leader's grace period after a takeover; retry after Retry-After", body = ErrorReply)
))]
pub(crate) async fn repair<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<RepairRequest>,
) -> Result<Json<RepairReply>, ApiError> {
    call(&*service, request).await
}
