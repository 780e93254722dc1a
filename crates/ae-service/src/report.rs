//! What operators read of the service: copy tasks with their progress, and the entropy report
//! (`entropy show`): the last plans' findings, open tasks, and each data node's health.

use std::collections::BTreeSet;

use ae_planner::{BalanceReport, BalanceStatus, Inventory, ShardCopy, ShardHealth as PlannedHealth};
use meta_model::{BalancePolicy, MetaState, NodeId, ShardId, Task, Timestamp};
use meta_wire::{
    BalanceState, BalanceView, ContentDifference, ContentReport, CopyContent, CopyTaskInfo, DataNodeHealth,
    EntropyReport, LifecycleSummary, LoadVerdict, MisReplicatedShard, MissingCopy, NodeLoad, ShardHealth,
};

use crate::port::MetaPort;
use crate::service::{micros, millis, now, AntiEntropy};

impl AntiEntropy {
    /// The kept tasks that `keep` selects, by ID, with their progress.
    pub(crate) fn task_infos<P: MetaPort>(
        &self,
        port: &P,
        term: u64,
        keep: impl Fn(&Task) -> bool,
    ) -> Vec<CopyTaskInfo> {
        let now = now();
        port.read(|state| {
            let t = self.term(term);
            state
                .tasks()
                .values()
                .filter(|task| keep(task))
                .map(|task| CopyTaskInfo {
                    progress: t.tracker.progress_of(now, task.id, task.attempt),
                    task: task.clone(),
                })
                .collect()
        })
    }

    /// The entropy report of this leader.
    pub(crate) fn entropy_report<P: MetaPort>(&self, port: &P, term: u64) -> EntropyReport {
        let tasks = self.task_infos(port, term, |task| task.state.is_open() || task.blocks_replanning());
        let now = now();
        let settings = &self.settings;
        let wall = port.wall_clock();
        port.read(|state| {
            let t = self.term(term);
            let report = t.findings.report();
            let health = |list: &[PlannedHealth]| -> Vec<ShardHealth> {
                list.iter()
                    .map(|h| ShardHealth { shard_id: h.shard, live_copies: h.live_copies, desired: h.desired })
                    .collect()
            };
            let nodes = state
                .data_nodes()
                .values()
                .filter(|n| n.is_member())
                .map(|n| DataNodeHealth {
                    id: n.id,
                    addr: n.http_addr.clone(),
                    state: n.state,
                    liveness: t.tracker.liveness(now, n.id, settings),
                    last_heartbeat_ms: t.tracker.silence(now, n.id).map(millis),
                    dead_in_ms: t.tracker.dead_in(now, n.id, settings).map(millis),
                    version: t.tracker.version(n.id).map(str::to_owned),
                    shards_reported: t.tracker.inventory(n.id).map(|i| i.shards.len()),
                    handoff: t.tracker.handoff(n.id).to_vec(),
                    orphans: t.tracker.orphans(n.id).to_vec(),
                })
                .collect::<Vec<_>>();
            let dropped: BTreeSet<ShardId> =
                nodes.iter().flat_map(|n| &n.handoff).flat_map(|q| q.dropped_shards.iter().copied()).collect();
            EntropyReport {
                leader_id: self.node_id,
                trusted: t.tracker.trusted(now, settings),
                planned_at: t.findings.planned_at(),
                plan_micros: t.findings.last_duration().map(micros),
                full_plan_input_micros: t.findings.last_full_input().map(micros),
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
                lifecycle: lifecycle_summary(state, wall),
                inconsistent: report.inconsistent.clone(),
                content: content_report(state, wall, &dropped, |node| t.tracker.inventory(node)),
                failure_domains: state.placement().failure_domains.clone(),
                mis_replicated: report
                    .mis_replicated
                    .iter()
                    .map(|m| MisReplicatedShard {
                        shard_id: m.shard,
                        level: state.placement().failure_domains.get(m.level as usize).cloned().unwrap_or_default(),
                        owners: state.shard(m.shard).map(|v| v.shard.owners.clone()).unwrap_or_default(),
                    })
                    .collect(),
                balance: balance_view(state.placement().balance, t.findings.balance()),
            }
        })
    }
}

/// The balance policy with the last full plan's findings and when it ran.
fn balance_view(policy: BalancePolicy, found: Option<(&BalanceReport, Timestamp)>) -> Option<BalanceView> {
    let verdict = |v: ae_planner::LoadVerdict| match v {
        ae_planner::LoadVerdict::Within => LoadVerdict::Within,
        ae_planner::LoadVerdict::Over => LoadVerdict::Over,
        ae_planner::LoadVerdict::Under => LoadVerdict::Under,
    };
    let planned_at = found.map(|(_, at)| at);
    let found = found.map(|(b, _)| b);
    let nodes = found.map(|b| b.nodes.as_slice()).unwrap_or_default().iter().map(|n| NodeLoad {
        node_id: n.node,
        shards: n.shards,
        bytes: n.bytes,
        shards_verdict: verdict(n.shards_verdict),
        bytes_verdict: verdict(n.bytes_verdict),
    });
    let (state, why, moves_in_flight) = match found {
        _ if !policy.enabled => (BalanceState::Disabled, "balance disable".to_owned(), 0),
        None => return None,
        Some(found) => {
            let state = match found.status {
                BalanceStatus::Balanced => BalanceState::Balanced,
                BalanceStatus::Moving => BalanceState::Moving,
                BalanceStatus::Limited => BalanceState::Limited,
                BalanceStatus::Waiting => BalanceState::Waiting,
            };
            (state, found.why.clone(), found.moves_in_flight)
        }
    };
    Some(BalanceView { policy, state, why, moves_in_flight, planned_at, nodes: nodes.collect() })
}

/// The content status of every live, written shard (see [`ContentReport`]) from the owners'
/// trusted inventories (`inventory`); `dropped` holds the shards hinted-handoff queues dropped
/// writes for.
fn content_report<'i>(
    state: &MetaState,
    wall: Timestamp,
    dropped: &BTreeSet<ShardId>,
    inventory: impl Fn(NodeId) -> Option<&'i Inventory>,
) -> ContentReport {
    let mut report = ContentReport::default();
    let mut written = state.written_marks();
    for policy in state.databases().values().flat_map(|d| d.retention_policies.values()) {
        let live = policy.shard_groups.values().filter(|g| !g.is_deleted() && !policy.is_expired(g, wall));
        for shard in live.flat_map(|g| g.shards.iter()).filter(|s| written.is_written(s.id)) {
            let copies: Option<Vec<(NodeId, &ShardCopy)>> =
                shard.owners.iter().map(|&o| Some((o, inventory(o)?.shards.get(&shard.id)?))).collect();
            let Some(copies) = copies.filter(|c| !c.is_empty()) else {
                report.unknown += 1;
                if dropped.contains(&shard.id) {
                    report.awaiting_check.push(shard.id);
                }
                continue;
            };
            let cold: Option<Vec<CopyContent>> = copies
                .iter()
                .map(|&(node_id, copy)| Some(CopyContent { node_id, points: copy.points, root: copy.content? }))
                .collect();
            let consistent = cold.as_ref().is_some_and(|cold| cold.iter().all(|c| c.root == cold[0].root));
            if !consistent && dropped.contains(&shard.id) {
                report.awaiting_check.push(shard.id);
            }
            match cold {
                None => report.hot += 1,
                Some(_) if consistent => report.consistent += 1,
                Some(copies) => {
                    report.inconsistent += 1;
                    let most = copies.iter().map(|c| c.points).max().unwrap_or(0);
                    let least = copies.iter().map(|c| c.points).min().unwrap_or(0);
                    report.differing.push(ContentDifference { shard_id: shard.id, copies, points_apart: most - least });
                }
            }
        }
    }
    report.differing.sort_by_key(|d| d.shard_id);
    report.awaiting_check.sort_unstable();
    report
}

/// The groups truncated, expired at `wall` or deleted, and the shards the planner leaves out.
fn lifecycle_summary(state: &MetaState, wall: Timestamp) -> LifecycleSummary {
    let mut summary = LifecycleSummary::default();
    for policy in state.databases().values().flat_map(|d| d.retention_policies.values()) {
        for group in policy.shard_groups.values() {
            let retired = if group.is_deleted() {
                summary.deleted_groups += 1;
                true
            } else if policy.is_expired(group, wall) {
                summary.expired_groups += 1;
                true
            } else {
                summary.truncated_groups += u64::from(group.is_truncated());
                false
            };
            if retired {
                summary.shards_not_planned += group.shards.len() as u64;
            }
        }
    }
    summary
}
