//! [`MetaState`]: the replicated cluster metadata and its deterministic `apply`.
//!
//! `apply` depends on the state and the command alone: no clock, no randomness, no hash-map
//! order. A rejected command returns an [`ApplyError`] and leaves the state untouched: every
//! handler checks everything first and mutates only once nothing can fail.

mod invariants;
mod nodes;
mod record;
mod schema;
mod shards;
mod tasks;
mod written;

pub use tasks::FINISHED_TASKS_KEPT;
pub use written::WrittenMarks;

use std::collections::{BTreeMap, BTreeSet};

use crate::changes::{Changes, Journal};
use crate::command::Command;
use crate::error::ApplyError;
use crate::index::{Index, OpenTasks};
use crate::model::cluster::{invalid_cluster_id, ClusterIdentity};
use crate::model::database::Database;
use crate::model::leader_facts::LeaderFacts;
use crate::model::node::{DataNode, MetaNode, NodeId, NodeState};
use crate::model::placement_policy::{validate_failure_domains, BalancePolicy, PlacementPolicy};
use crate::model::retention_policy::RetentionPolicy;
use crate::model::shard_group::{Shard, ShardGroup, ShardGroupId, ShardId};
use crate::model::staged_restore::StagedRestore;
use crate::model::task::{Task, TaskId, TaskKind};
use crate::record::MetadataRecord;
use crate::response::Response;
use crate::transient::Transient;
use shards::TruncationRule;

/// The cluster metadata: nodes, databases, retention policies, shard groups and shard owners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaState {
    next_node_id: NodeId,
    next_shard_group_id: ShardGroupId,
    next_shard_id: ShardId,
    data_nodes: BTreeMap<NodeId, DataNode>,
    meta_nodes: BTreeMap<NodeId, MetaNode>,
    databases: BTreeMap<String, Database>,
    next_task_id: TaskId,
    tasks: BTreeMap<TaskId, Task>,
    /// Shards that never acknowledged a write: created (or precreated) and not yet marked by
    /// `MarkShardsWritten`, which a data node commits before it acknowledges a shard's first write.
    unwritten: BTreeSet<ShardId>,
    /// The cluster's identity, once its first leader made it.
    cluster: Option<ClusterIdentity>,
    /// How shards are placed (the failure-domain hierarchy).
    placement: PlacementPolicy,
    /// The parts of a backup restored in parts, until its last part.
    staged_restore: Option<StagedRestore>,
    index: Index,
    open_tasks: OpenTasks,
    /// What the command being applied touches, while a caller tracks it.
    journal: Journal,
    /// The leader's facts of the stamped command being applied.
    facts: Transient<LeaderFacts>,
    /// The backup the command being applied restores, decoded ahead ([`MetaState::prepare`]).
    prepared: Transient<Prepared>,
}

/// Most bytes the first part of a restore in parts reserves for the whole backup: a larger one
/// grows its buffer as its parts arrive.
const STAGED_RESERVE_LIMIT: usize = 1 << 30;

/// A backup decoded, indexed and checked ahead of the apply that installs it
/// ([`MetaState::prepare`]): the slow part of a restore, done from a shared reference.
#[derive(Debug)]
pub struct Prepared {
    /// The encoded record it was decoded from; the apply uses it only for the same bytes.
    bytes: Vec<u8>,
    /// The backup and the outcome of its invariant check, or why it does not decode.
    backup: Result<(Box<MetaState>, Result<(), String>), ApplyError>,
}

impl Prepared {
    fn of(bytes: Vec<u8>) -> Prepared {
        Prepared { backup: decode_backup(&bytes), bytes }
    }
}

/// The backup encoded in `bytes`, decoded and checked ([`checked`]).
fn decode_backup(bytes: &[u8]) -> Result<(Box<MetaState>, Result<(), String>), ApplyError> {
    MetadataRecord::decode("backup record", bytes)
        .map_err(|e| ApplyError::InvalidBackup { reason: e.to_string() })
        .map(checked)
}

/// A backup's state, indexes built, with the outcome of its invariant check (of the canonical
/// data: the indexes were built from it right here).
fn checked(record: MetadataRecord) -> (Box<MetaState>, Result<(), String>) {
    let backup = MetaState::from(record);
    let invariants = backup.check_canonical_invariants();
    (Box::new(backup), invariants)
}

/// A shard together with where it lives.
#[derive(Clone, Copy, Debug)]
pub struct ShardView<'a> {
    /// Database name.
    pub database: &'a str,
    /// Retention policy.
    pub retention_policy: &'a RetentionPolicy,
    /// The group holding the shard.
    pub group: &'a ShardGroup,
    /// The shard.
    pub shard: &'a Shard,
}

impl Default for MetaState {
    fn default() -> Self {
        Self::new()
    }
}

impl MetaState {
    /// An empty cluster. IDs start at 1.
    pub fn new() -> Self {
        MetaState {
            next_node_id: 1,
            next_shard_group_id: 1,
            next_shard_id: 1,
            data_nodes: BTreeMap::new(),
            meta_nodes: BTreeMap::new(),
            databases: BTreeMap::new(),
            next_task_id: 1,
            tasks: BTreeMap::new(),
            unwritten: BTreeSet::new(),
            cluster: None,
            placement: PlacementPolicy::default(),
            staged_restore: None,
            index: Index::default(),
            open_tasks: OpenTasks::default(),
            journal: Journal::default(),
            facts: Transient::default(),
            prepared: Transient::default(),
        }
    }

    /// The slow, read-only part of applying `command`, done ahead so that the caller can do it
    /// without keeping readers of the state waiting (a restore of a million shards decodes,
    /// indexes and checks for about a second): for a restore, or the last part of one, the backup
    /// decoded and checked; `None` for every other command (a batch included). Give the result
    /// to [`MetaState::apply_prepared_tracked`] with the same command, on this state unchanged.
    pub fn prepare(&self, command: &Command) -> Option<Prepared> {
        let bytes = match command {
            Command::Stamped { command, .. } => return self.prepare(command),
            Command::RestoreMetadata { record } => record.clone(),
            Command::RestoreMetadataPart { upload, part, parts, bytes } if part + 1 == *parts => match part {
                0 => bytes.clone(),
                _ => {
                    let staged = self.staged_restore.as_ref()?;
                    if staged.upload != *upload || staged.parts != *parts || staged.received != *part {
                        return None;
                    }
                    [staged.bytes.as_slice(), bytes].concat()
                }
            },
            _ => return None,
        };
        Some(Prepared::of(bytes))
    }

    /// [`MetaState::apply_tracked`] with the slow part done ahead by [`MetaState::prepare`]
    /// (`None`: nothing prepared). A prepared backup is used only if the command restores
    /// exactly the bytes it was decoded from; otherwise the apply decodes them itself.
    pub fn apply_prepared_tracked(
        &mut self,
        command: &Command,
        prepared: Option<Prepared>,
    ) -> (Result<Response, ApplyError>, Changes) {
        self.prepared = Transient(prepared);
        let applied = self.apply_tracked(command);
        self.prepared = Transient(None);
        applied
    }

    /// Applies one command. Deterministic; never panics; a rejection changes nothing.
    pub fn apply(&mut self, command: &Command) -> Result<Response, ApplyError> {
        let result = self.dispatch(command);
        if result.is_ok() && command.may_strand_copy_tasks() {
            self.sweep_tasks();
        }
        result
    }

    /// Applies one command like [`MetaState::apply`] and says what it touched (nothing if it was
    /// rejected): the shards, data nodes and copy tasks that services watching the metadata
    /// should look at again.
    pub fn apply_tracked(&mut self, command: &Command) -> (Result<Response, ApplyError>, Changes) {
        self.journal.start();
        let result = self.apply(command);
        (result, self.journal.finish())
    }

    fn dispatch(&mut self, command: &Command) -> Result<Response, ApplyError> {
        match command {
            Command::AddDataNode { tcp_addr, http_addr, labels } => self.add_data_node(tcp_addr, http_addr, labels),
            Command::UpdateDataNode { node_id, tcp_addr, http_addr, labels } => {
                self.update_data_node(*node_id, tcp_addr, http_addr, labels.as_ref())
            }
            Command::RemoveDataNode { node_id, force } => self.remove_data_node(*node_id, *force),
            Command::AddMetaNode { node_id, addr } => self.add_meta_node(*node_id, addr),
            Command::RemoveMetaNode { node_id } => self.remove_meta_node(*node_id),
            Command::CreateDatabase { name, default_retention_policy } => {
                self.create_database(name, default_retention_policy.as_ref())
            }
            Command::DropDatabase { name } => self.drop_database(name),
            Command::CreateRetentionPolicy { database, spec, make_default } => {
                self.create_retention_policy(database, spec, *make_default)
            }
            Command::AlterRetentionPolicy { database, name, update } => {
                self.alter_retention_policy(database, name, update)
            }
            Command::DropRetentionPolicy { database, name } => self.drop_retention_policy(database, name),
            Command::CreateShardGroup { database, retention_policy, timestamp } => {
                self.create_shard_group(database, retention_policy, *timestamp)
            }
            Command::PrecreateShardGroups { from, to } => self.precreate_shard_groups(*from, *to),
            Command::TruncateShardGroups { at } => {
                self.truncated_groups(*at, TruncationRule::StillAccepting).map(Response::ShardGroupIds)
            }
            Command::DeleteExpiredShardGroups { now } => self.delete_expired_shard_groups(*now),
            Command::PruneDeletedShardGroups { before } => self.prune_deleted_shard_groups(*before),
            Command::AddShardOwner { shard_id, node_id } => self.add_shard_owner(*shard_id, *node_id),
            Command::RemoveShardOwner { shard_id, node_id } => self.remove_shard_owner(*shard_id, *node_id),
            Command::DropShard { shard_id } => self.drop_shard(*shard_id),
            Command::RestoreMetadata { record } => self.restore_bytes(record),
            Command::RestoreMetadataV2 { backup } => {
                self.install_backup(Ok(checked(MetadataRecord::from((**backup).clone()))))
            }
            Command::RestoreMetadataPart { upload, part, parts, bytes } => {
                self.restore_part(*upload, *part, *parts, bytes)
            }
            Command::CreateCopyTasks { now, tasks } => self.create_tasks(*now, TaskKind::Copy, tasks),
            Command::CreateRepairTasks { now, tasks } => self.create_tasks(*now, TaskKind::Repair, tasks),
            Command::CreateMoveTasks { now, tasks } => self.create_tasks(*now, TaskKind::Move, tasks),
            Command::ClaimTasks { now, node_id, kinds, max, lease } => {
                self.claim_tasks(*now, *node_id, kinds, *max, *lease)
            }
            Command::ClaimCopyTasks { now, node_id, max, lease } => {
                self.claim_tasks(*now, *node_id, &[TaskKind::Copy], *max, *lease)
            }
            Command::RenewCopyTaskLease { now, task_id, attempt, lease } => {
                self.renew_copy_task_lease(*now, *task_id, *attempt, *lease)
            }
            Command::CompleteCopyTask { now, task_id, attempt } => self.complete_task(*now, *task_id, *attempt),
            Command::FailCopyTask { now, task_id, attempt, error, retry } => {
                self.fail_copy_task(*now, *task_id, *attempt, error, retry)
            }
            Command::ExpireCopyTaskLeases { now } => self.expire_copy_task_leases(*now),
            Command::CancelCopyTask { now, task_id, reason } => self.cancel_copy_task(*now, *task_id, *reason),
            Command::Batch(commands) => self.apply_batch(commands),
            Command::Stamped { facts, command } => self.apply_stamped(facts, command),
            Command::TruncateShardGroupsAfter { delay } | Command::TruncateHotShardGroups { delay } => {
                let now = self.leader_facts(command)?.now;
                let at = now.saturating_add(i64::try_from(*delay).unwrap_or(i64::MAX));
                let rule = match command {
                    Command::TruncateHotShardGroups { .. } => TruncationRule::Holding,
                    _ => TruncationRule::StillAccepting,
                };
                let shard_groups = self.truncated_groups(at, rule)?;
                Ok(Response::Truncated { at, shard_groups })
            }
            Command::RetryShardRepair { now, shard_id } => self.retry_shard_repair(*now, *shard_id),
            Command::MarkShardsWritten { shard_ids } => self.mark_shards_written(shard_ids),
            Command::ReassignUnwrittenShard { shard_id, drop, add } => {
                self.reassign_unwritten_shard(*shard_id, drop, add)
            }
            Command::InitCluster { id } => self.init_cluster(id),
            Command::SetFailureDomains { levels } => self.set_failure_domains(levels),
            Command::SetNodeLabels { node_id, set, delete } => self.set_node_labels(*node_id, set, delete),
            Command::SetBalance { enabled, tolerance_percent, max_moves } => {
                self.set_balance(*enabled, *tolerance_percent, *max_moves)
            }
        }
    }

    /// Applies each command of a batch in order, as separate entries would be; a nested batch
    /// refuses the whole batch before anything changes.
    fn apply_batch(&mut self, commands: &[Command]) -> Result<Response, ApplyError> {
        if commands.iter().any(|command| matches!(command, Command::Batch(_))) {
            return Err(ApplyError::NestedBatch);
        }
        Ok(Response::Batch(commands.iter().map(|command| self.apply(command)).collect()))
    }

    /// Applies a stamped command with its facts at hand, exactly as the command itself would be.
    fn apply_stamped(&mut self, facts: &LeaderFacts, command: &Command) -> Result<Response, ApplyError> {
        if matches!(command, Command::Batch(_) | Command::Stamped { .. }) {
            return Err(ApplyError::NestedStamp);
        }
        self.facts.0 = Some(facts.clone());
        let result = self.apply(command);
        self.facts.0 = None;
        result
    }

    /// The leader's facts stamped on `command`, which needs them.
    fn leader_facts(&self, command: &Command) -> Result<&LeaderFacts, ApplyError> {
        self.facts.0.as_ref().ok_or_else(|| ApplyError::NotStamped { command: command.name().to_owned() })
    }

    /// All data nodes by ID, removed ones included (as tombstones).
    pub fn data_nodes(&self) -> &BTreeMap<NodeId, DataNode> {
        &self.data_nodes
    }

    /// One data node.
    pub fn data_node(&self, id: NodeId) -> Option<&DataNode> {
        self.data_nodes.get(&id)
    }

    /// All meta nodes by ID.
    pub fn meta_nodes(&self) -> &BTreeMap<NodeId, MetaNode> {
        &self.meta_nodes
    }

    /// All databases by name.
    pub fn databases(&self) -> &BTreeMap<String, Database> {
        &self.databases
    }

    /// One database.
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases.get(name)
    }

    /// One retention policy.
    pub fn retention_policy(&self, database: &str, name: &str) -> Option<&RetentionPolicy> {
        self.databases.get(database)?.retention_policies.get(name)
    }

    /// One shard and where it lives.
    pub fn shard(&self, shard_id: ShardId) -> Option<ShardView<'_>> {
        let group_id = self.index.shard_group.get(&shard_id)?;
        let (db, rp) = self.index.group_path.get(group_id)?;
        let (database, db_entry) = self.databases.get_key_value(db)?;
        let retention_policy = db_entry.retention_policies.get(rp)?;
        let group = retention_policy.shard_groups.get(group_id)?;
        let shard = group.shards.iter().find(|s| s.id == shard_id)?;
        Some(ShardView { database, retention_policy, group, shard })
    }

    /// The shards a data node owns, in ID order.
    pub fn shards_owned_by(&self, node: NodeId) -> impl Iterator<Item = ShardId> + '_ {
        self.index.node_shards.get(&node).into_iter().flatten().copied()
    }

    /// How many shards a data node owns (in live and deleted groups), without walking them.
    pub fn owned_shard_count(&self, node: NodeId) -> usize {
        self.index.load(node)
    }

    /// Number of shards (in live and deleted groups).
    pub fn shard_count(&self) -> usize {
        self.index.shard_group.len()
    }

    /// Whether shard `id` may hold data: it acknowledged a write, or it was created before writes
    /// were marked (format 2 and older backups). `false` only for shards known never written.
    pub fn is_written(&self, id: ShardId) -> bool {
        !self.unwritten.contains(&id)
    }

    /// [`MetaState::is_written`] for many shards in a row, each answered in a step rather than a
    /// lookup when their IDs ascend (as in a walk of the groups of a policy).
    pub fn written_marks(&self) -> WrittenMarks<'_> {
        WrittenMarks::new(&self.unwritten)
    }

    /// The shards known never to have acknowledged a write.
    pub fn unwritten_shards(&self) -> &BTreeSet<ShardId> {
        &self.unwritten
    }

    /// The cluster's identity (`None` until its first leader made it).
    pub fn cluster(&self) -> Option<&ClusterIdentity> {
        self.cluster.as_ref()
    }

    /// Whether shard group `group` routes points by their canonical series key (tags sorted);
    /// `false` for groups created before the cluster had an identity, which route by the series
    /// key as written.
    pub fn routes_canonically(&self, group: ShardGroupId) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.routes_canonically(group))
    }

    /// `InitCluster`: the identity, made once; later proposals change nothing.
    fn init_cluster(&mut self, id: &str) -> Result<Response, ApplyError> {
        if let Some(reason) = invalid_cluster_id(id) {
            let reason = reason.to_owned();
            return Err(ApplyError::InvalidName { field: "cluster_id".to_owned(), value: id.to_owned(), reason });
        }
        if self.cluster.is_none() {
            let identity = ClusterIdentity { id: id.to_owned(), canonical_routing_from: self.next_shard_group_id };
            self.cluster = Some(identity);
        }
        Ok(Response::Done)
    }

    /// How shards are placed.
    pub fn placement(&self) -> &PlacementPolicy {
        &self.placement
    }

    fn set_failure_domains(&mut self, levels: &[String]) -> Result<Response, ApplyError> {
        validate_failure_domains(levels)?;
        if self.placement.failure_domains != levels {
            self.placement.failure_domains = levels.to_vec();
            // Every shard's spread is judged anew.
            self.journal.record(|c| c.everything = true);
        }
        Ok(Response::Placement(self.placement.clone()))
    }

    /// `SetBalance`: the fields given replace the balance policy's; the whole policy is checked
    /// before anything changes.
    fn set_balance(
        &mut self,
        enabled: Option<bool>,
        tolerance_percent: Option<u32>,
        max_moves: Option<u32>,
    ) -> Result<Response, ApplyError> {
        let old = self.placement.balance;
        let new = BalancePolicy {
            enabled: enabled.unwrap_or(old.enabled),
            tolerance_percent: tolerance_percent.unwrap_or(old.tolerance_percent),
            max_moves: max_moves.unwrap_or(old.max_moves),
        };
        new.validate()?;
        if new != old {
            self.placement.balance = new;
            // Every node's load is judged anew (moves are planned on full rounds).
            self.journal.record(|c| c.everything = true);
        }
        Ok(Response::Placement(self.placement.clone()))
    }

    /// Number of data nodes that can receive new shards.
    pub fn active_data_node_count(&self) -> u64 {
        self.data_nodes.values().filter(|n| n.is_active()).count() as u64
    }

    /// All copy tasks kept (open, failed, killed, and the most recent finished ones), by ID.
    pub fn tasks(&self) -> &BTreeMap<TaskId, Task> {
        &self.tasks
    }

    /// One copy task.
    pub fn copy_task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id)
    }

    /// The open (pending or claimed) copy tasks, by ID.
    pub fn open_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values().filter(|t| t.state.is_open())
    }

    /// The shard's pending owners: the targets of its open copy tasks that do not own it yet,
    /// ascending. Writes reach them as well as the owners from the moment a copy is planned, so
    /// a copy of a hot shard ends holding every point acknowledged while it ran (the source
    /// serves a copy only once its metadata names the target; see datad's write path).
    pub fn pending_owners(&self, shard_id: ShardId) -> Vec<NodeId> {
        let owners = self.shard(shard_id).map(|v| v.shard.owners.as_slice()).unwrap_or_default();
        self.open_tasks
            .by_copy
            .range((shard_id, NodeId::MIN)..=(shard_id, NodeId::MAX))
            .filter(|(_, id)| self.tasks.get(id).is_some_and(|t| t.kind.copies()))
            .map(|(&(_, target), _)| target)
            .filter(|target| !owners.contains(target))
            .collect()
    }

    /// The ID the next copy task will get.
    pub fn next_task_id(&self) -> TaskId {
        self.next_task_id
    }

    /// The ID the next node will get.
    pub fn next_node_id(&self) -> NodeId {
        self.next_node_id
    }

    /// The ID the next shard group will get.
    pub fn next_shard_group_id(&self) -> ShardGroupId {
        self.next_shard_group_id
    }

    /// Checks `backup` as restoring it would ([`Command::RestoreMetadata`]), before any of it is
    /// proposed: its data decoded into a state whose invariants hold (the indexes are built from
    /// the data, not compared with it: that would need a second index of every shard).
    ///
    /// # Errors
    /// [`ApplyError::InvalidBackup`] naming the first invariant the backup breaks.
    pub fn check_backup(backup: MetadataRecord) -> Result<(), ApplyError> {
        let (_, invariants) = checked(backup);
        invariants.map_err(|reason| ApplyError::InvalidBackup { reason })
    }

    /// The parts of a restore received so far, between its first and last part.
    pub fn staged_restore(&self) -> Option<&StagedRestore> {
        self.staged_restore.as_ref()
    }

    /// The ID the next shard will get.
    pub fn next_shard_id(&self) -> ShardId {
        self.next_shard_id
    }

    /// A restore needs a cluster without data nodes or databases.
    ///
    /// # Errors
    /// [`ApplyError::NotEmpty`] naming what the cluster has.
    pub fn check_empty(&self) -> Result<(), ApplyError> {
        let what = match (self.data_nodes.is_empty(), self.databases.is_empty()) {
            (true, true) => return Ok(()),
            (false, _) => "data nodes",
            (true, false) => "databases",
        };
        Err(ApplyError::NotEmpty { what: what.to_owned() })
    }

    /// Stages part `part` of `parts` of upload `upload` (see [`Command::RestoreMetadataPart`]);
    /// the last part restores the whole backup, or refuses it, in this one step.
    fn restore_part(&mut self, upload: u64, part: u32, parts: u32, bytes: &[u8]) -> Result<Response, ApplyError> {
        if part >= parts {
            return Err(ApplyError::InvalidBackup { reason: format!("part {part} of {parts} does not exist") });
        }
        if part == 0 {
            self.check_empty()?;
            // Parts are of one size but the last ([`Command::restore_in_parts`]): the buffer is
            // reserved whole, so it never grows by doubling (a million shards are ~17 MiB, which
            // doubling would hold in 32 MiB and copy on the way there). Failing to reserve
            // changes nothing but how the buffer grows.
            let mut buffer = Vec::new();
            let expected = usize::try_from(parts).unwrap_or(usize::MAX).saturating_mul(bytes.len());
            buffer.try_reserve_exact(expected.min(STAGED_RESERVE_LIMIT)).ok();
            self.staged_restore = Some(StagedRestore { upload, parts, received: 0, bytes: buffer });
        }
        let staged = match &mut self.staged_restore {
            Some(staged) if staged.upload == upload && staged.parts == parts && staged.received == part => staged,
            _ => {
                return Err(ApplyError::InvalidBackup {
                    reason: format!(
                        "part {part} of upload {upload:016x} is not the part expected (another restore began after \
                         it, or one of its earlier parts was refused): send the whole backup again"
                    ),
                })
            }
        };
        staged.bytes.extend_from_slice(bytes);
        staged.received += 1;
        if staged.received < parts {
            return Ok(Response::Done);
        }
        let Some(complete) = self.staged_restore.take() else { return Ok(Response::Done) };
        self.restore_bytes(&complete.bytes)
    }

    /// Loads the backup encoded in `bytes` into this empty cluster (see
    /// [`Command::RestoreMetadata`]), decoded here unless [`MetaState::prepare`] did it.
    fn restore_bytes(&mut self, bytes: &[u8]) -> Result<Response, ApplyError> {
        let backup = match self.prepared.0.take() {
            Some(prepared) if prepared.bytes == bytes => prepared.backup,
            _ => decode_backup(bytes),
        };
        self.install_backup(backup)
    }

    /// Installs a decoded backup (see [`Command::RestoreMetadata`]): refused unless this cluster
    /// is empty, the backup decoded and is consistent, and none of its data nodes has the ID of
    /// one of this cluster's meta nodes.
    fn install_backup(
        &mut self,
        backup: Result<(Box<MetaState>, Result<(), String>), ApplyError>,
    ) -> Result<Response, ApplyError> {
        self.check_empty()?;
        let (backup, invariants) = backup?;
        if let Some(id) = backup.data_nodes.keys().find(|id| self.meta_nodes.contains_key(id)) {
            return Err(ApplyError::InvalidBackup {
                reason: format!("data node {id} of the backup has the ID of a meta node of this cluster"),
            });
        }
        invariants.map_err(|reason| ApplyError::InvalidBackup { reason })?;
        // Moved, not copied: a backup of a million shards is restored in about a second.
        let MetaState { data_nodes, databases, unwritten, placement, cluster, index, .. } = *backup;
        self.data_nodes = data_nodes;
        self.databases = databases;
        self.index = index;
        self.next_node_id = self.next_node_id.max(backup.next_node_id);
        self.next_shard_group_id = self.next_shard_group_id.max(backup.next_shard_group_id);
        self.next_shard_id = self.next_shard_id.max(backup.next_shard_id);
        self.next_task_id = self.next_task_id.max(backup.next_task_id);
        self.unwritten = unwritten;
        self.placement = placement;
        // The restored data nodes' files carry the backed-up cluster's identity; a backup made
        // before identities routed every one of its groups by the series key as written.
        self.cluster = match (cluster, self.cluster.take()) {
            (Some(restored), _) => Some(restored),
            (None, Some(own)) => Some(ClusterIdentity { id: own.id, canonical_routing_from: self.next_shard_group_id }),
            (None, None) => None,
        };
        // Tasks are not restored: they referred to the old cluster's data nodes at work; the
        // planner plans afresh from the restored owners.
        self.tasks.clear();
        self.open_tasks = OpenTasks::default();
        self.journal.record(|c| c.everything = true);
        Ok(Response::Done)
    }

    /// Draining nodes that no longer own anything have finished draining: mark them removed.
    fn settle_draining<I: IntoIterator<Item = NodeId>>(&mut self, nodes: I) {
        for id in nodes {
            let idle = self.index.load(id) == 0;
            if let Some(node) = self.data_nodes.get_mut(&id) {
                if node.state == NodeState::Draining && idle {
                    node.state = NodeState::Removed;
                    self.journal.data_node(id);
                }
            }
        }
    }
}

/// The group `group_id`, looked up through the index. A free function so callers can hold the
/// index and the databases borrowed separately.
fn group_mut<'a>(
    databases: &'a mut BTreeMap<String, Database>,
    index: &Index,
    group_id: ShardGroupId,
) -> Option<&'a mut ShardGroup> {
    let (db, rp) = index.group_path.get(&group_id)?;
    databases.get_mut(db)?.retention_policies.get_mut(rp)?.shard_groups.get_mut(&group_id)
}

#[cfg(test)]
mod tests;
