//! [`WrittenMarks`]: the written mark of many shards in a row without a set lookup each.

use std::collections::btree_set::Range;
use std::collections::BTreeSet;
use std::iter::Peekable;

use crate::model::shard_group::ShardId;

/// Answers [`MetaState::is_written`](super::MetaState::is_written) for a sequence of shards by
/// walking the set of never-written shards alongside them: a run of ascending IDs (the shards of
/// a group, the groups of a policy in the order they were created) costs one step per ID plus one
/// per never-written shard passed; an ID below the previous one starts a new walk (one `log n`
/// search). Any order gives the same answers as the lookup, only slower.
#[derive(Debug)]
pub struct WrittenMarks<'s> {
    unwritten: &'s BTreeSet<ShardId>,
    /// The never-written shards from the last ID asked for on, and that ID.
    ahead: Option<(ShardId, Peekable<Range<'s, ShardId>>)>,
}

impl<'s> WrittenMarks<'s> {
    pub(super) fn new(unwritten: &'s BTreeSet<ShardId>) -> Self {
        WrittenMarks { unwritten, ahead: None }
    }

    /// Whether shard `id` may hold data (see [`MetaState::is_written`](super::MetaState::is_written)).
    pub fn is_written(&mut self, id: ShardId) -> bool {
        if self.unwritten.is_empty() {
            return true;
        }
        if !matches!(&self.ahead, Some((last, _)) if *last <= id) {
            self.ahead = Some((id, self.unwritten.range(id..).peekable()));
        }
        let Some((last, ahead)) = &mut self.ahead else { return !self.unwritten.contains(&id) };
        *last = id;
        while ahead.next_if(|&&unwritten| unwritten < id).is_some() {}
        ahead.peek().is_none_or(|&&unwritten| unwritten != id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the set and the order of the questions: the answers of the lookup.
        #[test]
        fn answers_as_the_lookup_does(
            unwritten in proptest::collection::btree_set(0u64..200, 0..80),
            asked in proptest::collection::vec(0u64..220, 0..300),
        ) {
            let mut marks = WrittenMarks::new(&unwritten);
            for id in asked {
                prop_assert_eq!(marks.is_written(id), !unwritten.contains(&id), "shard {}", id);
            }
        }

        /// Ascending runs with repeats and jumps back, as groups of several policies give.
        #[test]
        fn answers_runs_of_ascending_ids(
            unwritten in proptest::collection::btree_set(0u64..500, 0..200),
            runs in proptest::collection::vec((0u64..500, 1u64..40), 0..20),
        ) {
            let mut marks = WrittenMarks::new(&unwritten);
            for (start, len) in runs {
                for id in (start..start + len).chain([start + len - 1]) {
                    prop_assert_eq!(marks.is_written(id), !unwritten.contains(&id), "shard {}", id);
                }
            }
        }
    }

    #[test]
    fn a_table_of_walks() {
        let unwritten: BTreeSet<ShardId> = [3, 4, 9].into();
        let mut marks = WrittenMarks::new(&unwritten);
        let asked =
            [(1, true), (3, false), (4, false), (5, true), (9, false), (9, false), (4, false), (2, true), (10, true)];
        for (id, written) in asked {
            assert_eq!(marks.is_written(id), written, "shard {id}");
        }
        let none = BTreeSet::new();
        assert!(WrittenMarks::new(&none).is_written(3));
    }
}
