//! Request metrics and what the API exposes at `/metrics` (OpenMetrics text, `prometheus-client`).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use meta_model::{Task, TaskId, TaskState};
use meta_wire::NodeStatus;

#[derive(Clone, Copy, Debug, Default)]
struct RouteStats {
    count: u64,
    seconds: f64,
}

/// Counts and latencies of HTTP requests by method, route and status.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<(String, String, u16), RouteStats>>,
}

impl HttpMetrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let stats = routes.entry((method.to_owned(), route.to_owned(), status)).or_default();
        stats.count += 1;
        stats.seconds += seconds;
    }

    /// Registers the Raft gauges of `status`, the apply counters, the copy tasks kept in the
    /// metadata by state, and the request counters, with their values now.
    pub fn register(
        &self,
        registry: &mut Registry,
        status: &NodeStatus,
        applied: (u64, f64),
        tasks: &BTreeMap<TaskId, Task>,
    ) {
        let by_state = Family::<Labels, Gauge>::default();
        for state in [TaskState::Pending, TaskState::Claimed, TaskState::Done, TaskState::Failed, TaskState::Cancelled]
        {
            let count = tasks.values().filter(|t| t.state == state).count();
            let name = format!("{state:?}").to_lowercase();
            by_state.get_or_create(&vec![("state".to_owned(), name)]).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        registry.register("metad_copy_tasks", "Copy tasks kept in the metadata, by state", by_state);
        registry.register(
            "metad_apply_commands",
            "Commands applied to the state machine",
            ConstCounter::new(applied.0),
        );
        registry.register("metad_apply_seconds", "Time spent applying commands", ConstCounter::new(applied.1));
        let gauges = [
            ("metad_raft_term", "Current Raft term", Some(status.term)),
            ("metad_raft_leader_id", "ID of the known leader (0 when none)", Some(status.leader_id.unwrap_or(0))),
            (
                "metad_raft_is_leader",
                "1 when this node is the leader",
                Some(u64::from(status.leader_id == Some(status.node_id))),
            ),
            ("metad_raft_last_log_index", "Index of the last log entry", status.last_log_index),
            ("metad_raft_committed_index", "Index of the last committed entry", status.committed_index),
            ("metad_raft_applied_index", "Index of the last applied entry", status.applied_index),
            ("metad_raft_snapshot_index", "Index of the last entry the newest snapshot covers", status.snapshot_index),
            ("metad_raft_voters", "Number of voting members", Some(status.voters.len() as u64)),
        ];
        for (name, help, value) in gauges {
            registry.register(name, help, ConstGauge::new(i64::try_from(value.unwrap_or(0)).unwrap_or(i64::MAX)));
        }
        let requests = Family::<Labels, Counter>::default();
        let seconds = Family::<Labels, Counter<f64, AtomicU64>>::default();
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for ((method, route, code), stats) in routes.iter() {
            let labels = vec![
                ("method".to_owned(), method.clone()),
                ("route".to_owned(), route.clone()),
                ("status".to_owned(), code.to_string()),
            ];
            requests.get_or_create(&labels).inc_by(stats.count);
            seconds.get_or_create(&labels).inc_by(stats.seconds);
        }
        registry.register("metad_http_requests", "HTTP requests by method, route and status", requests);
        registry.register("metad_http_request_seconds", "Time spent serving requests", seconds);
    }
}

/// A metric's labels, as name-value pairs.
type Labels = Vec<(String, String)>;

/// Middleware recording every request under its matched route (not its raw path, so IDs do not
/// explode the label set).
pub(crate) async fn track(State(metrics): State<Arc<HttpMetrics>>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
