//! The layout of a shard file, `DATA_DIR/shards/{id}.shard` (format 1):
//!
//! ```text
//!  "datadshd"                        8 bytes of magic
//!  frame: header (JSON)              cluster ID, shard ID, database, retention policy, group range,
//!                                    format version
//!  frame: lines                      one frame per append: the lines as stored, newline-terminated
//!  frame: lines ...
//! ```
//! Frames are [`crate::frame`]'s (length + CRC-32C), so a torn append at the end (a crash before
//! the write was acknowledged) is found and cut off when the file is opened, and a file of
//! another cluster, or of another shard under the same number, is told apart by its header
//! instead of being appended to or copied from.
//!
//! Files of the layout before this one (`{id}.lp`: bare lines, no header) are rewritten into it
//! when the node starts ([`migrate_legacy`]), with a header from the metadata.

use serde::{Deserialize, Serialize};

use meta_model::{MetaState, ShardId, Timestamp};

use crate::frame;

/// The bytes every shard file starts with.
pub(crate) const MAGIC: &[u8; 8] = b"datadshd";
/// The layout this build writes.
pub const SHARD_FORMAT: u32 = 1;
/// Most bytes of lines a migrated file puts in one frame.
const MIGRATED_FRAME: usize = 1024 * 1024;

/// What a shard file says it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// The file's layout version ([`SHARD_FORMAT`]).
    pub format: u32,
    /// The cluster the shard belongs to (its metadata's `cluster.id`).
    pub cluster_id: String,
    /// The shard.
    pub shard_id: ShardId,
    /// Its database.
    pub database: String,
    /// Its retention policy.
    pub retention_policy: String,
    /// Its group's start, nanoseconds since the epoch.
    pub start: Timestamp,
    /// Its group's end (exclusive; truncation stops writes earlier but leaves the range).
    pub end: Timestamp,
}

impl ShardHeader {
    /// The header of `shard_id` by the metadata `state`: `None` when the shard is unknown or the
    /// cluster has no identity yet.
    pub fn of(state: &MetaState, shard_id: ShardId) -> Option<ShardHeader> {
        let cluster = state.cluster()?;
        let view = state.shard(shard_id)?;
        Some(ShardHeader {
            format: SHARD_FORMAT,
            cluster_id: cluster.id.clone(),
            shard_id,
            database: view.database.to_owned(),
            retention_policy: view.retention_policy.name.clone(),
            start: view.group.start,
            end: view.group.end,
        })
    }

    /// Whether both headers name the same shard of the same cluster (whatever layout version
    /// each file has).
    pub fn same_shard(&self, other: &ShardHeader) -> bool {
        ShardHeader { format: other.format, ..self.clone() } == *other
    }

    /// The first bytes of a file with this header: the magic and the header's frame.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        // A header of plain strings and integers always serializes.
        let json = serde_json::to_vec(self).unwrap_or_default();
        frame::encode(&json, &mut out);
        out
    }
}

/// A shard file read back: its header, and how many leading bytes hold whole frames.
#[cfg(test)]
#[derive(Debug)]
struct Parsed {
    header: ShardHeader,
    /// Bytes up to the end of the last whole frame; the rest is a torn append.
    valid: usize,
    /// Frames of lines.
    records: usize,
}

/// Why bytes are no shard file of this layout.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LayoutError {
    /// They do not start with [`MAGIC`].
    #[error("not a shard file (no `datadshd` magic; written before shard files had headers?)")]
    NoMagic,
    /// The header frame is torn or corrupt, or no header.
    #[error("its header is unreadable: {0}")]
    BadHeader(String),
    /// A layout this build does not read.
    #[error("shard file format {0} is newer than this build reads ({SHARD_FORMAT})")]
    NewerFormat(u32),
}

/// Reads the header frame's payload.
pub(crate) fn parse_header(payload: &[u8]) -> Result<ShardHeader, LayoutError> {
    let header: ShardHeader = serde_json::from_slice(payload).map_err(|e| LayoutError::BadHeader(e.to_string()))?;
    if header.format > SHARD_FORMAT {
        return Err(LayoutError::NewerFormat(header.format));
    }
    Ok(header)
}

/// Reads a whole shard file held in memory.
#[cfg(test)]
fn parse(bytes: &[u8]) -> Result<Parsed, LayoutError> {
    let body = bytes.strip_prefix(MAGIC.as_slice()).ok_or(LayoutError::NoMagic)?;
    let (frames, valid) = frame::decode_all(body);
    let (first, records) = frames.split_first().ok_or_else(|| LayoutError::BadHeader("missing".to_owned()))?;
    Ok(Parsed { header: parse_header(first)?, valid: MAGIC.len() + valid, records: records.len() })
}

/// The lines of a file's records, in order (what a reader of the shard gets).
pub fn lines(bytes: &[u8]) -> Option<Vec<u8>> {
    let body = bytes.strip_prefix(MAGIC.as_slice())?;
    let (frames, _) = frame::decode_all(body);
    Some(frames.iter().skip(1).flat_map(|f| f.iter().copied()).collect())
}

/// The content of a file of the layout before this one (bare lines) in this layout, under
/// `header`: the lines in frames of at most about a megabyte, cut at line ends.
pub(crate) fn migrate_legacy(header: &ShardHeader, old: &[u8]) -> Vec<u8> {
    let mut out = header.encode();
    let mut rest = old;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MIGRATED_FRAME);
        if cut < rest.len() {
            // Whole lines only; a line longer than a frame goes whole into its own.
            cut = match rest[..cut].iter().rposition(|&b| b == b'\n') {
                Some(newline) => newline + 1,
                None => rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |n| n + 1),
            };
        }
        frame::encode(&rest[..cut], &mut out);
        rest = &rest[cut..];
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The header of `shard_id` in the unit tests' cluster.
    pub(crate) fn header(shard_id: ShardId) -> ShardHeader {
        ShardHeader {
            format: SHARD_FORMAT,
            cluster_id: "0123456789abcdef0123456789abcdef".to_owned(),
            shard_id,
            database: "db".to_owned(),
            retention_policy: "rp".to_owned(),
            start: 0,
            end: 3_600_000_000_000,
        }
    }

    #[test]
    fn a_file_reads_back_with_its_header_and_records_and_a_torn_tail_is_found() {
        let mut bytes = header(4).encode();
        frame::encode(b"cpu v=1 1\n", &mut bytes);
        frame::encode(b"cpu v=2 2\n", &mut bytes);
        let whole = bytes.len();
        bytes.extend_from_slice(&[9, 0, 0, 0, 1]);
        let parsed = parse(&bytes).expect("parses");
        assert_eq!((parsed.header, parsed.valid, parsed.records), (header(4), whole, 2));
        assert_eq!(lines(&bytes).expect("lines"), b"cpu v=1 1\ncpu v=2 2\n");
    }

    #[test]
    fn other_layouts_are_refused_not_misread() {
        assert_eq!(parse(b"cpu v=1 1\n").map(|p| p.records), Err(LayoutError::NoMagic));
        assert!(matches!(parse(MAGIC), Err(LayoutError::BadHeader(_))));
        let mut newer = header(1);
        newer.format = SHARD_FORMAT + 1;
        assert_eq!(parse(&newer.encode()).map(|p| p.records), Err(LayoutError::NewerFormat(SHARD_FORMAT + 1)));
    }

    #[test]
    fn headers_name_the_same_shard_by_cluster_shard_policy_and_range() {
        let mut older = header(4);
        older.format = 0;
        assert!(header(4).same_shard(&older));
        let mut other_range = header(4);
        other_range.end = 10;
        assert!(!header(4).same_shard(&other_range));
        let mut other_cluster = header(4);
        other_cluster.cluster_id = "f".repeat(32);
        assert!(!header(4).same_shard(&other_cluster));
        assert!(!header(4).same_shard(&header(5)));
    }

    #[test]
    fn a_legacy_file_migrates_to_the_same_lines_cut_at_line_ends() {
        let mut old = Vec::new();
        for i in 0..150_000 {
            old.extend_from_slice(format!("cpu,host=h{} v={i} {i}\n", i % 9).as_bytes());
        }
        assert!(old.len() > 2 * MIGRATED_FRAME);
        let new = migrate_legacy(&header(3), &old);
        let parsed = parse(&new).expect("parses");
        assert_eq!((parsed.header, parsed.valid), (header(3), new.len()));
        assert!(parsed.records >= 2);
        assert_eq!(lines(&new).expect("lines"), old);
        let (frames, _) = frame::decode_all(&new[MAGIC.len()..]);
        assert!(frames.iter().skip(1).all(|f| f.ends_with(b"\n")), "frames end at line ends");
        assert_eq!(lines(&migrate_legacy(&header(3), b"")).expect("lines"), b"");
    }
}
