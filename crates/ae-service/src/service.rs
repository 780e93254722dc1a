//! [`AntiEntropy`]: the leader's service. It hears what every applied command touched
//! ([`AntiEntropy::applied`]) and data nodes' heartbeats (soft state, off the log), judges
//! liveness, and plans exactly the shards that changed; a full round runs every `check-interval`.
//! Nothing polls: the loop sleeps until a change arrives or the next thing falls due (a liveness
//! transition, a lease deadline, the end of the grace period, the next full round).
//!
//! ```text
//!  state machine ── applied(Changes) ──► intake ──┐ (absorbed under the same read lock
//!  heartbeats ─► Tracker (liveness, inventories) ─┤  the round's input is built under)
//!  timers: liveness transitions, leases, full ────┤
//!                                                 ▼
//!            dirty shards (or all) ─► input::plan_input ─► ae_planner::plan ─► Plan
//!                                                 ─► CancelCopyTask / CreateCopyTasks /
//!                                                    RemoveShardOwner (Raft)
//! ```
//!
//! Only the leader plans. A new leader starts with empty soft state and plans nothing for a grace
//! period, so a failover never triggers a storm of false repairs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

use ae_planner::{Balance, Limits, Scope, ShardView};
use meta_model::{Changes, Command, CreatedCopyTasks, MetaState, NodeId, ShardId, Task, TaskKind, TaskState};
use meta_wire::Liveness;

use crate::findings::{Findings, RoundCost};
use crate::input::{cancel_reason, plan_input, task_kind, task_spec};
use crate::port::{commit, CallError, MetaPort, PortError};
use crate::settings::AntiEntropySettings;
use crate::tracker::Tracker;

/// Most task specs in one `CreateCopyTasks` command, keeping log entries small.
const CREATE_BATCH: usize = 500;
/// After a round failed (leadership lost mid-round, storage), wait this long before trying again:
/// a deliberate backoff, so a sick cluster is not hammered.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The service's clock: tokio's, so tests can pause and advance it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(crate) fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `duration` in whole microseconds (saturating).
pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// What planning rounds are owed.
#[derive(Debug, Default)]
pub(crate) enum Dirty {
    #[default]
    Clean,
    Shards(BTreeSet<ShardId>),
    All,
}

impl Dirty {
    pub(crate) fn add(&mut self, shards: impl IntoIterator<Item = ShardId>) {
        match self {
            Dirty::All => {}
            Dirty::Clean => {
                let shards: BTreeSet<ShardId> = shards.into_iter().collect();
                if !shards.is_empty() {
                    *self = Dirty::Shards(shards);
                }
            }
            Dirty::Shards(set) => set.extend(shards),
        }
    }
}

/// The soft state of one leadership term.
pub(crate) struct Term {
    pub(crate) term: u64,
    pub(crate) tracker: Tracker,
    pub(crate) findings: Findings,
    pub(crate) dirty: Dirty,
    /// Each data node's liveness as the last round judged it, to find transitions.
    liveness: BTreeMap<NodeId, Liveness>,
    /// When the last full round ran.
    last_full: Option<Instant>,
}

impl Term {
    fn new(term: u64, since: Instant) -> Self {
        Term {
            term,
            tracker: Tracker::new(since),
            findings: Findings::default(),
            dirty: Dirty::All,
            liveness: BTreeMap::new(),
            last_full: None,
        }
    }

    /// Takes in what applied commands touched: their shards, the shards of changed data nodes, and
    /// (when an active node was added or changed, or a task finished: room for more copies) every
    /// shard the last rounds found in need; completed copies count as held until their target
    /// reports them.
    fn absorb(&mut self, state: &MetaState, changes: Changes, now: Instant, settings: &AntiEntropySettings) {
        if changes.everything {
            self.dirty = Dirty::All;
        }
        self.dirty.add(changes.shards);
        for &node in &changes.data_nodes {
            self.dirty.add(state.shards_owned_by(node));
        }
        let room = changes.data_nodes.iter().any(|&id| state.data_node(id).is_some_and(|n| n.is_active()));
        if room || changes.tasks_finished {
            let needy = self.findings.needy();
            self.dirty.add(needy);
        }
        if room && state.placement().balance.enabled {
            self.dirty = Dirty::All; // A node joined or changed: its share is judged now.
        }
        // Moves are planned in full rounds: while balancing moves shards, each finished task
        // (a slot freed, a load changed) asks for the next one at once, not a check-interval later.
        if changes.tasks_finished && self.findings.balancing() {
            self.dirty = Dirty::All;
        }
        for (shard, target) in changes.copies_completed {
            self.tracker.copied(now, target, shard, settings);
        }
        for (shard, source, target) in changes.repairs_completed {
            self.tracker.content_changed(shard, &[source, target]);
        }
        for shard in changes.shards_written {
            self.tracker.written(now, shard, settings);
        }
        if changes.tasks_finished {
            self.tracker.forget_progress(|task| state.copy_task(task).is_some_and(|t| t.state.is_open()));
        }
    }

    /// Marks the shards of every data node whose liveness changed since the last look.
    fn note_liveness(&mut self, state: &MetaState, now: Instant, settings: &AntiEntropySettings) {
        let mut changed = Vec::new();
        let mut judged = BTreeMap::new();
        for node in state.data_nodes().values().filter(|n| n.is_member()) {
            let liveness = self.tracker.liveness(now, node.id, settings);
            if self.liveness.get(&node.id).is_some_and(|&before| before != liveness) {
                tracing::info!(node_id = node.id, ?liveness, "data node liveness changed");
                changed.push(node.id);
            }
            judged.insert(node.id, liveness);
        }
        // A node back online (or heard from for the first time) changes the loads balancing
        // judges: a full round, rather than the next check-interval, decides its share.
        let online = changed.iter().any(|id| judged.get(id) == Some(&Liveness::Online));
        self.liveness = judged;
        // While moving, any change (a move's node gone suspect) is judged at once too.
        let moving = !changed.is_empty() && self.findings.balancing();
        if (online || moving) && state.placement().balance.enabled {
            self.dirty = Dirty::All;
        }
        for node in changed {
            self.dirty.add(state.shards_owned_by(node));
        }
    }
}

/// The anti-entropy service of one meta node (active only while it leads).
pub struct AntiEntropy {
    pub(crate) node_id: NodeId,
    pub(crate) settings: AntiEntropySettings,
    term: Mutex<Term>,
    /// Changes applied since the loop last looked.
    intake: Mutex<Changes>,
    /// Wakes the loop: changes arrived, a heartbeat found something, leadership moved.
    wake: Notify,
    /// Signalled whenever tasks become claimable, for claims waiting for work.
    pub(crate) offered: Notify,
    /// Planning rounds run one at a time; each fills the shard list the last one emptied, so a
    /// million-shard list (~48 MB) is not allocated, and faulted in page by page, every full
    /// round (a round a check-interval after the last took 126 ms instead of 22 ms that way).
    /// Released when the node stops leading.
    planning: tokio::sync::Mutex<Vec<ShardView>>,
}

impl AntiEntropy {
    /// The service of meta node `node_id`.
    pub fn new(node_id: NodeId, settings: AntiEntropySettings) -> Self {
        AntiEntropy {
            node_id,
            settings,
            term: Mutex::new(Term::new(0, now())),
            intake: Mutex::new(Changes::default()),
            wake: Notify::new(),
            offered: Notify::new(),
            planning: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    /// Takes in what applied commands touched. Called by the node's state machine with the
    /// applied state write-locked; cheap and never blocks on anything but a short lock.
    pub fn applied(&self, changes: Changes) {
        if changes.tasks_offered {
            self.offered.notify_waiters();
        }
        self.intake.lock().unwrap_or_else(|p| p.into_inner()).merge(changes);
        self.wake.notify_one();
    }

    /// Wakes the loop, e.g. because this node's leadership changed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The current term if this node leads.
    pub(crate) fn leading<P: MetaPort>(&self, port: &P) -> Result<u64, CallError> {
        port.leader_term().ok_or(CallError::Cluster(PortError::NotLeader))
    }

    /// The soft state of `term`, started afresh when leadership is new. A caller still holding an
    /// older term (it awaited a commit across an election) never resets the newer term's state:
    /// it gets that state, and its own work is checked by Raft.
    pub(crate) fn term(&self, term: u64) -> MutexGuard<'_, Term> {
        let mut guard = self.term.lock().unwrap_or_else(|p| p.into_inner());
        if guard.term < term {
            tracing::info!(term, grace_ms = millis(self.settings.grace_period), "anti-entropy: took over as leader");
            *guard = Term::new(term, now());
        }
        guard
    }

    pub(crate) fn mark_dirty(&self, term: u64, shards: impl IntoIterator<Item = ShardId>) {
        self.term(term).dirty.add(shards);
        self.wake.notify_one();
    }

    fn take_intake(&self) -> Changes {
        std::mem::take(&mut *self.intake.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs the leader-side loop for as long as the node runs.
    pub async fn run<P: MetaPort>(self: Arc<Self>, port: Arc<P>) {
        loop {
            let next = self.step(&*port).await;
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = sleep => {}
            }
        }
    }

    /// One turn of the loop: expire lapsed leases, plan what is owed. Returns when the next turn
    /// falls due without any change (`None`: only a change or a leadership move wakes it).
    pub(crate) async fn step<P: MetaPort>(&self, port: &P) -> Option<Instant> {
        let Some(term) = port.leader_term().filter(|_| self.settings.enabled) else {
            // Not leading: a new leader starts with a full round, whatever happened meanwhile.
            self.take_intake();
            // Nor is the shard list of the planning rounds kept (~48 MB at a million shards).
            if let Ok(mut list) = self.planning.try_lock() {
                *list = Vec::new();
            }
            return None;
        };
        let trusted = {
            let mut t = self.term(term);
            t.findings.turned();
            t.tracker.trusted(now(), &self.settings)
        };
        // Claimants could not renew while the cluster elected this leader: no lease is judged
        // during the grace period (like liveness).
        if trusted {
            if let Err(error) = self.expire_leases(port).await {
                tracing::warn!(%error, "anti-entropy: cannot expire leases");
                return Some(now() + RETRY_AFTER);
            }
        }
        if let Err(error) = self.plan_round(port, term, None).await {
            tracing::warn!(%error, "anti-entropy: planning round failed");
            return Some(now() + RETRY_AFTER);
        }
        Some(self.next_due(port, term))
    }

    /// When something falls due without any change: the end of the grace period (nothing else is
    /// judged before it), else the next full round, a data node's next liveness transition, the
    /// earliest lease deadline.
    fn next_due<P: MetaPort>(&self, port: &P, term: u64) -> Instant {
        let now = now();
        let wall = port.wall_clock();
        port.read(|state| {
            let t = self.term(term);
            let settings = &self.settings;
            let untrusted = t.tracker.untrusted_for(now, settings);
            if !untrusted.is_zero() {
                return now + untrusted;
            }
            let full = t.last_full.map_or(now, |at| at + settings.check_interval);
            let transitions = state
                .data_nodes()
                .values()
                .filter(|n| n.is_member())
                .filter_map(|n| t.tracker.next_transition(now, n.id, settings));
            let leases = state
                .open_tasks()
                .filter(|task| task.state == TaskState::Claimed)
                .filter_map(|task| task.lease_deadline)
                .map(|deadline| now + Duration::from_nanos(u64::try_from(deadline.saturating_sub(wall)).unwrap_or(0)));
            transitions.chain(leases).fold(full, Instant::min)
        })
    }

    /// Puts claimed tasks whose lease ran out back to pending.
    async fn expire_leases<P: MetaPort>(&self, port: &P) -> Result<(), CallError> {
        let wall = port.wall_clock();
        let lapsed = port.read(|state| {
            state.open_tasks().any(|t| t.state == TaskState::Claimed && t.lease_deadline.is_some_and(|d| d <= wall))
        });
        if !lapsed {
            return Ok(());
        }
        let expired: Vec<Task> = commit(port, Command::ExpireCopyTaskLeases { now: wall }).await?;
        for task in &expired {
            tracing::warn!(
                task_id = task.id,
                shard_id = task.spec.shard_id,
                target = task.spec.target,
                attempt = task.attempt,
                "copy task lease expired; offered again"
            );
        }
        Ok(())
    }

    /// One planning round over the shards owed (and `also`, if given): creates and cancels tasks,
    /// drops surplus owners. Plans nothing during the grace period.
    pub(crate) async fn plan_round<P: MetaPort>(
        &self,
        port: &P,
        term: u64,
        also: Option<ShardId>,
    ) -> Result<(), CallError> {
        let mut shard_list = self.planning.lock().await;
        let now = now();
        // The round's cost: building its input (under the read lock) and planning.
        let started = Instant::now();
        let settings = &self.settings;
        let wall = port.wall_clock();
        // The changes are absorbed under the read lock the input is built under: the state the
        // planner sees has been absorbed in full (a completed copy is known as held, etc.).
        // A full round over a million shards builds its input for tens to hundreds of milliseconds
        // and plans for longer: off the runtime's worker threads, which heartbeats need.
        let prepared = off_runtime(|| {
            port.read(|state| {
                let mut t = self.term(term);
                t.absorb(state, self.take_intake(), now, settings);
                if !t.tracker.trusted(now, settings) {
                    return None;
                }
                t.note_liveness(state, now, settings);
                if t.last_full.is_none_or(|at| now.duration_since(at) >= settings.check_interval) {
                    t.dirty = Dirty::All;
                }
                t.dirty.add(also);
                let scope = match std::mem::take(&mut t.dirty) {
                    Dirty::Clean => return None,
                    Dirty::All => {
                        t.last_full = Some(now);
                        None
                    }
                    Dirty::Shards(shards) => Some(shards),
                };
                let policy = state.placement().balance;
                let balance = policy
                    .enabled
                    .then_some(Balance { tolerance_percent: policy.tolerance_percent, max_moves: policy.max_moves });
                let reuse = std::mem::take(&mut *shard_list);
                Some((plan_input(state, &t.tracker, now, wall, settings, scope.as_ref(), reuse), scope, balance))
            })
        });
        let Some((input, scope, balance)) = prepared else { return Ok(()) };
        let input_took = started.elapsed();
        let scope: Option<Vec<ShardId>> = scope.map(|s| s.into_iter().collect());
        let limits = Limits { max_fetch: settings.max_fetch, max_sync: settings.max_sync, balance };
        let mut plan =
            off_runtime(|| ae_planner::plan(&input, &limits, scope.as_deref().map_or(Scope::All, Scope::Shards)));
        let took = started.elapsed();
        let shards = input.shards.len();
        *shard_list = input.shards;
        shard_list.clear();
        let newly_unrecoverable = self.term(term).findings.record(
            scope.as_deref(),
            std::mem::take(&mut plan.report),
            plan.balance.take(),
            port.wall_clock(),
            RoundCost { input: input_took, total: took },
        );
        if !newly_unrecoverable.is_empty() {
            tracing::error!(
                shards = ?newly_unrecoverable,
                "shards UNRECOVERABLE: no live copy exists anywhere, nothing can be copied; restore them from a \
                 backup or drop them (metactl entropy show)"
            );
        }

        let created = match self.carry_out(port, &plan).await {
            Ok(created) => created,
            Err(error) => {
                // What this round took off the dirty set may not be done: look at everything again.
                self.term(term).dirty = Dirty::All;
                return Err(error);
            }
        };
        let moves = created.iter().filter(|t| t.kind == TaskKind::Move).count();
        self.term(term).findings.created(created.len(), moves);
        let micros = micros(took);
        if created.is_empty() && plan.cancel.is_empty() && plan.drop_owners.is_empty() && plan.reassign.is_empty() {
            tracing::debug!(shards, plan_micros = micros, scoped = scope.is_some(), "anti-entropy: nothing to do");
        } else {
            tracing::info!(
                shards,
                plan_micros = micros,
                scoped = scope.is_some(),
                created = created.len(),
                cancelled = plan.cancel.len(),
                dropped_owners = plan.drop_owners.len(),
                reassigned = plan.reassign.len(),
                "anti-entropy plan"
            );
        }
        Ok(())
    }

    /// The data nodes this leader judges online (heartbeating on time) now: what the proposer
    /// stamps into commands that need the leader's view of liveness. `None` unless this node
    /// leads and its grace period is over.
    pub fn live_data_nodes<P: MetaPort>(&self, port: &P) -> Option<BTreeSet<NodeId>> {
        let term = port.leader_term()?;
        let now = now();
        port.read(|state| {
            let t = self.term(term);
            let online = |id: NodeId| t.tracker.liveness(now, id, &self.settings) == Liveness::Online;
            let members = state.data_nodes().values().filter(|n| n.is_member());
            t.tracker.trusted(now, &self.settings).then(|| members.map(|n| n.id).filter(|&id| online(id)).collect())
        })
    }

    /// Carries out a plan: cancellations, then creations, then dropped owners (the planner's order).
    /// Returns the tasks created.
    async fn carry_out<P: MetaPort>(&self, port: &P, plan: &ae_planner::Plan) -> Result<Vec<Task>, CallError> {
        for cancel in &plan.cancel {
            let command = Command::CancelCopyTask {
                now: port.wall_clock(),
                task_id: cancel.task,
                reason: cancel_reason(cancel.reason),
            };
            match commit::<P, Task>(port, command).await {
                Ok(_) => {
                    tracing::info!(task_id = cancel.task, reason = ?cancel.reason, "copy task cancelled by the planner")
                }
                // It finished or was cancelled meanwhile: nothing to withdraw.
                Err(error) => tracing::debug!(task_id = cancel.task, %error, "planner cancellation not applied"),
            }
        }
        let mut created = Vec::new();
        for kind in [TaskKind::Copy, TaskKind::Repair, TaskKind::Move] {
            let planned: Vec<&ae_planner::NewTask> =
                plan.create.iter().filter(|t| task_kind(t.kind()) == kind).collect();
            for chunk in planned.chunks(CREATE_BATCH) {
                let (now, tasks) = (port.wall_clock(), chunk.iter().map(|t| task_spec(t)).collect());
                let command = match kind {
                    TaskKind::Copy => Command::CreateCopyTasks { now, tasks },
                    TaskKind::Repair => Command::CreateRepairTasks { now, tasks },
                    TaskKind::Move => Command::CreateMoveTasks { now, tasks },
                };
                let batch: CreatedCopyTasks = commit(port, command).await?;
                for refusal in batch.refused {
                    tracing::warn!(error = %refusal.error, ?kind, "planned task refused; the next round replans it");
                }
                created.extend(batch.created);
            }
        }
        for drop in &plan.drop_owners {
            let command = Command::RemoveShardOwner { shard_id: drop.shard, node_id: drop.owner };
            match commit::<P, ()>(port, command).await {
                Ok(()) => tracing::info!(
                    shard_id = drop.shard,
                    node_id = drop.owner,
                    reason = ?drop.reason,
                    "surplus owner dropped: the shard keeps its copies without it"
                ),
                Err(error) => {
                    tracing::debug!(shard_id = drop.shard, node_id = drop.owner, %error, "surplus owner not dropped")
                }
            }
        }
        for reassign in &plan.reassign {
            let command = Command::ReassignUnwrittenShard {
                shard_id: reassign.shard,
                drop: reassign.drop.clone(),
                add: reassign.add.clone(),
            };
            match commit::<P, ()>(port, command).await {
                Ok(()) => tracing::info!(
                    shard_id = reassign.shard,
                    dropped = ?reassign.drop,
                    added = ?reassign.add,
                    "never-written shard reassigned without a copy"
                ),
                // E.g. written in the meantime: the next round plans it as a written shard.
                Err(error) => tracing::info!(shard_id = reassign.shard, %error, "never-written shard not reassigned"),
            }
        }
        Ok(created)
    }

    /// Registers the service's metrics (none unless this node leads): the findings and counters,
    /// and `metad_ae_data_node_liveness`, one series of value 1 per data node that is not removed,
    /// labelled with its ID, address, state (`active`, `draining`) and the leader's view of its
    /// liveness (`online`, `suspect`, `dead`, `unknown`).
    pub fn register_metrics<P: MetaPort>(&self, port: &P, registry: &mut Registry) {
        let Some(term) = port.leader_term() else { return };
        let now = now();
        let nodes = Family::<Vec<(&'static str, String)>, Gauge>::default();
        // The state's lock before the term's, as everywhere else.
        port.read(|state| {
            let t = self.term(term);
            t.findings.register(registry, t.tracker.trusted(now, &self.settings));
            for node in state.data_nodes().values().filter(|n| n.is_member()) {
                let liveness = t.tracker.liveness(now, node.id, &self.settings);
                let labels = vec![
                    ("node_id", node.id.to_string()),
                    ("addr", node.http_addr.clone()),
                    ("state", label(node.state)),
                    ("liveness", label(liveness)),
                ];
                nodes.get_or_create(&labels).set(1);
            }
        });
        registry.register(
            "metad_ae_data_node_liveness",
            "1 for each data node not removed, labelled with its state and the leader's view of its liveness",
            nodes,
        );
    }
}

/// Runs `work`, which may take long, without holding up the runtime's other tasks: on a
/// multi-threaded runtime its worker hands them to another thread first (`block_in_place`);
/// elsewhere (a single-threaded runtime, as in tests) it just runs.
fn off_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// A metric label's value for a one-word unit variant, as the API spells it (`Draining` ->
/// `draining`).
fn label(value: impl std::fmt::Debug) -> String {
    format!("{value:?}").to_lowercase()
}
