//! Cluster status, health, readiness and the whole-metadata long poll.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use axum::Json;
use meta_model::{Command, MetaState};
use serde_json::{json, Value};

use crate::error::{duration_field, ApiError, ApiQuery, LargeApiJson};
use crate::responses::{Refused, Unavailable};
use crate::service::MetaService;
use meta_wire::{ErrorReply, Metadata, MetadataQuery, MetadataReply, NodeStatus};

const DEFAULT_WAIT: Duration = Duration::from_secs(30);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// `GET /v1/status`: this node's Raft view of the cluster.
#[utoipa::path(get, path = "/v1/status", tag = "cluster", responses(
    (status = 200, body = NodeStatus), (status = "4XX", response = Refused)
))]
pub(crate) async fn status<S: MetaService>(State(service): State<Arc<S>>) -> Json<NodeStatus> {
    Json(service.status())
}

/// `GET /health`: the process is up.
#[utoipa::path(get, path = "/health", tag = "cluster", responses(
    (status = 200, description = "The process is up"), (status = "4XX", response = Refused)
))]
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Whether every Raft voter is recorded in the meta-node catalog.
fn catalog_complete<S: MetaService>(service: &S, status: &NodeStatus) -> bool {
    service.read(|state, _| status.voters.iter().all(|voter| state.meta_nodes().contains_key(&voter.id)))
}

/// How long `/ready` waits for this node to catch up with the leader before it says "not yet".
const READY_WAIT: Duration = Duration::from_millis(500);

/// `GET /ready`: a leader is known, this node has caught up with it (a linearizable read would be
/// served at once: applied at least up to the leader's read index, confirmed by a quorum), and
/// every Raft voter is recorded in the meta-node catalog (the leader records them right after
/// bootstrap and membership changes). A node that restarted on an old log is not ready until it
/// has applied what the cluster committed meanwhile, so a rolling restart that waits for
/// `/ready` before the next node never leaves a quorum of stale logs.
#[utoipa::path(get, path = "/ready", tag = "cluster", responses(
    (status = 200, description = "Ready to serve"), (status = "4XX", response = Refused),
    (status = 503, description = "Not ready (no leader, not caught up, meta nodes not yet recorded); retry")
))]
pub(crate) async fn ready<S: MetaService>(State(service): State<Arc<S>>) -> (StatusCode, Json<Value>) {
    let caught_up = matches!(tokio::time::timeout(READY_WAIT, service.read_barrier()).await, Ok(Ok(())));
    let status = service.status();
    let catalog_complete = catalog_complete(&*service, &status);
    let ready = status.leader_id.is_some() && caught_up && catalog_complete;
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "ready": ready,
        "leader_id": status.leader_id,
        "committed_index": status.committed_index,
        "applied_index": status.applied_index,
        "meta_catalog_complete": catalog_complete,
    });
    (code, Json(body))
}

/// `GET /v1/metadata?index=N&wait=30s`: the whole metadata with the index it reflects; with
/// `index`, waits until the state moves past it (how data nodes keep their cache current).
#[utoipa::path(get, path = "/v1/metadata", tag = "cluster", params(MetadataQuery), responses(
    (status = 200, body = MetadataReply), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn metadata<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<MetadataQuery>,
) -> Result<Response, ApiError> {
    let wait = match &query.wait {
        Some(text) => Duration::from_nanos(duration_field("wait", text)?).min(MAX_WAIT),
        None => DEFAULT_WAIT,
    };
    super::read_barrier(&*service, query.stale).await?;
    if let Some(index) = query.index {
        service.wait_applied_beyond(index, wait).await;
    }
    // Encoded under the read lock, without copying the state (it can hold a million shards).
    let body = service
        .read(|state, index| serde_json::to_vec(&MetadataReply { index, metadata: Metadata::of(state) }))
        .map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Largest backup `POST /v1/restore` accepts (a million shards encode to ~30 MB of JSON).
pub(crate) const MAX_RESTORE_BYTES: usize = 256 * 1024 * 1024;

/// Most bytes of encoded backup in one log entry: a larger backup is restored in parts
/// ([`Command::restore_in_parts`]), so no single entry holds up heartbeats while it is
/// replicated, and the last part switches to the whole backup at once.
pub(crate) const RESTORE_PART_BYTES: usize = 256 * 1024;

/// `POST /v1/restore`: loads a backup (the body of `GET /v1/metadata`) into an empty cluster,
/// in log entries of at most [`RESTORE_PART_BYTES`]; the backup appears at once, when its last
/// entry applies.
#[utoipa::path(post, path = "/v1/restore", tag = "cluster", request_body = MetadataReply, responses(
    (status = 204, description = "Restored"),
    (status = "4XX", description = "Refused: `invalid_backup` names what makes the backup inconsistent", body = ErrorReply),
    (status = 409, description = "`not_empty`: the cluster has data nodes or databases; restore into a fresh one", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn restore<S: MetaService>(
    State(service): State<Arc<S>>,
    LargeApiJson(backup): LargeApiJson<MetadataReply<'static>>,
) -> Result<StatusCode, ApiError> {
    // A cluster with data nodes or databases refuses any backup: say so before the seconds of
    // checking a big one (the first part's apply checks again, the answer of record).
    super::read_barrier(&*service, false).await?;
    service.read(|state, _| state.check_empty())?;
    // Converting, encoding and checking a million shards takes a while: off the runtime's
    // threads, which Raft's heartbeats need.
    let checked = tokio::task::spawn_blocking(move || {
        // The body carries no restore in progress (`into_record` leaves it out).
        let record = backup.metadata.into_record();
        let upload = uuid::Uuid::new_v4().as_u64_pair().0;
        let parts = Command::restore_in_parts(&record, upload, RESTORE_PART_BYTES).map_err(ApiError::internal)?;
        MetaState::check_backup(record).map(|()| parts).map_err(ApiError::from)
    });
    let parts = checked.await.map_err(ApiError::internal)??;
    // The restored ID counter moves past the backup's IDs; meta nodes not yet recorded in the
    // catalog could then never be. Wait for the catalog (what /ready reports) first.
    if !catalog_complete(&*service, &service.status()) {
        return Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "not_ready",
            message: "the cluster is still recording its meta nodes; retry once /ready answers 200".to_owned(),
        });
    }
    for part in parts {
        let () = super::propose(&*service, part).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
