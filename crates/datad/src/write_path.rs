//! `POST /write?db=DB&rp=RP`: routes each line to a shard and stores it on every owner.
//!
//! ```text
//!  line ─▶ timestamp ─▶ shard group of db/rp containing it (cached, else created)
//!       ─▶ series key ─▶ shard = group.shards[fnv1a(key) % len]
//!  a shard without owners: 503 no_owner, nothing stored
//!  first write to a shard: POST /v1/shards/written (committed) before anything is stored
//!  per shard: append locally (when this node owns it) and
//!             POST OWNER/internal/shards/{id}/append to every other owner
//!  204 when every owner stored its lines; 503 naming the owners that did not
//! ```
//! A retried write may store some lines twice on the owners that had them; line protocol points
//! are idempotent (same series and time), so readers see one point.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Deserialize;
use tokio::task::JoinSet;

use meta_client::ClientError;
use meta_model::{MetaState, NodeId, ShardGroup, ShardId};

use crate::error::{ApiError, DatadError};
use crate::fnv::fnv1a;
use crate::line_protocol::parse_lines;
use crate::metadata_cache::CachedMetadata;
use crate::node::{peer_url, Node};

/// Query of `POST /write`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct WriteQuery {
    /// Database.
    pub(crate) db: Option<String>,
    /// Retention policy (default: the database's default policy).
    pub(crate) rp: Option<String>,
    /// Timestamp precision; only `ns` is supported.
    pub(crate) precision: Option<String>,
}

/// Lines bound for one shard.
struct Batch {
    owners: Vec<NodeId>,
    data: Vec<u8>,
}

/// Handles a write; `Ok` means every owner stored every line.
pub(crate) async fn write(node: &Arc<Node>, query: WriteQuery, body: Bytes) -> Result<StatusCode, ApiError> {
    let db = query
        .db
        .filter(|db| !db.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_field", "missing query parameter `db` (the database)"))?;
    if let Some(precision) = query.precision.filter(|p| p != "ns") {
        let message = format!("precision {precision:?} is not supported; send nanoseconds (precision=ns)");
        return Err(ApiError::bad_request("invalid_field", message));
    }
    let lines = parse_lines(&body, meta_model::wall_clock()).map_err(ApiError::from)?;
    if lines.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let (mut meta, rp) = resolve_policy(node, &db, query.rp.as_deref()).await?;
    let policy = meta.state.retention_policy(&db, &rp).map(|p| p.live_groups().cloned().collect());
    let mut groups: Vec<ShardGroup> = policy.unwrap_or_default();
    let mut batches: BTreeMap<ShardId, Batch> = BTreeMap::new();
    for line in &lines {
        let index = match groups.iter().position(|g| g.contains(line.timestamp)) {
            Some(index) => index,
            None => {
                let reply =
                    node.client.create_shard_group(&db, Some(&rp), line.timestamp).await.map_err(|e| {
                        meta_error(e, &format!("cannot create the shard group for line {}", line.number))
                    })?;
                if reply.created {
                    tracing::info!(db, rp, shard_group = reply.shard_group.id, "shard group created");
                }
                groups.push(reply.shard_group);
                groups.len() - 1
            }
        };
        let group = &groups[index];
        if group.shards.is_empty() || !group.contains(line.timestamp) {
            let message = format!("shard group {} cannot take line {}", group.id, line.number);
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_shard", message));
        }
        let shard = &group.shards[(fnv1a(line.series_key.as_bytes()) % group.shards.len() as u64) as usize];
        let batch = batches.entry(shard.id).or_insert_with(|| Batch { owners: shard.owners.clone(), data: Vec::new() });
        line.write_stored(&mut batch.data);
    }
    // A shard without any owner stores nothing: refused, never acknowledged.
    let ownerless: Vec<String> =
        batches.iter().filter(|(_, b)| b.owners.is_empty()).map(|(id, _)| id.to_string()).collect();
    if !ownerless.is_empty() {
        let message = format!(
            "shard(s) {} have no owner (their data nodes were removed); nothing was written",
            ownerless.join(", ")
        );
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_owner", message));
    }
    // Owners of a group created just now may be missing from an older cache.
    let known =
        |meta: &CachedMetadata| batches.values().flat_map(|b| &b.owners).all(|&o| meta.state.data_node(o).is_some());
    if !known(&meta) {
        if let Ok(fresh) = node.cache.refresh(&node.client).await {
            meta = fresh;
        }
    }
    // The meta service must know a shard may hold data before its first write is acknowledged:
    // otherwise a sole owner dying right after that write would make real data look never written.
    let unmarked = node.cache.unmarked(&meta, batches.keys().copied());
    if !unmarked.is_empty() {
        node.cache
            .mark_written(&node.client, &unmarked)
            .await
            .map_err(|e| meta_error(e, "cannot record that the shards hold data"))?;
    }
    deliver(node, &meta.state, batches).await
}

/// The metadata and the policy name a write goes to, reading the metadata again once when the
/// cache does not know the database or policy yet (it may have been created a moment ago).
async fn resolve_policy(node: &Node, db: &str, rp: Option<&str>) -> Result<(Arc<CachedMetadata>, String), ApiError> {
    if let Some(meta) = node.cache.current() {
        if let Ok(name) = policy_name(&meta.state, db, rp) {
            return Ok((meta, name));
        }
    }
    let meta = node.cache.refresh(&node.client).await.map_err(|e| meta_error(e, "cannot read the metadata"))?;
    let name = policy_name(&meta.state, db, rp)?;
    Ok((meta, name))
}

/// The retention policy a write names, or the database's default.
fn policy_name(state: &MetaState, db: &str, rp: Option<&str>) -> Result<String, ApiError> {
    let database = state
        .database(db)
        .ok_or_else(|| ApiError::not_found("database_not_found", format!("database {db:?} not found")))?;
    let name = match rp.filter(|rp| !rp.is_empty()) {
        Some(rp) => rp,
        None => database.default_retention_policy.as_deref().ok_or_else(|| {
            let message = format!("database {db:?} has no default retention policy; give `rp`");
            ApiError::not_found("retention_policy_not_found", message)
        })?,
    };
    if !database.retention_policies.contains_key(name) {
        let message = format!("retention policy {name:?} not found in database {db:?}");
        return Err(ApiError::not_found("retention_policy_not_found", message));
    }
    Ok(name.to_owned())
}

/// A meta-service failure as the writer sees it: its refusals pass through, the rest is 503.
fn meta_error(error: ClientError, context: &str) -> ApiError {
    match error {
        ClientError::Api { status, code, message } if (400..500).contains(&status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            ApiError::new(status, code, format!("{context}: {message}"))
        }
        other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "meta_unavailable", format!("{context}: {other}")),
    }
}

/// Sends every batch to every owner at once; fails naming the owners that did not store theirs.
async fn deliver(
    node: &Arc<Node>,
    state: &MetaState,
    batches: BTreeMap<ShardId, Batch>,
) -> Result<StatusCode, ApiError> {
    let me = node.node_id();
    let mut sends = JoinSet::new();
    let mut copies = 0usize;
    for (shard_id, batch) in batches {
        let data = Bytes::from(batch.data);
        for owner in batch.owners {
            copies += 1;
            let (node, data) = (Arc::clone(node), data.clone());
            let addr = state.data_node(owner).map(|n| n.http_addr.clone());
            sends.spawn(async move {
                let result = match (Some(owner) == me, addr) {
                    (true, _) => append_locally(&node, shard_id, data).await,
                    (false, Some(addr)) => append_remotely(&node, &addr, shard_id, data).await,
                    (false, None) => Err(format!("node {owner} is not in the metadata")),
                };
                result.map_err(|error| format!("shard {shard_id} on node {owner}: {error}"))
            });
        }
    }
    let mut failures = Vec::new();
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => failures.push(failure),
            Err(error) => failures.push(format!("send task failed: {error}")),
        }
    }
    if failures.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    failures.sort();
    tracing::warn!(failed = failures.len(), copies, "write not stored on every owner");
    let message =
        format!("{} of {copies} owner copies failed (retry the write): {}", failures.len(), failures.join("; "));
    Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "write_failed", message))
}

/// Appends to this node's copy of a shard.
pub(crate) async fn append_locally(node: &Node, shard_id: ShardId, data: Bytes) -> Result<(), String> {
    let store = Arc::clone(&node.store);
    match tokio::task::spawn_blocking(move || store.append(shard_id, &data)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => {
            tracing::error!(shard_id, %error, "local append failed");
            Err("local append failed".to_owned())
        }
        Err(error) => Err(format!("local append did not finish: {error}")),
    }
}

/// Appends to a peer's copy of a shard through its internal route.
async fn append_remotely(node: &Node, addr: &str, shard_id: ShardId, data: Bytes) -> Result<(), String> {
    let url = format!("{}/internal/shards/{shard_id}/append", peer_url(addr));
    let response = node.peers.post(&url).body(data).send().await.map_err(|e| format!("{addr}: {e}"))?;
    if response.status().is_success() {
        return Ok(());
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(DatadError::Peer { url, message: format!("HTTP {status}: {body}") }.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_model::{Command, RetentionPolicySpec};

    fn state() -> MetaState {
        let mut state = MetaState::new();
        let spec = |name: &str| RetentionPolicySpec {
            name: name.into(),
            duration: 0,
            shard_group_duration: None,
            replication_factor: 1,
        };
        let create = |name: &str, rp: Option<RetentionPolicySpec>| Command::CreateDatabase {
            name: name.into(),
            default_retention_policy: rp,
        };
        state.apply(&create("telegraf", Some(spec("autogen")))).expect("database");
        state.apply(&create("bare", None)).expect("database");
        state
    }

    #[test]
    fn policy_defaults_and_unknown_names_are_reported() {
        let state = state();
        assert_eq!(policy_name(&state, "telegraf", None).expect("default"), "autogen");
        assert_eq!(policy_name(&state, "telegraf", Some("")).expect("default"), "autogen");
        assert_eq!(policy_name(&state, "telegraf", Some("autogen")).expect("named"), "autogen");
        let missing_db = policy_name(&state, "nope", None).expect_err("unknown db");
        assert_eq!((missing_db.status, missing_db.code.as_str()), (StatusCode::NOT_FOUND, "database_not_found"));
        let missing_rp = policy_name(&state, "telegraf", Some("weekly")).expect_err("unknown rp");
        assert_eq!(missing_rp.code, "retention_policy_not_found");
        assert_eq!(policy_name(&state, "bare", None).expect_err("no default").code, "retention_policy_not_found");
    }

    #[test]
    fn meta_refusals_pass_through_and_outages_are_503() {
        let refused = ClientError::Api { status: 400, code: "too_old".into(), message: "outside retention".into() };
        let error = meta_error(refused, "line 3");
        assert_eq!((error.status, error.code.as_str()), (StatusCode::BAD_REQUEST, "too_old"));
        let error = meta_error(ClientError::Unavailable { last: "down".into() }, "line 3");
        assert_eq!((error.status, error.code.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "meta_unavailable"));
    }
}
