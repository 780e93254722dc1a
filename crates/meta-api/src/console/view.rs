//! Builds the console's view from this node's metadata, the leader's anti-entropy report and the
//! meta nodes' own statuses: pure, so every rule of what is shown is tested without a cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use meta_model::{MetaState, NodeId, ShardGroupId, ShardId, Timestamp};
use meta_wire::{
    ConsoleView, CopyTaskInfo, DataNodeView, EntropyReport, GroupRow, MetaNodeHealth, ShardMap, ShardProblem, ShardRow,
};

/// Most tasks the repair queue shows (newest first; the metadata keeps recent finished ones).
pub(crate) const MAX_TASKS: usize = 200;
/// Most groups with a problem the shard map shows besides the newest ones.
pub(crate) const MAX_PROBLEM_GROUPS: usize = 200;

/// What the view is built from besides the metadata.
pub(crate) struct Sources {
    /// The node answering.
    pub(crate) answered_by: NodeId,
    /// Its wall clock.
    pub(crate) now: Timestamp,
    /// Every meta node's own status.
    pub(crate) meta_nodes: Vec<MetaNodeHealth>,
    /// The leader's report, or why there is none.
    pub(crate) report: Result<EntropyReport, String>,
    /// How many of the newest groups the shard map shows.
    pub(crate) newest_groups: usize,
}

/// The console's view of `state` (applied up to `applied_index`).
pub(crate) fn build(state: &MetaState, applied_index: u64, sources: Sources) -> ConsoleView {
    let Sources { answered_by, now, meta_nodes, report, newest_groups } = sources;
    let (entropy, entropy_error) = match report {
        Ok(report) => (Some(report), None),
        Err(error) => (None, Some(error)),
    };
    let mut view = ConsoleView {
        version: String::new(),
        answered_by,
        generated_at: now,
        applied_index,
        meta_nodes,
        data_nodes: data_nodes(state, entropy.as_ref()),
        tasks: tasks(state, entropy.as_ref()),
        shard_map: shard_map(state, entropy.as_ref(), newest_groups),
        entropy,
        entropy_error,
    };
    view.version = version(&view);
    view
}

fn data_nodes(state: &MetaState, report: Option<&EntropyReport>) -> Vec<DataNodeView> {
    let health: HashMap<NodeId, _> = report.map(|r| r.nodes.iter().map(|n| (n.id, n)).collect()).unwrap_or_default();
    state
        .data_nodes()
        .values()
        .map(|node| DataNodeView {
            id: node.id,
            addr: node.http_addr.clone(),
            state: node.state,
            shards_owned: state.owned_shard_count(node.id),
            health: health.get(&node.id).map(|&h| h.clone()),
        })
        .collect()
}

fn tasks(state: &MetaState, report: Option<&EntropyReport>) -> Vec<CopyTaskInfo> {
    let progress: HashMap<_, _> =
        report.map(|r| r.tasks.iter().map(|t| (t.task.id, t.progress.clone())).collect()).unwrap_or_default();
    state
        .tasks()
        .values()
        .rev()
        .take(MAX_TASKS)
        .map(|task| CopyTaskInfo {
            task: task.clone(),
            progress: if task.state.is_open() { progress.get(&task.id).cloned().flatten() } else { None },
        })
        .collect()
}

/// Each shard the report names, with what it found.
fn problems(report: &EntropyReport) -> BTreeMap<ShardId, BTreeSet<ShardProblem>> {
    let mut problems: BTreeMap<ShardId, BTreeSet<ShardProblem>> = BTreeMap::new();
    let mut mark = |shard: ShardId, problem: ShardProblem| {
        problems.entry(shard).or_default().insert(problem);
    };
    report.under_replicated.iter().for_each(|s| mark(s.shard_id, ShardProblem::UnderReplicated));
    report.unrecoverable.iter().for_each(|&s| mark(s, ShardProblem::Unrecoverable));
    report.inconsistent.iter().for_each(|&s| mark(s, ShardProblem::Inconsistent));
    report.missing_on_owner.iter().for_each(|m| mark(m.shard_id, ShardProblem::MissingOnOwner));
    report.mis_replicated.iter().for_each(|m| mark(m.shard_id, ShardProblem::MisReplicated));
    report.over_replicated.iter().for_each(|s| mark(s.shard_id, ShardProblem::OverReplicated));
    problems
}

fn shard_map(state: &MetaState, report: Option<&EntropyReport>, newest: usize) -> ShardMap {
    let problems = report.map(problems).unwrap_or_default();
    let copying: BTreeMap<ShardId, Vec<NodeId>> = state.open_tasks().fold(BTreeMap::new(), |mut copying, task| {
        copying.entry(task.spec.shard_id).or_default().push(task.spec.target);
        copying
    });

    // The newest groups of the cluster: each policy's newest `newest` (IDs grow with creation),
    // then the newest of those by start time.
    let mut total_groups = 0;
    let mut total_shards = 0;
    let mut candidates: Vec<(Timestamp, ShardGroupId)> = Vec::new();
    for database in state.databases().values() {
        for policy in database.retention_policies.values() {
            for group in policy.live_groups() {
                total_groups += 1;
                total_shards += group.shards.len();
            }
            let live = policy.shard_groups.values().rev().filter(|g| !g.is_deleted());
            candidates.extend(live.take(newest).map(|g| (g.start, g.id)));
        }
    }
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    let mut shown: BTreeSet<ShardGroupId> = candidates.into_iter().take(newest).map(|(_, id)| id).collect();
    let problem_groups: BTreeSet<ShardGroupId> =
        problems.keys().filter_map(|&shard| state.shard(shard)).map(|view| view.group.id).collect();
    shown.extend(problem_groups.into_iter().take(MAX_PROBLEM_GROUPS));

    let mut groups = Vec::with_capacity(shown.len());
    for (name, database) in state.databases() {
        for (policy_name, policy) in &database.retention_policies {
            for group in policy.live_groups().filter(|g| shown.contains(&g.id)) {
                let shards = group
                    .shards
                    .iter()
                    .map(|shard| ShardRow {
                        shard_id: shard.id,
                        owners: shard.owners.clone(),
                        copying_to: copying.get(&shard.id).cloned().unwrap_or_default(),
                        problems: problems.get(&shard.id).map(|p| p.iter().copied().collect()).unwrap_or_default(),
                    })
                    .collect();
                groups.push(GroupRow {
                    database: name.clone(),
                    retention_policy: policy_name.clone(),
                    replication_factor: policy.replication_factor,
                    group_id: group.id,
                    start: group.start,
                    end: group.end,
                    shards,
                });
            }
        }
    }
    groups.sort_by(|a, b| {
        (&a.database, &a.retention_policy).cmp(&(&b.database, &b.retention_policy)).then(b.start.cmp(&a.start))
    });
    ShardMap { total_groups, total_shards, groups }
}

/// A fingerprint of what the view shows, leaving out what moves with the clock alone (heartbeat
/// ages, countdowns to death, report ages, when the plan ran): a console waiting for a change is
/// not woken by time passing, and counts those down itself.
fn version(view: &ConsoleView) -> String {
    let mut shown = view.clone();
    shown.generated_at = 0;
    let health = shown.data_nodes.iter_mut().filter_map(|n| n.health.as_mut());
    for node in health.chain(shown.entropy.iter_mut().flat_map(|r| r.nodes.iter_mut())) {
        node.last_heartbeat_ms = None;
        node.dead_in_ms = None;
    }
    let progress = shown.entropy.iter_mut().flat_map(|r| r.tasks.iter_mut()).chain(shown.tasks.iter_mut());
    for progress in progress.filter_map(|t| t.progress.as_mut()) {
        progress.age_ms = 0;
    }
    if let Some(report) = shown.entropy.as_mut() {
        (report.planned_at, report.plan_micros, report.full_plan_input_micros) = (None, None, None);
    }
    let mut hasher = DefaultHasher::new();
    // The wire form is deterministic (ordered maps, fixed field order); encoding cannot fail.
    serde_json::to_vec(&shown).unwrap_or_default().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests;
