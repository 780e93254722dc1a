//! The pull side of tasks: claim tasks (copies and repairs), run one worker per task, report
//! progress, then complete or fail the task with the claim's attempt number (the fencing token).
//!
//! ```text
//!  every claim-interval (registered): claim {node_id, max: max-fetch, kinds: [copy, repair]}
//!     ─▶ every task we hold (an idle node's claim waits at the leader until a task for it is
//!        created: a long poll)
//!     copy ─▶ worker: Transfer::start ─▶ chunks ─(≤ every 500 ms)─▶ progress
//!                   progress 409/404 ─▶ stop, keep the partial (cancelled or re-assigned)
//!                   all bytes ─▶ verify + install ─▶ complete(attempt)
//!     repair ─▶ worker: repair::reconcile with the source owner ─▶ complete(attempt)
//!     any error ─▶ fail(attempt, message); the meta service retries with backoff
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use meta_client::ClientError;
use meta_model::{TaskId, TaskKind, TaskState};
use meta_wire::{ClaimRequest, ClaimedTask, ProgressRequest};

use crate::error::DatadError;
use crate::metadata_cache::CachedMetadata;
use crate::node::Node;
use crate::shard_file::ShardHeader;
use crate::transfer::Transfer;

/// Shortest time between two progress reports of one task.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// How often completion is tried when its outcome stays unknown.
const COMPLETE_ATTEMPTS: u32 = 3;
/// How long an idle node's claim waits at the meta leader for a task to be created, so a copy
/// starts as soon as it is planned rather than at the next claim.
const CLAIM_WAIT_MS: u64 = 5000;

/// Claims tasks and starts workers, forever (until the task is aborted, which aborts the workers;
/// their partial files stay and are resumed after a restart).
pub(crate) async fn claim_loop(node: Arc<Node>) {
    let mut workers = JoinSet::new();
    let mut ticker = tokio::time::interval(node.config.claim_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = node.registered.notified() => {}
        }
        while workers.try_join_next().is_some() {}
        let Some(node_id) = node.node_id() else { continue };
        let idle = node.running_tasks().is_empty();
        let wait_ms = if idle { CLAIM_WAIT_MS } else { 0 };
        let kinds = vec![TaskKind::Copy, TaskKind::Repair, TaskKind::Move];
        let request = ClaimRequest { node_id, max: node.config.max_fetch, wait_ms, kinds };
        let reply = match node.client.claim_tasks(&request).await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::warn!(node_id, %error, "cannot claim copy tasks");
                continue;
            }
        };
        for claimed in reply.tasks {
            let (task_id, shard_id) = (claimed.task.id, claimed.task.spec.shard_id);
            if claimed.task.spec.target != node_id {
                tracing::warn!(task_id, shard_id, target = claimed.task.spec.target, "claimed a task for another node");
                continue;
            }
            if node.try_start_task(task_id, shard_id) {
                workers.spawn(run_task(Arc::clone(&node), claimed));
            }
        }
    }
}

/// Marks the task finished when the worker ends, however it ends.
struct RunningGuard {
    node: Arc<Node>,
    task_id: TaskId,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.node.finish_task(self.task_id);
    }
}

/// How a task ended without an error.
enum Finished {
    /// Done: the copy is installed, or the owners hold the same points.
    Done,
    /// The meta service withdrew the task (a copy's partial file is kept).
    Stopped(String),
}

/// One worker: does what the task's kind asks (copies the shard), then completes or fails it.
async fn run_task(node: Arc<Node>, claimed: ClaimedTask) {
    let (task_id, attempt, shard_id) = (claimed.task.id, claimed.task.attempt, claimed.task.spec.shard_id);
    let _guard = RunningGuard { node: Arc::clone(&node), task_id };
    tracing::info!(task_id, shard_id, attempt, kind = ?claimed.task.kind, source = %claimed.source_addr, "task started");
    let outcome = match claimed.task.kind {
        // A move is a copy whose completion also drops the source as an owner (in the metadata).
        TaskKind::Copy | TaskKind::Move => copy(&node, &claimed).await,
        TaskKind::Repair => repair(&node, &claimed).await,
    };
    match outcome {
        Ok(Finished::Done) => complete(&node, task_id, attempt).await,
        Ok(Finished::Stopped(reason)) => {
            tracing::info!(task_id, shard_id, attempt, %reason, "task stopped");
        }
        Err(error) => {
            tracing::warn!(task_id, shard_id, attempt, kind = ?claimed.task.kind, %error, "task failed");
            match node.client.fail_task(task_id, attempt, &error.to_string()).await {
                Ok(task) => tracing::info!(task_id, state = ?task.state, "copy failure reported"),
                Err(error) => tracing::warn!(task_id, %error, "cannot report the copy failure"),
            }
        }
    }
}

/// Reconciles this node's copy of the shard with the source's (both owners), reporting progress.
async fn repair(node: &Arc<Node>, claimed: &ClaimedTask) -> Result<Finished, DatadError> {
    let (task_id, attempt, shard_id) = (claimed.task.id, claimed.task.attempt, claimed.task.spec.shard_id);
    let renew = |bytes_done: u64| async move {
        let request = ProgressRequest { attempt, bytes_done, bytes_total: bytes_done };
        if let Err(error) = node.client.report_progress(task_id, &request).await {
            tracing::warn!(task_id, %error, "cannot report repair progress");
        }
    };
    let repaired = crate::repair::reconcile(node, shard_id, &claimed.source_addr, renew).await?;
    node.metrics.repaired(&repaired);
    tracing::info!(task_id, shard_id, source = %claimed.source_addr, leaves = repaired.leaves,
        fetched = repaired.fetched, pushed = repaired.pushed, bytes = repaired.bytes, digests = repaired.digests,
        "shard copies reconciled");
    Ok(Finished::Done)
}

/// Downloads and installs the shard, reporting progress.
async fn copy(node: &Node, claimed: &ClaimedTask) -> Result<Finished, DatadError> {
    let (task_id, attempt, shard_id) = (claimed.task.id, claimed.task.attempt, claimed.task.spec.shard_id);
    // Throttled, a request asks for at most a second's worth of bytes, so the rate holds smoothly.
    let chunk = node.config.max_copy_rate.map_or(node.config.chunk_size, |rate| node.config.chunk_size.min(rate));
    // The index at which this node's metadata holds the task: the source starts the copy only
    // once its own metadata is as new, so it sends the shard's writes here from then on.
    let has_task = |meta: &CachedMetadata| meta.state.copy_task(task_id).is_some_and(|t| t.state.is_open());
    let known = match node.cache.current().filter(|m| has_task(m)) {
        Some(meta) => meta,
        None => node.cache.refresh(&node.client).await?,
    };
    if !has_task(&known) {
        return Ok(Finished::Stopped(format!("task {task_id} is no longer open at metadata index {}", known.index)));
    }
    let mut transfer = Transfer::start(
        &node.peers,
        &node.peer_url(&claimed.source_addr),
        shard_id,
        &node.store,
        chunk,
        Some(known.index),
    )
    .await?;
    let (total, checksum) = (transfer.bytes_total(), transfer.expected_checksum());
    if node.store.summary(shard_id).is_some_and(|s| s.size == total && s.checksum == checksum) {
        // E.g. the node stopped between installing the copy and completing the task.
        tracing::info!(task_id, shard_id, "shard already held with the source's content; not copying again");
        transfer.discard().await?;
        return Ok(Finished::Done);
    }
    let mut last_report: Option<Instant> = None;
    let (started, start_bytes) = (Instant::now(), transfer.bytes_done());
    loop {
        let complete = transfer.is_complete();
        if complete || last_report.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY) {
            let request =
                ProgressRequest { attempt, bytes_done: transfer.bytes_done(), bytes_total: transfer.bytes_total() };
            match node.client.report_progress(task_id, &request).await {
                Ok(_) => {}
                Err(ClientError::Api { status: 404 | 409, code, message }) => {
                    return Ok(Finished::Stopped(format!("{message} ({code})")));
                }
                Err(error) => tracing::warn!(task_id, %error, "cannot report copy progress"),
            }
            last_report = Some(Instant::now());
        }
        if complete {
            break;
        }
        if let Some(rate) = node.config.max_copy_rate {
            // Throttle: wait until the bytes copied so far fit the configured rate, in steps short
            // enough to keep reporting progress (which renews the lease) meanwhile.
            let due = Duration::from_secs_f64((transfer.bytes_done() - start_bytes) as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(started.elapsed()).filter(|a| !a.is_zero()) {
                tokio::time::sleep(ahead.min(PROGRESS_EVERY)).await;
                continue;
            }
        }
        let before = transfer.bytes_done();
        transfer.next_chunk().await?;
        node.metrics.copied(transfer.bytes_done().saturating_sub(before));
    }
    // The copy must be of this cluster's shard as the metadata names it: a source's file of
    // another cluster or shard under the same number is refused, never installed.
    let meta = match node.cache.current().filter(|m| m.state.shard(shard_id).is_some()) {
        Some(meta) => meta,
        None => node.cache.refresh(&node.client).await?,
    };
    let expected = ShardHeader::of(&meta.state, shard_id).ok_or_else(|| DatadError::Peer {
        url: claimed.source_addr.clone(),
        message: format!("shard {shard_id}: the metadata has no such shard, or no cluster identity yet"),
    })?;
    let summary = transfer.install(Arc::clone(&node.store), expected).await?;
    tracing::info!(task_id, shard_id, size = summary.size, checksum = summary.checksum, "shard copy installed");
    Ok(Finished::Done)
}

/// Completes the task; when the outcome is unclear, reads the task to find out.
async fn complete(node: &Node, task_id: TaskId, attempt: u32) {
    for _ in 0..COMPLETE_ATTEMPTS {
        let error = match node.client.complete_task(task_id, attempt).await {
            Ok(task) => {
                tracing::info!(task_id, attempt, state = ?task.state, "copy task completed");
                return;
            }
            Err(error) => error,
        };
        match node.client.copy_task(task_id).await {
            Ok(info) if info.task.state == TaskState::Done && info.task.attempt == attempt => {
                tracing::info!(task_id, attempt, "copy task already completed");
                return;
            }
            Ok(info) if info.task.state == TaskState::Claimed && info.task.attempt == attempt => {
                tracing::warn!(task_id, attempt, %error, "completing the copy task failed; retrying");
            }
            Ok(info) => {
                tracing::warn!(task_id, attempt, state = ?info.task.state, current_attempt = info.task.attempt, %error,
                    "copy task moved on; not completed");
                return;
            }
            Err(read_error) => {
                tracing::warn!(task_id, attempt, %error, %read_error, "completing the copy task failed; retrying");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tracing::error!(task_id, attempt, "gave up completing the copy task; its lease will expire and it will run again");
}
