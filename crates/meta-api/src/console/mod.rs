//! The operators' web console: the page at `/ui` (its HTML, script and style embedded in the
//! binary, so it works with no internet) and `GET /v1/console`, everything the page shows in one
//! reply, long-polled: the page passes back the reply's `version` and the next reply comes when
//! the view differs from it (or after `wait`).
//!
//! The page itself holds no data and needs no token; `/v1/console` is guarded like every `/v1`
//! route. With tokens on, the page asks for one, keeps it in the tab's session storage and sends
//! it in an `Authorization` header, never in a URL (see ARCHITECTURE.md, "Web console").

mod assets;
mod view;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::{Extension, Json};
use tokio::time::Instant;

use meta_wire::{ConsoleQuery, ConsoleView, EntropyReport, ErrorReply, GetReport};

use crate::error::{duration_field, ApiError, ApiQuery};
use crate::service::MetaService;

pub(crate) use assets::routes as asset_routes;

/// How long a console request waits for a change without `wait`.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// The longest wait (a longer `wait` is cut to it; well below the request timeout).
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How many of the newest shard groups the map shows without `groups`.
const DEFAULT_GROUPS: u32 = 24;
/// The most `groups` a request may ask for.
const MAX_GROUPS: u32 = 500;
/// How long a built view serves every request of this node: at most one view (and one report
/// from the leader) per this interval, however many consoles are open.
const REFRESH: Duration = Duration::from_millis(500);
/// How often a waiting request looks again when the metadata did not move (liveness and copy
/// progress live outside it).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long the view waits for the leader's report before it shows why there is none.
const REPORT_WAIT: Duration = Duration::from_secs(2);

/// `GET /v1/console`: the web console's view of the cluster, built by this node from its own
/// metadata, the leader's anti-entropy report and every meta node's own status.
#[utoipa::path(get, path = "/v1/console", tag = "cluster", params(ConsoleQuery), responses((status = 200, body = ConsoleView), (status = "4XX", description = "Refused; the body names the problem", body = ErrorReply)))]
pub(crate) async fn console<S: MetaService>(
    State(service): State<Arc<S>>,
    Extension(cache): Extension<Arc<ViewCache>>,
    ApiQuery(query): ApiQuery<ConsoleQuery>,
) -> Result<Json<ConsoleView>, ApiError> {
    let wait = match &query.wait {
        Some(text) => Duration::from_nanos(duration_field("wait", text)?).min(MAX_WAIT),
        None => DEFAULT_WAIT,
    };
    let groups = query.groups.unwrap_or(DEFAULT_GROUPS);
    if groups > MAX_GROUPS {
        return Err(ApiError::invalid_field("groups", format!("at most {MAX_GROUPS}")));
    }
    let deadline = Instant::now() + wait;
    loop {
        let (view, built) = cache.current(&*service, groups as usize).await;
        let now = Instant::now();
        if query.after.as_deref() != Some(view.version.as_str()) || now >= deadline {
            return Ok(Json(ConsoleView::clone(&view)));
        }
        // Woken by the metadata moving, or after a while for what lives outside it; never
        // sooner than the cached view may be rebuilt.
        service.wait_applied_beyond(view.applied_index, IDLE_POLL.min(deadline - now)).await;
        let rebuild_at = (built + REFRESH).min(deadline);
        tokio::time::sleep_until(rebuild_at).await;
    }
}

/// The last view this node built, shared by every console request it serves.
#[derive(Default)]
pub(crate) struct ViewCache {
    last: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    built: Instant,
    newest_groups: usize,
    view: Arc<ConsoleView>,
}

impl ViewCache {
    /// A view at most [`REFRESH`] old showing `newest_groups` groups, and when it was built.
    async fn current<S: MetaService>(&self, service: &S, newest_groups: usize) -> (Arc<ConsoleView>, Instant) {
        let mut last = self.last.lock().await;
        let fresh = last.as_ref().filter(|c| c.newest_groups == newest_groups && c.built.elapsed() < REFRESH);
        if let Some(cached) = fresh {
            return (Arc::clone(&cached.view), cached.built);
        }
        let view = Arc::new(build(service, newest_groups).await);
        let built = Instant::now();
        *last = Some(Cached { built, newest_groups, view: Arc::clone(&view) });
        (view, built)
    }
}

/// The view now: the meta nodes and the leader's report asked for at once, the metadata read
/// under the state's read lock (bounded work), the fingerprint taken after it.
async fn build<S: MetaService>(service: &S, newest_groups: usize) -> ConsoleView {
    let (meta_nodes, report) = tokio::join!(service.meta_node_health(), report(service));
    let problems = report.as_ref().map(view::problems).unwrap_or_default();
    let answered_by = service.status().node_id;
    let now = meta_model::wall_clock();
    let view = service.read(|state, index| {
        view::build(state, index, view::Sources { answered_by, now, meta_nodes, report, problems, newest_groups })
    });
    view::with_version(view)
}

/// The leader's report, or why there is none.
async fn report<S: MetaService>(service: &S) -> Result<EntropyReport, String> {
    match tokio::time::timeout(REPORT_WAIT, service.anti_entropy(GetReport)).await {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("the leader did not report within {REPORT_WAIT:?}")),
    }
}
