//! Builds the console's view from this node's metadata, the leader's anti-entropy report and the
//! meta nodes' own statuses: pure, so every rule of what is shown is tested without a cluster.
//!
//! The view is bounded whatever the cluster's size: counts of the report's findings (not their
//! lists), the newest [`MAX_TASKS`] tasks, the newest groups asked for and at most
//! [`MAX_PROBLEM_GROUPS`] groups with a problem.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use meta_model::{MetaState, NodeId, ShardGroupId, ShardId, Timestamp};
use meta_wire::{
    ConsoleView, CopyTaskInfo, DataNodeHealth, DataNodeView, EntropyReport, EntropySummary, GroupRow, HandoffView,
    MetaNodeHealth, ShardMap, ShardProblem, ShardRow, TaskCounts,
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
    /// What the report found wrong, by shard ([`problems`]: worked out before the state's read
    /// lock is taken).
    pub(crate) problems: Problems,
    /// How many of the newest groups the shard map shows.
    pub(crate) newest_groups: usize,
}

/// The console's view of `state` (applied up to `applied_index`), without its version: run
/// under the state's read lock, so [`with_version`] runs after it.
pub(crate) fn build(state: &MetaState, applied_index: u64, sources: Sources) -> ConsoleView {
    let Sources { answered_by, now, meta_nodes, report, problems, newest_groups } = sources;
    let (report, entropy_error) = match report {
        Ok(report) => (Some(report), None),
        Err(error) => (None, Some(error)),
    };
    let report = report.as_ref();
    ConsoleView {
        version: String::new(),
        answered_by,
        generated_at: now,
        applied_index,
        meta_nodes,
        data_nodes: data_nodes(state, report),
        tasks: tasks(state, report),
        task_counts: TaskCounts { kept: state.tasks().len(), open: state.open_tasks().count() },
        shard_map: shard_map(state, &problems, newest_groups),
        entropy: report.map(summary),
        entropy_error,
    }
}

/// `view` with its version: a fingerprint of what it shows, leaving out what moves with the
/// clock alone (heartbeat ages, countdowns to death, progress-report ages, when the plan ran and
/// how long it took, when the view was built). A console waiting for a change is not woken by
/// time passing; it counts those down itself.
pub(crate) fn with_version(mut view: ConsoleView) -> ConsoleView {
    let mut shown = view.clone();
    shown.generated_at = 0;
    for node in &mut shown.data_nodes {
        (node.last_heartbeat_ms, node.dead_in_ms) = (None, None);
    }
    for progress in shown.tasks.iter_mut().filter_map(|t| t.progress.as_mut()) {
        (progress.age_ms, progress.bytes_per_sec) = (0, None);
    }
    if let Some(summary) = shown.entropy.as_mut() {
        (summary.planned_at, summary.plan_micros) = (None, None);
    }
    let mut hasher = DefaultHasher::new();
    // The wire form is deterministic (ordered maps, fixed field order); encoding cannot fail.
    serde_json::to_vec(&shown).unwrap_or_default().hash(&mut hasher);
    view.version = format!("{:016x}", hasher.finish());
    view
}

fn summary(report: &EntropyReport) -> EntropySummary {
    EntropySummary {
        leader_id: report.leader_id,
        trusted: report.trusted,
        planned_at: report.planned_at,
        plan_micros: report.plan_micros,
        under_replicated: report.under_replicated.len(),
        unrecoverable: report.unrecoverable.len(),
        inconsistent: report.inconsistent.len(),
        missing_on_owner: report.missing_on_owner.len(),
        mis_replicated: report.mis_replicated.len(),
        over_replicated: report.over_replicated.len(),
        insufficient_nodes: report.insufficient_nodes.len(),
    }
}

fn data_nodes(state: &MetaState, report: Option<&EntropyReport>) -> Vec<DataNodeView> {
    let health: HashMap<NodeId, &DataNodeHealth> =
        report.map(|r| r.nodes.iter().map(|n| (n.id, n)).collect()).unwrap_or_default();
    state
        .data_nodes()
        .values()
        .map(|node| {
            let health = health.get(&node.id);
            DataNodeView {
                id: node.id,
                addr: node.http_addr.clone(),
                state: node.state,
                shards_owned: state.owned_shard_count(node.id),
                liveness: health.map(|h| h.liveness),
                last_heartbeat_ms: health.and_then(|h| h.last_heartbeat_ms),
                dead_in_ms: health.and_then(|h| h.dead_in_ms),
                version: health.and_then(|h| h.version.clone()),
                shards_reported: health.and_then(|h| h.shards_reported),
                handoff: health
                    .map(|h| {
                        h.handoff
                            .iter()
                            .map(|q| HandoffView {
                                target: q.target,
                                entries: q.entries,
                                bytes: q.bytes,
                                dropped_entries: q.dropped_entries,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
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

/// What the report found wrong, by shard; each shard's problems worst first.
pub(crate) type Problems = BTreeMap<ShardId, BTreeSet<ShardProblem>>;

/// Each shard the report names, with what it found.
pub(crate) fn problems(report: &EntropyReport) -> Problems {
    let mut problems: BTreeMap<ShardId, BTreeSet<ShardProblem>> = BTreeMap::new();
    let mut mark = |shard: ShardId, problem: ShardProblem| {
        problems.entry(shard).or_default().insert(problem);
    };
    report.unrecoverable.iter().for_each(|&s| mark(s, ShardProblem::Unrecoverable));
    report.inconsistent.iter().for_each(|&s| mark(s, ShardProblem::Inconsistent));
    report.under_replicated.iter().for_each(|s| mark(s.shard_id, ShardProblem::UnderReplicated));
    report.missing_on_owner.iter().for_each(|m| mark(m.shard_id, ShardProblem::MissingOnOwner));
    report.mis_replicated.iter().for_each(|m| mark(m.shard_id, ShardProblem::MisReplicated));
    report.over_replicated.iter().for_each(|s| mark(s.shard_id, ShardProblem::OverReplicated));
    problems
}

fn shard_map(state: &MetaState, problems: &Problems, newest: usize) -> ShardMap {
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
    // Then the groups of the shards with a problem, the worst kinds first (the map's order of
    // problems), until the cap: never more lookups than that takes.
    let mut worst_first: Vec<(&ShardProblem, ShardId)> =
        problems.iter().filter_map(|(&shard, found)| found.iter().next().map(|worst| (worst, shard))).collect();
    worst_first.sort_unstable();
    let mut problem_groups = BTreeSet::new();
    for (_, shard) in worst_first {
        if problem_groups.len() == MAX_PROBLEM_GROUPS {
            break;
        }
        if let Some(view) = state.shard(shard) {
            problem_groups.insert(view.group.id);
        }
    }
    shown.extend(problem_groups);

    let mut groups = Vec::with_capacity(shown.len());
    for (name, database) in state.databases() {
        for (policy_name, policy) in &database.retention_policies {
            let shown_here = shown.iter().filter_map(|id| policy.shard_groups.get(id)).filter(|g| !g.is_deleted());
            for group in shown_here {
                let shards = group
                    .shards
                    .iter()
                    .map(|shard| ShardRow {
                        shard_id: shard.id,
                        owners: shard.owners.clone(),
                        copying_to: state.pending_owners(shard.id),
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

#[cfg(test)]
mod tests;
