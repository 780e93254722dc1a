//! Shard groups, shards and their owners.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use meta_model::{
    ApplyError, Command, Database, MetaState, NodeId, RetentionPolicy, ShardGroup, ShardGroupCreated, ShardId,
    ShardView, Timestamp, Truncation, MINUTE,
};

use crate::error::{duration_field, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::responses::{Conflict, NotFound, Refused, Unavailable};
use crate::routes::{propose, read_barrier};
use crate::service::MetaService;
use meta_wire::{
    AddOwnerRequest, CreateShardGroupRequest, ErrorReply, GroupStatus, MarkWrittenRequest, ReadQuery, RemoveOwnerQuery,
    ShardGroupList, ShardGroupReply, ShardGroupsQuery, ShardInfo, ShardList, ShardOwner, TruncateReply,
    TruncateShardsRequest, MAX_MARKED_SHARDS,
};

/// `POST /v1/shard-groups`: the group covering a timestamp, created on demand (idempotent).
/// An existing group is answered from a linearizable read, without a log entry.
#[utoipa::path(post, path = "/v1/shard-groups", tag = "shards", request_body = CreateShardGroupRequest, responses(
    (status = 201, body = ShardGroupReply, links(
        ("GetShard" = (operation_id = "get_shard", parameters(("id" = "$response.body#/shard_group/shards/0/id")))),
        ("DropShard" = (operation_id = "drop_shard", parameters(("id" = "$response.body#/shard_group/shards/0/id")))),
        ("AddOwner" = (operation_id = "add_owner", parameters(("id" = "$response.body#/shard_group/shards/0/id")))),
        ("RemoveOwner" = (operation_id = "remove_owner", parameters(
            ("id" = "$response.body#/shard_group/shards/0/id"), ("node" = "$response.body#/shard_group/shards/0/owners/0")))),
        ("MarkWritten" = (operation_id = "mark_written",
            request_body = json!({"shard_ids": ["$response.body#/shard_group/shards/0/id"]}))),
        ("CopyShard" = (operation_id = "copy_shard", request_body = json!({
            "shard_id": "$response.body#/shard_group/shards/0/id",
            "source": "$response.body#/shard_group/shards/0/owners/0"}))),
        ("Repair" = (operation_id = "repair", request_body = json!({"shard_id": "$response.body#/shard_group/shards/0/id"}))),
        ("ListTasks" = (operation_id = "list_tasks", parameters(("shard_id" = "$response.body#/shard_group/shards/0/id")))),
    )),
    (status = 200, description = "It existed", body = ShardGroupReply),
    (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "The policy does not take the point's time now (`timestamp_expired`, `timestamp_too_far_ahead`, \
        `invalid_timestamp`: its group's window would leave the representable range), or `no_active_data_nodes`", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn create_shard_group<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<CreateShardGroupRequest>,
) -> Result<(StatusCode, Json<ShardGroupReply>), ApiError> {
    read_barrier(&*service, false).await?;
    let existing = service.read(|state, _| {
        let (_, policy) = resolve_policy(state, &request.database, request.retention_policy.as_deref())?;
        let group = state.live_group_containing(&request.database, &policy.name, request.timestamp).cloned();
        Ok::<_, ApiError>((policy.name.clone(), group))
    })?;
    let retention_policy = match existing {
        (retention_policy, Some(shard_group)) => {
            let reply = ShardGroupReply { database: request.database, retention_policy, created: false, shard_group };
            return Ok((StatusCode::OK, Json(reply)));
        }
        (retention_policy, None) => retention_policy,
    };
    let command =
        Command::CreateShardGroup { database: request.database, retention_policy, timestamp: request.timestamp };
    let ShardGroupCreated { database, retention_policy, group, created } = propose(&*service, command).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(ShardGroupReply { database, retention_policy, created, shard_group: group })))
}

#[utoipa::path(get, path = "/v1/shard-groups", tag = "shards", params(ShardGroupsQuery), responses(
    (status = 200, body = ShardGroupList),
    (status = "4XX", description = "Refused; the body names the problem (`invalid_time_range`: `from` not before `to`)", body = ErrorReply),
    (status = 404, response = NotFound), (status = 503, response = Unavailable)
))]
/// `GET /v1/shard-groups?database=&retention_policy=&from=&to=`: the groups of one policy whose
/// range overlaps `[from, to)`, by start time (what a query planner or data node asks).
pub(crate) async fn list_shard_groups<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<ShardGroupsQuery>,
) -> Result<Json<ShardGroupList>, ApiError> {
    let from = query.from.unwrap_or(Timestamp::MIN);
    let to = query.to.unwrap_or(Timestamp::MAX);
    if from >= to {
        return Err(ApplyError::InvalidTimeRange { from, to }.into());
    }
    read_barrier(&*service, query.stale).await?;
    let list = service.read(|state, _| {
        let (database, policy) = resolve_policy(state, &query.database, query.retention_policy.as_deref())?;
        let mut shard_groups: Vec<ShardGroup> = policy
            .shard_groups
            .values()
            .filter(|g| query.deleted || !g.is_deleted())
            .filter(|g| g.start < to && from < g.end)
            .cloned()
            .collect();
        shard_groups.sort_by_key(|g| (g.start, g.id));
        Ok::<_, ApiError>(ShardGroupList {
            database: database.name.clone(),
            retention_policy: policy.name.clone(),
            shard_groups,
        })
    })?;
    Ok(Json(list))
}

/// The database and the named policy, or the database's default policy when none is named.
fn resolve_policy<'a>(
    state: &'a MetaState,
    database: &str,
    policy: Option<&str>,
) -> Result<(&'a Database, &'a RetentionPolicy), ApiError> {
    let db = state.database(database).ok_or_else(|| ApplyError::DatabaseNotFound { database: database.to_owned() })?;
    let name = match policy {
        Some(name) => name,
        // The policy the request means does not exist: 404, as a data node answers a write.
        None => db.default_retention_policy.as_deref().ok_or_else(|| ApiError {
            status: StatusCode::NOT_FOUND,
            code: "retention_policy_not_found",
            message: format!("database {database:?} has no default retention policy; name one (retention_policy)"),
        })?,
    };
    let policy = db.retention_policies.get(name).ok_or_else(|| ApplyError::RetentionPolicyNotFound {
        database: database.to_owned(),
        retention_policy: name.to_owned(),
    })?;
    Ok((db, policy))
}

fn shard_info(state: &MetaState, view: ShardView<'_>) -> ShardInfo {
    let policy = view.retention_policy;
    let expires = policy.expiry(view.group);
    let status = if view.group.is_deleted() {
        GroupStatus::Deleted
    } else if policy.is_expired(view.group, meta_model::wall_clock()) {
        GroupStatus::Expired
    } else if view.group.is_truncated() {
        GroupStatus::Truncated
    } else {
        GroupStatus::Live
    };
    let owners = view
        .shard
        .owners
        .iter()
        .map(|&id| {
            let node = state.data_node(id);
            ShardOwner {
                id,
                tcp_addr: node.map(|n| n.tcp_addr.clone()).unwrap_or_default(),
                state: node.map(|n| n.state),
            }
        })
        .collect();
    ShardInfo {
        id: view.shard.id,
        database: view.database.to_owned(),
        retention_policy: policy.name.clone(),
        replication_factor: policy.replication_factor,
        shard_group: view.group.id,
        start: view.group.start,
        end: view.group.end,
        expires,
        truncated_at: view.group.truncated_at,
        deleted_at: view.group.deleted_at,
        status,
        written: state.is_written(view.shard.id),
        owners,
    }
}

/// `GET /v1/shards`: every shard with its owners (`show-shards`).
#[utoipa::path(get, path = "/v1/shards", tag = "shards", params(ReadQuery), responses(
    (status = 200, body = ShardList), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn list_shards<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<ShardList>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    let mut shards: Vec<ShardInfo> = service.read(|state, _| {
        state
            .databases()
            .values()
            .flat_map(|d| d.retention_policies.values())
            .flat_map(|rp| rp.shard_groups.values())
            .flat_map(|g| g.shards.iter())
            .filter_map(|s| state.shard(s.id))
            .map(|view| shard_info(state, view))
            .collect()
    });
    shards.sort_by_key(|s| s.id);
    Ok(Json(ShardList { shards }))
}

/// `GET /v1/shards/{id}`.
#[utoipa::path(get, path = "/v1/shards/{id}", tag = "shards", params(("id" = u64, Path, description = "Shard ID"), ReadQuery), responses(
    (status = 200, body = ShardInfo), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn get_shard<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(shard_id): ApiPath<ShardId>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<ShardInfo>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    let info = service.read(|state, _| state.shard(shard_id).map(|view| shard_info(state, view)));
    Ok(Json(info.ok_or(ApplyError::ShardNotFound { shard_id })?))
}

/// `DELETE /v1/shards/{id}`: delete the shard everywhere.
#[utoipa::path(delete, path = "/v1/shards/{id}", tag = "shards", params(("id" = u64, Path, description = "Shard ID")), responses(
    (status = 204, description = "Dropped"), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, response = Conflict), (status = 503, response = Unavailable)
))]
pub(crate) async fn drop_shard<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(shard_id): ApiPath<ShardId>,
) -> Result<StatusCode, ApiError> {
    let () = propose(&*service, Command::DropShard { shard_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/shards/{id}/owners`.
#[utoipa::path(post, path = "/v1/shards/{id}/owners", tag = "shards", params(("id" = u64, Path, description = "Shard ID")), request_body = AddOwnerRequest, responses(
    (status = 204, description = "Added"), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`shard_owner_exists`, `shard_written` (only a copy gives a written shard an owner), \
        `data_node_not_active` or `shard_group_deleted`", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn add_owner<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(shard_id): ApiPath<ShardId>,
    ApiJson(request): ApiJson<AddOwnerRequest>,
) -> Result<StatusCode, ApiError> {
    let () = propose(&*service, Command::AddShardOwner { shard_id, node_id: request.node_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/shards/written`: marks shards as holding data; a data node calls it, and waits for
/// it, before it acknowledges the first write to a shard.
#[utoipa::path(post, path = "/v1/shards/written", tag = "shards", request_body = MarkWrittenRequest, responses(
    (status = 204, description = "Marked (committed)"), (status = "4XX", response = Refused),
    (status = 404, response = NotFound), (status = 409, description = "`shard_group_deleted`", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn mark_written<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<MarkWrittenRequest>,
) -> Result<StatusCode, ApiError> {
    let count = request.shard_ids.len();
    if count == 0 || count > MAX_MARKED_SHARDS {
        return Err(ApiError::invalid_field(
            "shard_ids",
            format!("must list 1 to {MAX_MARKED_SHARDS} shards, not {count}"),
        ));
    }
    let () = propose(&*service, Command::MarkShardsWritten { shard_ids: request.shard_ids }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/shards/{id}/owners/{node}` (`remove-shard`).
/// Refused (`409 last_owner`) when `node` is the only owner of a shard that holds data, unless
/// `force=true`: its data would have no owner left.
#[utoipa::path(delete, path = "/v1/shards/{id}/owners/{node}", tag = "shards", params(("id" = u64, Path, description = "Shard ID"), ("node" = u64, Path, description = "Owner node ID"), RemoveOwnerQuery), responses(
    (status = 204, description = "Removed"), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`not_shard_owner`, or `last_owner`: the only owner of a shard with data", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn remove_owner<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath((shard_id, node_id)): ApiPath<(ShardId, NodeId)>,
    ApiQuery(query): ApiQuery<RemoveOwnerQuery>,
) -> Result<StatusCode, ApiError> {
    if !query.force {
        read_barrier(&*service, false).await?;
        let last = service.read(|state, _| {
            state.shard(shard_id).is_some_and(|v| v.shard.owners == [node_id] && state.is_written(shard_id))
        });
        if last {
            return Err(ApiError {
                status: StatusCode::CONFLICT,
                code: "last_owner",
                message: format!(
                    "data node {node_id} is the only owner of shard {shard_id}, which holds data: without it the data \
                     has no owner (the node keeps the file, but nothing serves or repairs it). Copy it elsewhere \
                     first (metactl copy-shard), or force"
                ),
            });
        }
    }
    let () = propose(&*service, Command::RemoveShardOwner { shard_id, node_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/truncate-shards`: stop writes to current groups at now + delay.
#[utoipa::path(post, path = "/v1/truncate-shards", tag = "shards", request_body = TruncateShardsRequest, responses(
    (status = 200, body = TruncateReply), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn truncate_shards<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<TruncateShardsRequest>,
) -> Result<Json<TruncateReply>, ApiError> {
    let delay = match &request.delay {
        Some(text) => duration_field("delay", text)?,
        None => MINUTE,
    };
    // `now` is the leader's clock, stamped by its proposer: never this node's.
    let Truncation { at, shard_groups } = propose(&*service, Command::TruncateHotShardGroups { delay }).await?;
    Ok(Json(TruncateReply { truncated_at: at, shard_groups }))
}
