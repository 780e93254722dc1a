//! `POST /write?db=DB&rp=RP[&consistency=any|one|quorum|all]`: routes each line to a shard and
//! stores it on its owners.
//!
//! ```text
//!  line ─▶ timestamp ─▶ shard group of db/rp containing it (cached, else created)
//!       ─▶ series key (tags sorted, in groups made since the cluster has an identity)
//!       ─▶ shard = group.shards[fnv1a(key) % len]
//!  a shard without owners: 503 no_owner, nothing stored
//!  first write to a shard: POST /v1/shards/written (committed) before anything is stored
//!  per shard: append locally (when this node owns it) and
//!             POST OWNER/internal/shards/{id}/append to every other owner, and to every
//!             pending owner (the target of a copy in progress: see `routing`)
//!  an owner that fails: its lines queued for it (hinted handoff, delivered later)
//!  204 when, per shard, as many owners stored the lines as the consistency asks (default one)
//!  and every pending owner stored or queued them; 503 naming the owners that did not
//! ```
//! A retried write may store some lines twice on the owners that had them; line protocol points
//! are idempotent (same series and time), so readers see one point.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Deserialize;
use tokio::task::JoinSet;

use meta_client::ClientError;
use meta_model::{MetaState, NodeId, Shard, ShardGroup, ShardId, Timestamp};
use meta_wire::ErrorReply;

use crate::blocking::blocking;
use crate::consistency::Consistency;
use crate::error::{ApiError, DatadError};
use crate::fnv::fnv1a;
use crate::line_protocol::{canonical_series_key, parse_lines, InvalidLine, Line, ParsedBody, Precision};
use crate::metadata_cache::CachedMetadata;
use crate::node::Node;
use crate::routing::{self, Recipients, Route, METADATA_INDEX_HEADER, NOT_OWNER, OWNERS_CHANGED};
use crate::shard_file::ShardHeader;

/// Query of `POST /write`, as InfluxDB 1.x clients send it. Other parameters, such as the
/// credentials `u` and `p` those clients add, are ignored: data nodes have no users yet.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct WriteQuery {
    /// Database.
    pub(crate) db: Option<String>,
    /// Retention policy (default: the database's default policy).
    pub(crate) rp: Option<String>,
    /// Timestamp precision: `n`/`ns` (default), `u`, `ms`, `s`, `m` or `h` (InfluxDB 1.x).
    pub(crate) precision: Option<String>,
    /// InfluxDB 1.x write consistency: `any`, `one` (default), `quorum` or `all`; see
    /// [`Consistency`].
    pub(crate) consistency: Option<String>,
}

/// Lines bound for one shard.
struct Batch {
    recipients: Recipients,
    data: Vec<u8>,
}

/// What a write stored.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Points acknowledged.
    pub(crate) points: u64,
    /// Lines refused by InfluxDB's rules and dropped while the valid ones were stored (a partial
    /// write, answered `400 partial_write` as InfluxDB does).
    pub(crate) dropped: Vec<InvalidLine>,
}

impl Written {
    /// The answer to a partial write: `400 partial_write` naming the dropped lines, as InfluxDB
    /// 1.x answers one (`... dropped=N`).
    pub(crate) fn partial(&self) -> Option<ApiError> {
        if self.dropped.is_empty() {
            return None;
        }
        let lines: Vec<String> = self.dropped.iter().map(|i| format!("line {}: {}", i.line, i.message)).collect();
        let message = format!("partial write: {} dropped={}", lines.join("; "), self.dropped.len());
        Some(ApiError::bad_request("partial_write", message))
    }
}

/// Handles a write; `Ok` means every valid point was stored as the consistency asks (and names
/// the invalid lines dropped).
pub(crate) async fn write(node: &Arc<Node>, query: WriteQuery, body: Bytes) -> Result<Written, ApiError> {
    let db = query
        .db
        .filter(|db| !db.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_field", "missing query parameter `db` (the database)"))?;
    let precision = query_param("precision", query.precision.as_deref(), Precision::parse, "n, ns, u, ms, s, m, h")?;
    let consistency =
        query_param("consistency", query.consistency.as_deref(), Consistency::parse, "any, one, quorum, all")?;
    let ParsedBody { lines, invalid } = parse_lines(&body, meta_model::wall_clock(), precision);
    if lines.is_empty() {
        if let Some(first) = invalid.first() {
            let message = format!(
                "line {}: {} ({} line(s) refused; nothing was written)",
                first.line,
                first.message,
                invalid.len()
            );
            return Err(ApiError::bad_request("invalid_line", message));
        }
        return Ok(Written::default());
    }
    let (mut meta, rp) = resolve_policy(node, &db, query.rp.as_deref()).await?;
    if meta.state.cluster().is_none() {
        // Made by the first leader a moment after the cluster formed (or was upgraded): it tells
        // how points are routed and what shard files are stamped with.
        meta = node
            .cache
            .refresh_within(&node.client, REFRESH_LIMIT)
            .await
            .ok()
            .filter(|m| m.state.cluster().is_some())
            .ok_or_else(|| {
                let message =
                    "the metadata has no cluster identity yet (the meta leader makes it when it takes over); retry";
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cluster_identity_unknown", message)
            })?;
    }
    let policy = meta.state.retention_policy(&db, &rp);
    let mut dropped = invalid;
    // Points older than the policy keeps data, or in a window no shard group can cover, are
    // dropped one by one (InfluxDB: "points beyond retention policy"); the rest are written.
    let now = meta_model::wall_clock();
    let lines: Vec<Line<'_>> = match policy {
        Some(policy) => lines
            .into_iter()
            .filter(|line| match policy.check_point_time(line.timestamp, now, None) {
                Ok(()) => true,
                Err(refusal) => {
                    dropped.push(time_refused(line, &refusal.to_string()));
                    false
                }
            })
            .collect(),
        None => lines,
    };
    let span = policy.map_or(0, |p| p.shard_group_duration);
    // Existing groups are found through the cached metadata's time index; the groups this write
    // creates are kept aside (the cache lacks them until it is read again).
    let existing = |t: Timestamp| meta.state.live_group_containing(&db, &rp, t);
    if let Some(line) = beyond_group_bound(&lines, |t| existing(t).is_some(), span, node.config.max_new_shard_groups) {
        let message = format!(
            "line {line}: this write would create more than {} shard groups (one per {} of time its points \
             span outside existing groups; datad --max-new-shard-groups); nothing was written: split it",
            node.config.max_new_shard_groups,
            meta_model::format_duration(span)
        );
        return Err(ApiError::bad_request("too_many_shard_groups", message));
    }
    let mut batches: BTreeMap<ShardId, Batch> = BTreeMap::new();
    let mut created: Vec<ShardGroup> = Vec::new();
    // Group slots whose creation the meta leader refused for the points' time, and why.
    let mut refused_slots: BTreeMap<i64, String> = BTreeMap::new();
    let slot_of = |t: Timestamp| t.div_euclid(i64::try_from(span).unwrap_or(i64::MAX).max(1));
    let mut stored: u64 = 0;
    for line in &lines {
        let made_now = created.iter().position(|g| g.contains(line.timestamp));
        let group = if let Some(index) = made_now {
            &created[index]
        } else if let Some(group) = existing(line.timestamp) {
            group
        } else {
            if let Some(reason) = refused_slots.get(&slot_of(line.timestamp)) {
                dropped.push(time_refused(line, reason));
                continue;
            }
            let reply = match node.client.create_shard_group(&db, Some(&rp), line.timestamp).await {
                Ok(reply) => reply,
                Err(ClientError::Api { code, message, .. }) if TIME_REFUSALS.contains(&code.as_str()) => {
                    dropped.push(time_refused(line, &message));
                    refused_slots.insert(slot_of(line.timestamp), message);
                    continue;
                }
                Err(error) => {
                    return Err(meta_error(error, &format!("cannot create the shard group for line {}", line.number)))
                }
            };
            if reply.created {
                tracing::info!(db, rp, shard_group = reply.shard_group.id, "shard group created");
            }
            created.push(reply.shard_group);
            &created[created.len() - 1]
        };
        if group.shards.is_empty() || !group.contains(line.timestamp) {
            let message = format!("shard group {} cannot take line {}", group.id, line.number);
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_shard", message));
        }
        let shard = shard_for(&meta.state, group, line.series_key);
        let batch = batches.entry(shard.id).or_insert_with(|| {
            // The group may be one this write just created, which the cached metadata lacks.
            let recipients = Recipients { owners: shard.owners.clone(), pending: meta.state.pending_owners(shard.id) };
            Batch { recipients, data: Vec::new() }
        });
        line.write_stored(&mut batch.data);
        stored += 1;
    }
    dropped.sort_by_key(|invalid| invalid.line);
    if batches.is_empty() {
        return Ok(Written { points: 0, dropped });
    }
    // A shard without any owner stores nothing: refused, never acknowledged.
    let ownerless: Vec<String> =
        batches.iter().filter(|(_, b)| b.recipients.owners.is_empty()).map(|(id, _)| id.to_string()).collect();
    if !ownerless.is_empty() {
        let message = format!(
            "shard(s) {} have no owner (their data nodes were removed); nothing was written",
            ownerless.join(", ")
        );
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_owner", message));
    }
    // A group created just now is missing from an older cache, and so may be its owners: read the
    // metadata again, so the index the owners check covers the group.
    let known = |meta: &CachedMetadata| {
        batches.values().flat_map(|b| b.recipients.all()).all(|o| meta.state.data_node(o).is_some())
    };
    let mut refreshed = false;
    if !created.is_empty() || !known(&meta) {
        if let Ok(fresh) = node.cache.refresh_within(&node.client, REFRESH_LIMIT).await {
            meta = fresh;
            refreshed = true;
        }
    }
    // What this node stores for itself has nobody to check how it was routed, and may be all a
    // write at consistency `one` waits for: the metadata it goes by must be recent. Out of touch
    // with the meta leader, read it again (or refuse the write).
    let me = node.node_id();
    let local = |b: &Batch| me.is_some_and(|me| b.recipients.includes(me));
    if !refreshed && batches.values().any(local) && !node.meta_in_touch() {
        meta = node.cache.refresh_within(&node.client, REFRESH_LIMIT).await.map_err(|e| {
            let message = format!(
                "this node is out of touch with the meta nodes ({e}); it may no longer own the shards it would write"
            );
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "metadata_stale", message)
        })?;
        for (shard, batch) in &mut batches {
            if meta.state.shard(*shard).is_some() {
                batch.recipients = Recipients::of(&meta.state, *shard);
            }
        }
    }
    let unmarked = node.cache.unmarked(&meta, batches.keys().copied());
    let took = deliver(node, meta, batches, consistency).await?;
    mark_written(node, &unmarked, &took).await?;
    Ok(Written { points: stored, dropped })
}

/// Commits the written marks of `shards`, whose first write `took` holds, before that write is
/// acknowledged. The meta service must know a shard may hold data before any write to it is
/// acknowledged: otherwise a sole owner dying right after that write would make real data look
/// never written. Marking only once a copy is stored (or queued) keeps a first write that failed
/// on every owner from marking a shard nothing holds (which would be reported lost).
///
/// Between the store and the mark a never-written shard may have been given other owners by a
/// metadata change alone (its owners dead, removed or draining): the mark is then checked against
/// the metadata read after it, and the write fails unless a node that took it still owns (or is
/// copying) the shard.
async fn mark_written(node: &Arc<Node>, shards: &[ShardId], took: &Took) -> Result<(), ApiError> {
    if shards.is_empty() {
        return Ok(());
    }
    node.cache.mark_written(&node.client, shards).await.map_err(|e| {
        meta_error(e, "stored, but cannot record that the shards hold data; not acknowledged (retrying is safe)")
    })?;
    node.metrics.marked(shards.len() as u64);
    let meta = node.cache.refresh_within(&node.client, REFRESH_LIMIT).await.map_err(|e| {
        meta_error(e, "stored and marked, but cannot confirm the shards' owners; not acknowledged (retrying is safe)")
    })?;
    for &shard in shards {
        let now = Recipients::of(&meta.state, shard);
        if !took.iter().any(|&(s, node)| s == shard && now.includes(node)) {
            let message = format!(
                "shard {shard} was given other owners while this write was stored; not acknowledged (retrying is safe)"
            );
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stale_routing", message));
        }
    }
    Ok(())
}

/// `(shard, node)` of every copy a delivered write reached: stored by an owner or pending owner,
/// or queued for one by hinted handoff.
type Took = BTreeSet<(ShardId, NodeId)>;

/// Codes of the meta service's refusals of a point's time: the point is dropped, the rest of the
/// write goes on.
const TIME_REFUSALS: [&str; 3] = ["timestamp_expired", "timestamp_too_far_ahead", "invalid_timestamp"];

/// A line dropped for its time, as a partial write names it.
fn time_refused(line: &Line<'_>, reason: &str) -> InvalidLine {
    InvalidLine { line: line.number, message: format!("timestamp {} dropped: {reason}", line.timestamp) }
}

/// The number of the first line whose point would need the `bound + 1`-th new shard group: lines
/// outside every existing group, counted by the group-duration slot (`span` nanoseconds) they
/// fall in. `None` when the write stays within the bound.
fn beyond_group_bound(
    lines: &[Line<'_>],
    in_group: impl Fn(Timestamp) -> bool,
    span: u64,
    bound: usize,
) -> Option<usize> {
    let span = i64::try_from(span).ok().filter(|&s| s > 0)?;
    let mut slots = BTreeSet::new();
    for line in lines {
        if in_group(line.timestamp) {
            continue;
        }
        slots.insert(line.timestamp.div_euclid(span));
        if slots.len() > bound {
            return Some(line.number);
        }
    }
    None
}

/// The shard of `group` a point of `series_key` goes to: FNV-1a of the series key modulo the
/// shards, as InfluxDB picks a group's shard; the key canonical (tags sorted) in groups created
/// since the cluster has an identity, as written in older ones, whose data was routed so.
/// `group` must have shards.
fn shard_for<'g>(state: &MetaState, group: &'g ShardGroup, series_key: &str) -> &'g Shard {
    let key =
        if state.routes_canonically(group.id) { canonical_series_key(series_key) } else { Cow::Borrowed(series_key) };
    &group.shards[(fnv1a(key.as_bytes()) % group.shards.len() as u64) as usize]
}

/// An optional query parameter read by `parse` (its default when absent or empty); a 400 naming
/// the parameter and the `expected` values when `parse` refuses it.
fn query_param<T: Default>(
    name: &str,
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(T::default()),
        Some(text) => parse(text).ok_or_else(|| {
            ApiError::bad_request("invalid_field", format!("{name} {text:?}: expected one of {expected}"))
        }),
    }
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

/// Longest a write waits to read the metadata again when owners refused it as misrouted.
pub(crate) const REFRESH_LIMIT: Duration = Duration::from_secs(1);

/// How many times a write is routed again after owners refused it as not theirs.
const ROUTING_ROUNDS: usize = 3;

/// How one owner's copy of a batch went.
pub(crate) enum Sent {
    Stored,
    /// The receiver's metadata, at least as new as ours, does not route the shard as we did (it
    /// is no owner, or the owners changed): we routed by stale metadata.
    Misrouted,
    /// The owner refused the lines themselves (a 4xx other than misrouting): sending them again
    /// cannot succeed.
    Rejected(String),
    /// The owner could not be reached or failed; it may take the lines later.
    Failed(String),
}

/// Sends every batch to every owner at once. Owners that refuse a shard as not theirs make the
/// node read the metadata again and send that shard's lines to its current owners. Owners that
/// fail get their lines through hinted handoff. The write is acknowledged when, for every shard,
/// as many current owners stored its lines as `consistency` asks; otherwise it fails naming the
/// owners that did not (what was queued is still delivered: a retry is safe). On success, the
/// copies the write reached.
async fn deliver(
    node: &Arc<Node>,
    meta: Arc<CachedMetadata>,
    batches: BTreeMap<ShardId, Batch>,
    consistency: Consistency,
) -> Result<Took, ApiError> {
    let mut meta = meta;
    let mut recipients: BTreeMap<ShardId, Recipients> =
        batches.iter().map(|(&s, b)| (s, b.recipients.clone())).collect();
    let mut stored: BTreeSet<(ShardId, NodeId)> = BTreeSet::new();
    let mut failed: BTreeMap<(ShardId, NodeId), (String, bool)> = BTreeMap::new();
    let mut pending: Vec<(ShardId, NodeId)> =
        recipients.iter().flat_map(|(&shard, r)| r.all().map(move |node| (shard, node))).collect();
    let data: BTreeMap<ShardId, Bytes> = batches.into_iter().map(|(shard, b)| (shard, Bytes::from(b.data))).collect();
    let mut round = 0;
    while !pending.is_empty() {
        let mut refused = BTreeSet::new();
        for ((shard, owner), sent) in send_all(node, &meta, &data, pending).await {
            match sent {
                Sent::Stored => {
                    stored.insert((shard, owner));
                }
                Sent::Misrouted => {
                    refused.insert(shard);
                }
                Sent::Rejected(error) => {
                    failed.insert((shard, owner), (error, false));
                }
                Sent::Failed(error) => {
                    failed.insert((shard, owner), (error, true));
                }
            }
        }
        if refused.is_empty() {
            break;
        }
        round += 1;
        if round >= ROUTING_ROUNDS {
            let message =
                format!("owners kept refusing the write as not theirs after {ROUTING_ROUNDS} reads of the metadata");
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stale_routing", message));
        }
        tracing::info!(index = meta.index, shards = ?refused, "owners refused: routed by stale metadata; reading it again");
        let index = meta.index;
        let unreachable = |why: String| {
            let message = format!(
                "owners refused shard(s) {refused:?} as routed by this node's metadata (index {index}), and the \
                 current owners cannot be learned: {why}"
            );
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stale_routing", message)
        };
        if !node.meta_in_touch() {
            return Err(unreachable("this node is out of touch with the meta nodes".to_owned()));
        }
        meta = node.cache.refresh_within(&node.client, REFRESH_LIMIT).await.map_err(|e| unreachable(e.to_string()))?;
        pending = Vec::new();
        for shard in refused {
            if meta.state.shard(shard).is_none() {
                let message = format!("shard {shard} was dropped");
                return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "write_failed", message));
            }
            let current = Recipients::of(&meta.state, shard);
            failed.retain(|&(s, _), _| s != shard);
            pending.extend(current.all().filter(|&o| !stored.contains(&(shard, o))).map(|o| (shard, o)));
            recipients.insert(shard, current);
        }
    }
    let fates = hand_off(node, &data, &failed).await;
    let queued: BTreeSet<(ShardId, NodeId)> = fates.iter().filter(|(_, f)| f.is_ok()).map(|(&k, _)| k).collect();
    let mut short = Vec::new();
    for (shard, to) in &recipients {
        let took =
            |set: &BTreeSet<(ShardId, NodeId)>| to.owners.iter().filter(|&&o| set.contains(&(*shard, o))).count();
        let (stored_by, queued_for) = (took(&stored), took(&queued));
        if !consistency.met(to.owners.len(), stored_by, queued_for) {
            short.push(format!(
                "shard {shard}: stored by {stored_by} of {} owners, queued for {queued_for}",
                to.owners.len()
            ));
        }
        // A copy in progress must end holding the write, whatever the consistency level.
        for &node in &to.pending {
            if !stored.contains(&(*shard, node)) && !queued.contains(&(*shard, node)) {
                short.push(format!(
                    "shard {shard}: node {node}, which is copying it, neither stored nor queued the lines"
                ));
            }
        }
    }
    let mut failures: Vec<String> = failed
        .iter()
        .map(|(copy @ (shard, owner), (error, _))| {
            let fate = match fates.get(copy) {
                Some(Ok(())) => "queued".to_owned(),
                Some(Err(why)) => format!("not queued: {why}"),
                None => "not queued".to_owned(),
            };
            format!("shard {shard} on node {owner} ({fate}): {error}")
        })
        .collect();
    failures.sort();
    if short.is_empty() {
        if !failures.is_empty() {
            tracing::info!(%consistency, queued = queued.len(), missed = failures.len(), "write acknowledged without every owner");
        }
        return Ok(stored.union(&queued).copied().collect());
    }
    tracing::warn!(%consistency, failed = failures.len(), "write below its consistency");
    let message = format!(
        "consistency {consistency} not met ({}); owner copies that failed: {}. Copies marked queued are delivered \
         when their owner takes writes again; retrying the write is safe (a point written twice is one point)",
        short.join("; "),
        failures.join("; ")
    );
    Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "write_failed", message))
}

/// Queues, for hinted handoff, the lines of each failed copy that another owner can take later
/// (`failed` maps a copy to its error and whether it may succeed later); for each failed copy,
/// whether it was queued, or why not. A failure of this node's own store is not queued: its disk
/// refused, and it is the queue's disk.
async fn hand_off(
    node: &Arc<Node>,
    data: &BTreeMap<ShardId, Bytes>,
    failed: &BTreeMap<(ShardId, NodeId), (String, bool)>,
) -> BTreeMap<(ShardId, NodeId), Result<(), String>> {
    let mut fates: BTreeMap<(ShardId, NodeId), Result<(), String>> = BTreeMap::new();
    let me = node.node_id();
    let mut hints: Vec<(ShardId, NodeId, Bytes)> = Vec::new();
    for (&(shard, owner), &(_, retriable)) in failed {
        let why_not = if Some(owner) == me {
            "this node's own store failed"
        } else if !retriable {
            "the owner refused the lines"
        } else if let Some(lines) = data.get(&shard) {
            hints.push((shard, owner, lines.clone()));
            continue;
        } else {
            "no lines"
        };
        fates.insert((shard, owner), Err(why_not.to_owned()));
    }
    if hints.is_empty() {
        return fates;
    }
    let queuing = Arc::clone(node);
    let queued = tokio::task::spawn_blocking(move || {
        let mut fates = Vec::new();
        for (shard, owner, lines) in hints {
            let fate = queuing.handoff.enqueue(owner, shard, &lines).map_err(|error| {
                queuing.metrics.handoff_dropped(error.reason(), 1);
                tracing::error!(shard, owner, %error, "write dropped for an owner: it could not be queued for hinted handoff");
                error.to_string()
            });
            if fate.is_ok() {
                queuing.metrics.handoff_queued(1);
            }
            fates.push(((shard, owner), fate));
        }
        fates
    })
    .await
    .unwrap_or_else(|error| {
        tracing::error!(%error, "queueing for hinted handoff did not finish");
        Vec::new()
    });
    fates.extend(queued);
    fates
}

/// Sends each `(shard, owner)` copy at once; how each went.
async fn send_all(
    node: &Arc<Node>,
    meta: &Arc<CachedMetadata>,
    data: &BTreeMap<ShardId, Bytes>,
    copies: Vec<(ShardId, NodeId)>,
) -> Vec<((ShardId, NodeId), Sent)> {
    let me = node.node_id();
    let mut sends = JoinSet::new();
    for (shard, owner) in copies {
        let (node, bytes) = (Arc::clone(node), data.get(&shard).cloned().unwrap_or_default());
        let addr = meta.state.data_node(owner).map(|n| n.http_addr.clone());
        let route = Route::of(meta, shard);
        let header_meta = Arc::clone(meta);
        sends.spawn(async move {
            let sent = match (Some(owner) == me, addr) {
                (true, _) => append_locally(&node, &header_meta, &route, shard, bytes).await,
                (false, Some(addr)) => append_remotely(&node, &addr, &route, shard, bytes).await,
                (false, None) => Sent::Failed(format!("node {owner} is not in the metadata")),
            };
            ((shard, owner), sent)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => tracing::error!(%error, "a send task failed"),
        }
    }
    outcomes
}

/// Appends to this node's copy of a shard, under the header the metadata `meta` gives it, if the
/// node's current metadata still routes the shard as `route` did ([`Sent::Misrouted`] if not):
/// checked and stored while no copy of the shard starts (see [`crate::routing`]).
pub(crate) async fn append_locally(
    node: &Arc<Node>,
    meta: &CachedMetadata,
    route: &Route,
    shard_id: ShardId,
    data: Bytes,
) -> Sent {
    let Some(header) = ShardHeader::of(&meta.state, shard_id) else {
        return Sent::Failed(format!("shard {shard_id}: the metadata has no cluster identity yet"));
    };
    let (node, recipients) = (Arc::clone(node), route.recipients.clone());
    let stored = blocking(move || {
        let _held = node.store.hold_copy_start();
        let current = node.cache.current().map(|m| Recipients::of(&m.state, shard_id)).unwrap_or_default();
        if current != recipients {
            return Ok(false);
        }
        node.store.append(shard_id, &data, &header).map(|_| true)
    })
    .await;
    match stored {
        Ok(true) => Sent::Stored,
        Ok(false) => Sent::Misrouted,
        Err(error) => {
            tracing::error!(shard_id, %error, "local append failed");
            Sent::Failed("local append failed".to_owned())
        }
    }
}

/// Appends to a peer's copy of a shard through its internal route, saying how it was routed.
pub(crate) async fn append_remotely(node: &Node, addr: &str, route: &Route, shard_id: ShardId, data: Bytes) -> Sent {
    let url = format!("{}/internal/shards/{shard_id}/append", node.peer_url(addr));
    let (owners, pending) = route.recipients.header_values();
    let request = node
        .peers
        .post(&url)
        .header(METADATA_INDEX_HEADER, route.index)
        .header(routing::OWNERS_HEADER, owners)
        .header(routing::PENDING_OWNERS_HEADER, pending)
        .body(data);
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Sent::Failed(format!("{addr}: {error}")),
    };
    let status = response.status();
    if status.is_success() {
        return Sent::Stored;
    }
    let body = response.text().await.unwrap_or_default();
    let code = serde_json::from_str::<ErrorReply>(&body).map(|r| r.error.code).unwrap_or_default();
    if status == StatusCode::CONFLICT && (code == NOT_OWNER || code == OWNERS_CHANGED) {
        return Sent::Misrouted;
    }
    let error = DatadError::Peer { url, message: format!("HTTP {status}: {body}") }.to_string();
    if status.is_client_error() {
        Sent::Rejected(error)
    } else {
        Sent::Failed(error)
    }
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
    fn points_route_by_the_rule_their_group_was_created_under() {
        // Three shards a group: a modulus that is no power of two uses every bit of the hash.
        let mut state = crate::test_support::nodes_and_database(3);
        let group = |state: &mut MetaState, timestamp| {
            let create = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp };
            match state.apply(&create) {
                Ok(meta_model::Response::ShardGroup { group, .. }) => group,
                other => panic!("{other:?}"),
            }
        };
        let legacy = group(&mut state, 0);
        state.apply(&Command::InitCluster { id: "0123456789abcdef0123456789abcdef".into() }).expect("identity");
        let canonical = group(&mut state, 8 * 86_400_000_000_000);
        assert_eq!(legacy.shards.len(), 3);
        // Keys whose tag order matters: one of these orders lands elsewhere than the sorted key.
        let keys = (0..50).map(|i| (format!("cpu,z=z{i},a=a{i}"), format!("cpu,a=a{i},z=z{i}")));
        let mut split_in_legacy = 0;
        for (unsorted, sorted) in keys {
            assert_eq!(shard_for(&state, &canonical, &unsorted).id, shard_for(&state, &canonical, &sorted).id);
            let (as_written, sorted_shard) =
                (shard_for(&state, &legacy, &unsorted), shard_for(&state, &legacy, &sorted));
            assert_eq!(
                as_written.id,
                legacy.shards[(fnv1a(unsorted.as_bytes()) % 3) as usize].id,
                "legacy: as written"
            );
            split_in_legacy += usize::from(as_written.id != sorted_shard.id);
        }
        assert!(split_in_legacy > 0, "the old rule is kept, differences and all");
    }

    #[test]
    fn a_write_may_create_a_bounded_number_of_groups() {
        let parsed = parse_lines(b"a v=1 0\na v=1 10\na v=1 3600\na v=1 7200\na v=1 7300\n", 0, Precision::Seconds);
        let lines = parsed.lines;
        let hour = 3_600_000_000_000u64;
        assert_eq!(beyond_group_bound(&lines, |_| false, hour, 3), None, "three hours, three groups");
        assert_eq!(beyond_group_bound(&lines, |_| false, hour, 2), Some(4), "line 4 needs a third group");
        let hour_zero = |t: i64| (0..hour as i64).contains(&t);
        assert_eq!(beyond_group_bound(&lines, hour_zero, hour, 2), None, "hour 0 exists");
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
