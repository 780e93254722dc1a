//! Soft state of the leader's anti-entropy service: data-node heartbeats, inventories and task
//! progress. Never replicated: a new leader starts empty and waits a grace period before it
//! trusts what it has heard. Pure over the `Instant`s it is given, so it is tested without time.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use ae_planner::{Inventory, ShardCopy};
use meta_model::{NodeId, ShardId, TaskId};
use meta_wire::{HandoffQueueReport, HeartbeatRequest, Liveness, OrphanShardFile, TaskProgress};

use crate::settings::AntiEntropySettings;

/// What the leader last heard from one data node.
#[derive(Clone, Debug)]
struct Heard {
    at: Instant,
    /// The address the node heartbeats from: a new address (after `update-data`) is a new
    /// machine, whose inventory starts afresh.
    addr: String,
    version: String,
    /// The inventory version the node announced last.
    inventory_version: u64,
    /// The last inventory received, with its version; current only if that is the announced one.
    inventory: Option<(u64, Inventory)>,
    /// The hinted-handoff queues the node reported last.
    handoff: Vec<HandoffQueueReport>,
    /// The orphan shard files the node reported last.
    orphans: Vec<OrphanShardFile>,
    /// The inventory held is stale although its version is current (a repair changed a copy
    /// without the node's files changing version yet): the node is asked for a new one.
    stale: bool,
}

impl Heard {
    fn current_inventory(&self) -> Option<&Inventory> {
        if self.stale {
            return None;
        }
        self.inventory.as_ref().filter(|(version, _)| *version == self.inventory_version).map(|(_, inv)| inv)
    }
}

/// A claimant's last progress report.
#[derive(Clone, Copy, Debug)]
struct Progress {
    attempt: u32,
    bytes_done: u64,
    bytes_total: u64,
    at: Instant,
    /// The attempt's first report: when, and how many bytes it had copied then.
    first: (Instant, u64),
}

impl Progress {
    /// Bytes per second between the attempt's first report and its last.
    fn rate(&self) -> Option<u64> {
        let (first_at, first_done) = self.first;
        let elapsed = self.at.checked_duration_since(first_at)?.as_secs_f64();
        let copied = self.bytes_done.checked_sub(first_done)?;
        // Reports closer together than a millisecond say nothing about a rate.
        (elapsed >= 0.001).then(|| (copied as f64 / elapsed) as u64)
    }
}

/// What a heartbeat changed, for deciding whether to plan at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeartbeatOutcome {
    /// The leader needs the node's full inventory.
    pub(crate) send_inventory: bool,
    /// The node was not online before this heartbeat (new, suspect or dead).
    pub(crate) came_online: bool,
    /// The set of shards the node holds changed.
    pub(crate) shards_changed: bool,
    /// Shards written recently that this node still lacks now that it reported after their
    /// window: a gap is real from this heartbeat on (nothing else would mark them).
    pub(crate) gaps_confirmed: Vec<ShardId>,
}

/// The soft state of one leadership term.
#[derive(Debug)]
pub(crate) struct Tracker {
    since: Instant,
    nodes: HashMap<NodeId, Heard>,
    progress: HashMap<TaskId, Progress>,
    /// Every shard some node reported holding under this leader.
    seen: HashSet<ShardId>,
    /// Shards that appeared recently in an inventory, with when, in that order: their other
    /// owners may not have reported them yet (a write reaches every owner, but each reports on
    /// its own heartbeat). A node's first inventory under this leader adds nothing here: the
    /// grace period covers writes in flight at the takeover.
    recent: VecDeque<(ShardId, Instant)>,
    recent_at: HashMap<ShardId, Instant>,
    /// Copies completed recently: `(target, shard, when)`, in that order. Until the target reports
    /// after a heartbeat interval, its copy counts as held (its last inventory may predate it).
    completed: VecDeque<(NodeId, ShardId, Instant)>,
}

impl Tracker {
    /// Empty soft state for a leadership that began at `since`.
    pub(crate) fn new(since: Instant) -> Self {
        Tracker {
            since,
            nodes: HashMap::new(),
            progress: HashMap::new(),
            seen: HashSet::new(),
            recent: VecDeque::new(),
            recent_at: HashMap::new(),
            completed: VecDeque::new(),
        }
    }

    /// Whether the grace period after taking over is over.
    pub(crate) fn trusted(&self, now: Instant, settings: &AntiEntropySettings) -> bool {
        now.duration_since(self.since) >= settings.grace_period
    }

    /// How long until the grace period is over.
    pub(crate) fn untrusted_for(&self, now: Instant, settings: &AntiEntropySettings) -> Duration {
        settings.grace_period.saturating_sub(now.duration_since(self.since))
    }

    /// Records a heartbeat.
    pub(crate) fn heartbeat(
        &mut self,
        now: Instant,
        node_id: NodeId,
        request: HeartbeatRequest,
        settings: &AntiEntropySettings,
    ) -> HeartbeatOutcome {
        let came_online = self.liveness(now, node_id, settings) != Liveness::Online;
        let previous = self.nodes.remove(&node_id).filter(|p| p.addr == request.addr);
        let heard_before = previous.as_ref().map(|p| p.at);
        let stale = request.inventory.is_none() && previous.as_ref().is_some_and(|p| p.stale);
        let (inventory, shards_changed) = match request.inventory {
            Some(reports) => {
                let inventory: Inventory = reports
                    .iter()
                    .map(|r| {
                        (
                            r.shard_id,
                            ShardCopy {
                                size: r.size,
                                checksum: r.checksum,
                                hot: r.hot,
                                content: r.content,
                                points: r.points.unwrap_or(0),
                            },
                        )
                    })
                    .collect();
                // Compared with the last inventory received, even an outdated one.
                let last = previous.as_ref().and_then(|p| p.inventory.as_ref()).map(|(_, inv)| inv);
                let changed = last.is_none_or(|old| !same_shards(old, &inventory));
                let first_report = last.is_none();
                for &shard in inventory.shards.keys() {
                    if !first_report {
                        self.first_seen(shard, now);
                    }
                    self.seen.insert(shard);
                }
                self.forget_old(now, settings);
                (Some((request.inventory_version, inventory)), changed)
            }
            None => (previous.and_then(|p| p.inventory), false),
        };
        let heard = Heard {
            at: now,
            addr: request.addr,
            version: request.version,
            inventory_version: request.inventory_version,
            inventory,
            handoff: request.handoff,
            orphans: request.orphans,
            stale,
        };
        let send_inventory = heard.current_inventory().is_none();
        let lacks = |shard: ShardId| heard.current_inventory().is_some_and(|inv| !inv.holds(shard));
        // Windows that closed with this heartbeat: it is the first one sent after them.
        let closed = |first: Instant| {
            heard_before.is_some_and(|before| before < first + settings.heartbeat_interval)
                && now >= first + settings.heartbeat_interval
        };
        let mut gaps_confirmed: Vec<ShardId> =
            self.recent_at.iter().filter(|&(&shard, &first)| closed(first) && lacks(shard)).map(|(&s, _)| s).collect();
        gaps_confirmed.sort_unstable();
        self.nodes.insert(node_id, heard);
        HeartbeatOutcome { send_inventory, came_online, shards_changed, gaps_confirmed }
    }

    /// How the leader judges `node_id` at `now`.
    pub(crate) fn liveness(&self, now: Instant, node_id: NodeId, settings: &AntiEntropySettings) -> Liveness {
        let (silence, heard) = match self.nodes.get(&node_id) {
            Some(heard) => (now.duration_since(heard.at), true),
            // Never heard since taking over: not judged during the grace period; after it, silent
            // since the takeover, and never online (a node that died just before the takeover must
            // not be chosen as a copy target until its dead-node timeout).
            None if !self.trusted(now, settings) => return Liveness::Unknown,
            None => (now.duration_since(self.since), false),
        };
        if settings.dead_node_timeout.is_some_and(|dead| silence >= dead) {
            Liveness::Dead
        } else if silence >= settings.suspect_timeout || !heard {
            Liveness::Suspect
        } else {
            Liveness::Online
        }
    }

    /// Time since the node's last heartbeat.
    pub(crate) fn silence(&self, now: Instant, node_id: NodeId) -> Option<Duration> {
        self.nodes.get(&node_id).map(|h| now.duration_since(h.at))
    }

    /// When `node_id`'s liveness changes next if it stays silent (to suspect, then to dead), or
    /// when the grace period ends for a node not heard from yet; `None` if it never will.
    pub(crate) fn next_transition(
        &self,
        now: Instant,
        node_id: NodeId,
        settings: &AntiEntropySettings,
    ) -> Option<Instant> {
        let heard_at = match self.nodes.get(&node_id) {
            Some(heard) => heard.at,
            None if !self.trusted(now, settings) => return Some(self.since + settings.grace_period),
            None => self.since,
        };
        [Some(settings.suspect_timeout), settings.dead_node_timeout]
            .into_iter()
            .flatten()
            .map(|after| heard_at + after)
            .find(|&at| at > now)
    }

    /// How long until a silent node is declared dead (`None`: never, or already dead).
    pub(crate) fn dead_in(&self, now: Instant, node_id: NodeId, settings: &AntiEntropySettings) -> Option<Duration> {
        let heard_at = self.nodes.get(&node_id).map_or(self.since, |h| h.at);
        let dead = settings.dead_node_timeout?;
        dead.checked_sub(now.duration_since(heard_at)).filter(|left| !left.is_zero())
    }

    /// The node's reported version.
    pub(crate) fn version(&self, node_id: NodeId) -> Option<&str> {
        self.nodes.get(&node_id).map(|h| h.version.as_str())
    }

    /// The hinted-handoff queues the node reported last (none if never heard).
    pub(crate) fn handoff(&self, node_id: NodeId) -> &[HandoffQueueReport] {
        self.nodes.get(&node_id).map_or(&[], |heard| heard.handoff.as_slice())
    }

    /// The orphan shard files the node reported last (none if never heard).
    pub(crate) fn orphans(&self, node_id: NodeId) -> &[OrphanShardFile] {
        self.nodes.get(&node_id).map_or(&[], |heard| heard.orphans.as_slice())
    }

    /// The last inventory `node_id` reported, current or not.
    pub(crate) fn inventory(&self, node_id: NodeId) -> Option<&Inventory> {
        self.nodes.get(&node_id).and_then(Heard::current_inventory)
    }

    /// Every inventory the leader has, by node.
    pub(crate) fn inventories(&self) -> impl Iterator<Item = (NodeId, &Inventory)> {
        self.nodes.iter().filter_map(|(&id, h)| h.current_inventory().map(|inv| (id, inv)))
    }

    /// Whether `node_id`'s inventory may lack `shard` only because the node has not reported since
    /// the shard first appeared elsewhere (within a heartbeat interval of it): such a gap is not
    /// acted on yet.
    pub(crate) fn unconfirmed_gap(&self, node_id: NodeId, shard: ShardId, settings: &AntiEntropySettings) -> bool {
        let Some(&first) = self.recent_at.get(&shard) else { return false };
        self.nodes.get(&node_id).is_some_and(|h| h.at < first + settings.heartbeat_interval)
    }

    /// Copies that exist although their owner's inventory does not list them yet: for every
    /// shard written recently, each owner (from `owners_of`) whose inventory lacks it and that has
    /// not reported since the shard appeared; and the target of every recently completed copy,
    /// until it reports after a heartbeat interval. Never another owner for a completed copy.
    pub(crate) fn unreported(
        &self,
        owners_of: impl Fn(ShardId) -> Vec<NodeId>,
        settings: &AntiEntropySettings,
    ) -> BTreeSet<(NodeId, ShardId)> {
        let lacking = |node: NodeId, shard: ShardId| self.inventory(node).is_some_and(|inv| !inv.holds(shard));
        let mut unreported = BTreeSet::new();
        for &(shard, _) in &self.recent {
            for owner in owners_of(shard) {
                if lacking(owner, shard) && self.unconfirmed_gap(owner, shard, settings) {
                    unreported.insert((owner, shard));
                }
            }
        }
        for &(target, shard, at) in &self.completed {
            let not_reported_since = self.nodes.get(&target).is_some_and(|h| h.at < at + settings.heartbeat_interval);
            if lacking(target, shard) && not_reported_since {
                unreported.insert((target, shard));
            }
        }
        unreported
    }

    /// Drops shards from `recent`, and copies from `completed`, once every node that is not suspect
    /// has reported since.
    fn forget_old(&mut self, now: Instant, settings: &AntiEntropySettings) {
        let window = settings.heartbeat_interval + settings.suspect_timeout;
        while self.completed.front().is_some_and(|&(_, _, at)| now.duration_since(at) > window) {
            self.completed.pop_front();
        }
        while let Some(&(shard, at)) = self.recent.front().filter(|(_, at)| now.duration_since(*at) > window) {
            self.recent.pop_front();
            if self.recent_at.get(&shard) == Some(&at) {
                self.recent_at.remove(&shard);
            }
        }
    }

    /// Records that `shard` was marked written (its first write is being acknowledged): like a
    /// shard that appeared in an inventory, its owners count as holding it until each reports
    /// after a heartbeat interval ([`Tracker::unreported`]), so inventories sent before the
    /// write are not taken for a loss.
    pub(crate) fn written(&mut self, now: Instant, shard: ShardId, settings: &AntiEntropySettings) {
        self.forget_old(now, settings);
        self.first_seen(shard, now);
    }

    /// Notes `shard` as written recently, unless it was seen before under this leader.
    fn first_seen(&mut self, shard: ShardId, now: Instant) {
        if self.seen.insert(shard) {
            self.recent.push_back((shard, now));
            self.recent_at.insert(shard, now);
        }
    }

    /// Records that a completed copy put `shard` on `target` (an owner from now on): until the
    /// target reports after a heartbeat interval, the copy counts as held ([`Tracker::unreported`]):
    /// an inventory sent before the copy was installed is not taken as a gap.
    pub(crate) fn copied(&mut self, now: Instant, target: NodeId, shard: ShardId, settings: &AntiEntropySettings) {
        self.forget_old(now, settings);
        self.completed.push_back((target, shard, now));
    }

    /// A repair changed `shard`'s copies on `nodes`: the inventories held for them (their content
    /// roots) are stale, so they are not trusted (no second repair is planned on the old roots)
    /// and the nodes are asked for new ones with their next heartbeat.
    pub(crate) fn content_changed(&mut self, shard: ShardId, nodes: &[NodeId]) {
        for node in nodes {
            if let Some(heard) = self.nodes.get_mut(node) {
                heard.stale |= heard.current_inventory().is_some_and(|inv| inv.holds(shard));
            }
        }
    }

    /// Forgets the progress of tasks `open` no longer lists as open.
    pub(crate) fn forget_progress(&mut self, open: impl Fn(TaskId) -> bool) {
        self.progress.retain(|&task, _| open(task));
    }

    /// Records a claimant's progress.
    pub(crate) fn progress(&mut self, now: Instant, task_id: TaskId, attempt: u32, done: u64, total: u64) {
        let first = match self.progress.get(&task_id) {
            Some(earlier) if earlier.attempt == attempt && earlier.bytes_done <= done => earlier.first,
            // A new attempt, or one that started over (fewer bytes than before), starts its rate anew.
            _ => (now, done),
        };
        self.progress.insert(task_id, Progress { attempt, bytes_done: done, bytes_total: total, at: now, first });
    }

    /// The last progress of the task's attempt `attempt`.
    pub(crate) fn progress_of(&self, now: Instant, task_id: TaskId, attempt: u32) -> Option<TaskProgress> {
        let p = self.progress.get(&task_id).filter(|p| p.attempt == attempt)?;
        let age_ms = u64::try_from(now.duration_since(p.at).as_millis()).unwrap_or(u64::MAX);
        Some(TaskProgress { bytes_done: p.bytes_done, bytes_total: p.bytes_total, age_ms, bytes_per_sec: p.rate() })
    }

    /// Forgets a finished task's progress; returns the bytes it copied.
    pub(crate) fn finish(&mut self, task_id: TaskId) -> u64 {
        self.progress.remove(&task_id).map_or(0, |p| p.bytes_total)
    }
}

fn same_shards(a: &Inventory, b: &Inventory) -> bool {
    a.shards.len() == b.shards.len() && a.shards.keys().all(|k| b.shards.contains_key(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_wire::ShardReport;

    fn settings() -> AntiEntropySettings {
        crate::settings::AntiEntropySection {
            dead_node_timeout: "60s".into(),
            suspect_timeout: "5s".into(),
            grace_period: "3s".into(),
            ..Default::default()
        }
        .validate()
        .expect("valid")
    }

    fn beat(version: u64, shards: Option<&[u64]>) -> HeartbeatRequest {
        HeartbeatRequest {
            addr: "d:1".into(),
            version: "test".into(),
            inventory_version: version,
            inventory: shards.map(|s| {
                s.iter()
                    .map(|&shard_id| ShardReport {
                        shard_id,
                        size: 1,
                        checksum: 2,
                        hot: false,
                        content: None,
                        points: None,
                    })
                    .collect()
            }),
            handoff: Vec::new(),
            orphans: Vec::new(),
        }
    }

    #[test]
    fn liveness_moves_from_unknown_to_online_suspect_and_dead() {
        let settings = settings();
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        let at = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(tracker.liveness(at(1), 7, &settings), Liveness::Unknown, "not judged during the grace");
        assert!(!tracker.trusted(at(2), &settings));
        assert_eq!(tracker.liveness(at(4), 7, &settings), Liveness::Suspect, "never heard since the takeover");
        assert_eq!(tracker.liveness(at(6), 7, &settings), Liveness::Suspect);
        assert_eq!(tracker.liveness(at(60), 7, &settings), Liveness::Dead);

        let outcome = tracker.heartbeat(at(61), 7, beat(1, Some(&[1, 2])), &settings);
        assert!(outcome.came_online && outcome.shards_changed && !outcome.send_inventory);
        assert_eq!(tracker.liveness(at(62), 7, &settings), Liveness::Online);
        assert_eq!(tracker.dead_in(at(71), 7, &settings), Some(Duration::from_secs(50)));
        assert_eq!(tracker.liveness(at(121), 7, &settings), Liveness::Dead);
        assert_eq!(tracker.dead_in(at(121), 7, &settings), None);
    }

    #[test]
    fn a_repair_makes_the_held_inventories_of_its_owners_stale_until_they_report_again() {
        let settings = settings();
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        tracker.heartbeat(t0, 1, beat(5, Some(&[10, 11])), &settings);
        tracker.heartbeat(t0, 2, beat(8, Some(&[12])), &settings);
        tracker.content_changed(10, &[1, 2]);
        assert!(tracker.inventory(1).is_none(), "its roots of shard 10 are stale");
        assert!(tracker.inventory(2).is_some(), "node 2 does not hold shard 10: nothing changed there");
        let asked = tracker.heartbeat(t0, 1, beat(5, None), &settings);
        assert!(asked.send_inventory && tracker.inventory(1).is_none(), "asked again, until it reports");
        let fresh = tracker.heartbeat(t0, 1, beat(5, Some(&[10, 11])), &settings);
        assert!(!fresh.send_inventory && tracker.inventory(1).is_some_and(|i| i.holds(10)));
    }

    #[test]
    fn inventories_are_asked_for_when_missing_or_outdated() {
        let settings = settings();
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        let first = tracker.heartbeat(t0, 1, beat(5, None), &settings);
        assert!(first.send_inventory, "a new leader asks for the inventory");
        let full = tracker.heartbeat(t0, 1, beat(5, Some(&[10, 11])), &settings);
        assert!(!full.send_inventory && full.shards_changed);
        let same = tracker.heartbeat(t0, 1, beat(5, None), &settings);
        assert_eq!(same, HeartbeatOutcome::default());
        assert!(tracker.inventory(1).is_some_and(|i| i.holds(10)));
        let moved = tracker.heartbeat(t0, 1, beat(6, None), &settings);
        assert!(moved.send_inventory, "a newer inventory version invalidates the one held");
        assert!(tracker.inventory(1).is_none());
        let resized = tracker.heartbeat(t0, 1, beat(7, Some(&[10, 11])), &settings);
        assert!(!resized.shards_changed, "same shards, other sizes: no gap to plan for");
    }

    #[test]
    fn a_gap_counts_only_once_the_owner_reported_after_the_shard_appeared() {
        let settings = settings();
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        let owners = |_| vec![1, 2];
        tracker.heartbeat(t0, 2, beat(1, Some(&[])), &settings);
        tracker.heartbeat(t0, 1, beat(1, Some(&[])), &settings);
        // Node 1 reports the new shard 9 first; node 2 (also an owner) has not reported since.
        tracker.heartbeat(t0 + Duration::from_millis(100), 1, beat(2, Some(&[9])), &settings);
        assert!(tracker.unconfirmed_gap(2, 9, &settings));
        assert_eq!(tracker.unreported(owners, &settings), BTreeSet::from([(2, 9)]));
        // Node 2 reports again a heartbeat interval later and still lacks it: the gap is real.
        let confirmed = tracker.heartbeat(t0 + Duration::from_millis(1200), 2, beat(1, None), &settings);
        assert_eq!(confirmed.gaps_confirmed, vec![9], "the heartbeat that closes the window confirms the gap");
        assert!(!tracker.unconfirmed_gap(2, 9, &settings));
        let again = tracker.heartbeat(t0 + Duration::from_millis(2200), 2, beat(1, None), &settings);
        assert!(again.gaps_confirmed.is_empty(), "confirmed once");
        assert!(tracker.unreported(owners, &settings).is_empty());
        // A completed copy counts as held until its target reports, and an inventory sent before
        // it was installed (within a heartbeat interval) is no gap.
        let done = t0 + Duration::from_millis(1300);
        tracker.copied(done, 2, 9, &settings);
        assert_eq!(tracker.unreported(owners, &settings), BTreeSet::from([(2, 9)]));
        tracker.heartbeat(done + Duration::from_millis(5), 2, beat(2, Some(&[])), &settings);
        assert_eq!(tracker.unreported(owners, &settings), BTreeSet::from([(2, 9)]), "a stale inventory after the copy");
        tracker.heartbeat(done + Duration::from_millis(1100), 2, beat(3, Some(&[9])), &settings);
        assert!(tracker.unreported(owners, &settings).is_empty(), "reported at last");
        // A completed copy vouches for its target only: another owner lacking the shard (a refill
        // under way) is not counted as holding it.
        tracker.heartbeat(done + Duration::from_millis(1200), 1, beat(3, Some(&[])), &settings);
        let later = done + Duration::from_millis(1300);
        tracker.copied(later, 2, 9, &settings);
        assert!(!tracker.unreported(owners, &settings).contains(&(1, 9)), "node 1 must still be refilled");
    }

    #[test]
    fn liveness_transitions_are_scheduled() {
        let settings = settings();
        let t0 = Instant::now();
        let tracker = Tracker::new(t0);
        let at = |secs| t0 + Duration::from_secs(secs);
        assert_eq!(tracker.next_transition(t0, 7, &settings), Some(at(3)), "the grace period ends");
        assert_eq!(tracker.next_transition(at(3), 7, &settings), Some(at(5)), "suspect");
        assert_eq!(tracker.next_transition(at(5), 7, &settings), Some(at(60)), "dead");
        assert_eq!(tracker.next_transition(at(60), 7, &settings), None);
    }

    #[test]
    fn a_new_machine_behind_the_same_id_starts_without_an_inventory() {
        let settings = settings();
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        tracker.heartbeat(t0, 4, beat(3, Some(&[1, 2])), &settings);
        let moved = HeartbeatRequest { addr: "new:1".into(), ..beat(3, None) };
        let outcome = tracker.heartbeat(t0, 4, moved, &settings);
        assert!(outcome.send_inventory, "the old machine's inventory says nothing about the new one");
        assert!(tracker.inventory(4).is_none());
    }

    #[test]
    fn progress_belongs_to_one_attempt() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        tracker.progress(t0, 3, 2, 50, 100);
        let later = t0 + Duration::from_millis(250);
        assert_eq!(
            tracker.progress_of(later, 3, 2),
            Some(TaskProgress { bytes_done: 50, bytes_total: 100, age_ms: 250, bytes_per_sec: None })
        );
        assert_eq!(tracker.progress_of(later, 3, 1), None);
        assert_eq!(tracker.finish(3), 100);
        assert_eq!(tracker.finish(3), 0);
    }

    #[test]
    fn the_rate_counts_from_the_attempts_first_report() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(t0);
        tracker.progress(t0, 3, 1, 1_000, 10_000);
        tracker.progress(t0 + Duration::from_secs(2), 3, 1, 5_000, 10_000);
        let progress = tracker.progress_of(t0 + Duration::from_secs(2), 3, 1).expect("reported");
        assert_eq!(progress.bytes_per_sec, Some(2_000), "4000 bytes over 2 s");
        assert_eq!(progress.eta_ms(), Some(2_500), "5000 bytes left at 2000 B/s");

        // The next attempt starts its rate anew.
        tracker.progress(t0 + Duration::from_secs(3), 3, 2, 0, 10_000);
        let progress = tracker.progress_of(t0 + Duration::from_secs(3), 3, 2).expect("reported");
        assert_eq!((progress.bytes_per_sec, progress.eta_ms()), (None, None));
        tracker.progress(t0 + Duration::from_secs(4), 3, 2, 1_000, 10_000);
        let progress = tracker.progress_of(t0 + Duration::from_secs(4), 3, 2).expect("reported");
        assert_eq!(progress.bytes_per_sec, Some(1_000));

        // So does an attempt that started its transfer over.
        tracker.progress(t0 + Duration::from_secs(5), 3, 2, 500, 10_000);
        let progress = tracker.progress_of(t0 + Duration::from_secs(5), 3, 2).expect("reported");
        assert_eq!(progress.bytes_per_sec, None);
    }
}
