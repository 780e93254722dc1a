//! Handlers for shard-group and shard-ownership commands.

use failure_domains::{DomainNumbers, Place};

use super::{group_mut, MetaState};
use crate::error::ApplyError;
use crate::model::node::NodeId;
use crate::model::shard_group::{Shard, ShardGroup, ShardGroupId, ShardId, Timestamp, MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::placement::{place_shards, Candidate};
use crate::response::Response;

/// Which live groups a truncation at `at` cuts. Log entries keep the rule they were written with,
/// so every replica, whatever its release, applies them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TruncationRule {
    /// Every group still accepting points at or after `at`, groups that start later included
    /// (`TruncateShardGroups`, `TruncateShardGroupsAfter`: the rule before release 0.1's
    /// lifecycle fix; a later group cut at its start left its range to a second group).
    StillAccepting,
    /// Only the groups whose range holds `at` (`TruncateHotShardGroups`): a group that starts at
    /// or after `at` already takes only later points, and is left alone.
    Holding,
}

impl MetaState {
    pub(super) fn create_shard_group(
        &mut self,
        database: &str,
        retention_policy: &str,
        timestamp: Timestamp,
    ) -> Result<Response, ApplyError> {
        check_timestamp(timestamp)?;
        self.policy_ref(database, retention_policy)?;
        let existing = self.live_group_containing(database, retention_policy, timestamp).cloned();
        let (group, created) = match existing {
            Some(group) => (group, false),
            None => (self.insert_group(database, retention_policy, timestamp)?, true),
        };
        Ok(Response::ShardGroup {
            database: database.to_owned(),
            retention_policy: retention_policy.to_owned(),
            group,
            created,
        })
    }

    pub(super) fn precreate_shard_groups(&mut self, from: Timestamp, to: Timestamp) -> Result<Response, ApplyError> {
        if from >= to {
            return Err(ApplyError::InvalidTimeRange { from, to });
        }
        if self.active_data_node_count() == 0 {
            return Ok(Response::ShardGroupIds(Vec::new()));
        }
        let mut due = Vec::new();
        for (db, database) in &self.databases {
            for (rp, policy) in &database.retention_policies {
                // Live groups with a range never overlap: the latest to start ends last.
                let newest_end = self
                    .index
                    .group_times(db, rp)
                    .rev()
                    .filter_map(|(_, id)| policy.shard_groups.get(&id))
                    .find(|g| accepts_points(g))
                    .map(ShardGroup::effective_end);
                if let Some(end) = newest_end.filter(|&end| from < end && end < to && end <= MAX_TIMESTAMP) {
                    due.push((db.clone(), rp.clone(), end));
                }
            }
        }
        let mut created = Vec::with_capacity(due.len());
        for (db, rp, at) in due {
            created.push(self.insert_group(&db, &rp, at)?.id);
        }
        Ok(Response::ShardGroupIds(created))
    }

    /// Truncates every live group that ends after `at`; returns their IDs.
    /// Truncates at `at` the live groups `rule` picks; the groups truncated.
    pub(super) fn truncated_groups(
        &mut self,
        at: Timestamp,
        rule: TruncationRule,
    ) -> Result<Vec<ShardGroupId>, ApplyError> {
        check_timestamp(at)?;
        let mut truncated = Vec::new();
        let groups = self
            .databases
            .values_mut()
            .flat_map(|d| d.retention_policies.values_mut())
            .flat_map(|p| p.shard_groups.values_mut());
        for group in groups {
            let end = group.effective_end();
            let picked = match rule {
                TruncationRule::StillAccepting => group.start < end && at < end,
                TruncationRule::Holding => group.start < at && at < end,
            };
            if !group.is_deleted() && picked {
                group.truncated_at = Some(at);
                truncated.push(group.id);
            }
        }
        truncated.sort_unstable();
        Ok(truncated)
    }

    pub(super) fn delete_expired_shard_groups(&mut self, now: Timestamp) -> Result<Response, ApplyError> {
        let mut deleted = Vec::new();
        // Policies that keep data forever have nothing to expire.
        let policies = self.databases.values_mut().flat_map(|d| d.retention_policies.values_mut());
        for policy in policies.filter(|p| p.duration != 0) {
            let due: Vec<ShardGroupId> =
                policy.live_groups().filter(|g| policy.is_expired(g, now)).map(|g| g.id).collect();
            for id in due {
                if let Some(group) = policy.shard_groups.get_mut(&id) {
                    group.deleted_at = Some(now);
                    deleted.push(id);
                    self.journal.shards(group.shards.iter().map(|s| s.id));
                }
            }
        }
        deleted.sort_unstable();
        Ok(Response::ShardGroupIds(deleted))
    }

    pub(super) fn prune_deleted_shard_groups(&mut self, before: Timestamp) -> Result<Response, ApplyError> {
        let mut pruned = Vec::new();
        for policy in self.databases.values_mut().flat_map(|d| d.retention_policies.values_mut()) {
            let due: Vec<ShardGroupId> = policy
                .shard_groups
                .values()
                .filter(|g| g.deleted_at.is_some_and(|d| d <= before))
                .map(|g| g.id)
                .collect();
            for id in due {
                if let Some(group) = policy.shard_groups.remove(&id) {
                    pruned.push(group);
                }
            }
        }
        let mut owners = Vec::new();
        for group in &pruned {
            owners.extend(group.shards.iter().flat_map(|s| s.owners.iter().copied()));
            self.forget_group(group);
        }
        self.settle_draining(owners);
        let mut ids: Vec<_> = pruned.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        Ok(Response::ShardGroupIds(ids))
    }

    pub(super) fn add_shard_owner(&mut self, shard_id: ShardId, node_id: NodeId) -> Result<Response, ApplyError> {
        let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        if view.group.is_deleted() {
            return Err(ApplyError::ShardGroupDeleted { shard_group_id: view.group.id });
        }
        let node = self.data_nodes.get(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
        if !node.is_active() {
            return Err(ApplyError::DataNodeNotActive { node_id, state: node.state });
        }
        if view.shard.owners.contains(&node_id) {
            return Err(ApplyError::ShardOwnerExists { shard_id, node_id });
        }
        self.insert_owner(view.group.id, shard_id, node_id);
        Ok(Response::Done)
    }

    pub(super) fn remove_shard_owner(&mut self, shard_id: ShardId, node_id: NodeId) -> Result<Response, ApplyError> {
        let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        if !view.shard.owners.contains(&node_id) {
            return Err(ApplyError::NotShardOwner { shard_id, node_id });
        }
        self.drop_owner(view.group.id, shard_id, node_id);
        self.settle_draining([node_id]);
        Ok(Response::Done)
    }

    pub(super) fn drop_shard(&mut self, shard_id: ShardId) -> Result<Response, ApplyError> {
        let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        let owners = view.shard.owners.clone();
        let group_id = view.group.id;
        let (database, policy) = (view.database.to_owned(), view.retention_policy.name.clone());
        let now_empty = match group_mut(&mut self.databases, &self.index, group_id) {
            Some(group) => {
                group.shards.retain(|s| s.id != shard_id);
                group.shards.is_empty()
            }
            None => false,
        };
        self.index.remove_shard(shard_id, &owners);
        self.unwritten.remove(&shard_id);
        self.journal.shards([shard_id]);
        if now_empty {
            // A group without shards could take no writes: forget it, and a new one is created
            // for the next point in its range.
            let removed = self
                .databases
                .get_mut(&database)
                .and_then(|d| d.retention_policies.get_mut(&policy))
                .and_then(|p| p.shard_groups.remove(&group_id));
            if let Some(group) = removed {
                self.forget_group(&group);
            }
        }
        self.settle_draining(owners);
        Ok(Response::Done)
    }

    /// Creates the group covering `timestamp` (no live group may cover it) and places its shards:
    /// on the data nodes the leader judged live when it stamped the command, while there are at
    /// least as many as the replication factor; on every active node when the command carries no
    /// live view (the leader's grace period, or an entry written before placement used liveness).
    fn insert_group(
        &mut self,
        database: &str,
        retention_policy: &str,
        timestamp: Timestamp,
    ) -> Result<ShardGroup, ApplyError> {
        let policy = self.policy_ref(database, retention_policy)?;
        let (before, after) = self.index.groups_around(database, retention_policy, timestamp);
        let live = |id| policy.shard_groups.get(&id).filter(|g| accepts_points(g));
        let previous_end = before.filter_map(live).next().map(ShardGroup::effective_end);
        let next_start = after.filter_map(live).next().map(|g| g.start);
        let (start, end) = new_group_range(previous_end, next_start, timestamp, policy.shard_group_duration);
        let replicas = usize::try_from(policy.replication_factor).unwrap_or(usize::MAX).max(1);
        let levels = &self.placement.failure_domains;
        let mut numbers = DomainNumbers::new(levels.len());
        let candidates: Vec<Candidate> = self
            .data_nodes
            .values()
            .filter(|n| n.is_active())
            .map(|n| Candidate {
                id: n.id,
                place: numbers.place(levels.iter().map(|key| n.labels.get(key).map(String::as_str))),
                load: self.index.load(n.id),
            })
            .collect();
        if candidates.is_empty() {
            return Err(ApplyError::NoActiveDataNodes);
        }
        // The group's shape follows the active nodes, so a node being down for a while does not
        // change how many shards a group has; who owns them follows liveness.
        let shard_count = (candidates.len() / replicas).max(1);
        let live = self.facts.0.as_ref().and_then(|facts| facts.live_data_nodes.as_ref());
        let (mut up, mut down): (Vec<_>, Vec<_>) =
            candidates.into_iter().partition(|c| live.is_none_or(|live| live.contains(&c.id)));
        let mut placements = place_shards(&mut up, levels.len(), shard_count, replicas, &[]);
        // Too few live nodes for every copy: the rest go to active nodes that are down now (their
        // copies arrive by hinted handoff or repair), never fewer owners than the policy asks,
        // spread away from the live owners each shard got.
        let missing = replicas.saturating_sub(up.len());
        if missing > 0 && !down.is_empty() {
            let kept: Vec<Vec<Place>> = placements
                .iter()
                .map(|owners| up.iter().filter(|c| owners.contains(&c.id)).map(|c| c.place).collect())
                .collect();
            let more = place_shards(&mut down, levels.len(), shard_count, missing, &kept);
            for (owners, more) in placements.iter_mut().zip(more) {
                owners.extend(more);
                owners.sort_unstable();
            }
        }
        let first_shard = self.next_shard_id;
        let group = ShardGroup {
            id: self.next_shard_group_id,
            start,
            end,
            truncated_at: None,
            deleted_at: None,
            shards: (first_shard..).zip(placements).map(|(id, owners)| Shard { id, owners }).collect(),
        };
        let policy =
            self.databases.get_mut(database).and_then(|d| d.retention_policies.get_mut(retention_policy)).ok_or_else(
                || ApplyError::RetentionPolicyNotFound {
                    database: database.to_owned(),
                    retention_policy: retention_policy.to_owned(),
                },
            )?;
        policy.shard_groups.insert(group.id, group.clone());
        self.next_shard_group_id += 1;
        self.next_shard_id += group.shards.len() as u64;
        self.index.insert_group(database, retention_policy, &group);
        self.unwritten.extend(group.shards.iter().map(|s| s.id));
        self.journal.shards(group.shards.iter().map(|s| s.id));
        Ok(group)
    }

    /// Forgets a group that left the metadata (pruned, dropped with its policy, emptied): its
    /// shards leave the index and the unwritten set.
    pub(super) fn forget_group(&mut self, group: &ShardGroup) {
        self.index.remove_group(group);
        for shard in &group.shards {
            self.unwritten.remove(&shard.id);
        }
        self.journal.shards(group.shards.iter().map(|s| s.id));
    }

    /// `MarkShardsWritten`: the shards may hold data from now on. Every shard must exist in a
    /// live group (a write into a deleted group is refused anyway); marking again is a no-op.
    pub(super) fn mark_shards_written(&mut self, shard_ids: &[ShardId]) -> Result<Response, ApplyError> {
        for &shard_id in shard_ids {
            let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
            if view.group.is_deleted() {
                return Err(ApplyError::ShardGroupDeleted { shard_group_id: view.group.id });
            }
        }
        let newly: Vec<ShardId> = shard_ids.iter().copied().filter(|id| self.unwritten.remove(id)).collect();
        self.journal.record(|c| {
            c.shards.extend(newly.iter().copied());
            c.shards_written.extend(newly.iter().copied());
        });
        Ok(Response::Done)
    }

    /// `ReassignUnwrittenShard`: moves a never-written shard from owners that cannot take its
    /// writes to others by a metadata change alone (there is nothing to copy). Refused once the
    /// shard is marked written: from then on only a copy may give it a new owner.
    pub(super) fn reassign_unwritten_shard(
        &mut self,
        shard_id: ShardId,
        drop: &[NodeId],
        add: &[NodeId],
    ) -> Result<Response, ApplyError> {
        let view = self.shard(shard_id).ok_or(ApplyError::ShardNotFound { shard_id })?;
        if view.group.is_deleted() {
            return Err(ApplyError::ShardGroupDeleted { shard_group_id: view.group.id });
        }
        if !self.unwritten.contains(&shard_id) {
            return Err(ApplyError::ShardWritten { shard_id });
        }
        let group_id = view.group.id;
        if let Some(&node_id) = drop.iter().find(|n| !view.shard.owners.contains(n)) {
            return Err(ApplyError::NotShardOwner { shard_id, node_id });
        }
        for (i, &node_id) in add.iter().enumerate() {
            let node = self.data_nodes.get(&node_id).ok_or(ApplyError::DataNodeNotFound { node_id })?;
            if !node.is_active() {
                return Err(ApplyError::DataNodeNotActive { node_id, state: node.state });
            }
            let stays = view.shard.owners.contains(&node_id) && !drop.contains(&node_id);
            if stays || add[..i].contains(&node_id) {
                return Err(ApplyError::ShardOwnerExists { shard_id, node_id });
            }
        }
        for &node_id in add {
            self.insert_owner(group_id, shard_id, node_id);
        }
        for &node_id in drop.iter().filter(|n| !add.contains(n)) {
            self.drop_owner(group_id, shard_id, node_id);
        }
        self.settle_draining(drop.iter().copied());
        Ok(Response::Done)
    }

    /// Makes `node_id` an owner of the shard (owners stay sorted) and indexes it.
    pub(super) fn insert_owner(&mut self, group_id: ShardGroupId, shard_id: ShardId, node_id: NodeId) {
        if let Some(shard) = self.shard_mut(group_id, shard_id) {
            if let Err(at) = shard.owners.binary_search(&node_id) {
                shard.owners.insert(at, node_id);
            }
        }
        self.index.add_owner(node_id, shard_id);
        self.journal.shards([shard_id]);
    }

    /// Stops `node_id` owning the shard and unindexes it.
    pub(super) fn drop_owner(&mut self, group_id: ShardGroupId, shard_id: ShardId, node_id: NodeId) {
        if let Some(shard) = self.shard_mut(group_id, shard_id) {
            shard.owners.retain(|&o| o != node_id);
        }
        self.index.remove_owner(node_id, shard_id);
        self.journal.shards([shard_id]);
    }

    fn shard_mut(&mut self, group_id: ShardGroupId, shard_id: ShardId) -> Option<&mut Shard> {
        group_mut(&mut self.databases, &self.index, group_id)?.shards.iter_mut().find(|s| s.id == shard_id)
    }
}

impl MetaState {
    /// The live shard group of a policy whose accepting range holds `t`, found through the
    /// policy's time index: the latest live group starting at or before `t` either holds it or
    /// ends before it (live ranges never overlap).
    pub fn live_group_containing(&self, database: &str, retention_policy: &str, t: Timestamp) -> Option<&ShardGroup> {
        let policy = self.retention_policy(database, retention_policy)?;
        let (before, _) = self.index.groups_around(database, retention_policy, t);
        let latest = before.filter_map(|id| policy.shard_groups.get(&id)).find(|g| accepts_points(g))?;
        latest.contains(t).then_some(latest)
    }
}

/// Whether a group takes points at all: not deleted, and not truncated to nothing.
fn accepts_points(group: &ShardGroup) -> bool {
    !group.is_deleted() && group.start < group.effective_end()
}

fn check_timestamp(timestamp: Timestamp) -> Result<(), ApplyError> {
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&timestamp) {
        Ok(())
    } else {
        Err(ApplyError::InvalidTimestamp { timestamp })
    }
}

/// The range of a new group for `t`: the `duration`-aligned window containing `t`, shrunk so it
/// starts no earlier than `previous_end` (the end of the live group before `t`) and ends no later
/// than `next_start` (the start of the live group after it). The result always contains `t`.
fn new_group_range(
    previous_end: Option<Timestamp>,
    next_start: Option<Timestamp>,
    t: Timestamp,
    duration: u64,
) -> (Timestamp, Timestamp) {
    let d = i128::from(duration.max(1));
    let aligned = i128::from(t).div_euclid(d) * d;
    // After clamping both values fit in i64: MIN_TIMESTAMP <= start <= t < end <= i64::MAX.
    let start = aligned.clamp(i128::from(MIN_TIMESTAMP), i128::from(t)) as i64;
    let end = (aligned + d).clamp(i128::from(t) + 1, i128::from(i64::MAX)) as i64;
    (previous_end.map_or(start, |e| start.max(e)), next_start.map_or(end, |s| end.min(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::duration::HOUR;

    #[test]
    fn range_is_the_aligned_window() {
        let h = HOUR as i64;
        assert_eq!(new_group_range(None, None, 90 * 60 * 1_000_000_000, HOUR), (h, 2 * h));
        assert_eq!(new_group_range(None, None, -1, HOUR), (-h, 0));
        assert_eq!(new_group_range(None, None, 0, HOUR), (0, h));
    }

    #[test]
    fn range_starts_after_the_previous_group_and_ends_before_the_next() {
        let h = HOUR as i64;
        assert_eq!(new_group_range(Some(h / 2), None, h / 2, HOUR), (h / 2, h));
        assert_eq!(new_group_range(None, Some(h / 2), 10, HOUR), (0, h / 2));
        assert_eq!(new_group_range(Some(-h), Some(2 * h), 10, HOUR), (0, h), "neighbours outside the window");
    }

    #[test]
    fn range_at_the_edges_of_time() {
        let (start, end) = new_group_range(None, None, MAX_TIMESTAMP, HOUR);
        assert!(start <= MAX_TIMESTAMP && MAX_TIMESTAMP < end);
        let (start, end) = new_group_range(None, None, MIN_TIMESTAMP, HOUR);
        assert!(start == MIN_TIMESTAMP && MIN_TIMESTAMP < end);
    }
}
