//! Existing copy tasks grouped by shard, so the shard scan finds a shard's tasks with one lookup.

use std::ops::Range;

use crate::id_hash::IdMap;
use crate::input::{ShardId, TaskView};

/// The input's tasks, grouped by shard; within a group, by task ID.
#[derive(Debug)]
pub(crate) struct TaskIndex<'a> {
    tasks: Vec<&'a TaskView>,
    ranges: Vec<Range<usize>>,
    groups: IdMap<ShardId, u32>,
}

impl<'a> TaskIndex<'a> {
    /// Groups `tasks` by shard.
    pub(crate) fn new(tasks: &'a [TaskView]) -> Self {
        let mut sorted: Vec<&TaskView> = tasks.iter().collect();
        sorted.sort_by_key(|t| (t.shard, t.id));
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let mut groups = IdMap::default();
        for (i, task) in sorted.iter().enumerate() {
            match ranges.last_mut() {
                Some(range) if sorted[range.start].shard == task.shard => range.end = i + 1,
                _ => {
                    groups.insert(task.shard, ranges.len() as u32);
                    ranges.push(i..i + 1);
                }
            }
        }
        TaskIndex { tasks: sorted, ranges, groups }
    }

    /// Number of groups (shards with at least one task).
    pub(crate) fn group_count(&self) -> usize {
        self.ranges.len()
    }

    /// The group of `shard`'s tasks, if it has any.
    #[inline]
    pub(crate) fn group_of(&self, shard: ShardId) -> Option<u32> {
        if self.ranges.is_empty() {
            None
        } else {
            self.groups.get(&shard).copied()
        }
    }

    /// The tasks of group `group`, by task ID.
    pub(crate) fn tasks(&self, group: u32) -> &[&'a TaskView] {
        &self.tasks[self.ranges[group as usize].clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{TaskKind, TaskState};

    #[test]
    fn groups_by_shard_then_task_id() {
        let task = |id, shard| TaskView {
            id,
            kind: TaskKind::Copy,
            shard,
            source: 1,
            target: 2,
            replaces: None,
            state: TaskState::Pending,
        };
        let tasks = [task(5, 20), task(3, 10), task(1, 20), task(9, 10)];
        let index = TaskIndex::new(&tasks);
        assert_eq!(index.group_count(), 2);
        let ids = |shard| index.tasks(index.group_of(shard).expect("grouped")).iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(10), vec![3, 9]);
        assert_eq!(ids(20), vec![1, 5]);
        assert_eq!(index.group_of(30), None);
    }
}
