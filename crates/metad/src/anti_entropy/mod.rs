//! The leader's anti-entropy service: it hears data nodes' heartbeats and inventories (soft
//! state, off the log), judges their liveness, runs the pure planner (`ae-planner`) every
//! `check-interval` and right after entropy-creating events, and turns plans and data-node calls
//! into copy-task commands stamped with its clock.
//!
//! ```text
//!  heartbeats ─► Tracker (liveness, inventories) ─┐
//!  metadata (SharedState) ────────────────────────┼─► view::plan_input ─► ae_planner::plan
//!  events: node removed / replaced / dead,        │        │
//!  inventory gap, task done or failed ─► dirty ───┘        ▼
//!                                     CreateCopyTasks / CancelCopyTask ─► Raft
//! ```
//!
//! Only the leader plans. A new leader starts with empty soft state and plans nothing for a grace
//! period, so a failover never triggers a storm of false repairs.

mod findings;
mod settings;
mod tracker;
mod view;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use ae_planner::{Limits, Scope};
use meta_api::rpc::{AeError, AeReply, AeRequest};
use meta_api::{MetaService, ServiceError};
use meta_store::{
    ApplyError, CancelReason, Command, CopyTask, CopyTaskSpec, DataNode, NodeId, NodeState, Response, RetryPolicy,
    ShardId, TaskId, TaskReason, TaskState, Timestamp,
};
use meta_wire::{
    ClaimReply, ClaimRequest, ClaimedTask, CopyTaskInfo, CopyTaskList, CopyTasksQuery, DataNodeHealth, EntropyReport,
    HeartbeatReply, HeartbeatRequest, Liveness, MissingCopy, ProgressReply, ProgressRequest, RepairReply, ShardHealth,
};

use crate::node::Node;
use findings::Findings;
pub use settings::{AntiEntropySection, AntiEntropySettings};
use tracker::Tracker;

/// How often the service looks for events (liveness changes, node changes, expired leases).
const TICK: Duration = Duration::from_millis(200);
/// Most task specs in one `CreateCopyTasks` command, keeping log entries small.
const CREATE_BATCH: usize = 500;

/// What planning rounds are owed.
#[derive(Debug, Default)]
enum Dirty {
    #[default]
    Clean,
    Shards(BTreeSet<ShardId>),
    All,
}

impl Dirty {
    fn add(&mut self, shards: impl IntoIterator<Item = ShardId>) {
        match self {
            Dirty::All => {}
            Dirty::Clean => *self = Dirty::Shards(shards.into_iter().collect()),
            Dirty::Shards(set) => set.extend(shards),
        }
    }
}

/// The soft state of one leadership term.
struct Term {
    term: u64,
    tracker: Tracker,
    findings: Findings,
    dirty: Dirty,
}

/// The anti-entropy service of one meta node (active only while it leads).
pub struct AntiEntropy {
    node_id: NodeId,
    settings: AntiEntropySettings,
    term: Mutex<Term>,
    wake: Notify,
    /// Signalled whenever copy tasks are created, for claims waiting for work.
    created: Notify,
    /// Planning rounds run one at a time.
    planning: tokio::sync::Mutex<()>,
}

/// The wall clock in nanoseconds since the epoch: what task commands are stamped with.
fn now_ns() -> Timestamp {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn refused(error: ApplyError) -> ServiceError {
    ServiceError::AntiEntropy(AeError::Apply(error))
}

/// Commits `command` and returns its response, a rejection becoming an anti-entropy error.
async fn commit(node: &Node, command: Command) -> Result<Response, ServiceError> {
    node.propose(command).await?.result.map_err(refused)
}

fn unexpected(response: Response) -> ServiceError {
    ServiceError::Internal(format!("unexpected response {response:?}"))
}

fn one_task(response: Response) -> Result<CopyTask, ServiceError> {
    match response {
        Response::CopyTask(task) => Ok(task),
        other => Err(unexpected(other)),
    }
}

impl AntiEntropy {
    /// The service of meta node `node_id`.
    pub fn new(node_id: NodeId, settings: AntiEntropySettings) -> Self {
        AntiEntropy {
            node_id,
            settings,
            term: Mutex::new(Term {
                term: 0,
                tracker: Tracker::new(Instant::now()),
                findings: Findings::default(),
                dirty: Dirty::All,
            }),
            wake: Notify::new(),
            created: Notify::new(),
            planning: tokio::sync::Mutex::new(()),
        }
    }

    /// The current term if this node leads.
    fn leading(&self, node: &Node) -> Option<u64> {
        let metrics = node.raft().metrics().borrow().clone();
        (metrics.current_leader == Some(self.node_id)).then_some(metrics.current_term)
    }

    /// The soft state of `term`, started afresh when leadership is new.
    fn term(&self, term: u64) -> MutexGuard<'_, Term> {
        let mut guard = self.term.lock().unwrap_or_else(|p| p.into_inner());
        if guard.term != term {
            tracing::info!(term, grace_ms = millis(self.settings.grace_period), "anti-entropy: took over as leader");
            *guard =
                Term { term, tracker: Tracker::new(Instant::now()), findings: Findings::default(), dirty: Dirty::All };
        }
        guard
    }

    fn mark_dirty(&self, term: u64, shards: impl IntoIterator<Item = ShardId>) {
        self.term(term).dirty.add(shards);
        self.wake.notify_one();
    }

    /// Runs the leader-side loop for as long as the node runs.
    pub(crate) async fn run(self: Arc<Self>, node: Arc<Node>) {
        let mut seen_nodes: Vec<DataNode> = Vec::new();
        let mut seen_liveness: HashMap<NodeId, Liveness> = HashMap::new();
        let mut last_full: Option<(u64, Instant)> = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = self.wake.notified() => {}
            }
            let Some(term) = self.leading(&node) else { continue };
            let now = Instant::now();
            if !self.settings.enabled || !self.term(term).tracker.trusted(now, &self.settings) {
                continue;
            }
            if let Err(error) = self.expire_leases(&node).await {
                tracing::warn!(%error, "anti-entropy: cannot expire leases");
            }
            // Events: any change of the data nodes (removed, drained, replaced, added) calls for
            // a full round; a liveness change for a round over that node's shards.
            let (nodes, owned) = {
                let applied = node.state().read();
                let nodes: Vec<DataNode> = applied.state.data_nodes().values().cloned().collect();
                let liveness: HashMap<NodeId, Liveness> = {
                    let t = self.term(term);
                    nodes.iter().map(|n| (n.id, t.tracker.liveness(now, n.id, &self.settings))).collect()
                };
                let changed: Vec<NodeId> =
                    liveness.iter().filter(|(id, l)| seen_liveness.get(id) != Some(l)).map(|(id, _)| *id).collect();
                let owned: Vec<ShardId> = changed.iter().flat_map(|&id| applied.state.shards_owned_by(id)).collect();
                seen_liveness = liveness;
                (nodes, owned)
            };
            let full_due =
                last_full.is_none_or(|(t, at)| t != term || now.duration_since(at) >= self.settings.check_interval);
            let dirty = {
                let mut t = self.term(term);
                if nodes != seen_nodes || full_due {
                    if !seen_nodes.is_empty() && nodes != seen_nodes {
                        tracing::info!("anti-entropy: data nodes changed; planning every shard");
                    }
                    t.dirty = Dirty::All;
                } else if !owned.is_empty() {
                    t.dirty.add(owned);
                }
                std::mem::take(&mut t.dirty)
            };
            seen_nodes = nodes;
            let scope = match dirty {
                Dirty::Clean => continue,
                Dirty::All => {
                    last_full = Some((term, now));
                    None
                }
                Dirty::Shards(shards) => Some(shards.into_iter().collect::<Vec<_>>()),
            };
            if let Err(error) = self.plan_round(&node, term, scope).await {
                tracing::warn!(%error, "anti-entropy: planning round failed");
                self.term(term).dirty = Dirty::All;
            }
        }
    }

    /// Puts claimed tasks whose lease ran out back to pending.
    async fn expire_leases(&self, node: &Node) -> Result<(), ServiceError> {
        let now = now_ns();
        let lapsed = node
            .state()
            .read()
            .state
            .open_copy_tasks()
            .any(|t| t.state == TaskState::Claimed && t.lease_deadline.is_some_and(|d| d <= now));
        if !lapsed {
            return Ok(());
        }
        if let Response::CopyTasks(expired) = commit(node, Command::ExpireCopyTaskLeases { now }).await? {
            self.created.notify_waiters();
            for task in &expired {
                tracing::warn!(
                    task_id = task.id,
                    shard_id = task.spec.shard_id,
                    target = task.spec.target,
                    attempt = task.attempt,
                    "copy task lease expired; offered again"
                );
            }
        }
        Ok(())
    }

    /// One planning round over `scope` (`None`: every shard): creates and cancels tasks.
    async fn plan_round(
        &self,
        node: &Node,
        term: u64,
        scope: Option<Vec<ShardId>>,
    ) -> Result<Vec<CopyTask>, ServiceError> {
        let _one_at_a_time = self.planning.lock().await;
        let now = Instant::now();
        let (input, surplus) = {
            let applied = node.state().read();
            let t = self.term(term);
            let surplus = view::surplus_owners(&applied.state, &t.tracker, now, &self.settings);
            (view::plan_input(&applied.state, &t.tracker, now, &self.settings), surplus)
        };
        let limits = Limits { max_fetch: self.settings.max_fetch, max_sync: self.settings.max_sync };
        let started = Instant::now();
        let plan = ae_planner::plan(&input, &limits, scope.as_deref().map_or(Scope::All, Scope::Shards));
        let took = started.elapsed();
        let shards = input.shards.len();
        drop(input);
        let newly_unrecoverable = self.term(term).findings.record(scope.as_deref(), plan.report, now_ns(), took);
        if !newly_unrecoverable.is_empty() {
            tracing::error!(
                shards = ?newly_unrecoverable,
                "shards UNRECOVERABLE: no live copy exists anywhere, nothing can be copied; restore them from a \
                 backup or drop them (metactl entropy show)"
            );
        }

        for cancel in &plan.cancel {
            let command = Command::CancelCopyTask {
                now: now_ns(),
                task_id: cancel.task,
                reason: view::cancel_reason(cancel.reason),
            };
            match commit(node, command).await {
                Ok(_) => {
                    tracing::info!(task_id = cancel.task, reason = ?cancel.reason, "copy task cancelled by the planner")
                }
                // It finished or was cancelled meanwhile: nothing to withdraw.
                Err(error) => tracing::debug!(task_id = cancel.task, %error, "planner cancellation not applied"),
            }
        }
        let mut created = Vec::new();
        for chunk in plan.create.chunks(CREATE_BATCH) {
            let tasks: Vec<CopyTaskSpec> = chunk.iter().map(view::task_spec).collect();
            match commit(node, Command::CreateCopyTasks { now: now_ns(), tasks }).await? {
                Response::CopyTasksCreated { created: batch, rejected } => {
                    for refusal in rejected {
                        tracing::warn!(error = %refusal.error, "planned copy task refused; the next round replans it");
                    }
                    created.extend(batch);
                }
                other => return Err(unexpected(other)),
            }
        }
        for &(shard_id, node_id) in &surplus {
            match commit(node, Command::RemoveShardOwner { shard_id, node_id }).await {
                Ok(_) => {
                    tracing::info!(shard_id, node_id, "surplus owner dropped: the shard keeps its copies without it")
                }
                Err(error) => tracing::debug!(shard_id, node_id, %error, "surplus owner not dropped"),
            }
        }
        self.term(term).findings.created(created.len());
        if !created.is_empty() {
            self.created.notify_waiters();
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if created.is_empty() && plan.cancel.is_empty() && surplus.is_empty() {
            tracing::debug!(shards, plan_micros = micros, scoped = scope.is_some(), "anti-entropy: nothing to do");
        } else {
            tracing::info!(
                shards,
                plan_micros = micros,
                scoped = scope.is_some(),
                created = created.len(),
                cancelled = plan.cancel.len(),
                "anti-entropy plan"
            );
        }
        Ok(created)
    }

    /// Serves a request; the caller made sure this node leads.
    pub(crate) async fn handle(&self, node: &Node, request: AeRequest) -> Result<AeReply, ServiceError> {
        let term = self.leading(node).ok_or(ServiceError::NoLeader)?;
        match request {
            AeRequest::Heartbeat { node_id, request } => {
                self.heartbeat(node, term, node_id, request).map(AeReply::Heartbeat)
            }
            AeRequest::Claim(claim) => {
                let tasks = self.claim(node, &claim).await?;
                let applied = node.state().read();
                let address = |id: NodeId| applied.state.data_node(id).map(|n| n.http_addr.clone()).unwrap_or_default();
                let tasks = tasks
                    .into_iter()
                    .map(|task| ClaimedTask { source_addr: address(task.spec.source), task })
                    .collect();
                Ok(AeReply::Claimed(ClaimReply { tasks }))
            }
            AeRequest::Progress { task_id, request } => {
                self.progress(node, term, task_id, request).await.map(AeReply::Progress)
            }
            AeRequest::Complete { task_id, attempt } => {
                // The claimant installed the copy before calling: count it as held before the
                // target becomes an owner, so no planning round in between sees a gap to refill.
                let claimed = node.state().read().state.copy_task(task_id).cloned();
                if let Some(task) = claimed.filter(|t| t.state == TaskState::Claimed && t.attempt == attempt) {
                    let now = Instant::now();
                    let mut t = self.term(term);
                    let size = t.tracker.progress_of(now, task_id, attempt).map_or(0, |p| p.bytes_total);
                    t.tracker.copied(now, task.spec.target, task.spec.shard_id, size);
                }
                let task =
                    one_task(commit(node, Command::CompleteCopyTask { now: now_ns(), task_id, attempt }).await?)?;
                let bytes = {
                    let mut t = self.term(term);
                    let bytes = t.tracker.finish(task_id);
                    t.findings.copied(bytes);
                    bytes
                };
                tracing::info!(task_id, shard_id = task.spec.shard_id, target = task.spec.target, replaced = ?task.spec.replaces, bytes, "copy task completed");
                self.mark_dirty(term, [task.spec.shard_id]);
                Ok(AeReply::Task(task))
            }
            AeRequest::Fail { task_id, request } => {
                let retry = RetryPolicy {
                    max_failures: self.settings.max_failures,
                    base_backoff: nanos(self.settings.retry_backoff),
                    max_backoff: nanos(self.settings.max_retry_backoff),
                };
                let command = Command::FailCopyTask {
                    now: now_ns(),
                    task_id,
                    attempt: request.attempt,
                    error: request.error,
                    retry,
                };
                let task = one_task(commit(node, command).await?)?;
                tracing::warn!(task_id, shard_id = task.spec.shard_id, failures = task.failures, state = ?task.state, error = task.last_error.as_deref().unwrap_or(""), "copy task failed");
                self.mark_dirty(term, [task.spec.shard_id]);
                Ok(AeReply::Task(task))
            }
            AeRequest::CopyShard(copy) => {
                let spec = CopyTaskSpec {
                    shard_id: copy.shard_id,
                    source: copy.source,
                    target: copy.target,
                    replaces: None,
                    priority: 0,
                    reason: TaskReason::Operator,
                };
                match commit(node, Command::CreateCopyTasks { now: now_ns(), tasks: vec![spec] }).await? {
                    Response::CopyTasksCreated { mut created, mut rejected } => match (created.pop(), rejected.pop()) {
                        (Some(task), _) => {
                            self.created.notify_waiters();
                            Ok(AeReply::Task(task))
                        }
                        (None, Some(refusal)) => Err(refused(refusal.error)),
                        (None, None) => Err(ServiceError::Internal("copy-shard created nothing".to_owned())),
                    },
                    other => Err(unexpected(other)),
                }
            }
            AeRequest::Kill { task_id } => {
                let command = Command::CancelCopyTask { now: now_ns(), task_id, reason: CancelReason::Operator };
                let task = one_task(commit(node, command).await?)?;
                tracing::info!(task_id, shard_id = task.spec.shard_id, "copy task killed by an operator");
                Ok(AeReply::Task(task))
            }
            AeRequest::Repair { shard_id } => {
                if !self.settings.enabled {
                    return Err(ServiceError::AntiEntropy(AeError::Disabled));
                }
                let wait = self.term(term).tracker.untrusted_for(Instant::now(), &self.settings);
                if !wait.is_zero() {
                    return Err(ServiceError::AntiEntropy(AeError::NotTrustedYet { retry_ms: millis(wait) }));
                }
                commit(node, Command::RetryShardRepair { now: now_ns(), shard_id }).await?;
                let tasks = self.plan_round(node, term, Some(vec![shard_id])).await?;
                Ok(AeReply::Repair(RepairReply { tasks }))
            }
            AeRequest::Tasks(query) => Ok(AeReply::Tasks(self.tasks(node, term, &query))),
            AeRequest::Task { task_id } => {
                let query = CopyTasksQuery::default();
                let found = self.tasks(node, term, &query).tasks.into_iter().find(|info| info.task.id == task_id);
                found.map(AeReply::TaskInfo).ok_or(refused(ApplyError::TaskNotFound { task_id }))
            }
            AeRequest::Report => Ok(AeReply::Report(self.report(node, term))),
        }
    }

    /// Claims tasks for a data node. Data nodes claim all the time whether or not there is work,
    /// so a claim that can take nothing new is answered from the applied state without a Raft
    /// write; an idle node's claim waits up to `wait_ms` for tasks to be created (long poll).
    async fn claim(&self, node: &Node, claim: &ClaimRequest) -> Result<Vec<CopyTask>, ServiceError> {
        let deadline = Instant::now() + Duration::from_millis(claim.wait_ms);
        loop {
            let created = self.created.notified();
            tokio::pin!(created);
            created.as_mut().enable();
            let now = now_ns();
            let (claimable, mut held) = {
                let applied = node.state().read();
                let mine = applied.state.open_copy_tasks().filter(|t| t.spec.target == claim.node_id);
                let mut claimable = false;
                let mut held = Vec::new();
                for task in mine {
                    claimable |= task.state == TaskState::Pending && task.retry_at.is_none_or(|at| at <= now);
                    if task.state == TaskState::Claimed {
                        held.push(task.clone());
                    }
                }
                (claimable, held)
            };
            if claimable && held.len() < claim.max as usize {
                let lease = nanos(self.settings.lease);
                let command = Command::ClaimCopyTasks { now, node_id: claim.node_id, max: claim.max, lease };
                return match commit(node, command).await? {
                    Response::CopyTasks(tasks) => Ok(tasks),
                    other => Err(unexpected(other)),
                };
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !held.is_empty() || remaining.is_zero() || claimable {
                held.sort_by_key(|t| (t.spec.priority, t.id));
                return Ok(held);
            }
            // A timeout just ends the long poll: the loop answers with what there is.
            let _ = tokio::time::timeout(remaining, created).await;
        }
    }

    fn heartbeat(
        &self,
        node: &Node,
        term: u64,
        node_id: NodeId,
        request: HeartbeatRequest,
    ) -> Result<HeartbeatReply, ServiceError> {
        let registered = node.state().read().state.data_node(node_id).cloned();
        let registered = registered.ok_or(refused(ApplyError::DataNodeNotFound { node_id }))?;
        if registered.state == NodeState::Removed {
            return Err(refused(ApplyError::DataNodeNotActive { node_id, state: registered.state }));
        }
        if request.addr != registered.http_addr && request.addr != registered.tcp_addr {
            return Err(ServiceError::AntiEntropy(AeError::AddressMismatch {
                node_id,
                registered: registered.http_addr,
                given: request.addr,
            }));
        }
        let outcome = self.term(term).tracker.heartbeat(Instant::now(), node_id, request, &self.settings);
        if outcome.came_online || outcome.shards_changed {
            let owned: Vec<ShardId> = node.state().read().state.shards_owned_by(node_id).collect();
            self.mark_dirty(term, owned);
        }
        Ok(HeartbeatReply {
            node_id,
            state: registered.state,
            heartbeat_interval_ms: millis(self.settings.heartbeat_interval),
            send_inventory: outcome.send_inventory,
        })
    }

    async fn progress(
        &self,
        node: &Node,
        term: u64,
        task_id: TaskId,
        request: ProgressRequest,
    ) -> Result<ProgressReply, ServiceError> {
        let task = node.state().read().state.copy_task(task_id).cloned();
        let task = task.ok_or(refused(ApplyError::TaskNotFound { task_id }))?;
        if task.state != TaskState::Claimed {
            return Err(refused(ApplyError::TaskNotClaimed { task_id, state: task.state }));
        }
        if task.attempt != request.attempt {
            return Err(refused(ApplyError::StaleAttempt { task_id, attempt: request.attempt, current: task.attempt }));
        }
        self.term(term).tracker.progress(
            Instant::now(),
            task_id,
            request.attempt,
            request.bytes_done,
            request.bytes_total,
        );
        let now = now_ns();
        let lease = nanos(self.settings.lease);
        let deadline = task.lease_deadline.unwrap_or(now);
        if deadline.saturating_sub(now) >= lease / 2 {
            return Ok(ProgressReply { lease_deadline: deadline });
        }
        let command = Command::RenewCopyTaskLease { now, task_id, attempt: request.attempt, lease };
        let renewed = one_task(commit(node, command).await?)?;
        Ok(ProgressReply { lease_deadline: renewed.lease_deadline.unwrap_or(now + lease) })
    }

    fn tasks(&self, node: &Node, term: u64, query: &CopyTasksQuery) -> CopyTaskList {
        let applied = node.state().read();
        let t = self.term(term);
        let now = Instant::now();
        let tasks = applied
            .state
            .copy_tasks()
            .values()
            .filter(|task| query.state.is_none_or(|s| task.state == s))
            .filter(|task| query.shard_id.is_none_or(|s| task.spec.shard_id == s))
            .map(|task| CopyTaskInfo {
                progress: t.tracker.progress_of(now, task.id, task.attempt),
                task: task.clone(),
            })
            .collect();
        CopyTaskList { tasks }
    }

    fn report(&self, node: &Node, term: u64) -> EntropyReport {
        let applied = node.state().read();
        let t = self.term(term);
        let now = Instant::now();
        let report = t.findings.report();
        let health = |list: &[ae_planner::ShardHealth]| -> Vec<ShardHealth> {
            list.iter()
                .map(|h| ShardHealth { shard_id: h.shard, live_copies: h.live_copies, desired: h.desired })
                .collect()
        };
        let nodes = applied
            .state
            .data_nodes()
            .values()
            .filter(|n| n.is_member())
            .map(|n| DataNodeHealth {
                id: n.id,
                addr: n.http_addr.clone(),
                state: n.state,
                liveness: t.tracker.liveness(now, n.id, &self.settings),
                last_heartbeat_ms: t.tracker.silence(now, n.id).map(millis),
                dead_in_ms: t.tracker.dead_in(now, n.id, &self.settings).map(millis),
                version: t.tracker.version(n.id).map(str::to_owned),
                shards_reported: t.tracker.inventory(n.id).map(|i| i.shards.len()),
            })
            .collect();
        let tasks = applied
            .state
            .copy_tasks()
            .values()
            .filter(|task| task.state.is_open() || task.blocks_replanning())
            .map(|task| CopyTaskInfo {
                progress: t.tracker.progress_of(now, task.id, task.attempt),
                task: task.clone(),
            })
            .collect();
        EntropyReport {
            leader_id: self.node_id,
            trusted: t.tracker.trusted(now, &self.settings),
            planned_at: t.findings.planned_at(),
            plan_micros: t.findings.last_duration().map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            under_replicated: health(&report.under_replicated),
            missing_on_owner: report
                .missing_on_owner
                .iter()
                .map(|&(shard_id, node_id)| MissingCopy { shard_id, node_id })
                .collect(),
            unrecoverable: report.unrecoverable.clone(),
            insufficient_nodes: health(&report.insufficient_nodes),
            over_replicated: health(&report.over_replicated),
            tasks,
            nodes,
        }
    }

    /// The service's metrics (empty unless this node leads).
    pub(crate) fn metrics(&self, node: &Node) -> String {
        let Some(term) = self.leading(node) else { return String::new() };
        let t = self.term(term);
        t.findings.render(t.tracker.trusted(Instant::now(), &self.settings))
    }
}
