//! Bearer-token checks of the public API.
//!
//! With no tokens configured the API is open (development). With an admin token, every `/v1`
//! request needs a token: the admin token for everything, or the node token for what data nodes
//! do (reading metadata, creating shard groups). `/health`, `/ready` and `/metrics` stay open for
//! probes and scrapers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The tokens the API accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// Grants everything.
    pub admin_token: Option<String>,
    /// Grants data-node calls: reads and shard-group creation.
    pub node_token: Option<String>,
}

impl Auth {
    fn is_open(&self) -> bool {
        self.admin_token.is_none() && self.node_token.is_none()
    }
}

/// Whether a data node's token may make this request: reads, shard-group creation, heartbeats
/// and its side of copy tasks (claim, progress, complete, fail).
fn node_may(method: &Method, path: &str) -> bool {
    if method == Method::GET {
        return true;
    }
    if method != Method::POST {
        return false;
    }
    let data_node_call = |prefix: &str, suffixes: &[&str]| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, tail)| suffixes.contains(&tail))
    };
    path == "/v1/shard-groups"
        || path == "/v1/copy-tasks/claim"
        || data_node_call("/v1/data-nodes/", &["heartbeat"])
        || data_node_call("/v1/copy-tasks/", &["progress", "complete", "fail"])
}

/// Compares without an early exit (`subtle`), so the time taken does not reveal a matching prefix.
fn same(given: &str, expected: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()).into()
}

pub(crate) async fn check(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if auth.is_open() || !path.starts_with("/v1/") {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(given) = given else {
        return ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "this request needs a bearer token (Authorization: Bearer ...)".to_owned(),
        }
        .into_response();
    };
    let admin = auth.admin_token.as_deref().is_some_and(|t| same(given, t));
    let node = auth.node_token.as_deref().is_some_and(|t| same(given, t));
    if admin || (node && node_may(request.method(), path)) {
        return next.run(request).await;
    }
    let (status, message) = if node {
        (StatusCode::FORBIDDEN, "the node token does not allow this request; use the admin token")
    } else {
        (StatusCode::UNAUTHORIZED, "the bearer token is not valid")
    };
    ApiError { status, code: if node { "forbidden" } else { "unauthorized" }, message: message.to_owned() }
        .into_response()
}
