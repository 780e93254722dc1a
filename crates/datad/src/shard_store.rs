//! Shard files: one append-only file per shard, `DATA_DIR/shards/{id}.lp`, with its size and
//! FNV-1a digest kept in memory (updated on every append, recomputed from the files at start).
//!
//! Appends are fsynced before they are acknowledged. A copy arrives as `{id}.partial`, is checked
//! against the source's digest, fsynced and renamed over `{id}.lp` (then the directory is
//! fsynced), so a shard file is always either the old content or the complete copy.
//!
//! The store is synchronous (plain `std::fs`); async callers run it on the blocking pool.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use meta_model::ShardId;
use meta_wire::{ShardReport, ShardSummary};

use crate::error::DatadError;
use crate::fnv::Fnv64;

/// A `{id}.partial` file: a copy in progress, or one abandoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartialCopy {
    /// The shard being copied.
    pub shard_id: ShardId,
    /// Bytes copied so far.
    pub bytes: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// One shard file and what is known about it.
#[derive(Debug)]
struct ShardFile {
    /// Open for appending once written to; dropped when the file is replaced.
    append: Option<File>,
    size: u64,
    digest: Fnv64,
}

/// The shard files of one data node.
#[derive(Debug)]
pub struct ShardStore {
    dir: PathBuf,
    shards: Mutex<BTreeMap<ShardId, Arc<Mutex<ShardFile>>>>,
    inventory_version: AtomicU64,
}

/// Locks `mutex`, recovering the data if a panicking thread held it (the values stay coherent:
/// every update is a plain assignment after the I/O succeeded).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ShardStore {
    /// Opens (creating it if needed) `data_dir/shards` and digests every `*.lp` file in it.
    pub fn open(data_dir: &Path) -> Result<Self, DatadError> {
        let dir = data_dir.join("shards");
        std::fs::create_dir_all(&dir).map_err(DatadError::io("create", &dir))?;
        let mut shards = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(DatadError::io("list", &dir))? {
            let path = entry.map_err(DatadError::io("list", &dir))?.path();
            let Some(shard_id) = shard_id_of(&path, "lp") else { continue };
            let (size, digest) = file_digest(&path, None)?;
            tracing::debug!(shard_id, size, checksum = digest.finish(), "shard file found");
            shards.insert(shard_id, Arc::new(Mutex::new(ShardFile { append: None, size, digest })));
        }
        tracing::info!(dir = %dir.display(), shards = shards.len(), "shard store opened");
        // Starting from the clock keeps the version increasing across restarts.
        let start = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
        Ok(ShardStore { dir, shards: Mutex::new(shards), inventory_version: AtomicU64::new(start) })
    }

    /// The directory holding the shard files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a shard's file.
    pub fn shard_path(&self, shard_id: ShardId) -> PathBuf {
        self.dir.join(format!("{shard_id}.lp"))
    }

    /// Path of a shard's copy in progress.
    pub fn partial_path(&self, shard_id: ShardId) -> PathBuf {
        self.dir.join(format!("{shard_id}.partial"))
    }

    /// The copies in progress or abandoned: every `{id}.partial` file, with its size and when it
    /// was last written. Files that cannot be read are skipped (and logged).
    pub fn partials(&self) -> Vec<PartialCopy> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(dir = %self.dir.display(), %error, "cannot list the shard directory");
                return Vec::new();
            }
        };
        let mut partials = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(shard_id) = name.to_str().and_then(|n| n.strip_suffix(".partial")).and_then(|n| n.parse().ok())
            else {
                continue;
            };
            match entry.metadata().and_then(|m| Ok((m.len(), m.modified()?))) {
                Ok((bytes, modified)) => partials.push(PartialCopy { shard_id, bytes, modified }),
                Err(error) => tracing::warn!(shard_id, %error, "cannot stat a partial copy"),
            }
        }
        partials.sort_by_key(|p| p.shard_id);
        partials
    }

    /// Deletes the partial copy of `shard_id` (nothing if there is none).
    pub fn remove_partial(&self, shard_id: ShardId) -> Result<(), DatadError> {
        let path = self.partial_path(shard_id);
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(DatadError::io("delete", &path)(error)),
            _ => Ok(()),
        }
    }

    /// The current inventory version; it moves on every change of a shard's set or content.
    pub fn inventory_version(&self) -> u64 {
        self.inventory_version.load(Ordering::SeqCst)
    }

    /// Moves the inventory version on (e.g. when a shard stopped being hot); returns the new one.
    pub fn bump_inventory_version(&self) -> u64 {
        self.inventory_version.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn entry(&self, shard_id: ShardId) -> Option<Arc<Mutex<ShardFile>>> {
        lock(&self.shards).get(&shard_id).cloned()
    }

    /// Appends `data` to a shard (creating its file) and fsyncs it before returning.
    pub fn append(&self, shard_id: ShardId, data: &[u8]) -> Result<ShardSummary, DatadError> {
        let path = self.shard_path(shard_id);
        let entry = {
            let mut shards = lock(&self.shards);
            match shards.get(&shard_id) {
                Some(entry) => Arc::clone(entry),
                None => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(DatadError::io("create", &path))?;
                    sync_dir(&self.dir)?;
                    let entry = Arc::new(Mutex::new(ShardFile { append: Some(file), size: 0, digest: Fnv64::new() }));
                    shards.insert(shard_id, Arc::clone(&entry));
                    entry
                }
            }
        };
        let mut shard = lock(&entry);
        if shard.append.is_none() {
            let file = OpenOptions::new().append(true).open(&path).map_err(DatadError::io("open", &path))?;
            shard.append = Some(file);
        }
        let old_size = shard.size;
        if let Some(file) = shard.append.as_mut() {
            if let Err(source) = file.write_all(data).and_then(|()| file.sync_data()) {
                // Undo a partial append so the file keeps matching its size and digest.
                if let Err(error) = file.set_len(old_size) {
                    tracing::error!(shard_id, %error, "cannot undo a failed append");
                }
                shard.append = None;
                return Err(DatadError::Io { action: "append to", path, source });
            }
        }
        shard.size += data.len() as u64;
        shard.digest.update(data);
        self.bump_inventory_version();
        Ok(ShardSummary { shard_id, size: shard.size, checksum: shard.digest.finish() })
    }

    /// A shard's size and digest, if this node holds it.
    pub fn summary(&self, shard_id: ShardId) -> Option<ShardSummary> {
        let entry = self.entry(shard_id)?;
        let shard = lock(&entry);
        Some(ShardSummary { shard_id, size: shard.size, checksum: shard.digest.finish() })
    }

    /// Every shard held, by ID.
    pub fn summaries(&self) -> Vec<ShardSummary> {
        let shards = lock(&self.shards);
        shards
            .iter()
            .map(|(&shard_id, entry)| {
                let shard = lock(entry);
                ShardSummary { shard_id, size: shard.size, checksum: shard.digest.finish() }
            })
            .collect()
    }

    /// The inventory as a heartbeat reports it; `hot` tells whether a shard still takes writes.
    pub fn inventory(&self, hot: impl Fn(ShardId) -> bool) -> Vec<ShardReport> {
        self.summaries()
            .into_iter()
            .map(|s| ShardReport { shard_id: s.shard_id, size: s.size, checksum: s.checksum, hot: hot(s.shard_id) })
            .collect()
    }

    /// Up to `len` bytes of a shard from `start`; `start` must lie within the shard.
    pub fn read_range(&self, shard_id: ShardId, start: u64, len: u64) -> Result<Vec<u8>, DatadError> {
        let size = self.summary(shard_id).ok_or(DatadError::ShardNotFound { shard_id })?.size;
        if start >= size {
            let range = format!("{start}-");
            return Err(DatadError::RangeNotSatisfiable { shard_id, range, size });
        }
        let len = len.min(size - start);
        let path = self.shard_path(shard_id);
        let mut file = File::open(&path).map_err(DatadError::io("open", &path))?;
        file.seek(SeekFrom::Start(start)).map_err(DatadError::io("seek in", &path))?;
        let mut buffer = Vec::with_capacity(len as usize);
        file.take(len).read_to_end(&mut buffer).map_err(DatadError::io("read", &path))?;
        if (buffer.len() as u64) < len {
            // The file was replaced by a shorter copy meanwhile; the peer asks again.
            let source = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "shard file shrank while read");
            return Err(DatadError::Io { action: "read", path, source });
        }
        Ok(buffer)
    }

    /// The digest of a shard's first `len` bytes (all of it by default): `(summary, len, digest)`.
    pub fn digest(&self, shard_id: ShardId, len: Option<u64>) -> Result<(ShardSummary, u64, u64), DatadError> {
        let summary = self.summary(shard_id).ok_or(DatadError::ShardNotFound { shard_id })?;
        let len = len.unwrap_or(summary.size);
        if len > summary.size {
            let range = format!("0-{len}");
            return Err(DatadError::RangeNotSatisfiable { shard_id, range, size: summary.size });
        }
        if len == summary.size {
            return Ok((summary, len, summary.checksum));
        }
        let (_, digest) = file_digest(&self.shard_path(shard_id), Some(len))?;
        Ok((summary, len, digest.finish()))
    }

    /// Makes a finished copy the shard's file: checks the partial file holds `size` bytes with
    /// digest `checksum` (deleting it when not), fsyncs it, renames it over `{id}.lp` and fsyncs
    /// the directory. Bytes appended locally to the old file meanwhile are replaced.
    pub fn install_partial(&self, shard_id: ShardId, size: u64, checksum: u64) -> Result<ShardSummary, DatadError> {
        let partial = self.partial_path(shard_id);
        let (actual_size, digest) = file_digest(&partial, None)?;
        if actual_size != size || digest.finish() != checksum {
            if let Err(error) = std::fs::remove_file(&partial) {
                tracing::warn!(shard_id, %error, "cannot delete a corrupt partial copy");
            }
            return Err(DatadError::ChecksumMismatch { shard_id, expected: checksum, actual: digest.finish() });
        }
        File::open(&partial).and_then(|f| f.sync_all()).map_err(DatadError::io("fsync", &partial))?;
        let target = self.shard_path(shard_id);
        let mut shards = lock(&self.shards);
        let entry = shards
            .entry(shard_id)
            .or_insert_with(|| Arc::new(Mutex::new(ShardFile { append: None, size: 0, digest: Fnv64::new() })));
        let mut shard = lock(entry);
        std::fs::rename(&partial, &target).map_err(DatadError::io("rename to", &target))?;
        sync_dir(&self.dir)?;
        *shard = ShardFile { append: None, size, digest };
        self.bump_inventory_version();
        Ok(ShardSummary { shard_id, size, checksum })
    }
}

/// The shard ID of `DIR/{id}.{extension}`.
fn shard_id_of(path: &Path, extension: &str) -> Option<ShardId> {
    if path.extension()? != extension {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

/// Size and digest of a file's first `len` bytes (all of it when `None`).
pub fn file_digest(path: &Path, len: Option<u64>) -> Result<(u64, Fnv64), DatadError> {
    let file = File::open(path).map_err(DatadError::io("open", path))?;
    let mut reader = file.take(len.unwrap_or(u64::MAX));
    let mut digest = Fnv64::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = reader.read(&mut buffer).map_err(DatadError::io("read", path))?;
        if read == 0 {
            return Ok((size, digest));
        }
        digest.update(&buffer[..read]);
        size += read as u64;
    }
}

/// Fsyncs a directory, making renames and new files in it durable.
fn sync_dir(dir: &Path) -> Result<(), DatadError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(DatadError::io("fsync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fnv::fnv1a;

    #[test]
    fn append_tracks_size_digest_and_inventory_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ShardStore::open(dir.path()).expect("open");
        let v0 = store.inventory_version();
        store.append(7, b"cpu v=1 1\n").expect("append");
        let summary = store.append(7, b"cpu v=2 2\n").expect("append");
        assert_eq!(summary, ShardSummary { shard_id: 7, size: 20, checksum: fnv1a(b"cpu v=1 1\ncpu v=2 2\n") });
        assert!(store.inventory_version() >= v0 + 2);
        let on_disk = std::fs::read(dir.path().join("shards/7.lp")).expect("read");
        assert_eq!(on_disk, b"cpu v=1 1\ncpu v=2 2\n");
        assert_eq!(store.read_range(7, 10, 100).expect("range"), b"cpu v=2 2\n");
        assert_eq!(store.digest(7, Some(10)).expect("digest").2, fnv1a(b"cpu v=1 1\n"));
        assert!(matches!(store.digest(7, Some(21)), Err(DatadError::RangeNotSatisfiable { .. })));
        assert!(matches!(store.read_range(8, 0, 1), Err(DatadError::ShardNotFound { shard_id: 8 })));
    }

    #[test]
    fn reopen_recomputes_sizes_and_digests_from_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = {
            let store = ShardStore::open(dir.path()).expect("open");
            store.append(1, b"a v=1 1\n").expect("append");
            store.append(2, b"b v=1 1\nb v=2 2\n").expect("append");
            store.append(1, b"a v=3 3\n").expect("append");
            store.summaries()
        };
        std::fs::write(dir.path().join("shards/3.partial"), b"ignored").expect("write");
        std::fs::write(dir.path().join("shards/notes.txt"), b"ignored").expect("write");
        let store = ShardStore::open(dir.path()).expect("reopen");
        assert_eq!(store.summaries(), before);
        let inventory = store.inventory(|id| id == 2);
        let hot: Vec<_> = inventory.iter().map(|r| (r.shard_id, r.size, r.hot)).collect();
        assert_eq!(hot, vec![(1, 16, false), (2, 16, true)]);
        let after = store.append(1, b"a v=4 4\n").expect("append after reopen");
        assert_eq!(after.checksum, fnv1a(b"a v=1 1\na v=3 3\na v=4 4\n"));
    }

    #[test]
    fn install_partial_replaces_the_shard_atomically_or_rejects_a_corrupt_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ShardStore::open(dir.path()).expect("open");
        store.append(5, b"local v=1 1\n").expect("append");
        let copy = b"copied v=1 1\ncopied v=2 2\n";
        std::fs::write(store.partial_path(5), copy).expect("write partial");
        let wrong = store.install_partial(5, copy.len() as u64, fnv1a(copy) ^ 1);
        assert!(matches!(wrong, Err(DatadError::ChecksumMismatch { shard_id: 5, .. })));
        assert!(!store.partial_path(5).exists(), "a corrupt partial is deleted");
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), b"local v=1 1\n");

        std::fs::write(store.partial_path(5), copy).expect("write partial");
        let v = store.inventory_version();
        let summary = store.install_partial(5, copy.len() as u64, fnv1a(copy)).expect("install");
        assert_eq!(summary.size, copy.len() as u64);
        assert!(store.inventory_version() > v);
        assert!(!store.partial_path(5).exists());
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), copy);
        // Appends go to the new file, not the replaced one.
        store.append(5, b"new v=3 3\n").expect("append");
        let expected = [&copy[..], b"new v=3 3\n"].concat();
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), expected);
        assert_eq!(store.summary(5).map(|s| s.checksum), Some(fnv1a(&expected)));

        // A copy of a shard this node never held creates it.
        std::fs::write(store.partial_path(9), b"x v=1 1\n").expect("write partial");
        store.install_partial(9, 8, fnv1a(b"x v=1 1\n")).expect("install new");
        assert_eq!(store.summaries().len(), 2);
    }
}
