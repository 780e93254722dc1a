//! The internal routes between meta nodes: openraft's RPCs, forwarding of commands, membership
//! changes and anti-entropy calls to the leader, and the read index.
//! Bodies are bincode through `meta_model::codec`; the reply is always `200` with an encoded
//! `Result`, so a Raft-level error travels as data, not as an HTTP failure.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::future::Future;
use std::sync::Arc;

use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use openraft::Raft;
use serde::de::DeserializeOwned;
use serde::Serialize;

use meta_model::codec;
use meta_model::{Command, NodeId};
use meta_store::storage::TypeConfig;

use meta_wire::AeRequest;

use meta_api::{MembershipChange, MetaService, ServiceError};

use crate::node::Node;
use crate::rpc::{
    ForwardError, ANTI_ENTROPY_PATH, CLUSTER_SECRET_HEADER, MEMBERSHIP_PATH, PROPOSE_PATH, RAFT_APPEND_PATH,
    RAFT_SNAPSHOT_PATH, RAFT_VOTE_PATH, READ_INDEX_PATH, STATUS_PATH,
};

/// Snapshot chunks and log batches can be large; this bounds one internal request.
const INTERNAL_BODY_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Clone)]
struct Internal {
    raft: Raft<TypeConfig>,
    service: Arc<Node>,
    secret: Option<String>,
}

/// The internal router; requests must carry the cluster secret when one is configured.
pub(crate) fn internal_router(raft: Raft<TypeConfig>, service: Arc<Node>, secret: Option<String>) -> Router {
    Router::new()
        .route(RAFT_APPEND_PATH, post(append))
        .route(RAFT_VOTE_PATH, post(vote))
        .route(RAFT_SNAPSHOT_PATH, post(snapshot))
        .route(PROPOSE_PATH, post(propose))
        .route(READ_INDEX_PATH, post(read_index))
        .route(MEMBERSHIP_PATH, post(membership))
        .route(ANTI_ENTROPY_PATH, post(anti_entropy))
        .route(STATUS_PATH, post(status))
        .layer(DefaultBodyLimit::max(INTERNAL_BODY_LIMIT))
        .with_state(Internal { raft, service, secret })
}

/// A refused internal request: status and plain-text reason.
type Refusal = (StatusCode, String);

fn authorize(internal: &Internal, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(secret) = &internal.secret else { return Ok(()) };
    let given = headers.get(CLUSTER_SECRET_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    // Compared without an early exit (`subtle`): the time taken reveals no matching prefix.
    if bool::from(subtle::ConstantTimeEq::ct_eq(given, secret.as_bytes())) {
        Ok(())
    } else {
        Err((StatusCode::UNAUTHORIZED, "missing or wrong cluster secret".to_owned()))
    }
}

fn decode<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, Refusal> {
    codec::decode(what, body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))
}

fn reply<T: Serialize>(what: &'static str, value: &T) -> Response {
    match codec::encode(what, value) {
        Ok(bytes) => (StatusCode::OK, bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, what, "cannot encode internal reply");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

/// Checks the secret, decodes the request, runs `call` and encodes what it returns.
async fn handle<Req, Resp, Fut>(
    internal: Internal,
    headers: HeaderMap,
    body: Bytes,
    what: &'static str,
    call: impl FnOnce(Internal, Req) -> Fut,
) -> Response
where
    Req: DeserializeOwned,
    Resp: Serialize,
    Fut: Future<Output = Resp>,
{
    let request = match authorize(&internal, &headers).and_then(|()| decode::<Req>(what, &body)) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    reply(what, &call(internal, request).await)
}

async fn append(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "append entries", |internal, request: AppendEntriesRequest<TypeConfig>| async move {
        internal.raft.append_entries(request).await
    })
    .await
}

async fn vote(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "vote", |internal, request: VoteRequest<u64>| async move {
        internal.raft.vote(request).await
    })
    .await
}

async fn snapshot(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(
        internal,
        headers,
        body,
        "install snapshot",
        |internal, request: InstallSnapshotRequest<TypeConfig>| async move { internal.raft.install_snapshot(request).await },
    )
    .await
}

async fn propose(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "forwarded command", |internal, command: Command| async move {
        internal.service.propose_here(command).await
    })
    .await
}

async fn read_index(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "read index", |internal, (): ()| async move {
        let result: Result<Option<u64>, ForwardError> =
            internal.service.read_index_here().await.map_err(ForwardError::from);
        result
    })
    .await
}

async fn membership(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "membership change", |internal, change: MembershipChange| async move {
        let result: Result<NodeId, ForwardError> = match internal.service.change_membership(change).await {
            Ok(node_id) => Ok(node_id),
            Err(ServiceError::Refused(message)) => Err(ForwardError::Refused(message)),
            Err(ServiceError::NoLeader) => Err(ForwardError::NotLeader { leader_id: None, leader_addr: None }),
            Err(other) => Err(ForwardError::Raft(other.to_string())),
        };
        result
    })
    .await
}

async fn anti_entropy(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "anti-entropy request", |internal, request: AeRequest| async move {
        internal.service.anti_entropy_here(request).await
    })
    .await
}

async fn status(State(internal): State<Internal>, headers: HeaderMap, body: Bytes) -> Response {
    handle(internal, headers, body, "status", |internal, (): ()| async move { internal.service.status() }).await
}
