//! Linearizable reads, one leadership confirmation for all the reads waiting.
//!
//! A linearizable read needs a read index taken *after* the read arrived and a quorum's
//! confirmation that the leader still led when it was taken (Raft §6.4, "read-only queries").
//! openraft 0.9 sends a round of heartbeats to every voter for each `get_read_log_id` call, so 64
//! concurrent reads cost 64 rounds. Here reads that arrive while a round is in flight wait for the
//! *next* round and share it ([`SharedRounds`]): one round runs at a time, and it serves every
//! read that was queued when it started (a read never takes the answer of a round that began
//! before it arrived, which is what keeps it linearizable). On a follower the same holds for its
//! requests to the leader ([`ForwardedReadIndex`]): one at a time, shared by the reads queued
//! when it is sent, and the leader serves those requests from its own rounds.
//!
//! ```text
//!  read ─► queue ─┐        ┌─ round n:   take queue ─► get_read_log_id ─► answer all taken
//!  read ─► queue ─┼─► ─────┤             (on a follower: POST /internal/read-index to the leader)
//!  read ─► queue ─┘        └─ round n+1: (reads queued during round n) ...
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use openraft::error::{CheckIsLeaderError, RaftError};
use openraft::Raft;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

use meta_model::NodeId;
use meta_store::storage::TypeConfig;

use crate::network::Peers;
use crate::node::{forward_outcome, Retry, FORWARD_TIMEOUT};
use crate::rpc::{ForwardError, READ_INDEX_PATH};
use meta_api::ServiceError;

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

/// Callers waiting for the next round, and whether a round is running.
struct Queue<T> {
    running: bool,
    waiting: Vec<oneshot::Sender<T>>,
}

/// One call at a time shared by every caller queued when it starts: a caller never takes the
/// answer of a call that began before it joined. Cheap to clone.
pub(crate) struct SharedRounds<T> {
    queue: Arc<Mutex<Queue<T>>>,
    callers: Counter,
}

impl<T> Clone for SharedRounds<T> {
    fn clone(&self) -> Self {
        SharedRounds { queue: Arc::clone(&self.queue), callers: self.callers.clone() }
    }
}

impl<T> Default for SharedRounds<T> {
    fn default() -> Self {
        SharedRounds {
            queue: Arc::new(Mutex::new(Queue { running: false, waiting: Vec::new() })),
            callers: Counter::default(),
        }
    }
}

impl<T: Clone + Send + 'static> SharedRounds<T> {
    /// The answer of the next round to start. When no round is running, `round` runs the rounds
    /// (in a task of its own, so a caller that goes away strands no one) until no caller is
    /// left; otherwise it is dropped and the running rounds serve this caller. `lost` is the
    /// answer should the rounds end without one (the runtime shutting down).
    pub(crate) async fn join<F, Fut>(&self, round: F, lost: impl FnOnce() -> T) -> T
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push(answer);
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(self.clone().run(round));
        }
        answered.await.unwrap_or_else(|_| lost())
    }

    /// Runs rounds until no caller is waiting.
    async fn run<F, Fut>(self, round: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut ending = Ending { queue: &self.queue, armed: true };
        loop {
            let waiting = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.waiting.is_empty() {
                    queue.running = false;
                    ending.armed = false;
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            self.callers.inc_by(waiting.len() as u64);
            let outcome = round().await;
            for answer in waiting {
                // A caller that went away dropped its receiver: nothing to tell it.
                let _ = answer.send(outcome.clone());
            }
        }
    }
}

/// Ends a runner that did not finish by itself (a round panicked, or the runtime dropped it):
/// no round is running any more, so the next caller starts a runner, and the callers still
/// queued are dropped (they are told `lost`) rather than left waiting for ever.
struct Ending<'q, T> {
    queue: &'q Mutex<Queue<T>>,
    armed: bool,
}

impl<T> Drop for Ending<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.running = false;
            queue.waiting.clear();
        }
    }
}

/// Shares read-index rounds between concurrent reads on the leader. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ReadIndexRounds {
    raft: Raft<TypeConfig>,
    shared: SharedRounds<ReadIndex>,
    rounds: Counter,
}

impl ReadIndexRounds {
    /// Rounds through `raft`, none running yet.
    pub(crate) fn new(raft: Raft<TypeConfig>) -> Self {
        ReadIndexRounds { raft, shared: SharedRounds::default(), rounds: Counter::default() }
    }

    /// The read index for a read that arrived now: the one of the next round to start.
    pub(crate) async fn read_index(&self) -> ReadIndex {
        let this = self.clone();
        let lost = || Err(ReadIndexError::Failed("read index round ended without an answer".into()));
        self.shared.join(move || this.clone().confirm(), lost).await
    }

    /// A leadership confirmation for the reads of one round. One that missed its heartbeat
    /// timeout on a loaded machine would fail every read sharing it: it is tried again, still
    /// after they all arrived, before they are told no quorum answered.
    async fn confirm(self) -> ReadIndex {
        let mut outcome = self.round().await;
        for _ in 1..QUORUM_ATTEMPTS {
            if !matches!(outcome, Err(ReadIndexError::QuorumNotEnough(_))) {
                break;
            }
            outcome = self.round().await;
        }
        outcome
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
            self.shared.callers.clone(),
        );
    }
}

/// What a follower's read learns from the leader: the read index, or whether to try again.
pub(crate) type Forwarded = Result<Option<u64>, Retry>;

/// A follower's linearizable reads asking the leader for its read index: one request at a time,
/// shared by every read queued when it is sent. The leader takes its index after the request
/// arrived, so after every read sharing it (Raft §6.4, as for reads on the leader). Cheap to
/// clone.
#[derive(Clone)]
pub(crate) struct ForwardedReadIndex {
    id: NodeId,
    raft: Raft<TypeConfig>,
    peers: Peers,
    shared: SharedRounds<Forwarded>,
    requests: Counter,
}

impl ForwardedReadIndex {
    /// Requests from node `id` (a follower) to whichever node leads when each is sent.
    pub(crate) fn new(id: NodeId, raft: Raft<TypeConfig>, peers: Peers) -> Self {
        let (shared, requests) = (SharedRounds::default(), Counter::default());
        ForwardedReadIndex { id, raft, peers, shared, requests }
    }

    /// The leader's read index for a read that arrived at this follower now.
    pub(crate) async fn read_index(&self) -> Forwarded {
        let this = self.clone();
        let lost = || Err(Retry::No(ServiceError::Internal("read index request ended without an answer".into())));
        self.shared.join(move || this.clone().ask(), lost).await
    }

    /// One request to the leader known when it is sent (a leader change since the first read
    /// queued is followed); `Retry::Yes` when none is known or this node leads now.
    async fn ask(self) -> Forwarded {
        let addr = {
            let metrics = self.raft.metrics();
            let metrics = metrics.borrow();
            let leader = metrics.current_leader.filter(|&leader| leader != self.id);
            leader.and_then(|leader| metrics.membership_config.membership().get_node(&leader).map(|n| n.addr.clone()))
        };
        let Some(addr) = addr else { return Err(Retry::Yes) };
        self.requests.inc();
        let reply = self.peers.post(&addr, READ_INDEX_PATH, &(), FORWARD_TIMEOUT).await;
        forward_outcome(reply)
    }

    /// Registers `metad_read_index_requests_total` and `metad_read_index_forwarded_reads_total`
    /// (their ratio is how many of this follower's reads one request to the leader served).
    pub(crate) fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "metad_read_index_requests",
            "Read-index requests this node sent to the leader as a follower",
            self.requests.clone(),
        );
        registry.register(
            "metad_read_index_forwarded_reads",
            "Linearizable reads this node served as a follower through those requests",
            self.shared.callers.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_round_that_panics_strands_no_caller_and_the_next_caller_starts_afresh() {
        let shared = SharedRounds::<u32>::default();
        let failing = || async { panic!("the round failed") };
        assert_eq!(shared.join(failing, || 0).await, 0, "the caller of the failed round is told it was lost");
        // Without the runner's ending, the queue would say a round is still running: this caller
        // would wait for ever.
        let next = tokio::time::timeout(Duration::from_secs(10), shared.join(|| async { 7 }, || 0)).await;
        assert_eq!(next, Ok(7), "the next caller starts a runner of its own");
    }
}
