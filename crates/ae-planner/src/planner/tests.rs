//! Table-driven cases: a cluster in, the expected tasks, cancellations and reports out.

use super::testkit::{apply, complete_all, new_task, Cluster};
use crate::input::{Liveness, Membership, Owners, Scope, ShardCopy, TaskKind, TaskState};
use crate::plan::{Cancel, CancelReason, DropOwner, DropReason, Plan, Reason, Reassign, ShardHealth};

use Liveness::{Dead, Online, Suspect};
use Membership::{Active, Draining};
use Reason::{DeadOwner, DrainingOwner, Inconsistent, MissingOnOwner, UnderReplicated};
use TaskState::{Blocked, Claimed, Pending};

fn health(shard: u64, live_copies: u32, desired: u32) -> ShardHealth {
    ShardHealth { shard, live_copies, desired }
}

/// Plans, applies the plan, completes every task, and repeats until nothing is created.
fn run_to_quiet(mut cluster: Cluster) -> Cluster {
    for _ in 0..20 {
        let plan = cluster.plan();
        if plan.create.is_empty() && plan.cancel.is_empty() {
            return cluster;
        }
        apply(&mut cluster.input, &plan);
        complete_all(&mut cluster.input);
    }
    panic!("no quiet after 20 rounds: {:?}", cluster.plan());
}

#[test]
fn seed_1_removed_node_is_replaced_by_the_new_node() {
    // RF 2 on nodes 1 and 2; node 2 died and was removed with --force (the owners shrank to [1]);
    // node 3 is new and reports an empty disk.
    let cluster = Cluster::with_nodes([1, 3]).shards(1..=3, 2, &[1]).report(1, 1..=3).report(3, []);
    let plan = cluster.plan();
    assert_eq!(plan.create, (1..=3).map(|s| new_task(s, (1, 3), None, 1, UnderReplicated)).collect::<Vec<_>>());
    assert_eq!(plan.cancel, vec![]);
    assert_eq!(plan.report.under_replicated, (1..=3).map(|s| health(s, 1, 2)).collect::<Vec<_>>());

    let done = run_to_quiet(cluster);
    assert!(done.input.shards.iter().all(|s| s.owners[..] == [1, 3]), "{:?}", done.input.shards);
    assert_eq!(done.plan(), Plan::default());
}

#[test]
fn seed_2_update_data_refills_the_node_that_kept_its_id() {
    // Node 2 was replaced by a new machine with the same ID: it owns shards 1-3 but reports none.
    let cluster =
        Cluster::with_nodes([1, 2, 3]).shards(1..=3, 2, &[1, 2]).shard(4, 2, &[1, 3]).owners_report_all().report(2, []);
    let plan = cluster.plan();
    assert_eq!(plan.create, (1..=3).map(|s| new_task(s, (1, 2), None, 1, MissingOnOwner)).collect::<Vec<_>>());
    assert_eq!(plan.report.missing_on_owner, vec![(1, 2), (2, 2), (3, 2)]);
    assert_eq!(plan.report.under_replicated, (1..=3).map(|s| health(s, 1, 2)).collect::<Vec<_>>());

    let done = run_to_quiet(cluster);
    assert!(done.input.inventories[&2].shards.keys().eq([1, 2, 3].iter()));
    assert_eq!(done.input.shards[0].owners[..], [1, 2], "ownership did not move");
}

#[test]
fn seed_3_draining_node_is_replaced_before_it_lets_go() {
    let cluster = Cluster::with_nodes([1, 2, 3]).membership(2, Draining).shards(1..=4, 2, &[1, 2]).owners_report_all();
    let plan = cluster.plan();
    // Copies come from both holders in turn (the draining one is a fine source), go to the only
    // active non-owner, and replace the draining owner; nothing is cancelled or dropped.
    let expected: Vec<_> = [(1, 1), (2, 2), (3, 1), (4, 2)]
        .iter()
        .map(|&(s, src)| new_task(s, (src, 3), Some(2), 2, DrainingOwner))
        .collect();
    assert_eq!(plan.create, expected);
    assert_eq!(plan.cancel, vec![]);
    assert_eq!(plan.report.under_replicated, (1..=4).map(|s| health(s, 1, 2)).collect::<Vec<_>>());

    let done = run_to_quiet(cluster);
    assert!(done.input.shards.iter().all(|s| s.owners[..] == [1, 3]));
}

#[test]
fn seed_4_sole_copy_on_a_dead_node_is_unrecoverable_and_not_retried() {
    let cluster = Cluster::with_nodes([1, 2]).liveness(2, Dead).shard(7, 1, &[2]).shard(8, 1, &[]).report(1, []);
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![]);
    assert_eq!(plan.report.unrecoverable, vec![7, 8]);
    assert_eq!(plan.report.under_replicated, vec![health(7, 0, 1), health(8, 0, 1)]);
    let mut again = cluster.clone();
    apply(&mut again.input, &plan);
    assert_eq!(again.plan(), plan, "same report, still no task");
}

#[test]
fn dead_owner_is_replaced() {
    let cluster = Cluster::with_nodes([1, 2, 3, 4]).liveness(2, Dead).shard(1, 3, &[1, 2, 3]).owners_report_all();
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![new_task(1, (1, 4), Some(2), 2, DeadOwner)]);
    assert_eq!(plan.report.under_replicated, vec![health(1, 2, 3)]);
}

#[test]
fn owner_removed_from_the_cluster_counts_as_dead() {
    let cluster = Cluster::with_nodes([1, 3]).shard(1, 2, &[1, 2]).owners_report_all();
    assert_eq!(cluster.plan().create, vec![new_task(1, (1, 3), Some(2), 1, DeadOwner)]);
}

#[test]
fn replication_above_eligible_nodes_is_reported_not_looped() {
    let cluster = Cluster::with_nodes([1, 2]).shard(1, 3, &[1, 2]).owners_report_all();
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![]);
    assert_eq!(plan.report.insufficient_nodes, vec![health(1, 2, 3)]);
    assert_eq!(run_to_quiet(cluster).plan(), plan);
}

#[test]
fn partial_progress_then_insufficient_nodes() {
    let cluster = Cluster::with_nodes([1, 2]).shard(1, 3, &[1]).owners_report_all();
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![new_task(1, (1, 2), None, 1, UnderReplicated)]);
    assert_eq!(plan.report.insufficient_nodes, vec![health(1, 1, 3)]);
}

#[test]
fn draining_suspect_and_dead_nodes_are_never_targets() {
    let base = Cluster::with_nodes([1, 2, 3, 4])
        .membership(2, Draining)
        .liveness(3, Suspect)
        .liveness(4, Dead)
        .shard(1, 2, &[1])
        .owners_report_all();
    let plan = base.plan();
    assert_eq!(plan.create, vec![]);
    assert_eq!(plan.report.insufficient_nodes, vec![health(1, 1, 2)]);
    let with_active = base.node(5, Active, Online, None);
    assert_eq!(with_active.plan().create, vec![new_task(1, (1, 5), None, 1, UnderReplicated)]);
}

#[test]
fn target_dying_mid_task_is_cancelled_and_another_target_planned() {
    let cluster = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1]).owners_report_all();
    let mut first = cluster.clone();
    let plan = first.plan();
    assert_eq!(plan.create, vec![new_task(1, (1, 2), None, 1, UnderReplicated)]);
    apply(&mut first.input, &plan);
    first.input.tasks[0].state = Claimed;
    let second = first.liveness(2, Dead);
    let plan = second.plan();
    assert_eq!(plan.cancel, vec![Cancel { task: 1, reason: CancelReason::TargetGone }]);
    assert_eq!(plan.create, vec![new_task(1, (1, 3), None, 1, UnderReplicated)]);
}

#[test]
fn task_of_a_dropped_shard_is_cancelled() {
    let cluster = Cluster::with_nodes([1, 2])
        .shard(1, 1, &[1])
        .owners_report_all()
        .task(4, 9, (1, 2), None, Pending)
        .task(5, 9, (1, 2), None, Claimed)
        .task(6, 9, (1, 2), None, Blocked);
    let plan = cluster.plan();
    let dropped = |task| Cancel { task, reason: CancelReason::ShardDropped };
    assert_eq!(plan.cancel, vec![dropped(4), dropped(5)], "blocked tasks are never cancelled");
    assert_eq!(plan.create, vec![]);
}

#[test]
fn pending_task_from_a_gone_source_is_replanned_from_another() {
    let cluster = Cluster::with_nodes(1..=5)
        .shard(1, 4, &[1, 2])
        .owners_report_all()
        .report(2, [])
        .task(1, 1, (2, 3), None, Pending) // Node 2 lost its copy.
        .task(2, 1, (5, 4), None, Claimed); // A claimed task keeps going whatever its source.
    let plan = cluster.plan();
    assert_eq!(plan.cancel, vec![Cancel { task: 1, reason: CancelReason::SourceGone }]);
    // The refill of node 2 goes first; then the new owner task 1 was bringing, from a holder.
    assert_eq!(
        plan.create,
        vec![new_task(1, (1, 2), None, 1, MissingOnOwner), new_task(1, (1, 3), None, 1, UnderReplicated)]
    );
}

#[test]
fn claimed_task_is_not_cancelled_when_its_source_turns_suspect() {
    let cluster = Cluster::with_nodes([1, 2, 3])
        .liveness(1, Suspect)
        .shard(1, 2, &[1])
        .owners_report_all()
        .task(1, 1, (1, 2), None, Claimed)
        .task(2, 1, (1, 3), None, Pending);
    assert_eq!(cluster.plan().cancel, vec![], "suspect is not gone");
}

#[test]
fn copies_no_longer_needed_are_cancelled() {
    let cluster = Cluster::with_nodes([1, 2, 3, 4])
        .shard(1, 2, &[1, 2])
        .shard(2, 2, &[1, 2])
        .owners_report_all()
        .task(1, 1, (1, 3), None, Pending) // Shard 1 has its two copies already.
        .task(2, 2, (1, 2), None, Claimed) // Node 2 already reports shard 2.
        .task(3, 1, (1, 4), Some(2), Pending); // Replaces an owner: the caller asked for a move.
    let plan = cluster.plan();
    let not_needed = |task| Cancel { task, reason: CancelReason::NotNeeded };
    assert_eq!(plan.cancel, vec![not_needed(1), not_needed(2)]);
    assert_eq!(plan.create, vec![]);
}

#[test]
fn in_flight_tasks_count_as_copies_on_their_way() {
    let cluster =
        Cluster::with_nodes([1, 2, 3, 4]).shard(1, 3, &[1]).owners_report_all().task(1, 1, (1, 2), None, Pending);
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![new_task(1, (1, 3), None, 1, UnderReplicated)]);
    let mut again = cluster.clone();
    apply(&mut again.input, &plan);
    assert_eq!(again.plan().create, vec![]);
}

#[test]
fn hot_copies_count_like_cold_ones() {
    let cold = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1, 2]).shard(2, 3, &[1, 2]).owners_report_all();
    let mut hot = cold.clone();
    for inventory in hot.input.inventories.values_mut() {
        inventory.shards =
            inventory.shards.keys().map(|&s| (s, ShardCopy { hot: true, ..ShardCopy::default() })).collect();
    }
    let plan = hot.plan();
    assert_eq!(plan, cold.plan());
    assert_eq!(plan.create, vec![new_task(2, (1, 3), None, 2, UnderReplicated)]);
    assert_eq!(plan.report.under_replicated, vec![health(2, 2, 3)]);
}

#[test]
fn owners_whose_cold_roots_differ_make_a_shard_inconsistent_and_hot_copies_are_never_compared() {
    // Shard 1: cold on both owners, roots differ. Shard 2: cold, roots equal. Shard 3: one copy
    // hot (no root), so nothing to compare yet.
    let mut cluster = Cluster::with_nodes([1, 2]).shards(1..=3, 2, &[1, 2]).owners_report_all();
    let roots = [(1, 1, Some(10)), (1, 2, Some(11)), (2, 1, Some(7)), (2, 2, Some(7)), (3, 1, Some(5)), (3, 2, None)];
    for (shard, node, root) in roots {
        let inventory = cluster.input.inventories.get_mut(&node).expect("inventory");
        let copy = ShardCopy { size: 1, checksum: 1, hot: root.is_none(), content: root, points: 1 };
        inventory.shards = inventory.shards.iter().map(|(&s, &c)| (s, if s == shard { copy } else { c })).collect();
    }
    let plan = cluster.plan();
    assert_eq!(plan.report.inconsistent, vec![1]);
    // One repair, after every copy: the lower owner reconciles with the other.
    assert_eq!(plan.create, vec![new_task(1, (2, 1), None, 3, Inconsistent)]);
    assert_eq!(plan.create[0].kind(), TaskKind::Repair);

    // While it runs, no second one; once its source no longer owns the shard, it is withdrawn.
    let mut repairing = cluster.clone();
    apply(&mut repairing.input, &plan);
    assert!(repairing.plan().create.is_empty() && repairing.plan().cancel.is_empty());
    let task = repairing.input.tasks[0].id;
    repairing.input.shards[0].owners = Owners::from_slice(&[1, 3]);
    let cancel = repairing.plan().cancel;
    assert_eq!(cancel, vec![Cancel { task, reason: CancelReason::NotNeeded }]);
}

#[test]
fn a_shard_short_of_copies_is_copied_before_it_is_repaired() {
    let mut cluster = Cluster::with_nodes([1, 2, 3]).shard(1, 3, &[1, 2]).owners_report_all();
    for (node, root) in [(1, 10), (2, 11)] {
        let inventory = cluster.input.inventories.get_mut(&node).expect("inventory");
        inventory.shards =
            [(1, ShardCopy { size: 1, checksum: 1, hot: false, content: Some(root), points: 1 })].into_iter().collect();
    }
    let plan = cluster.plan();
    assert_eq!(plan.report.inconsistent, vec![1], "reported at once");
    assert_eq!(plan.create, vec![new_task(1, (1, 3), None, 2, UnderReplicated)], "the copy first");
    let mut copying = cluster.clone();
    apply(&mut copying.input, &plan);
    assert!(copying.plan().create.is_empty(), "no repair while a copy is in flight");
}

#[test]
fn max_sync_caps_one_source() {
    let cluster = Cluster::with_nodes(1..=4).shards(1..=30, 2, &[1]).owners_report_all().limits(10, 5);
    let plan = cluster.plan();
    assert_eq!(plan.create.len(), 5);
    assert!(plan.create.iter().all(|t| t.source == 1));
    // Spread over the three targets, least loaded first.
    let per_target: Vec<usize> = (2..=4).map(|n| plan.create.iter().filter(|t| t.target == n).count()).collect();
    assert_eq!(per_target, vec![2, 2, 1]);
}

#[test]
fn max_fetch_caps_one_target_counting_in_flight_tasks() {
    let cluster = Cluster::with_nodes(1..=11)
        .shards(1..=30, 11, &(1..=10).collect::<Vec<_>>())
        .owners_report_all()
        .task(1, 1, (1, 11), None, Claimed)
        .task(2, 2, (2, 11), None, Pending)
        .task(3, 3, (3, 11), None, Blocked)
        .limits(4, 5);
    let plan = cluster.plan();
    // Node 11 fetches two already (the blocked task does not count): two more, for shards 3 and 4
    // (shard 3 is blocked on node 11, and shards 1-2 are on their way).
    assert_eq!(plan.create.iter().map(|t| (t.shard, t.target)).collect::<Vec<_>>(), vec![(4, 11), (5, 11)]);
    assert_eq!(plan.report.insufficient_nodes, vec![health(3, 10, 11)]);
}

#[test]
fn sources_are_spread_over_the_holders() {
    let cluster = Cluster::with_nodes(1..=9).shards(1..=6, 4, &[1, 2, 3]).owners_report_all();
    let plan = cluster.plan();
    let sources: Vec<u64> = plan.create.iter().map(|t| t.source).collect();
    assert_eq!(sources, vec![1, 2, 3, 1, 2, 3]);
    let targets: Vec<u64> = plan.create.iter().map(|t| t.target).collect();
    assert_eq!(targets, vec![4, 5, 6, 7, 8, 9]);
}

#[test]
fn copies_spread_across_zones_before_load() {
    let cluster = Cluster::default()
        .node(1, Active, Online, Some("a"))
        .node(2, Active, Online, Some("a"))
        .node(3, Active, Online, Some("b"))
        .shard(1, 2, &[1])
        .shards(10..=15, 1, &[3]) // Node 3 is the busiest, but the only one in zone b.
        .owners_report_all();
    assert_eq!(cluster.plan().create, vec![new_task(1, (1, 3), None, 1, UnderReplicated)]);
    let third_zone = cluster.node(4, Active, Online, Some("c")).shard(2, 3, &[1, 3]).owners_report_all();
    assert_eq!(third_zone.plan().create[1], new_task(2, (3, 4), None, 2, UnderReplicated));
}

#[test]
fn a_copy_waits_for_a_busy_node_of_the_missing_zone_rather_than_share_a_zone() {
    // Both shards lack a copy in zone a, whose only node takes one copy at a time: the second
    // waits for it instead of going to node 3, which would leave both of its copies in zone b.
    let cluster = Cluster::default()
        .node(1, Active, Online, Some("a"))
        .node(2, Active, Online, Some("b"))
        .node(3, Active, Online, Some("b"))
        .shards(1..=2, 2, &[2])
        .limits(1, 4)
        .owners_report_all();
    assert_eq!(cluster.plan().create, vec![new_task(1, (2, 1), None, 1, UnderReplicated)]);
    // With zone a's node dead, zone b is the best there is: node 3 at once, as its slot allows.
    let without_a = cluster.node(1, Active, Dead, Some("a")).owners_report_all();
    assert_eq!(without_a.plan().create, vec![new_task(1, (2, 3), None, 1, UnderReplicated)]);
}

#[test]
fn owners_sharing_a_domain_they_could_avoid_are_reported_mis_replicated() {
    let cluster = Cluster::default()
        .node(1, Active, Online, Some("a/r1"))
        .node(2, Active, Online, Some("a/r1"))
        .node(3, Active, Online, Some("a/r2"))
        .node(4, Active, Online, Some("b/r3"))
        .shard(1, 2, &[1, 2]) // One rack of zone a though zone b has a node: level 0.
        .shard(2, 3, &[1, 2, 4]) // Both zones, but rack r1 twice though r2 is free: level 1.
        .shard(3, 2, &[1, 4]) // As spread as can be.
        .shard(4, 1, &[1])
        .owners_report_all();
    let mis: Vec<(u64, u32)> = cluster.plan().report.mis_replicated.iter().map(|m| (m.shard, m.level)).collect();
    assert_eq!(mis, vec![(1, 0), (2, 1)]);
    // With zone b's only node dead, sharing zone a cannot be avoided.
    let b_dead = cluster.node(4, Active, Dead, Some("b/r3"));
    let mis: Vec<(u64, u32)> = b_dead.plan().report.mis_replicated.iter().map(|m| (m.shard, m.level)).collect();
    assert_eq!(mis, vec![(1, 1)], "zone a cannot be avoided now, rack r1 still could; 2 and 3 lost an owner");
}

#[test]
fn copies_spread_across_racks_once_every_zone_is_used() {
    // Owners in zone a (rack r1) and zone b; the third copy goes to rack r2 of zone a, though
    // node 2 (rack r1) is less loaded.
    let cluster = Cluster::default()
        .node(1, Active, Online, Some("a/r1"))
        .node(2, Active, Online, Some("a/r1"))
        .node(3, Active, Online, Some("b/r3"))
        .node(4, Active, Online, Some("a/r2"))
        .shard(1, 3, &[1, 3])
        .shards(10..=15, 1, &[4])
        .owners_report_all();
    assert_eq!(cluster.plan().create, vec![new_task(1, (1, 4), None, 2, UnderReplicated)]);
}

#[test]
fn most_endangered_shard_gets_the_scarce_slot() {
    // Node 3 can fetch one copy: shard 5 (one live copy) gets it before shard 1 (two).
    let cluster = Cluster::with_nodes(1..=3).shard(1, 3, &[1, 2]).shard(5, 2, &[1]).owners_report_all().limits(1, 5);
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![new_task(5, (1, 3), None, 1, UnderReplicated)]);
    assert!(plan.report.insufficient_nodes.is_empty(), "shard 1 waits for a slot");
}

#[test]
fn no_false_repairs_while_reports_are_untrusted() {
    let cluster = Cluster::with_nodes([1, 2, 3]).shards(1..=5, 2, &[1, 2]).shard(6, 3, &[1, 2, 3]);
    assert_eq!(cluster.plan(), Plan::default());
}

#[test]
fn shard_never_written_needs_nothing() {
    let cluster = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1, 2]).unwritten(1).report(1, []).report(2, []);
    assert_eq!(cluster.plan(), Plan::default());
}

#[test]
fn a_written_shard_no_owner_holds_any_more_is_lost() {
    // RF 1; an empty machine took the owner's identity (`update-data`) and reports lacking it.
    let cluster = Cluster::with_nodes([1, 2]).shard(1, 1, &[1]).report(1, []).report(2, []);
    let plan = cluster.plan();
    assert_eq!(plan.report.unrecoverable, vec![1]);
    assert!(plan.create.is_empty());
}

#[test]
fn a_never_written_shard_with_a_dead_owner_moves_by_metadata_alone() {
    // 4 nodes, RF 2, node 2 dead: the shard is not lost, it gets the least loaded live node.
    let cluster = Cluster::with_nodes([1, 2, 3, 4])
        .liveness(2, Dead)
        .shard(1, 2, &[1, 2])
        .unwritten(1)
        .shard(2, 2, &[1, 3])
        .owners_report_all();
    let plan = cluster.plan();
    assert_eq!(plan.reassign, vec![Reassign { shard: 1, drop: vec![2], add: vec![4] }]);
    assert!(plan.create.is_empty() && plan.report.unrecoverable.is_empty() && plan.report.under_replicated.is_empty());
}

#[test]
fn a_never_written_shard_without_owners_gets_them() {
    let cluster = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[]).unwritten(1).owners_report_all();
    assert_eq!(cluster.plan().reassign, vec![Reassign { shard: 1, drop: vec![], add: vec![1, 2] }]);
    // Written, the same shard is lost: nothing anywhere to copy.
    let written = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[]).owners_report_all();
    assert_eq!(written.plan().report.unrecoverable, vec![1]);
}

#[test]
fn a_never_written_shard_keeps_a_dead_owner_when_nobody_can_take_it() {
    let cluster = Cluster::with_nodes([1, 2]).liveness(1, Dead).liveness(2, Suspect).shard(1, 1, &[1]).unwritten(1);
    assert_eq!(cluster.plan(), Plan::default());
}

#[test]
fn suspect_owner_is_waited_for() {
    let holding = Cluster::with_nodes([1, 2, 3]).liveness(2, Suspect).shard(1, 2, &[1, 2]).owners_report_all();
    assert_eq!(holding.plan(), Plan::default(), "its copy counts");
    let lacking = holding.clone().report(2, []);
    let plan = lacking.plan();
    assert_eq!(plan.create, vec![], "neither refilled nor replaced");
    assert_eq!(plan.report.under_replicated, vec![health(1, 1, 2)]);
    let only_copy =
        Cluster::with_nodes([1, 2, 3]).liveness(1, Suspect).shard(1, 2, &[1, 2]).report(1, [1]).report(2, []);
    assert_eq!(only_copy.plan().create, vec![], "a suspect node is no source");
}

#[test]
fn blocked_pair_is_not_planned_again() {
    let cluster =
        Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1]).owners_report_all().task(1, 1, (1, 2), None, Blocked);
    assert_eq!(cluster.plan().create, vec![new_task(1, (1, 3), None, 1, UnderReplicated)]);
    let cornered = cluster.task(2, 1, (1, 3), None, Blocked);
    let plan = cornered.plan();
    assert_eq!(plan.create, vec![]);
    assert_eq!(plan.report.insufficient_nodes, vec![health(1, 1, 2)]);
}

#[test]
fn owner_whose_refill_is_blocked_gets_company() {
    let cluster = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1, 2]).owners_report_all().report(2, []).task(
        1,
        1,
        (1, 2),
        None,
        Blocked,
    );
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![new_task(1, (1, 3), None, 1, UnderReplicated)]);
    assert_eq!(plan.report.missing_on_owner, vec![(1, 2)]);
}

#[test]
fn copy_held_by_a_non_owner_is_a_source_of_last_resort() {
    // Owner 1 is dead; node 2 was dropped as an owner but still has the files.
    let cluster = Cluster::with_nodes([1, 2, 3]).liveness(1, Dead).shard(1, 1, &[1]).report(2, [1]).report(3, []);
    let plan = cluster.plan();
    assert_eq!(plan.create, vec![new_task(1, (2, 3), Some(1), 0, DeadOwner)]);
    assert!(plan.report.unrecoverable.is_empty());
    // Many orphans: the other lookup strategy (walking every report once) finds the same.
    let many = Cluster::with_nodes([1, 2, 3]).liveness(1, Dead).shards(1..=20, 1, &[1]).report(2, 1..=20).report(3, []);
    let plan = many.plan();
    assert_eq!(plan.create.len(), 5, "max_sync of node 2");
    assert!(plan.create.iter().all(|t| (t.source, t.target) == (2, 3)));
}

#[test]
fn surplus_owners_are_reported() {
    let cluster = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1, 2, 3]).owners_report_all();
    let plan = cluster.plan();
    assert_eq!(plan.report.over_replicated, vec![health(1, 3, 2)]);
    assert_eq!(plan.create, vec![]);
    // A surplus draining or dead owner gets no replacement: it is dropped, and a task that was
    // bringing in its replacement is withdrawn.
    let draining = cluster.clone().membership(3, Draining).task(7, 1, (1, 4), Some(3), Pending);
    let plan = draining.node(4, Active, Online, None).plan();
    assert_eq!(plan.drop_owners, vec![DropOwner { shard: 1, owner: 3, reason: DropReason::Draining }]);
    assert_eq!(plan.cancel, vec![Cancel { task: 7, reason: CancelReason::NotNeeded }]);
    assert!(plan.create.is_empty() && plan.report.over_replicated.is_empty());
    let dead = cluster.clone().liveness(2, Dead).plan();
    assert_eq!(dead.drop_owners, vec![DropOwner { shard: 1, owner: 2, reason: DropReason::Dead }]);
    // An owner that has not reported yet (a new machine behind `update-data`) does not vouch for a
    // drop, nor does a suspect one: only reported copies on online, active owners do.
    let unreported = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1, 2, 3]).report(1, [1]).report(3, [1]);
    assert!(unreported.clone().membership(3, Draining).plan().drop_owners.is_empty());
    assert!(unreported
        .clone()
        .report(2, [1])
        .liveness(2, Suspect)
        .membership(3, Draining)
        .plan()
        .drop_owners
        .is_empty());
    assert_eq!(unreported.report(2, [1]).membership(3, Draining).plan().drop_owners.len(), 1);
    // Without RF copies elsewhere nothing is dropped: the draining owner is replaced first.
    let short = Cluster::with_nodes([1, 2, 3]).shard(1, 2, &[1, 2]).owners_report_all().membership(2, Draining);
    assert!(short.plan().drop_owners.is_empty());
}

#[test]
fn scoped_plan_creates_for_its_shards_but_cancels_everywhere() {
    let cluster = Cluster::with_nodes([1, 2, 3])
        .shard(1, 2, &[1])
        .shard(2, 2, &[1])
        .owners_report_all()
        .task(1, 2, (1, 2), None, Pending)
        .task(2, 7, (1, 2), None, Pending)
        .liveness(2, Dead);
    let scoped = crate::plan(&cluster.input, &cluster.limits, Scope::Shards(&[1]));
    let full = cluster.plan();
    assert_eq!(scoped.cancel, full.cancel);
    assert_eq!(scoped.cancel.len(), 2);
    assert_eq!(scoped.create, vec![new_task(1, (1, 3), None, 1, UnderReplicated)]);
    assert_eq!(scoped.report.under_replicated, vec![health(1, 1, 2)]);
    assert_eq!(full.create.len(), 2);
}

#[test]
fn same_input_same_plan() {
    let cluster = Cluster::with_nodes(1..=6)
        .liveness(2, Dead)
        .membership(3, Draining)
        .shards(1..=40, 3, &[1, 2, 3])
        .owners_report_all()
        .limits(3, 2);
    let plan = cluster.plan();
    assert_eq!(cluster.plan(), plan);
    let mut shuffled = cluster.clone();
    shuffled.input.shards.reverse();
    shuffled.input.nodes.reverse();
    assert_eq!(shuffled.plan(), plan);
}

#[test]
fn serde_names_are_snake_case() {
    let json = serde_json::to_string(&(Reason::MissingOnOwner, CancelReason::ShardDropped, Liveness::Suspect))
        .expect("serializes");
    assert_eq!(json, r#"["missing_on_owner","shard_dropped","suspect"]"#);
}
