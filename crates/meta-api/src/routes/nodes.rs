//! Data nodes and meta nodes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use meta_model::{
    validate_addr, validate_failure_domains, validate_label_key, validate_labels, BalancePolicy, Command, DataNode,
    DataNodeRemoval, MetaNode, NodeId, PlacementPolicy,
};

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::responses::{Conflict, NotFound, Refused, Unavailable};
use crate::routes::{propose, read_barrier};
use crate::service::MembershipChange;
use crate::service::MetaService;
use meta_wire::{
    AddDataNodeRequest, AddMetaNodeRequest, BalanceRequest, DataNodeList, ErrorReply, FailureDomainsRequest,
    MetaNodeList, NodeLabelsRequest, ReadQuery, RemoveDataNodeQuery, RemovedDataNode, UpdateDataNodeRequest,
};

/// `GET /v1/data-nodes`.
#[utoipa::path(get, path = "/v1/data-nodes", tag = "nodes", params(ReadQuery), responses(
    (status = 200, body = DataNodeList), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn list_data_nodes<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<DataNodeList>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    Ok(Json(DataNodeList { data_nodes: service.read(|state, _| state.data_nodes().values().cloned().collect()) }))
}

/// `GET /v1/data-nodes/{id}`.
#[utoipa::path(get, path = "/v1/data-nodes/{id}", tag = "nodes", params(("id" = u64, Path, description = "Node ID"), ReadQuery), responses(
    (status = 200, body = DataNode), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn get_data_node<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(id): ApiPath<NodeId>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<DataNode>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    let node = service.read(|state, _| state.data_node(id).cloned());
    node.map(Json).ok_or_else(|| ApiError::from(meta_model::ApplyError::DataNodeNotFound { node_id: id }))
}

/// `POST /v1/data-nodes` (`add-data`).
#[utoipa::path(post, path = "/v1/data-nodes", tag = "nodes", request_body = AddDataNodeRequest, responses(
    (status = 201, body = DataNode, links(
        ("GetDataNode" = (operation_id = "get_data_node", parameters(("id" = "$response.body#/id")))),
        ("UpdateDataNode" = (operation_id = "update_data_node", parameters(("id" = "$response.body#/id")))),
        ("SetNodeLabels" = (operation_id = "set_node_labels", parameters(("id" = "$response.body#/id")))),
        ("RemoveDataNode" = (operation_id = "remove_data_node", parameters(("id" = "$response.body#/id")))),
        ("Heartbeat" = (operation_id = "heartbeat", parameters(("id" = "$response.body#/id")),
            request_body = json!({"addr": "$response.body#/http_addr"}))),
        ("Claim" = (operation_id = "claim", request_body = json!({"node_id": "$response.body#/id"}))),
    )),
    (status = "4XX", response = Refused),
    (status = 409, description = "`address_in_use`: a live node has the address", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn add_data_node<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<AddDataNodeRequest>,
) -> Result<(StatusCode, Json<DataNode>), ApiError> {
    let http_addr = request.http_addr.unwrap_or_else(|| request.tcp_addr.clone());
    validate_addr("tcp_addr", &request.tcp_addr)?;
    validate_addr("http_addr", &http_addr)?;
    validate_labels(&request.labels)?;
    let command = Command::AddDataNode { tcp_addr: request.tcp_addr, http_addr, labels: request.labels };
    Ok((StatusCode::CREATED, Json(propose(&*service, command).await?)))
}

/// `PUT /v1/data-nodes/{id}` (`update-data`): the node keeps its ID and its shards.
#[utoipa::path(put, path = "/v1/data-nodes/{id}", tag = "nodes", params(("id" = u64, Path, description = "Node ID")), request_body = UpdateDataNodeRequest, responses(
    (status = 200, body = DataNode), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`address_in_use` (another live node has it) or `data_node_not_active` (removed)", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn update_data_node<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(node_id): ApiPath<NodeId>,
    ApiJson(request): ApiJson<UpdateDataNodeRequest>,
) -> Result<Json<DataNode>, ApiError> {
    let http_addr = request.http_addr.unwrap_or_else(|| request.tcp_addr.clone());
    validate_addr("tcp_addr", &request.tcp_addr)?;
    validate_addr("http_addr", &http_addr)?;
    if let Some(labels) = &request.labels {
        validate_labels(labels)?;
    }
    let command = Command::UpdateDataNode { node_id, tcp_addr: request.tcp_addr, http_addr, labels: request.labels };
    Ok(Json(propose(&*service, command).await?))
}

/// `PATCH /v1/data-nodes/{id}/labels` (`node-labels`): sets and deletes labels in one step,
/// keeping the others. A label of the failure-domain hierarchy changes how the planner judges
/// every shard's spread.
#[utoipa::path(patch, path = "/v1/data-nodes/{id}/labels", tag = "nodes", params(("id" = u64, Path, description = "Node ID")), request_body = NodeLabelsRequest, responses(
    (status = 200, body = DataNode), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, response = Conflict), (status = 503, response = Unavailable)
))]
pub(crate) async fn set_node_labels<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(node_id): ApiPath<NodeId>,
    ApiJson(request): ApiJson<NodeLabelsRequest>,
) -> Result<Json<DataNode>, ApiError> {
    validate_labels(&request.set)?;
    for key in &request.delete {
        validate_label_key("delete", key)?;
    }
    let command = Command::SetNodeLabels { node_id, set: request.set, delete: request.delete };
    Ok(Json(propose(&*service, command).await?))
}

/// `GET /v1/placement`: how shards are placed (the failure-domain hierarchy).
#[utoipa::path(get, path = "/v1/placement", tag = "nodes", params(ReadQuery), responses(
    (status = 200, body = PlacementPolicy), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn get_placement<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<PlacementPolicy>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    Ok(Json(service.read(|state, _| state.placement().clone())))
}

/// `PUT /v1/placement/failure-domains` (`failure-domains set`): the hierarchy of label keys
/// placement spreads owners over, highest level first.
#[utoipa::path(put, path = "/v1/placement/failure-domains", tag = "nodes", request_body = FailureDomainsRequest, responses(
    (status = 200, body = PlacementPolicy), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn set_failure_domains<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<FailureDomainsRequest>,
) -> Result<Json<PlacementPolicy>, ApiError> {
    validate_failure_domains(&request.failure_domains)?;
    Ok(Json(propose(&*service, Command::SetFailureDomains { levels: request.failure_domains }).await?))
}

/// `PUT /v1/placement/balance` (`balance enable|disable`): whether and how anti-entropy moves
/// shards to even out the data nodes' load; fields left out keep their value.
#[utoipa::path(put, path = "/v1/placement/balance", tag = "nodes", request_body = BalanceRequest, responses(
    (status = 200, body = PlacementPolicy), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn set_balance<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<BalanceRequest>,
) -> Result<Json<PlacementPolicy>, ApiError> {
    let BalanceRequest { enabled, tolerance_percent, max_moves } = request;
    if enabled.is_none() && tolerance_percent.is_none() && max_moves.is_none() {
        return Err(ApiError::invalid_field("enabled", "give enabled, tolerance_percent or max_moves"));
    }
    // The whole policy is checked in apply; the ranges are checked here too for a prompt 400.
    let probe = BalancePolicy {
        enabled: true,
        tolerance_percent: tolerance_percent.unwrap_or(0),
        max_moves: max_moves.unwrap_or(1),
    };
    probe.validate()?;
    Ok(Json(propose(&*service, Command::SetBalance { enabled, tolerance_percent, max_moves }).await?))
}

/// `DELETE /v1/data-nodes/{id}?force=true` (`remove-data`): drains, or with `force` drops at once.
#[utoipa::path(delete, path = "/v1/data-nodes/{id}", tag = "nodes", params(("id" = u64, Path, description = "Node ID"), RemoveDataNodeQuery), responses(
    (status = 200, body = RemovedDataNode), (status = "4XX", response = Refused), (status = 404, response = NotFound),
    (status = 409, description = "`data_node_not_active`: already removed", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn remove_data_node<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(node_id): ApiPath<NodeId>,
    ApiQuery(query): ApiQuery<RemoveDataNodeQuery>,
) -> Result<Json<RemovedDataNode>, ApiError> {
    let removal: DataNodeRemoval = propose(&*service, Command::RemoveDataNode { node_id, force: query.force }).await?;
    let DataNodeRemoval { node, ownerless_shards } = removal;
    if !ownerless_shards.is_empty() {
        tracing::error!(node_id, ?ownerless_shards, "removal left shards without any owner");
    }
    Ok(Json(RemovedDataNode { node, ownerless_shards }))
}

/// `GET /v1/meta-nodes`.
#[utoipa::path(get, path = "/v1/meta-nodes", tag = "nodes", params(ReadQuery), responses(
    (status = 200, body = MetaNodeList), (status = "4XX", response = Refused), (status = 503, response = Unavailable)
))]
pub(crate) async fn list_meta_nodes<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<MetaNodeList>, ApiError> {
    read_barrier(&*service, query.stale).await?;
    Ok(Json(MetaNodeList { meta_nodes: service.read(|state, _| state.meta_nodes().values().cloned().collect()) }))
}

/// `POST /v1/meta-nodes` (`add-meta`): the node joins as a learner, catches up, then votes.
#[utoipa::path(post, path = "/v1/meta-nodes", tag = "nodes", request_body = AddMetaNodeRequest, responses(
    (status = 201, body = MetaNode, links(
        ("RemoveMetaNode" = (operation_id = "remove_meta_node", parameters(("id" = "$response.body#/id")))),
    )),
    (status = "4XX", response = Refused),
    (status = 409, description = "`membership_refused`: no meta node answers there, or it already belongs to a cluster", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn add_meta_node<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiJson(request): ApiJson<AddMetaNodeRequest>,
) -> Result<(StatusCode, Json<MetaNode>), ApiError> {
    validate_addr("addr", &request.addr)?;
    let id = service.change_membership(MembershipChange::Add { addr: request.addr.clone() }).await?;
    Ok((StatusCode::CREATED, Json(MetaNode { id, addr: request.addr })))
}

/// `DELETE /v1/meta-nodes/{id}` (`remove-meta`).
#[utoipa::path(delete, path = "/v1/meta-nodes/{id}", tag = "nodes", params(("id" = u64, Path, description = "Node ID")), responses(
    (status = 204, description = "Removed"), (status = "4XX", response = Refused),
    (status = 409, description = "`membership_refused`: not a voting member, or the last one", body = ErrorReply),
    (status = 503, response = Unavailable)
))]
pub(crate) async fn remove_meta_node<S: MetaService>(
    State(service): State<Arc<S>>,
    ApiPath(node_id): ApiPath<NodeId>,
) -> Result<StatusCode, ApiError> {
    service.change_membership(MembershipChange::Remove { node_id }).await?;
    Ok(StatusCode::NO_CONTENT)
}
