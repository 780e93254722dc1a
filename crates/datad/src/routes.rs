//! The data node's HTTP routes.
//!
//! | route | what |
//! |---|---|
//! | `GET /health` | `200 {"status":"ok"}` |
//! | `GET /status` | node ID, registration, shards held, running copy tasks, handoff queues |
//! | `GET /metrics` | OpenMetrics text: writes, appends, handoff, reclaim, holdings |
//! | `GET|HEAD /ping` | `204` with `X-Influxdb-Version` (InfluxDB 1.x clients probe it) |
//! | `POST /write?db=DB&rp=RP&consistency=C&precision=P` | line protocol, routed to shards and owners |
//! | `POST /internal/shards/{id}/append` | lines for this node's copy of a shard (no forwarding) |
//! | `GET /shards/{id}` | the shard's bytes; `Range: bytes=START-END` gives `206` |
//! | `GET /shards/{id}/digest?len=N&min_index=I` | `{size, len, checksum}` of the first `N` bytes; with `min_index`, only once this node's metadata reached index `I` (`503 metadata_behind` before): a copy's starting point |
//! | `POST /shards/{id}/content` `{nodes: [[level, index], ...], leaves: [...]}` | content digest (points, Merkle root), the digests of those tree nodes, the point hashes of those leaves |
//! | `GET /shards/{id}/compare?peer=HOST:PORT` | where this copy and the peer's differ (time slices × series buckets) |
//! | `POST /shards/{id}/points` `{leaves: [...], hashes: [...]}` | the stored lines of the points with those hashes in those leaves (a repair's exchange) |
//!
//! Errors are `{"error": {"code": "...", "message": "..."}}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde::Deserialize;
use tower_http::trace::TraceLayer;

use meta_model::ShardId;
use meta_wire::{CompareReply, ContentReply, DataNodeStatus};

use crate::auth;
use crate::blocking::blocking;
use crate::config::MAX_CHUNK_SIZE;
use crate::content_exchange::{self, ContentRequest, PointsRequest};
use crate::error::{ApiError, DatadError};
use crate::metadata_cache::CachedMetadata;
use crate::metrics::Holdings;
use crate::node::Node;
use crate::orphans;
use crate::reclaim;
use crate::routing::{self, SentRoute};
use crate::shard_file::ShardHeader;
use crate::shard_store::ShardStore;
use crate::transfer::DigestReply;
use crate::write_path::{self, WriteQuery, REFRESH_LIMIT};

/// Largest write or append body.
pub const MAX_WRITE_BYTES: usize = 64 * 1024 * 1024;

/// The metadata index a node has applied (`None` before it read any), as the peer routes learn it.
pub type MetadataIndex = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// What the peer routes serve from: the shard files and the node's metadata index.
#[derive(Clone)]
struct Peer {
    store: Arc<ShardStore>,
    metadata_index: MetadataIndex,
}

/// The routes peers use to copy and compare shards: `GET /shards/{id}`, `GET
/// /shards/{id}/digest` and `POST /shards/{id}/content`. A copy starts (`digest` with
/// `min_index`) only once `metadata_index` reached the index at which its target saw the copy
/// task, so this node routes the shard's writes to the target from then on (the pending-owner
/// rule of the data node's `routing` module).
pub fn peer_router(store: Arc<ShardStore>, metadata_index: MetadataIndex) -> Router {
    Router::new()
        .route("/shards/{id}", get(get_shard))
        .route("/shards/{id}/digest", get(get_digest))
        .route("/shards/{id}/content", post(post_content))
        .route("/shards/{id}/points", post(post_points))
        .with_state(Peer { store, metadata_index })
}

/// Every route of a data node; the internal ones need the node token and `/write` the write
/// token, when the node has them (see [`crate::auth`]), and with mutual TLS the internal ones
/// need a client certificate too.
pub(crate) fn app(node: Arc<Node>) -> Router {
    let store = Arc::clone(&node.store);
    let following = Arc::clone(&node);
    let metadata_index: MetadataIndex = Arc::new(move || following.cache.current().map(|m| m.index));
    let node_token = Arc::new(node.config.token.clone());
    let write_token = Arc::new(node.config.write_token.clone());
    let mut internal = Router::new()
        .route("/internal/shards/{id}/append", post(append))
        .route("/shards/{id}/compare", get(compare))
        .with_state(Arc::clone(&node))
        .merge(peer_router(store, metadata_index))
        .route_layer(middleware::from_fn_with_state(node_token, auth::require_node_token));
    if node.config.tls.as_ref().is_some_and(|tls| tls.client_auth) {
        internal = internal.route_layer(middleware::from_fn(cluster_tls::server::require_client_certificate));
    }
    let writes = Router::new()
        .route("/write", post(write))
        .with_state(Arc::clone(&node))
        .route_layer(middleware::from_fn_with_state(write_token, auth::require_write_token));
    Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({ "status": "ok" })) }))
        .route("/ping", get(ping).head(ping))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(node)
        .merge(internal)
        .merge(writes)
        .fallback(|| async { ApiError::not_found("not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(MAX_WRITE_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span of one request: method and matched route (not the raw path, which holds IDs).
fn request_span(request: &Request) -> tracing::Span {
    let route = request.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |p| p.as_str());
    tracing::debug_span!("request", method = %request.method(), route)
}

fn shard_id(path: Result<Path<ShardId>, PathRejection>) -> Result<ShardId, ApiError> {
    path.map(|Path(id)| id).map_err(|e| ApiError::bad_request("invalid_path", format!("shard ID: {e}")))
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))
}

/// `GET|HEAD /ping`, as InfluxDB 1.x clients probe a server: 204 with its version headers.
async fn ping() -> impl IntoResponse {
    let version = HeaderValue::from_static(env!("CARGO_PKG_VERSION"));
    (StatusCode::NO_CONTENT, [("x-influxdb-version", version), ("x-influxdb-build", HeaderValue::from_static("datad"))])
}

/// OpenMetrics content type of `/metrics`.
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`: the node's counters and what it holds now.
async fn metrics(State(node): State<Arc<Node>>) -> Result<Response, ApiError> {
    let now = Holdings {
        shards: node.store.summaries().len() as u64,
        running_copies: node.running_tasks().len() as u64,
        reclaimable_bytes: reclaim::reclaimable_bytes(&node),
        metadata_index: node.cache.current().map_or(0, |m| m.index),
        handoff: node.handoff.reports(),
        orphans: {
            let orphans = orphans::orphans(
                &node.store,
                node.cache.current().as_ref().map(|m| &m.state),
                &node.retirement.retiring(),
            );
            (orphans.len() as u64, orphans.iter().map(|o| o.bytes).sum())
        },
        retiring: {
            let waiting = node.retirement.waiting(node.config.shard_delete_grace);
            (waiting.len() as u64, waiting.iter().map(|r| r.bytes).sum())
        },
        deleted: node.retirement.deleted(),
    };
    let text = node.metrics.render(now).map_err(|e| {
        tracing::error!(%e, "cannot render the metrics");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "cannot render the metrics")
    })?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS_TEXT)], text).into_response())
}

async fn status(State(node): State<Arc<Node>>) -> Json<DataNodeStatus> {
    let node_id = node.node_id();
    Json(DataNodeStatus {
        node_id,
        registered: node_id.is_some(),
        addr: node.advertise.clone(),
        metadata_index: node.cache.current().map(|m| m.index),
        inventory_version: node.store.inventory_version(),
        // Files that are no shard of this cluster are listed under `orphans`, not here.
        shards: {
            let meta = node.cache.current();
            let state = meta.as_ref().map(|m| &m.state);
            node.store
                .files()
                .into_iter()
                .filter(|(_, h)| orphans::is_cluster_shard(state, h))
                .map(|(s, _)| s)
                .collect()
        },
        running_tasks: node.running_tasks(),
        reclaimable_bytes: reclaim::reclaimable_bytes(&node),
        handoff: node.handoff.reports(),
        orphans: orphans::orphans(
            &node.store,
            node.cache.current().as_ref().map(|m| &m.state),
            &node.retirement.retiring(),
        ),
        content: node.store.contents(),
        retiring: node.retirement.waiting(node.config.shard_delete_grace),
        deleted_shards: node.retirement.deleted().0,
        deleted_bytes: node.retirement.deleted().1,
    })
}

async fn write(
    State(node): State<Arc<Node>>,
    query: Result<Query<WriteQuery>, QueryRejection>,
    payload: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let result = async {
        let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        write_path::write(&node, query, body(payload)?).await
    }
    .await;
    match result {
        Ok(written) => match written.partial() {
            None => {
                node.metrics.write("acknowledged", written.points);
                Ok(StatusCode::NO_CONTENT)
            }
            Some(partial) => {
                node.metrics.write(&partial.code, written.points);
                Err(partial)
            }
        },
        Err(error) => {
            node.metrics.write(&error.code, 0);
            Err(error)
        }
    }
}

async fn append(
    State(node): State<Arc<Node>>,
    path: Result<Path<ShardId>, PathRejection>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let result = append_checked(&node, path, headers, payload).await;
    node.metrics.append(result.as_ref().map_or_else(|e| e.code.as_str(), |_| "stored"));
    result
}

/// `POST /internal/shards/{id}/append`: stores lines another data node routed here, once
/// [`routing::judge`] agrees with its routing, by metadata at least as new as the sender's; the
/// check is made again, by the node's newest metadata, while no copy can start (see
/// [`crate::routing`]).
async fn append_checked(
    node: &Arc<Node>,
    path: Result<Path<ShardId>, PathRejection>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let shard_id = shard_id(path)?;
    let mut data = body(payload)?;
    let index = match headers.get(routing::METADATA_INDEX_HEADER) {
        None => 0,
        Some(value) => value.to_str().ok().and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
            ApiError::bad_request("invalid_header", format!("{} must be a log index", routing::METADATA_INDEX_HEADER))
        })?,
    };
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or_default().to_owned());
    let sent = SentRoute {
        owners: text(routing::OWNERS_HEADER),
        pending: text(routing::PENDING_OWNERS_HEADER).unwrap_or_default(),
    };
    let meta = metadata_since(node, index).await?;
    routing::judge(&meta, shard_id, node.node_id(), &sent)?;
    if data.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    if !data.ends_with(b"\n") {
        data = Bytes::from([&data[..], b"\n"].concat());
    }
    let header = ShardHeader::of(&meta.state, shard_id).ok_or_else(|| {
        let message = format!("shard {shard_id}: the metadata has no cluster identity yet; retry");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cluster_identity_unknown", message)
    })?;
    let node = Arc::clone(node);
    blocking(move || {
        let _held = node.store.hold_copy_start();
        if let Some(Err(misrouted)) =
            node.cache.current().map(|now| routing::judge(&now, shard_id, node.node_id(), &sent))
        {
            return Ok(Err(misrouted));
        }
        node.store.append(shard_id, &data, &header).map(|_| Ok(()))
    })
    .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// The node's metadata at `index` (a sender's) or newer, read again when the cache is older: a
/// node cannot judge a sender's routing by older metadata than the sender's (`503
/// metadata_behind`).
async fn metadata_since(node: &Node, index: u64) -> Result<Arc<CachedMetadata>, ApiError> {
    let behind = |cached: u64| {
        let message = format!("this node's metadata is at index {cached}, the sender's at {index}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "metadata_behind", message)
    };
    match node.cache.current() {
        Some(meta) if meta.index >= index => Ok(meta),
        cached => match node.cache.refresh_within(&node.client, REFRESH_LIMIT).await {
            Ok(fresh) if fresh.index >= index => Ok(fresh),
            _ => Err(behind(cached.map_or(0, |m| m.index))),
        },
    }
}

/// A parsed `Range` header: inclusive `[start, end]`, clamped to the shard and to
/// [`MAX_CHUNK_SIZE`]. `None` when the header is malformed or unsatisfiable.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (start, end) = if first.trim().is_empty() {
        let suffix: u64 = last.trim().parse().ok().filter(|&n| n > 0)?;
        (size.saturating_sub(suffix), size - 1)
    } else {
        let start: u64 = first.trim().parse().ok()?;
        let end = if last.trim().is_empty() { size - 1 } else { last.trim().parse().ok()? };
        (start, end)
    };
    if start >= size || end < start {
        return None;
    }
    Some((start, end.min(size - 1).min(start + MAX_CHUNK_SIZE - 1)))
}

async fn get_shard(
    State(Peer { store, .. }): State<Peer>,
    path: Result<Path<ShardId>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let shard_id = shard_id(path)?;
    let size = store.summary(shard_id).ok_or(DatadError::ShardNotFound { shard_id })?.size;
    let Some(range) = headers.get(header::RANGE) else {
        if size > MAX_CHUNK_SIZE {
            let message = format!("shard {shard_id} holds {size} bytes; fetch it with Range requests");
            return Err(ApiError::bad_request("range_required", message));
        }
        let bytes = if size == 0 { Vec::new() } else { blocking(move || store.read_range(shard_id, 0, size)).await? };
        return Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response());
    };
    let text = range.to_str().unwrap_or_default().to_owned();
    let Some((start, end)) = parse_range(&text, size) else {
        let error = DatadError::RangeNotSatisfiable { shard_id, range: text, size };
        let mut response = ApiError::from(error).into_response();
        if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        return Ok(response);
    };
    let bytes = blocking(move || store.read_range(shard_id, start, end - start + 1)).await?;
    let content_range = format!("bytes {start}-{end}/{size}");
    Ok((
        StatusCode::PARTIAL_CONTENT,
        [(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CONTENT_RANGE, content_range)],
        bytes,
    )
        .into_response())
}

/// Query of `GET /shards/{id}/digest`.
#[derive(Debug, Deserialize)]
struct DigestQuery {
    /// Leading bytes to digest (default: all).
    len: Option<u64>,
    /// The metadata index this node must have reached first (a copy's target sends the index at
    /// which it saw its task).
    min_index: Option<u64>,
}

async fn get_digest(
    State(Peer { store, metadata_index }): State<Peer>,
    path: Result<Path<ShardId>, PathRejection>,
    query: Result<Query<DigestQuery>, QueryRejection>,
) -> Result<Json<DigestReply>, ApiError> {
    let shard_id = shard_id(path)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    if let Some(wanted) = query.min_index {
        let applied = metadata_index();
        if applied.is_none_or(|index| index < wanted) {
            let message = format!(
                "this node's metadata is at index {}, the copy needs {wanted}: it would not yet route the shard's \
                 writes to the copy's target; retry",
                applied.map_or_else(|| "none".to_owned(), |i| i.to_string())
            );
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "metadata_behind", message));
        }
    }
    let (summary, len, checksum) = blocking(move || store.digest(shard_id, query.len)).await?;
    Ok(Json(DigestReply { size: summary.size, len, checksum }))
}

async fn post_content(
    State(Peer { store, .. }): State<Peer>,
    path: Result<Path<ShardId>, PathRejection>,
    request: Result<Json<ContentRequest>, JsonRejection>,
) -> Result<Json<ContentReply>, ApiError> {
    let shard_id = shard_id(path)?;
    let Json(request) = request.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let nodes = request.node_ids()?;
    let (content, digests, leaf_points) = store.content(shard_id, &nodes, &request.leaves).ok_or_else(|| {
        ApiError::not_found("shard_not_found", format!("this node holds no copy of shard {shard_id}"))
    })?;
    Ok(Json(ContentReply { content, digests, leaf_points }))
}

async fn post_points(
    State(Peer { store, .. }): State<Peer>,
    path: Result<Path<ShardId>, PathRejection>,
    request: Result<Json<PointsRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let shard_id = shard_id(path)?;
    let Json(request) = request.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let (leaves, hashes) = (request.leaves.into_iter().collect(), request.hashes.into_iter().collect());
    let lines = blocking(move || store.matching_lines(shard_id, &leaves, &hashes)).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response())
}

/// Query of `GET /shards/{id}/compare`.
#[derive(Debug, Deserialize)]
struct CompareQuery {
    /// The peer data node, `HOST:PORT`.
    peer: String,
}

async fn compare(
    State(node): State<Arc<Node>>,
    path: Result<Path<ShardId>, PathRejection>,
    query: Result<Query<CompareQuery>, QueryRejection>,
) -> Result<Json<CompareReply>, ApiError> {
    let shard_id = shard_id(path)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    // A HOST:PORT reached with this node's own scheme: the node token it sends goes nowhere else.
    meta_model::validate_addr("peer", &query.peer).map_err(|e| ApiError::bad_request("invalid_peer", e.to_string()))?;
    content_exchange::compare(&node, shard_id, &query.peer).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_and_clamped() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-200", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=10-", 100), Some((10, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-1000", 100), Some((0, 99)));
        assert_eq!(parse_range("bytes=0-", u64::MAX), Some((0, MAX_CHUNK_SIZE - 1)));
        for bad in ["bytes=100-", "bytes=5-4", "bytes=0-1,4-5", "bytes=-0", "items=0-1", "bytes=a-b", "bytes=0-x"] {
            assert_eq!(parse_range(bad, 100), None, "{bad}");
        }
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }
}
