//! Crash test of the durable store: a child process runs a single-node Raft on the store and
//! writes commands, printing each one openraft acknowledged; the parent `kill -9`s it mid-stream,
//! reopens the store and checks that the vote, the log, the committed index and every
//! acknowledged write are all there. Snapshots and log purges happen during the run, so the
//! restart restores a snapshot and replays the log after it.
//!
//! A plain `main` (harness = false) so the same binary can act as the child.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use meta_model::Command;
use meta_store::storage::{open, TypeConfig};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::storage::{RaftLogReader, RaftLogStorage};
use openraft::{BasicNode, Config, Raft, SnapshotPolicy};

const CHILD_ENV: &str = "META_STORE_CRASH_CHILD_DIR";
/// The child is killed once this many writes were acknowledged (and it keeps writing meanwhile).
const ACKED_BEFORE_KILL: usize = 300;
const NODE: u64 = 1;

fn main() -> anyhow::Result<()> {
    match std::env::var_os(CHILD_ENV) {
        Some(dir) => child(Path::new(&dir)),
        None => {
            parent()?;
            println!("crash_reopen: 1 passed, 0 failed");
            Ok(())
        }
    }
}

fn raft_config() -> anyhow::Result<Arc<Config>> {
    let config = Config {
        cluster_name: "crash-test".to_owned(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        // Snapshot often and keep few logs, so the restart goes through snapshot + replay.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(64),
        max_in_snapshot_log_to_keep: 16,
        purge_batch_size: 8,
        ..Config::default()
    };
    Ok(Arc::new(config.validate()?))
}

fn database(i: usize) -> String {
    format!("db-{i:05}")
}

/// Writes databases one after another until killed, printing `acked <i>` after each.
fn child(dir: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (log_store, state_machine) = open(dir)?;
        let raft = Raft::<TypeConfig>::new(NODE, raft_config()?, NoNetwork, log_store, state_machine).await?;
        raft.initialize(std::collections::BTreeMap::from([(NODE, BasicNode::new("127.0.0.1:1"))])).await?;
        raft.wait(Some(Duration::from_secs(10))).current_leader(NODE, "single node elects itself").await?;
        let mut stdout = std::io::stdout();
        for i in 0.. {
            let command = Command::CreateDatabase { name: database(i), default_retention_policy: None };
            let written = raft.client_write(command).await?;
            ensure!(written.data.is_ok(), "write {i} was rejected: {:?}", written.data);
            writeln!(stdout, "acked {i}")?;
            stdout.flush()?;
        }
        Ok(())
    })
}

fn parent() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut child = Process::new(exe)
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("spawn child")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut acked = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(i) = line.strip_prefix("acked ") {
            acked.insert(i.parse::<usize>()?);
        }
        if acked.len() >= ACKED_BEFORE_KILL {
            break;
        }
        ensure!(Instant::now() < deadline, "child too slow: {} writes acknowledged", acked.len());
    }
    ensure!(acked.len() >= ACKED_BEFORE_KILL, "child exited after {} writes", acked.len());
    // SIGKILL: no destructor, no flush, no clean shutdown.
    child.kill()?;
    child.wait()?;
    println!("crash_reopen: killed the writer after {} acknowledged writes", acked.len());

    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(verify_after_crash(dir.path(), &acked))
}

async fn verify_after_crash(dir: &Path, acked: &BTreeSet<usize>) -> anyhow::Result<()> {
    let (mut log_store, state_machine) = open(dir)?;

    let vote = log_store.read_vote().await?.context("vote lost")?;
    ensure!(vote.leader_id().voted_for() == Some(NODE), "vote {vote} is not for node {NODE}");
    let committed = log_store.read_committed().await?.context("committed index lost")?;
    let log_state = log_store.get_log_state().await?;
    let last = log_state.last_log_id.context("log lost")?;
    ensure!(last.index >= committed.index, "log ends at {last} before committed {committed}");
    let purged = log_state.last_purged_log_id.context("the run should have purged logs")?;
    let replay = log_store.try_get_log_entries(purged.index + 1..=last.index).await?;
    ensure!(
        replay.len() as u64 == last.index - purged.index,
        "log has holes: {} entries between {purged} and {last}",
        replay.len()
    );
    let snapshot_applied = state_machine.read().last_applied.context("no snapshot was restored")?;
    ensure!(snapshot_applied.index >= purged.index, "log purged past the snapshot");
    println!(
        "crash_reopen: vote {vote}, committed {committed}, log ({purged}, {last}], snapshot at {snapshot_applied}"
    );

    // Restart Raft on the reopened store: it replays the committed log after the snapshot.
    let reader = state_machine.clone();
    let raft = Raft::<TypeConfig>::new(NODE, raft_config()?, NoNetwork, log_store, state_machine).await?;
    raft.wait(Some(Duration::from_secs(20)))
        .applied_index_at_least(Some(committed.index), "replay committed entries")
        .await?;
    let checked = check_state(&reader.read().state, acked);
    raft.shutdown().await?;
    checked
}

fn check_state(state: &meta_model::MetaState, acked: &BTreeSet<usize>) -> anyhow::Result<()> {
    let missing: Vec<usize> = acked.iter().copied().filter(|i| state.database(&database(*i)).is_none()).collect();
    ensure!(missing.is_empty(), "acknowledged writes lost after kill -9: {missing:?}");
    if let Err(broken) = state.check_invariants() {
        bail!("state after restart breaks an invariant: {broken}");
    }
    Ok(())
}

/// A single-node cluster never sends RPCs; this network reports every peer unreachable.
struct NoNetwork;

fn unreachable<E: std::error::Error>() -> RPCError<u64, BasicNode, E> {
    RPCError::Unreachable(Unreachable::new(&std::io::Error::other("single-node test has no network")))
}

impl RaftNetworkFactory<TypeConfig> for NoNetwork {
    type Network = NoNetwork;

    async fn new_client(&mut self, _target: u64, _node: &BasicNode) -> Self::Network {
        NoNetwork
    }
}

impl RaftNetwork<TypeConfig> for NoNetwork {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>> {
        Err(unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(unreachable())
    }
}
