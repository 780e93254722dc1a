//! The calls data nodes and operators make ([`AeHandler`]), served by the leader's service over
//! its port: heartbeats and progress are soft state; claims, completions, failures, copies, kills
//! and repairs become Raft commands stamped with the leader's clock.

use std::time::Duration;

use meta_model::{
    ApplyError, CancelReason, Command, CreatedCopyTasks, MetaState, NodeId, NodeState, RetryPolicy, Task, TaskReason,
    TaskSpec, TaskState, Timestamp,
};
use meta_wire::{
    AeError, AeHandler, ClaimReply, ClaimRequest, ClaimedTask, CompleteTask, CopyShardRequest, CopyTaskInfo,
    CopyTaskList, CopyTasksQuery, EntropyReport, FailTask, GetReport, GetTask, Heartbeat, HeartbeatReply, KillTask,
    Liveness, ProgressReply, RepairReply, RepairRequest, ReportProgress,
};

use crate::port::{commit, CallError, MetaPort, PortError};
use crate::service::{millis, nanos, now, AntiEntropy};

/// The service answering calls over one port: what a meta node hands a call to.
pub struct Serving<'a, P> {
    service: &'a AntiEntropy,
    port: &'a P,
}

impl AntiEntropy {
    /// The service answering calls over `port`.
    pub fn serving<'a, P: MetaPort>(&'a self, port: &'a P) -> Serving<'a, P> {
        Serving { service: self, port }
    }
}

fn refused(error: ApplyError) -> CallError {
    CallError::Refused(AeError::Apply(error))
}

impl<P: MetaPort> AeHandler for Serving<'_, P> {
    type Error = CallError;

    async fn heartbeat(&self, call: Heartbeat) -> Result<HeartbeatReply, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        let Heartbeat { node_id, request } = call;
        let registered = port.read(|state| state.data_node(node_id).cloned());
        let registered = registered.ok_or(refused(ApplyError::DataNodeNotFound { node_id }))?;
        if registered.state == NodeState::Removed {
            return Err(refused(ApplyError::DataNodeNotActive { node_id, state: registered.state }));
        }
        if request.addr != registered.http_addr && request.addr != registered.tcp_addr {
            return Err(CallError::Refused(AeError::AddressMismatch {
                node_id,
                registered: registered.http_addr,
                given: request.addr,
            }));
        }
        let outcome = service.term(term).tracker.heartbeat(now(), node_id, request, &service.settings);
        if outcome.came_online || outcome.shards_changed {
            let owned: Vec<_> = port.read(|state| state.shards_owned_by(node_id).collect());
            service.mark_dirty(term, owned);
        }
        if !outcome.gaps_confirmed.is_empty() {
            service.mark_dirty(term, outcome.gaps_confirmed);
        }
        Ok(HeartbeatReply {
            node_id,
            state: registered.state,
            heartbeat_interval_ms: millis(service.settings.heartbeat_interval),
            send_inventory: outcome.send_inventory,
        })
    }

    /// Data nodes claim all the time whether or not there is work, so a claim that can take
    /// nothing new is answered from the applied state without a Raft write; an idle node's claim
    /// waits up to `wait_ms` for tasks to be offered (long poll).
    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimReply, CallError> {
        let Serving { service, port } = *self;
        service.leading(port)?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(claim.wait_ms);
        let tasks = loop {
            let offered = service.offered.notified();
            tokio::pin!(offered);
            offered.as_mut().enable();
            let wall = port.wall_clock();
            let (claimable, mut held, next_retry) = port.read(|state| {
                let mine =
                    state.open_tasks().filter(|t| t.spec.target == claim.node_id && claim.kinds.contains(&t.kind));
                let mut claimable = false;
                let mut held = Vec::new();
                let mut next_retry: Option<Timestamp> = None;
                for task in mine {
                    match (task.state, task.retry_at) {
                        (TaskState::Pending, Some(at)) if at > wall => {
                            next_retry = Some(next_retry.map_or(at, |next| next.min(at)));
                        }
                        (TaskState::Pending, _) => claimable = true,
                        (TaskState::Claimed, _) => held.push(task.clone()),
                        _ => {}
                    }
                }
                (claimable, held, next_retry)
            });
            if claimable && held.len() < claim.max as usize {
                let lease = nanos(service.settings.lease);
                let (node_id, max, kinds) = (claim.node_id, claim.max, claim.kinds.clone());
                let command = Command::ClaimTasks { now: wall, node_id, kinds, max, lease };
                break commit::<P, Vec<Task>>(port, command).await?;
            }
            if !held.is_empty() || claimable || tokio::time::Instant::now() >= deadline {
                held.sort_by_key(|t| (t.spec.priority, t.id));
                break held;
            }
            // A task waiting out its retry backoff becomes claimable without any change: wake then.
            let retry = next_retry.map(|at| {
                let wait = Duration::from_nanos(u64::try_from(at.saturating_sub(wall)).unwrap_or(0));
                tokio::time::Instant::now() + wait
            });
            let until = retry.map_or(deadline, |retry| retry.min(deadline));
            // A timeout just ends this wait: the loop looks again, and answers by the deadline.
            let _ = tokio::time::timeout_at(until, offered).await;
        };
        let tasks = port.read(|state| {
            let address = |id: NodeId| state.data_node(id).map(|n| n.http_addr.clone()).unwrap_or_default();
            tasks.into_iter().map(|task| ClaimedTask { source_addr: address(task.spec.source), task }).collect()
        });
        Ok(ClaimReply { tasks })
    }

    async fn progress(&self, call: ReportProgress) -> Result<ProgressReply, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        let ReportProgress { task_id, request } = call;
        let task = port.read(|state| state.copy_task(task_id).cloned());
        let task = task.ok_or(refused(ApplyError::TaskNotFound { task_id }))?;
        if task.state != TaskState::Claimed {
            return Err(refused(ApplyError::TaskNotClaimed { task_id, state: task.state }));
        }
        if task.attempt != request.attempt {
            return Err(refused(ApplyError::StaleAttempt { task_id, attempt: request.attempt, current: task.attempt }));
        }
        service.term(term).tracker.progress(now(), task_id, request.attempt, request.bytes_done, request.bytes_total);
        let wall = port.wall_clock();
        let lease = nanos(service.settings.lease);
        let deadline = task.lease_deadline.unwrap_or(wall);
        if deadline.saturating_sub(wall) >= lease / 2 {
            return Ok(ProgressReply { lease_deadline: deadline });
        }
        let command = Command::RenewCopyTaskLease { now: wall, task_id, attempt: request.attempt, lease };
        let renewed: Task = commit(port, command).await?;
        Ok(ProgressReply { lease_deadline: renewed.lease_deadline.unwrap_or(wall + lease) })
    }

    /// The copy was installed before the call; once the command is applied the target owns the
    /// shard, and the applied change tells the planner the copy is held until the target reports it.
    async fn complete(&self, call: CompleteTask) -> Result<Task, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        let CompleteTask { task_id, attempt } = call;
        let command = Command::CompleteCopyTask { now: port.wall_clock(), task_id, attempt };
        let task: Task = commit(port, command).await?;
        let bytes = {
            let mut t = service.term(term);
            let bytes = t.tracker.finish(task_id);
            t.findings.copied(bytes);
            bytes
        };
        tracing::info!(task_id, shard_id = task.spec.shard_id, target = task.spec.target, replaced = ?task.spec.replaces, bytes, "copy task completed");
        Ok(task)
    }

    async fn fail(&self, call: FailTask) -> Result<Task, CallError> {
        let Serving { service, port } = *self;
        service.leading(port)?;
        let settings = &service.settings;
        let retry = RetryPolicy {
            max_failures: settings.max_failures,
            base_backoff: nanos(settings.retry_backoff),
            max_backoff: nanos(settings.max_retry_backoff),
        };
        let FailTask { task_id, request } = call;
        let command = Command::FailCopyTask {
            now: port.wall_clock(),
            task_id,
            attempt: request.attempt,
            error: request.error,
            retry,
        };
        let task: Task = commit(port, command).await?;
        tracing::warn!(task_id, shard_id = task.spec.shard_id, failures = task.failures, state = ?task.state, error = task.last_error.as_deref().unwrap_or(""), "copy task failed");
        Ok(task)
    }

    async fn copy_shard(&self, copy: CopyShardRequest) -> Result<Task, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        // Once liveness and inventories are trusted, a copy that could only wait is refused
        // now, as one to an owner is, instead of retrying against a 404 or staying pending.
        // A source that owns the shard is left to the copy's own checks: its inventory may not
        // list a copy it got a moment ago.
        let source_owns = port.read(|s| s.shard(copy.shard_id).is_some_and(|v| v.shard.owners.contains(&copy.source)));
        let refusal = {
            let (now, settings) = (now(), &service.settings);
            let tracker = &service.term(term).tracker;
            if !tracker.trusted(now, settings) {
                None
            } else if tracker.liveness(now, copy.target, settings) == Liveness::Dead {
                Some(AeError::TargetDead { node_id: copy.target })
            } else if !source_owns && tracker.inventory(copy.source).is_some_and(|inv| !inv.holds(copy.shard_id)) {
                Some(AeError::SourceLacksShard { node_id: copy.source, shard_id: copy.shard_id })
            } else {
                None
            }
        };
        if let Some(refusal) = refusal {
            return Err(CallError::Refused(refusal));
        }
        let spec = TaskSpec {
            shard_id: copy.shard_id,
            source: copy.source,
            target: copy.target,
            replaces: None,
            priority: 0,
            reason: TaskReason::Operator,
        };
        let mut batch: CreatedCopyTasks =
            commit(port, Command::CreateCopyTasks { now: port.wall_clock(), tasks: vec![spec] }).await?;
        match (batch.created.pop(), batch.refused.pop()) {
            (Some(task), _) => Ok(task),
            (None, Some(refusal)) => Err(refused(refusal.error)),
            (None, None) => Err(CallError::Cluster(PortError::Failed("copy-shard created nothing".to_owned()))),
        }
    }

    async fn kill(&self, call: KillTask) -> Result<Task, CallError> {
        let Serving { service, port } = *self;
        service.leading(port)?;
        let KillTask { task_id } = call;
        let command = Command::CancelCopyTask { now: port.wall_clock(), task_id, reason: CancelReason::Operator };
        let task: Task = commit(port, command).await?;
        tracing::info!(task_id, shard_id = task.spec.shard_id, "copy task killed by an operator");
        Ok(task)
    }

    async fn repair(&self, call: RepairRequest) -> Result<RepairReply, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        if !service.settings.enabled {
            return Err(CallError::Refused(AeError::Disabled));
        }
        let wait = service.term(term).tracker.untrusted_for(now(), &service.settings);
        if !wait.is_zero() {
            return Err(CallError::Refused(AeError::NotTrustedYet { retry_ms: millis(wait) }));
        }
        let shard_id = call.shard_id;
        let _superseded: Vec<Task> =
            commit(port, Command::RetryShardRepair { now: port.wall_clock(), shard_id }).await?;
        // The applied change wakes the loop too: whichever round plans the shard, the reply lists
        // its open tasks once this round (which includes it) is done.
        service.plan_round(port, term, Some(shard_id)).await?;
        let open = |state: &MetaState| -> Vec<Task> {
            state.open_tasks().filter(|t| t.spec.shard_id == shard_id).cloned().collect()
        };
        if !port.read(open).is_empty() {
            return Ok(RepairReply { tasks: port.read(open) });
        }
        // Nothing to copy: the online owners reconcile their copies now, each with the lowest.
        let settings = &service.settings;
        let online = |node: NodeId| service.term(term).tracker.liveness(now(), node, settings) == Liveness::Online;
        let specs: Vec<TaskSpec> = port.read(|state| {
            let owners: Vec<NodeId> = state.shard(shard_id).map(|v| v.shard.owners.clone()).unwrap_or_default();
            let live: Vec<NodeId> = owners.into_iter().filter(|&o| online(o)).collect();
            let Some((&source, others)) = live.split_first() else { return Vec::new() };
            let spec = |target| TaskSpec {
                shard_id,
                source,
                target,
                replaces: None,
                priority: 0,
                reason: TaskReason::Operator,
            };
            others.iter().map(|&target| spec(target)).collect()
        });
        if !specs.is_empty() {
            let created: CreatedCopyTasks =
                commit(port, Command::CreateRepairTasks { now: port.wall_clock(), tasks: specs }).await?;
            for refusal in created.refused {
                tracing::warn!(shard_id, error = %refusal.error, "operator's repair task refused");
            }
        }
        Ok(RepairReply { tasks: port.read(open) })
    }

    async fn tasks(&self, query: CopyTasksQuery) -> Result<CopyTaskList, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        let matches = |task: &Task| {
            query.state.is_none_or(|s| task.state == s) && query.shard_id.is_none_or(|s| task.spec.shard_id == s)
        };
        Ok(CopyTaskList { tasks: service.task_infos(port, term, matches) })
    }

    async fn task(&self, call: GetTask) -> Result<CopyTaskInfo, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        let found = service.task_infos(port, term, |task| task.id == call.task_id).pop();
        found.ok_or(refused(ApplyError::TaskNotFound { task_id: call.task_id }))
    }

    async fn report(&self, _call: GetReport) -> Result<EntropyReport, CallError> {
        let Serving { service, port } = *self;
        let term = service.leading(port)?;
        Ok(service.entropy_report(port, term))
    }
}
