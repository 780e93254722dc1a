//! Property tests over random clusters (see [`random_cluster`]): the rules hold for every plan,
//! plans are deterministic and idempotent, and rounds of completed tasks converge.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::testkit::{apply, complete_all, random_cluster, random_limits, Rng};
use crate::input::{Limits, Liveness, Membership, NodeId, PlanInput, Scope, ShardCopy, ShardId, TaskKind, TaskState};
use crate::plan::{CancelReason, NewTask, Plan, Reason, Report};

/// What the tests need to know about the cluster, straight from the input.
struct Facts<'a> {
    input: &'a PlanInput,
}

impl Facts<'_> {
    fn node(&self, id: NodeId) -> Option<&crate::NodeView> {
        self.input.nodes.iter().find(|n| n.id == id)
    }

    fn is(&self, id: NodeId, membership: Membership, liveness: Liveness) -> bool {
        self.node(id).is_some_and(|n| n.membership == membership && n.liveness == liveness)
    }

    fn is_owner(&self, shard: ShardId, id: NodeId) -> bool {
        self.input.shards.iter().any(|s| s.id == shard && s.owners.contains(&id))
    }

    /// Reported holding, or owning without a report.
    fn holds(&self, shard: ShardId, id: NodeId) -> bool {
        match self.input.inventories.get(&id) {
            Some(inventory) => inventory.holds(shard),
            None => self.is_owner(shard, id),
        }
    }

    fn blocked(&self, shard: ShardId, id: NodeId) -> bool {
        self.input.tasks.iter().any(|t| t.shard == shard && t.target == id && t.state == TaskState::Blocked)
    }

    /// Copies on active, not dead owners.
    fn stable_live(&self, shard: ShardId) -> usize {
        let owners = self.input.shards.iter().filter(|s| s.id == shard).flat_map(|s| &s.owners);
        owners
            .filter(|&&o| {
                self.node(o).is_some_and(|n| n.membership == Membership::Active && n.liveness != Liveness::Dead)
            })
            .filter(|&&o| self.holds(shard, o))
            .count()
    }

    /// In-flight tasks that `plan` does not cancel.
    fn surviving<'p>(&'p self, plan: &'p Plan) -> impl Iterator<Item = &'p crate::TaskView> + 'p {
        self.input
            .tasks
            .iter()
            .filter(move |t| t.state != TaskState::Blocked && !plan.cancel.iter().any(|c| c.task == t.id))
    }
}

/// Never-written shards are never copied or reported (not even lost), and are reassigned only
/// away from owners that cannot take writes (or, balancing, from one active, online owner of a
/// shard that has its replication factor to one other node), to active, online nodes that do
/// not own them.
fn check_unwritten(facts: &Facts<'_>, plan: &Plan) -> Result<(), TestCaseError> {
    let unwritten = |id: ShardId| facts.input.shards.iter().any(|s| s.id == id && !s.written);
    prop_assert!(!plan.create.iter().any(|t| unwritten(t.shard)), "a copy of a never-written shard: {plan:?}");
    let report = &plan.report;
    let reported = report.under_replicated.iter().map(|h| h.shard).chain(report.unrecoverable.iter().copied());
    for shard in reported {
        prop_assert!(!unwritten(shard), "never-written shard {shard} reported: {report:?}");
    }
    for reassign in &plan.reassign {
        prop_assert!(unwritten(reassign.shard), "reassigns a written shard: {reassign:?}");
        let shard = facts.input.shards.iter().find(|s| s.id == reassign.shard);
        let balancing = plan.balance.is_some()
            && reassign.drop.len() == 1
            && reassign.add.len() == 1
            && shard.is_some_and(|s| s.owners.len() == s.replication as usize)
            && facts.is(reassign.drop[0], Membership::Active, Liveness::Online);
        for &drop in reassign.drop.iter().filter(|_| !balancing) {
            prop_assert!(facts.is_owner(reassign.shard, drop), "drops a non-owner: {reassign:?}");
            let fit =
                facts.node(drop).is_some_and(|n| n.membership == Membership::Active && n.liveness != Liveness::Dead);
            prop_assert!(!fit, "drops an owner that can take writes: {reassign:?}");
        }
        for &add in &reassign.add {
            prop_assert!(facts.is(add, Membership::Active, Liveness::Online), "adds an unfit node: {reassign:?}");
            prop_assert!(!facts.is_owner(reassign.shard, add), "adds an owner: {reassign:?}");
        }
        let owners = facts.input.shards.iter().find(|s| s.id == reassign.shard).map_or(0, |s| s.owners.len());
        prop_assert!(owners + reassign.add.len() > reassign.drop.len(), "leaves no owner: {reassign:?}");
    }
    Ok(())
}

/// Every task plan creates obeys the placement rules, and the limits hold.
fn check_rules(input: &PlanInput, limits: &Limits, plan: &Plan) -> Result<(), TestCaseError> {
    let facts = Facts { input };
    check_unwritten(&facts, plan)?;
    for task in &plan.create {
        prop_assert!(facts.is(task.target, Membership::Active, Liveness::Online), "target not active+online: {task:?}");
        prop_assert!(!facts.blocked(task.shard, task.target), "blocked pair: {task:?}");
        if task.reason == Reason::Inconsistent {
            // A repair: two owners holding the shard, of a shard reported inconsistent.
            prop_assert!(plan.report.inconsistent.contains(&task.shard), "repair of a consistent shard: {task:?}");
            for node in [task.source, task.target] {
                prop_assert!(facts.is_owner(task.shard, node) && facts.holds(task.shard, node), "{task:?}");
            }
            let online = facts.node(task.source).is_some_and(|n| n.liveness == Liveness::Online);
            prop_assert!(online, "source offline: {task:?}");
            prop_assert!(task.source != task.target && task.replaces.is_none(), "{task:?}");
            continue;
        }
        // A target holding a copy is a non-owner's leftover, and another node holds one too.
        if facts.holds(task.shard, task.target) {
            prop_assert!(!facts.is_owner(task.shard, task.target), "target owns and holds the shard: {task:?}");
            let others = facts.input.nodes.iter().filter(|n| n.id != task.target && facts.holds(task.shard, n.id));
            prop_assert!(others.count() > 0, "the target holds the only copy: {task:?}");
        }
        prop_assert_eq!(facts.is_owner(task.shard, task.target), task.reason == Reason::MissingOnOwner, "{:?}", task);
        prop_assert!(
            facts.node(task.source).is_some_and(|n| n.liveness == Liveness::Online),
            "source offline: {task:?}"
        );
        prop_assert!(facts.holds(task.shard, task.source), "source lacks the shard: {task:?}");
        prop_assert!(task.source != task.target);
        if let Some(replaced) = task.replaces {
            prop_assert!(facts.is_owner(task.shard, replaced), "replaces a non-owner: {task:?}");
        }
    }
    for task in &input.tasks {
        if task.state == TaskState::Blocked {
            prop_assert!(!plan.cancel.iter().any(|c| c.task == task.id), "blocked task cancelled");
        }
    }
    let mut fetch: BTreeMap<NodeId, (u32, u32)> = BTreeMap::new();
    let mut sync: BTreeMap<NodeId, (u32, u32)> = BTreeMap::new();
    for task in facts.surviving(plan) {
        fetch.entry(task.target).or_default().0 += 1;
        sync.entry(task.source).or_default().0 += 1;
    }
    for task in &plan.create {
        fetch.entry(task.target).or_default().1 += 1;
        sync.entry(task.source).or_default().1 += 1;
    }
    for (node, (old, new)) in fetch {
        prop_assert!(new == 0 || old + new <= limits.max_fetch, "node {node} fetches {old}+{new}");
    }
    for (node, (old, new)) in sync {
        prop_assert!(new == 0 || old + new <= limits.max_sync, "node {node} serves {old}+{new}");
    }
    Ok(())
}

/// `report` without the lines of `shards`.
fn without(report: &Report, shards: &[ShardId]) -> Report {
    let keep = |shard: &ShardId| !shards.contains(shard);
    Report {
        under_replicated: report.under_replicated.iter().filter(|h| keep(&h.shard)).copied().collect(),
        missing_on_owner: report.missing_on_owner.iter().filter(|m| keep(&m.0)).copied().collect(),
        unrecoverable: report.unrecoverable.iter().filter(|s| keep(s)).copied().collect(),
        insufficient_nodes: report.insufficient_nodes.iter().filter(|h| keep(&h.shard)).copied().collect(),
        over_replicated: report.over_replicated.iter().filter(|h| keep(&h.shard)).copied().collect(),
        inconsistent: report.inconsistent.iter().filter(|s| keep(s)).copied().collect(),
        mis_replicated: report.mis_replicated.iter().filter(|m| keep(&m.shard)).copied().collect(),
    }
}

/// Suspect nodes either come back or die; for convergence they come back.
fn without_suspects(mut input: PlanInput) -> PlanInput {
    for node in &mut input.nodes {
        if node.liveness == Liveness::Suspect {
            node.liveness = Liveness::Online;
        }
    }
    input
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn placement_rules_and_limits_hold(seed in any::<u64>()) {
        let input = random_cluster(seed);
        let limits = random_limits(seed);
        let plan = crate::plan(&input, &limits, Scope::All);
        check_rules(&input, &limits, &plan)?;
    }

    #[test]
    fn plans_are_deterministic_whatever_the_input_order(seed in any::<u64>()) {
        let input = random_cluster(seed);
        let limits = random_limits(seed);
        let plan = crate::plan(&input, &limits, Scope::All);
        prop_assert_eq!(&crate::plan(&input, &limits, Scope::All), &plan);
        let mut reversed = input.clone();
        reversed.shards.reverse();
        reversed.nodes.reverse();
        reversed.tasks.reverse();
        prop_assert_eq!(&crate::plan(&reversed, &limits, Scope::All), &plan);
    }

    #[test]
    fn replanning_with_the_plan_applied_does_nothing_new(seed in any::<u64>()) {
        let mut input = random_cluster(seed);
        let limits = random_limits(seed);
        let first = crate::plan(&input, &limits, Scope::All);
        // A shard with a task in flight at the start of a round does not move in it, even when
        // that round cancels the task: its moves wait for the next round.
        let cancelled: Vec<ShardId> = first
            .cancel
            .iter()
            .filter_map(|c| input.tasks.iter().find(|t| t.id == c.task).map(|t| t.shard))
            .collect();
        apply(&mut input, &first);
        let second = crate::plan(&input, &limits, Scope::All);
        let waited = |t: &&NewTask| t.kind() == TaskKind::Move && cancelled.contains(&t.shard);
        let new: Vec<&NewTask> = second.create.iter().filter(|t| !waited(t)).collect();
        prop_assert_eq!(&new, &Vec::<&NewTask>::new());
        prop_assert_eq!(&second.cancel, &vec![]);
        prop_assert_eq!(&second.drop_owners, &vec![]);
        // A dropped owner is no longer reported (e.g. a draining owner lacking the shard), and a
        // never-written shard given new owners is judged by where they are.
        let moved = first.reassign.iter().map(|r| r.shard);
        let dropped: Vec<ShardId> = first.drop_owners.iter().map(|d| d.shard).chain(moved).collect();
        prop_assert_eq!(&without(&second.report, &dropped), &without(&first.report, &dropped));
    }

    #[test]
    fn reports_do_not_depend_on_free_slots(seed in any::<u64>()) {
        let input = random_cluster(seed);
        let limits = random_limits(seed);
        let tight = crate::plan(&input, &limits, Scope::All);
        // The same balancing (moves are tasks too), only the slots roomy.
        let roomy = crate::plan(&input, &Limits { max_fetch: 1000, max_sync: 1000, ..limits }, Scope::All);
        prop_assert_eq!(&tight.report, &roomy.report);
        prop_assert_eq!(&tight.cancel, &roomy.cancel);
        prop_assert!(tight.create.len() <= roomy.create.len());
    }

    #[test]
    fn scoped_plans_agree_with_full_ones(seed in any::<u64>(), pick in any::<u64>()) {
        let input = random_cluster(seed);
        // Scoped rounds never balance; a full round's moves are its own.
        let limits = Limits { balance: None, ..random_limits(seed) };
        let full = crate::plan(&input, &limits, Scope::All);
        let all: Vec<ShardId> = input.shards.iter().map(|s| s.id).collect();
        prop_assert_eq!(&crate::plan(&input, &limits, Scope::Shards(&all)), &full);
        let some: Vec<ShardId> = all.iter().copied().filter(|id| (id ^ pick) % 3 == 0).collect();
        let scoped = crate::plan(&input, &limits, Scope::Shards(&some));
        prop_assert_eq!(&scoped.cancel, &full.cancel);
        prop_assert!(scoped.create.iter().all(|t| some.contains(&t.shard)));
        let in_scope = |shard: &ShardId| some.contains(shard);
        prop_assert_eq!(
            &scoped.report.unrecoverable,
            &full.report.unrecoverable.iter().copied().filter(in_scope).collect::<Vec<_>>()
        );
        check_rules(&input, &limits, &scoped)?;
    }

    /// A scoped round needs only the shards in scope and those of tasks, with each node's
    /// `owned` from the whole cluster: it then plans exactly what it plans over every shard.
    #[test]
    fn scoped_plans_need_only_their_shards(seed in any::<u64>(), pick in any::<u64>()) {
        let input = random_cluster(seed);
        let limits = random_limits(seed);
        let some: Vec<ShardId> = input.shards.iter().map(|s| s.id).filter(|id| (id ^ pick) % 4 == 0).collect();
        let mut reduced = input.clone();
        reduced.shards.retain(|s| some.contains(&s.id) || input.tasks.iter().any(|t| t.shard == s.id));
        prop_assert_eq!(
            crate::plan(&reduced, &limits, Scope::Shards(&some)),
            crate::plan(&input, &limits, Scope::Shards(&some))
        );
    }

    /// Dropped owners are leaving (draining or dead) and the shard keeps `replication` copies on
    /// active, live owners that hold it without them.
    #[test]
    fn only_owners_the_shard_can_do_without_are_dropped(seed in any::<u64>()) {
        let input = random_cluster(seed);
        let plan = crate::plan(&input, &random_limits(seed), Scope::All);
        let facts = Facts { input: &input };
        for drop in &plan.drop_owners {
            let node = input.nodes.iter().find(|n| n.id == drop.owner);
            prop_assert!(node.is_some_and(|n| n.liveness == Liveness::Dead || n.membership == Membership::Draining));
            let shard = input.shards.iter().find(|s| s.id == drop.shard);
            prop_assert!(shard.is_some_and(|s| facts.stable_live(s.id) >= s.replication as usize), "{:?}", drop);
            // Every copy vouching for the drop is reported by an online, active owner.
            let vouching = shard.into_iter().flat_map(|s| &s.owners).filter(|&&o| {
                let reported = input.inventories.get(&o).is_some_and(|inv| inv.holds(drop.shard));
                let node = input.nodes.iter().find(|n| n.id == o);
                reported && node.is_some_and(|n| n.membership == Membership::Active && n.liveness == Liveness::Online)
            });
            prop_assert!(shard.is_some_and(|s| vouching.count() >= s.replication as usize), "{:?}", drop);
        }
    }

    #[test]
    fn rounds_of_completed_tasks_converge(seed in any::<u64>()) {
        let mut input = without_suspects(random_cluster(seed));
        let limits = random_limits(seed);
        let mut rounds = 0;
        loop {
            let plan = crate::plan(&input, &limits, Scope::All);
            check_rules(&input, &limits, &plan)?;
            if plan.create.is_empty() && plan.cancel.is_empty() && input.tasks.iter().all(|t| t.state == TaskState::Blocked) {
                break;
            }
            rounds += 1;
            prop_assert!(rounds <= 100, "no convergence after 100 rounds: {:?}", plan);
            apply(&mut input, &plan);
            complete_all(&mut input);
        }
        let facts = Facts { input: &input };
        for shard in &input.shards {
            let holders = input.nodes.iter().filter(|n| n.liveness != Liveness::Dead && facts.holds(shard.id, n.id));
            if holders.count() == 0 || !shard.written {
                continue; // Unrecoverable, or never written (nothing to copy).
            }
            // Nodes that can carry a copy: active and online, and either an owner holding it, or a
            // node without it that is not blocked for it.
            let eligible = input
                .nodes
                .iter()
                .filter(|n| n.membership == Membership::Active && n.liveness == Liveness::Online)
                .filter(|n| {
                    let holds = facts.holds(shard.id, n.id);
                    (holds && facts.is_owner(shard.id, n.id)) || (!holds && !facts.blocked(shard.id, n.id))
                })
                .count();
            let wanted = (shard.replication as usize).min(eligible);
            prop_assert!(
                facts.stable_live(shard.id) >= wanted,
                "shard {:?}: {} live copies, wanted {} after {} rounds",
                shard, facts.stable_live(shard.id), wanted, rounds
            );
        }
    }
}

/// A cluster where every shard has all its copies on online, active owners, each reporting a
/// cold copy whose root is a random set of three points (a bit mask), and random limits: the case
/// repairs are planned for.
fn diverged_cluster(seed: u64) -> (PlanInput, Limits) {
    let mut rng = Rng::new(seed);
    let node_count = 2 + rng.below(5);
    let mut input = PlanInput::default();
    for id in 1..=node_count {
        input.nodes.push(crate::NodeView {
            id,
            membership: Membership::Active,
            liveness: Liveness::Online,
            domain: Vec::new(),
            owned: 0,
        });
        input.inventories.insert(id, crate::Inventory::default());
    }
    for shard in 1..=(1 + rng.below(40)) {
        let replication = 1 + rng.below(node_count.min(3)) as u32;
        let mut owners: Vec<NodeId> = Vec::new();
        while owners.len() < replication as usize {
            let node = 1 + rng.below(node_count);
            if !owners.contains(&node) {
                owners.push(node);
            }
        }
        for &owner in &owners {
            let copy = ShardCopy { size: 1, checksum: 1, hot: false, content: Some(1 + rng.below(7)), points: 1 };
            input.inventories.get_mut(&owner).map(|inventory| inventory.shards.insert(shard, copy));
        }
        input.shards.push(crate::ShardView { id: shard, replication, owners: owners.into(), written: true });
    }
    input.count_owned();
    let limits = Limits { max_fetch: 1 + rng.below(3) as u32, max_sync: 1 + rng.below(3) as u32, ..Limits::default() };
    (input, limits)
}

/// Repairs follow their rules, are planned for inconsistent shards as slots allow, and rounds of
/// completed repairs leave every shard consistent.
#[test]
fn repairs_follow_their_rules_and_rounds_of_them_converge() {
    let mut repaired = 0;
    for seed in 0..256 {
        let (mut input, limits) = diverged_cluster(seed);
        for round in 0.. {
            let plan = crate::plan(&input, &limits, Scope::All);
            if let Err(error) = check_rules(&input, &limits, &plan) {
                panic!("seed {seed}, round {round}: {error}");
            }
            assert!(plan.create.iter().all(|t| t.reason == Reason::Inconsistent), "seed {seed}: {plan:?}");
            let inconsistent = plan.report.inconsistent.len();
            assert!(inconsistent == 0 || !plan.create.is_empty(), "seed {seed}: inconsistent shards, no repair");
            if inconsistent == 0 {
                assert!(plan.create.is_empty() && plan.cancel.is_empty(), "seed {seed}: {plan:?}");
                break;
            }
            repaired += plan.create.len();
            assert!(round < 200, "seed {seed}: no convergence");
            apply(&mut input, &plan);
            complete_all(&mut input);
        }
    }
    assert!(repaired > 500, "only {repaired} repairs planned");
}

/// The generator makes the cases the properties are about, often enough that they are not vacuous.
#[test]
fn generator_covers_the_interesting_cases() {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 0..512 {
        let input = random_cluster(seed);
        let plan = crate::plan(&input, &random_limits(seed), Scope::All);
        let report = &plan.report;
        let mut count = |what: &'static str, yes: bool| *seen.entry(what).or_default() += usize::from(yes);
        count("under_replicated", !report.under_replicated.is_empty());
        count("missing_on_owner", !report.missing_on_owner.is_empty());
        count("unrecoverable", !report.unrecoverable.is_empty());
        count("insufficient_nodes", !report.insufficient_nodes.is_empty());
        count("over_replicated", !report.over_replicated.is_empty());
        count("reassign", !plan.reassign.is_empty());
        // Repairs need a shard with all its copies, rare here: `tests::repairs_*` make them often.
        count("inconsistent", !report.inconsistent.is_empty());
        for reason in [Reason::UnderReplicated, Reason::MissingOnOwner, Reason::DeadOwner, Reason::DrainingOwner] {
            count(reason_name(reason), plan.create.iter().any(|t| t.reason == reason));
        }
        for reason in
            [CancelReason::ShardDropped, CancelReason::TargetGone, CancelReason::SourceGone, CancelReason::NotNeeded]
        {
            count(cancel_name(reason), plan.cancel.iter().any(|c| c.reason == reason));
        }
    }
    let rare: Vec<_> = seen.iter().filter(|&(_, &n)| n < 50).collect();
    assert!(rare.is_empty(), "under 10% of 512 clusters: {rare:?} (all: {seen:?})");
}

fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::UnderReplicated => "task under_replicated",
        Reason::MissingOnOwner => "task missing_on_owner",
        Reason::DeadOwner => "task dead_owner",
        Reason::DrainingOwner => "task draining_owner",
        Reason::Inconsistent => "task inconsistent",
        Reason::Rebalance => "task rebalance",
        Reason::MisReplicated => "task mis_replicated",
    }
}

fn cancel_name(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::ShardDropped => "cancel shard_dropped",
        CancelReason::TargetGone => "cancel target_gone",
        CancelReason::SourceGone => "cancel source_gone",
        CancelReason::NotNeeded => "cancel not_needed",
    }
}
