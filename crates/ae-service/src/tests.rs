//! The service in memory: [`MemoryPort`] over a real [`MetaState`] (commands applied at once,
//! their changes reported as the state machine reports them), tokio's paused clock, and data
//! nodes played by the test. Nothing here sleeps for real: time advances only when every task waits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use meta_model::{
    Command, MetaState, NodeId, NodeState, RetentionPolicySpec, ShardId, Task, TaskKind, TaskReason, TaskState, HOUR,
};
use meta_wire::{
    AeError, AeHandler, ClaimRequest, CompleteTask, CopyShardRequest, FailRequest, FailTask, GetReport, Heartbeat,
    HeartbeatRequest, Liveness, RepairRequest, ShardReport,
};

use crate::{AntiEntropy, AntiEntropySection, CallError, MemoryPort, MetaPort};

/// A cluster of `nodes` data nodes with database `db` (RF `rf`) and one shard group; the service
/// of a meta node that leads in term 1, its loop running.
struct World {
    port: Arc<MemoryPort>,
    service: Arc<AntiEntropy>,
    /// What each data node holds on disk, and the inventory version it announces.
    disks: BTreeMap<NodeId, (u64, BTreeSet<ShardId>)>,
}

fn settings() -> crate::AntiEntropySettings {
    AntiEntropySection {
        check_interval: "30s".into(),
        dead_node_timeout: "20s".into(),
        suspect_timeout: "5s".into(),
        heartbeat_interval: "1s".into(),
        grace_period: "3s".into(),
        lease: "10s".into(),
        ..AntiEntropySection::default()
    }
    .validate()
    .expect("valid settings")
}

impl World {
    /// The service's metrics now, as `/metrics` shows them.
    fn metrics(&self) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        self.service.register_metrics(&*self.port, &mut registry);
        let mut metrics = String::new();
        prometheus_client::encoding::text::encode(&mut metrics, &registry).expect("encodes");
        metrics
    }

    fn new(nodes: u64, rf: u32) -> Self {
        let service = Arc::new(AntiEntropy::new(100, settings()));
        let mut state = MetaState::new();
        for i in 1..=nodes {
            let add = Command::AddDataNode {
                tcp_addr: format!("data-{i}:8088"),
                http_addr: format!("data-{i}:8086"),
                labels: BTreeMap::new(),
            };
            state.apply(&add).expect("node added");
        }
        let spec = RetentionPolicySpec {
            name: "rp".into(),
            duration: 0,
            shard_group_duration: Some(HOUR),
            replication_factor: rf,
        };
        state.apply(&Command::CreateDatabase { name: "db".into(), default_retention_policy: Some(spec) }).expect("db");
        let group = Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: 0 };
        state.apply(&group).expect("group");
        // The group holds data: its first writes marked it.
        let written: Vec<ShardId> = state.unwritten_shards().iter().copied().collect();
        state.apply(&Command::MarkShardsWritten { shard_ids: written }).expect("marked");
        let mut disks: BTreeMap<NodeId, (u64, BTreeSet<ShardId>)> =
            (1..=nodes).map(|id| (id, (1, BTreeSet::new()))).collect();
        for id in 1..=nodes {
            for shard in state.shards_owned_by(id) {
                disks.entry(id).or_default().1.insert(shard);
            }
        }
        let port = Arc::new(MemoryPort::new(state, Arc::clone(&service)));
        tokio::spawn(Arc::clone(&service).run(Arc::clone(&port)));
        World { port, service, disks }
    }

    fn serving(&self) -> crate::Serving<'_, MemoryPort> {
        self.service.serving(&*self.port)
    }

    /// Node `id` heartbeats with its full inventory.
    async fn beat(&self, id: NodeId) -> Result<(), CallError> {
        let (version, shards) = self.disks.get(&id).cloned().unwrap_or_default();
        let inventory = shards.iter().map(|&shard_id| ShardReport {
            shard_id,
            size: 1,
            checksum: 0,
            hot: false,
            content: None,
            points: None,
        });
        let request = HeartbeatRequest {
            addr: format!("data-{id}:8086"),
            version: "test".into(),
            inventory_version: version,
            inventory: Some(inventory.collect()),
            handoff: Vec::new(),
            orphans: Vec::new(),
        };
        self.serving().heartbeat(Heartbeat { node_id: id, request }).await.map(drop)
    }

    /// `duration` of heartbeats every second from the nodes `alive` says are alive.
    async fn run_for(&self, duration: Duration, alive: impl Fn(NodeId) -> bool) {
        let until = tokio::time::Instant::now() + duration;
        while tokio::time::Instant::now() < until {
            for &id in self.disks.keys().filter(|&&id| alive(id)) {
                self.beat(id).await.expect("heartbeat accepted");
            }
            virtual_wait(Duration::from_secs(1)).await; // The data nodes' heartbeat interval.
        }
    }

    fn read<R>(&self, read: impl FnOnce(&MetaState) -> R) -> R {
        self.port.read(read)
    }

    fn open_tasks(&self) -> Vec<Task> {
        self.read(|s| s.open_tasks().cloned().collect())
    }

    fn owners(&self, shard: ShardId) -> Vec<NodeId> {
        self.read(|s| s.shard(shard).map(|v| v.shard.owners.clone()).unwrap_or_default())
    }

    fn commands(&self, name: &str) -> usize {
        self.port.proposed().iter().filter(|c| c.name() == name).count()
    }

    /// An operator's copy of a shard of node 1 to `target`, claimed by `target` (attempt 1).
    async fn claimed_copy(&self, target: NodeId) -> Task {
        let shard = self.read(|s| s.shards_owned_by(1).next()).expect("node 1 owns a shard");
        let task = self.serving().copy_shard(CopyShardRequest { shard_id: shard, source: 1, target }).await;
        let task = task.expect("copy-shard");
        self.serving()
            .claim(ClaimRequest { node_id: target, max: 1, wait_ms: 0, kinds: vec![TaskKind::Copy] })
            .await
            .expect("claim");
        task
    }

    /// Gives node `id` a copy of `shard` on disk (as a finished transfer does).
    fn install(&mut self, id: NodeId, shard: ShardId) {
        let disk = self.disks.entry(id).or_default();
        disk.0 += 1;
        disk.1.insert(shard);
    }
}

/// Lets `duration` pass on tokio's paused clock: no real time passes, and the clock moves only
/// once every task waits, so everything due before the end has run.
async fn virtual_wait(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Returns once the service has finished what it was doing (on the paused clock, a moment passes
/// only when every task waits): for asserting that something did *not* happen.
async fn settle() {
    virtual_wait(Duration::from_millis(1)).await;
}

fn every(_: NodeId) -> bool {
    true
}

#[tokio::test(start_paused = true)]
async fn a_silent_node_turns_suspect_then_dead_and_its_shards_are_copied_at_once() {
    let world = World::new(4, 2);
    world.run_for(Duration::from_secs(4), every).await;
    assert!(world.open_tasks().is_empty(), "a healthy cluster needs nothing");
    let report = world.serving().report(GetReport).await.expect("report");
    assert!(report.trusted && report.nodes.iter().all(|n| n.liveness == Liveness::Online));

    let silent = |id: NodeId| id != 1;
    world.run_for(Duration::from_secs(6), silent).await;
    let report = world.serving().report(GetReport).await.expect("report");
    let node1 = report.nodes.iter().find(|n| n.id == 1).expect("node 1");
    assert_eq!(node1.liveness, Liveness::Suspect);
    assert!(world.open_tasks().is_empty(), "a suspect node's copies still count");

    world.run_for(Duration::from_secs(15), silent).await;
    let lost: Vec<ShardId> = world.read(|s| s.shards_owned_by(1).collect());
    assert!(!lost.is_empty());
    let tasks = world.open_tasks();
    assert_eq!(tasks.len(), lost.len(), "one copy per shard of the dead node: {tasks:?}");
    for task in &tasks {
        assert_eq!((task.spec.replaces, task.spec.reason), (Some(1), TaskReason::DeadOwner));
        assert_ne!(task.spec.target, 1);
        assert!(world.owners(task.spec.shard_id).contains(&task.spec.source));
    }
    assert_eq!(world.commands("create_copy_tasks"), 1, "planned once, when the node was declared dead");
    let metrics = world.metrics();
    let dead: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("metad_ae_data_node_liveness{") && l.contains("liveness=\"dead\""))
        .collect();
    assert_eq!(dead.len(), 1, "{metrics}");
    assert!(dead[0].contains("node_id=\"1\"") && dead[0].ends_with(" 1"), "{metrics}");
}

#[tokio::test(start_paused = true)]
async fn nothing_is_planned_or_repaired_during_the_grace_period_after_a_takeover() {
    let world = World::new(3, 2);
    // Node 3 never heartbeats: during the grace period it is not judged at all.
    let repair = world.serving().repair(RepairRequest { shard_id: 1 }).await;
    assert!(matches!(repair, Err(CallError::Refused(AeError::NotTrustedYet { .. }))), "{repair:?}");
    world.run_for(Duration::from_secs(2), |id| id != 3).await;
    let report = world.serving().report(GetReport).await.expect("report");
    assert!(!report.trusted);
    assert_eq!(report.nodes.iter().find(|n| n.id == 3).map(|n| n.liveness), Some(Liveness::Unknown));
    assert_eq!(world.commands("create_copy_tasks"), 0);

    // A new term starts the soft state afresh, grace period included.
    world.run_for(Duration::from_secs(3), every).await;
    assert!(world.serving().report(GetReport).await.expect("report").trusted);
    world.port.set_term(Some(2));
    world.service.wake();
    let report = world.serving().report(GetReport).await.expect("report");
    assert!(!report.trusted && report.nodes.iter().all(|n| n.liveness == Liveness::Unknown));
}

#[tokio::test(start_paused = true)]
async fn a_waiting_claim_wakes_when_a_task_is_created() {
    let world = Arc::new(World::new(3, 1));
    world.run_for(Duration::from_secs(4), every).await;
    let shard = world.read(|s| s.shards_owned_by(1).next()).expect("node 1 owns a shard");
    let claimer = Arc::clone(&world);
    let started = tokio::time::Instant::now();
    let claim = tokio::spawn(async move {
        let request = ClaimRequest { node_id: 2, max: 4, wait_ms: 5000, kinds: vec![TaskKind::Copy] };
        let reply = claimer.serving().claim(request).await.expect("claim");
        (reply, started.elapsed())
    });
    virtual_wait(Duration::from_millis(300)).await;
    assert!(!claim.is_finished(), "an idle node's claim waits");
    let copy = CopyShardRequest { shard_id: shard, source: 1, target: 2 };
    let task = world.serving().copy_shard(copy).await.expect("copy-shard");
    let (reply, waited) = claim.await.expect("claim task");
    assert_eq!(reply.tasks.len(), 1);
    assert_eq!((reply.tasks[0].task.id, reply.tasks[0].task.attempt), (task.id, 1));
    assert_eq!(reply.tasks[0].source_addr, "data-1:8086");
    assert!(waited < Duration::from_secs(1), "woken by the task, not by the timeout: {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_completed_copy_counts_as_held_before_its_target_reports_it() {
    let mut world = World::new(4, 2);
    world.run_for(Duration::from_secs(4), every).await;
    // Node 3 dies; its shards are copied to survivors that do not own them.
    let alive = |id: NodeId| id != 3;
    world.run_for(Duration::from_secs(21), alive).await;
    let tasks = world.open_tasks();
    assert!(!tasks.is_empty());
    for task in &tasks {
        let claim = ClaimRequest { node_id: task.spec.target, max: 10, wait_ms: 0, kinds: vec![TaskKind::Copy] };
        let claimed = world.serving().claim(claim).await.expect("claim");
        let attempt = claimed.tasks.iter().find(|c| c.task.id == task.id).expect("claimed").task.attempt;
        world.install(task.spec.target, task.spec.shard_id);
        // The target's last inventory (sent before the copy was installed) still lacks the shard:
        // the completed copy must count, or a refill of the new owner would be planned.
        world.serving().complete(CompleteTask { task_id: task.id, attempt }).await.expect("complete");
        assert!(world.owners(task.spec.shard_id).contains(&task.spec.target));
    }
    settle().await;
    assert!(world.open_tasks().is_empty(), "no refill planned: {:?}", world.open_tasks());
    world.run_for(Duration::from_secs(3), alive).await;
    assert!(world.open_tasks().is_empty(), "the targets reported their copies: nothing to do");
    let report = world.serving().report(GetReport).await.expect("report");
    assert!(report.under_replicated.is_empty() && report.missing_on_owner.is_empty(), "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_draining_node_whose_shards_are_copied_elsewhere_is_dropped_and_removed() {
    let mut world = World::new(3, 1);
    world.run_for(Duration::from_secs(4), every).await;
    // An operator copies node 1's shards to node 2, then removes node 1 (it drains).
    let shards: Vec<ShardId> = world.read(|s| s.shards_owned_by(1).collect());
    for &shard in &shards {
        let task = world.serving().copy_shard(CopyShardRequest { shard_id: shard, source: 1, target: 2 }).await;
        let task = task.expect("copy-shard");
        let claim = world
            .serving()
            .claim(ClaimRequest { node_id: 2, max: 10, wait_ms: 0, kinds: vec![TaskKind::Copy] })
            .await
            .expect("claim");
        assert!(claim.tasks.iter().any(|c| c.task.id == task.id));
        world.install(2, shard);
        world.serving().complete(CompleteTask { task_id: task.id, attempt: 1 }).await.expect("complete");
    }
    world.run_for(Duration::from_secs(2), every).await;
    world.port.propose(Command::RemoveDataNode { node_id: 1, force: false }).await.expect("proposed").expect("drain");
    settle().await;
    assert_eq!(world.read(|s| s.data_node(1).map(|n| n.state)), Some(NodeState::Removed));
    for &shard in &shards {
        assert_eq!(world.owners(shard), vec![2], "the surplus draining owner was dropped");
    }
    assert_eq!(world.commands("create_copy_tasks"), shards.len(), "the operator's copies only: nothing else");
}

#[tokio::test(start_paused = true)]
async fn the_leaders_view_of_live_nodes_is_stamped_only_once_trusted() {
    let world = World::new(3, 1);
    assert_eq!(world.service.live_data_nodes(&*world.port), None, "not judged during the grace period");
    world.run_for(Duration::from_secs(4), every).await;
    assert_eq!(world.service.live_data_nodes(&*world.port), Some(BTreeSet::from([1, 2, 3])));
    world.run_for(Duration::from_secs(6), |id| id != 2).await;
    assert_eq!(world.service.live_data_nodes(&*world.port), Some(BTreeSet::from([1, 3])), "suspect is not live");
    world.port.set_term(None);
    assert_eq!(world.service.live_data_nodes(&*world.port), None, "a follower has no view");
}

#[tokio::test(start_paused = true)]
async fn an_idle_cluster_plans_only_its_full_rounds() {
    let world = World::new(4, 2);
    world.run_for(Duration::from_secs(95), every).await;
    let metrics = world.metrics();
    let plans = metrics
        .lines()
        .find_map(|l| l.strip_prefix("metad_ae_plans_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("plans counter");
    // 95 s with a 30 s check interval after a 3 s grace period: rounds at 3, 33, 63 and 93 s.
    assert_eq!(plans, 4, "{metrics}");
    let online: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("metad_ae_data_node_liveness{") && l.ends_with(" 1"))
        .filter(|l| l.contains("state=\"active\"") && l.contains("liveness=\"online\""))
        .collect();
    assert_eq!(online.len(), 4, "every data node active and online: {metrics}");
    assert!(world.port.proposed().is_empty(), "nothing proposed");
}

#[tokio::test(start_paused = true)]
async fn a_lapsed_lease_is_offered_again_without_polling() {
    let world = World::new(3, 1);
    world.run_for(Duration::from_secs(4), every).await;
    let task = world.claimed_copy(3).await;
    // The claimant goes quiet; the lease is 10 s.
    world.run_for(Duration::from_secs(9), every).await;
    assert_eq!(world.read(|s| s.copy_task(task.id).map(|t| t.state)), Some(TaskState::Claimed));
    world.run_for(Duration::from_secs(2), every).await;
    let expired = world.read(|s| s.copy_task(task.id).cloned()).expect("task");
    assert_eq!((expired.state, expired.attempt), (TaskState::Pending, 1));
    let stale = world.serving().complete(CompleteTask { task_id: task.id, attempt: 1 }).await;
    assert!(matches!(stale, Err(CallError::Refused(AeError::Apply(_)))), "{stale:?}");
    assert_eq!(world.commands("expire_copy_task_leases"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_caller_from_an_older_term_never_resets_the_current_one() {
    let world = World::new(3, 1);
    world.run_for(Duration::from_secs(4), every).await;
    world.port.set_term(Some(3));
    world.run_for(Duration::from_secs(4), every).await;
    assert!(world.serving().report(GetReport).await.expect("report").trusted);
    // A call that began in term 1 and awaited a commit across the elections comes back late.
    drop(world.service.term(1));
    assert!(world.serving().report(GetReport).await.expect("report").trusted, "term 3's soft state survives");
}

#[tokio::test(start_paused = true)]
async fn leases_are_not_judged_during_the_grace_period_after_a_takeover() {
    let world = World::new(3, 1);
    world.run_for(Duration::from_secs(4), every).await;
    let task = world.claimed_copy(3).await;
    // The lease (10 s) lapses 1 s after a new term begins, inside its 3 s grace period.
    world.run_for(Duration::from_secs(9), every).await;
    world.port.set_term(Some(2));
    world.run_for(Duration::from_secs(2), every).await;
    let state = |world: &World| world.read(|s| s.copy_task(task.id).map(|t| t.state));
    assert_eq!(state(&world), Some(TaskState::Claimed), "claimants could not renew during the election");
    world.run_for(Duration::from_secs(2), every).await;
    assert_eq!(state(&world), Some(TaskState::Pending), "judged once the grace period is over");
}

#[tokio::test(start_paused = true)]
async fn a_waiting_claim_wakes_when_a_failed_task_may_be_retried() {
    let world = Arc::new(World::new(3, 1));
    world.run_for(Duration::from_secs(4), every).await;
    let task = world.claimed_copy(2).await;
    let fail = FailTask { task_id: task.id, request: FailRequest { attempt: 1, error: "disk full".into() } };
    let failed = world.serving().fail(fail).await.expect("fail");
    assert_eq!(failed.state, TaskState::Pending, "retried after a backoff (1 s)");
    let started = tokio::time::Instant::now();
    let request = ClaimRequest { node_id: 2, max: 1, wait_ms: 5000, kinds: vec![TaskKind::Copy] };
    let reply = world.serving().claim(request).await.expect("claim");
    assert_eq!(reply.tasks.first().map(|c| (c.task.id, c.task.attempt)), Some((task.id, 2)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(2), "woken at the retry: {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_write_missing_on_one_owner_is_refilled_once_that_owner_reports_without_it() {
    let mut world = World::new(4, 2);
    world.run_for(Duration::from_secs(4), every).await;
    let group =
        Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: HOUR as i64 };
    world.port.propose(group).await.expect("proposed").expect("group created");
    let (shard, owners) = world.read(|s| {
        let shard = s.next_shard_id() - 1;
        (shard, s.shard(shard).map(|v| v.shard.owners.clone()).unwrap_or_default())
    });
    let (holder, lacking) = (owners[0], owners[1]);
    // The write reached one owner only (its data node marked the shard before storing).
    world.port.propose(Command::MarkShardsWritten { shard_ids: vec![shard] }).await.expect("proposed").expect("marked");
    world.install(holder, shard);
    world.run_for(Duration::from_secs(3), every).await;
    let refill: Vec<Task> = world.open_tasks().into_iter().filter(|t| t.spec.shard_id == shard).collect();
    assert_eq!(refill.len(), 1, "{refill:?}");
    assert_eq!((refill[0].spec.target, refill[0].spec.source), (lacking, holder));
    assert_eq!(refill[0].spec.reason, TaskReason::MissingOnOwner, "long before the next full round (30 s)");
}

/// The next hour's group, created ahead of its writes: never written.
async fn group_ahead(world: &World) -> Vec<ShardId> {
    let group =
        Command::CreateShardGroup { database: "db".into(), retention_policy: "rp".into(), timestamp: HOUR as i64 };
    world.port.propose(group).await.expect("proposed").expect("group created");
    world.read(|s| s.unwritten_shards().iter().copied().collect())
}

#[tokio::test(start_paused = true)]
async fn a_dead_nodes_never_written_shards_move_without_a_copy_and_are_not_lost() {
    let world = World::new(4, 2);
    let ahead = group_ahead(&world).await;
    assert_eq!(ahead.len(), 2);
    world.run_for(Duration::from_secs(4), every).await;
    let silent = |id: NodeId| id != 1;
    world.run_for(Duration::from_secs(25), silent).await;

    let report = world.serving().report(GetReport).await.expect("report");
    assert!(report.unrecoverable.is_empty(), "{report:?}");
    for &shard in &ahead {
        let owners = world.owners(shard);
        assert_eq!(owners.len(), 2, "shard {shard}: {owners:?}");
        assert!(!owners.contains(&1), "shard {shard} still on the dead node: {owners:?}");
        assert!(world.open_tasks().iter().all(|t| t.spec.shard_id != shard), "a copy of nothing");
    }
    assert!(world.commands("reassign_unwritten_shard") >= 1);
    // The dead node's written shards are copied as before.
    let copies = world.open_tasks();
    assert!(!copies.is_empty() && copies.iter().all(|t| t.spec.replaces == Some(1)), "{copies:?}");
}

#[tokio::test(start_paused = true)]
async fn a_shard_marked_written_is_held_by_its_owners_until_they_report() {
    let mut world = World::new(4, 2);
    let ahead = group_ahead(&world).await;
    world.run_for(Duration::from_secs(4), every).await;
    // The first write marks the shards; the owners' last inventories predate it.
    let mark = Command::MarkShardsWritten { shard_ids: ahead.clone() };
    world.port.propose(mark).await.expect("proposed").expect("marked");
    settle().await;
    let report = world.serving().report(GetReport).await.expect("report");
    assert!(report.unrecoverable.is_empty() && report.under_replicated.is_empty(), "{report:?}");
    for &shard in &ahead {
        for owner in world.owners(shard) {
            world.install(owner, shard);
        }
    }
    world.run_for(Duration::from_secs(3), every).await;
    let report = world.serving().report(GetReport).await.expect("report");
    assert!(report.unrecoverable.is_empty() && report.under_replicated.is_empty(), "{report:?}");
    assert!(world.open_tasks().is_empty());
}

#[tokio::test(start_paused = true)]
async fn shards_of_expired_groups_are_never_repaired_and_are_counted_apart() {
    let world = World::new(4, 2);
    world.run_for(Duration::from_secs(4), every).await;
    // The group covers the first hour of 1970: with a one-hour retention it expired long ago.
    let update = meta_model::RetentionPolicyUpdate { duration: Some(HOUR), ..Default::default() };
    let shorten = Command::AlterRetentionPolicy { database: "db".into(), name: "rp".into(), update };
    world.port.propose(shorten).await.expect("proposed").expect("altered");
    world.run_for(Duration::from_secs(25), |id| id != 1).await;
    let report = world.serving().report(GetReport).await.expect("report");
    assert_eq!(report.nodes.iter().find(|n| n.id == 1).map(|n| n.liveness), Some(Liveness::Dead));
    assert!(world.open_tasks().is_empty(), "nothing is copied for data retention deletes: {:?}", world.open_tasks());
    assert!(report.under_replicated.is_empty() && report.unrecoverable.is_empty(), "{report:?}");
    let shards = world.read(|s| s.shard_count() as u64);
    let expected = meta_wire::LifecycleSummary { expired_groups: 1, shards_not_planned: shards, ..Default::default() };
    assert_eq!(report.lifecycle, expected);
}

/// `copy-shard` is refused up front when it could only wait: the target is dead, or the source
/// neither owns nor holds the shard (before, the task stayed pending or retried against a 404).
#[tokio::test(start_paused = true)]
async fn a_copy_that_could_only_wait_is_refused_up_front() {
    let world = World::new(4, 1);
    world.run_for(Duration::from_secs(40), |id| id != 4).await;
    let owned_by = |node: NodeId| world.read(|s| s.shards_owned_by(node).next()).expect("a shard");
    let (of_1, of_2) = (owned_by(1), owned_by(2));
    let copy = CopyShardRequest { shard_id: of_1, source: 1, target: 4 };
    let refused = world.serving().copy_shard(copy).await;
    assert!(matches!(refused, Err(CallError::Refused(AeError::TargetDead { node_id: 4 }))), "{refused:?}");
    let copy = CopyShardRequest { shard_id: of_2, source: 1, target: 3 };
    let refused = world.serving().copy_shard(copy).await;
    assert!(matches!(refused, Err(CallError::Refused(AeError::SourceLacksShard { .. }))), "{refused:?}");
    let fine = world.serving().copy_shard(CopyShardRequest { shard_id: of_1, source: 1, target: 3 }).await;
    assert!(fine.is_ok(), "{fine:?}");
}
