//! What the leader's planning rounds found, kept for `entropy show` and `/metrics`: the report of
//! the last full plan, patched by the incremental plans since, plus counters.

use std::collections::BTreeSet;
use std::time::Duration;

use ae_planner::{BalanceReport, BalanceStatus, Report, ShardId};
use meta_model::Timestamp;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Findings and counters of the planning rounds of one leadership term.
/// What one planning round cost.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RoundCost {
    /// Building the planner's input from the state.
    pub(crate) input: Duration,
    /// The input and the plan.
    pub(crate) total: Duration,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Findings {
    report: Report,
    /// Rebalancing as the last full round found it, and when that round ran.
    balance: Option<(BalanceReport, Timestamp)>,
    moves_planned: u64,
    planned_at: Option<Timestamp>,
    last_duration: Option<Duration>,
    /// How long the last full round took to build its input from the state.
    last_full_input: Option<Duration>,
    plans: u64,
    turns: u64,
    tasks_created: u64,
    bytes_copied: u64,
}

impl Findings {
    /// Records a round's report: a full round replaces everything (its balance findings too), a
    /// scoped one only its shards. Returns the shards that became unrecoverable with this round.
    pub(crate) fn record(
        &mut self,
        scope: Option<&[ShardId]>,
        report: Report,
        balance: Option<BalanceReport>,
        at: Timestamp,
        cost: RoundCost,
    ) -> Vec<ShardId> {
        if scope.is_none() {
            self.balance = balance.map(|b| (b, at));
            self.last_full_input = Some(cost.input);
        }
        let known: BTreeSet<ShardId> = self.report.unrecoverable.iter().copied().collect();
        let newly = report.unrecoverable.iter().copied().filter(|s| !known.contains(s)).collect();
        match scope {
            None => self.report = report,
            Some(shards) => {
                let scoped: BTreeSet<ShardId> = shards.iter().copied().collect();
                merge(&mut self.report, &scoped, report);
            }
        }
        self.planned_at = Some(at);
        self.last_duration = Some(cost.total);
        self.plans += 1;
        newly
    }

    /// Counts a turn of the service's loop (it woke up while leading).
    pub(crate) fn turned(&mut self) {
        self.turns += 1;
    }

    /// Counts tasks created from plans, `moves` of them moves.
    pub(crate) fn created(&mut self, tasks: usize, moves: usize) {
        self.tasks_created += tasks as u64;
        self.moves_planned += moves as u64;
    }

    /// Rebalancing as the last full round found it, and when it ran.
    pub(crate) fn balance(&self) -> Option<(&BalanceReport, Timestamp)> {
        self.balance.as_ref().map(|(b, at)| (b, *at))
    }

    /// Whether the last full round was moving shards: a finished task then asks for another.
    pub(crate) fn balancing(&self) -> bool {
        self.balance.as_ref().is_some_and(|(b, _)| b.status == BalanceStatus::Moving)
    }

    /// Counts the bytes of a completed copy.
    pub(crate) fn copied(&mut self, bytes: u64) {
        self.bytes_copied = self.bytes_copied.saturating_add(bytes);
    }

    /// Shards the last rounds found in need of work (under-replicated, short of nodes, missing on
    /// an owner): worth another look when a node joins or changes, or a task frees its slots.
    pub(crate) fn needy(&self) -> Vec<ShardId> {
        let report = &self.report;
        let health = report.under_replicated.iter().chain(&report.insufficient_nodes).map(|h| h.shard);
        health.chain(report.missing_on_owner.iter().map(|m| m.0)).collect()
    }

    /// The current report.
    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// When the last round ran.
    pub(crate) fn planned_at(&self) -> Option<Timestamp> {
        self.planned_at
    }

    /// How long the last round took.
    pub(crate) fn last_duration(&self) -> Option<Duration> {
        self.last_duration
    }

    /// How long the last full round took to build its input.
    pub(crate) fn last_full_input(&self) -> Option<Duration> {
        self.last_full_input
    }

    /// Registers the findings (gauges) and counters.
    pub(crate) fn register(&self, registry: &mut Registry, trusted: bool) {
        let report = &self.report;
        let gauges = [
            ("metad_ae_trusted", "1 once the leader's grace period is over", usize::from(trusted)),
            (
                "metad_ae_under_replicated_shards",
                "Shards below their replication factor",
                report.under_replicated.len(),
            ),
            ("metad_ae_unrecoverable_shards", "Shards with no live copy anywhere", report.unrecoverable.len()),
            (
                "metad_ae_inconsistent_shards",
                "Shards whose owners' cold copies hold different points",
                report.inconsistent.len(),
            ),
            (
                "metad_ae_mis_replicated_shards",
                "Shards whose owners share a failure domain they could have avoided",
                report.mis_replicated.len(),
            ),
            (
                "metad_ae_missing_on_owner",
                "Owners whose inventory lacks a shard they own",
                report.missing_on_owner.len(),
            ),
            (
                "metad_ae_insufficient_nodes_shards",
                "Shards whose RF exceeds the eligible nodes",
                report.insufficient_nodes.len(),
            ),
            (
                "metad_ae_over_replicated_shards",
                "Shards with more live copies than desired",
                report.over_replicated.len(),
            ),
            (
                "metad_ae_balance_moves_in_flight",
                "Move tasks in flight after the last full plan (those it created included)",
                self.balance.as_ref().map_or(0, |(b, _)| b.moves_in_flight as usize),
            ),
            (
                "metad_ae_balance_nodes_outside_tolerance",
                "Active data nodes whose shard count or bytes lie outside the balance tolerance",
                self.balance.as_ref().map_or(0, |(b, _)| {
                    let outside = |n: &&ae_planner::NodeLoad| {
                        n.shards_verdict != ae_planner::LoadVerdict::Within
                            || n.bytes_verdict != ae_planner::LoadVerdict::Within
                    };
                    b.nodes.iter().filter(outside).count()
                }),
            ),
        ];
        for (name, help, value) in gauges {
            registry.register(name, help, ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)));
        }
        let counters = [
            ("metad_ae_plans", "Planning rounds run by this leader", self.plans),
            (
                "metad_ae_loop_turns",
                "Times the anti-entropy loop woke up under this leader (changes, deadlines)",
                self.turns,
            ),
            ("metad_ae_tasks_created", "Copy tasks created by this leader's plans", self.tasks_created),
            ("metad_ae_moves_planned", "Move tasks created by this leader's rebalancing", self.moves_planned),
            ("metad_ae_bytes_copied", "Bytes of copies completed under this leader", self.bytes_copied),
        ];
        for (name, help, value) in counters {
            registry.register(name, help, ConstCounter::new(value));
        }
        let seconds = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64());
        registry.register(
            "metad_ae_plan_seconds",
            "Duration of the last planning round (building its input and planning)",
            ConstGauge::new(seconds(self.last_duration)),
        );
        registry.register(
            "metad_ae_full_plan_input_seconds",
            "Time the last full planning round took to build its input from the state (every live shard, under the \
             state's read lock)",
            ConstGauge::new(seconds(self.last_full_input)),
        );
    }
}

/// Replaces the entries of `scoped` shards in `into` with those of `from` (kept sorted by shard).
fn merge(into: &mut Report, scoped: &BTreeSet<ShardId>, from: Report) {
    fn patch<T: Clone>(list: &mut Vec<T>, scoped: &BTreeSet<ShardId>, new: Vec<T>, shard: impl Fn(&T) -> ShardId) {
        list.retain(|item| !scoped.contains(&shard(item)));
        list.extend(new);
        list.sort_by_key(|item| shard(item));
    }
    patch(&mut into.under_replicated, scoped, from.under_replicated, |h| h.shard);
    patch(&mut into.missing_on_owner, scoped, from.missing_on_owner, |m| m.0);
    patch(&mut into.unrecoverable, scoped, from.unrecoverable, |s| *s);
    patch(&mut into.insufficient_nodes, scoped, from.insufficient_nodes, |h| h.shard);
    patch(&mut into.over_replicated, scoped, from.over_replicated, |h| h.shard);
    patch(&mut into.inconsistent, scoped, from.inconsistent, |s| *s);
    patch(&mut into.mis_replicated, scoped, from.mis_replicated, |m| m.shard);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ae_planner::ShardHealth;

    fn cost(millis: u64) -> RoundCost {
        RoundCost { input: Duration::from_millis(millis / 2), total: Duration::from_millis(millis) }
    }

    fn health(shard: ShardId) -> ShardHealth {
        ShardHealth { shard, live_copies: 1, desired: 2 }
    }

    #[test]
    fn a_scoped_round_patches_only_its_shards() {
        let mut findings = Findings::default();
        let full = Report { under_replicated: vec![health(1), health(5)], unrecoverable: vec![9], ..Report::default() };
        assert_eq!(findings.record(None, full, None, 10, cost(3)), vec![9], "9 newly unrecoverable");
        let scoped = Report { under_replicated: vec![health(3)], ..Report::default() };
        assert!(findings.record(Some(&[1, 3, 9]), scoped, None, 20, cost(1)).is_empty());
        let shards: Vec<_> = findings.report().under_replicated.iter().map(|h| h.shard).collect();
        assert_eq!(shards, vec![3, 5], "shard 1 healed, 3 newly under-replicated, 5 untouched");
        assert!(findings.report().unrecoverable.is_empty());
        assert_eq!(findings.planned_at(), Some(20));
        let mut registry = Registry::default();
        findings.register(&mut registry, true);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        assert!(text.contains("metad_ae_under_replicated_shards 2"), "{text}");
        assert!(text.contains("metad_ae_plans_total 2"), "{text}");
    }
}
