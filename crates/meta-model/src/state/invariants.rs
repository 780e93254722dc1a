//! Properties every reachable [`MetaState`] has. Tests check them after every command; tools can
//! check a restored backup with them.

use std::collections::BTreeSet;

use super::MetaState;
use crate::index::{Index, OpenTasks};
use crate::model::node::NodeState;
use crate::model::task::TaskState;

impl MetaState {
    /// Checks the state's invariants, naming the first one broken:
    /// - every owner of a shard is a known, non-removed data node, listed once, owners sorted;
    /// - the accepting ranges of one policy's live groups never overlap, and `start < end`;
    /// - node, group and shard IDs are unique and below their counters (so never reused);
    /// - a database's default policy exists;
    /// - every shard marked unwritten exists;
    /// - a draining node still owns shards (one that owns none has finished draining);
    /// - every open copy task has a live shard, a member source, an active target
    ///   (an owner only when refilling it), a replaced node that still owns it, and no other open
    ///   task for the same copy; claimed tasks carry a lease and an attempt; task IDs are below
    ///   their counter;
    /// - the derived indexes match the canonical data.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.check_canonical_invariants()?;
        check(self.index == Index::build(&self.databases), || "derived index is stale".to_owned())?;
        check(self.open_tasks == OpenTasks::build(&self.tasks), || "open-task index is stale".to_owned())
    }

    /// [`MetaState::check_invariants`] but for the derived indexes: for a state whose indexes were
    /// just built from its canonical data (a decoded backup), where building them again to compare
    /// would only double the memory a restore needs (a second index of a million shards, ~80 MiB).
    pub(super) fn check_canonical_invariants(&self) -> Result<(), String> {
        self.check_copy_tasks()?;
        let mut node_ids = BTreeSet::new();
        for (&id, node) in &self.data_nodes {
            check(id == node.id, || format!("data node keyed {id} has id {}", node.id))?;
            check(id != 0 && id < self.next_node_id, || format!("data node id {id} not below counter"))?;
            node_ids.insert(id);
        }
        for (&id, node) in &self.meta_nodes {
            check(id == node.id, || format!("meta node keyed {id} has id {}", node.id))?;
            check(id != 0 && id < self.next_node_id, || format!("meta node id {id} not below counter"))?;
            check(node_ids.insert(id), || format!("node id {id} used by a meta and a data node"))?;
        }

        let mut group_ids = BTreeSet::new();
        let mut shard_ids = BTreeSet::new();
        for (db_name, db) in &self.databases {
            check(&db.name == db_name, || format!("database keyed {db_name} named {}", db.name))?;
            if let Some(default) = &db.default_retention_policy {
                check(db.retention_policies.contains_key(default), || {
                    format!("database {db_name} default policy {default} missing")
                })?;
            }
            for (rp_name, rp) in &db.retention_policies {
                check(&rp.name == rp_name, || format!("policy keyed {rp_name} named {}", rp.name))?;
                let mut ranges = Vec::new();
                for (&gid, group) in &rp.shard_groups {
                    check(gid == group.id, || format!("group keyed {gid} has id {}", group.id))?;
                    check(gid != 0 && gid < self.next_shard_group_id, || format!("group id {gid} not below counter"))?;
                    check(group_ids.insert(gid), || format!("group id {gid} used twice"))?;
                    check(group.start < group.end, || format!("group {gid} has start >= end"))?;
                    check(!group.shards.is_empty(), || format!("group {gid} has no shards"))?;
                    if !group.is_deleted() && group.start < group.effective_end() {
                        ranges.push((group.start, group.effective_end(), gid));
                    }
                    for shard in &group.shards {
                        let sid = shard.id;
                        check(sid != 0 && sid < self.next_shard_id, || format!("shard id {sid} not below counter"))?;
                        check(shard_ids.insert(sid), || format!("shard id {sid} used twice"))?;
                        check(shard.owners.windows(2).all(|w| w[0] < w[1]), || {
                            format!("shard {sid} owners not sorted and unique: {:?}", shard.owners)
                        })?;
                        for owner in &shard.owners {
                            let known = self.data_nodes.get(owner).is_some_and(|n| n.is_member());
                            check(known, || format!("shard {sid} owned by unknown or removed node {owner}"))?;
                        }
                    }
                }
                ranges.sort_unstable();
                for pair in ranges.windows(2) {
                    check(pair[0].1 <= pair[1].0, || {
                        format!("groups {} and {} of {db_name}.{rp_name} overlap", pair[0].2, pair[1].2)
                    })?;
                }
            }
        }

        if let Some(stray) = self.unwritten.difference(&shard_ids).next() {
            return Err(format!("shard {stray} is marked unwritten but is no shard"));
        }
        for node in self.data_nodes.values() {
            if node.state == NodeState::Draining {
                check(self.index.load(node.id) > 0, || format!("draining node {} owns no shards", node.id))?;
            }
        }
        Ok(())
    }

    fn check_copy_tasks(&self) -> Result<(), String> {
        let mut copies = BTreeSet::new();
        for (&id, task) in &self.tasks {
            check(id == task.id, || format!("task keyed {id} has id {}", task.id))?;
            check(id != 0 && id < self.next_task_id, || format!("task id {id} not below counter"))?;
            if task.state == TaskState::Claimed {
                check(task.lease_deadline.is_some() && task.attempt > 0, || format!("claimed task {id} has no lease"))?;
            }
            if !task.state.is_open() {
                continue;
            }
            if let Some(reason) = self.unsupported(task) {
                return Err(format!("open task {id} is unsupported: {reason:?}"));
            }
            let copy = (task.spec.shard_id, task.spec.target);
            check(copies.insert(copy), || format!("two open tasks copy shard {} to node {}", copy.0, copy.1))?;
        }
        Ok(())
    }
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(message())
    }
}
