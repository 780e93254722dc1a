//! The content digest of one shard: a Merkle tree over time slices and series, as Cassandra, Riak
//! and Garage compare replicas. Two owners find *which* part of a shard differs by exchanging a
//! logarithmic number of digests, and compare nothing but the root while the copies agree.
//!
//! ```text
//!                         root                     level 0: 1 node
//!                 ┌────────┴────────┐
//!               node              node             ...
//!              ╱    ╲            ╱    ╲
//!  leaves:  [slice 0 × bucket 0..16] … [slice 63 × bucket 0..16]    level 10: 1,024 leaves
//! ```
//!
//! - **A point** is one stored line: its canonical series key (tags sorted), its fields as
//!   written and its timestamp. Its hash is xxh3-64 of those bytes.
//! - **A leaf** holds the points of one of 64 equal time slices of the shard's range and one of 16
//!   series buckets (by a hash of the series key). Its digest is the wrapping sum of the hashes of
//!   its *distinct* points: the same set of points gives the same digest whatever the order they
//!   arrived in and however often a retried write stored them.
//! - **An inner node**'s digest is xxh3-64 of its two children's digests (0 for an empty subtree
//!   only when both children are 0), so the root names the whole content.
//!
//! Upkeep is incremental: a new point updates its leaf and the 10 nodes above it; a point seen
//! before changes nothing. Nothing is rescanned to compare (the cost of InfluxDB's anti-entropy
//! with tens of thousands of time ranges came from rescanning). Memory: one 8-byte hash per
//! distinct point in a hash set (the leaf must know which points it holds to ignore duplicates).

use std::collections::HashSet;

use meta_model::Timestamp;
use xxhash_rust::xxh3::xxh3_64;

use crate::line_protocol::canonical_series_key;

/// Time slices of a shard's range.
pub const TIME_SLICES: usize = 64;
/// Series buckets of one time slice.
pub const SERIES_BUCKETS: usize = 16;
/// Leaves of the tree (`TIME_SLICES × SERIES_BUCKETS`, a power of two).
pub const LEAVES: usize = TIME_SLICES * SERIES_BUCKETS;
/// Levels below the root (`log2(LEAVES)`).
pub const DEPTH: u32 = LEAVES.trailing_zeros();

/// A node of the tree: its level (0 = root, [`DEPTH`] = leaves) and its index within the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// 0 for the root, [`DEPTH`] for the leaves.
    pub level: u32,
    /// 0 ≤ index < 2^level.
    pub index: usize,
}

impl NodeId {
    /// The root.
    pub const ROOT: NodeId = NodeId { level: 0, index: 0 };

    /// Its two children (`None` for a leaf).
    pub fn children(self) -> Option<[NodeId; 2]> {
        (self.level < DEPTH).then(|| {
            let level = self.level + 1;
            [NodeId { level, index: 2 * self.index }, NodeId { level, index: 2 * self.index + 1 }]
        })
    }

    /// Position in the heap-ordered node array (root at 1).
    fn slot(self) -> usize {
        (1 << self.level) + self.index
    }
}

/// Which points a leaf holds: a time slice of the shard's range and a series bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafRange {
    /// Inclusive start of the time slice.
    pub start: Timestamp,
    /// Exclusive end of the time slice.
    pub end: Timestamp,
    /// The series bucket (`series_bucket(series key)`).
    pub series_bucket: usize,
}

/// The content digest of one shard's points.
#[derive(Clone, Debug)]
pub struct ContentTree {
    start: Timestamp,
    end: Timestamp,
    /// The distinct point hashes of each leaf (allocated when the leaf gets its first point).
    leaves: Vec<Option<HashSet<u64>>>,
    /// Digests in heap order: `nodes[1]` is the root, leaves at `LEAVES..2 * LEAVES`.
    nodes: Vec<u64>,
    points: u64,
}

/// A stored line that could not be read as `series fields timestamp`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a stored line (series key, fields, timestamp): {0:?}")]
pub struct NotAStoredLine(pub String);

impl ContentTree {
    /// An empty tree for a shard covering `[start, end)` (its group's range).
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        ContentTree {
            start,
            end: end.max(start.saturating_add(1)),
            leaves: vec![None; LEAVES],
            nodes: vec![0; 2 * LEAVES],
            points: 0,
        }
    }

    /// Adds every line of a stored record (lines ending in `\n`); returns how many points were
    /// new. Blank lines are skipped.
    ///
    /// # Errors
    /// [`NotAStoredLine`] for the first line that is not `series fields timestamp` (the lines
    /// before it are added).
    pub fn insert_record(&mut self, record: &[u8]) -> Result<u64, NotAStoredLine> {
        let mut new = 0;
        for line in record.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            new += u64::from(self.insert_line(line)?);
        }
        Ok(new)
    }

    /// Adds one stored line (without its newline); whether its point was new.
    ///
    /// # Errors
    /// [`NotAStoredLine`] if it is not `series fields timestamp`.
    pub fn insert_line(&mut self, line: &[u8]) -> Result<bool, NotAStoredLine> {
        let (leaf, hash) = self.locate(line)?;
        let set = self.leaves[leaf].get_or_insert_with(HashSet::new);
        if !set.insert(hash) {
            return Ok(false);
        }
        self.points += 1;
        let mut slot = LEAVES + leaf;
        self.nodes[slot] = self.nodes[slot].wrapping_add(hash);
        while slot > 1 {
            slot /= 2;
            self.nodes[slot] = combine(self.nodes[2 * slot], self.nodes[2 * slot + 1]);
        }
        Ok(true)
    }

    /// The leaf a stored line's point falls in and the point's hash, as [`ContentTree::insert_line`]
    /// counts it.
    ///
    /// # Errors
    /// [`NotAStoredLine`] if it is not `series fields timestamp`.
    pub fn locate(&self, line: &[u8]) -> Result<(usize, u64), NotAStoredLine> {
        let point = StoredPoint::parse(line)?;
        let series = canonical_series_key(point.series);
        Ok((self.leaf_of(point.timestamp, &series), point.hash(&series)))
    }

    /// The digest of the whole content (0 when empty).
    pub fn root(&self) -> u64 {
        self.nodes[1]
    }

    /// The digest of one node.
    pub fn digest(&self, node: NodeId) -> u64 {
        self.nodes.get(node.slot()).copied().unwrap_or(0)
    }

    /// The hashes of the distinct points of leaf `index`, sorted (empty for an empty leaf or an
    /// index past the leaves).
    pub fn leaf_points(&self, index: usize) -> Vec<u64> {
        let mut hashes: Vec<u64> =
            self.leaves.get(index).and_then(Option::as_ref).into_iter().flatten().copied().collect();
        hashes.sort_unstable();
        hashes
    }

    /// Distinct points held.
    pub fn points(&self) -> u64 {
        self.points
    }

    /// What leaf `index` (0 ≤ index < [`LEAVES`]) holds.
    pub fn leaf_range(&self, index: usize) -> LeafRange {
        let slice = index / SERIES_BUCKETS;
        let span = i128::from(self.end) - i128::from(self.start);
        let at = |s: usize| {
            let offset = span * s as i128 / TIME_SLICES as i128;
            Timestamp::try_from(i128::from(self.start) + offset).unwrap_or(Timestamp::MAX)
        };
        LeafRange { start: at(slice), end: at(slice + 1), series_bucket: index % SERIES_BUCKETS }
    }

    /// The leaf of a point: its time slice and its series bucket.
    fn leaf_of(&self, timestamp: Timestamp, series: &str) -> usize {
        self.time_slice(timestamp) * SERIES_BUCKETS + series_bucket(series)
    }

    /// The time slice of a timestamp (points outside the range go to the first or last).
    fn time_slice(&self, timestamp: Timestamp) -> usize {
        let span = i128::from(self.end) - i128::from(self.start);
        let offset = (i128::from(timestamp) - i128::from(self.start)).clamp(0, span - 1);
        usize::try_from(offset * TIME_SLICES as i128 / span).unwrap_or(0).min(TIME_SLICES - 1)
    }

    /// The time slice of a stored line's point, read from its timestamp alone (the line's last
    /// field) without parsing the rest: what lets a scan for a few leaves skip the lines of other
    /// slices cheaply. `None` when the line ends in no integer; [`ContentTree::locate`] decides then.
    pub fn time_slice_of(&self, line: &[u8]) -> Option<usize> {
        let at = line.iter().rposition(|&b| b == b' ')?;
        let timestamp: Timestamp = std::str::from_utf8(&line[at + 1..]).ok()?.parse().ok()?;
        Some(self.time_slice(timestamp))
    }
}

/// The series bucket of a (canonical) series key.
pub fn series_bucket(series: &str) -> usize {
    (xxh3_64(series.as_bytes()) % SERIES_BUCKETS as u64) as usize
}

fn combine(left: u64, right: u64) -> u64 {
    if left == 0 && right == 0 {
        return 0;
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&left.to_le_bytes());
    bytes[8..].copy_from_slice(&right.to_le_bytes());
    xxh3_64(&bytes)
}

/// The children of `parents`, in order: the nodes whose digests the next round of an exchange
/// asks the peer for.
pub fn children_of(parents: &[NodeId]) -> Vec<NodeId> {
    parents.iter().filter_map(|p| p.children()).flatten().collect()
}

/// One round of an exchange between two owners: of `nodes` (the children of nodes that differ),
/// those whose digest in `ours` differs from the peer's (`theirs`, in the same order).
///
/// Starting from the root when the roots differ and going down a level per round, the nodes left
/// at [`DEPTH`] are the differing leaves: with `d` of them, at most `1 + 2 · d · DEPTH` digests
/// change hands (a Merkle-tree exchange, as Cassandra's repair does it).
pub fn still_differing(ours: &ContentTree, nodes: &[NodeId], theirs: &[u64]) -> Vec<NodeId> {
    nodes.iter().zip(theirs).filter(|(node, &digest)| ours.digest(**node) != digest).map(|(node, _)| *node).collect()
}

/// A stored line cut into its parts.
struct StoredPoint<'a> {
    series: &'a str,
    fields: &'a [u8],
    timestamp: Timestamp,
}

impl<'a> StoredPoint<'a> {
    /// `series fields timestamp`: the series key up to the first unescaped space, the timestamp
    /// after the last space.
    fn parse(line: &'a [u8]) -> Result<Self, NotAStoredLine> {
        let bad = || NotAStoredLine(String::from_utf8_lossy(line).into_owned());
        let text = std::str::from_utf8(line).map_err(|_| bad())?;
        let (rest, timestamp) = text.rsplit_once(' ').ok_or_else(bad)?;
        let timestamp: Timestamp = timestamp.trim().parse().map_err(|_| bad())?;
        let split = series_end(rest).ok_or_else(bad)?;
        Ok(StoredPoint { series: &rest[..split], fields: &rest.as_bytes()[split + 1..], timestamp })
    }

    /// xxh3-64 of the canonical series key (`series`), the fields and the timestamp.
    fn hash(&self, series: &str) -> u64 {
        let mut bytes = Vec::with_capacity(series.len() + self.fields.len() + 22);
        bytes.extend_from_slice(series.as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(self.fields);
        bytes.push(b' ');
        bytes.extend_from_slice(self.timestamp.to_string().as_bytes());
        xxh3_64(&bytes)
    }
}

/// Where the series key of `text` ends: its first space not escaped by a backslash.
fn series_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\\' if !escaped => escaped = true,
            b' ' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn line(host: u8, t: i64, v: u32) -> String {
        format!("cpu,host=h{host} v={v} {t}")
    }

    fn tree_of(lines: &[String]) -> ContentTree {
        let mut tree = ContentTree::new(0, HOUR);
        for l in lines {
            tree.insert_line(l.as_bytes()).expect("a stored line");
        }
        tree
    }

    fn points() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec((0u8..20, 0..HOUR, 0u32..5), 0..200)
            .prop_map(|v| v.into_iter().map(|(h, t, x)| line(h, t, x)).collect())
    }

    /// The differing leaves of two trees, found round by round, and the digests asked for.
    fn exchange(ours: &ContentTree, theirs: &ContentTree) -> (Vec<usize>, u64) {
        let mut asked = 1;
        let mut differing = if ours.root() == theirs.root() { vec![] } else { vec![NodeId::ROOT] };
        while differing.first().is_some_and(|n| n.level < DEPTH) {
            let nodes = children_of(&differing);
            asked += nodes.len() as u64;
            let digests: Vec<u64> = nodes.iter().map(|&n| theirs.digest(n)).collect();
            differing = still_differing(ours, &nodes, &digests);
        }
        (differing.into_iter().map(|n| n.index).collect(), asked)
    }

    proptest! {
        /// The same set of points gives the same digests, whatever the order and the duplicates.
        #[test]
        fn order_and_duplicates_do_not_change_any_digest(
            points in points(),
            seed in any::<u64>(),
            repeats in prop::collection::vec(any::<prop::sample::Index>(), 0..50),
        ) {
            let mut shuffled = points.clone();
            shuffled.extend(repeats.iter().filter(|_| !points.is_empty()).map(|i| points[i.index(points.len())].clone()));
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let (a, b) = (tree_of(&points), tree_of(&shuffled));
            prop_assert_eq!(a.root(), b.root());
            prop_assert_eq!(&a.nodes, &b.nodes);
            prop_assert_eq!(a.points(), b.points());
        }

        /// A point only one copy holds is found in its leaf, asking for a logarithmic number of
        /// digests, and the trees agree once both hold it.
        #[test]
        fn one_missing_point_is_found_in_its_leaf(points in points(), host in 0u8..20, t in 0..HOUR) {
            let extra = line(host, t, 99);
            let theirs = tree_of(&points);
            let mut ours = theirs.clone();
            ours.insert_line(extra.as_bytes()).expect("stored line");
            let (differing, asked) = exchange(&ours, &theirs);
            let leaf = ours.leaf_of(t, &format!("cpu,host=h{host}"));
            prop_assert_eq!(differing, vec![leaf]);
            prop_assert!(asked <= 1 + 2 * u64::from(DEPTH), "{} digests asked", asked);
            let range = ours.leaf_range(leaf);
            prop_assert!(range.start <= t && t < range.end && range.series_bucket == leaf % SERIES_BUCKETS);
            let mut theirs = theirs;
            theirs.insert_line(extra.as_bytes()).expect("stored line");
            prop_assert_eq!(exchange(&ours, &theirs), (vec![], 1));
        }
    }

    #[test]
    fn tag_order_is_one_series_and_other_fields_are_other_points() {
        let mut tree = ContentTree::new(0, HOUR);
        assert_eq!(tree.insert_record(b"cpu,a=1,b=2 v=1 5\ncpu,b=2,a=1 v=1 5\n").expect("lines"), 1);
        assert_eq!(tree.insert_record(b"cpu,a=1,b=2 v=2 5\n").expect("lines"), 1, "a different field value");
        assert_eq!(tree.points(), 2);
        assert_eq!(ContentTree::new(0, HOUR).root(), 0, "empty");
    }

    #[test]
    fn escaped_spaces_belong_to_the_series_and_bad_lines_are_refused() {
        let mut tree = ContentTree::new(0, HOUR);
        assert!(tree.insert_line(br"cpu,host=a\ b v=1 7").expect("escaped space"));
        for bad in [&b"cpu v=1"[..], b"nospace", b"cpu v=1 x", b"\xff\xfe 1"] {
            assert!(tree.insert_line(bad).is_err(), "{bad:?}");
        }
    }

    /// The slice read from the timestamp alone is the slice of the leaf a full parse finds, for
    /// string fields with spaces too; a line ending in no integer is left to the full parse.
    #[test]
    fn the_time_slice_of_a_line_is_its_leafs_slice() {
        let tree = ContentTree::new(0, HOUR);
        for t in [0, 1, HOUR / 64, HOUR / 2 + 7, HOUR - 1, HOUR + 5, -3] {
            for line in [line(3, t, 1), format!("log,host=a msg=\"a b 99\" {t}"), format!(r"cpu,host=a\ b v=1 {t}")] {
                let (leaf, _) = tree.locate(line.as_bytes()).expect("a stored line");
                assert_eq!(tree.time_slice_of(line.as_bytes()), Some(leaf / SERIES_BUCKETS), "{line}");
            }
        }
        assert_eq!(tree.time_slice_of(b"cpu v=1 x"), None);
        assert_eq!(tree.time_slice_of(b"nospace"), None);
    }

    #[test]
    fn leaves_split_the_range_in_equal_slices_and_points_outside_go_to_the_edges() {
        let tree = ContentTree::new(0, 64 * HOUR);
        assert_eq!(tree.leaf_range(0), LeafRange { start: 0, end: HOUR, series_bucket: 0 });
        assert_eq!(tree.leaf_range(LEAVES - 1), LeafRange { start: 63 * HOUR, end: 64 * HOUR, series_bucket: 15 });
        assert_eq!(tree.leaf_of(-5, "cpu") / SERIES_BUCKETS, 0);
        assert_eq!(tree.leaf_of(i64::MAX, "cpu") / SERIES_BUCKETS, TIME_SLICES - 1);
    }
}
