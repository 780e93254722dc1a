//! Lookups derived from the canonical metadata: never persisted, rebuilt when a state is loaded.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::database::Database;
use crate::model::node::NodeId;
use crate::model::shard_group::{ShardGroup, ShardGroupId, ShardId, Timestamp};
use crate::model::task::{Task, TaskId};

/// Where shards and groups live, and which shards each node owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    /// The group holding each shard.
    pub(crate) shard_group: BTreeMap<ShardId, ShardGroupId>,
    /// The database and retention policy of each group.
    pub(crate) group_path: BTreeMap<ShardGroupId, (String, String)>,
    /// The shards each data node owns (in live and deleted groups alike).
    pub(crate) node_shards: BTreeMap<NodeId, BTreeSet<ShardId>>,
    /// Each policy's groups by start time (database, then policy): truncated and deleted groups
    /// included, so a lookup by time walks no more than the groups around that time.
    pub(crate) group_times: BTreeMap<String, BTreeMap<String, BTreeSet<(Timestamp, ShardGroupId)>>>,
}

impl Index {
    /// Builds the index of a whole set of databases.
    pub(crate) fn build(databases: &BTreeMap<String, Database>) -> Self {
        let mut index = Index::default();
        for (db, database) in databases {
            for (rp, policy) in &database.retention_policies {
                for group in policy.shard_groups.values() {
                    index.insert_group(db, rp, group);
                }
            }
        }
        index
    }

    /// Records a new group with its shards and owners.
    pub(crate) fn insert_group(&mut self, db: &str, rp: &str, group: &ShardGroup) {
        self.group_path.insert(group.id, (db.to_owned(), rp.to_owned()));
        let times = self.group_times.entry(db.to_owned()).or_default().entry(rp.to_owned()).or_default();
        times.insert((group.start, group.id));
        for shard in &group.shards {
            self.shard_group.insert(shard.id, group.id);
            for &owner in &shard.owners {
                self.add_owner(owner, shard.id);
            }
        }
    }

    /// Forgets a group, its shards and their ownership.
    pub(crate) fn remove_group(&mut self, group: &ShardGroup) {
        if let Some((db, rp)) = self.group_path.remove(&group.id) {
            if let Some(policies) = self.group_times.get_mut(&db) {
                if let Some(times) = policies.get_mut(&rp) {
                    times.remove(&(group.start, group.id));
                    if times.is_empty() {
                        policies.remove(&rp);
                    }
                }
                if policies.is_empty() {
                    self.group_times.remove(&db);
                }
            }
        }
        for shard in &group.shards {
            self.remove_shard(shard.id, &shard.owners);
        }
    }

    /// Forgets one shard and its ownership.
    pub(crate) fn remove_shard(&mut self, shard_id: ShardId, owners: &[NodeId]) {
        self.shard_group.remove(&shard_id);
        for &owner in owners {
            self.remove_owner(owner, shard_id);
        }
    }

    /// Records that `node` owns `shard`.
    pub(crate) fn add_owner(&mut self, node: NodeId, shard: ShardId) {
        self.node_shards.entry(node).or_default().insert(shard);
    }

    /// Records that `node` no longer owns `shard`.
    pub(crate) fn remove_owner(&mut self, node: NodeId, shard: ShardId) {
        if let Some(shards) = self.node_shards.get_mut(&node) {
            shards.remove(&shard);
            if shards.is_empty() {
                self.node_shards.remove(&node);
            }
        }
    }

    /// The groups of a policy by start time (empty when it has none).
    pub(crate) fn group_times(
        &self,
        db: &str,
        rp: &str,
    ) -> impl DoubleEndedIterator<Item = (Timestamp, ShardGroupId)> + '_ {
        self.group_times.get(db).and_then(|p| p.get(rp)).into_iter().flatten().copied()
    }

    /// The groups of a policy starting at or before `t`, latest first, and those starting after
    /// it, earliest first.
    pub(crate) fn groups_around(
        &self,
        db: &str,
        rp: &str,
        t: Timestamp,
    ) -> (impl Iterator<Item = ShardGroupId> + '_, impl Iterator<Item = ShardGroupId> + '_) {
        let times = self.group_times.get(db).and_then(|p| p.get(rp));
        let before = times.into_iter().flat_map(move |s| s.range(..=(t, ShardGroupId::MAX)).rev().map(|&(_, id)| id));
        let after = times
            .into_iter()
            .flat_map(move |s| s.range((t.saturating_add(1), 0)..).map(|&(_, id)| id))
            .filter(move |_| t < Timestamp::MAX);
        (before, after)
    }

    /// How many shards `node` owns.
    pub(crate) fn load(&self, node: NodeId) -> usize {
        self.node_shards.get(&node).map_or(0, BTreeSet::len)
    }
}

/// The open (pending or claimed) copy tasks, by copy and by target: what creating and claiming
/// tasks look up, so neither scans every task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OpenTasks {
    /// The open task copying a shard to a target.
    pub(crate) by_copy: BTreeMap<(ShardId, NodeId), TaskId>,
    /// The open tasks each node is the target of.
    pub(crate) by_target: BTreeMap<NodeId, BTreeSet<TaskId>>,
}

impl OpenTasks {
    /// Builds the index of a set of tasks.
    pub(crate) fn build(tasks: &BTreeMap<TaskId, Task>) -> Self {
        let mut open = OpenTasks::default();
        for task in tasks.values().filter(|t| t.state.is_open()) {
            open.insert(task);
        }
        open
    }

    /// Records an open task.
    pub(crate) fn insert(&mut self, task: &Task) {
        self.by_copy.insert((task.spec.shard_id, task.spec.target), task.id);
        self.by_target.entry(task.spec.target).or_default().insert(task.id);
    }

    /// Forgets a task that is no longer open.
    pub(crate) fn remove(&mut self, task: &Task) {
        self.by_copy.remove(&(task.spec.shard_id, task.spec.target));
        if let Some(ids) = self.by_target.get_mut(&task.spec.target) {
            ids.remove(&task.id);
            if ids.is_empty() {
                self.by_target.remove(&task.spec.target);
            }
        }
    }
}
