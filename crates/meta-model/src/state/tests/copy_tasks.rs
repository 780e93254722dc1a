//! Table tests of the copy-task commands: lifecycle, fencing, backoff, and the sweep that
//! withdraws tasks when shards or nodes go away.

use super::*;
use crate::model::task::{CancelReason, RetryPolicy, Task, TaskReason, TaskSpec, TaskState};

const NOW: Timestamp = 1_000_000_000_000;
const LEASE: i64 = 30_000_000_000;
const RETRY: RetryPolicy = RetryPolicy { max_failures: 3, base_backoff: 1_000, max_backoff: 10_000 };

/// Three nodes, RF 2, one group: returns the state and the group's first shard with its owners.
fn setup() -> (MetaState, ShardId, Vec<NodeId>) {
    let mut state = cluster(3, 2);
    let (group, _) = create_group(&mut state, 0);
    let shard = &group.shards[0];
    (state, shard.id, shard.owners.clone())
}

fn non_owner(owners: &[NodeId]) -> NodeId {
    (1..=3).find(|n| !owners.contains(n)).expect("a node that does not own the shard")
}

fn copy(shard_id: ShardId, source: NodeId, target: NodeId, replaces: Option<NodeId>) -> TaskSpec {
    TaskSpec { shard_id, source, target, replaces, priority: 1, reason: TaskReason::UnderReplicated }
}

fn create(state: &mut MetaState, spec: TaskSpec) -> Task {
    match ok(state, Command::CreateCopyTasks { now: NOW, tasks: vec![spec] }) {
        Response::CopyTasksCreated { mut created, rejected } if rejected.is_empty() && created.len() == 1 => {
            created.remove(0)
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn claim(state: &mut MetaState, node_id: NodeId, max: u32, now: Timestamp) -> Vec<Task> {
    match ok(state, Command::ClaimCopyTasks { now, node_id, max, lease: LEASE }) {
        Response::Tasks(tasks) => tasks,
        other => panic!("unexpected {other:?}"),
    }
}

fn owners_of(state: &MetaState, shard_id: ShardId) -> Vec<NodeId> {
    state.shard(shard_id).map(|v| v.shard.owners.clone()).unwrap_or_default()
}

fn refused(state: &mut MetaState, spec: TaskSpec) -> ApplyError {
    let before = state.clone();
    let response = state.apply(&Command::CreateCopyTasks { now: NOW, tasks: vec![spec] });
    let Ok(Response::CopyTasksCreated { created, mut rejected }) = response else { panic!("{response:?}") };
    assert!(created.is_empty());
    assert_eq!(*state, before, "a refused spec changed the state");
    rejected.remove(0).error
}

#[test]
fn a_task_runs_from_creation_to_ownership() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    assert!(state.pending_owners(shard).is_empty());
    let task = create(&mut state, copy(shard, owners[0], target, Some(owners[1])));
    assert_eq!((task.id, task.state, task.attempt), (1, TaskState::Pending, 0));
    assert_eq!(state.pending_owners(shard), vec![target], "writes reach the target from the start");

    let claimed = claim(&mut state, target, 10, NOW + 1);
    assert_eq!(state.pending_owners(shard), vec![target], "and while it copies");
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].state, claimed[0].attempt), (TaskState::Claimed, 1));
    assert_eq!(claimed[0].lease_deadline, Some(NOW + 1 + LEASE));

    ok(&mut state, Command::CompleteCopyTask { now: NOW + 2, task_id: task.id, attempt: 1 });
    let mut want = vec![owners[0], target];
    want.sort_unstable();
    assert_eq!(owners_of(&state, shard), want, "the target replaced the replaced owner");
    assert_eq!(state.copy_task(task.id).map(|t| t.state), Some(TaskState::Done));
    assert!(state.pending_owners(shard).is_empty(), "an owner now, pending no more");
}

#[test]
fn refilling_an_owner_adds_no_pending_owner_and_other_shards_have_none() {
    let (mut state, shard, owners) = setup();
    let refill = TaskSpec { reason: TaskReason::MissingOnOwner, ..copy(shard, owners[0], owners[1], None) };
    create(&mut state, refill);
    assert!(state.pending_owners(shard).is_empty(), "the target owns the shard already");
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    assert_eq!(state.pending_owners(shard), vec![target]);
    assert!(state.pending_owners(shard + 1).is_empty() && state.pending_owners(shard - 1).is_empty());
    ok(&mut state, Command::CancelCopyTask { now: NOW + 1, task_id: task.id, reason: CancelReason::Operator });
    assert!(state.pending_owners(shard).is_empty(), "a cancelled copy takes no more writes");
}

#[test]
fn claims_take_the_most_urgent_first_and_stop_at_max() {
    let mut state = cluster(4, 1);
    let shards: Vec<_> = (0..3).map(|i| create_group(&mut state, i * H).0.shards[0].clone()).collect();
    let target = 4;
    for (priority, shard) in [3, 1, 2].into_iter().zip(&shards) {
        let spec = TaskSpec { priority, ..copy(shard.id, shard.owners[0], target, None) };
        if shard.owners.contains(&target) {
            continue;
        }
        create(&mut state, spec);
    }
    let open = state.open_tasks().count() as u32;
    let first = claim(&mut state, target, 1, NOW);
    assert_eq!(first.len(), 1);
    let lowest = state.open_tasks().map(|t| t.spec.priority).min();
    assert_eq!(Some(first[0].spec.priority), lowest);
    // The reply lists every task the node holds, so a retried claim loses nothing.
    let again = claim(&mut state, target, 1, NOW);
    assert_eq!(again, first);
    let all = claim(&mut state, target, 10, NOW);
    assert_eq!(all.len() as u32, open);
    assert!(all.windows(2).all(|w| w[0].spec.priority <= w[1].spec.priority));
}

#[test]
fn a_stale_attempt_cannot_complete_after_the_lease_expired() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    claim(&mut state, target, 10, NOW);

    // Nothing expires before the deadline.
    let early = ok(&mut state, Command::ExpireCopyTaskLeases { now: NOW + LEASE - 1 });
    assert_eq!(early, Response::Tasks(vec![]));
    let expired = ok(&mut state, Command::ExpireCopyTaskLeases { now: NOW + LEASE });
    assert!(matches!(expired, Response::Tasks(ref t) if t.len() == 1 && t[0].state == TaskState::Pending));

    let second = claim(&mut state, target, 10, NOW + LEASE + 1);
    assert_eq!(second[0].attempt, 2);
    let stale = Command::CompleteCopyTask { now: NOW + LEASE + 2, task_id: task.id, attempt: 1 };
    rejected(&mut state, stale, ApplyError::StaleAttempt { task_id: task.id, attempt: 1, current: 2 });
    let stale_fail = Command::FailCopyTask {
        now: NOW + LEASE + 2,
        task_id: task.id,
        attempt: 1,
        error: "old claimant".into(),
        retry: RETRY,
    };
    rejected(&mut state, stale_fail, ApplyError::StaleAttempt { task_id: task.id, attempt: 1, current: 2 });
    ok(&mut state, Command::CompleteCopyTask { now: NOW + LEASE + 3, task_id: task.id, attempt: 2 });
    assert_eq!(owners_of(&state, shard).len(), 3);
}

#[test]
fn renewing_moves_the_deadline_and_needs_the_current_attempt() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    claim(&mut state, target, 10, NOW);
    let renewed =
        ok(&mut state, Command::RenewCopyTaskLease { now: NOW + 10, task_id: task.id, attempt: 1, lease: LEASE });
    assert!(matches!(renewed, Response::Task(ref t) if t.lease_deadline == Some(NOW + 10 + LEASE)));
    let wrong = Command::RenewCopyTaskLease { now: NOW + 10, task_id: task.id, attempt: 7, lease: LEASE };
    rejected(&mut state, wrong, ApplyError::StaleAttempt { task_id: task.id, attempt: 7, current: 1 });
    let zero = Command::RenewCopyTaskLease { now: NOW, task_id: task.id, attempt: 1, lease: 0 };
    let want = ApplyError::InvalidDuration { field: "lease".into(), value: 0, reason: "must be positive".into() };
    rejected(&mut state, zero, want);
}

#[test]
fn failures_back_off_exponentially_then_fail_for_good() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    let mut now = NOW;
    for failure in 1..=RETRY.max_failures {
        let claimed = claim(&mut state, target, 10, now);
        assert_eq!(claimed.len(), 1, "failure {failure}: the task is offered again once its backoff passed");
        let fail = Command::FailCopyTask {
            now,
            task_id: task.id,
            attempt: claimed[0].attempt,
            error: "source unreachable".into(),
            retry: RETRY,
        };
        let Response::Task(after) = ok(&mut state, fail) else { panic!("not a task") };
        if failure < RETRY.max_failures {
            assert_eq!(after.state, TaskState::Pending);
            let backoff = RETRY.backoff(failure);
            assert_eq!(after.retry_at, Some(now + backoff));
            assert!(claim(&mut state, target, 10, now + backoff - 1).is_empty(), "claimed during backoff");
            now += backoff;
        } else {
            assert_eq!(after.state, TaskState::Failed);
            assert_eq!(after.last_error.as_deref(), Some("source unreachable"));
            assert!(after.blocks_replanning());
        }
    }
    // `entropy repair` supersedes the failed task, so the planner may plan the copy again.
    let superseded = ok(&mut state, Command::RetryShardRepair { now, shard_id: shard });
    assert!(matches!(superseded, Response::Tasks(ref t) if t.len() == 1));
    assert!(!state.copy_task(task.id).is_some_and(Task::blocks_replanning));
    create(&mut state, copy(shard, owners[0], target, None));
}

#[test]
fn cancelled_and_finished_tasks_refuse_further_transitions() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    ok(&mut state, Command::CancelCopyTask { now: NOW, task_id: task.id, reason: CancelReason::Operator });
    assert!(state.copy_task(task.id).is_some_and(Task::blocks_replanning));
    let again = Command::CancelCopyTask { now: NOW, task_id: task.id, reason: CancelReason::Operator };
    rejected(&mut state, again, ApplyError::TaskNotOpen { task_id: task.id, state: TaskState::Cancelled });
    let complete = Command::CompleteCopyTask { now: NOW, task_id: task.id, attempt: 0 };
    rejected(&mut state, complete, ApplyError::TaskNotClaimed { task_id: task.id, state: TaskState::Cancelled });
    let missing = Command::CancelCopyTask { now: NOW, task_id: 99, reason: CancelReason::Operator };
    rejected(&mut state, missing, ApplyError::TaskNotFound { task_id: 99 });
}

#[test]
fn specs_that_make_no_sense_are_refused_one_by_one() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let invalid = |reason: &str| ApplyError::InvalidCopyTask { reason: reason.to_owned() };
    assert_eq!(refused(&mut state, copy(99, owners[0], target, None)), ApplyError::ShardNotFound { shard_id: 99 });
    assert_eq!(
        refused(&mut state, copy(shard, owners[0], owners[0], None)),
        invalid(&format!("source and target are both node {}", owners[0]))
    );
    assert_eq!(
        refused(&mut state, copy(shard, 42, target, None)),
        ApplyError::DataNodeNotFound { node_id: 42 },
        "a source must be a known node (it need not own the shard)"
    );
    assert_eq!(
        refused(&mut state, copy(shard, owners[0], owners[1], None)),
        ApplyError::ShardOwnerExists { shard_id: shard, node_id: owners[1] }
    );
    assert_eq!(refused(&mut state, copy(shard, owners[0], 42, None)), ApplyError::DataNodeNotFound { node_id: 42 });
    assert_eq!(
        refused(&mut state, copy(shard, owners[0], target, Some(target))),
        invalid(&format!("the replaced node {target} must be another owner of shard {shard}"))
    );
    let refill = TaskSpec { reason: TaskReason::MissingOnOwner, ..copy(shard, owners[0], target, None) };
    assert_eq!(
        refused(&mut state, refill),
        invalid(&format!("node {target} does not own shard {shard}; nothing to refill"))
    );

    // One open task per copy; the refused spec does not stop the others of the batch.
    let first = create(&mut state, copy(shard, owners[0], target, None));
    let batch = vec![copy(shard, owners[1], target, None), copy(shard, owners[0], owners[1], None)];
    let Ok(Response::CopyTasksCreated { created, rejected }) =
        state.apply(&Command::CreateCopyTasks { now: NOW, tasks: batch })
    else {
        panic!("batch not applied")
    };
    assert!(created.is_empty());
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].error, ApplyError::CopyTaskExists { shard_id: shard, target, task_id: first.id });
}

#[test]
fn refilling_an_owner_keeps_the_owner_list() {
    let (mut state, shard, owners) = setup();
    let spec = TaskSpec { reason: TaskReason::MissingOnOwner, ..copy(shard, owners[0], owners[1], None) };
    let task = create(&mut state, spec);
    claim(&mut state, owners[1], 10, NOW);
    ok(&mut state, Command::CompleteCopyTask { now: NOW, task_id: task.id, attempt: 1 });
    assert_eq!(owners_of(&state, shard), owners);
}

#[test]
fn draining_ends_when_the_last_replacement_completes() {
    let (mut state, shard, owners) = setup();
    let draining = owners[1];
    let target = non_owner(&owners);
    // Drain: the node keeps all its shards until each is copied elsewhere.
    ok(&mut state, Command::RemoveDataNode { node_id: draining, force: false });
    let mut tasks = Vec::new();
    for shard_id in state.shards_owned_by(draining).collect::<Vec<_>>() {
        let view = state.shard(shard_id).expect("shard");
        let source = view.shard.owners.iter().copied().find(|&o| o != draining).unwrap_or(draining);
        let to = (1..=3).find(|n| !view.shard.owners.contains(n)).unwrap_or(target);
        let spec = TaskSpec { reason: TaskReason::DrainingOwner, ..copy(shard_id, source, to, Some(draining)) };
        tasks.push((create(&mut state, spec), to));
    }
    assert!(tasks.iter().any(|(t, _)| t.spec.shard_id == shard));
    for (task, to) in &tasks {
        assert_eq!(state.data_node(draining).map(|n| n.state), Some(NodeState::Draining));
        claim(&mut state, *to, 10, NOW);
        ok(&mut state, Command::CompleteCopyTask { now: NOW, task_id: task.id, attempt: 1 });
    }
    assert_eq!(state.data_node(draining).map(|n| n.state), Some(NodeState::Removed));
    assert_eq!(state.shards_owned_by(draining).count(), 0);
}

#[test]
fn open_tasks_are_withdrawn_when_their_shard_or_node_goes() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    ok(&mut state, Command::RemoveDataNode { node_id: target, force: true });
    let after = state.copy_task(task.id).expect("kept");
    assert_eq!((after.state, after.cancel_reason), (TaskState::Cancelled, Some(CancelReason::NodeRemoved)));

    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    claim(&mut state, target, 10, NOW);
    ok(&mut state, Command::DropShard { shard_id: shard });
    assert_eq!(state.copy_task(task.id).and_then(|t| t.cancel_reason), Some(CancelReason::ShardDropped));

    // Retention deleting the group while the task waits.
    let mut state = cluster(3, 2);
    let policy = RetentionPolicySpec { name: "short".into(), duration: HOUR, ..spec("short", 2) };
    ok(&mut state, Command::CreateRetentionPolicy { database: "db".into(), spec: policy, make_default: false });
    let command = Command::CreateShardGroup { database: "db".into(), retention_policy: "short".into(), timestamp: 0 };
    let Response::ShardGroup { group, .. } = ok(&mut state, command) else { panic!("no group") };
    let shard = &group.shards[0];
    let task = create(&mut state, copy(shard.id, shard.owners[0], non_owner(&shard.owners), None));
    ok(&mut state, Command::DeleteExpiredShardGroups { now: group.end + 2 * H });
    assert_eq!(state.copy_task(task.id).and_then(|t| t.cancel_reason), Some(CancelReason::ShardDropped));

    // The operator made the target an owner by hand: the copy is no longer needed.
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let task = create(&mut state, copy(shard, owners[0], target, None));
    ok(&mut state, Command::AddShardOwner { shard_id: shard, node_id: target });
    assert_eq!(state.copy_task(task.id).and_then(|t| t.cancel_reason), Some(CancelReason::NotNeeded));
}

#[test]
fn finished_tasks_are_pruned_but_blocking_ones_stay() {
    let mut state = cluster(2, 1);
    let (group, _) = create_group(&mut state, 0);
    let shard = &group.shards[0];
    let (source, target) = (shard.owners[0], 3 - shard.owners[0]);
    let killed = create(&mut state, copy(shard.id, source, target, None));
    ok(&mut state, Command::CancelCopyTask { now: NOW, task_id: killed.id, reason: CancelReason::Operator });
    ok(&mut state, Command::RetryShardRepair { now: NOW, shard_id: shard.id });
    let blocking = create(&mut state, copy(shard.id, source, target, None));
    ok(&mut state, Command::CancelCopyTask { now: NOW, task_id: blocking.id, reason: CancelReason::Operator });
    for _ in 0..FINISHED_TASKS_KEPT + 5 {
        ok(&mut state, Command::RetryShardRepair { now: NOW, shard_id: shard.id });
        let task = create(&mut state, copy(shard.id, source, target, None));
        ok(&mut state, Command::CancelCopyTask { now: NOW, task_id: task.id, reason: CancelReason::NotNeeded });
    }
    assert_eq!(state.tasks().len(), FINISHED_TASKS_KEPT);
    assert!(state.copy_task(killed.id).is_none(), "the oldest finished task is forgotten");
    assert_eq!(state.next_task_id(), FINISHED_TASKS_KEPT as u64 + 8);
}

#[test]
fn claims_need_an_active_node() {
    let (mut state, _, owners) = setup();
    ok(&mut state, Command::RemoveDataNode { node_id: owners[0], force: true });
    let claim = Command::ClaimCopyTasks { now: NOW, node_id: owners[0], max: 1, lease: LEASE };
    rejected(&mut state, claim, ApplyError::DataNodeNotActive { node_id: owners[0], state: NodeState::Removed });
    let unknown = Command::ClaimCopyTasks { now: NOW, node_id: 77, max: 1, lease: LEASE };
    rejected(&mut state, unknown, ApplyError::DataNodeNotFound { node_id: 77 });
}

#[test]
fn a_repair_reconciles_two_owners_and_changes_no_ownership() {
    let (mut state, shard, owners) = setup();
    let outsider = non_owner(&owners);
    let repair = |source, target| TaskSpec { reason: TaskReason::Inconsistent, ..copy(shard, source, target, None) };
    let create_repair =
        |state: &mut MetaState, spec| match ok(state, Command::CreateRepairTasks { now: NOW, tasks: vec![spec] }) {
            Response::CopyTasksCreated { created, rejected } => (created, rejected),
            other => panic!("unexpected {other:?}"),
        };
    // Only two distinct owners are repaired, and nothing is replaced.
    for bad in [
        repair(owners[0], outsider),
        repair(outsider, owners[0]),
        repair(owners[0], owners[0]),
        TaskSpec { replaces: Some(owners[1]), ..repair(owners[0], owners[1]) },
    ] {
        let (created, rejected) = create_repair(&mut state, bad);
        assert!(created.is_empty() && rejected.len() == 1, "{rejected:?}");
    }
    let (created, _) = create_repair(&mut state, repair(owners[0], owners[1]));
    let task = created.into_iter().next().expect("created");
    assert_eq!(task.kind, TaskKind::Repair);
    assert!(state.pending_owners(shard).is_empty(), "a repair adds no pending owner");

    // A node that runs copies only never receives a repair.
    assert!(claim(&mut state, owners[1], 10, NOW + 1).is_empty());
    let claim_kinds = Command::ClaimTasks {
        now: NOW + 1,
        node_id: owners[1],
        kinds: vec![TaskKind::Copy, TaskKind::Repair],
        max: 10,
        lease: LEASE,
    };
    let Response::Tasks(claimed) = ok(&mut state, claim_kinds) else { panic!("claimed") };
    assert_eq!(claimed.iter().map(|t| (t.id, t.attempt)).collect::<Vec<_>>(), vec![(task.id, 1)]);
    ok(&mut state, Command::CompleteCopyTask { now: NOW + 2, task_id: task.id, attempt: 1 });
    assert_eq!(owners_of(&state, shard), owners, "ownership is unchanged");
    assert_eq!(state.copy_task(task.id).map(|t| t.state), Some(TaskState::Done));

    // An open repair is withdrawn once its source no longer owns the shard.
    let (created, _) = create_repair(&mut state, repair(owners[1], owners[0]));
    let open = created.into_iter().next().expect("created");
    ok(&mut state, Command::RemoveShardOwner { shard_id: shard, node_id: owners[1] });
    let withdrawn = state.copy_task(open.id).expect("kept");
    assert_eq!((withdrawn.state, withdrawn.cancel_reason), (TaskState::Cancelled, Some(CancelReason::NotNeeded)));
}

#[test]
fn a_move_hands_a_shard_from_its_source_to_the_target_never_lowering_the_owners() {
    let (mut state, shard, owners) = setup();
    let target = non_owner(&owners);
    let source = owners[0];
    let spec = |source, target, replaces, reason| TaskSpec { reason, ..copy(shard, source, target, replaces) };
    let create_move =
        |state: &mut MetaState, spec| match ok(state, Command::CreateMoveTasks { now: NOW, tasks: vec![spec] }) {
            Response::CopyTasksCreated { created, rejected } => (created, rejected),
            other => panic!("unexpected {other:?}"),
        };
    // A move replaces its own source, an owner, is planned by rebalancing, and goes to a non-owner.
    for bad in [
        spec(source, target, None, TaskReason::Rebalance),
        spec(source, target, Some(owners[1]), TaskReason::Rebalance),
        spec(source, target, Some(source), TaskReason::DeadOwner),
        spec(source, owners[1], Some(source), TaskReason::Rebalance),
        spec(target, owners[1], Some(target), TaskReason::MisReplicated),
    ] {
        let before = state.clone();
        let (created, rejected) = create_move(&mut state, bad.clone());
        assert!(created.is_empty() && rejected.len() == 1, "{bad:?} gave {rejected:?}");
        assert_eq!(state, before);
    }
    let (created, _) = create_move(&mut state, spec(source, target, Some(source), TaskReason::Rebalance));
    let task = created.into_iter().next().expect("created");
    assert_eq!(task.kind, TaskKind::Move);
    assert_eq!(state.pending_owners(shard), vec![target], "writes reach the target while it copies");

    // A node that runs copies and repairs only never receives a move.
    let kinds =
        |kinds: Vec<TaskKind>| Command::ClaimTasks { now: NOW + 1, node_id: target, kinds, max: 10, lease: LEASE };
    let Response::Tasks(claimed) = ok(&mut state, kinds(vec![TaskKind::Copy, TaskKind::Repair])) else { panic!() };
    assert!(claimed.is_empty());
    let Response::Tasks(claimed) = ok(&mut state, kinds(vec![TaskKind::Move])) else { panic!() };
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![task.id]);
    assert_eq!(owners_of(&state, shard), owners, "the source owns the shard until the copy is done");
    ok(&mut state, Command::CompleteCopyTask { now: NOW + 2, task_id: task.id, attempt: 1 });
    let mut expected: Vec<NodeId> = owners.iter().copied().filter(|&o| o != source).chain([target]).collect();
    expected.sort_unstable();
    assert_eq!(owners_of(&state, shard), expected, "the target took the source's place in one step");

    // A move whose source stopped owning the shard is withdrawn.
    let (created, _) = create_move(&mut state, spec(target, source, Some(target), TaskReason::Rebalance));
    let open = created.into_iter().next().expect("created");
    ok(&mut state, Command::RemoveShardOwner { shard_id: shard, node_id: target });
    assert_eq!(
        state.copy_task(open.id).map(|t| (t.state, t.cancel_reason)),
        Some((TaskState::Cancelled, Some(CancelReason::NotNeeded)))
    );
}
