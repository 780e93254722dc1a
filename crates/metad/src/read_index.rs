//! The leader's read index, one confirmation round for all the linearizable reads waiting.
//!
//! A linearizable read needs a read index taken *after* the read arrived and a quorum's
//! confirmation that the leader still led when it was taken (Raft §6.4, "read-only queries").
//! openraft 0.9 sends a round of heartbeats to every voter for each `get_read_log_id` call, so 64
//! concurrent reads cost 64 rounds. Here reads that arrive while a round is in flight wait for the
//! *next* round and share it: one round runs at a time, and it serves every read that was queued
//! when it started (a read never takes the answer of a round that began before it arrived, which
//! is what keeps it linearizable). Reads forwarded by followers join the same rounds.
//!
//! ```text
//!  read ─► queue ─┐        ┌─ round n:   take queue ─► get_read_log_id ─► answer all taken
//!  read ─► queue ─┼─► ─────┤
//!  read ─► queue ─┘        └─ round n+1: (reads queued during round n) ...
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::Raft;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

use meta_model::NodeId;
use meta_store::storage::TypeConfig;

use crate::rpc::ForwardError;

/// Why the leader could not give a read index.
#[derive(Clone, Debug)]
pub(crate) enum ReadIndexError {
    /// This node does not lead; the leader it knows of, if any.
    NotLeader { leader_id: Option<NodeId>, leader_addr: Option<String> },
    /// A quorum did not confirm the leadership in time (partitioned, or voters down).
    QuorumNotEnough(String),
    /// Raft failed otherwise (shutting down, storage error).
    Failed(String),
}

impl From<ReadIndexError> for ForwardError {
    fn from(error: ReadIndexError) -> Self {
        match error {
            ReadIndexError::NotLeader { leader_id, leader_addr } => ForwardError::NotLeader { leader_id, leader_addr },
            ReadIndexError::QuorumNotEnough(message) => ForwardError::NoQuorum(message),
            ReadIndexError::Failed(message) => ForwardError::Raft(message),
        }
    }
}

/// The outcome of one round: the read index (`None` before anything was committed) or why not.
pub(crate) type ReadIndex = Result<Option<u64>, ReadIndexError>;

/// Confirmations tried for one round of reads before they are told no quorum answered.
const QUORUM_ATTEMPTS: usize = 3;

/// Reads waiting for the next round, and whether a round is running.
#[derive(Default)]
struct Queue {
    running: bool,
    waiting: Vec<oneshot::Sender<ReadIndex>>,
}

/// Shares read-index rounds between concurrent reads on the leader. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ReadIndexRounds {
    raft: Raft<TypeConfig>,
    queue: Arc<Mutex<Queue>>,
    rounds: Counter,
    reads: Counter,
}

impl ReadIndexRounds {
    /// Rounds through `raft`, none running yet.
    pub(crate) fn new(raft: Raft<TypeConfig>) -> Self {
        ReadIndexRounds { raft, queue: Arc::default(), rounds: Default::default(), reads: Default::default() }
    }

    /// The read index for a read that arrived now: the one of the next round to start.
    pub(crate) async fn read_index(&self) -> ReadIndex {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push(answer);
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            // A task of its own, so a read whose client went away cannot strand the others.
            tokio::spawn(self.clone().run());
        }
        answered
            .await
            .unwrap_or_else(|_| Err(ReadIndexError::Failed("read index round ended without an answer".into())))
    }

    /// Runs rounds until no read is waiting.
    async fn run(self) {
        loop {
            let waiting = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.waiting.is_empty() {
                    queue.running = false;
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            self.reads.inc_by(waiting.len() as u64);
            let mut outcome = self.round().await;
            // A confirmation that missed its heartbeat timeout on a loaded machine fails every read
            // sharing it: try again, still after they all arrived, before answering "no quorum".
            for _ in 1..QUORUM_ATTEMPTS {
                if !matches!(outcome, Err(ReadIndexError::QuorumNotEnough(_))) {
                    break;
                }
                outcome = self.round().await;
            }
            for answer in waiting {
                // A read whose client went away dropped its receiver: nothing to tell it.
                let _ = answer.send(outcome.clone());
            }
        }
    }

    /// One leadership confirmation: the read index, or why not.
    async fn round(&self) -> ReadIndex {
        self.rounds.inc();
        match self.raft.get_read_log_id().await {
            Ok((read_log_id, _applied)) => Ok(read_log_id.map(|id| id.index)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward))) => Err(ReadIndexError::NotLeader {
                leader_id: forward.leader_id,
                leader_addr: forward.leader_node.map(|n| n.addr),
            }),
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(error))) => {
                Err(ReadIndexError::QuorumNotEnough(error.to_string()))
            }
            Err(error) => Err(ReadIndexError::Failed(error.to_string())),
        }
    }

    /// Registers `metad_read_index_rounds_total` and `metad_read_index_reads_total` (their ratio
    /// is how many reads one leadership confirmation served).
    pub(crate) fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "metad_read_index_rounds",
            "Leadership confirmations (heartbeat rounds to the voters) made for linearizable reads",
            self.rounds.clone(),
        );
        registry.register(
            "metad_read_index_reads",
            "Linearizable reads (local or forwarded by followers) served by those rounds",
            self.reads.clone(),
        );
    }
}
