//! The anti-entropy planner: given the cluster as the Raft leader sees it (shards and their owners,
//! data nodes with membership and liveness, reported inventories, existing copy tasks), decide
//! which copy tasks to create, which to cancel, and which shards to report.
//!
//! It is a pure function: no I/O, no clock, no randomness, no async, and the same input always
//! gives the same [`Plan`] (ties break by ID; no hash-map order reaches the output). The AE service
//! builds the [`PlanInput`] from the metadata and turns the plan into Raft commands; it should apply
//! the cancellations before the creations.
//!
//! ```text
//!   shards ─┐                    ┌─ scan every shard: settled? (all owners active, alive, holding,
//!   nodes ──┤                    │  exactly RF of them, no task) ── yes ──▶ nothing to do
//!   inventories ──▶ plan() ──────┤                                  no
//!   tasks ──┤                    │                                   ▼
//!   limits ─┘                    │  close look: live copies, unfit tasks ──▶ Plan.cancel
//!                                │  most endangered first (fewest live copies, then shard ID):
//!                                └─ refill owners that lack it, add or replace owners ──▶ Plan.create
//!                                                                     + health ──▶ Plan.report
//!
//!   a copy task:  source (online holder) ──copy S──▶ target  [replaces: dead/draining owner]
//!                 on completion the target becomes an owner and `replaces` stops being one
//! ```
//!
//! # Rules
//!
//! * A node **holds** shard S if its trusted inventory lists S, or the caller knows of a copy the
//!   inventory does not list yet ([`PlanInput::unreported`]: a write or a completed copy that
//!   landed after the report was sent), or if it has no trusted inventory (missing report, grace
//!   period after a leader change) and owns S. Owners absent from the input (removed) count as
//!   dead. Owners of a shard are distinct; shard IDs are unique.
//! * A **live copy** is held by an owner that is not dead; draining and suspect owners' copies count.
//!   The shard wants `replication` copies on active (not draining) owners. Its tasks' priority is
//!   its number of live copies (0 or 1 = most urgent: 0 when only a non-owner still has a copy),
//!   and shards are served in priority order, then by ID, so scarce slots go to the most endangered.
//! * **New owners**: `replication` − (active, not dead owners) − (in-flight tasks bringing a new
//!   owner). Each replaces, in ID order, a dead owner (`DeadOwner`), then a draining one
//!   (`DrainingOwner`), and otherwise is a plain addition (`UnderReplicated`). A shard that already
//!   has `replication` active owners gets no replacement for a surplus dead or draining owner.
//! * **Dropped owners**: a leaving owner (draining or dead) of a shard that keeps `replication`
//!   copies *reported* by online, active owners without it is dropped ([`Plan::drop_owners`], in
//!   scope only; an assumed copy or a suspect owner's does not vouch for a drop), and
//!   an in-flight task that was to replace it is cancelled (`NotNeeded`, whatever the scope): this
//!   is how a drained node whose shards an operator copied, or whose policy's RF was lowered,
//!   finishes draining, and how a dead node's surplus ownership goes away.
//! * **Refill**: an active, online owner whose trusted inventory lacks S, while some other node
//!   holds it, gets a task to itself (`MissingOnOwner`): this is how `update-data` (same ID, empty
//!   disk) is filled. If nobody holds S, it is unrecoverable (below).
//!   If refilling an owner is blocked, that owner stops counting and a new owner is added instead.
//! * **Unrecoverable**: S was written, nobody alive holds it (owner or not), and an owner is dead,
//!   or S has no owner, or every owner reports lacking it. Reported (in `under_replicated` too),
//!   never planned.
//! * **Never written** (`written: false`: no write to S was ever acknowledged): S holds nothing,
//!   so it is neither reported nor copied. Its dead, removed and draining owners leave and active,
//!   online nodes make up its replication factor by a metadata change ([`Plan::reassign`]: the
//!   best spread over failure domains first, then the fewest owned shards), unless no node can
//!   take it at all. Its in-flight tasks
//!   are cancelled (`NotNeeded`).
//! * **Sources** are online holders, owners first, then the fewest source tasks (in flight and
//!   planned, below `max_sync`), then lowest ID. Non-owners that report a copy are looked up only
//!   when no online owner holds one.
//! * **Targets** are active, online nodes with a fetch slot (below `max_fetch`) that do not own S
//!   (a non-owner's leftover copy is brought up to date, unless it is the only source), and are
//!   not the target of an in-flight or blocked task for S: preferring the
//!   least overlap in the failure-domain hierarchy ([`NodeView::domain`]) with S's active owners
//!   and in-flight targets (a zone they do not use, else a rack, …; an unlabelled node shares
//!   nothing), then the least load (shards owned + tasks targeting it), then lowest ID. When fewer nodes are
//!   eligible, slots aside, than S needs new owners, S is reported in `insufficient_nodes`.
//!   Reports never depend on free slots: throttling only delays tasks.
//! * **Suspect** nodes are neither sources nor targets; their copies count; tasks they are involved
//!   in are left alone.
//! * **In-flight** (pending, claimed) tasks are copies on their way: they count towards the owners
//!   a shard needs and against the limits, so planning again with the created tasks added as pending
//!   creates nothing new.
//! * **Cancellations** cover every in-flight task, whatever the [`Scope`]: shard gone
//!   (`ShardDropped`); target removed, dead or draining (`TargetGone`); a *pending* task's source
//!   removed, dead or reporting that it lacks S (`SourceGone`); target already an owner reporting S,
//!   or a task adding a plain owner to a shard with `replication` live copies on active owners
//!   (`NotNeeded`). The same round plans what a cancelled task was for, if still needed. Blocked
//!   tasks are never cancelled, and their `(shard, target)` pair is never planned again.
//! * **Hot** copies count exactly like cold ones: a hot shard is repaired like any other, without
//!   waiting for its writes to stop (the data nodes send a copy's target the writes made while it
//!   runs). `size` and `checksum` are not used yet.
//! * **Inconsistent**: online owners reported cold copies ([`ShardCopy::content`]) whose content
//!   roots differ. Reported; once the shard has its `replication` live copies on active owners and
//!   no copy task in flight (under-replication comes first), a **repair** task
//!   ([`Reason::Inconsistent`], [`TaskKind::Repair`]) is planned, one per shard at a time: its
//!   target is the lowest-ID online owner with a root, its source the lowest-ID other online owner
//!   whose root differs; both need a free slot (`max_fetch`, `max_sync`), and its priority is
//!   `replication + 1`, after every copy. A repair whose source or target is no longer an online,
//!   active owner is cancelled (`SourceGone`, `TargetGone`, `NotNeeded`); a blocked one is never
//!   planned again for its target.
//!
//! * **Moves** ([`TaskKind::Move`], [`Reason::Rebalance`], [`Reason::MisReplicated`]): with
//!   [`Limits::balance`] set, a full round, after everything above, moves shards that need nothing
//!   else from the most to the least loaded nodes of a zone, and mis-replicated shards into a
//!   domain their owners lack; a move's target copies the shard and takes the place of its source
//!   (`replaces`), so a shard never has fewer owners. The rules, and why no move is ever undone,
//!   are in the `balance` module; [`Plan::balance`] reports each node's load. A move is cancelled
//!   when its source dies, drains or leaves (`SourceGone`), or balancing is disabled
//!   (`NotNeeded`).
//!
//! # Cost
//!
//! One pass over the input's shards and their owners (to find the shards that are not trivially
//! healthy), then work in proportion to those. Each node's load comes with the input
//! ([`NodeView::owned`], kept incrementally by the metadata), so no round counts owners across the
//! cluster. A shard is checked against its owners' inventories by walking each inventory forward,
//! so the full check visits shards in ascending ID order: directly when the input is sorted, else
//! through a stable sort (cheap for input made of ascending runs, like the metadata's per-database
//! listing). A [`Scope::Shards`] round needs only its shards and those of tasks in the input, and
//! costs what they hold plus one pass over the nodes and tasks. Figures: `benches/plan.rs` and
//! `docs/PERFORMANCE.md`.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use ae_planner::{
//!     plan, Inventory, Limits, Liveness, Membership, NodeView, Owners, PlanInput, Reason, Scope, ShardCopy, ShardView,
//! };
//!
//! let node = |id, liveness| NodeView { id, membership: Membership::Active, liveness, domain: vec![], owned: 1 };
//! let input = PlanInput {
//!     // RF 2 on nodes 1 and 2; node 2 died, node 3 is new.
//!     shards: vec![ShardView { id: 10, replication: 2, owners: Owners::from_slice(&[1, 2]), written: true }],
//!     nodes: vec![node(1, Liveness::Online), node(2, Liveness::Dead), node(3, Liveness::Online)],
//!     inventories: BTreeMap::from([
//!         (1, Inventory::from_iter([(10, ShardCopy::default())])),
//!         (3, Inventory::default()),
//!     ]),
//!     tasks: vec![],
//!     unreported: Default::default(),
//!     owned_bytes: Default::default(),
//! };
//! let plan = plan(&input, &Limits::default(), Scope::All);
//! let task = &plan.create[0];
//! assert_eq!((task.source, task.target, task.replaces), (1, 3, Some(2)));
//! assert_eq!((task.reason, task.priority), (Reason::DeadOwner, 1));
//! assert!(plan.cancel.is_empty() && plan.report.unrecoverable.is_empty());
//! ```

mod balance;
mod id_hash;
mod ids;
mod input;
mod load;
mod node_table;
mod plan;
mod planner;
mod scan;
mod scope_set;
mod shard_case;
mod shard_map;
mod task_index;

pub use input::{
    Balance, Inventory, Limits, Liveness, Membership, NodeId, NodeView, Owners, PlanInput, Scope, ShardCopy, ShardId,
    ShardView, TaskId, TaskKind, TaskState, TaskView,
};
pub use plan::{
    BalanceReport, BalanceStatus, Cancel, CancelReason, DropOwner, DropReason, LoadVerdict, MisReplicated, NewTask,
    NodeLoad, Plan, Reason, Reassign, Report, ShardHealth,
};
pub use planner::plan;
pub use shard_map::ShardMap;
