//! Rebalancing: table tests of the rules and a property test of convergence.

use proptest::prelude::*;

use super::testkit::{apply, complete_all, Cluster, Rng};
use crate::input::{Inventory, Limits, Liveness, Membership, NodeId, NodeView, PlanInput, Scope, ShardCopy, ShardView};
use crate::input::{TaskKind, TaskState};
use crate::plan::{BalanceStatus, CancelReason, LoadVerdict, Plan, Reason};

/// Nodes 1–3 own 4 shards each (RF 1, each reported with 100 bytes); node 4 is new and empty.
fn new_node_joins() -> Cluster {
    let mut cluster = Cluster::with_nodes(1..=4);
    for shard in 1..=12 {
        cluster = cluster.shard(shard, 1, &[(shard - 1) / 4 + 1]);
    }
    cluster.owners_report_all().balance(10, 4)
}

fn moves(plan: &Plan) -> Vec<(u64, NodeId, NodeId)> {
    let moves = plan.create.iter().filter(|t| t.kind() == TaskKind::Move);
    moves.map(|t| (t.shard, t.source, t.target)).collect()
}

#[test]
fn a_new_node_receives_shards_from_the_most_loaded_until_it_has_its_share() {
    let plan = new_node_joins().plan();
    // The mean is 3: each of nodes 1–3 gives one shard (the lowest ID of the same size), node 4
    // takes three; the fourth allowed move would take a node below the mean.
    assert_eq!(moves(&plan), vec![(1, 1, 4), (5, 2, 4), (9, 3, 4)]);
    for task in &plan.create {
        assert_eq!((task.replaces, task.reason), (Some(task.source), Reason::Rebalance));
    }
    let report = plan.balance.expect("a full round reports loads");
    assert_eq!(report.status, BalanceStatus::Moving);
    let shards: Vec<(NodeId, u64)> = report.nodes.iter().map(|n| (n.node, n.shards)).collect();
    assert_eq!(shards, vec![(1, 3), (2, 3), (3, 3), (4, 3)], "loads count planned moves as done");
}

#[test]
fn moves_in_flight_count_against_max_moves_and_as_done() {
    // No tolerance: every node is to end with exactly the mean (3).
    let cluster = new_node_joins().balance(0, 2);
    let plan = cluster.plan();
    assert_eq!(moves(&plan).len(), 2, "max-moves 2");
    assert!(plan.balance.as_ref().is_some_and(|b| b.why.contains("max-moves (2) reached")), "{:?}", plan.balance);
    let mut input = cluster.input.clone();
    apply(&mut input, &plan);
    let again = crate::plan(&input, &cluster.limits, Scope::All);
    assert!(moves(&again).is_empty(), "both moves still in flight: {again:?}");
    complete_all(&mut input);
    let last = crate::plan(&input, &cluster.limits, Scope::All);
    assert_eq!(moves(&last), vec![(9, 3, 4)]);
    // With 10% tolerance, 2 shards against a mean of 3 is within it (floor(2.7)): no third move.
    let tolerant =
        Limits { balance: Some(crate::input::Balance { tolerance_percent: 10, max_moves: 2 }), ..cluster.limits };
    let plan = crate::plan(&input, &tolerant, Scope::All);
    assert!(moves(&plan).is_empty());
    assert_eq!(plan.balance.map(|b| b.status), Some(BalanceStatus::Balanced));
}

#[test]
fn balancing_waits_for_dead_draining_or_silent_nodes_and_for_repairs() {
    let cases = [
        (new_node_joins().liveness(3, Liveness::Suspect), "node 3 is suspect"),
        (new_node_joins().membership(1, Membership::Draining), "node 1 is draining"),
        (new_node_joins().shard(13, 2, &[1]).report(1, [1, 2, 3, 4, 13]), "shards lack copies"),
    ];
    for (cluster, why) in cases {
        let plan = cluster.plan();
        assert!(moves(&plan).is_empty(), "{why}: {plan:?}");
        let report = plan.balance.expect("reported");
        assert_eq!(report.status, BalanceStatus::Waiting);
        assert!(report.why.contains(why), "{why}: {}", report.why);
    }
    // A dead node's shards lack copies until repaired (RF 2 here): balancing waits for that.
    let rf2 = Cluster::with_nodes(1..=4).shards(1..=4, 2, &[1, 2]).shards(5..=8, 2, &[2, 3]).owners_report_all();
    let report = rf2.liveness(2, Liveness::Dead).balance(10, 4).plan().balance.expect("reported");
    assert_eq!((report.status, report.why.as_str()), (BalanceStatus::Waiting, "8 shards lack copies: repairs first"));
    // A dead node whose shards nobody else holds (RF 1: unrecoverable) holds nothing up: the
    // others balance among themselves.
    let plan = new_node_joins().liveness(2, Liveness::Dead).plan();
    assert_eq!(plan.report.unrecoverable, vec![5, 6, 7, 8]);
    assert_eq!(moves(&plan), vec![(1, 1, 4), (9, 3, 4)]);
    let mut silent = new_node_joins();
    silent.input.inventories.remove(&4);
    let report = silent.plan().balance.expect("reported");
    assert_eq!(
        (report.status, report.why.as_str()),
        (BalanceStatus::Waiting, "node 4 has not reported its inventory yet")
    );
}

#[test]
fn disabled_balancing_plans_nothing_and_withdraws_moves() {
    let mut cluster = new_node_joins();
    let plan = cluster.plan();
    apply(&mut cluster.input, &plan);
    cluster.limits.balance = None;
    let plan = cluster.plan();
    assert!(plan.balance.is_none() && moves(&plan).is_empty());
    assert_eq!(plan.cancel.len(), 3);
    assert!(plan.cancel.iter().all(|c| c.reason == CancelReason::NotNeeded));
}

#[test]
fn a_move_whose_source_dies_is_cancelled_and_the_shard_gets_a_plain_replacement() {
    let mut cluster = new_node_joins();
    let plan = cluster.plan();
    apply(&mut cluster.input, &plan);
    let cluster = cluster.liveness(1, Liveness::Dead);
    let plan = cluster.plan();
    let move_from_1 = cluster.input.tasks.iter().find(|t| t.source == 1).expect("a move from node 1");
    assert!(plan.cancel.iter().any(|c| c.task == move_from_1.id && c.reason == CancelReason::SourceGone));
    assert!(moves(&plan).is_empty(), "node 1 owns shards and is dead: balancing waits");
}

#[test]
fn busy_shards_never_move() {
    // Shard 1 is being copied, shard 2 has a blocked task, shard 3 is unreported by its owner.
    let cluster = new_node_joins()
        .task(1, 1, (1, 2), None, TaskState::Claimed)
        .task(2, 2, (1, 3), None, TaskState::Blocked)
        .report(1, [1, 2, 4]);
    let plan = cluster.plan();
    assert!(moves(&plan).iter().all(|&(shard, _, _)| shard >= 4), "shards 1 to 3 are busy: {:?}", moves(&plan));
    assert!(moves(&plan).contains(&(4, 1, 4)));
}

#[test]
fn moves_keep_every_shard_in_both_zones() {
    // RF 2 over zones a (nodes 1, 2) and b (node 3): every shard has an owner in each zone. Node 4
    // joins zone a: only zone-a owners may give it shards, or a shard would lose zone b.
    let mut cluster = Cluster::default();
    for (id, zone) in [(1, "a"), (2, "a"), (3, "b"), (4, "a")] {
        cluster = cluster.node(id, Membership::Active, Liveness::Online, Some(zone));
    }
    for shard in 1..=8 {
        cluster = cluster.shard(shard, 2, &[1 + (shard % 2), 3]);
    }
    let plan = cluster.owners_report_all().balance(10, 10).plan();
    // Zone a shares its 8 shards among three nodes (2.67 each): nodes 1 and 2 give one each.
    assert_eq!(moves(&plan), vec![(2, 1, 4), (1, 2, 4)]);
    let report = plan.balance.expect("reported");
    let loads: Vec<_> = report.nodes.iter().map(|n| (n.node, n.shards, n.shards_verdict)).collect();
    let within = LoadVerdict::Within;
    assert_eq!(
        loads,
        vec![(1, 3, within), (2, 3, within), (3, 8, within), (4, 2, within)],
        "zone b's only node keeps every shard"
    );
    assert_eq!(report.status, BalanceStatus::Moving);
}

#[test]
fn mis_replicated_shards_move_into_a_zone_their_owners_lack() {
    let mut cluster = Cluster::default();
    for (id, zone) in [(1, "a"), (2, "a"), (3, "b"), (4, "b")] {
        cluster = cluster.node(id, Membership::Active, Liveness::Online, Some(zone));
    }
    let cluster = cluster.shard(1, 2, &[1, 2]).shard(2, 2, &[3, 4]).shard(3, 2, &[1, 3]).owners_report_all();
    let plan = cluster.balance(10, 4).plan();
    let planned: Vec<_> = plan.create.iter().map(|t| (t.shard, t.source, t.target, t.reason)).collect();
    // Shard 1 leaves node 2 (ties: the highest ID) for the least loaded node of zone b, node 4;
    // shard 2 leaves node 4 for node 2, least loaded once shard 1 left it.
    assert_eq!(planned, vec![(1, 2, 4, Reason::MisReplicated), (2, 4, 2, Reason::MisReplicated)]);
    assert_eq!(plan.report.mis_replicated.len(), 2, "still reported until moved");
}

#[test]
fn never_written_shards_move_by_metadata_without_a_task() {
    let mut cluster = new_node_joins();
    for shard in [1, 5, 9] {
        cluster = cluster.unwritten(shard);
    }
    // Never-written shards are in no inventory.
    let cluster = cluster.report(1, [2, 3, 4]).report(2, [6, 7, 8]).report(3, [10, 11, 12]);
    let plan = cluster.plan();
    assert!(moves(&plan).is_empty(), "{plan:?}");
    let reassigned: Vec<_> = plan.reassign.iter().map(|r| (r.shard, r.drop.clone(), r.add.clone())).collect();
    assert_eq!(reassigned, vec![(1, vec![1], vec![4]), (5, vec![2], vec![4]), (9, vec![3], vec![4])]);
}

#[test]
fn bytes_steer_which_shard_moves_and_never_get_worse() {
    // Node 1 owns 4 shards of 100, 400, 100, 100 bytes; node 2 owns 2 of 50. The gap is 600
    // bytes: the 400-byte shard moves (nearest half the gap), not the lowest ID.
    let mut cluster = Cluster::with_nodes(1..=2);
    for shard in 1..=4 {
        cluster = cluster.shard(shard, 1, &[1]);
    }
    let cluster = cluster.shard(5, 1, &[2]).shard(6, 1, &[2]).balance(0, 4);
    let mut cluster = cluster.owners_report_all();
    let copy = |size| ShardCopy { size, content: Some(size), ..ShardCopy::default() };
    let sizes = [(1, 100), (2, 400), (3, 100), (4, 100)];
    cluster.input.inventories.insert(1, sizes.iter().map(|&(s, z)| (s, copy(z))).collect::<Inventory>());
    cluster.input.inventories.insert(2, [(5, copy(50)), (6, copy(50))].into_iter().collect());
    assert_eq!(moves(&cluster.plan()), vec![(2, 1, 2)]);
    // With node 2 already heavier in bytes, no move may widen the byte gap.
    cluster.input.inventories.insert(2, [(5, copy(900)), (6, copy(900))].into_iter().collect());
    let plan = cluster.plan();
    assert!(moves(&plan).is_empty());
    assert_eq!(plan.balance.map(|b| b.status), Some(BalanceStatus::Limited));
}

/// A cluster that needs nothing but balance: 2–9 active, online nodes (zoned or not), shards
/// with exactly their replication factor in owners, written ones reported cold with random
/// sizes (or all of one size), random limits. True when only load constrains moves: one zone,
/// one size, every shard written (bytes then follow counts).
fn skewed_cluster(seed: u64) -> (PlanInput, Limits, bool) {
    let mut rng = Rng::new(seed);
    let node_count = 2 + rng.below(8);
    let zoned = rng.chance(40);
    let equal_sizes = rng.chance(50);
    let all_written = rng.chance(50);
    let mut input = PlanInput::default();
    for id in 1..=node_count {
        let domain = if zoned { vec![format!("z{}", rng.below(3))] } else { Vec::new() };
        input.nodes.push(NodeView { id, membership: Membership::Active, liveness: Liveness::Online, domain, owned: 0 });
    }
    // Shards crowd onto the first nodes, as in a cluster that grew.
    let crowded = 1 + rng.below(node_count);
    for id in 1..=rng.below(80) {
        let replication = (1 + rng.below(3)).min(node_count) as u32;
        let mut owners: Vec<NodeId> = Vec::new();
        while owners.len() < replication as usize {
            let pool = if owners.len() < crowded as usize { crowded } else { node_count };
            let owner = 1 + rng.below(pool);
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
        input.shards.push(ShardView { id, replication, owners: owners.into(), written: all_written || rng.chance(90) });
    }
    for node in &input.nodes {
        let owned = input.shards.iter().filter(|s| s.written && s.owners.contains(&node.id));
        let copies = owned.map(|s| {
            let size = if equal_sizes { 100 } else { 1 + rng.below(1000) };
            (s.id, ShardCopy { size, content: Some(s.id), ..ShardCopy::default() })
        });
        input.inventories.insert(node.id, copies.collect());
    }
    // Every copy of a shard has one size: the owners agree.
    let sizes: std::collections::BTreeMap<u64, ShardCopy> =
        input.inventories.values().flat_map(|inv| inv.shards.iter().map(|(&id, &c)| (id, c))).collect();
    for inventory in input.inventories.values_mut() {
        inventory.shards = inventory.shards.keys().map(|id| (*id, sizes[id])).collect();
    }
    input.count_owned();
    let balance = crate::input::Balance { tolerance_percent: rng.below(30) as u32, max_moves: 1 + rng.below(6) as u32 };
    let limits =
        Limits { max_fetch: 1 + rng.below(4) as u32, max_sync: 1 + rng.below(3) as u32, balance: Some(balance) };
    (input, limits, equal_sizes && all_written && !zoned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Rounds with every task completing end; no move is undone (a shard moved from A to B never
    /// moves from B to A); no shard has fewer owners than its replication factor; each node's shard count only moves towards the
    /// mean; and where nothing but load constrains the moves (one zone, one size), every node
    /// ends within the tolerance.
    #[test]
    fn rounds_of_moves_converge_and_no_move_is_undone(seed in any::<u64>()) {
        let (mut input, limits, unconstrained) = skewed_cluster(seed);
        // (shard, from, to) of every move so far.
        let mut moved: Vec<(u64, NodeId, NodeId)> = Vec::new();
        let mut squares = sum_of_squares(&input);
        let mut rounds = 0;
        let last = loop {
            let plan = crate::plan(&input, &limits, Scope::All);
            prop_assert!(plan.cancel.is_empty(), "nothing to cancel: {:?}", plan.cancel);
            for task in &plan.create {
                prop_assert_eq!(task.kind(), TaskKind::Move, "only moves: {:?}", task);
            }
            let tasks = plan.create.iter().map(|t| (t.shard, t.source, t.target));
            let reassigned = plan.reassign.iter().flat_map(|r| r.drop.iter().zip(&r.add).map(|(&from, &to)| (r.shard, from, to)));
            let round: Vec<(u64, NodeId, NodeId)> = tasks.chain(reassigned).collect();
            // Spread fixes move shards between zones (the only level here); evening out, within.
            let zone = |id: NodeId| input.nodes.iter().find(|n| n.id == id).map(|n| n.domain.clone());
            let evening = round.iter().all(|&(_, from, to)| zone(from) == zone(to));
            for &(shard, from, to) in &round {
                prop_assert!(!moved.contains(&(shard, to, from)), "shard {} moves back from {} to {}", shard, from, to);
                moved.push((shard, from, to));
            }
            if plan.create.is_empty() && plan.reassign.is_empty() {
                break plan;
            }
            rounds += 1;
            prop_assert!(rounds <= 200, "no end after 200 rounds");
            apply(&mut input, &plan);
            for shard in &input.shards {
                prop_assert_eq!(shard.owners.len(), shard.replication as usize, "owners of {:?} while moving", shard);
            }
            complete_all(&mut input);
            for shard in &input.shards {
                prop_assert_eq!(shard.owners.len(), shard.replication as usize, "owners of {:?} after moving", shard);
            }
            // Moves that even out counts only lower the sum.
            let now = sum_of_squares(&input);
            prop_assert!(!evening || now < squares, "shard counts spread out: {} -> {}", squares, now);
            squares = now;
        };
        let report = last.balance.expect("a full round reports");
        if unconstrained {
            prop_assert_eq!(report.status, BalanceStatus::Balanced, "{:?}", report);
        }
    }
}

fn sum_of_squares(input: &PlanInput) -> u64 {
    input
        .nodes
        .iter()
        .map(|n| input.shards.iter().filter(|s| s.owners.contains(&n.id)).count() as u64)
        .map(|c| c * c)
        .sum()
}

#[test]
fn a_leftover_copy_of_a_moved_shard_does_not_keep_its_node_from_taking_the_shard_back() {
    // Shard 1 moved from node 1 to node 2; node 1 still holds its copy (deleted after a grace
    // period). Owner 3 dies: node 1 is the only node left to take the shard, and may.
    let cluster = Cluster::with_nodes(1..=3)
        .shard(1, 2, &[2, 3])
        .report(1, [1])
        .report(2, [1])
        .liveness(3, Liveness::Dead)
        .balance(10, 4);
    let plan = cluster.plan();
    let planned: Vec<_> = plan.create.iter().map(|t| (t.shard, t.source, t.target, t.replaces, t.reason)).collect();
    assert_eq!(planned, vec![(1, 2, 1, Some(3), Reason::DeadOwner)]);
    assert!(plan.report.insufficient_nodes.is_empty());
    // Held by node 1 alone (owner 2 lost its copy): node 1 is the source, owner 2 is refilled
    // from it, and no node is left to replace owner 3.
    let alone =
        Cluster::with_nodes(1..=3).shard(1, 2, &[2, 3]).report(1, [1]).report(2, []).liveness(3, Liveness::Dead);
    let plan = alone.plan();
    let planned: Vec<_> = plan.create.iter().map(|t| (t.shard, t.source, t.target, t.reason)).collect();
    assert_eq!(planned, vec![(1, 1, 2, Reason::MissingOnOwner)]);
    assert_eq!(plan.report.insufficient_nodes.len(), 1, "node 1, the only source, cannot also be the target");
}
