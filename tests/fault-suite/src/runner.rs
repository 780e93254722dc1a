//! One schedule end to end:
//!
//! ```text
//!   start 3 containers ─► read the initial state ─► start the load ─► fault, fault, ... (in turn)
//!     ─► stop the load ─► heal everything ─► wait until all nodes converge ─► final linearizable
//!     read of every name ─► check: minority refusals, lost writes, linearizability ─► remove all
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::checker::{check, Isolation};
use crate::cluster::{wait_for, DockerCluster, NODES};
use crate::error::Error;
use crate::history::{classify, Counts, Entry, History, Outcome};
use crate::load::{ApiClient, Load, LoadConfig};
use crate::model::{Databases, Op, Ret};
use crate::schedule::{Fault, Schedule, Target};

/// The process number of the final reads in the history.
pub const FINAL_PROCESS: usize = 10_000;
/// Probes sent to a cut-off node are processes from here on, one each.
const PROBE_PROCESSES: usize = 1_000;
/// How long the nodes may take to agree after everything is healed.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(45);
/// How long the final reads may take (retrying while the cluster settles).
const FINAL_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a run needs besides its schedule.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The image the nodes run.
    pub image: String,
    /// The load.
    pub load: LoadConfig,
    /// Time the linearizability search may take per database name.
    pub check_budget: Duration,
}

impl RunConfig {
    /// Five clients on ten names with 2.5 s request timeouts, 30 s of search per name (a
    /// linearizable history takes well under a second).
    pub fn new(image: &str) -> RunConfig {
        RunConfig {
            image: image.to_owned(),
            load: LoadConfig {
                clients: 5,
                keys: (0..10).map(|i| format!("db{i}")).collect(),
                timeout: Duration::from_millis(2_500),
            },
            check_budget: Duration::from_secs(30),
        }
    }
}

/// What happened in one schedule.
#[derive(Clone, Debug)]
pub struct ScheduleReport {
    /// The schedule.
    pub schedule: Schedule,
    /// What was done, with times since the load started.
    pub events: Vec<String>,
    /// Outcome counts of the clients' operations.
    pub counts: Counts,
    /// Writes sent to a cut-off node while it was cut off (none may be acknowledged).
    pub minority_writes: usize,
    /// Linearizable reads sent to a cut-off node while it was cut off (none may be answered).
    pub minority_reads: usize,
    /// How long the checks took.
    pub check_time: Duration,
    /// How long the whole schedule took.
    pub elapsed: Duration,
    /// Everything that went wrong; empty when the schedule passed.
    pub failures: Vec<String>,
    /// The nodes' last log lines, kept when the schedule failed.
    pub logs: String,
    /// Where the full history was written, when the schedule failed.
    pub history_file: Option<PathBuf>,
}

impl ScheduleReport {
    /// Whether nothing went wrong.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for ScheduleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for event in &self.events {
            writeln!(f, "    {event}")?;
        }
        write!(
            f,
            "    {}; {} writes, {} reads to cut-off nodes; check {:.2}s; {} in {:.1}s",
            self.counts,
            self.minority_writes,
            self.minority_reads,
            self.check_time.as_secs_f64(),
            if self.passed() { "PASS" } else { "FAIL" },
            self.elapsed.as_secs_f64()
        )?;
        for failure in &self.failures {
            write!(f, "\n    FAILURE (seed {:#x}): {failure}", self.schedule.seed)?;
        }
        if let Some(path) = &self.history_file {
            write!(f, "\n    full history: {}", path.display())?;
        }
        if !self.passed() {
            write!(
                f,
                "\n    replay: FAULT_SEED={:#x} cargo test -p scenarios --test docker_faults -- --nocapture",
                self.schedule.seed
            )?;
        }
        Ok(())
    }
}

/// Runs `schedule` on a fresh cluster and checks what the clients saw.
pub async fn run_schedule(config: &RunConfig, schedule: &Schedule) -> ScheduleReport {
    let started = Instant::now();
    let mut report = ScheduleReport {
        schedule: schedule.clone(),
        events: Vec::new(),
        counts: Counts::default(),
        minority_writes: 0,
        minority_reads: 0,
        check_time: Duration::ZERO,
        elapsed: Duration::ZERO,
        failures: Vec::new(),
        logs: String::new(),
        history_file: None,
    };
    let prefix = format!("fs{}-{:08x}", std::process::id(), schedule.seed as u32);
    match DockerCluster::start(&config.image, &prefix).await {
        Ok(mut cluster) => {
            let mut recorded = Vec::new();
            if let Err(error) = drive(config, schedule, &mut cluster, &mut report, &mut recorded).await {
                report.failures.push(error.to_string());
            }
            if !report.passed() {
                report.logs = cluster.logs(60).await;
                let path = std::env::temp_dir().join(format!("fault-suite-{:016x}.history", schedule.seed));
                let history = History::new(recorded).render();
                let text = format!("{schedule}\n{}\n{history}", report.events.join("\n"));
                if std::fs::write(&path, text).is_ok() {
                    report.history_file = Some(path);
                }
            }
        }
        Err(error) => report.failures.push(format!("the cluster did not start: {error}")),
    }
    report.elapsed = started.elapsed();
    report
}

/// Load, faults, healing, final reads and checks; what the clients saw goes to `recorded` as
/// soon as it is known (for the report, if anything fails).
async fn drive(
    config: &RunConfig,
    schedule: &Schedule,
    cluster: &mut DockerCluster,
    report: &mut ScheduleReport,
    recorded: &mut Vec<Entry>,
) -> Result<(), Error> {
    let api = ApiClient::new(config.load.timeout);
    let initial = initial_state(cluster, &api).await?;
    let epoch = Instant::now();
    let load = Load::start(&config.load, cluster.addresses.clone(), epoch, schedule.seed);
    let mut faults = Faults {
        epoch,
        api: api.clone(),
        keys: config.load.keys.clone(),
        rng: ChaCha8Rng::seed_from_u64(schedule.seed.rotate_left(17)),
        isolations: Vec::new(),
        probes_sent: 0,
        probes: Vec::new(),
        events: Vec::new(),
    };
    let injected = faults.run(cluster, schedule).await;
    if injected.is_ok() {
        // The load runs for its planned time, and at least a second past the last fault.
        let end = schedule.load.max(epoch.elapsed() + Duration::from_secs(1));
        tokio::time::sleep(end.saturating_sub(epoch.elapsed())).await;
    }
    let (entries, unexpected) = load.stop().await;
    recorded.extend(entries);
    recorded.append(&mut faults.probes);
    report.events = std::mem::take(&mut faults.events);
    report.events.push(format!("{:>6.2}s load stopped", epoch.elapsed().as_secs_f64()));
    report.failures.extend(unexpected.into_iter().map(|odd| format!("reply the API must not give: {odd}")));
    injected?;

    cluster.heal_all().await?;
    final_reads(cluster, &api, &config.load.keys, epoch, recorded).await?;
    report.events.push(format!("{:>6.2}s converged; final reads done", epoch.elapsed().as_secs_f64()));
    let history = History::new(recorded.clone());
    report.counts = history.counts();
    let cut_off: Vec<&Entry> = history
        .entries
        .iter()
        .filter(|e| faults.isolations.iter().any(|i| i.node == e.node && e.invoke >= i.from && e.complete <= i.to))
        .collect();
    report.minority_writes = cut_off.iter().filter(|e| e.op.is_write()).count();
    report.minority_reads = cut_off.len() - report.minority_writes;

    let checked = Instant::now();
    let budget = config.check_budget;
    let isolations = faults.isolations.clone();
    let verdict = tokio::task::spawn_blocking(move || check(&history, &initial, FINAL_PROCESS, &isolations, budget))
        .await
        .map_err(|e| Error::Cluster(format!("the checker panicked: {e}")))?;
    report.check_time = checked.elapsed();
    report.failures.extend(verdict.violations.iter().map(ToString::to_string));
    Ok(())
}

/// The databases before the load starts (a fresh cluster has none).
async fn initial_state(cluster: &DockerCluster, api: &ApiClient) -> Result<Databases, Error> {
    let names = wait_for(Duration::from_secs(30), "a linearizable list of the databases", || async {
        for (_, address) in cluster.addresses.up() {
            if let Some(names) = api.list(&address).await {
                return Some(names);
            }
        }
        None
    })
    .await?;
    Ok(Databases::new(names))
}

/// Once the nodes agree, a linearizable read of every name (through the nodes in turn). The
/// reads go into the history; they must match what every node holds, or the reads are repeated
/// (a write whose client gave up may still be applied late) until they do.
async fn final_reads(
    cluster: &DockerCluster,
    api: &ApiClient,
    keys: &[String],
    epoch: Instant,
    entries: &mut Vec<Entry>,
) -> Result<(), Error> {
    let mut mismatch = String::new();
    for _round in 0..3 {
        let converged = cluster.wait_converged(CONVERGE_TIMEOUT).await?;
        let mut found = BTreeSet::new();
        for (index, key) in keys.iter().enumerate() {
            let node = NODES[index % NODES.len()];
            let op = Op::Get(key.clone());
            let ret = read_until_answered(cluster, api, node, &op, epoch, entries).await?;
            if ret == Ret::Found {
                found.insert(key.clone());
            }
        }
        let held: BTreeSet<String> = converged.databases.iter().filter(|d| keys.contains(d)).cloned().collect();
        if held == found {
            return Ok(());
        }
        mismatch =
            format!("every node holds {held:?} at index {}, linearizable reads found {found:?}", converged.index);
    }
    Err(Error::Cluster(format!("the replicas disagree with linearizable reads: {mismatch}")))
}

/// Reads `op` on `node` until it is answered with a result, recording every attempt.
async fn read_until_answered(
    cluster: &DockerCluster,
    api: &ApiClient,
    node: u64,
    op: &Op,
    epoch: Instant,
    entries: &mut Vec<Entry>,
) -> Result<Ret, Error> {
    let deadline = Instant::now() + FINAL_READ_TIMEOUT;
    loop {
        if let Some(address) = cluster.addresses.get(node) {
            let invoke = epoch.elapsed();
            let reply = api.perform(&address, op).await;
            let outcome = classify(op, &reply).unwrap_or_else(Outcome::Info);
            let complete = epoch.elapsed();
            let answer = match outcome {
                Outcome::Ok(ret) => Some(ret),
                _ => None,
            };
            entries.push(Entry { process: FINAL_PROCESS, node, op: op.clone(), invoke, complete, outcome });
            if let Some(ret) = answer {
                return Ok(ret);
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: format!("an answer to {op} on node {node}"),
                after: FINAL_READ_TIMEOUT,
            });
        }
        // Poll interval between attempts; the deadline above bounds the wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Carries out a schedule's faults and remembers what it did.
struct Faults {
    epoch: Instant,
    api: ApiClient,
    keys: Vec<String>,
    rng: ChaCha8Rng,
    isolations: Vec<Isolation>,
    probes: Vec<Entry>,
    /// Probes sent so far (each is a process of its own in the history).
    probes_sent: usize,
    events: Vec<String>,
}

impl Faults {
    fn note(&mut self, what: String) {
        self.events.push(format!("{:>6.2}s {what}", self.epoch.elapsed().as_secs_f64()));
    }

    async fn run(&mut self, cluster: &mut DockerCluster, schedule: &Schedule) -> Result<(), Error> {
        for step in &schedule.steps {
            // The schedule's random gap before this fault (timing of the experiment, not a wait
            // for any condition).
            tokio::time::sleep(step.delay).await;
            self.inject(cluster, &step.fault).await?;
        }
        Ok(())
    }

    async fn target(&self, cluster: &DockerCluster, target: Target) -> Result<u64, Error> {
        let leader = cluster.leader().await?;
        Ok(match target {
            Target::Leader => leader,
            Target::Follower(pick) => cluster.follower_of(leader, pick),
        })
    }

    async fn inject(&mut self, cluster: &mut DockerCluster, fault: &Fault) -> Result<(), Error> {
        match fault {
            Fault::Partition { target, hold } => {
                let node = self.target(cluster, *target).await?;
                self.isolate(cluster, &[(node, target.to_string())], *hold).await?;
            }
            Fault::QuorumLoss { hold } => {
                let leader = self.target(cluster, Target::Leader).await?;
                let follower = cluster.follower_of(leader, self.rng.random_range(0..2));
                let nodes = [(leader, "leader".to_owned()), (follower, "follower".to_owned())];
                self.isolate(cluster, &nodes, *hold).await?;
            }
            Fault::Kill { target, down } => {
                let node = self.target(cluster, *target).await?;
                cluster.kill(node).await?;
                self.note(format!("node {node} ({target}) killed (SIGKILL)"));
                // How long the node stays down (the schedule's).
                tokio::time::sleep(*down).await;
                cluster.start_again(node).await?;
                self.note(format!("node {node} started again"));
            }
            Fault::PauseLeader { hold } => {
                let node = self.target(cluster, Target::Leader).await?;
                cluster.pause(node).await?;
                self.note(format!("node {node} (leader) paused"));
                // How long the node stays frozen (the schedule's).
                tokio::time::sleep(*hold).await;
                cluster.unpause(node).await?;
                self.note(format!("node {node} unpaused"));
            }
            Fault::Restart { target } => {
                let node = self.target(cluster, *target).await?;
                self.note(format!("node {node} ({target}) restarting"));
                cluster.restart(node).await?;
                self.note(format!("node {node} restarted"));
            }
            Fault::RollingRestart { order } => {
                for node in order {
                    self.note(format!("rolling restart: node {node} restarting"));
                    cluster.restart(*node).await?;
                    cluster.wait_ready(*node).await?;
                    self.note(format!("rolling restart: node {node} ready"));
                }
            }
        }
        Ok(())
    }

    /// Cuts `nodes` off from their peers for `hold`, then reconnects them. A write and a
    /// linearizable read are sent to each cut-off node at once: none may be answered with a
    /// result (the clients' requests to them are checked the same way).
    async fn isolate(
        &mut self,
        cluster: &mut DockerCluster,
        nodes: &[(u64, String)],
        hold: Duration,
    ) -> Result<(), Error> {
        for (node, role) in nodes {
            cluster.cut_off(*node).await?;
            self.note(format!("node {node} ({role}) cut off from its peers"));
        }
        let from = self.epoch.elapsed();
        let mut probes = Vec::new();
        for (node, _) in nodes {
            let key = self.keys[self.rng.random_range(0..self.keys.len())].clone();
            probes.push(self.probe(cluster, *node, Op::Create(key.clone())));
            probes.push(self.probe(cluster, *node, Op::Get(key)));
        }
        // How long the partition lasts (the schedule's, not a wait for a condition).
        tokio::time::sleep(hold).await;
        for probe in probes {
            if let Some(entry) = probe.await.map_err(|e| Error::Cluster(format!("probe task: {e}")))? {
                self.probes.push(entry);
            }
        }
        let to = self.epoch.elapsed();
        for (node, _) in nodes {
            cluster.reconnect(*node).await?;
            self.isolations.push(Isolation { node: *node, from, to });
            self.note(format!("node {node} reconnected"));
        }
        Ok(())
    }

    /// Sends `op` to `node` in the background, as a process of its own; the entry is for the
    /// history.
    fn probe(&mut self, cluster: &DockerCluster, node: u64, op: Op) -> tokio::task::JoinHandle<Option<Entry>> {
        let process = PROBE_PROCESSES + self.probes_sent;
        self.probes_sent += 1;
        let (api, address, epoch) = (self.api.clone(), cluster.addresses.get(node), self.epoch);
        tokio::spawn(async move {
            let address = address?;
            let invoke = epoch.elapsed();
            let reply = api.perform(&address, &op).await;
            let complete = epoch.elapsed();
            let outcome = classify(&op, &reply).unwrap_or_else(Outcome::Info);
            Some(Entry { process, node, op, invoke, complete, outcome })
        })
    }
}
