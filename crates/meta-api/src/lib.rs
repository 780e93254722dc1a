//! The HTTP face of a meta node: the public `/v1` JSON API, `/health`, `/ready`, `/metrics` and the
//! operators' web console at `/ui`. (The
//! internal routes meta nodes use among themselves live in `metad`, beside the Raft client.)
//!
//! Handlers see the node only through [`MetaService`], so they can be exercised without a
//! socket or a cluster:
//!
//! ```text
//!  HTTP ─► router ─► handler ─validate─► MetaService::propose(Command) ─► Raft (leader) ─► apply
//!                           └─read────► MetaService::read_barrier ─► MetaService::read (this node)
//! ```
//!
//! Every error is `{"error": {"code": "...", "message": "..."}}` with a fitting status.

mod auth;
mod console;
mod error;
mod metrics;
mod openapi;
mod responses;
mod routes;
mod service;
mod whole_numbers;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::Auth;
pub use error::{ApiError, ApiJson, ApiPath, ApiQuery};
pub use meta_wire::{MemberStatus, NodeStatus};
pub use metrics::HttpMetrics;
pub use openapi::ApiDoc;
pub use service::{MembershipChange, MetaService, Proposed, ServiceError};

/// The content type of `/metrics`: OpenMetrics text, which Prometheus reads natively.
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Largest JSON body the public API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest a public request may take (long polls wait at most 60 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(75);

/// The public router: `/v1`, `/health`, `/ready`, `/metrics` and the console at `/ui`; `/v1` is
/// guarded by `auth`.
pub fn router<S: MetaService>(service: Arc<S>, auth: Auth) -> Router {
    let metrics = Arc::new(HttpMetrics::default());
    let render = {
        let (metrics, service) = (Arc::clone(&metrics), Arc::clone(&service));
        move || async move {
            let status = service.status();
            let applied = service.apply_counters();
            let mut registry = Registry::default();
            service.read(|state, _| metrics.register(&mut registry, &status, applied, state.tasks()));
            service.node_metrics(&mut registry);
            let mut text = String::new();
            match prometheus_client::encoding::text::encode(&mut text, &registry) {
                Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS_TEXT)], text).into_response(),
                Err(error) => ApiError::internal(error).into_response(),
            }
        }
    };
    routes::v1::<S>()
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready::<S>))
        .with_state(service)
        .route("/metrics", get(render))
        .route("/v1/openapi.json", get(openapi_json))
        .merge(console::asset_routes())
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(axum::Extension(Arc::new(console::ViewCache::default())))
        .layer(middleware::from_fn_with_state(Arc::new(auth), auth::check))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
}

/// The span of one request: method and matched route (not the raw path, which holds IDs).
fn request_span(request: &Request) -> tracing::Span {
    let route = request.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |p| p.as_str());
    tracing::debug_span!("request", method = %request.method(), route)
}

/// `GET /v1/openapi.json`.
async fn openapi_json() -> impl IntoResponse {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(openapi::document).clone();
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// Gives the bodiless errors axum produces itself (405, 413 and the like) the JSON error shape.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::NOT_FOUND => "not_found",
        _ => "error",
    };
    let message = status.canonical_reason().unwrap_or("error").to_owned();
    let mut rebuilt = ApiError { status, code, message }.into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        rebuilt.headers_mut().insert(header::ALLOW, allow.clone());
    }
    rebuilt
}
