//! [`Changes`]: what applying commands touched, for the services that act on the metadata (the
//! leader's anti-entropy service plans exactly the shards a command touched instead of diffing the
//! whole state on a timer).
//!
//! Recording is part of `apply` and as deterministic as it: the same commands on the same state
//! touch the same things on every replica. It costs nothing unless asked for
//! ([`crate::MetaState::apply_tracked`]).

use std::collections::BTreeSet;

use crate::model::node::NodeId;
use crate::model::shard_group::ShardId;
use crate::transient::Transient;

/// What one or more applied commands touched. A rejected command touches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Anything may have changed (a backup restored, a snapshot installed): look at everything.
    pub everything: bool,
    /// Shards created, dropped or deleted, whose owners or replication factor changed, or one of
    /// whose copy tasks finished or was superseded.
    pub shards: BTreeSet<ShardId>,
    /// Data nodes added, re-addressed, relabelled, drained or removed.
    pub data_nodes: BTreeSet<NodeId>,
    /// `(shard, target)` of every copy completed: the target holds the shard as of this change.
    pub copies_completed: Vec<(ShardId, NodeId)>,
    /// `(shard, source, target)` of every repair completed: both copies changed, so the content
    /// roots they reported before are stale.
    pub repairs_completed: Vec<(ShardId, NodeId, NodeId)>,
    /// A copy task became claimable: created, or offered again (lease expired, retry scheduled).
    pub tasks_offered: bool,
    /// A copy task finished (done, failed, cancelled): the slots it held are free.
    pub tasks_finished: bool,
    /// Shards marked written for the first time: their owners hold data from now on, though
    /// their inventories may not say so yet.
    pub shards_written: Vec<ShardId>,
}

impl Changes {
    /// Changes that ask for a look at everything.
    pub fn everything() -> Self {
        Changes { everything: true, ..Changes::default() }
    }

    /// Whether nothing was touched.
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// Adds `other` to these changes.
    pub fn merge(&mut self, other: Changes) {
        self.everything |= other.everything;
        self.shards.extend(other.shards);
        self.data_nodes.extend(other.data_nodes);
        self.copies_completed.extend(other.copies_completed);
        self.repairs_completed.extend(other.repairs_completed);
        self.tasks_offered |= other.tasks_offered;
        self.tasks_finished |= other.tasks_finished;
        self.shards_written.extend(other.shards_written);
    }
}

/// Where `apply` records what it touches while a caller tracks changes: derived data, like the
/// index.
pub(crate) type Journal = Transient<Changes>;

impl Journal {
    /// Starts recording.
    pub(crate) fn start(&mut self) {
        self.0 = Some(Changes::default());
    }

    /// Stops recording and returns what was recorded.
    pub(crate) fn finish(&mut self) -> Changes {
        self.0.take().unwrap_or_default()
    }

    /// Records into the changes, if someone is tracking them.
    pub(crate) fn record(&mut self, note: impl FnOnce(&mut Changes)) {
        if let Some(changes) = &mut self.0 {
            note(changes);
        }
    }

    /// Records touched shards.
    pub(crate) fn shards(&mut self, shards: impl IntoIterator<Item = ShardId>) {
        self.record(|c| c.shards.extend(shards));
    }

    /// Records a touched data node.
    pub(crate) fn data_node(&mut self, node: NodeId) {
        self.record(|c| {
            c.data_nodes.insert(node);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_unions_every_part() {
        let mut a = Changes { shards: [1, 2].into(), tasks_offered: true, ..Changes::default() };
        let b = Changes {
            shards: [2, 3].into(),
            data_nodes: [7].into(),
            copies_completed: vec![(3, 7)],
            repairs_completed: vec![(3, 7, 8)],
            tasks_finished: true,
            ..Changes::default()
        };
        a.merge(b);
        assert_eq!(a.shards, [1, 2, 3].into());
        assert_eq!(a.data_nodes, [7].into());
        assert_eq!((&a.copies_completed, &a.repairs_completed), (&vec![(3, 7)], &vec![(3, 7, 8)]));
        assert!(a.tasks_offered && a.tasks_finished && !a.everything);
        assert!(!a.is_empty() && Changes::default().is_empty());
    }

    #[test]
    fn a_journal_records_only_while_started_and_is_not_state() {
        let mut journal = Journal::default();
        journal.shards([1]);
        assert!(journal.finish().is_empty(), "nothing recorded before start");
        journal.start();
        journal.shards([4, 5]);
        journal.data_node(9);
        assert_eq!(journal.clone(), Journal::default(), "journals never make states differ");
        let changes = journal.finish();
        assert_eq!((changes.shards, changes.data_nodes), ([4, 5].into(), [9].into()));
    }
}
