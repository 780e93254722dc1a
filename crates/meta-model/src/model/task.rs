//! Tasks the meta service hands out to data nodes, replicated so none is lost or run twice. Every
//! kind ([`TaskKind`]: copies, "copy shard S from node A to node B", and repairs, "owners A and B
//! of shard S reconcile their copies") shares one lifecycle, its lease and its fencing token; the
//! kind says what the claimant does and what completing it changes in the metadata.
//!
//! ```text
//!             claim (attempt += 1, lease)            complete (attempt matches)
//!   Pending ─────────────────────────────▶ Claimed ─────────────────────────────▶ Done
//!     ▲  ▲                                  │  │      (target becomes an owner, `replaces` stops being one)
//!     │  └──── lease expired ───────────────┘  │
//!     └─────── fail, retries left (backoff) ───┤
//!                                              └── fail, no retries left ──▶ Failed
//!   Pending | Claimed ── cancel (operator, planner, shard or node gone) ──▶ Cancelled
//! ```
//!
//! The attempt number is a fencing token: a claimant whose lease expired and whose task was
//! claimed again cannot complete, fail or renew it.

use serde::{Deserialize, Serialize};

use crate::model::node::NodeId;
use crate::model::shard_group::{ShardId, Timestamp};

/// Identifier of a task; never reused.
pub type TaskId = u64;

/// What a task asks its target to do. A data node claims only the kinds it runs
/// (`ClaimCopyTasks` claims copies), so a node of an older release never receives a kind it does
/// not know.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Copy the whole shard from the source; on completion the target becomes an owner and the
    /// replaced owner, if any, stops being one. (Tasks written before task kinds existed, format 2
    /// and backups of that time, are copies.)
    #[default]
    Copy,
    /// Reconcile the target's copy of the shard with the source's (both owners): each receives
    /// the points the other holds and it lacks, found by comparing their content trees, so both
    /// end with the union. Completing it changes no ownership. Planned for shards whose owners'
    /// cold copies differ (after any copy the shard needs), or asked for by `entropy repair`.
    Repair,
    /// Move the shard from its owner `replaces` (also the source) to the target: the target
    /// copies it like a [`TaskKind::Copy`] and, on completion, becomes an owner in the source's
    /// place, so the shard never has fewer owners than before. Planned by rebalancing.
    Move,
}

impl TaskKind {
    /// Whether the target pulls a whole copy of the shard and becomes an owner (a copy or a
    /// move): its target is a pending owner that writes reach while it runs.
    pub fn copies(self) -> bool {
        matches!(self, TaskKind::Copy | TaskKind::Move)
    }
}

/// Where a task is in its lifecycle.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for its target to claim it (possibly not before `retry_at`).
    Pending,
    /// Claimed by its target, which holds a lease until `lease_deadline`.
    Claimed,
    /// Finished: the target owns the shard.
    Done,
    /// Gave up after too many failures; `entropy repair` retries the shard.
    Failed,
    /// Withdrawn before it finished.
    Cancelled,
}

impl TaskState {
    /// Whether the task may still run (pending or claimed).
    pub fn is_open(self) -> bool {
        matches!(self, TaskState::Pending | TaskState::Claimed)
    }
}

/// Why a task exists.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskReason {
    /// The shard has fewer owners than its replication factor.
    UnderReplicated,
    /// An owner reported that it lacks the shard; the copy goes to that owner.
    MissingOnOwner,
    /// An owner was declared dead; the target takes its place.
    DeadOwner,
    /// An owner is draining; the target takes its place.
    DrainingOwner,
    /// An operator asked for it (`copy-shard`, `entropy repair`).
    Operator,
    /// The owners' cold copies differ (their content roots do): a repair reconciles them.
    Inconsistent,
    /// Rebalancing: the source holds more shards than its share, the target fewer.
    Rebalance,
    /// The owners share a failure domain they could avoid: the move spreads them.
    MisReplicated,
}

/// Why a task was cancelled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// An operator killed it; the planner does not plan the same copy again until
    /// `entropy repair` asks for it.
    Operator,
    /// The shard was dropped or its group deleted.
    ShardDropped,
    /// The source or target node was removed.
    NodeRemoved,
    /// The planner found the target unfit (dead, draining, gone).
    TargetGone,
    /// The planner found the source unfit before the task was claimed.
    SourceGone,
    /// The shard no longer needs the copy.
    NotNeeded,
    /// `entropy repair` cleared a failed or killed task so the planner may try again.
    Superseded,
}

/// Which shard a task works on, between which nodes, and why: the part chosen by the planner or
/// an operator, the same for every kind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The shard to copy.
    pub shard_id: ShardId,
    /// The owner to copy from.
    pub source: NodeId,
    /// The node that pulls the copy and becomes an owner.
    pub target: NodeId,
    /// The owner the target takes the place of once the copy is done (dead or draining).
    pub replaces: Option<NodeId>,
    /// Lower runs first: the number of live copies when the task was planned.
    pub priority: u32,
    /// Why the task exists.
    pub reason: TaskReason,
}

/// How failed attempts are retried; stamped into the command by the proposer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Failures after which the task is marked failed.
    pub max_failures: u32,
    /// Delay before the first retry, in nanoseconds; doubled after every further failure.
    pub base_backoff: i64,
    /// Longest delay between retries, in nanoseconds.
    pub max_backoff: i64,
}

impl RetryPolicy {
    /// Delay before retrying after the `failures`-th failure (1-based): exponential, capped.
    pub fn backoff(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(1).min(62);
        self.base_backoff.max(0).saturating_mul(1i64 << doublings).min(self.max_backoff.max(0))
    }
}

/// A task as the replicated metadata holds it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task's ID.
    pub id: TaskId,
    /// What the target does (absent in backups written before kinds existed: a copy).
    #[serde(default)]
    pub kind: TaskKind,
    /// Which shard, from where, to where, and why.
    pub spec: TaskSpec,
    /// Lifecycle state.
    pub state: TaskState,
    /// Number of times the task was claimed; the current claim's fencing token.
    pub attempt: u32,
    /// When the current claim's lease runs out (claimed tasks only).
    pub lease_deadline: Option<Timestamp>,
    /// Failed attempts so far.
    pub failures: u32,
    /// A pending task is not handed out before this time (backoff after a failure).
    pub retry_at: Option<Timestamp>,
    /// The last failure, expiry or cancellation, in words.
    pub last_error: Option<String>,
    /// Why it was cancelled (cancelled tasks only).
    pub cancel_reason: Option<CancelReason>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its state last changed.
    pub updated_at: Timestamp,
}

impl Task {
    /// A new task of `kind`, pending since `now`.
    pub fn pending(id: TaskId, kind: TaskKind, spec: TaskSpec, now: Timestamp) -> Self {
        Task {
            id,
            kind,
            spec,
            state: TaskState::Pending,
            attempt: 0,
            lease_deadline: None,
            failures: 0,
            retry_at: None,
            last_error: None,
            cancel_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the planner must not plan this copy (same shard, same target) again: it failed
    /// for good or an operator killed it.
    pub fn blocks_replanning(&self) -> bool {
        self.state == TaskState::Failed
            || (self.state == TaskState::Cancelled && self.cancel_reason == Some(CancelReason::Operator))
    }

    /// Whether the task touches `node` as source or target.
    pub fn involves(&self, node: NodeId) -> bool {
        self.spec.source == node || self.spec.target == node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy { max_failures: 5, base_backoff: 100, max_backoff: 1000 };
        let delays: Vec<_> = (1..=6).map(|n| policy.backoff(n)).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(u32::MAX), 1000);
    }
}
