//! The `/v1` API without a socket or a cluster: requests go through `router(..).oneshot(..)`
//! against a node whose state machine is applied locally (no replication), so every handler's
//! happy path and error paths can be checked exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use meta_api::{router, Auth, MembershipChange, MetaService, NodeStatus, Proposed, ServiceError};
use meta_model::{ApplyError, Command, LeaderFacts, MetaState, Task};
use meta_wire::{
    AeCall, AeError, AeHandler, ClaimReply, ClaimRequest, CompleteTask, CopyShardRequest, CopyTaskInfo, CopyTaskList,
    CopyTasksQuery, EntropyReport, FailTask, GetReport, GetTask, Heartbeat, HeartbeatReply, KillTask, MetaNodeHealth,
    ProgressReply, RepairReply, RepairRequest, ReportProgress,
};
use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A single node that applies commands directly; `leaderless` makes it refuse like a node that
/// cannot reach a quorum.
#[derive(Default)]
struct LocalNode {
    state: RwLock<MetaState>,
    index: AtomicU64,
    leaderless: bool,
}

impl MetaService for LocalNode {
    async fn propose(&self, command: Command) -> Result<Proposed, ServiceError> {
        if self.leaderless {
            return Err(ServiceError::NoLeader);
        }
        let mut state = self.state.write().expect("state lock");
        let log_index = self.index.fetch_add(1, Ordering::SeqCst) + 1;
        // Stamped as the leader's proposer does, with a fixed clock.
        let command = command.stamp(|| LeaderFacts { now: 1_700_000_000_000_000_000, live_data_nodes: None });
        Ok(Proposed { log_index, result: state.apply(&command) })
    }

    async fn change_membership(&self, _change: MembershipChange) -> Result<u64, ServiceError> {
        Err(ServiceError::Refused("a local node has no Raft membership to change".into()))
    }

    async fn read_barrier(&self) -> Result<(), ServiceError> {
        if self.leaderless {
            return Err(ServiceError::NoLeader);
        }
        Ok(())
    }

    async fn wait_applied_beyond(&self, _index: u64, _wait: Duration) {}

    fn read<R>(&self, read: impl FnOnce(&MetaState, u64) -> R) -> R {
        let state = self.state.read().expect("state lock");
        read(&state, self.index.load(Ordering::SeqCst))
    }

    fn apply_counters(&self) -> (u64, f64) {
        (self.index.load(Ordering::SeqCst), 0.0)
    }

    fn status(&self) -> NodeStatus {
        let leader_id = (!self.leaderless).then_some(1);
        NodeStatus { node_id: 1, raft_state: "leader".into(), leader_id, ..NodeStatus::default() }
    }

    async fn meta_node_health(&self) -> Vec<MetaNodeHealth> {
        vec![MetaNodeHealth { id: 1, addr: "local".into(), voter: true, status: Some(self.status()), error: None }]
    }

    async fn anti_entropy<C: AeCall>(&self, call: C) -> Result<C::Reply, ServiceError> {
        call.serve(&LocalAntiEntropy(self)).await
    }

    fn node_metrics(&self, _registry: &mut Registry) {}
}

/// The local node's anti-entropy calls: heartbeats of registered nodes are answered; everything
/// else is refused the way the leader's service refuses, so the routes' error mapping is checked.
struct LocalAntiEntropy<'a>(&'a LocalNode);

fn disabled<T>() -> Result<T, ServiceError> {
    Err(AeError::Disabled.into())
}

impl AeHandler for LocalAntiEntropy<'_> {
    type Error = ServiceError;

    async fn heartbeat(&self, call: Heartbeat) -> Result<HeartbeatReply, ServiceError> {
        let node_id = call.node_id;
        let node = self.0.read(|state, _| state.data_node(node_id).cloned());
        let node = node.ok_or(AeError::Apply(ApplyError::DataNodeNotFound { node_id }))?;
        Ok(HeartbeatReply { node_id, state: node.state, heartbeat_interval_ms: 1000, send_inventory: true })
    }

    async fn claim(&self, _call: ClaimRequest) -> Result<ClaimReply, ServiceError> {
        disabled()
    }

    async fn progress(&self, _call: ReportProgress) -> Result<ProgressReply, ServiceError> {
        disabled()
    }

    async fn complete(&self, call: CompleteTask) -> Result<Task, ServiceError> {
        let CompleteTask { task_id, attempt } = call;
        Err(AeError::Apply(ApplyError::StaleAttempt { task_id, attempt, current: attempt + 1 }).into())
    }

    async fn fail(&self, _call: FailTask) -> Result<Task, ServiceError> {
        disabled()
    }

    async fn copy_shard(&self, _call: CopyShardRequest) -> Result<Task, ServiceError> {
        disabled()
    }

    async fn kill(&self, _call: KillTask) -> Result<Task, ServiceError> {
        disabled()
    }

    async fn repair(&self, _call: RepairRequest) -> Result<RepairReply, ServiceError> {
        disabled()
    }

    async fn tasks(&self, _call: CopyTasksQuery) -> Result<CopyTaskList, ServiceError> {
        disabled()
    }

    async fn task(&self, _call: GetTask) -> Result<CopyTaskInfo, ServiceError> {
        disabled()
    }

    async fn report(&self, _call: GetReport) -> Result<EntropyReport, ServiceError> {
        disabled()
    }
}

async fn call(node: &Arc<LocalNode>, method: &str, path: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request.body(Body::from(body.unwrap_or("").to_owned())).expect("request");
    let response = router(Arc::clone(node), Auth::default()).oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A node with one data node (ID 1), database `db` with default policy `rp` and one shard.
async fn seeded() -> Arc<LocalNode> {
    let node = Arc::new(LocalNode::default());
    let setup = [
        ("POST", "/v1/data-nodes", r#"{"tcp_addr": "data-1:8088"}"#),
        (
            "POST",
            "/v1/databases",
            r#"{"name": "db", "retention_policy": {"name": "rp", "duration": "7d", "replication": 1}}"#,
        ),
        ("POST", "/v1/shard-groups", r#"{"database": "db", "timestamp": 0}"#),
    ];
    for (method, path, body) in setup {
        let (status, reply) = call(&node, method, path, Some(body)).await;
        assert!(status.is_success(), "{method} {path}: {status} {reply}");
    }
    node
}

#[tokio::test]
async fn happy_paths_return_the_objects() {
    let node = seeded().await;
    let (status, nodes) = call(&node, "GET", "/v1/data-nodes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(nodes["data_nodes"][0]["tcp_addr"], "data-1:8088");
    let (_, shards) = call(&node, "GET", "/v1/shards", None).await;
    assert_eq!(shards["shards"][0]["owners"][0]["id"], 1, "{shards}");
    assert_eq!(shards["shards"][0]["replication_factor"], 1);
    let (status, again) = call(&node, "POST", "/v1/shard-groups", Some(r#"{"database": "db", "timestamp": 5}"#)).await;
    assert_eq!((status, &again["created"]), (StatusCode::OK, &json!(false)), "idempotent: {again}");
    let (status, groups) = call(&node, "GET", "/v1/shard-groups?database=db&from=0&to=1", None).await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    assert_eq!(groups["shard_groups"].as_array().map(Vec::len), Some(1), "{groups}");
    let (_, later) =
        call(&node, "GET", "/v1/shard-groups?database=db&retention_policy=rp&from=999999999999999", None).await;
    assert_eq!(later["shard_groups"].as_array().map(Vec::len), Some(0), "{later}");
    let (status, dbs) = call(&node, "GET", "/v1/databases", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dbs["databases"][0]["retention_policies"][0]["default"], true, "{dbs}");
    let (status, meta) = call(&node, "GET", "/v1/metadata?index=0&wait=1s", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["index"], 3, "{meta}");
    let (status, updated) =
        call(&node, "PUT", "/v1/data-nodes/1", Some(r#"{"tcp_addr": "data-9:8088", "labels": {"zone": "a"}}"#)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["labels"]["zone"], "a");
    let (status, truncated) = call(&node, "POST", "/v1/truncate-shards", Some("{}")).await;
    assert_eq!(status, StatusCode::OK, "{truncated}");
    let (status, removed) = call(&node, "DELETE", "/v1/data-nodes/1?force=true", None).await;
    assert_eq!((status, &removed["state"]), (StatusCode::OK, &json!("removed")));
}

/// (method, path, body, status, error code, a word the message must contain)
type Case<'a> = (&'a str, &'a str, Option<&'a str>, u16, &'a str, &'a str);

#[tokio::test]
async fn every_bad_request_gets_a_json_error_naming_the_problem() {
    let node = seeded().await;
    let big = format!(r#"{{"name": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let cases: Vec<Case<'_>> = vec![
        ("POST", "/v1/data-nodes", Some("{"), 400, "malformed_json", "JSON"),
        ("POST", "/v1/data-nodes", Some(r#"{"tcp_addr": 5}"#), 422, "invalid_body", "tcp_addr"),
        ("POST", "/v1/data-nodes", Some(r#"{"tcp_addr": "a:1", "zone": "x"}"#), 422, "invalid_body", "zone"),
        ("POST", "/v1/data-nodes", Some(r#"{}"#), 422, "invalid_body", "tcp_addr"),
        ("POST", "/v1/data-nodes", Some(r#"{"tcp_addr": "nope"}"#), 400, "invalid_address", "tcp_addr"),
        ("POST", "/v1/data-nodes", Some(r#"{"tcp_addr": "data-1:8088"}"#), 409, "address_in_use", "data-1:8088"),
        (
            "POST",
            "/v1/data-nodes",
            Some(r#"{"tcp_addr": "a:1", "labels": {"Bad": "x"}}"#),
            400,
            "invalid_name",
            "label",
        ),
        ("POST", "/v1/data-nodes", None, 415, "unsupported_media_type", "Content-Type"),
        ("GET", "/v1/data-nodes/abc", None, 400, "invalid_path", "abc"),
        ("GET", "/v1/data-nodes/99", None, 404, "data_node_not_found", "99"),
        ("PUT", "/v1/data-nodes/99", Some(r#"{"tcp_addr": "z:1"}"#), 404, "data_node_not_found", "99"),
        ("PATCH", "/v1/data-nodes/99/labels", Some(r#"{"set": {"zone": "a"}}"#), 404, "data_node_not_found", "99"),
        ("PATCH", "/v1/data-nodes/1/labels", Some(r#"{"set": {"Zone": "a"}}"#), 400, "invalid_name", "label key"),
        ("PATCH", "/v1/data-nodes/1/labels", Some(r#"{"delete": ["Zone"]}"#), 400, "invalid_name", "delete"),
        ("PATCH", "/v1/data-nodes/1/labels", Some(r#"{"add": {}}"#), 422, "invalid_body", "add"),
        (
            "PUT",
            "/v1/placement/failure-domains",
            Some(r#"{"failure_domains": ["zone", "zone"]}"#),
            400,
            "invalid_name",
            "failure_domains",
        ),
        ("PUT", "/v1/placement/failure-domains", Some(r#"{}"#), 422, "invalid_body", "failure_domains"),
        ("PUT", "/v1/placement/failure-domains", Some(r#"{"levels": []}"#), 422, "invalid_body", "levels"),
        (
            "PUT",
            "/v1/placement/balance",
            Some(r#"{"tolerance_percent": 101}"#),
            400,
            "invalid_name",
            "tolerance_percent",
        ),
        ("PUT", "/v1/placement/balance", Some(r#"{"max_moves": 0}"#), 400, "invalid_name", "max_moves"),
        ("PUT", "/v1/placement/balance", Some(r#"{"enabled": "yes"}"#), 422, "invalid_body", "enabled"),
        ("PUT", "/v1/placement/balance", Some(r#"{"tolerance": 5}"#), 422, "invalid_body", "tolerance"),
        ("PUT", "/v1/placement/balance", Some(r#"{}"#), 400, "invalid_field", "tolerance_percent"),
        ("PUT", "/v1/placement/balance", Some(r#"[]"#), 422, "invalid_body", "object"),
        ("DELETE", "/v1/data-nodes/99", None, 404, "data_node_not_found", "99"),
        ("DELETE", "/v1/data-nodes/1?force=maybe", None, 400, "invalid_query", "force"),
        ("GET", "/v1/data-nodes?stale=true&x=2", None, 400, "invalid_query", "x"),
        ("GET", "/v1/data-nodes?stale=1", None, 400, "invalid_query", "stale"),
        ("PATCH", "/v1/data-nodes", None, 405, "method_not_allowed", "Method"),
        ("GET", "/v1/nothing-here", None, 404, "not_found", "route"),
        ("POST", "/v1/databases", Some(r#"{"name": ""}"#), 400, "invalid_name", "database"),
        ("POST", "/v1/databases", Some(r#"{"name": "db"}"#), 409, "database_exists", "db"),
        ("POST", "/v1/databases", Some(&big), 413, "body_too_large", "large"),
        (
            "POST",
            "/v1/databases",
            Some(r#"{"name": "d2", "retention_policy": {"name": "r", "duration": "7x", "replication": 1}}"#),
            400,
            "invalid_field",
            "duration",
        ),
        (
            "POST",
            "/v1/databases",
            Some(r#"{"name": "d2", "retention_policy": {"name": "r", "duration": "1d", "replication": 3}}"#),
            409,
            "replication_factor_exceeds_nodes",
            "3",
        ),
        ("GET", "/v1/databases/nope", None, 404, "database_not_found", "nope"),
        ("DELETE", "/v1/databases/nope", None, 404, "database_not_found", "nope"),
        (
            "POST",
            "/v1/databases/nope/retention-policies",
            Some(r#"{"name": "r", "duration": "1d", "replication": 1}"#),
            404,
            "database_not_found",
            "nope",
        ),
        (
            "POST",
            "/v1/databases/db/retention-policies",
            Some(r#"{"name": "r", "duration": "30m", "replication": 1}"#),
            400,
            "invalid_duration",
            "duration",
        ),
        ("PATCH", "/v1/databases/db/retention-policies/nope", Some("{}"), 404, "retention_policy_not_found", "nope"),
        (
            "PATCH",
            "/v1/databases/db/retention-policies/rp",
            Some(r#"{"replication": 0}"#),
            400,
            "invalid_replication_factor",
            "0",
        ),
        ("DELETE", "/v1/databases/db/retention-policies/nope", None, 404, "retention_policy_not_found", "nope"),
        (
            "POST",
            "/v1/shard-groups",
            Some(r#"{"database": "nope", "timestamp": 0}"#),
            404,
            "database_not_found",
            "nope",
        ),
        (
            "POST",
            "/v1/shard-groups",
            Some(r#"{"database": "db", "timestamp": "now"}"#),
            422,
            "invalid_body",
            "timestamp",
        ),
        (
            "POST",
            "/v1/shard-groups",
            Some(r#"{"database": "db", "timestamp": 9223372036854775807}"#),
            400,
            "invalid_timestamp",
            "9223372036854775807",
        ),
        ("GET", "/v1/shards/999", None, 404, "shard_not_found", "999"),
        ("GET", "/v1/shards/-1", None, 400, "invalid_path", "-1"),
        ("DELETE", "/v1/shards/999", None, 404, "shard_not_found", "999"),
        ("POST", "/v1/shards/1/owners", Some(r#"{"node_id": 1}"#), 409, "shard_owner_exists", "already owns"),
        ("POST", "/v1/shards/1/owners", Some(r#"{"node_id": 42}"#), 404, "data_node_not_found", "42"),
        ("DELETE", "/v1/shards/1/owners/42", None, 409, "not_shard_owner", "42"),
        ("POST", "/v1/truncate-shards", Some(r#"{"delay": "soon"}"#), 400, "invalid_field", "delay"),
        ("POST", "/v1/meta-nodes", Some(r#"{"addr": "nope"}"#), 400, "invalid_address", "addr"),
        ("POST", "/v1/meta-nodes", Some(r#"{"addr": "m:1"}"#), 409, "membership_refused", "membership"),
        ("DELETE", "/v1/meta-nodes/x", None, 400, "invalid_path", "x"),
        ("GET", "/v1/metadata?wait=forever", None, 400, "invalid_field", "wait"),
        ("GET", "/v1/shard-groups", None, 400, "invalid_query", "database"),
        ("GET", "/v1/shard-groups?database=nope", None, 404, "database_not_found", "nope"),
        ("GET", "/v1/shard-groups?database=db&retention_policy=x", None, 404, "retention_policy_not_found", "x"),
        ("GET", "/v1/shard-groups?database=db&from=5&to=5", None, 400, "invalid_time_range", "5"),
        ("GET", "/v1/shard-groups?database=db&from=soon", None, 400, "invalid_query", "from"),
    ];
    for (method, path, body, status, code, word) in cases {
        let (got, reply) = call(&node, method, path, body).await;
        let label = format!("{method} {path} {}", body.map_or("", |b| &b[..b.len().min(80)]));
        assert_eq!(got.as_u16(), status, "{label}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{label}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(word), "{label}: message {message:?} should mention {word:?}");
    }
    // Nothing a rejected request sent changed the state.
    let (_, nodes) = call(&node, "GET", "/v1/data-nodes", None).await;
    assert_eq!(nodes["data_nodes"].as_array().map(Vec::len), Some(1), "{nodes}");
}

#[tokio::test]
async fn without_a_leader_requests_get_503_with_retry_after() {
    let node = Arc::new(LocalNode { leaderless: true, ..LocalNode::default() });
    for (method, path, body) in [("GET", "/v1/data-nodes", None), ("POST", "/v1/databases", Some(r#"{"name": "x"}"#))] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.unwrap_or("").to_owned()))
            .expect("request");
        let response = router(Arc::clone(&node), Auth::default()).oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{method} {path}");
        assert_eq!(response.headers().get(header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"1"[..]));
    }
    let (status, stale) = call(&node, "GET", "/v1/data-nodes?stale=true", None).await;
    assert_eq!(status, StatusCode::OK, "stale reads need no leader: {stale}");
    let (status, ready) = call(&node, "GET", "/ready", None).await;
    assert_eq!((status, &ready["ready"]), (StatusCode::SERVICE_UNAVAILABLE, &json!(false)));
    let (status, _) = call(&node, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_not_by_id() {
    let node = seeded().await;
    let app = router(Arc::clone(&node), Auth::default());
    for path in ["/v1/data-nodes/1", "/v1/data-nodes/2", "/metrics"] {
        let request = Request::builder().uri(path).body(Body::empty()).expect("request");
        let response = app.clone().oneshot(request).await.expect("infallible");
        if path == "/metrics" {
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.contains("metad_raft_is_leader 1"), "{text}");
            assert!(text.contains("# TYPE metad_apply_seconds counter"), "{text}");
            assert!(text.contains("metad_apply_seconds_total "), "{text}");
            assert!(
                text.contains(r#"metad_http_requests_total{method="GET",route="/v1/data-nodes/{id}",status="200"} 1"#),
                "{text}"
            );
            assert!(
                text.contains(r#"metad_http_requests_total{method="GET",route="/v1/data-nodes/{id}",status="404"} 1"#),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn tokens_guard_the_api_when_configured() {
    let node = seeded().await;
    let auth = Auth { admin_token: Some("admin-secret".into()), node_token: Some("node-secret".into()) };
    let app = router(Arc::clone(&node), auth);
    // (method, path, token, status)
    let cases = [
        ("GET", "/v1/data-nodes", None, 401),
        ("GET", "/v1/data-nodes", Some("wrong"), 401),
        ("GET", "/v1/data-nodes", Some("node-secret"), 200),
        ("GET", "/v1/data-nodes", Some("admin-secret"), 200),
        ("POST", "/v1/shard-groups", Some("node-secret"), 200),
        ("POST", "/v1/databases", Some("node-secret"), 403),
        ("POST", "/v1/databases", Some("admin-secret"), 201),
        ("POST", "/v1/data-nodes/1/heartbeat", Some("node-secret"), 200),
        ("POST", "/v1/copy-tasks/3/complete", Some("node-secret"), 409),
        ("POST", "/v1/copy-tasks", Some("node-secret"), 403),
        ("DELETE", "/v1/copy-tasks/3", Some("node-secret"), 403),
        ("POST", "/v1/data-nodes/1/heartbeat/extra", Some("node-secret"), 403),
        ("GET", "/health", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", "/v1/console", None, 401),
        ("GET", "/v1/console", Some("node-secret"), 200),
        ("GET", "/ui", None, 200),
        ("GET", "/ui/console.js", None, 200),
    ];
    for (method, path, token, status) in cases {
        let body = match path {
            "/v1/shard-groups" => r#"{"database": "db", "timestamp": 0}"#,
            "/v1/databases" => r#"{"name": "guarded"}"#,
            "/v1/data-nodes/1/heartbeat" => r#"{"addr": "d1:8088", "version": "1", "inventory_version": 0}"#,
            "/v1/copy-tasks/3/complete" => r#"{"attempt": 1}"#,
            "/v1/copy-tasks" => r#"{"shard_id": 1, "source": 1, "target": 2}"#,
            _ => "",
        };
        let mut request = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = app.clone().oneshot(request.body(Body::from(body)).expect("request")).await.expect("infallible");
        assert_eq!(response.status().as_u16(), status, "{method} {path} with {token:?}");
        if status >= 400 {
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            let reply: Value = serde_json::from_slice(&bytes).expect("JSON error");
            assert!(reply["error"]["code"].is_string(), "{reply}");
        }
    }
}

#[tokio::test]
async fn restore_takes_a_backup_into_an_empty_node_only() {
    let node = seeded().await;
    let (_, backup) = call(&node, "GET", "/v1/metadata", None).await;
    let body = backup.to_string();
    let (status, reply) = call(&node, "POST", "/v1/restore", Some(&body)).await;
    assert_eq!((status.as_u16(), &reply["error"]["code"]), (409, &json!("not_empty")), "{reply}");

    let fresh = Arc::new(LocalNode::default());
    let mut broken = backup.clone();
    broken["metadata"]["data_nodes"] = json!({});
    let (status, reply) = call(&fresh, "POST", "/v1/restore", Some(&broken.to_string())).await;
    assert_eq!((status.as_u16(), &reply["error"]["code"]), (400, &json!("invalid_backup")), "{reply}");
    let (status, reply) = call(&fresh, "POST", "/v1/restore", Some(r#"{"index": 1}"#)).await;
    assert_eq!((status.as_u16(), &reply["error"]["code"]), (422, &json!("invalid_body")), "{reply}");

    let (status, _) = call(&fresh, "POST", "/v1/restore", Some(&body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, restored) = call(&fresh, "GET", "/v1/shards", None).await;
    let (_, original) = call(&node, "GET", "/v1/shards", None).await;
    assert_eq!(restored, original);
}

/// `/v1/openapi.json` is generated from the handlers; every operation it lists must be routed
/// (neither the router's 404 nor a 405), so the document cannot describe routes that do not exist.
#[tokio::test]
async fn the_openapi_document_lists_only_routed_operations() {
    let node = seeded().await;
    let (status, doc) = call(&node, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "1").replace("{db}", "db").replace("{rp}", "rp").replace("{node}", "1");
        for method in item.as_object().expect("path item").keys() {
            operations += 1;
            let method = method.to_uppercase();
            let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH").then_some("{}");
            let (status, reply) = call(&node, &method, &concrete, body).await;
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND && reply["error"]["message"] == "no such route");
            assert!(!unrouted, "{method} {path} is documented but not routed: {status} {reply}");
        }
    }
    assert_eq!(operations, 45, "documented operations");
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "DataNode",
        "ShardInfo",
        "ErrorReply",
        "NodeStatus",
        "ConsoleView",
        "RetentionPolicyRequest",
        "EntropyReport",
        "Task",
        "TaskKind",
        "PlacementPolicy",
        "NodeLabelsRequest",
        "FailureDomainsRequest",
        "MisReplicatedShard",
        "BalanceRequest",
        "BalancePolicy",
        "BalanceView",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let target = reference.strip_prefix('#').and_then(|pointer| doc.pointer(pointer));
        assert!(target.is_some_and(Value::is_object), "{reference} points at nothing");
    }
}

/// Every `$ref` in a JSON document.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn anti_entropy_routes_validate_and_map_refusals() {
    let node = seeded().await;
    // (method, path, body, status, code)
    let cases = [
        (
            "POST",
            "/v1/data-nodes/1/heartbeat",
            r#"{"addr": "d1:8088", "version": "1", "inventory_version": 0}"#,
            200,
            None,
        ),
        (
            "POST",
            "/v1/data-nodes/99/heartbeat",
            r#"{"addr": "d1:8088", "version": "1", "inventory_version": 0}"#,
            404,
            Some("data_node_not_found"),
        ),
        (
            "POST",
            "/v1/data-nodes/1/heartbeat",
            r#"{"addr": "no-port", "version": "1", "inventory_version": 0}"#,
            400,
            Some("invalid_address"),
        ),
        ("POST", "/v1/data-nodes/1/heartbeat", r#"{"addr": "d1:8088", "version": "1"}"#, 422, Some("invalid_body")),
        ("POST", "/v1/copy-tasks/claim", r#"{"node_id": 1, "max": 5000}"#, 400, Some("invalid_field")),
        (
            "POST",
            "/v1/copy-tasks/7/progress",
            r#"{"attempt": 1, "bytes_done": 9, "bytes_total": 3}"#,
            400,
            Some("invalid_field"),
        ),
        ("POST", "/v1/copy-tasks/7/complete", r#"{"attempt": 2}"#, 409, Some("stale_attempt")),
        ("POST", "/v1/copy-tasks/x/complete", r#"{"attempt": 2}"#, 400, Some("invalid_path")),
        ("POST", "/v1/entropy/repair", r#"{"shard_id": 1}"#, 409, Some("anti_entropy_disabled")),
        ("GET", "/v1/copy-tasks?state=sleeping", "", 400, Some("invalid_query")),
    ];
    for (method, path, body, status, code) in cases {
        let (got, reply) = call(&node, method, path, (!body.is_empty()).then_some(body)).await;
        assert_eq!(got.as_u16(), status, "{method} {path} {body}: {reply}");
        if let Some(code) = code {
            assert_eq!(reply["error"]["code"], code, "{method} {path}: {reply}");
        }
    }
}

/// The console's view: the cluster as this node sees it, a version that a waiting request passes
/// back, and an answer as soon as what is shown changes.
#[tokio::test]
async fn the_console_view_waits_for_a_change_of_what_it_shows() {
    let node = seeded().await;
    let (status, view) = call(&node, "GET", "/v1/console", None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["meta_nodes"][0]["status"]["raft_state"], "leader", "{view}");
    assert_eq!(view["data_nodes"][0]["shards_owned"], 1, "{view}");
    assert_eq!(view["shard_map"]["total_groups"], 1, "{view}");
    assert_eq!(view["shard_map"]["groups"][0]["shards"][0]["owners"], json!([1]), "{view}");
    assert!(view["entropy"].is_null() && view["entropy_error"].is_string(), "the local node has no report: {view}");
    let version = view["version"].as_str().expect("a version").to_owned();

    // Nothing changes: the request waits out `wait` and returns the same version.
    let started = std::time::Instant::now();
    let (status, same) = call(&node, "GET", &format!("/v1/console?after={version}&wait=600ms"), None).await;
    assert_eq!((status, &same["version"]), (StatusCode::OK, &json!(version)), "{same}");
    assert!(started.elapsed() >= Duration::from_millis(600), "it waited: {:?}", started.elapsed());
    // Another version (what a page shows from before) is answered at once.
    let started = std::time::Instant::now();
    let (status, _) = call(&node, "GET", "/v1/console?after=0000000000000000&wait=20s", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(10), "no wait for a view that differs: {:?}", started.elapsed());

    // A change while it waits ends the wait with the new view.
    let started = std::time::Instant::now();
    let waiting = {
        let node = Arc::clone(&node);
        let path = format!("/v1/console?after={version}&wait=20s");
        tokio::spawn(async move { call(&node, "GET", &path, None).await })
    };
    let (status, _) =
        call(&node, "POST", "/v1/shard-groups", Some(r#"{"database": "db", "timestamp": 200000000000000}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, changed) = waiting.await.expect("the waiting request ends");
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_ne!(changed["version"], json!(version));
    assert!(started.elapsed() < Duration::from_secs(10), "the change ended the wait: {:?}", started.elapsed());
    assert_eq!(changed["shard_map"]["total_groups"], 2, "{changed}");

    for (path, field) in
        [("/v1/console?wait=soon", "wait"), ("/v1/console?groups=501", "groups"), ("/v1/console?group=1", "group")]
    {
        let (status, reply) = call(&node, "GET", path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{path}: {reply}");
    }
}

/// The console's files are in the binary and keep the page to itself.
#[tokio::test]
async fn the_console_page_is_served_with_its_script_and_style() {
    let node = seeded().await;
    for (path, content_type, marker) in [
        ("/ui", "text/html", "/ui/console.js"),
        ("/ui/", "text/html", "/ui/console.css"),
        ("/ui/console.js", "text/javascript", "/v1/console"),
        ("/ui/console.css", "text/css", "--bad"),
    ] {
        let request = Request::builder().uri(path).body(Body::empty()).expect("request");
        let response = router(Arc::clone(&node), Auth::default()).oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let header_of =
            |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(header_of(header::CONTENT_TYPE).starts_with(content_type), "{path}: {headers:?}");
        assert!(header_of(header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"), "{path}: {headers:?}");
        let body = response.into_body().collect().await.expect("body").to_bytes();
        assert!(String::from_utf8_lossy(&body).contains(marker), "{path} lacks {marker}");
    }
}

/// The served document, parsed.
async fn document(node: &Arc<LocalNode>) -> Value {
    let (status, doc) = call(node, "GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    doc
}

/// The schema at `pointer` in the document, `$ref`s followed.
fn schema_at<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
    let mut schema = doc.pointer(pointer).unwrap_or_else(|| panic!("no schema at {pointer}"));
    while let Some(reference) = schema["$ref"].as_str() {
        schema = doc.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("{reference}"));
    }
    schema
}

/// Whether the server took a request's field: anything but `400`/`422` (a refusal by state, `404`
/// or `409`, is no refusal of the input).
fn took_input(status: StatusCode) -> bool {
    !matches!(status.as_u16(), 400 | 422)
}

/// The contract check (`scripts/check-api-contract.sh`) fuzzes a real node against the document;
/// this pins the edges here: for each bound the document states, the server takes the edge value
/// and refuses the next one, naming the field.
#[tokio::test]
async fn the_server_takes_the_edges_the_document_states_and_refuses_beyond_them() {
    let node = seeded().await;
    let doc = document(&node).await;
    // (method, path, body with the value as `V`, schema of the field, bound, step beyond it, field)
    let cases = [
        (
            "POST",
            "/v1/copy-tasks/claim",
            r#"{"node_id": 1, "max": V}"#,
            "ClaimRequest/properties/max",
            "maximum",
            1,
            "max",
        ),
        (
            "POST",
            "/v1/copy-tasks/claim",
            r#"{"node_id": 1, "max": 1, "wait_ms": V}"#,
            "ClaimRequest/properties/wait_ms",
            "maximum",
            1,
            "wait_ms",
        ),
        (
            "PUT",
            "/v1/placement/balance",
            r#"{"tolerance_percent": V}"#,
            "BalanceRequest/properties/tolerance_percent",
            "maximum",
            1,
            "tolerance_percent",
        ),
        (
            "PUT",
            "/v1/placement/balance",
            r#"{"max_moves": V}"#,
            "BalanceRequest/properties/max_moves",
            "maximum",
            1,
            "max_moves",
        ),
        (
            "PUT",
            "/v1/placement/balance",
            r#"{"max_moves": V}"#,
            "BalanceRequest/properties/max_moves",
            "minimum",
            -1,
            "max_moves",
        ),
        (
            "PATCH",
            "/v1/databases/db/retention-policies/rp",
            r#"{"replication": V}"#,
            "AlterRetentionPolicyRequest/properties/replication",
            "minimum",
            -1,
            "replication",
        ),
        ("POST", "/v1/shard-groups", r#"{"database": "db", "timestamp": V}"#, "PointTime", "maximum", 1, "timestamp"),
        ("POST", "/v1/shard-groups", r#"{"database": "db", "timestamp": V}"#, "PointTime", "minimum", -1, "timestamp"),
        (
            "POST",
            "/v1/copy-tasks/7/progress",
            r#"{"attempt": V, "bytes_done": 0, "bytes_total": 0}"#,
            "ProgressRequest/properties/attempt",
            "maximum",
            1,
            "attempt",
        ),
        ("POST", "/v1/shards/written", r#"{"shard_ids": [V]}"#, "u64", "maximum", 1, "shard_ids"),
    ];
    for (method, path, body, schema, bound, step, field) in cases {
        let edge = &schema_at(&doc, &format!("/components/schemas/{schema}"))[bound];
        let edge = edge.as_i64().map(i128::from).or(edge.as_u64().map(i128::from)).expect("a bound");
        let (status, reply) = call(&node, method, path, Some(&body.replace('V', &edge.to_string()))).await;
        assert!(took_input(status), "{method} {path} {field} = {edge} (the {bound}): {status} {reply}");
        let beyond = (edge + step).to_string();
        let (status, reply) = call(&node, method, path, Some(&body.replace('V', &beyond))).await;
        assert!(!took_input(status), "{method} {path} {field} = {beyond}: {status} {reply}");
        assert!(reply["error"]["message"].as_str().is_some_and(|m| m.contains(field)), "{field}: {reply}");
    }
    // Query and path integers: `to` above the first nanosecond, IDs up to 2^64 - 1.
    let to = schema_at(&doc, "/paths/~1v1~1shard-groups/get/parameters/3/schema")["minimum"].as_i64().expect("to");
    let (status, reply) = call(&node, "GET", &format!("/v1/shard-groups?database=db&to={to}"), None).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, reply) = call(&node, "GET", &format!("/v1/shard-groups?database=db&to={}", to - 1), None).await;
    assert_eq!((status, &reply["error"]["code"]), (StatusCode::BAD_REQUEST, &json!("invalid_time_range")));
    assert_eq!(schema_at(&doc, "/components/schemas/u64")["maximum"], json!(u64::MAX));
    let (status, _) = call(&node, "GET", &format!("/v1/shards/{}", u64::MAX), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, reply) = call(&node, "GET", &format!("/v1/shards/{}", u128::from(u64::MAX) + 1), None).await;
    assert_eq!((status, &reply["error"]["code"]), (StatusCode::BAD_REQUEST, &json!("invalid_path")));
}

/// (method, path, body with the value as `V`, schema, values the pattern admits, values it does
/// not, the field the refusal names)
type PatternCase<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str], &'a str);

/// Strings: what a field's pattern admits, the server takes; what it does not, the server refuses
/// naming the field (the patterns themselves are checked against the validators in
/// `meta_wire::formats`).
#[tokio::test]
async fn the_server_and_the_documented_patterns_agree() {
    let node = seeded().await;
    let doc = document(&node).await;
    let cases: [PatternCase<'_>; 6] = [
        (
            "POST",
            "/v1/data-nodes",
            r#"{"tcp_addr": "V"}"#,
            "HostPort",
            &["data-7:8088", "[::1]:1", "10.0.0.1:65535"],
            &["", "data-7", "data-7:0", "data-7:65536", "::1:80", "a b:1"],
            "tcp_addr",
        ),
        ("POST", "/v1/meta-nodes", r#"{"addr": "V"}"#, "HostPort", &["m:1"], &["", "m:"], "addr"),
        (
            "GET",
            "/v1/metadata?wait=V",
            "",
            "Duration",
            &["0", "1ms", "1h30m"],
            &["", "soon", "1", "1.5s", "99999999999999999999h"],
            "wait",
        ),
        ("POST", "/v1/truncate-shards", r#"{"delay": "V"}"#, "Duration", &["0", "5m"], &["", "5"], "delay"),
        (
            "POST",
            "/v1/databases/db/retention-policies",
            r#"{"name": "V", "duration": "0", "replication": 1}"#,
            "Name",
            &["r1", "my policy", "ü", "..."],
            &["", " r", "r ", "a/b", ".", ".."],
            "retention policy",
        ),
        (
            "POST",
            "/v1/databases/db/retention-policies",
            r#"{"name": "rdV", "duration": "V", "replication": 1}"#,
            "RetentionDuration",
            &["0", "inf", "1h", "90m", "4w"],
            &["", "30m", "1s", "7x"],
            "duration",
        ),
    ];
    for (method, path, body, schema, admitted, refused, field) in cases {
        let pattern = schema_at(&doc, &format!("/components/schemas/{schema}"))["pattern"].as_str().expect("a pattern");
        let pattern = regex::Regex::new(pattern).expect("the pattern compiles");
        for (value, admits) in admitted.iter().map(|v| (v, true)).chain(refused.iter().map(|v| (v, false))) {
            assert_eq!(pattern.is_match(value), admits, "{schema} on {value:?}");
            let (path, body) = if body.is_empty() {
                (path.replace('V', value), None)
            } else {
                (path.to_owned(), Some(body.replace('V', value)))
            };
            let (status, reply) = call(&node, method, &path, body.as_deref()).await;
            assert_eq!(took_input(status), admits, "{method} {path} {field} = {value:?}: {status} {reply}");
            if !admits {
                let message = reply["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(field), "{field} = {value:?}: {reply}");
            }
        }
    }
}

/// JSON has one number type: a whole number written `5.0` or `5e0` is the integer 5 to a JSON
/// Schema `integer`, and to the server; a fraction is not, and an array is no object.
#[tokio::test]
async fn whole_numbers_are_integers_and_bodies_are_objects() {
    let node = seeded().await;
    let cases = [
        ("POST", "/v1/shards/written", r#"{"shard_ids": [1.0]}"#, 204, None),
        ("POST", "/v1/shards/1/owners", r#"{"node_id": 1e0}"#, 409, Some("shard_owner_exists")),
        ("POST", "/v1/shard-groups", r#"{"database": "db", "timestamp": 5.00}"#, 200, None),
        ("POST", "/v1/shards/1/owners", r#"{"node_id": 1.5}"#, 422, Some("invalid_body")),
        ("POST", "/v1/shards/written", r#"{"shard_ids": [1e40]}"#, 422, Some("invalid_body")),
        ("POST", "/v1/shards/1/owners", r#"[1]"#, 422, Some("invalid_body")),
        ("PUT", "/v1/placement/balance", r#"{"enabled": null}"#, 400, Some("invalid_field")),
        ("PUT", "/v1/placement/balance", r#"{"enabled": null, "max_moves": 2.0}"#, 200, None),
    ];
    for (method, path, body, status, code) in cases {
        let (got, reply) = call(&node, method, path, Some(body)).await;
        assert_eq!(got.as_u16(), status, "{method} {path} {body}: {reply}");
        if let Some(code) = code {
            assert_eq!(reply["error"]["code"], code, "{method} {path} {body}: {reply}");
        }
    }
    let doc = document(&node).await;
    let one_of = schema_at(&doc, "/components/schemas/BalanceRequest")["anyOf"].as_array().map(Vec::len);
    assert_eq!(one_of, Some(3), "the document says a balance change gives a field");
}

/// Refusals by state are `409`: the same request succeeds in another state.
#[tokio::test]
async fn refusals_by_state_are_conflicts() {
    let node = seeded().await;
    let cases = [
        (
            "POST",
            "/v1/databases/db/retention-policies",
            r#"{"name": "r3", "duration": "1d", "replication": 2}"#,
            "replication_factor_exceeds_nodes",
        ),
        (
            "POST",
            "/v1/restore",
            concat!(
                r#"{"index": 1, "metadata": {"next_node_id": 1, "next_shard_group_id": 1, "next_shard_id": 1, "#,
                r#""next_task_id": 1, "data_nodes": {}, "meta_nodes": {}, "databases": {}}}"#
            ),
            "not_empty",
        ),
    ];
    for (method, path, body, code) in cases {
        let (status, reply) = call(&node, method, path, Some(body)).await;
        assert_eq!((status, &reply["error"]["code"]), (StatusCode::CONFLICT, &json!(code)), "{path}: {reply}");
    }
    let bare = Arc::new(LocalNode::default());
    let (status, _) = call(&bare, "POST", "/v1/databases", Some(r#"{"name": "nodefault"}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
    let body = r#"{"database": "nodefault", "timestamp": 0}"#;
    let (status, reply) = call(&bare, "POST", "/v1/shard-groups", Some(body)).await;
    assert_eq!((status, &reply["error"]["code"]), (StatusCode::NOT_FOUND, &json!("retention_policy_not_found")));
}

/// Operations that create an object link to those that take its ID: every link names a
/// documented operation and only parameters that operation has.
#[tokio::test]
async fn links_name_documented_operations_and_their_parameters() {
    let node = seeded().await;
    let doc = document(&node).await;
    let operations: Vec<&Value> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("path item").values())
        .collect();
    let by_id = |id: &str| operations.iter().copied().find(|op| op["operationId"] == id);
    let mut links = 0;
    for operation in &operations {
        for response in operation["responses"].as_object().expect("responses").values() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                links += 1;
                let target = link["operationId"].as_str().unwrap_or_else(|| panic!("{name}: no operationId: {link}"));
                let target = by_id(target).unwrap_or_else(|| panic!("{name} names no operation"));
                for parameter in link["parameters"].as_object().into_iter().flatten().map(|(p, _)| p) {
                    let known = target["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == **parameter);
                    assert!(known, "{name}: {parameter} is no parameter of {}", target["operationId"]);
                }
                if link.get("requestBody").is_some() {
                    assert!(target.get("requestBody").is_some(), "{name}: the target takes no body");
                }
            }
        }
    }
    assert!(links >= 20, "{links} links");
    for (source, target) in [
        ("add_data_node", "get_data_node"),
        ("add_data_node", "remove_data_node"),
        ("create_shard_group", "get_shard"),
        ("copy_shard", "get_task"),
        ("copy_shard", "kill_task"),
    ] {
        let source = by_id(source).expect("source");
        let linked = source["responses"].as_object().expect("responses").values().any(|response| {
            response["links"].as_object().into_iter().flatten().any(|(_, link)| link["operationId"] == target)
        });
        assert!(linked, "{} links to {target}", source["operationId"]);
    }
}
