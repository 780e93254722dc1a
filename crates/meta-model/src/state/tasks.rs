//! Handlers for task commands, and the sweep that withdraws tasks the metadata no longer supports
//! (shard dropped, node removed, replaced owner gone).
//!
//! See [`crate::Task`] for the lifecycle, which every kind shares: claim, lease, renewal, failure
//! with backoff, expiry and cancellation are the same code for every kind; only creation checks
//! and what completion changes depend on the kind. Every transition checks the task's state and,
//! for the claimant's calls, its attempt number (the fencing token) before anything changes.

use super::MetaState;
use crate::error::ApplyError;
use crate::model::node::NodeId;
use crate::model::shard_group::{ShardId, Timestamp};
use crate::model::task::{CancelReason, RetryPolicy, Task, TaskId, TaskKind, TaskReason, TaskSpec, TaskState};
use crate::response::{RejectedCopyTask, Response};

/// Finished tasks (done, or cancelled by the system) kept for `entropy show`; older ones are
/// forgotten. Failed and operator-killed tasks stay until `entropy repair` supersedes them,
/// because they stop the planner from planning the same copy again.
pub const FINISHED_TASKS_KEPT: usize = 1000;

/// Longest error text kept on a task.
const MAX_ERROR_LEN: usize = 1024;

impl MetaState {
    pub(super) fn create_tasks(
        &mut self,
        now: Timestamp,
        kind: TaskKind,
        specs: &[TaskSpec],
    ) -> Result<Response, ApplyError> {
        let mut created = Vec::new();
        let mut rejected = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let checked = match kind {
                TaskKind::Copy => self.check_copy_spec(spec),
                TaskKind::Repair => self.check_repair_spec(spec),
                TaskKind::Move => self.check_move_spec(spec),
            };
            if let Err(error) = checked {
                rejected.push(RejectedCopyTask { index, error });
                continue;
            }
            let id = self.next_task_id;
            self.next_task_id += 1;
            let task = Task::pending(id, kind, spec.clone(), now);
            self.open_tasks.insert(&task);
            self.tasks.insert(id, task.clone());
            created.push(task);
            self.journal.record(|c| c.tasks_offered = true);
        }
        Ok(Response::CopyTasksCreated { created, rejected })
    }

    /// Whether `spec` may become a task now: a live shard, an owning source, an active target that
    /// is not yet an owner (unless the copy refills an owner), and no open task for the same copy.
    fn check_copy_spec(&self, spec: &TaskSpec) -> Result<(), ApplyError> {
        let shard_id = spec.shard_id;
        let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        if view.group.is_deleted() {
            return Err(ApplyError::ShardGroupDeleted { shard_group_id: view.group.id });
        }
        let owners = &view.shard.owners;
        let invalid = |reason: String| Err(ApplyError::InvalidCopyTask { reason });
        if spec.source == spec.target {
            return invalid(format!("source and target are both node {}", spec.source));
        }
        // The source need not own the shard: a node that lost ownership may still hold the only
        // copy left. The target verifies what it copies against the source's checksum.
        self.check_task_nodes(spec)?;
        let target_owns = owners.contains(&spec.target);
        match spec.reason {
            TaskReason::MissingOnOwner if !target_owns => {
                return invalid(format!("node {} does not own shard {shard_id}; nothing to refill", spec.target))
            }
            TaskReason::MissingOnOwner => {}
            _ if target_owns => return Err(ApplyError::ShardOwnerExists { shard_id, node_id: spec.target }),
            _ => {}
        }
        if let Some(replaced) = spec.replaces {
            if replaced == spec.target || !owners.contains(&replaced) {
                return invalid(format!("the replaced node {replaced} must be another owner of shard {shard_id}"));
            }
        }
        if let Some(open) = self.open_task_for(shard_id, spec.target) {
            return Err(ApplyError::CopyTaskExists { shard_id, target: spec.target, task_id: open.id });
        }
        Ok(())
    }

    /// Whether `spec` may become a repair task now: a live shard whose source and target are
    /// distinct owners (the source a member, the target active), nothing replaced, and no open
    /// task for the target on the shard.
    fn check_repair_spec(&self, spec: &TaskSpec) -> Result<(), ApplyError> {
        let shard_id = spec.shard_id;
        let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        if view.group.is_deleted() {
            return Err(ApplyError::ShardGroupDeleted { shard_group_id: view.group.id });
        }
        let invalid = |reason: String| Err(ApplyError::InvalidCopyTask { reason });
        let owners = &view.shard.owners;
        if spec.source == spec.target || spec.replaces.is_some() {
            return invalid("a repair reconciles two distinct owners and replaces none".to_owned());
        }
        for node in [spec.source, spec.target] {
            if !owners.contains(&node) {
                return invalid(format!("node {node} does not own shard {shard_id}; only owners are repaired"));
            }
        }
        self.check_task_nodes(spec)?;
        if let Some(open) = self.open_task_for(shard_id, spec.target) {
            return Err(ApplyError::CopyTaskExists { shard_id, target: spec.target, task_id: open.id });
        }
        Ok(())
    }

    /// Whether `spec` may become a move task now: a copy (see [`Self::check_copy_spec`]) whose
    /// source is the active owner it replaces, planned by rebalancing.
    fn check_move_spec(&self, spec: &TaskSpec) -> Result<(), ApplyError> {
        let invalid = |reason: String| Err(ApplyError::InvalidCopyTask { reason });
        if spec.replaces != Some(spec.source) {
            return invalid(format!("a move replaces its source, node {}", spec.source));
        }
        if !matches!(spec.reason, TaskReason::Rebalance | TaskReason::MisReplicated) {
            return invalid("a move is planned by rebalancing (reason rebalance or mis_replicated)".to_owned());
        }
        self.check_copy_spec(spec)?;
        match self.data_nodes.get(&spec.source) {
            Some(source) if source.is_active() => Ok(()),
            Some(source) => Err(ApplyError::DataNodeNotActive { node_id: source.id, state: source.state }),
            None => Err(ApplyError::DataNodeNotFound { node_id: spec.source }),
        }
    }

    /// Whether a task's source is a member (active or draining) and its target active.
    fn check_task_nodes(&self, spec: &TaskSpec) -> Result<(), ApplyError> {
        let source = self.data_nodes.get(&spec.source).ok_or(ApplyError::DataNodeNotFound { node_id: spec.source })?;
        if !source.is_member() {
            return Err(ApplyError::DataNodeNotActive { node_id: source.id, state: source.state });
        }
        let target = self.data_nodes.get(&spec.target).ok_or(ApplyError::DataNodeNotFound { node_id: spec.target })?;
        if !target.is_active() {
            return Err(ApplyError::DataNodeNotActive { node_id: target.id, state: target.state });
        }
        Ok(())
    }

    /// Claims pending tasks of `kinds` that `node_id` is the target of, up to `max` held.
    pub(super) fn claim_tasks(
        &mut self,
        now: Timestamp,
        node_id: NodeId,
        kinds: &[TaskKind],
        max: u32,
        lease: i64,
    ) -> Result<Response, ApplyError> {
        let node = self.data_nodes.get(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
        if !node.is_active() {
            return Err(ApplyError::DataNodeNotActive { node_id, state: node.state });
        }
        check_lease(lease)?;
        let held = self.tasks_claimed_by(node_id).count();
        let mut ready: Vec<(u32, TaskId)> = self
            .open_tasks_of(node_id)
            .filter(|t| t.state == TaskState::Pending && kinds.contains(&t.kind))
            .filter(|t| t.retry_at.is_none_or(|at| at <= now))
            .map(|t| (t.spec.priority, t.id))
            .collect();
        ready.sort_unstable();
        let room = (max as usize).saturating_sub(held);
        for (_, id) in ready.into_iter().take(room) {
            if let Some(task) = self.tasks.get_mut(&id) {
                task.state = TaskState::Claimed;
                task.attempt += 1;
                task.lease_deadline = Some(now.saturating_add(lease));
                task.retry_at = None;
                task.updated_at = now;
            }
        }
        let mut claimed: Vec<Task> =
            self.tasks_claimed_by(node_id).filter(|t| kinds.contains(&t.kind)).cloned().collect();
        claimed.sort_by_key(|t| (t.spec.priority, t.id));
        Ok(Response::Tasks(claimed))
    }

    pub(super) fn renew_copy_task_lease(
        &mut self,
        now: Timestamp,
        task_id: TaskId,
        attempt: u32,
        lease: i64,
    ) -> Result<Response, ApplyError> {
        check_lease(lease)?;
        let task = self.claimed_task_mut(task_id, attempt)?;
        task.lease_deadline = Some(now.saturating_add(lease));
        task.updated_at = now;
        Ok(Response::Task(task.clone()))
    }

    pub(super) fn complete_task(
        &mut self,
        now: Timestamp,
        task_id: TaskId,
        attempt: u32,
    ) -> Result<Response, ApplyError> {
        let task = self.claimed_task_mut(task_id, attempt)?;
        let (kind, spec) = (task.kind, task.spec.clone());
        match kind {
            TaskKind::Copy | TaskKind::Move => self.complete_copy(&spec)?,
            // The owners hold the same points now; the metadata does not change.
            TaskKind::Repair => {
                self.journal.record(|c| c.repairs_completed.push((spec.shard_id, spec.source, spec.target)))
            }
        }
        let task = self.finish_task(task_id, now, TaskState::Done, None, None);
        self.sweep_tasks_of_shard(spec.shard_id, now);
        self.prune_finished_tasks();
        task.map(Response::Task).ok_or(ApplyError::TaskNotFound { task_id })
    }

    /// What a finished copy changes: the target owns the shard, the replaced owner no longer does.
    fn complete_copy(&mut self, spec: &TaskSpec) -> Result<(), ApplyError> {
        let view = self.shard(spec.shard_id).ok_or(ApplyError::ShardNotFound { shard_id: spec.shard_id })?;
        let group_id = view.group.id;
        let target_owns = view.shard.owners.contains(&spec.target);
        let replaced = spec.replaces.filter(|r| view.shard.owners.contains(r));
        // Checked: now nothing can fail. The target becomes an owner before the replaced node
        // stops being one, in one command, so the shard never has fewer owners than before.
        if !target_owns {
            self.insert_owner(group_id, spec.shard_id, spec.target);
        }
        if let Some(replaced) = replaced {
            self.drop_owner(group_id, spec.shard_id, replaced);
            self.settle_draining([replaced]);
        }
        self.journal.record(|c| c.copies_completed.push((spec.shard_id, spec.target)));
        Ok(())
    }

    pub(super) fn fail_copy_task(
        &mut self,
        now: Timestamp,
        task_id: TaskId,
        attempt: u32,
        error: &str,
        retry: &RetryPolicy,
    ) -> Result<Response, ApplyError> {
        let task = self.claimed_task_mut(task_id, attempt)?;
        task.failures += 1;
        let failures = task.failures;
        if failures >= retry.max_failures {
            let task = self.finish_task(task_id, now, TaskState::Failed, None, Some(truncate(error)));
            return task.map(Response::Task).ok_or(ApplyError::TaskNotFound { task_id });
        }
        task.state = TaskState::Pending;
        task.lease_deadline = None;
        task.retry_at = Some(now.saturating_add(retry.backoff(failures)));
        task.last_error = Some(truncate(error));
        task.updated_at = now;
        let task = task.clone();
        self.journal.record(|c| {
            c.tasks_offered = true;
            c.shards.insert(task.spec.shard_id);
        });
        Ok(Response::Task(task))
    }

    pub(super) fn expire_copy_task_leases(&mut self, now: Timestamp) -> Result<Response, ApplyError> {
        let mut expired = Vec::new();
        for task in self.tasks.values_mut() {
            let lapsed = task.lease_deadline.is_some_and(|deadline| deadline <= now);
            if task.state == TaskState::Claimed && lapsed {
                task.state = TaskState::Pending;
                task.lease_deadline = None;
                task.last_error = Some(format!("lease of attempt {} expired", task.attempt));
                task.updated_at = now;
                expired.push(task.clone());
            }
        }
        if !expired.is_empty() {
            self.journal.record(|c| c.tasks_offered = true);
        }
        Ok(Response::Tasks(expired))
    }

    pub(super) fn cancel_copy_task(
        &mut self,
        now: Timestamp,
        task_id: TaskId,
        reason: CancelReason,
    ) -> Result<Response, ApplyError> {
        let task = self.tasks.get(&task_id).ok_or(ApplyError::TaskNotFound { task_id })?;
        if !task.state.is_open() {
            return Err(ApplyError::TaskNotOpen { task_id, state: task.state });
        }
        let message = format!("cancelled: {reason:?}");
        let task = self.finish_task(task_id, now, TaskState::Cancelled, Some(reason), Some(message));
        self.prune_finished_tasks();
        task.map(Response::Task).ok_or(ApplyError::TaskNotFound { task_id })
    }

    pub(super) fn retry_shard_repair(&mut self, now: Timestamp, shard_id: ShardId) -> Result<Response, ApplyError> {
        self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        let blocking: Vec<TaskId> = self
            .tasks
            .values()
            .filter(|t| t.spec.shard_id == shard_id && t.blocks_replanning())
            .map(|t| t.id)
            .collect();
        let mut superseded = Vec::new();
        for id in blocking {
            if let Some(task) = self.tasks.get_mut(&id) {
                task.state = TaskState::Cancelled;
                task.cancel_reason = Some(CancelReason::Superseded);
                task.updated_at = now;
                superseded.push(task.clone());
            }
        }
        self.journal.shards([shard_id]);
        self.prune_finished_tasks();
        Ok(Response::Tasks(superseded))
    }

    /// Cancels every open task the metadata no longer supports. Run after commands that drop
    /// shards, remove nodes or change owners.
    pub(super) fn sweep_tasks(&mut self) {
        let stale: Vec<(TaskId, CancelReason)> =
            self.tasks.values().filter_map(|t| self.unsupported(t).map(|r| (t.id, r))).collect();
        self.cancel_unsupported(stale, None);
    }

    /// [`MetaState::sweep_tasks`] for one shard's tasks.
    fn sweep_tasks_of_shard(&mut self, shard_id: ShardId, now: Timestamp) {
        let stale: Vec<(TaskId, CancelReason)> = self
            .tasks
            .values()
            .filter(|t| t.spec.shard_id == shard_id)
            .filter_map(|t| self.unsupported(t).map(|r| (t.id, r)))
            .collect();
        self.cancel_unsupported(stale, Some(now));
    }

    fn cancel_unsupported(&mut self, stale: Vec<(TaskId, CancelReason)>, now: Option<Timestamp>) {
        if stale.is_empty() {
            return;
        }
        for (id, reason) in stale {
            let updated = now.or_else(|| self.tasks.get(&id).map(|t| t.updated_at)).unwrap_or_default();
            self.finish_task(id, updated, TaskState::Cancelled, Some(reason), Some(format!("cancelled: {reason:?}")));
        }
        self.prune_finished_tasks();
    }

    /// Why an open task can no longer run, if it cannot.
    pub(super) fn unsupported(&self, task: &Task) -> Option<CancelReason> {
        if !task.state.is_open() {
            return None;
        }
        let spec = &task.spec;
        let Some(view) = self.shard(spec.shard_id).filter(|v| !v.group.is_deleted()) else {
            return Some(CancelReason::ShardDropped);
        };
        let active = |id: NodeId| self.data_nodes.get(&id).is_some_and(|n| n.is_active());
        let member = |id: NodeId| self.data_nodes.get(&id).is_some_and(|n| n.is_member());
        if !active(spec.target) || !member(spec.source) {
            return Some(CancelReason::NodeRemoved);
        }
        let owners = &view.shard.owners;
        let target_owns = owners.contains(&spec.target);
        let needed = match task.kind {
            TaskKind::Copy | TaskKind::Move => {
                let replaced_gone = spec.replaces.is_some_and(|r| !owners.contains(&r));
                let refilling = spec.reason == TaskReason::MissingOnOwner;
                !replaced_gone && target_owns == refilling
            }
            TaskKind::Repair => target_owns && owners.contains(&spec.source),
        };
        (!needed).then_some(CancelReason::NotNeeded)
    }

    /// Moves a task to a terminal state; returns it as it is now.
    fn finish_task(
        &mut self,
        task_id: TaskId,
        now: Timestamp,
        state: TaskState,
        cancel_reason: Option<CancelReason>,
        message: Option<String>,
    ) -> Option<Task> {
        let task = self.tasks.get_mut(&task_id)?;
        if task.state.is_open() {
            self.open_tasks.remove(task);
        }
        let shard_id = task.spec.shard_id;
        self.journal.record(|c| {
            c.tasks_finished = true;
            c.shards.insert(shard_id);
        });
        task.state = state;
        task.lease_deadline = None;
        task.retry_at = None;
        task.cancel_reason = cancel_reason;
        if message.is_some() {
            task.last_error = message;
        }
        task.updated_at = now;
        Some(task.clone())
    }

    /// Forgets the oldest finished tasks beyond [`FINISHED_TASKS_KEPT`].
    fn prune_finished_tasks(&mut self) {
        let finished: Vec<TaskId> =
            self.tasks.values().filter(|t| !t.state.is_open() && !t.blocks_replanning()).map(|t| t.id).collect();
        let excess = finished.len().saturating_sub(FINISHED_TASKS_KEPT);
        for id in &finished[..excess] {
            self.tasks.remove(id);
        }
    }

    /// The claimed task `task_id`, if `attempt` is its current attempt.
    fn claimed_task_mut(&mut self, task_id: TaskId, attempt: u32) -> Result<&mut Task, ApplyError> {
        let task = self.tasks.get_mut(&task_id).ok_or(ApplyError::TaskNotFound { task_id })?;
        if task.state != TaskState::Claimed {
            return Err(ApplyError::TaskNotClaimed { task_id, state: task.state });
        }
        if task.attempt != attempt {
            return Err(ApplyError::StaleAttempt { task_id, attempt, current: task.attempt });
        }
        Ok(task)
    }

    /// The open tasks `node_id` is the target of.
    fn open_tasks_of(&self, node_id: NodeId) -> impl Iterator<Item = &Task> {
        let ids = self.open_tasks.by_target.get(&node_id).into_iter().flatten();
        ids.filter_map(|id| self.tasks.get(id))
    }

    fn tasks_claimed_by(&self, node_id: NodeId) -> impl Iterator<Item = &Task> {
        self.open_tasks_of(node_id).filter(|t| t.state == TaskState::Claimed)
    }

    /// The open task copying `shard_id` to `target`, if any.
    fn open_task_for(&self, shard_id: ShardId, target: NodeId) -> Option<&Task> {
        let id = self.open_tasks.by_copy.get(&(shard_id, target))?;
        self.tasks.get(id)
    }
}

fn check_lease(lease: i64) -> Result<(), ApplyError> {
    if lease <= 0 {
        return Err(ApplyError::InvalidDuration {
            field: "lease".to_owned(),
            value: lease.unsigned_abs(),
            reason: "must be positive".to_owned(),
        });
    }
    Ok(())
}

fn truncate(error: &str) -> String {
    let mut end = error.len().min(MAX_ERROR_LEN);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    error[..end].to_owned()
}
