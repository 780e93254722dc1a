//! Rebalancing: moving shards from the most to the least loaded nodes, after every repair, and
//! moving mis-replicated shards into failure domains their owners do not share.
//!
//! # Rules
//!
//! * It runs in full rounds only, with balancing enabled, and waits (plans nothing) while a node
//!   that owns shards is suspect or draining, while an active node has no trusted inventory, or
//!   while a shard lacks copies a repair can give it (a dead node's shards, until repaired):
//!   repairs come first, and loads judged meanwhile would be wrong.
//! * A node's **load** is its shard count and its bytes (the sizes its inventory reports of the
//!   shards it owns, [`PlanInput::owned_bytes`]),
//!   counting the copies and moves in flight as done. It is **within the tolerance** `t` when its
//!   count lies in `[floor(m·(1−t)), ceil(m·(1+t))]` (m: the mean count over the active, online
//!   nodes of its group, below) and its bytes in `[M·(1−t) − s, M·(1+t) + s]` (M: the mean
//!   bytes, s: the mean shard size, a move's granularity as one shard is a count's).
//! * Nodes are balanced within their **group**: the nodes of one top-level failure domain (a
//!   zone; the unlabelled nodes together), or all of them without a hierarchy. Owners are spread
//!   over zones, so each zone carries its own share, and a move within a zone keeps the spread.
//! * A **move** of shard S (size z) from node A to node B is allowed when A keeps at least
//!   `floor(m)` shards and B gets at most `ceil(m)`, A has at least two more than B, and, when
//!   sizes are known, A has at least z bytes more than B (bytes get no worse). Since nodes that
//!   lose shards never drop below `floor(m)` and nodes that gain never rise above `ceil(m)`, and
//!   a move back would need the former at least two below the latter, no move is ever undone
//!   while the shards and nodes stay the same; each move lowers the sum of squared counts, so
//!   balancing ends.
//! * Only shards that need nothing else move: exactly their replication factor in owners, all
//!   active, online and holding them, the same content, no task in flight or blocked. A move
//!   keeps the shard's spread over failure domains (B shares no more levels with the other
//!   owners than A did). Cold shards move before hot ones, then the shard whose size best halves
//!   the bytes between A and B.
//! * **Mis-replicated** shards move first: from the owner sharing the most levels with the other
//!   owners to the node sharing the fewest (fewer than it), least loaded first.
//! * Never-written shards move by a metadata change ([`crate::Plan::reassign`]), at no cost;
//!   written ones by a [`crate::TaskKind::Move`] task: the target copies the shard and takes the
//!   source's place when the copy holds every acknowledged write. At most `max_moves` move tasks
//!   are in flight at once, and each takes a fetch slot of its target and a sync slot of its
//!   source, left over by repairs.

use failure_domains::Picked;

use crate::id_hash::IdMap;
use crate::input::{Balance, PlanInput, ShardCopy, ShardId, ShardView};
use crate::load::Load;
use crate::node_table::{Ix, NodeTable};
use crate::plan::{BalanceReport, BalanceStatus, LoadVerdict, NewTask, NodeLoad, Plan, Reason, Reassign};
use crate::shard_case::ShardCase;

/// Sources whose shards are gathered as candidates in one round.
const MAX_SOURCES: usize = 16;

/// Targets tried for one source before the next source.
const MAX_TARGETS_PER_SOURCE: usize = 32;

/// Plans the moves of one full round into `plan` and reports the loads.
pub(crate) fn plan_moves(
    input: &PlanInput,
    nodes: &NodeTable<'_>,
    load: &mut Load,
    cases: &[ShardCase<'_>],
    unsettled: &[u32],
    balance: Balance,
    plan: &mut Plan,
) {
    let moves_in_flight: u32 = cases.iter().map(|c| c.moves).sum();
    let mut report = BalanceReport {
        tolerance_percent: balance.tolerance_percent,
        moves_in_flight,
        max_moves: balance.max_moves,
        ..BalanceReport::default()
    };
    if let Some(why) = waiting(nodes, plan) {
        report.status = BalanceStatus::Waiting;
        report.why = why;
        plan.balance = Some(report);
        return;
    }
    let mut loads = Loads::new(input, nodes, cases, balance.tolerance_percent);
    let eligible = Eligible::new(input, nodes, cases, unsettled);
    let mut mover = Mover {
        input,
        nodes,
        load,
        eligible: &eligible,
        loads: &mut loads,
        in_flight: moves_in_flight,
        tasks: 0,
        reassigned: 0,
        max_moves: balance.max_moves,
        limit_reached: false,
        plan,
    };
    // Spread first: a fix may move a shard between zones, changing their shares, so counts are
    // evened out only once no fix is left to plan.
    let fixing = mover.fix_spread();
    let imbalanced = mover.loads.imbalanced();
    if imbalanced && !fixing {
        mover.even_out();
    }
    let (tasks, reassigned, limit_reached) = (mover.tasks, mover.reassigned, mover.limit_reached);
    report.nodes = loads.report(nodes);
    // The moves that exist once this round's are created: what is in flight until the next.
    report.moves_in_flight = moves_in_flight.saturating_add(tasks);
    (report.status, report.why) = if tasks + reassigned > 0 || moves_in_flight > 0 {
        let mut why = format!("{} in flight", count(report.moves_in_flight, "move"));
        if reassigned > 0 {
            why.push_str(&format!(", {} never written reassigned", count(reassigned, "shard")));
        }
        if limit_reached {
            why.push_str(&format!("; max-moves ({}) reached", balance.max_moves));
        }
        (BalanceStatus::Moving, why)
    } else if imbalanced {
        (BalanceStatus::Limited, loads.why_no_move())
    } else {
        (BalanceStatus::Balanced, String::new())
    };
    plan.balance = Some(report);
}

/// A copy's size in bytes as the load counts it (0 when not reported).
fn size_of(copy: Option<&ShardCopy>) -> i64 {
    copy.map_or(0, |c| i64::try_from(c.size).unwrap_or(i64::MAX))
}

/// `n` and the noun, in the plural unless `n` is 1.
fn count(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Why balancing waits this round, if it does. A dead node's shards are repaired (they lack
/// copies meanwhile) or, if nobody holds them, unrecoverable: it does not hold balancing up by
/// itself; nor does a shard no repair can help (unrecoverable, or short of eligible nodes).
fn waiting(nodes: &NodeTable<'_>, plan: &Plan) -> Option<String> {
    for i in 0..nodes.len() as Ix {
        let owns = nodes.owned(i) > 0;
        let state = if nodes.is_dead(i) {
            continue;
        } else if !nodes.is_active(i) {
            "draining"
        } else if !nodes.is_online(i) {
            "suspect"
        } else if nodes.inventory(i).is_none() {
            return Some(format!("node {} has not reported its inventory yet", nodes.id(i)));
        } else {
            continue;
        };
        if owns {
            return Some(format!("node {} is {state} and owns {} shards", nodes.id(i), nodes.owned(i)));
        }
    }
    let report = &plan.report;
    let hopeless = |shard: ShardId| {
        report.unrecoverable.binary_search(&shard).is_ok()
            || report.insufficient_nodes.binary_search_by_key(&shard, |h| h.shard).is_ok()
    };
    let lacking = report.under_replicated.iter().filter(|h| !hopeless(h.shard)).count();
    if lacking > 0 {
        return Some(format!("{lacking} shards lack copies: repairs first"));
    }
    None
}

/// Per-node load of the active, online nodes, projected with the tasks in flight, and the
/// totals of each balancing group: the nodes of one top-level failure domain (one zone; the
/// unlabelled nodes together), or all of them without a hierarchy. A shard moves within its
/// group only: its owners are spread over zones, so each zone carries its own share.
struct Loads {
    /// Shard count per node index (0 for nodes that take no part).
    shards: Vec<i64>,
    /// Bytes per node index.
    bytes: Vec<i64>,
    /// The nodes that take part: active and online.
    members: Vec<Ix>,
    /// Each node's group (an index into `groups`).
    group: Vec<usize>,
    groups: Vec<Group>,
    tolerance_percent: u32,
    /// What kept the last out-of-tolerance node from giving or taking a shard.
    blocked_by: Option<&'static str>,
}

/// The members of one balancing group and their totals.
#[derive(Clone, Copy, Debug, Default)]
struct Group {
    members: i64,
    shards: i64,
    bytes: i64,
}

impl Loads {
    fn new(input: &PlanInput, nodes: &NodeTable<'_>, cases: &[ShardCase<'_>], tolerance_percent: u32) -> Self {
        let n = nodes.len();
        let mut shards: Vec<i64> = (0..n as Ix).map(|i| i64::try_from(nodes.owned(i)).unwrap_or(i64::MAX)).collect();
        let reported = |i: Ix| {
            nodes.inventory(i).map_or(0, |inv| inv.shards.values().fold(0u64, |sum, c| sum.saturating_add(c.size)))
        };
        let mut bytes: Vec<i64> = (0..n as Ix)
            .map(|i| input.owned_bytes.get(&nodes.id(i)).copied().unwrap_or_else(|| reported(i)))
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX))
            .collect();
        for case in cases {
            let size = i64::try_from(case.size(nodes)).unwrap_or(i64::MAX);
            for &i in &case.arriving {
                shards[i as usize] += 1;
                bytes[i as usize] = bytes[i as usize].saturating_add(size);
            }
            for &i in &case.leaving {
                shards[i as usize] -= 1;
                bytes[i as usize] = bytes[i as usize].saturating_sub(size);
            }
        }
        let members: Vec<Ix> = (0..n as Ix).filter(|&i| nodes.can_receive(i)).collect();
        // Group numbers: the top-level domain's number + 1, 0 for unlabelled nodes.
        let zone = |i: Ix| nodes.spread().and_then(|_| nodes.place(i).at(0)).map_or(0, |z| z as usize + 1);
        let group: Vec<usize> = (0..n as Ix).map(zone).collect();
        let mut groups = vec![Group::default(); group.iter().max().map_or(1, |g| g + 1)];
        for &i in &members {
            let g = &mut groups[group[i as usize]];
            g.members += 1;
            g.shards = g.shards.saturating_add(shards[i as usize]);
            g.bytes = g.bytes.saturating_add(bytes[i as usize]);
        }
        Loads { shards, bytes, members, group, groups, tolerance_percent, blocked_by: None }
    }

    fn group_of(&self, i: Ix) -> Group {
        self.groups[self.group[i as usize]]
    }

    /// `floor(m)` and `ceil(m)` of the mean shard count of node `i`'s group.
    fn mean_bounds(&self, i: Ix) -> (i64, i64) {
        let g = self.group_of(i);
        let n = g.members.max(1);
        let floor = g.shards.div_euclid(n);
        (floor, floor + i64::from(g.shards.rem_euclid(n) != 0))
    }

    /// The tolerated shard counts of node `i`'s group: `[floor(m·(1−t)), ceil(m·(1+t))]`.
    fn shard_band(&self, i: Ix) -> (i64, i64) {
        let g = self.group_of(i);
        let (n, t) = (i128::from(g.members.max(1)), i128::from(self.tolerance_percent));
        let total = i128::from(g.shards);
        let low = (total * (100 - t)).div_euclid(100 * n);
        let high_num = total * (100 + t);
        let high = high_num.div_euclid(100 * n) + i128::from(high_num.rem_euclid(100 * n) != 0);
        (i64::try_from(low).unwrap_or(i64::MAX), i64::try_from(high).unwrap_or(i64::MAX))
    }

    fn shards_verdict(&self, i: Ix) -> LoadVerdict {
        let (low, high) = self.shard_band(i);
        verdict(self.shards[i as usize], low, high)
    }

    /// Bytes against `[M·(1−t) − s, M·(1+t) + s]` of the group (s: its mean shard size, the
    /// granularity a move has, as a count's is one shard); within when no sizes are known.
    fn bytes_verdict(&self, i: Ix) -> LoadVerdict {
        let g = self.group_of(i);
        if g.bytes <= 0 || g.shards <= 0 {
            return LoadVerdict::Within;
        }
        // Scaled by 100·n·shards to stay in integers.
        let (n, t) = (i128::from(g.members.max(1)), i128::from(self.tolerance_percent));
        let (total, count) = (i128::from(g.bytes), i128::from(g.shards));
        let scaled = i128::from(self.bytes[i as usize]) * 100 * n * count;
        let slack = total * 100 * n;
        if scaled > total * (100 + t) * count + slack {
            LoadVerdict::Over
        } else if scaled < total * (100 - t) * count - slack {
            LoadVerdict::Under
        } else {
            LoadVerdict::Within
        }
    }

    fn imbalanced(&self) -> bool {
        self.members
            .iter()
            .any(|&i| self.shards_verdict(i) != LoadVerdict::Within || self.bytes_verdict(i) != LoadVerdict::Within)
    }

    /// Whether moving a shard of `size` bytes from `a` to `b` is allowed by the load rules.
    fn allows(&self, a: Ix, b: Ix, size: i64) -> bool {
        if self.group[a as usize] != self.group[b as usize] {
            return false;
        }
        let (floor, ceil) = self.mean_bounds(a);
        let (sa, sb) = (self.shards[a as usize], self.shards[b as usize]);
        let bytes_known = self.group_of(a).bytes > 0;
        // Moving `size` bytes narrows or keeps the gap between them only if it is at most the gap.
        let bytes_kept = size == 0 || !bytes_known || self.bytes[a as usize] - self.bytes[b as usize] >= size;
        sa > floor && sb < ceil && sa - sb >= 2 && bytes_kept
    }

    /// Books a shard of `size` bytes moving from `a` to `b` (a spread fix may cross groups).
    fn moved(&mut self, a: Ix, b: Ix, size: i64) {
        let (ga, gb) = (self.group[a as usize], self.group[b as usize]);
        self.shards[a as usize] -= 1;
        self.shards[b as usize] += 1;
        self.bytes[a as usize] = self.bytes[a as usize].saturating_sub(size);
        self.bytes[b as usize] = self.bytes[b as usize].saturating_add(size);
        self.groups[ga].shards -= 1;
        self.groups[ga].bytes = self.groups[ga].bytes.saturating_sub(size);
        self.groups[gb].shards += 1;
        self.groups[gb].bytes = self.groups[gb].bytes.saturating_add(size);
    }

    /// Sources, most shards first (then most bytes, lowest ID): nodes that may give a shard.
    fn sources(&self) -> Vec<Ix> {
        let mut sources: Vec<Ix> =
            self.members.iter().copied().filter(|&i| self.shards[i as usize] > self.mean_bounds(i).0).collect();
        sources.sort_by_key(|&i| (std::cmp::Reverse((self.shards[i as usize], self.bytes[i as usize])), i));
        sources
    }

    /// Targets in `source`'s group, fewest shards first (then fewest bytes, lowest ID).
    fn targets(&self, source: Ix) -> Vec<Ix> {
        let group = self.group[source as usize];
        let (_, ceil) = self.mean_bounds(source);
        let takes = |i: Ix| self.group[i as usize] == group && self.shards[i as usize] < ceil;
        let mut targets: Vec<Ix> = self.members.iter().copied().filter(|&i| takes(i)).collect();
        targets.sort_by_key(|&i| ((self.shards[i as usize], self.bytes[i as usize]), i));
        targets
    }

    fn why_no_move(&self) -> String {
        match self.blocked_by {
            Some(why) => why.to_owned(),
            None => "no move brings a node closer to its share: shard counts are within one of the mean of \
                     their zone, and a move would widen the bytes between the nodes"
                .to_owned(),
        }
    }

    fn report(&self, nodes: &NodeTable<'_>) -> Vec<NodeLoad> {
        self.members
            .iter()
            .map(|&i| NodeLoad {
                node: nodes.id(i),
                shards: u64::try_from(self.shards[i as usize]).unwrap_or(0),
                bytes: u64::try_from(self.bytes[i as usize]).unwrap_or(0),
                shards_verdict: self.shards_verdict(i),
                bytes_verdict: self.bytes_verdict(i),
            })
            .collect()
    }
}

fn verdict(value: i64, low: i64, high: i64) -> LoadVerdict {
    if value > high {
        LoadVerdict::Over
    } else if value < low {
        LoadVerdict::Under
    } else {
        LoadVerdict::Within
    }
}

/// The shards that may move: settled ones (by index into the input) and never-written ones
/// that need nothing.
struct Eligible {
    /// Per shard index: may it move.
    movable: Vec<bool>,
}

impl Eligible {
    fn new(input: &PlanInput, nodes: &NodeTable<'_>, cases: &[ShardCase<'_>], unsettled: &[u32]) -> Self {
        let mut movable = vec![true; input.shards.len()];
        for &index in unsettled {
            movable[index as usize] = false;
        }
        let by_id: IdMap<ShardId, usize> =
            unsettled.iter().map(|&index| (input.shards[index as usize].id, index as usize)).collect();
        for case in cases {
            let quiet = case.busy_targets.is_empty() && case.in_flight.is_empty();
            if !case.shard.written && quiet && case.fit_unwritten(nodes) {
                if let Some(&index) = by_id.get(&case.shard.id) {
                    movable[index] = true;
                }
            }
        }
        Eligible { movable }
    }
}

/// The state of the moves of one round.
struct Mover<'m, 'n, 'a> {
    input: &'a PlanInput,
    nodes: &'n NodeTable<'a>,
    load: &'m mut Load,
    eligible: &'m Eligible,
    loads: &'m mut Loads,
    /// Move tasks in flight before this round.
    in_flight: u32,
    /// Move tasks and never-written reassignments planned this round: together at most
    /// `max_moves`, and the tasks with those in flight too.
    tasks: u32,
    reassigned: u32,
    max_moves: u32,
    /// Set when `max_moves` stopped the round.
    limit_reached: bool,
    plan: &'m mut Plan,
}

impl Mover<'_, '_, '_> {
    /// Moves mis-replicated shards into domains their other owners do not use. True if it planned
    /// a fix or left one for lack of slots.
    fn fix_spread(&mut self) -> bool {
        let nodes = self.nodes;
        let Some(spread) = nodes.spread() else { return false };
        let mut fixing = false;
        let reports = std::mem::take(&mut self.plan.report.mis_replicated);
        let index_of: IdMap<ShardId, usize> = if reports.is_empty() {
            IdMap::default()
        } else {
            let wanted: IdMap<ShardId, ()> = reports.iter().map(|m| (m.shard, ())).collect();
            let shards = self.input.shards.iter().enumerate();
            shards.filter(|(_, s)| wanted.contains_key(&s.id)).map(|(k, s)| (s.id, k)).collect()
        };
        for mis in &reports {
            let Some(&index) = index_of.get(&mis.shard) else { continue };
            if !self.eligible.movable[index] {
                continue;
            }
            let shard = &self.input.shards[index];
            let owners: Vec<Ix> = shard.owners.iter().filter_map(|&o| nodes.index(o)).collect();
            // The owner closest to the others in the hierarchy leaves (the highest ID on ties).
            let overlap_without = |leaving: Ix| {
                let mut picked = Picked::new(spread);
                for &o in owners.iter().filter(|&&o| o != leaving) {
                    picked.add(nodes.place(o), true);
                }
                picked
            };
            let Some((source, picked)) = owners
                .iter()
                .map(|&o| (o, overlap_without(o)))
                .max_by_key(|(o, picked)| (picked.overlap(nodes.place(*o)), *o))
            else {
                continue;
            };
            let current = picked.overlap(nodes.place(source));
            let mut candidates: Vec<Ix> = self
                .loads
                .members
                .iter()
                .copied()
                .filter(|&i| !owners.contains(&i) && !nodes.holds(i, shard.id, false))
                .collect();
            candidates.sort_by_key(|&i| (self.loads.shards[i as usize], i));
            let Some(target) = picked.choose(candidates, |&i| nodes.place(i)) else { continue };
            if picked.overlap(nodes.place(target)) >= current {
                continue;
            }
            fixing = true;
            if !self.make(shard, source, target, Reason::MisReplicated) && self.limit_reached {
                break;
            }
        }
        self.plan.report.mis_replicated = reports;
        fixing
    }

    /// Moves shards from the most to the least loaded nodes while the rules allow.
    fn even_out(&mut self) {
        let nodes = self.nodes;
        let sources: Vec<Ix> = self.loads.sources().into_iter().take(MAX_SOURCES).collect();
        if sources.is_empty() {
            return;
        }
        // One pass over the shards gathers the movable shards of the chosen sources.
        let mut is_source = vec![false; nodes.len()];
        for &s in &sources {
            is_source[s as usize] = true;
        }
        let mut candidates: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (index, shard) in self.input.shards.iter().enumerate() {
            if !self.eligible.movable[index] {
                continue;
            }
            for &owner in &shard.owners {
                if let Some(i) = nodes.index(owner).filter(|&i| is_source[i as usize]) {
                    candidates[i as usize].push(index);
                }
            }
        }
        // Per shard index: moved this round (a shard moves once a round).
        let mut moved = vec![false; self.input.shards.len()];
        loop {
            if self.limit_reached {
                return;
            }
            let mut progress = false;
            for source in self.loads.sources() {
                if candidates[source as usize].is_empty() || !self.load.has_sync_slot(source) {
                    continue;
                }
                for target in self.loads.targets(source).into_iter().take(MAX_TARGETS_PER_SOURCE) {
                    if !self.load.has_fetch_slot(target) || !self.loads.allows(source, target, 0) {
                        continue;
                    }
                    let Some(index) = self.best_shard(&candidates[source as usize], &moved, source, target) else {
                        continue;
                    };
                    let shard = &self.input.shards[index];
                    if self.make(shard, source, target, Reason::Rebalance) {
                        moved[index] = true;
                        progress = true;
                        break;
                    }
                    if self.limit_reached {
                        return;
                    }
                }
                if progress {
                    break;
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// The best shard of `source`'s candidates to move to `target`: not moved this round, not
    /// owned or held by the target, its spread kept, its size allowed; cold before hot, then
    /// the size nearest half the bytes between them, then the lowest ID.
    fn best_shard(&mut self, candidates: &[usize], moved: &[bool], source: Ix, target: Ix) -> Option<usize> {
        let nodes = self.nodes;
        let gap = i128::from(self.loads.bytes[source as usize]) - i128::from(self.loads.bytes[target as usize]);
        let mut best: Option<((bool, i128, ShardId), usize)> = None;
        let mut spread_blocked = false;
        for &index in candidates {
            let shard = &self.input.shards[index];
            if moved[index] || !shard.owners.contains(&nodes.id(source)) {
                continue;
            }
            if shard.owners.contains(&nodes.id(target)) || nodes.holds(target, shard.id, false) {
                continue;
            }
            let copy = nodes.inventory(source).and_then(|inv| inv.shards.get(&shard.id));
            let size = size_of(copy);
            if !self.loads.allows(source, target, size) {
                continue;
            }
            if !self.keeps_spread(shard, source, target) {
                spread_blocked = true;
                continue;
            }
            let hot = copy.is_some_and(|c| c.content.is_none() && shard.written);
            let key = (hot, (2 * i128::from(size) - gap).abs(), shard.id);
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                best = Some((key, index));
            }
        }
        if best.is_none() && spread_blocked {
            self.loads.blocked_by = Some("every shard that could move would share more failure domains");
        }
        best.map(|(_, index)| index)
    }

    /// Whether `target` shares no more levels with the shard's other owners than `source` does.
    fn keeps_spread(&self, shard: &ShardView, source: Ix, target: Ix) -> bool {
        let nodes = self.nodes;
        let Some(spread) = nodes.spread() else { return true };
        let mut picked = Picked::new(spread);
        for &o in shard.owners.iter().filter(|&&o| o != nodes.id(source)) {
            if let Some(i) = nodes.index(o) {
                picked.add(nodes.place(i), true);
            }
        }
        picked.overlap(nodes.place(target)) <= picked.overlap(nodes.place(source))
    }

    /// Plans moving `shard` from `source` to `target`: a reassignment if it was never written,
    /// else a move task if the limit and slots allow. False if nothing was planned.
    fn make(&mut self, shard: &ShardView, source: Ix, target: Ix, reason: Reason) -> bool {
        let nodes = self.nodes;
        let (source_id, target_id) = (nodes.id(source), nodes.id(target));
        let size = size_of(nodes.inventory(source).and_then(|inv| inv.shards.get(&shard.id)));
        // Every move counts against the round's limit, reassignments too (each costs a command).
        if self.tasks + self.reassigned >= self.max_moves {
            self.limit_reached = true;
            return false;
        }
        if !shard.written {
            self.plan.reassign.push(Reassign { shard: shard.id, drop: vec![source_id], add: vec![target_id] });
            self.reassigned += 1;
        } else {
            if self.in_flight + self.tasks >= self.max_moves {
                self.limit_reached = true;
                return false;
            }
            if !self.load.has_fetch_slot(target) || !self.load.has_sync_slot(source) {
                return false;
            }
            self.tasks += 1;
            self.load.assign(source, target);
            self.plan.create.push(NewTask {
                shard: shard.id,
                source: source_id,
                target: target_id,
                replaces: Some(source_id),
                priority: shard.replication + 2,
                reason,
            });
        }
        self.loads.moved(source, target, size);
        true
    }
}
