//! [`Proposer`]: the leader's write path, batching concurrent writes into one log entry.
//!
//! openraft 0.9 appends every client write as its own log entry and waits for that entry's
//! fsync before it takes the next one (`RaftCore::append_to_log`), so one entry per write caps a
//! leader at one fsync per write (~3k writes/s here however many clients write). The proposer
//! keeps one entry in flight; writes that arrive meanwhile wait in its queue and go out together,
//! as one `Command::Batch` entry, once that entry is answered. A lone write is proposed as itself
//! at once, so an idle cluster pays nothing for this. (Measured at 16/64/256 clients: one entry in
//! flight did as well as two and better than 4, 8 or 16, which make smaller batches, each paying
//! openraft's serial fsync; see docs/PERFORMANCE.md.)
//!
//! ```text
//!  write ─┐                       ┌─ 1 queued ─► client_write(command)
//!  write ─┼─► queue ─► take all ──┤
//!  write ─┘  (≤ MAX_BATCH)        └─ n queued ─► client_write(Batch[c1..cn]) ─► Response::Batch[r1..rn]
//!                                   (the next batch waits for this answer)      └─► each waiter its own
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::Raft;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};

use meta_api::Proposed;

use crate::rpc::{write_as_leader, ForwardError};
use meta_model::{Command, Response};
use meta_store::storage::TypeConfig;

/// Commands in one batch entry, at most (bounds the entry, the follower's append and one apply).
const MAX_BATCH: usize = 512;

/// A write waiting to be proposed, and where its answer goes.
struct Pending {
    command: Command,
    reply: oneshot::Sender<Result<Proposed, ForwardError>>,
}

/// Proposes commands on this node's Raft (which should lead), batching concurrent ones.
pub(crate) struct Proposer {
    queue: mpsc::UnboundedSender<Pending>,
    raft: Raft<TypeConfig>,
    counts: Arc<Counts>,
}

/// What the proposer sent to Raft, for `/metrics` (commands per entry shows the batching).
#[derive(Debug, Default)]
struct Counts {
    entries: AtomicU64,
    commands: AtomicU64,
}

impl Proposer {
    /// Starts the batching task; it ends when the proposer is dropped.
    pub(crate) fn start(raft: Raft<TypeConfig>) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        let counts = Arc::new(Counts::default());
        tokio::spawn(run(raft.clone(), pending, Arc::clone(&counts)));
        Proposer { queue, raft, counts }
    }

    /// Registers the proposer's counters.
    pub(crate) fn register_metrics(&self, registry: &mut Registry) {
        for (name, help, counter) in [
            ("metad_proposed_entries", "Log entries this node proposed as leader", &self.counts.entries),
            ("metad_proposed_commands", "Commands in those entries (batched writes)", &self.counts.commands),
        ] {
            registry.register(name, help, ConstCounter::new(counter.load(Ordering::Relaxed)));
        }
    }

    /// Writes `command` through Raft and returns its result once applied on this node; a follower
    /// answers [`ForwardError::NotLeader`].
    pub(crate) async fn propose(&self, command: Command) -> Result<Proposed, ForwardError> {
        if matches!(command, Command::Batch(_)) {
            // A batch may not be nested: one made elsewhere goes out as it is.
            return write_as_leader(&self.raft, command).await;
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(Pending { command, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> ForwardError {
    ForwardError::Raft("the proposer has stopped".to_owned())
}

async fn run(raft: Raft<TypeConfig>, mut pending: mpsc::UnboundedReceiver<Pending>, counts: Arc<Counts>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // A waiter that gave up (its request timed out: "outcome unknown") is not proposed late.
        batch.retain(|pending| !pending.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        counts.entries.fetch_add(1, Ordering::Relaxed);
        counts.commands.fetch_add(batch.len() as u64, Ordering::Relaxed);
        // One entry in flight: the writes that arrive while it is are the next batch.
        write(&raft, batch).await;
    }
}

/// Proposes one entry for `batch` and hands every waiter its own answer.
async fn write(raft: &Raft<TypeConfig>, mut batch: Vec<Pending>) {
    if batch.len() == 1 {
        if let Some(Pending { command, reply }) = batch.pop() {
            // The waiter may have given up (timed out); nobody is left to tell then.
            let _ = reply.send(write_as_leader(raft, command).await);
        }
        return;
    }
    let (commands, replies): (Vec<Command>, Vec<_>) = batch.into_iter().map(|p| (p.command, p.reply)).unzip();
    let answers = split(write_as_leader(raft, Command::Batch(commands)).await, replies.len());
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(answer);
    }
}

/// One answer per command of a batch entry of `count` commands.
fn split(written: Result<Proposed, ForwardError>, count: usize) -> Vec<Result<Proposed, ForwardError>> {
    match written {
        Ok(Proposed { log_index, result: Ok(Response::Batch(results)) }) if results.len() == count => {
            results.into_iter().map(|result| Ok(Proposed { log_index, result })).collect()
        }
        Ok(Proposed { log_index, result: Err(error) }) => {
            vec![Ok(Proposed { log_index, result: Err(error) }); count]
        }
        Ok(other) => {
            let message = format!("a batch of {count} commands was answered {:?}", other.result);
            vec![Err(ForwardError::Raft(message)); count]
        }
        Err(error) => vec![Err(error); count],
    }
}

#[cfg(test)]
mod tests {
    use meta_model::ApplyError;

    use super::*;

    fn done() -> Result<Response, ApplyError> {
        Ok(Response::Done)
    }

    #[test]
    fn each_command_of_a_batch_gets_its_own_result_and_the_entry_index() {
        let refused = Err(ApplyError::DatabaseExists { database: "a".to_owned() });
        let written = Ok(Proposed { log_index: 7, result: Ok(Response::Batch(vec![done(), refused.clone()])) });
        let answers = split(written, 2);
        assert_eq!(
            answers,
            vec![Ok(Proposed { log_index: 7, result: done() }), Ok(Proposed { log_index: 7, result: refused })]
        );
    }

    #[test]
    fn a_failed_or_refused_entry_answers_every_command_alike() {
        let not_leader = ForwardError::NotLeader { leader_id: Some(2), leader_addr: None };
        assert_eq!(split(Err(not_leader.clone()), 3), vec![Err(not_leader); 3]);
        let nested = Ok(Proposed { log_index: 9, result: Err(ApplyError::NestedBatch) });
        assert_eq!(split(nested, 2), vec![Ok(Proposed { log_index: 9, result: Err(ApplyError::NestedBatch) }); 2]);
    }

    #[test]
    fn a_reply_that_does_not_match_the_batch_is_an_error_for_every_command() {
        let short = Ok(Proposed { log_index: 3, result: Ok(Response::Batch(vec![done()])) });
        assert!(split(short, 2).iter().all(|answer| matches!(answer, Err(ForwardError::Raft(_)))));
        let odd = Ok(Proposed { log_index: 3, result: done() });
        assert!(split(odd, 2).iter().all(|answer| matches!(answer, Err(ForwardError::Raft(_)))));
    }
}
