//! One durable hinted-handoff queue: the writes one owner (the target) missed, in the order they
//! were coordinated, in segment files under `DATA_DIR/handoff/{target}/`.
//!
//! ```text
//!  handoff/3/00000000000000000007.seg   frames: [enqueued at (ms, u64 LE)][shard (u64 LE)][lines]
//!  handoff/3/00000000000000000008.seg   ◀── appended to (fsynced before the write is answered)
//!  handoff/3/head                       "SEGMENT OFFSET": the next write to deliver
//! ```
//! A segment is deleted once delivered past its end; the head file is rewritten (not fsynced)
//! after each delivery, so a crash may deliver a write again: line-protocol points are idempotent.
//! A torn frame at the end of the last segment (a crash mid-append; that write was never
//! answered) is cut off when the queue opens.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use meta_model::{NodeId, ShardId};
use meta_wire::HandoffQueueReport;

use crate::error::DatadError;
use crate::frame;

/// A segment is closed for appends once it holds this many bytes.
pub(crate) const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;
/// Bytes of an entry's own header inside its frame: when it was queued and its shard.
const ENTRY_HEADER: usize = 16;
const HEAD_FILE: &str = "head";
/// What was dropped for the target, kept across restarts: `ENTRIES BYTES SHARD...`.
const DROPPED_FILE: &str = "dropped";
/// Most shards a queue names as having lost writes.
const MAX_DROPPED_SHARDS: usize = 1000;

/// A queued write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// When it was queued, in milliseconds since the epoch.
    pub(crate) enqueued_ms: u64,
    /// The shard its lines belong to.
    pub(crate) shard_id: ShardId,
    /// The lines, as the owners store them.
    pub(crate) data: Bytes,
}

impl Entry {
    /// Its size on disk, frame included.
    pub(crate) fn disk_len(&self) -> u64 {
        frame::framed_len(ENTRY_HEADER + self.data.len())
    }
}

/// Why a write could not be queued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PushError {
    /// The queue would exceed its `max-size`.
    #[error("the hinted-handoff queue for node {target} is full ({bytes} of {max_size} bytes)")]
    Full {
        /// The queue's target.
        target: NodeId,
        /// Bytes queued.
        bytes: u64,
        /// The limit.
        max_size: u64,
    },
    /// The disk refused it.
    #[error(transparent)]
    Io(#[from] DatadError),
}

impl PushError {
    /// The reason label of a write dropped for this error (`/metrics`).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            PushError::Full { .. } => "max_size",
            PushError::Io(_) => "unwritable",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    seq: u64,
    /// Bytes that hold whole frames.
    len: u64,
}

/// One target's queue.
#[derive(Debug)]
pub(crate) struct HandoffQueue {
    target: NodeId,
    dir: PathBuf,
    /// Segments from the oldest; never empty while entries are queued.
    segments: VecDeque<Segment>,
    /// Offset of the next entry in the first segment.
    head: u64,
    /// Open for appending: the last segment.
    tail: Option<File>,
    entries: u64,
    bytes: u64,
    /// When the entry at the head was queued.
    oldest_ms: Option<u64>,
    dropped_entries: u64,
    dropped_bytes: u64,
    dropped_shards: BTreeSet<ShardId>,
}

impl HandoffQueue {
    /// Opens (creating it if needed) the queue of `target` in `dir`, counting what it holds and
    /// cutting a torn frame off its last segment.
    pub(crate) fn open(dir: &Path, target: NodeId) -> Result<Self, DatadError> {
        std::fs::create_dir_all(dir).map_err(DatadError::io("create", dir))?;
        let mut seqs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(DatadError::io("list", dir))? {
            let name = entry.map_err(DatadError::io("list", dir))?.file_name();
            if let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse::<u64>().ok()) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let (head_seq, mut head) = read_head(dir);
        let mut queue = HandoffQueue {
            target,
            dir: dir.to_owned(),
            segments: VecDeque::new(),
            head: 0,
            tail: None,
            entries: 0,
            bytes: 0,
            oldest_ms: None,
            dropped_entries: 0,
            dropped_bytes: 0,
            dropped_shards: BTreeSet::new(),
        };
        queue.read_dropped();
        let last = seqs.last().copied();
        for seq in seqs {
            let path = queue.segment_path(seq);
            if seq < head_seq {
                // Delivered before a crash kept it from being deleted.
                std::fs::remove_file(&path).map_err(DatadError::io("delete", &path))?;
                continue;
            }
            let bytes = std::fs::read(&path).map_err(DatadError::io("read", &path))?;
            let start = if seq == head_seq { head.min(bytes.len() as u64) } else { 0 };
            let (frames, valid) = frame::decode_all(&bytes[start as usize..]);
            let valid = start + valid as u64;
            if valid < bytes.len() as u64 {
                if Some(seq) == last {
                    tracing::warn!(
                        target_node = target,
                        seq,
                        cut = bytes.len() as u64 - valid,
                        "torn hinted-handoff write cut off"
                    );
                    let file = OpenOptions::new().write(true).open(&path).map_err(DatadError::io("open", &path))?;
                    file.set_len(valid).and_then(|()| file.sync_all()).map_err(DatadError::io("truncate", &path))?;
                } else {
                    tracing::error!(
                        target_node = target,
                        seq,
                        "corrupt hinted-handoff segment: its unreadable rest is dropped"
                    );
                    queue.dropped_bytes += bytes.len() as u64 - valid;
                    queue.write_dropped();
                }
            }
            queue.entries += frames.len() as u64;
            queue.bytes += valid - start;
            if queue.segments.is_empty() {
                head = start;
            }
            queue.segments.push_back(Segment { seq, len: valid });
        }
        queue.head = if queue.segments.is_empty() { 0 } else { head };
        queue.oldest_ms = queue.peek()?.map(|e| e.enqueued_ms);
        if queue.entries > 0 {
            tracing::info!(
                target_node = target,
                entries = queue.entries,
                bytes = queue.bytes,
                "hinted-handoff queue found"
            );
        }
        Ok(queue)
    }

    fn segment_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.seg"))
    }

    /// The owner this queue holds writes for.
    pub(crate) fn target(&self) -> NodeId {
        self.target
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Queues `data` for `shard_id`, fsynced before it returns; refused when the queue would then
    /// hold more than `max_size` bytes.
    pub(crate) fn push(
        &mut self,
        shard_id: ShardId,
        enqueued_ms: u64,
        data: &[u8],
        max_size: u64,
    ) -> Result<(), PushError> {
        let mut payload = Vec::with_capacity(ENTRY_HEADER + data.len());
        payload.extend_from_slice(&enqueued_ms.to_le_bytes());
        payload.extend_from_slice(&shard_id.to_le_bytes());
        payload.extend_from_slice(data);
        let mut framed = Vec::new();
        frame::encode(&payload, &mut framed);
        let len = framed.len() as u64;
        if self.bytes + len > max_size {
            return Err(PushError::Full { target: self.target, bytes: self.bytes, max_size });
        }
        let roll = self.segments.back().is_none_or(|s| s.len > 0 && s.len + len > SEGMENT_BYTES);
        if roll {
            let seq = self.segments.back().map_or_else(|| read_head(&self.dir).0, |s| s.seq + 1);
            let path = self.segment_path(seq);
            let file =
                OpenOptions::new().create(true).append(true).open(&path).map_err(DatadError::io("create", &path))?;
            file.set_len(0).map_err(DatadError::io("truncate", &path))?;
            sync_dir(&self.dir)?;
            if self.segments.is_empty() {
                self.head = 0;
                write_head(&self.dir, seq, 0)?;
            }
            self.segments.push_back(Segment { seq, len: 0 });
            self.tail = Some(file);
        }
        let Some(segment) = self.segments.back_mut() else {
            // Not reached: a segment was created above when there was none.
            let source = std::io::Error::other("no segment to append to");
            return Err(DatadError::Io { action: "append to", path: self.dir.clone(), source }.into());
        };
        let path = self.dir.join(format!("{:020}.seg", segment.seq));
        let file = match self.tail.take() {
            Some(file) => file,
            None => OpenOptions::new().append(true).open(&path).map_err(DatadError::io("open", &path))?,
        };
        let mut file = file;
        if let Err(source) = file.write_all(&framed).and_then(|()| file.sync_data()) {
            if let Err(error) = file.set_len(segment.len) {
                tracing::error!(target_node = self.target, %error, "cannot undo a failed hinted-handoff append");
            }
            return Err(DatadError::Io { action: "append to", path, source }.into());
        }
        self.tail = Some(file);
        segment.len += len;
        self.entries += 1;
        self.bytes += len;
        if self.oldest_ms.is_none() {
            self.oldest_ms = Some(enqueued_ms);
        }
        Ok(())
    }

    /// The entry at the head, if any.
    pub(crate) fn peek(&self) -> Result<Option<Entry>, DatadError> {
        let Some(segment) = self.segments.front() else { return Ok(None) };
        if self.head >= segment.len {
            return Ok(None);
        }
        let path = self.segment_path(segment.seq);
        let mut file = File::open(&path).map_err(DatadError::io("open", &path))?;
        file.seek(SeekFrom::Start(self.head)).map_err(DatadError::io("seek in", &path))?;
        let mut payload = Vec::new();
        let whole = frame::read_next(&mut file, &mut payload).map_err(DatadError::io("read", &path))?;
        if whole.is_none() || payload.len() < ENTRY_HEADER {
            // Checked when the queue opened: the file changed under it.
            let source = std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt hinted-handoff frame");
            return Err(DatadError::Io { action: "read", path, source });
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&payload[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let (enqueued_ms, shard_id) = (word(0), word(8));
        let data = Bytes::from(payload).slice(ENTRY_HEADER..);
        Ok(Some(Entry { enqueued_ms, shard_id, data }))
    }

    /// Removes the head entry (`entry`, as [`Self::peek`] returned it) once delivered, or dropped
    /// when `dropped`.
    pub(crate) fn pop(&mut self, entry: &Entry, dropped: bool) -> Result<(), DatadError> {
        let len = entry.disk_len();
        self.head += len;
        self.entries = self.entries.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(len);
        if dropped {
            self.count_dropped(entry.shard_id, len);
        }
        while let Some(first) = self.segments.front().copied() {
            if self.head < first.len {
                break;
            }
            if self.segments.len() == 1 && self.tail.is_some() && first.len < SEGMENT_BYTES {
                // The open segment stays for further appends.
                break;
            }
            let path = self.segment_path(first.seq);
            self.segments.pop_front();
            if self.segments.is_empty() {
                self.tail = None;
                // The next segment's number is kept in the head file.
                write_head(&self.dir, first.seq + 1, 0)?;
            }
            std::fs::remove_file(&path).map_err(DatadError::io("delete", &path))?;
            self.head = 0;
        }
        if let Some(first) = self.segments.front() {
            write_head(&self.dir, first.seq, self.head)?;
        }
        self.oldest_ms = self.peek()?.map(|e| e.enqueued_ms);
        Ok(())
    }

    /// Counts a write for `shard_id` of `data_len` bytes of lines that could not be queued at all
    /// (the queue full) as dropped.
    pub(crate) fn count_refused(&mut self, shard_id: ShardId, data_len: usize) {
        self.count_dropped(shard_id, frame::framed_len(ENTRY_HEADER + data_len));
    }

    /// Counts a dropped write of `bytes` (framed) for `shard_id`, durably.
    fn count_dropped(&mut self, shard_id: ShardId, bytes: u64) {
        self.dropped_entries += 1;
        self.dropped_bytes += bytes;
        if self.dropped_shards.len() < MAX_DROPPED_SHARDS {
            self.dropped_shards.insert(shard_id);
        }
        self.write_dropped();
    }

    /// Reads the drop counts kept by an earlier run.
    fn read_dropped(&mut self) {
        let text = std::fs::read_to_string(self.dir.join(DROPPED_FILE)).unwrap_or_default();
        let mut words = text.split_whitespace().map(str::parse::<u64>);
        if let (Some(Ok(entries)), Some(Ok(bytes))) = (words.next(), words.next()) {
            self.dropped_entries = entries;
            self.dropped_bytes = bytes;
            self.dropped_shards = words.filter_map(Result::ok).collect();
        }
    }

    /// Keeps the drop counts (write and rename; losing the last update only under-counts).
    fn write_dropped(&self) {
        let shards: Vec<String> = self.dropped_shards.iter().map(u64::to_string).collect();
        let text = format!("{} {} {}\n", self.dropped_entries, self.dropped_bytes, shards.join(" "));
        let (path, tmp) = (self.dir.join(DROPPED_FILE), self.dir.join("dropped.tmp"));
        if let Err(error) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path)) {
            tracing::error!(target_node = self.target, %error, "cannot keep the hinted-handoff drop counts");
        }
    }

    /// What the queue holds, at `now_ms`.
    pub(crate) fn report(&self, now_ms: u64) -> HandoffQueueReport {
        HandoffQueueReport {
            target: self.target,
            entries: self.entries,
            bytes: self.bytes,
            oldest_age_ms: self.oldest_ms.map(|at| now_ms.saturating_sub(at)),
            dropped_entries: self.dropped_entries,
            dropped_bytes: self.dropped_bytes,
            dropped_shards: self.dropped_shards.iter().copied().collect(),
        }
    }
}

/// The head position `(segment, offset)`, `(0, 0)` when none was written.
fn read_head(dir: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(dir.join(HEAD_FILE)).unwrap_or_default();
    let mut words = text.split_whitespace().map(str::parse::<u64>);
    match (words.next(), words.next()) {
        (Some(Ok(seq)), Some(Ok(offset))) => (seq, offset),
        _ => (0, 0),
    }
}

/// Records the head position (write and rename; not fsynced: losing it only delivers again).
fn write_head(dir: &Path, seq: u64, offset: u64) -> Result<(), DatadError> {
    let (path, tmp) = (dir.join(HEAD_FILE), dir.join("head.tmp"));
    std::fs::write(&tmp, format!("{seq} {offset}\n")).map_err(DatadError::io("write", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(DatadError::io("rename to", &path))
}

/// Fsyncs a directory, making new files in it durable.
fn sync_dir(dir: &Path) -> Result<(), DatadError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(DatadError::io("fsync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: u64 = u64::MAX;

    fn drain(queue: &mut HandoffQueue) -> Vec<(u64, ShardId, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(entry) = queue.peek().expect("peek") {
            out.push((entry.enqueued_ms, entry.shard_id, entry.data.to_vec()));
            queue.pop(&entry, false).expect("pop");
        }
        out
    }

    #[test]
    fn writes_come_out_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut queue = HandoffQueue::open(dir.path(), 3).expect("open");
        queue.push(10, 1000, b"cpu v=1 1\n", BIG).expect("push");
        queue.push(11, 1001, b"cpu v=2 2\n", BIG).expect("push");
        let first = queue.peek().expect("peek").expect("an entry");
        assert_eq!((first.enqueued_ms, first.shard_id, &first.data[..]), (1000, 10, &b"cpu v=1 1\n"[..]));
        queue.pop(&first, false).expect("pop");
        queue.push(12, 1002, b"cpu v=3 3\n", BIG).expect("push");
        let report = queue.report(1500);
        assert_eq!((report.entries, report.oldest_age_ms), (2, Some(499)));
        drop(queue);

        let mut queue = HandoffQueue::open(dir.path(), 3).expect("reopen");
        assert_eq!(queue.report(1500).entries, 2);
        let rest = drain(&mut queue);
        assert_eq!(rest, vec![(1001, 11, b"cpu v=2 2\n".to_vec()), (1002, 12, b"cpu v=3 3\n".to_vec())]);
        let report = queue.report(2000);
        assert_eq!((report.entries, report.bytes, report.oldest_age_ms), (0, 0, None));
        // Empty again, it keeps taking writes, after a reopen too.
        queue.push(13, 1003, b"x v=1 1\n", BIG).expect("push");
        drop(queue);
        let mut queue = HandoffQueue::open(dir.path(), 3).expect("reopen");
        assert_eq!(drain(&mut queue), vec![(1003, 13, b"x v=1 1\n".to_vec())]);
    }

    #[test]
    fn segments_roll_and_are_deleted_once_delivered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut queue = HandoffQueue::open(dir.path(), 1).expect("open");
        let data = vec![b'x'; (SEGMENT_BYTES / 3) as usize];
        for i in 0..7 {
            queue.push(i, i, &data, BIG).expect("push");
        }
        let segments = |dir: &Path| {
            std::fs::read_dir(dir)
                .expect("list")
                .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg")))
                .count()
        };
        assert!(segments(dir.path()) >= 3, "writes spread over segments");
        for _ in 0..4 {
            let entry = queue.peek().expect("peek").expect("entry");
            queue.pop(&entry, false).expect("pop");
        }
        assert!(segments(dir.path()) <= 2, "delivered segments are deleted");
        drop(queue);
        let mut queue = HandoffQueue::open(dir.path(), 1).expect("reopen");
        let rest: Vec<_> = drain(&mut queue).into_iter().map(|(_, shard, _)| shard).collect();
        assert_eq!(rest, vec![4, 5, 6]);
    }

    #[test]
    fn a_full_queue_refuses_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut queue = HandoffQueue::open(dir.path(), 2).expect("open");
        queue.push(1, 1, b"a v=1 1\n", 100).expect("fits");
        assert!(matches!(queue.push(1, 2, &[b'b'; 100], 100), Err(PushError::Full { target: 2, .. })));
        queue.push(1, 3, b"c v=1 1\n", BIG).expect("push");
        drop(queue);
        // A crash in the middle of a third append.
        let segment = dir.path().join(format!("{:020}.seg", 0));
        let mut file = OpenOptions::new().append(true).open(&segment).expect("open");
        file.write_all(&[40, 0, 0, 0, 1, 2]).expect("torn write");
        drop(file);
        let mut queue = HandoffQueue::open(dir.path(), 2).expect("reopen");
        let rest: Vec<_> = drain(&mut queue).into_iter().map(|(at, _, _)| at).collect();
        assert_eq!(rest, vec![1, 3]);
        queue.push(1, 4, b"d v=1 1\n", BIG).expect("appends go after the cut");
        assert_eq!(drain(&mut queue).len(), 1);
    }

    #[test]
    fn dropped_writes_are_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut queue = HandoffQueue::open(dir.path(), 2).expect("open");
        queue.push(1, 1, b"a v=1 1\n", BIG).expect("push");
        let entry = queue.peek().expect("peek").expect("entry");
        queue.pop(&entry, true).expect("drop");
        queue.count_refused(7, 50);
        let report = queue.report(10);
        let refused = frame::framed_len(ENTRY_HEADER + 50);
        assert_eq!((report.entries, report.dropped_entries, report.dropped_bytes), (0, 2, entry.disk_len() + refused));
        assert_eq!(report.dropped_shards, vec![1, 7]);
        drop(queue);
        let queue = HandoffQueue::open(dir.path(), 2).expect("reopen");
        let again = queue.report(10);
        assert_eq!(
            (again.dropped_entries, again.dropped_bytes, again.dropped_shards),
            (2, report.dropped_bytes, vec![1, 7]),
            "kept across restarts"
        );
    }
}
