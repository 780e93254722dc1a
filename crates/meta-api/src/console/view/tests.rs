use std::collections::BTreeMap;

use meta_model::{Command, MetaState, RetentionPolicySpec, TaskReason, TaskSpec, HOUR};
use meta_wire::{DataNodeHealth, EntropyReport, Liveness, ShardHealth, ShardProblem, TaskProgress};

use super::{build, problems, with_version, Sources};

/// Three data nodes, one database with an RF 2 policy of 1 h groups, `hours` groups.
fn state(hours: i64) -> MetaState {
    let mut state = MetaState::new();
    for i in 1..=3 {
        let add = Command::AddDataNode {
            tcp_addr: format!("d{i}:8088"),
            http_addr: format!("d{i}:8086"),
            labels: BTreeMap::new(),
        };
        state.apply(&add).expect("node added");
    }
    let spec =
        RetentionPolicySpec { name: "rp".into(), duration: 0, shard_group_duration: Some(HOUR), replication_factor: 2 };
    state.apply(&Command::CreateDatabase { name: "db".into(), default_retention_policy: Some(spec) }).expect("db");
    for hour in 0..hours {
        let group = Command::CreateShardGroup {
            database: "db".into(),
            retention_policy: "rp".into(),
            timestamp: hour * HOUR as i64,
        };
        state.apply(&group).expect("group");
    }
    state
}

fn sources(report: Result<EntropyReport, String>, newest_groups: usize) -> Sources {
    let problems = report.as_ref().map(problems).unwrap_or_default();
    Sources { answered_by: 1, now: 5, meta_nodes: Vec::new(), report, problems, newest_groups }
}

/// The view with its version, as the handler serves it.
fn view(state: &MetaState, applied_index: u64, sources: Sources) -> meta_wire::ConsoleView {
    with_version(build(state, applied_index, sources))
}

fn health(id: u64, liveness: Liveness, last_heartbeat_ms: u64) -> DataNodeHealth {
    DataNodeHealth {
        id,
        addr: format!("d{id}:8086"),
        state: meta_model::NodeState::Active,
        liveness,
        last_heartbeat_ms: Some(last_heartbeat_ms),
        dead_in_ms: Some(20_000 - last_heartbeat_ms),
        version: Some("1".into()),
        shards_reported: Some(1),
        handoff: Vec::new(),
        orphans: Vec::new(),
    }
}

#[test]
fn the_map_shows_the_newest_groups_and_every_group_with_a_problem() {
    let state = state(10);
    let first_shard =
        state.databases()["db"].retention_policies["rp"].shard_groups.values().next().expect("a group").shards[0].id;
    let report = EntropyReport {
        under_replicated: vec![ShardHealth { shard_id: first_shard, live_copies: 1, desired: 2 }],
        inconsistent: vec![first_shard],
        ..EntropyReport::default()
    };
    let view = view(&state, 7, sources(Ok(report), 3));

    assert_eq!((view.shard_map.total_groups, view.applied_index), (10, 7));
    let starts: Vec<i64> = view.shard_map.groups.iter().map(|g| g.start / HOUR as i64).collect();
    assert_eq!(starts, [9, 8, 7, 0], "the three newest, newest first, then the one with a problem");
    let oldest = &view.shard_map.groups[3];
    assert_eq!(oldest.shards[0].problems, [ShardProblem::Inconsistent, ShardProblem::UnderReplicated], "worst first");
    assert!(view.shard_map.groups[..3].iter().all(|g| g.shards.iter().all(|s| s.problems.is_empty())));
    assert!(view
        .shard_map
        .groups
        .iter()
        .all(|g| g.replication_factor == 2 && g.shards.iter().all(|s| s.owners.len() == 2)));
}

#[test]
fn data_nodes_join_the_metadata_with_the_leaders_judgement() {
    let state = state(3);
    let report = EntropyReport { nodes: vec![health(2, Liveness::Dead, 12_000)], ..EntropyReport::default() };
    let view = view(&state, 1, sources(Ok(report), 24));
    let owned: usize = view.data_nodes.iter().map(|n| n.shards_owned).sum();
    assert_eq!(owned, 3 * 2, "three groups of one shard, two owners each");
    assert_eq!(view.data_nodes.iter().map(|n| n.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(view.data_nodes[1].liveness, Some(Liveness::Dead));
    assert_eq!(view.data_nodes[1].last_heartbeat_ms, Some(12_000));
    assert!(view.data_nodes[0].liveness.is_none(), "the report does not mention node 1");
    assert!(view.entropy.is_some() && view.entropy_error.is_none());

    let leaderless = self::view(&state, 1, sources(Err("no raft leader".into()), 24));
    assert_eq!(leaderless.entropy_error.as_deref(), Some("no raft leader"));
    assert!(leaderless.data_nodes.iter().all(|n| n.liveness.is_none()));
}

#[test]
fn the_queue_lists_tasks_newest_first_with_the_progress_of_open_ones() {
    let mut state = state(1);
    let shard = state.databases()["db"].retention_policies["rp"].shard_groups.values().next().expect("a group").shards
        [0]
    .clone();
    let target = (1..=3).find(|n| !shard.owners.contains(n)).expect("a node that is no owner");
    let spec = TaskSpec {
        shard_id: shard.id,
        source: shard.owners[0],
        target,
        replaces: None,
        priority: 1,
        reason: TaskReason::Operator,
    };
    state.apply(&Command::CreateCopyTasks { now: 1, tasks: vec![spec] }).expect("task");
    let task_id = *state.tasks().keys().next().expect("created");
    let progress = TaskProgress { bytes_done: 10, bytes_total: 40, age_ms: 3, bytes_per_sec: Some(5) };
    let report = EntropyReport {
        tasks: vec![meta_wire::CopyTaskInfo {
            task: state.tasks()[&task_id].clone(),
            progress: Some(progress.clone()),
        }],
        ..EntropyReport::default()
    };
    let view = view(&state, 1, sources(Ok(report), 24));
    assert_eq!(view.tasks.len(), 1);
    assert_eq!(view.task_counts, meta_wire::TaskCounts { kept: 1, open: 1 });
    assert_eq!(view.tasks[0].progress, Some(progress));
    assert_eq!(view.shard_map.groups[0].shards[0].copying_to, [target]);
}

#[test]
fn the_version_changes_with_what_is_shown_but_not_with_the_clock() {
    let state = state(2);
    let report = |liveness, heard_ms| EntropyReport {
        nodes: vec![health(2, liveness, heard_ms)],
        planned_at: Some(heard_ms as i64),
        ..EntropyReport::default()
    };
    let first = view(&state, 1, sources(Ok(report(Liveness::Online, 100)), 24));
    let later = view(&state, 1, Sources { now: 99, ..sources(Ok(report(Liveness::Online, 900)), 24) });
    assert_eq!(first.version, later.version, "only clocks moved");
    let suspect = view(&state, 1, sources(Ok(report(Liveness::Suspect, 900)), 24));
    assert_ne!(first.version, suspect.version, "a node turned suspect");
    let grown = view(&self::state(3), 2, sources(Ok(report(Liveness::Online, 100)), 24));
    assert_ne!(first.version, grown.version, "a group was created");
}

#[test]
fn groups_with_problems_are_capped_the_worst_first() {
    let state = state(300);
    let first_shards: Vec<u64> =
        state.databases()["db"].retention_policies["rp"].shard_groups.values().map(|g| g.shards[0].id).collect();
    let newest = *first_shards.last().expect("a shard");
    let report = EntropyReport {
        under_replicated: first_shards
            .iter()
            .map(|&shard_id| ShardHealth { shard_id, live_copies: 1, desired: 2 })
            .collect(),
        unrecoverable: vec![newest],
        ..EntropyReport::default()
    };
    let view = view(&state, 1, sources(Ok(report), 0));
    assert_eq!(view.shard_map.groups.len(), super::MAX_PROBLEM_GROUPS, "300 groups with a problem, 200 shown");
    let shown: Vec<u64> = view.shard_map.groups.iter().map(|g| g.shards[0].shard_id).collect();
    assert!(shown.contains(&newest), "the unrecoverable shard's group is among them");
    assert_eq!(view.entropy.map(|e| (e.under_replicated, e.unrecoverable)), Some((300, 1)), "counted in full");
}
