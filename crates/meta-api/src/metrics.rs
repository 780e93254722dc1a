//! Request metrics and the Prometheus text exposition at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use meta_model::{CopyTask, TaskId, TaskState};
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

    /// Renders the Raft gauges of `status`, the apply counters, the copy tasks kept in the
    /// metadata by state, and the request counters in Prometheus text format.
    pub fn render(&self, status: &NodeStatus, applied: (u64, f64), tasks: &BTreeMap<TaskId, CopyTask>) -> String {
        let mut out = String::new();
        let states = [TaskState::Pending, TaskState::Claimed, TaskState::Done, TaskState::Failed, TaskState::Cancelled];
        let _ = writeln!(out, "# HELP metad_copy_tasks Copy tasks kept in the metadata, by state.");
        let _ = writeln!(out, "# TYPE metad_copy_tasks gauge");
        for state in states {
            let count = tasks.values().filter(|t| t.state == state).count();
            let name = format!("{state:?}").to_lowercase();
            let _ = writeln!(out, "metad_copy_tasks{{state=\"{name}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP metad_apply_commands_total Commands applied to the state machine.\n\
             # TYPE metad_apply_commands_total counter\nmetad_apply_commands_total {}\n\
             # HELP metad_apply_seconds_total Time spent applying commands.\n\
             # TYPE metad_apply_seconds_total counter\nmetad_apply_seconds_total {:.6}",
            applied.0, applied.1
        );
        let gauges = [
            ("metad_raft_term", "Current Raft term.", Some(status.term)),
            ("metad_raft_leader_id", "ID of the known leader (0 when none).", Some(status.leader_id.unwrap_or(0))),
            (
                "metad_raft_is_leader",
                "1 when this node is the leader.",
                Some(u64::from(status.leader_id == Some(status.node_id))),
            ),
            ("metad_raft_last_log_index", "Index of the last log entry.", status.last_log_index),
            ("metad_raft_committed_index", "Index of the last committed entry.", status.committed_index),
            ("metad_raft_applied_index", "Index of the last applied entry.", status.applied_index),
            ("metad_raft_voters", "Number of voting members.", Some(status.voters.len() as u64)),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}", value.unwrap_or(0));
        }
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP metad_http_requests_total HTTP requests by method, route and status.");
        let _ = writeln!(out, "# TYPE metad_http_requests_total counter");
        for ((method, route, code), stats) in routes.iter() {
            let _ = writeln!(
                out,
                "metad_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{code}\"}} {}",
                stats.count
            );
        }
        let _ = writeln!(out, "# HELP metad_http_request_seconds_sum Time spent serving requests.");
        let _ = writeln!(out, "# TYPE metad_http_request_seconds_sum counter");
        for ((method, route, code), stats) in routes.iter() {
            let _ = writeln!(
                out,
                "metad_http_request_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{code}\"}} {:.6}",
                stats.seconds
            );
        }
        out
    }
}

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
