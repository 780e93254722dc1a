//! Anti-entropy in Docker: three `metad` containers with short `[anti-entropy]` timings (a TOML
//! file bind-mounted into each) and four `datad` containers that register themselves, on a data
//! network of their own (writes fan out and copies are pulled datad → datad) and on the meta
//! nodes' client network.
//!
//! ```text
//!  create db (RF 2, 1h groups) ─▶ write 6 hours ─▶ every shard on 2 owners, identical copies
//!  docker kill a data node (seeded pick), writes going on to every shard, its own included
//!    ─▶ declared dead ─▶ its shards copied to the others: 2 live owners each, the new copies
//!       holding the points of the surviving ones, one dead_owner task per shard it owned
//!  docker network disconnect another one from the meta nodes (it keeps running and serving)
//!    ─▶ declared dead ─▶ its shards copied elsewhere, likewise
//!    ─▶ every key written through it: none routed to a replaced owner is acknowledged
//!  reconnect it ─▶ online again (heartbeats resume), its return changes no owner
//!  write every hour through every live node, the reconnected one too
//!  every acknowledged point is on every owner of its shard, all owners' copies identical
//! ```
//!
//! "Identical" copies hold the same points (equal content roots); their bytes may differ in
//! order. The background writes go to every shard, those of the faulty node too, through nodes
//! other than the faulty one: a copy of a shard written while it runs must end with every point
//! acknowledged meanwhile (its target takes writes from the moment the copy is planned), and a
//! write the down owner missed waits in hinted handoff. While a node is cut off from the meta
//! nodes, every key is also written through it: writes it routes by its stale metadata to owners
//! that were replaced are refused by them, never acknowledged.
//!
//! It builds the image `metad:fault-suite` from the debug binaries (`cargo build --workspace
//! --bins` first) with `deploy/build-image.sh`, as `docker_faults` does; about a minute on two
//! cores. `AE_FAULT_SEED=0x...` replays the choices of one run (every run prints its seed). On
//! failure it prints the last log lines of every container.
//!
//! Without Docker the test says so loudly and passes, unless `CI=true`, where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use meta_model::{TaskReason, TaskState, Timestamp};
use meta_wire::Liveness;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use fault_suite::{
    body, read_copies, replacements, say, write_lines, DataNodeState, DataNodes, DockerCluster, Error, Key, Ledger,
    MetaApi, ReplicaView, WriteLoad, WriteLoadConfig,
};

/// The image the suite builds from this workspace's debug binaries.
const IMAGE: &str = "metad:fault-suite";
/// Anti-entropy timings short enough for a test: a silent node is suspect after 2 s and dead
/// after 5 s; planning at least every second.
const AE_CONFIG: &str = r#"
[anti-entropy]
check-interval = "1s"
heartbeat-interval = "500ms"
suspect-timeout = "2s"
dead-node-timeout = "5s"
grace-period = "1s"
lease = "4s"
retry-backoff = "200ms"
max-retry-backoff = "1s"
"#;
/// Database and retention policy written to.
const DB: &str = "aedb";
const RP: &str = "twice";
/// Copies of every shard.
const RF: usize = 2;
/// Data nodes: one is killed, one cut off, two always stay.
const DATA_NODES: usize = 4;
/// Hours (shard groups) and hosts (series) written to.
const HOURS: u32 = 6;
const HOSTS: u32 = 16;
/// How long a node may take to be declared dead (5 s of silence) or online again.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a reconnected data node's metadata cache may take to catch up: a long poll sent
/// before the cut waits on its dead connection for up to its 30 s wait plus the client's 15 s
/// request timeout.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long re-replication may take once a node is dead.
const REPAIR_TIMEOUT: Duration = Duration::from_secs(60);

/// `AE_FAULT_SEED`, or one from the clock.
fn seed() -> u64 {
    match std::env::var("AE_FAULT_SEED").ok().filter(|v| !v.trim().is_empty()) {
        Some(text) => fault_suite::parse_seed(&text).expect("AE_FAULT_SEED is a number (decimal or 0x hex)"),
        None => {
            let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
            (clock as u64) ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_and_cut_off_data_nodes_are_re_replicated_without_losing_a_point() {
    if !fault_suite::prepare("the Docker anti-entropy test", IMAGE).await.expect("prepare the Docker test") {
        return;
    }
    let started = Instant::now();

    let seed = seed();
    let replay = format!("AE_FAULT_SEED={seed:#x} cargo test -p scenarios --test docker_anti_entropy -- --nocapture");
    say!("--- seed {seed:#x} (replay: {replay})");
    let prefix = format!("fsae{}", std::process::id());
    say!("--- start 3 meta nodes ({prefix}-meta*) with short anti-entropy timings, {DATA_NODES} data nodes");
    let cluster =
        DockerCluster::start_with_config(IMAGE, &prefix, Some(AE_CONFIG)).await.expect("the meta nodes start");
    let data = match DataNodes::start(&cluster, IMAGE, DATA_NODES, &[]).await {
        Ok(data) => data,
        Err(error) => {
            say!("{}", cluster.logs(60).await);
            panic!("the data nodes did not start: {error}");
        }
    };
    let ids: Vec<u64> = (0..data.len()).map(|slot| data.node_id(slot)).collect();
    say!("    data nodes registered as {ids:?} after {:.1}s", started.elapsed().as_secs_f64());
    let meta = MetaApi::new(&cluster).expect("meta client");
    let mut scenario = Scenario {
        meta,
        data,
        rng: ChaCha8Rng::seed_from_u64(seed),
        ledger: Ledger::new(),
        routes: BTreeMap::new(),
        started,
    };
    let result = scenario.run().await;
    if let Err(error) = result {
        say!("FAILED (seed {seed:#x}): {error}");
        say!("{}", cluster.logs(80).await);
        say!("{}", scenario.data.logs(80).await);
        panic!("anti-entropy scenario failed: {error}\nreplay: {replay}");
    }
    say!("--- passed in {:.1}s (seed {seed:#x})", started.elapsed().as_secs_f64());
}

/// The scenario's state: the cluster's data nodes, what was acknowledged, and the choices.
struct Scenario {
    meta: MetaApi,
    data: DataNodes,
    rng: ChaCha8Rng,
    ledger: Ledger,
    /// The shard every key's points go to, learnt from the first writes.
    routes: BTreeMap<Key, u64>,
    started: Instant,
}

/// An error unless `problems` is empty.
fn ensure_none(what: &str, problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Cluster(format!("{what}:\n  {}", problems.join("\n  "))))
}

/// An error saying `what` unless `condition` holds.
fn ensure(condition: bool, what: impl FnOnce() -> String) -> Result<(), Error> {
    if condition {
        Ok(())
    } else {
        Err(Error::Cluster(what()))
    }
}

impl Scenario {
    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    async fn run(&mut self) -> Result<(), Error> {
        let before = self.write_initial_data().await?;
        let after_kill = self.kill_one(&before).await?;
        let healed = self.cut_one_off(&after_kill).await?;
        self.write_everywhere_and_check(&healed).await
    }

    /// Creates the database, writes every key through randomly chosen data nodes, waits until
    /// every shard is on two owners with identical copies and learns where each key goes.
    async fn write_initial_data(&mut self) -> Result<ReplicaView, Error> {
        say!("--- phase 1 ({:.1}s): create {DB} (RF {RF}, 1h shard groups), write {HOURS} hours", self.elapsed());
        self.meta.create_database(DB, RP, RF as u32, "1h").await?;
        // Repairs alone: balancing would move shards onto the node that comes back owning nothing
        // (phase 4 checks that its return changes no owner); `balance::*` tests balancing.
        self.meta.set_balance(false).await?;
        let http = self.data.http();
        for hour in 0..HOURS {
            let keys: Vec<Key> = (0..HOSTS).map(|host| Key { hour, host }).collect();
            let points = self.ledger.points(&keys, 3);
            let slot = self.rng.random_range(0..self.data.len());
            let address = self.data.address(slot).ok_or_else(|| Error::Cluster(format!("slot {slot} is down")))?;
            write_lines(&http, &address, DB, body(&points))
                .await
                .map_err(|e| Error::Cluster(format!("writing hour {hour} through data node slot {slot}: {e}")))?;
            self.ledger.acknowledged(points);
        }
        let view = self.wait_healthy("every shard on 2 owners with identical copies", &BTreeSet::new(), true).await?;
        let owned = view.owned_by();
        say!(
            "    {} points acknowledged; {} shards; shards per node {:?}",
            self.ledger.acked().len(),
            view.owners.len(),
            owned.iter().map(|(node, shards)| (*node, shards.len())).collect::<BTreeMap<_, _>>()
        );
        ensure(view.owners.len() >= HOURS as usize, || {
            format!("{HOURS} hours made only {} shards", view.owners.len())
        })?;
        ensure(owned.len() == DATA_NODES, || format!("not every data node owns a shard: {owned:?}"))?;
        let copies = read_copies(&self.data, &view.owners).await?;
        self.routes = self.ledger.routes(&copies).map_err(|p| Error::Cluster(p.join("\n")))?;
        ensure_none("the first writes", self.ledger.check(&view.owners, &copies))?;
        Ok(view)
    }

    /// `docker kill`s a data node while writes go on to every shard; waits until it is dead and
    /// its shards are on two other owners, copied from the surviving copies.
    async fn kill_one(&mut self, before: &ReplicaView) -> Result<ReplicaView, Error> {
        let slot = self.rng.random_range(0..self.data.len());
        let victim = self.data.node_id(slot);
        let lost = before.owned_by().remove(&victim).unwrap_or_default();
        say!(
            "--- phase 2 ({:.1}s): docker kill data node {victim} ({}), owner of shards {lost:?}",
            self.elapsed(),
            self.data.container(slot)
        );
        self.lose_and_repair(before, slot, &lost, &BTreeSet::from([victim]), Loss::Killed).await
    }

    /// Takes data node `slot` away (`loss`) while writes go on to every shard (`lost` are its
    /// own), through the other nodes; waits until it is dead and its shards are on two live owners
    /// outside `excluded`, copied from the surviving copies, and checks the repair.
    async fn lose_and_repair(
        &mut self,
        before: &ReplicaView,
        slot: usize,
        lost: &BTreeSet<u64>,
        excluded: &BTreeSet<u64>,
        loss: Loss,
    ) -> Result<ReplicaView, Error> {
        let node = self.data.node_id(slot);
        let load = self.start_load(slot)?;
        match loss {
            Loss::Killed => self.data.kill(slot).await?,
            Loss::CutOff => self.data.cut_off_from_meta(slot).await?,
        }
        let (since, what) = (Instant::now(), loss.what());
        self.wait_liveness(node, Liveness::Dead).await?;
        say!("    node {node} declared dead {:.1}s after the {what}", since.elapsed().as_secs_f64());
        self.wait_healthy(&format!("node {node}'s shards on 2 live owners each"), excluded, false).await?;
        say!("    its shards re-replicated {:.1}s after the {what}", since.elapsed().as_secs_f64());
        self.stop_load(load).await?;
        let repaired = self.wait_healthy(&format!("identical copies after the {what}"), excluded, true).await?;
        self.check_repair(before, &repaired, node, lost).await?;
        Ok(repaired)
    }

    /// Cuts a live data node off from the meta nodes; waits until it is dead and its shards are
    /// elsewhere, reconnects it and waits until it is online again, owning nothing new.
    async fn cut_one_off(&mut self, before: &ReplicaView) -> Result<ReplicaView, Error> {
        let up = self.data.slots_in(DataNodeState::Up);
        let slot = up[self.rng.random_range(0..up.len())];
        let node = self.data.node_id(slot);
        let moved = before.owned_by().remove(&node).unwrap_or_default();
        ensure(!moved.is_empty(), || format!("node {node} owns no shard to move: {:?}", before.owners))?;
        let killed: Vec<u64> =
            self.data.slots_in(DataNodeState::Killed).iter().map(|s| self.data.node_id(*s)).collect();
        say!(
            "--- phase 3 ({:.1}s): docker network disconnect data node {node} ({}) from the meta nodes; it owns {moved:?}",
            self.elapsed(),
            self.data.container(slot)
        );
        let mut excluded: BTreeSet<u64> = killed.iter().copied().collect();
        excluded.insert(node);
        let healed = self.lose_and_repair(before, slot, &moved, &excluded, Loss::CutOff).await?;
        let state = self.data.container_state(slot).await?;
        let status = self.data.status(slot).await;
        ensure(state == "running" && status.is_some(), || {
            format!("the cut-off node must keep running and serving: container {state}, status {status:?}")
        })?;
        let kept = status.map(|s| s.shards.keys().copied().collect::<BTreeSet<u64>>()).unwrap_or_default();
        ensure(moved.is_subset(&kept), || format!("the cut-off node lost shard files: holds {kept:?}, had {moved:?}"))?;
        self.write_through_cut_off_node(slot, &moved).await?;

        say!("--- phase 4 ({:.1}s): reconnect data node {node} to the meta nodes", self.elapsed());
        self.data.reconnect_to_meta(slot).await?;
        let back = Instant::now();
        self.wait_liveness(node, Liveness::Online).await?;
        say!("    node {node} online again {:.1}s after reconnecting", back.elapsed().as_secs_f64());
        let index = self.meta.metadata_index().await.ok_or_else(|| Error::Cluster("no metadata index".into()))?;
        wait_until("the reconnected node's metadata cache catching up", CATCH_UP_TIMEOUT, || async {
            let seen = self.data.status(slot).await.and_then(|s| s.metadata_index);
            (seen >= Some(index)).then_some(()).ok_or(format!("its cache is at {seen:?}, the metadata at {index}"))
        })
        .await?;
        say!("    its metadata cache caught up {:.1}s after reconnecting", back.elapsed().as_secs_f64());
        // Two planning rounds after the leader saw it online: nothing may have changed.
        let mut planned = self.planned_at().await;
        for round in 1..=2 {
            let next =
                wait_until(&format!("planning round {round} after the node came back"), LIVENESS_TIMEOUT, || async {
                    let at = self.planned_at().await;
                    at.filter(|at| Some(*at) > planned).ok_or(format!("last plan at {at:?}"))
                })
                .await?;
            planned = Some(next);
        }
        let settled = self.wait_healthy("the shards after the node came back", &excluded, true).await?;
        ensure(settled.owners == healed.owners, || {
            format!("its return changed owners: {:?} became {:?}", healed.owners, settled.owners)
        })?;
        let report = self.meta.entropy().await.ok_or_else(|| Error::Cluster("no entropy report".into()))?;
        let open: Vec<_> = report.tasks.iter().filter(|t| t.task.state.is_open()).collect();
        ensure(open.is_empty(), || format!("copy tasks still open after it came back: {open:?}"))?;
        ensure(report.under_replicated.is_empty() && report.unrecoverable.is_empty(), || {
            format!("the leader still reports shards to repair: {report:?}")
        })?;
        Ok(settled)
    }

    /// Writes every key once, one write each, through the data node in `slot`, cut off from the
    /// meta nodes: its metadata is stale, so it still routes the shards `moved` away from it to
    /// their old owners. None of those writes may be acknowledged (the current owners refuse them
    /// as misrouted); the acknowledged ones go into the ledger, checked against every owner later.
    async fn write_through_cut_off_node(&mut self, slot: usize, moved: &BTreeSet<u64>) -> Result<(), Error> {
        let http = self.data.http();
        let address = self.data.address(slot).ok_or_else(|| Error::Cluster(format!("slot {slot} is down")))?;
        let keys: Vec<(Key, u64)> = self.routes.iter().map(|(&key, &shard)| (key, shard)).collect();
        let (mut acked, mut refused) = (0, 0);
        let mut first_refusal = None;
        let started = Instant::now();
        for (key, shard) in keys {
            let points = self.ledger.points(&[key], 1);
            match write_lines(&http, &address, DB, body(&points)).await {
                Ok(()) => {
                    ensure(!moved.contains(&shard), || {
                        format!("a write to shard {shard}, moved off the cut-off node, was acknowledged by its stale routing")
                    })?;
                    self.ledger.acknowledged(points);
                    acked += 1;
                }
                Err(error) => {
                    refused += 1;
                    first_refusal.get_or_insert(error);
                }
            }
        }
        ensure(refused > 0, || "no write through the cut-off node was refused".to_owned())?;
        say!(
            "    through the cut-off node: {acked} writes acknowledged, {refused} refused (routed by stale metadata) in {:.1}s; first refusal: {}",
            started.elapsed().as_secs_f64(),
            first_refusal.unwrap_or_default()
        );
        Ok(())
    }

    /// Writes every key once through every live data node (the reconnected one too), then
    /// checks every acknowledged point on every owner of its shard.
    async fn write_everywhere_and_check(&mut self, healed: &ReplicaView) -> Result<(), Error> {
        say!("--- phase 5 ({:.1}s): write every hour through every live data node", self.elapsed());
        let http = self.data.http();
        let keys: Vec<Key> = self.routes.keys().copied().collect();
        for slot in self.data.slots_in(DataNodeState::Up) {
            let points = self.ledger.points(&keys, 1);
            let address = self.data.address(slot).ok_or_else(|| Error::Cluster(format!("slot {slot} is down")))?;
            let node = self.data.node_id(slot);
            write_lines(&http, &address, DB, body(&points))
                .await
                .map_err(|e| Error::Cluster(format!("write through data node {node}: {e}")))?;
            self.ledger.acknowledged(points);
        }
        let excluded: BTreeSet<u64> = (0..self.data.len())
            .filter(|&slot| !healed.owned_by().contains_key(&self.data.node_id(slot)))
            .map(|slot| self.data.node_id(slot))
            .collect();
        let last = self.wait_healthy("identical copies after the last writes", &excluded, true).await?;
        ensure(last.owners == healed.owners, || format!("owners moved: {:?} became {:?}", healed.owners, last.owners))?;
        let copies = read_copies(&self.data, &last.owners).await?;
        ensure_none("acknowledged points against every owner's copy", self.ledger.check(&last.owners, &copies))?;
        let points: usize = copies.values().filter_map(|c| c.values().next()).map(BTreeSet::len).sum();
        say!(
            "    {} acknowledged points, each on both owners of its shard ({points} distinct points in {} shards)",
            self.ledger.acked().len(),
            copies.len()
        );
        Ok(())
    }

    /// Checks a repair after `node` was declared dead: the shards it owned (`lost`) are now on
    /// owners holding the points the surviving owner holds (the writes made during the copy
    /// included), every other shard kept its owners, one `dead_owner` task per lost shard is
    /// done, and every acknowledged point is on every owner of its shard.
    async fn check_repair(
        &self,
        before: &ReplicaView,
        after: &ReplicaView,
        node: u64,
        lost: &BTreeSet<u64>,
    ) -> Result<(), Error> {
        let mut problems = Vec::new();
        for (shard, owners) in &after.owners {
            if !lost.contains(shard) {
                if before.owners.get(shard) != Some(owners) {
                    problems.push(format!("shard {shard} did not involve node {node} but its owners moved"));
                }
                continue;
            }
            let survivor = before.owners[shard].iter().find(|o| **o != node).copied();
            let expected = survivor.and_then(|s| after.held.get(&s)?.get(shard).copied());
            for owner in owners {
                let copy = after.held.get(owner).and_then(|h| h.get(shard)).copied();
                if copy.is_none() || copy.map(|c| c.root) != expected.map(|c| c.root) {
                    problems.push(format!(
                        "shard {shard}: owner {owner} holds {copy:?}, the surviving copy on {survivor:?} was {expected:?}"
                    ));
                }
            }
        }
        let tasks = self.meta.copy_tasks().await.ok_or_else(|| Error::Cluster("no copy-task list".into()))?;
        let replaced = replacements(&tasks, node);
        let shards: BTreeSet<u64> = replaced.iter().map(|(shard, ..)| *shard).collect();
        if shards != *lost || replaced.len() != lost.len() {
            problems.push(format!("one task per shard of node {node} {lost:?} replaced it; found {replaced:?}"));
        }
        for (shard, target, reason, state) in &replaced {
            if *reason != TaskReason::DeadOwner || *state != TaskState::Done || !after.owners[shard].contains(target) {
                problems.push(format!("task for shard {shard} to {target}: {reason:?}, {state:?}"));
            }
        }
        let copies = read_copies(&self.data, &after.owners).await?;
        problems.extend(self.ledger.check(&after.owners, &copies));
        ensure_none(&format!("the repair of node {node}'s shards"), problems)?;
        say!(
            "    {} shards re-replicated ({}), copies holding the survivors' points, {} acknowledged points all on every owner",
            replaced.len(),
            replaced.iter().map(|(s, t, ..)| format!("{s}→{t}")).collect::<Vec<_>>().join(" "),
            self.ledger.acked().len()
        );
        Ok(())
    }

    /// Starts writes to every key, through the live data nodes other than `skip`.
    fn start_load(&mut self, skip: usize) -> Result<WriteLoad, Error> {
        let keys: Vec<Key> = self.routes.keys().copied().collect();
        let targets = self
            .data
            .slots_in(DataNodeState::Up)
            .into_iter()
            .filter(|&slot| slot != skip)
            .filter_map(|slot| Some((slot, self.data.address(slot)?)))
            .collect();
        let config = WriteLoadConfig {
            db: DB.to_owned(),
            keys,
            targets,
            batch: 8,
            pause: Duration::from_millis(50),
            first_seq: self.ledger.block(),
            seed: self.rng.random(),
        };
        WriteLoad::start(self.data.http(), config)
    }

    /// Stops the load: every write must have been acknowledged (none went through the faulty node,
    /// and a surviving owner of each shard took it; what the faulty owner missed is queued).
    async fn stop_load(&mut self, load: WriteLoad) -> Result<(), Error> {
        let batches = load.stop().await?;
        let refused: Vec<String> = batches
            .iter()
            .filter_map(|b| b.outcome.as_ref().err().map(|e| format!("through slot {}: {e}", b.slot)))
            .collect();
        let points: usize = batches.iter().map(|b| b.points.len()).sum();
        say!("    load: {} writes ({points} points) to every shard, the faulty node's too", batches.len());
        ensure_none("writes through the nodes the fault did not touch", refused)?;
        self.ledger.acknowledged(batches.into_iter().flat_map(|b| b.points));
        Ok(())
    }

    /// Waits until `ReplicaView::problems(RF, excluded, identical)` is empty.
    async fn wait_healthy(&self, what: &str, excluded: &BTreeSet<u64>, identical: bool) -> Result<ReplicaView, Error> {
        wait_until(what, REPAIR_TIMEOUT, || async {
            let view = ReplicaView::read(&self.meta, &self.data).await.ok_or("no meta node answers".to_owned())?;
            let problems = view.problems(RF, excluded, identical);
            if problems.is_empty() {
                Ok(view)
            } else {
                Err(problems.join("; "))
            }
        })
        .await
    }

    /// Waits until the leader judges `node` `liveness`.
    async fn wait_liveness(&self, node: u64, liveness: Liveness) -> Result<(), Error> {
        wait_until(&format!("node {node} {liveness:?}"), LIVENESS_TIMEOUT, || async {
            let health = self.meta.health(node).await;
            match &health {
                Some(h) if h.liveness == liveness => Ok(()),
                _ => Err(format!("the leader says {health:?}")),
            }
        })
        .await
    }

    /// When the leader last planned (nanoseconds since the epoch on its clock).
    async fn planned_at(&self) -> Option<Timestamp> {
        self.meta.entropy().await?.planned_at
    }
}

/// How a data node is taken away.
#[derive(Clone, Copy, Debug)]
enum Loss {
    /// `docker kill`.
    Killed,
    /// `docker network disconnect` from the meta nodes; it keeps running.
    CutOff,
}

impl Loss {
    fn what(self) -> &'static str {
        match self {
            Loss::Killed => "kill",
            Loss::CutOff => "cut",
        }
    }
}

/// Polls `probe` (the harness's poller) until it is `Ok`; after `timeout`, an error with its
/// last `Err`.
async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let last = std::sync::Mutex::new(String::from("nothing yet"));
    let found = cluster_harness::try_wait_for(timeout, || {
        let (attempt, last) = (probe(), &last);
        async move {
            attempt.await.map_err(|seen| *last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = seen).ok()
        }
    })
    .await;
    let last = last.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    found.ok_or(Error::Timeout { what: format!("{what} (last seen: {last})"), after: timeout })
}
