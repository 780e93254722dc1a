//! A node's reported shard copies as sorted columns: cheap to walk in shard order.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::ShardId;

/// One copy of a shard as a node reports it.
///
/// Copies count whether hot or cold; the content roots of cold copies tell whether owners hold
/// the same points (a shard whose online owners' cold roots differ is reported inconsistent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardCopy {
    /// Bytes on disk.
    pub size: u64,
    /// Content digest as the node computed it.
    pub checksum: u64,
    /// Whether the shard still receives writes.
    pub hot: bool,
    /// Root of the copy's content tree, sent once the copy is cold (no write for the data
    /// node's `--cold-after`): equal roots, equal point sets.
    #[serde(default)]
    pub content: Option<u64>,
    /// Distinct points of a cold copy (0 when not reported): how far apart differing copies are.
    #[serde(default)]
    pub points: u64,
}

/// A map from shard ID to [`ShardCopy`], stored as sorted columns; the read API of a `HashMap`.
///
/// Why not a hash map: a full plan looks up every owner of a million shards. With the shards
/// visited in ID order, each node's lookups walk its sorted IDs forward (8 bytes per copy,
/// streamed), instead of missing the cache at a random bucket per lookup.
///
/// Cloning is O(1): the columns are shared and copied on the first write to a clone, so the
/// leader hands its held inventories to every planning round without copying them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "BTreeMap<ShardId, ShardCopy>")]
pub struct ShardMap {
    ids: Arc<Vec<ShardId>>,
    copies: Arc<Vec<ShardCopy>>,
}

impl ShardMap {
    /// An empty map.
    pub fn new() -> Self {
        ShardMap::default()
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `shard` is in the map.
    pub fn contains_key(&self, shard: &ShardId) -> bool {
        self.ids.binary_search(shard).is_ok()
    }

    /// The copy of `shard`, if any.
    pub fn get(&self, shard: &ShardId) -> Option<&ShardCopy> {
        self.ids.binary_search(shard).ok().map(|i| &self.copies[i])
    }

    /// Adds or replaces the copy of `shard`, returning the one it replaces. Appending in ascending
    /// order is cheap; inserting in the middle shifts the columns (collect instead).
    pub fn insert(&mut self, shard: ShardId, copy: ShardCopy) -> Option<ShardCopy> {
        match self.ids.binary_search(&shard) {
            Ok(i) => Some(std::mem::replace(&mut Arc::make_mut(&mut self.copies)[i], copy)),
            Err(i) => {
                Arc::make_mut(&mut self.ids).insert(i, shard);
                Arc::make_mut(&mut self.copies).insert(i, copy);
                None
            }
        }
    }

    /// The shard IDs, ascending.
    pub fn keys(&self) -> std::slice::Iter<'_, ShardId> {
        self.ids.iter()
    }

    /// The copies, by shard ID.
    pub fn values(&self) -> std::slice::Iter<'_, ShardCopy> {
        self.copies.iter()
    }

    /// The `(shard, copy)` pairs, by shard ID.
    pub fn iter(&self) -> std::iter::Zip<std::slice::Iter<'_, ShardId>, std::slice::Iter<'_, ShardCopy>> {
        self.ids.iter().zip(self.copies.iter())
    }

    /// The copy of `shard`, searching forward from `*cursor` (gallop, then bisect) and leaving the
    /// cursor just past it. Lookups in ascending order thus walk the IDs once; a lookup behind the
    /// cursor searches from the start, so any order still gets the right answer.
    #[inline]
    pub(crate) fn get_from(&self, cursor: &mut usize, shard: ShardId) -> Option<&ShardCopy> {
        let ids = &self.ids;
        let start = (*cursor).min(ids.len());
        let start = if start > 0 && ids[start - 1] >= shard { 0 } else { start };
        let (mut low, mut high, mut step) = (start, start, 1);
        while high < ids.len() && ids[high] < shard {
            low = high + 1;
            high += step;
            step *= 2;
        }
        let high = high.min(ids.len());
        let position = low + ids[low..high].partition_point(|&id| id < shard);
        let found = position < ids.len() && ids[position] == shard;
        *cursor = position + usize::from(found);
        found.then(|| &self.copies[position])
    }
}

impl FromIterator<(ShardId, ShardCopy)> for ShardMap {
    /// Collects pairs in any order; of two copies of the same shard, the last one wins.
    fn from_iter<I: IntoIterator<Item = (ShardId, ShardCopy)>>(iter: I) -> Self {
        let mut pairs: Vec<(ShardId, ShardCopy)> = iter.into_iter().collect();
        pairs.sort_by_key(|&(id, _)| id); // Stable: equal IDs keep their order.
        let (mut ids, mut copies): (Vec<ShardId>, Vec<ShardCopy>) =
            (Vec::with_capacity(pairs.len()), Vec::with_capacity(pairs.len()));
        for (id, copy) in pairs {
            if ids.last() == Some(&id) {
                ids.pop();
                copies.pop();
            }
            ids.push(id);
            copies.push(copy);
        }
        ShardMap { ids: Arc::new(ids), copies: Arc::new(copies) }
    }
}

impl From<BTreeMap<ShardId, ShardCopy>> for ShardMap {
    fn from(map: BTreeMap<ShardId, ShardCopy>) -> Self {
        let (ids, copies): (Vec<ShardId>, Vec<ShardCopy>) = map.into_iter().unzip();
        ShardMap { ids: Arc::new(ids), copies: Arc::new(copies) }
    }
}

impl Serialize for ShardMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'a> IntoIterator for &'a ShardMap {
    type Item = (&'a ShardId, &'a ShardCopy);
    type IntoIter = std::iter::Zip<std::slice::Iter<'a, ShardId>, std::slice::Iter<'a, ShardCopy>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(checksum: u64) -> ShardCopy {
        ShardCopy { size: 1, checksum, hot: false, content: None, points: 0 }
    }

    #[test]
    fn collects_in_any_order_and_the_last_duplicate_wins() {
        let map: ShardMap = [(5, copy(1)), (2, copy(2)), (5, copy(3))].into_iter().collect();
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), vec![2, 5]);
        assert_eq!(map.get(&5), Some(&copy(3)));
        assert!(map.contains_key(&2) && !map.contains_key(&3));
    }

    #[test]
    fn insert_keeps_the_order() {
        let mut map = ShardMap::new();
        assert_eq!(map.insert(9, copy(1)), None);
        assert_eq!(map.insert(4, copy(2)), None);
        assert_eq!(map.insert(9, copy(3)), Some(copy(1)));
        assert_eq!(map.iter().map(|(&id, c)| (id, c.checksum)).collect::<Vec<_>>(), vec![(4, 2), (9, 3)]);
        assert_eq!((map.len(), map.is_empty()), (2, false));
    }

    #[test]
    fn a_clone_is_shared_until_written() {
        let original: ShardMap = [(1, copy(1))].into_iter().collect();
        let mut clone = original.clone();
        assert!(Arc::ptr_eq(&original.ids, &clone.ids), "cloning copies nothing");
        clone.insert(2, copy(2));
        assert_eq!(original.len(), 1, "writing to a clone leaves the original alone");
        assert_eq!(clone.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn cursor_lookups_agree_with_plain_lookups_in_any_order() {
        let map: ShardMap = (0..200u64).map(|i| (i * i % 1009, copy(i))).collect();
        let mut cursor = 0;
        for shard in (0..1100u64).chain((0..1100).rev()).chain((0..3000).map(|i| i * 7919 % 1100)) {
            assert_eq!(map.get_from(&mut cursor, shard), map.get(&shard), "shard {shard}");
        }
    }

    #[test]
    fn serializes_as_a_map() {
        let map: ShardMap = [(7, copy(1))].into_iter().collect();
        let json = serde_json::to_string(&map).expect("serializes");
        assert_eq!(json, r#"{"7":{"size":1,"checksum":1,"hot":false,"content":null,"points":0}}"#);
        assert_eq!(serde_json::from_str::<ShardMap>(&json).expect("deserializes"), map);
    }
}
