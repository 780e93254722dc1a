//! Whole data nodes (`datad::run`) against a small in-test fake of the meta service's data-node
//! routes: registration, heartbeats, writes replicated to every owner, a copy task pulled,
//! verified and completed, and de-registration when `update-data` moves the node's ID away.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use meta_model::{
    Command, MetaState, NodeId, Response, RetentionPolicySpec, ShardId, Task, TaskId, TaskKind, TaskReason, TaskSpec,
    TaskState,
};
use meta_wire::DataNodeStatus;
use meta_wire::{
    ClaimReply, ClaimRequest, ClaimedTask, CompleteRequest, CreateShardGroupRequest, DataNodeList, ErrorDetail,
    ErrorReply, HeartbeatReply, HeartbeatRequest, MarkWrittenRequest, Metadata, MetadataReply, ProgressReply,
    ProgressRequest, ShardGroupReply,
};

/// What the fake meta service holds and saw.
#[derive(Default)]
struct Fake {
    state: Mutex<(u64, MetaState)>,
    tasks: Mutex<Vec<ClaimedTask>>,
    heartbeats: Mutex<Vec<(NodeId, HeartbeatRequest)>>,
    progress: Mutex<Vec<(TaskId, ProgressRequest)>>,
    completed: Mutex<Vec<(TaskId, u32)>>,
    marked: Mutex<Vec<Vec<ShardId>>>,
    /// The metadata the frozen router serves while set (a node cut off from metadata changes).
    frozen: Mutex<Option<(u64, MetaState)>>,
    /// While set, heartbeats and the frozen router's metadata answer 503 (the meta nodes are
    /// out of reach).
    down: std::sync::atomic::AtomicBool,
}

type Reply<T> = Result<Json<T>, (StatusCode, Json<ErrorReply>)>;

fn refuse<T>(status: StatusCode, code: &str) -> Reply<T> {
    Err((status, Json(ErrorReply { error: ErrorDetail { code: code.into(), message: format!("fake: {code}") } })))
}

impl Fake {
    fn apply(&self, command: Command) -> Response {
        let mut guard = self.state.lock().expect("fake state");
        guard.0 += 1;
        guard.1.apply(&command).expect("fake command applies")
    }

    /// Database `telegraf` with default policy `autogen` (RF 2; needs two active data nodes).
    fn create_database(&self) {
        let spec = RetentionPolicySpec {
            name: "autogen".into(),
            duration: 0,
            shard_group_duration: None,
            replication_factor: 2,
        };
        self.apply(Command::CreateDatabase { name: "telegraf".into(), default_retention_policy: Some(spec) });
    }

    fn add_data_node(&self, addr: &str) -> NodeId {
        let command =
            Command::AddDataNode { tcp_addr: addr.into(), http_addr: addr.into(), labels: Default::default() };
        match self.apply(command) {
            Response::DataNode(node) => node.id,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[derive(Deserialize)]
struct IndexQuery {
    index: Option<u64>,
}

async fn metadata(State(fake): State<Arc<Fake>>, Query(query): Query<IndexQuery>) -> Json<MetadataReply<'static>> {
    let current = fake.state.lock().expect("fake state").0;
    if query.index.is_some_and(|i| i >= current) {
        tokio::time::sleep(Duration::from_millis(100)).await; // a short long poll
    }
    let (index, state) = fake.state.lock().expect("fake state").clone();
    Json(MetadataReply { index, metadata: Metadata::of(&state).into_owned() })
}

/// `/v1/metadata` of the frozen router: the frozen snapshot while there is one. Checked again when
/// a live long poll ends, so no answer given after the freeze shows a later change.
async fn frozen_metadata(State(fake): State<Arc<Fake>>, query: Query<IndexQuery>) -> Reply<MetadataReply<'static>> {
    if fake.down.load(std::sync::atomic::Ordering::SeqCst) {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "no_leader");
    }
    let frozen_reply = |fake: &Fake| {
        let frozen = fake.frozen.lock().expect("fake").clone();
        frozen.map(|(index, state)| Json(MetadataReply { index, metadata: Metadata::of(&state).into_owned() }))
    };
    if let Some(reply) = frozen_reply(&fake) {
        tokio::time::sleep(Duration::from_millis(100)).await; // a long poll that sees nothing new
        return Ok(reply);
    }
    let live = metadata(State(Arc::clone(&fake)), query).await;
    Ok(frozen_reply(&fake).unwrap_or(live))
}

async fn data_nodes(State(fake): State<Arc<Fake>>) -> Json<DataNodeList> {
    let data_nodes = fake.state.lock().expect("fake state").1.data_nodes().values().cloned().collect();
    Json(DataNodeList { data_nodes })
}

async fn heartbeat(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<NodeId>,
    Json(request): Json<HeartbeatRequest>,
) -> Reply<HeartbeatReply> {
    if fake.down.load(std::sync::atomic::Ordering::SeqCst) {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "no_leader");
    }
    let Some(node) = fake.state.lock().expect("fake state").1.data_node(id).cloned() else {
        return refuse(StatusCode::NOT_FOUND, "data_node_not_found");
    };
    if request.addr != node.http_addr && request.addr != node.tcp_addr {
        return refuse(StatusCode::CONFLICT, "address_mismatch");
    }
    fake.heartbeats.lock().expect("fake").push((id, request));
    Ok(Json(HeartbeatReply { node_id: id, state: node.state, heartbeat_interval_ms: 100, send_inventory: false }))
}

async fn create_shard_group(
    State(fake): State<Arc<Fake>>,
    Json(request): Json<CreateShardGroupRequest>,
) -> Reply<ShardGroupReply> {
    let retention_policy = request.retention_policy.unwrap_or_else(|| "autogen".into());
    let command =
        Command::CreateShardGroup { database: request.database, retention_policy, timestamp: request.timestamp };
    match fake.apply(command) {
        Response::ShardGroup { database, retention_policy, group, created } => {
            Ok(Json(ShardGroupReply { database, retention_policy, created, shard_group: group }))
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn mark_written(State(fake): State<Arc<Fake>>, Json(request): Json<MarkWrittenRequest>) -> StatusCode {
    fake.apply(Command::MarkShardsWritten { shard_ids: request.shard_ids.clone() });
    fake.marked.lock().expect("fake").push(request.shard_ids);
    StatusCode::NO_CONTENT
}

async fn claim(State(fake): State<Arc<Fake>>, Json(request): Json<ClaimRequest>) -> Json<ClaimReply> {
    let tasks = fake.tasks.lock().expect("fake");
    Json(ClaimReply { tasks: tasks.iter().filter(|t| t.task.spec.target == request.node_id).cloned().collect() })
}

async fn progress(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<TaskId>,
    Json(request): Json<ProgressRequest>,
) -> Json<ProgressReply> {
    fake.progress.lock().expect("fake").push((id, request));
    Json(ProgressReply { lease_deadline: 0 })
}

async fn complete(
    State(fake): State<Arc<Fake>>,
    Path(id): Path<TaskId>,
    Json(request): Json<CompleteRequest>,
) -> Reply<Task> {
    let mut tasks = fake.tasks.lock().expect("fake");
    let Some(position) = tasks.iter().position(|t| t.task.id == id && t.task.attempt == request.attempt) else {
        return refuse(StatusCode::CONFLICT, "task_not_claimed");
    };
    let mut task = tasks.remove(position).task;
    task.state = TaskState::Done;
    fake.completed.lock().expect("fake").push((id, request.attempt));
    Ok(Json(task))
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn fake_meta() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    // The identity a cluster's first leader gives it; data nodes stamp it into shard files.
    fake.apply(Command::InitCluster { id: "0123456789abcdef0123456789abcdef".into() });
    let addr = serve(meta_routes(get(metadata)).with_state(Arc::clone(&fake))).await;
    (fake, addr)
}

/// A second address of `fake` whose metadata freezes while [`Fake::frozen`] is set.
async fn frozen_view(fake: &Arc<Fake>) -> String {
    serve(meta_routes(get(frozen_metadata)).with_state(Arc::clone(fake))).await
}

fn meta_routes(metadata: axum::routing::MethodRouter<Arc<Fake>>) -> Router<Arc<Fake>> {
    Router::new()
        .route("/v1/metadata", metadata)
        .route("/v1/data-nodes", get(data_nodes))
        .route("/v1/data-nodes/{id}/heartbeat", post(heartbeat))
        .route("/v1/shard-groups", post(create_shard_group))
        .route("/v1/shards/written", post(mark_written))
        .route("/v1/copy-tasks/claim", post(claim))
        .route("/v1/copy-tasks/{id}/progress", post(progress))
        .route("/v1/copy-tasks/{id}/complete", post(complete))
}

/// A free local address: bound once by the OS, then released for the data node.
async fn free_addr() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// Starts a data node on `addr`; it lives until the test's runtime ends.
fn start_datad(meta: &str, addr: &str, dir: &tempfile::TempDir) {
    let flags =
        ["datad", "--meta", meta, "--listen", addr, "--heartbeat-interval", "100ms", "--claim-interval", "100ms"];
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let cli = <datad::Cli as clap::Parser>::try_parse_from(flags.iter().chain(&[
        "--data-dir",
        data_dir,
        "--chunk-size",
        "1000",
    ]));
    let config = cli.expect("flags").into_config().expect("config");
    tokio::spawn(datad::run(config, std::future::pending()));
}

async fn status(http: &reqwest::Client, addr: &str) -> Option<DataNodeStatus> {
    http.get(format!("http://{addr}/status")).send().await.ok()?.json().await.ok()
}

/// Polls `check` every 20 ms until it holds; panics after 15 s naming `what`.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The status and `code: message` of an error reply.
async fn error_code(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let error = response.json::<ErrorReply>().await.expect("JSON error").error;
    (status, format!("{}: {}", error.code, error.message))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_reach_every_owner_and_a_copy_task_is_pulled_verified_and_completed() {
    let (fake, meta) = fake_meta().await;
    let http = reqwest::Client::new();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tempdir")).collect();
    let (a, b) = (free_addr().await, free_addr().await);
    start_datad(&meta, &a, &dirs[0]);
    start_datad(&meta, &b, &dirs[1]);
    eventually("A serves before it is registered", || async {
        status(&http, &a).await.is_some_and(|s| !s.registered && s.node_id.is_none())
    })
    .await;
    let (id_a, id_b) = (fake.add_data_node(&a), fake.add_data_node(&b));
    fake.create_database();
    for (addr, id) in [(&a, id_a), (&b, id_b)] {
        eventually("the node finds its registration", || async {
            status(&http, addr).await.is_some_and(|s| s.registered && s.node_id == Some(id))
        })
        .await;
    }

    // --- phase: writes go to both owners (RF 2), with the same bytes.
    let body = "# cpu\ncpu,host=a usage=1 1700000000000000000\ncpu,host=b usage=2 1700000000000000001\n\nmem free=3i\n";
    let written = http.post(format!("http://{a}/write?db=telegraf")).body(body).send().await.expect("write");
    assert_eq!(written.status(), StatusCode::NO_CONTENT, "{:?}", written.text().await);
    let shards_a = status(&http, &a).await.expect("status").shards;
    let shards_b = status(&http, &b).await.expect("status").shards;
    assert!(!shards_a.is_empty());
    assert_eq!(shards_a, shards_b, "every owner stored identical bytes");
    // The shards were marked written (committed) before the write was acknowledged, once.
    let marked: Vec<ShardId> = fake.marked.lock().expect("fake").concat();
    let mut stored: Vec<ShardId> = shards_a.iter().map(|s| s.shard_id).collect();
    stored.sort_unstable();
    assert_eq!(marked, stored);
    let again = "cpu,host=a usage=5 1700000000000000002\n";
    let rewritten = http.post(format!("http://{a}/write?db=telegraf")).body(again).send().await.expect("write");
    assert_eq!(rewritten.status(), StatusCode::NO_CONTENT);
    assert_eq!(fake.marked.lock().expect("fake").len(), 1, "a shard is marked once in its lifetime");
    let shards_a = status(&http, &a).await.expect("status").shards;

    // --- phase: write errors name the field or the line.
    let url = |query: &str| format!("http://{a}/write{query}");
    let missing = http.post(url("")).body("cpu v=1 1").send().await.expect("write");
    assert_eq!(error_code(missing).await.0, StatusCode::BAD_REQUEST);
    let unknown = http.post(url("?db=nope")).body("cpu v=1 1").send().await.expect("write");
    let (status_code, message) = error_code(unknown).await;
    assert_eq!(status_code, StatusCode::NOT_FOUND);
    assert!(message.starts_with("database_not_found"), "{message}");
    let bad = http.post(url("?db=telegraf")).body("cpu v=1 1\ncpu 2\n").send().await.expect("write");
    let (status_code, message) = error_code(bad).await;
    assert_eq!(status_code, StatusCode::BAD_REQUEST);
    assert!(message.contains("line 2"), "{message}");

    // --- phase: a third node pulls a copy of the shard from A and completes the task.
    let c = free_addr().await;
    start_datad(&meta, &c, &dirs[2]);
    let id_c = fake.add_data_node(&c);
    eventually("C is registered", || async { status(&http, &c).await.is_some_and(|s| s.registered) }).await;
    let shard = shards_a[0];
    let spec = TaskSpec {
        shard_id: shard.shard_id,
        source: id_a,
        target: id_c,
        replaces: None,
        priority: 1,
        reason: TaskReason::Operator,
    };
    // The task is in the metadata (the copy starts only once both nodes' metadata hold it).
    let id = match fake.apply(Command::CreateCopyTasks { now: 0, tasks: vec![spec.clone()] }) {
        Response::CopyTasksCreated { created, .. } if created.len() == 1 => created[0].id,
        other => panic!("unexpected {other:?}"),
    };
    let task = Task {
        state: TaskState::Claimed,
        attempt: 2,
        lease_deadline: Some(0),
        ..Task::pending(id, TaskKind::Copy, spec, 0)
    };
    fake.tasks.lock().expect("fake").push(ClaimedTask { task: task.clone(), source_addr: a.clone() });
    eventually("the task is completed", || async { fake.completed.lock().expect("fake").contains(&(id, 2)) }).await;
    let shards_c = status(&http, &c).await.expect("status").shards;
    assert_eq!(shards_c, vec![shard], "the copy matches the source byte for byte");
    let last = fake.progress.lock().expect("fake").last().cloned().expect("progress reported");
    assert_eq!(last, (id, ProgressRequest { attempt: 2, bytes_done: shard.size, bytes_total: shard.size }));

    // --- phase: a task for a shard C already holds completes without copying again.
    let progress_before = fake.progress.lock().expect("fake").len();
    let again = Task { attempt: 3, ..task };
    fake.tasks.lock().expect("fake").push(ClaimedTask { task: again, source_addr: a.clone() });
    eventually("the second task is completed", || async { fake.completed.lock().expect("fake").contains(&(id, 3)) })
        .await;
    assert_eq!(fake.progress.lock().expect("fake").len(), progress_before, "nothing was downloaded");
    assert_eq!(status(&http, &c).await.expect("status").shards, vec![shard]);
    eventually("C reports the shard in its inventory", || async {
        let beats = fake.heartbeats.lock().expect("fake");
        beats.iter().any(|(id, hb)| {
            *id == id_c
                && hb
                    .inventory
                    .as_ref()
                    .is_some_and(|inv| inv.iter().any(|r| r.shard_id == shard.shard_id && r.checksum == shard.checksum))
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_whose_id_moves_to_another_address_stops_heartbeating() {
    let (fake, meta) = fake_meta().await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = free_addr().await;
    start_datad(&meta, &a, &dir);
    let id = fake.add_data_node(&a);
    eventually("A is registered", || async { status(&http, &a).await.is_some_and(|s| s.registered) }).await;

    // `update-data`: the ID now belongs to another machine.
    let moved = Command::UpdateDataNode {
        node_id: id,
        tcp_addr: "10.9.9.9:8088".into(),
        http_addr: "10.9.9.9:8088".into(),
        labels: None,
    };
    fake.apply(moved);
    eventually("A notices and unregisters", || async {
        status(&http, &a).await.is_some_and(|s| !s.registered && s.node_id.is_none())
    })
    .await;
    let beats = fake.heartbeats.lock().expect("fake").len();
    let still = status(&http, &a).await.expect("A keeps serving");
    assert!(!still.registered);
    assert_eq!(fake.heartbeats.lock().expect("fake").len(), beats, "no accepted heartbeat after the move");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_refuses_appends_routed_by_stale_metadata_and_no_stale_write_is_acknowledged() {
    let (fake, live) = fake_meta().await;
    let frozen = frozen_view(&fake).await;
    let http = reqwest::Client::new();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tempdir")).collect();
    let (a, b, c) = (free_addr().await, free_addr().await, free_addr().await);
    // A reads the metadata through the view that can freeze; B and C through the live one.
    start_datad(&frozen, &a, &dirs[0]);
    start_datad(&live, &b, &dirs[1]);
    start_datad(&live, &c, &dirs[2]);
    let ids = [fake.add_data_node(&a), fake.add_data_node(&b), fake.add_data_node(&c)];
    fake.create_database();
    for addr in [&a, &b, &c] {
        eventually("registered", || async { status(&http, addr).await.is_some_and(|s| s.registered) }).await;
    }
    let write = |body: &'static str| {
        let request = http.post(format!("http://{a}/write?db=telegraf")).body(body);
        async move { request.send().await.expect("write") }
    };
    assert_eq!(write("cpu v=1 1700000000000000000").await.status(), StatusCode::NO_CONTENT);
    let (shard, owners) = {
        let state = &fake.state.lock().expect("fake").1;
        let group = state.databases()["telegraf"].retention_policies["autogen"].shard_groups.values().next().cloned();
        let shard = group.expect("a group").shards[0].clone();
        (shard.id, shard.owners)
    };
    assert_eq!(owners, vec![ids[0], ids[1]], "A and B own the shard");
    let size_on = |addr: String| {
        let http = http.clone();
        async move { status(&http, &addr).await.and_then(|s| s.shards.iter().find(|x| x.shard_id == shard).map(|x| x.size)) }
    };
    let b_before = size_on(b.clone()).await;

    // A is cut off from metadata changes; the shard moves from B to C.
    let snapshot = fake.state.lock().expect("fake").clone();
    *fake.frozen.lock().expect("fake") = Some(snapshot);
    fake.apply(Command::AddShardOwner { shard_id: shard, node_id: ids[2] });
    fake.apply(Command::RemoveShardOwner { shard_id: shard, node_id: ids[1] });
    let moved_at = fake.state.lock().expect("fake").0;
    eventually("B sees the move", || async {
        status(&http, &b).await.is_some_and(|s| s.metadata_index.is_some_and(|i| i >= moved_at))
    })
    .await;

    let a_index = status(&http, &a).await.and_then(|s| s.metadata_index);
    assert!(a_index.is_some_and(|i| i < moved_at), "A's view is stale: {a_index:?} < {moved_at}");

    // B refuses what A routes by its stale view; A cannot learn better: nothing is acknowledged.
    let (code, message) = error_code(write("cpu v=2 1700000000000000001").await).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(message.starts_with("stale_routing"), "{message}");
    assert_eq!(size_on(b.clone()).await, b_before, "B took nothing for a shard it no longer owns");
    let metrics = http.get(format!("http://{b}/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("datad_internal_appends_total{outcome=\"not_owner\"}"), "{metrics}");

    // Once A reads the metadata again, the same write goes to the current owners.
    *fake.frozen.lock().expect("fake") = None;
    let written = write("cpu v=3 1700000000000000002").await;
    assert_eq!(written.status(), StatusCode::NO_CONTENT);
    assert!(size_on(c.clone()).await.is_some(), "C, the new owner, stored it");
    assert_eq!(size_on(b.clone()).await, b_before);

    // The check itself: an append naming a newer index than the receiver can reach is refused.
    let url = format!("http://{c}/internal/shards/{shard}/append");
    let ahead = http.post(&url).header("x-metadata-index", "999999").body("cpu v=4 4\n").send().await.expect("append");
    let (code, message) = error_code(ahead).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(message.starts_with("metadata_behind"), "{message}");
    let url = format!("http://{b}/internal/shards/{shard}/append");
    let stale = http.post(&url).header("x-metadata-index", "1").body("cpu v=5 5\n").send().await.expect("append");
    let (code, message) = error_code(stale).await;
    assert_eq!(code, StatusCode::CONFLICT, "{message}");
    assert!(message.starts_with("not_owner"), "{message}");

    // An owner added while A's view is frozen: C (an owner in both views) refuses the copy routed
    // to an old owner list, so the write is not acknowledged without B, now an owner too.
    let snapshot = fake.state.lock().expect("fake").clone();
    *fake.frozen.lock().expect("fake") = Some(snapshot);
    fake.apply(Command::AddShardOwner { shard_id: shard, node_id: ids[1] });
    let added_at = fake.state.lock().expect("fake").0;
    eventually("C sees the new owner", || async {
        status(&http, &c).await.is_some_and(|s| s.metadata_index.is_some_and(|i| i >= added_at))
    })
    .await;
    let (code, message) = error_code(write("cpu v=6 1700000000000000003").await).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(message.starts_with("stale_routing"), "{message}");
    *fake.frozen.lock().expect("fake") = None;
    assert_eq!(write("cpu v=7 1700000000000000004").await.status(), StatusCode::NO_CONTENT);
    assert!(size_on(b.clone()).await > b_before, "B, an owner again, got the write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sole_owner_out_of_touch_with_the_meta_nodes_refuses_writes_it_cannot_route_for_sure() {
    let (fake, _live) = fake_meta().await;
    let view = frozen_view(&fake).await;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let a = free_addr().await;
    start_datad(&view, &a, &dir);
    fake.add_data_node(&a);
    let spec =
        RetentionPolicySpec { name: "autogen".into(), duration: 0, shard_group_duration: None, replication_factor: 1 };
    fake.apply(Command::CreateDatabase { name: "telegraf".into(), default_retention_policy: Some(spec) });
    eventually("A is registered", || async { status(&http, &a).await.is_some_and(|s| s.registered) }).await;
    let write = |body: &'static str| http.post(format!("http://{a}/write?db=telegraf")).body(body).send();
    assert_eq!(write("cpu v=1 1700000000000000000").await.expect("write").status(), StatusCode::NO_CONTENT);

    // The meta nodes go out of reach: heartbeats fail, the metadata cannot be read.
    // Writes are taken until A notices it is out of touch (a few heartbeat intervals, at least 3 s).
    fake.down.store(true, std::sync::atomic::Ordering::SeqCst);
    eventually("A refuses to write alone while out of touch", || async {
        let response = write("cpu v=2 1700000000000000001").await.expect("write");
        let refused = response.status() == StatusCode::SERVICE_UNAVAILABLE;
        refused && error_code(response).await.1.starts_with("metadata_stale")
    })
    .await;
    let (code, message) = error_code(write("cpu v=2 1700000000000000001").await.expect("write")).await;
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(message.starts_with("metadata_stale"), "{message}");

    fake.down.store(false, std::sync::atomic::Ordering::SeqCst);
    eventually("writes are taken again", || async {
        write("cpu v=3 1700000000000000002").await.is_ok_and(|r| r.status() == StatusCode::NO_CONTENT)
    })
    .await;
}
