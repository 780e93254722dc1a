//! Shard files: one append-only file per shard, `DATA_DIR/shards/{id}.shard`, in the layout of
//! [`crate::shard_file`] (a header naming the cluster and shard, then one framed record per
//! append), with its size, header and xxh3-64 digest kept in memory (updated on every append,
//! recomputed from the files at start, where a torn last append is cut off).
//!
//! Appends are fsynced before they are acknowledged, and go only into a file whose header names
//! the shard the caller expects. A copy arrives as `{id}.partial`, is checked against the source's
//! digest and the expected header, fsynced and renamed over `{id}.shard` (then the directory is
//! fsynced), so a shard file is always either the old content or the complete copy.
//!
//! Files the store cannot take as a shard of its cluster are kept, never appended to, copied from
//! or deleted: unreadable ones, `{id}.lp` files of the layout before headers until
//! [`ShardStore::migrate_legacy`] rewrites them, and a file whose header names another cluster's
//! shard (or another shard) when the metadata's shard of that number is written or copied here:
//! that one is moved to `shards/orphans/` first.
//!
//! The store is synchronous (plain `std::fs`); async callers run it on the blocking pool.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::Xxh3;

use meta_model::ShardId;
use meta_wire::{ShardContent, ShardReport, ShardSummary};

use crate::content_tree::{still_differing, ContentTree, LeafRange, NodeId, SERIES_BUCKETS};
use crate::error::DatadError;
use crate::frame;
use crate::shard_file::{self, ShardHeader, MAGIC};

/// Where files of other clusters' shards (or of other shards under a number) are set aside.
const ORPHANS_DIR: &str = "orphans";

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

/// The reason of a `.lp` file of the layout before headers, not migrated yet.
const LEGACY_LAYOUT: &str = "legacy_layout";

/// A file in the shard directory that is no shard file this store can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusableFile {
    /// The file's name.
    pub name: String,
    /// The shard its name gives.
    pub shard_id: Option<ShardId>,
    /// Its size.
    pub bytes: u64,
    /// Why: `legacy_layout` (a `.lp` file not migrated), `unreadable: ...`, or, for a file set
    /// aside into `orphans/`, `other_cluster`, `header_mismatch` (`set_aside` after a restart).
    pub reason: String,
}

/// One shard file and what is known about it.
struct ShardFile {
    /// Open for appending once written to; dropped when the file is replaced.
    append: Option<File>,
    size: u64,
    digest: Xxh3,
    header: ShardHeader,
    /// The digest of its points, independent of their order and duplicates.
    content: ContentTree,
    /// When it was last written (appended to or installed; the file's time when opened).
    last_write: SystemTime,
    /// Set once the file was deleted: an append that took this entry before must start anew.
    removed: bool,
}

impl std::fmt::Debug for ShardFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardFile")
            .field("size", &self.size)
            .field("digest", &format_args!("{:016x}", self.digest.digest()))
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// The shard files of one data node.
#[derive(Debug)]
pub struct ShardStore {
    dir: PathBuf,
    shards: Mutex<BTreeMap<ShardId, Arc<Mutex<ShardFile>>>>,
    /// Files kept but not used, by name.
    unusable: Mutex<BTreeMap<String, UnusableFile>>,
    inventory_version: AtomicU64,
    /// Held shared by an append from its routing check until it is stored
    /// ([`ShardStore::hold_copy_start`]), and exclusively while a copy's starting point (size
    /// and checksum, [`ShardStore::digest`]) is read: every append lands before a copy's start or
    /// was checked against metadata at least as new as the one the copy started under.
    copy_start: RwLock<()>,
}

/// Locks `mutex`, recovering the data if a panicking thread held it (the values stay coherent:
/// every update is a plain assignment after the I/O succeeded).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UnusableFile {
    /// Whether it is a file of the layout before headers, waiting for migration.
    pub fn is_legacy(&self) -> bool {
        self.reason == LEGACY_LAYOUT
    }
}

impl ShardStore {
    /// Opens (creating it if needed) `data_dir/shards`, reads every `*.shard` file in it (cutting
    /// off a torn last append) and notes the files it cannot use.
    pub fn open(data_dir: &Path) -> Result<Self, DatadError> {
        let dir = data_dir.join("shards");
        std::fs::create_dir_all(&dir).map_err(DatadError::io("create", &dir))?;
        let mut shards = BTreeMap::new();
        let mut unusable = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(DatadError::io("list", &dir))? {
            let path = entry.map_err(DatadError::io("list", &dir))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if let Some(shard_id) = shard_id_of(&path, "lp") {
                tracing::warn!(file = %name, "shard file of the layout before headers: to be migrated");
                let reason = LEGACY_LAYOUT.to_owned();
                unusable.insert(name.clone(), UnusableFile { name, shard_id: Some(shard_id), bytes, reason });
                continue;
            }
            let Some(shard_id) = shard_id_of(&path, "shard") else { continue };
            match read_shard_file(&path) {
                Ok(file) if file.header.shard_id == shard_id => {
                    tracing::debug!(shard_id, size = file.size, "shard file found");
                    shards.insert(shard_id, Arc::new(Mutex::new(file)));
                }
                Ok(file) => {
                    let reason = format!("unreadable: its header names shard {}", file.header.shard_id);
                    let name = move_aside(&dir, &path, shard_id)?;
                    tracing::error!(file = %name, %reason, "shard file set aside, kept unused");
                    unusable.insert(name.clone(), UnusableFile { name, shard_id: Some(shard_id), bytes, reason });
                }
                Err(error) => {
                    // Moved out of the way, so neither a write nor a copy of the shard can
                    // replace what it holds: an operator decides.
                    let reason = format!("unreadable: {error}");
                    let name = move_aside(&dir, &path, shard_id)?;
                    tracing::error!(file = %name, %reason, "shard file set aside, kept unused");
                    unusable.insert(name.clone(), UnusableFile { name, shard_id: Some(shard_id), bytes, reason });
                }
            }
        }
        let aside = dir.join(ORPHANS_DIR);
        if let Ok(entries) = std::fs::read_dir(&aside) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let shard_id = file.split('.').next().and_then(|id| id.parse().ok());
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                let name = format!("{ORPHANS_DIR}/{file}");
                let reason = if file.contains(".torn-at-") { "torn_append" } else { "set_aside" }.to_owned();
                unusable.entry(name.clone()).or_insert(UnusableFile { name, shard_id, bytes, reason });
            }
        }
        tracing::info!(dir = %dir.display(), shards = shards.len(), unusable = unusable.len(), "shard store opened");
        // Starting from the clock keeps the version increasing across restarts.
        let start = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
        Ok(ShardStore {
            dir,
            shards: Mutex::new(shards),
            unusable: Mutex::new(unusable),
            inventory_version: AtomicU64::new(start),
            copy_start: RwLock::new(()),
        })
    }

    /// The directory holding the shard files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a shard's file.
    pub fn shard_path(&self, shard_id: ShardId) -> PathBuf {
        self.dir.join(format!("{shard_id}.shard"))
    }

    /// Path of a shard's copy in progress.
    pub fn partial_path(&self, shard_id: ShardId) -> PathBuf {
        self.dir.join(format!("{shard_id}.partial"))
    }

    /// The files kept but not used (legacy layout not yet migrated, unreadable), by name.
    pub fn unusable(&self) -> Vec<UnusableFile> {
        lock(&self.unusable).values().cloned().collect()
    }

    /// Rewrites each `{id}.lp` file of the layout before headers into `{id}.shard` under the
    /// header `header_of(id)` gives (fsynced, renamed, the old file deleted); files whose shard it
    /// does not know (`None`) stay as they are. Returns the shards migrated.
    pub fn migrate_legacy(
        &self,
        header_of: impl Fn(ShardId) -> Option<ShardHeader>,
    ) -> Result<Vec<ShardId>, DatadError> {
        let legacy: Vec<(String, ShardId)> = lock(&self.unusable)
            .values()
            .filter(|f| f.is_legacy())
            .filter_map(|f| Some((f.name.clone(), f.shard_id?)))
            .collect();
        let mut migrated = Vec::new();
        for (name, shard_id) in legacy {
            let Some(header) = header_of(shard_id) else { continue };
            if self.entry(shard_id).is_some() {
                tracing::error!(file = %name, shard_id, "both layouts hold this shard; the old file is kept unused");
                continue;
            }
            let (old_path, new_path) = (self.dir.join(&name), self.shard_path(shard_id));
            let old = std::fs::read(&old_path).map_err(DatadError::io("read", &old_path))?;
            let tmp = self.dir.join(format!("{shard_id}.migrating"));
            let mut file = File::create(&tmp).map_err(DatadError::io("create", &tmp))?;
            file.write_all(&shard_file::migrate_legacy(&header, &old))
                .and_then(|()| file.sync_all())
                .map_err(DatadError::io("write", &tmp))?;
            std::fs::rename(&tmp, &new_path).map_err(DatadError::io("rename to", &new_path))?;
            sync_dir(&self.dir)?;
            std::fs::remove_file(&old_path).map_err(DatadError::io("delete", &old_path))?;
            sync_dir(&self.dir)?;
            let shard = read_shard_file(&new_path)?;
            lock(&self.shards).insert(shard_id, Arc::new(Mutex::new(shard)));
            lock(&self.unusable).remove(&name);
            tracing::info!(shard_id, bytes = old.len(), "shard file migrated to the layout with headers");
            migrated.push(shard_id);
        }
        if !migrated.is_empty() {
            self.bump_inventory_version();
        }
        Ok(migrated)
    }
    /// Moves the file of `shard_id`, whose header (`found`) names another cluster's shard or
    /// another shard than the metadata's (`expected`), to `shards/orphans/`, where it is kept and
    /// reported, never used or deleted.
    /// `entry` is the file as the caller saw it: when another caller set it aside meanwhile,
    /// nothing is moved.
    fn set_aside(
        &self,
        shard_id: ShardId,
        entry: &Arc<Mutex<ShardFile>>,
        found: &ShardHeader,
        expected: &ShardHeader,
    ) -> Result<(), DatadError> {
        let from = self.shard_path(shard_id);
        let mut shards = lock(&self.shards);
        if !shards.get(&shard_id).is_some_and(|current| Arc::ptr_eq(current, entry)) {
            return Ok(());
        }
        let name = move_aside(&self.dir, &from, shard_id)?;
        let bytes = shards.remove(&shard_id).map_or(0, |entry| lock(&entry).size);
        let reason = if found.cluster_id == expected.cluster_id { "header_mismatch" } else { "other_cluster" };
        tracing::warn!(
            shard_id, file = %name, reason, found_cluster = %found.cluster_id, found_database = %found.database,
            found_policy = %found.retention_policy, "shard file of another shard set aside; it is kept, never used"
        );
        let file = UnusableFile { name: name.clone(), shard_id: Some(shard_id), bytes, reason: reason.to_owned() };
        lock(&self.unusable).insert(name, file);
        self.bump_inventory_version();
        Ok(())
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

    /// Keeps copies from starting (their size and checksum being read, [`ShardStore::digest`])
    /// while the guard lives: a routed append holds it from the check of its routing against
    /// the node's metadata until it is stored, so no copy starts between the two.
    pub(crate) fn hold_copy_start(&self) -> RwLockReadGuard<'_, ()> {
        self.copy_start.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry(&self, shard_id: ShardId) -> Option<Arc<Mutex<ShardFile>>> {
        lock(&self.shards).get(&shard_id).cloned()
    }

    /// Appends `data` (whole lines) to a shard as one record, creating its file under `header`
    /// when there is none, and fsyncs it before returning. Refused when the shard's file has
    /// another header: it belongs to another cluster or to another shard under this number.
    pub fn append(&self, shard_id: ShardId, data: &[u8], header: &ShardHeader) -> Result<ShardSummary, DatadError> {
        let path = self.shard_path(shard_id);
        let entry = {
            let mut shards = lock(&self.shards);
            match shards.get(&shard_id) {
                Some(entry) => Arc::clone(entry),
                None => {
                    let start = header.encode();
                    let mut file = OpenOptions::new()
                        .create(true)
                        .truncate(true)
                        .write(true)
                        .open(&path)
                        .map_err(DatadError::io("create", &path))?;
                    file.write_all(&start).and_then(|()| file.sync_data()).map_err(DatadError::io("write", &path))?;
                    sync_dir(&self.dir)?;
                    let mut digest = Xxh3::new();
                    digest.update(&start);
                    let shard = ShardFile {
                        append: None,
                        size: start.len() as u64,
                        digest,
                        header: header.clone(),
                        content: ContentTree::new(header.start, header.end),
                        last_write: SystemTime::now(),
                        removed: false,
                    };
                    let entry = Arc::new(Mutex::new(shard));
                    shards.insert(shard_id, Arc::clone(&entry));
                    entry
                }
            }
        };
        let mut shard = lock(&entry);
        if shard.removed {
            // Deleted between the lookup and the lock: the shard starts a new file.
            drop(shard);
            return self.append(shard_id, data, header);
        }
        if !shard.header.same_shard(header) {
            // Not this cluster's shard under this number: kept aside for the operator, and the
            // shard starts a file of its own.
            let found = shard.header.clone();
            drop(shard);
            self.set_aside(shard_id, &entry, &found, header)?;
            return self.append(shard_id, data, header);
        }
        if shard.append.is_none() {
            let file = OpenOptions::new().append(true).open(&path).map_err(DatadError::io("open", &path))?;
            shard.append = Some(file);
        }
        let mut record = Vec::with_capacity(frame::HEADER_LEN + data.len());
        frame::encode(data, &mut record);
        let old_size = shard.size;
        if let Some(file) = shard.append.as_mut() {
            if let Err(source) = file.write_all(&record).and_then(|()| file.sync_data()) {
                // Undo a partial append so the file keeps matching its size and digest.
                if let Err(error) = file.set_len(old_size) {
                    tracing::error!(shard_id, %error, "cannot undo a failed append");
                }
                shard.append = None;
                return Err(DatadError::Io { action: "append to", path, source });
            }
        }
        shard.size += record.len() as u64;
        shard.digest.update(&record);
        shard.last_write = SystemTime::now();
        if let Err(error) = shard.content.insert_record(data) {
            tracing::warn!(shard_id, %error, "a stored record is left out of the content digest");
        }
        self.bump_inventory_version();
        Ok(ShardSummary { shard_id, size: shard.size, checksum: shard.digest.digest() })
    }

    /// Deletes a shard's file (the metadata no longer gives it to this node); its size, or
    /// `None` when the node held none. An append racing with the deletion starts a new file.
    pub fn remove_shard(&self, shard_id: ShardId) -> Result<Option<u64>, DatadError> {
        let mut shards = lock(&self.shards);
        let Some(entry) = shards.get(&shard_id).cloned() else { return Ok(None) };
        let mut shard = lock(&entry);
        let path = self.shard_path(shard_id);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(DatadError::Io { action: "delete", path, source }),
        }
        sync_dir(&self.dir)?;
        shard.removed = true;
        shard.append = None;
        shards.remove(&shard_id);
        self.bump_inventory_version();
        Ok(Some(shard.size))
    }

    /// A shard's size and digest, if this node holds it.
    pub fn summary(&self, shard_id: ShardId) -> Option<ShardSummary> {
        let entry = self.entry(shard_id)?;
        let shard = lock(&entry);
        Some(ShardSummary { shard_id, size: shard.size, checksum: shard.digest.digest() })
    }

    /// A shard's content digest, the digests of `nodes` of its tree and the point hashes of
    /// `leaves` (`None`: not held).
    pub(crate) fn content(
        &self,
        shard_id: ShardId,
        nodes: &[NodeId],
        leaves: &[usize],
    ) -> Option<(ShardContent, Vec<u64>, Vec<Vec<u64>>)> {
        let entry = self.entry(shard_id)?;
        let shard = lock(&entry);
        let content = ShardContent { shard_id, points: shard.content.points(), root: shard.content.root() };
        let digests = nodes.iter().map(|&node| shard.content.digest(node)).collect();
        Some((content, digests, leaves.iter().map(|&leaf| shard.content.leaf_points(leaf)).collect()))
    }

    /// Of `nodes` of a shard's tree, those whose digest differs from `theirs` (see
    /// [`still_differing`]); `None`: not held.
    pub(crate) fn still_differing(&self, shard_id: ShardId, nodes: &[NodeId], theirs: &[u64]) -> Option<Vec<NodeId>> {
        let entry = self.entry(shard_id)?;
        let shard = lock(&entry);
        Some(still_differing(&shard.content, nodes, theirs))
    }

    /// The stored lines (each ending in `\n`) of a shard's points whose hash is in `hashes` and
    /// whose leaf is in `leaves`, each point once: what a repair sends the other owner. Reads the
    /// file as it is now, record by record.
    ///
    /// # Errors
    /// [`DatadError::ShardNotFound`] when the shard is not held; I/O errors reading its file.
    pub fn matching_lines(
        &self,
        shard_id: ShardId,
        leaves: &BTreeSet<usize>,
        hashes: &BTreeSet<u64>,
    ) -> Result<Vec<u8>, DatadError> {
        let entry = self.entry(shard_id).ok_or(DatadError::ShardNotFound { shard_id })?;
        let (locator, end) = {
            let shard = lock(&entry);
            (ContentTree::new(shard.header.start, shard.header.end), shard.size)
        };
        let path = self.shard_path(shard_id);
        let start = records_start(&path)?;
        let mut file = File::open(&path).map_err(DatadError::io("open", &path))?;
        file.seek(SeekFrom::Start(start)).map_err(DatadError::io("seek in", &path))?;
        let mut reader = BufReader::with_capacity(256 * 1024, file.take(end.saturating_sub(start)));
        // Lines of other time slices are skipped by their timestamp alone: a repair of a few
        // leaves parses a few slices' lines, not the whole file.
        let slices: BTreeSet<usize> = leaves.iter().map(|leaf| leaf / SERIES_BUCKETS).collect();
        let (mut payload, mut sent, mut out) = (Vec::new(), BTreeSet::new(), Vec::new());
        while frame::read_next(&mut reader, &mut payload).map_err(DatadError::io("read", &path))?.is_some() {
            for line in payload.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if locator.time_slice_of(line).is_some_and(|slice| !slices.contains(&slice)) {
                    continue;
                }
                let Ok((leaf, hash)) = locator.locate(line) else { continue };
                if leaves.contains(&leaf) && hashes.contains(&hash) && sent.insert(hash) {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
        }
        Ok(out)
    }

    /// What leaf `index` of a shard's tree holds; `None`: not held.
    pub(crate) fn leaf_range(&self, shard_id: ShardId, index: usize) -> Option<LeafRange> {
        let entry = self.entry(shard_id)?;
        let shard = lock(&entry);
        Some(shard.content.leaf_range(index))
    }

    /// The content digest of every shard held: its distinct points and its root.
    pub fn contents(&self) -> Vec<ShardContent> {
        let shards = lock(&self.shards);
        shards
            .iter()
            .map(|(&shard_id, entry)| {
                let shard = lock(entry);
                ShardContent { shard_id, points: shard.content.points(), root: shard.content.root() }
            })
            .collect()
    }

    /// Every shard held, by ID, with the header of its file.
    pub fn files(&self) -> Vec<(ShardSummary, ShardHeader)> {
        let shards = lock(&self.shards);
        shards
            .iter()
            .map(|(&shard_id, entry)| {
                let shard = lock(entry);
                (ShardSummary { shard_id, size: shard.size, checksum: shard.digest.digest() }, shard.header.clone())
            })
            .collect()
    }

    /// Every shard held, by ID.
    pub fn summaries(&self) -> Vec<ShardSummary> {
        self.files().into_iter().map(|(summary, _)| summary).collect()
    }

    /// The inventory as a heartbeat reports it: the files `usable` accepts (by their header; the
    /// others are not this cluster's shards and must not be copied from). A shard is hot while
    /// `group_open` says its group still takes writes or it was written within `cold_after`
    /// before `now`; a cold one carries its content root, which owners compare.
    pub fn inventory(
        &self,
        group_open: impl Fn(ShardId) -> bool,
        usable: impl Fn(&ShardHeader) -> bool,
        cold_after: Duration,
        now: SystemTime,
    ) -> Vec<ShardReport> {
        let shards = lock(&self.shards);
        shards
            .iter()
            .filter_map(|(&shard_id, entry)| {
                let shard = lock(entry);
                if !usable(&shard.header) {
                    return None;
                }
                let written_lately = now.duration_since(shard.last_write).unwrap_or_default() < cold_after;
                let hot = group_open(shard_id) || written_lately;
                Some(ShardReport {
                    shard_id,
                    size: shard.size,
                    checksum: shard.digest.digest(),
                    hot,
                    content: (!hot).then(|| shard.content.root()),
                    points: (!hot).then(|| shard.content.points()),
                })
            })
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
    /// The size is read while no routed append is between its check and its store (appends hold
    /// `hold_copy_start` from their routing check to their store): a copy starting from it misses
    /// no append routed by older metadata.
    pub fn digest(&self, shard_id: ShardId, len: Option<u64>) -> Result<(ShardSummary, u64, u64), DatadError> {
        let summary = {
            let _start = self.copy_start.write().unwrap_or_else(PoisonError::into_inner);
            self.summary(shard_id)
        };
        let summary = summary.ok_or(DatadError::ShardNotFound { shard_id })?;
        let len = len.unwrap_or(summary.size);
        if len > summary.size {
            let range = format!("0-{len}");
            return Err(DatadError::RangeNotSatisfiable { shard_id, range, size: summary.size });
        }
        if len == summary.size {
            return Ok((summary, len, summary.checksum));
        }
        let (_, digest) = file_digest(&self.shard_path(shard_id), Some(len))?;
        Ok((summary, len, digest.digest()))
    }

    /// Makes a finished copy the shard's file: checks the partial file holds `size` bytes with
    /// digest `checksum` and is a file of the shard `expected` names (deleting it when not),
    /// adds the records of the node's own file of the shard (the writes it took as a pending
    /// owner while the copy ran, or what an owner refilled held), fsyncs it, renames it over
    /// `{id}.shard` and fsyncs the directory. Points are idempotent, so records present in both
    /// count once in the content digest. Returns the installed file's size and checksum.
    pub fn install_partial(
        &self,
        shard_id: ShardId,
        size: u64,
        checksum: u64,
        expected: &ShardHeader,
    ) -> Result<ShardSummary, DatadError> {
        let partial = self.partial_path(shard_id);
        let discard = || {
            if let Err(error) = std::fs::remove_file(&partial) {
                tracing::warn!(shard_id, %error, "cannot delete a rejected partial copy");
            }
        };
        let (actual_size, digest) = file_digest(&partial, None)?;
        if actual_size != size || digest.digest() != checksum {
            discard();
            return Err(DatadError::ChecksumMismatch { shard_id, expected: checksum, actual: digest.digest() });
        }
        if let Some(entry) = self.entry(shard_id) {
            let found = lock(&entry).header.clone();
            if !found.same_shard(expected) {
                self.set_aside(shard_id, &entry, &found, expected)?;
            }
        }
        let copied = match read_shard_file(&partial) {
            Ok(copied) if copied.header.same_shard(expected) && copied.size == size => copied,
            Ok(copied) => {
                discard();
                let found = Box::new(copied.header);
                return Err(DatadError::ShardFileConflict { shard_id, found, expected: Box::new(expected.clone()) });
            }
            Err(error) => {
                discard();
                return Err(error);
            }
        };
        let mut copied = copied;
        let mut out = OpenOptions::new().append(true).open(&partial).map_err(DatadError::io("open", &partial))?;
        let target = self.shard_path(shard_id);
        // The node's own records, in two passes: the bulk with no lock held, then, holding the
        // shard until its file is replaced, the records appended meanwhile.
        let mut merged: Option<(Arc<Mutex<ShardFile>>, u64)> = None;
        if let Some(entry) = self.entry(shard_id) {
            let (end, same) = {
                let own = lock(&entry);
                (own.size, !own.removed && own.header.same_shard(expected))
            };
            if same {
                let bulk = records_start(&target)
                    .and_then(|start| append_records(&target, start, end, &mut out, &partial, &mut copied));
                if let Err(error) = bulk {
                    discard();
                    return Err(error);
                }
                merged = Some((entry, end));
            }
        }
        let mut shards = lock(&self.shards);
        let entry = shards.entry(shard_id).or_insert_with(|| {
            let empty = ShardFile {
                append: None,
                size: 0,
                digest: Xxh3::new(),
                header: expected.clone(),
                content: ContentTree::new(expected.start, expected.end),
                last_write: SystemTime::now(),
                removed: false,
            };
            Arc::new(Mutex::new(empty))
        });
        let mut shard = lock(entry);
        if !shard.removed && shard.header.same_shard(expected) && shard.size > 0 {
            let tail = match &merged {
                Some((first, end)) if Arc::ptr_eq(first, entry) => Ok(*end),
                _ => records_start(&target),
            }
            .and_then(|from| append_records(&target, from, shard.size, &mut out, &partial, &mut copied));
            if let Err(error) = tail {
                discard();
                return Err(error);
            }
        }
        out.sync_all().map_err(DatadError::io("fsync", &partial))?;
        drop(out);
        let (size, checksum) = (copied.size, copied.digest.digest());
        std::fs::rename(&partial, &target).map_err(DatadError::io("rename to", &target))?;
        sync_dir(&self.dir)?;
        *shard = ShardFile { append: None, last_write: SystemTime::now(), ..copied };
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

/// Size and xxh3-64 digest of a file's first `len` bytes (all of it when `None`).
pub fn file_digest(path: &Path, len: Option<u64>) -> Result<(u64, Xxh3), DatadError> {
    let file = File::open(path).map_err(DatadError::io("open", path))?;
    let mut reader = file.take(len.unwrap_or(u64::MAX));
    let mut digest = Xxh3::new();
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

/// Reads a shard file frame by frame (never all of it at once): its header, size and digest. A
/// torn or corrupt frame at the end (an append that never finished, so was never acknowledged)
/// is cut off the file.
fn read_shard_file(path: &Path) -> Result<ShardFile, DatadError> {
    let file = File::open(path).map_err(DatadError::io("open", path))?;
    let total = file.metadata().map_err(DatadError::io("stat", path))?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let invalid = |message: String| DatadError::Io {
        action: "read",
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    let mut magic = [0u8; 8];
    if reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(invalid(shard_file::LayoutError::NoMagic.to_string()));
    }
    let mut digest = Xxh3::new();
    digest.update(&magic);
    let mut valid = magic.len() as u64;
    let mut header: Option<ShardHeader> = None;
    let mut content: Option<ContentTree> = None;
    let mut payload = Vec::new();
    while let Some(raw) = frame::read_next(&mut reader, &mut payload).map_err(DatadError::io("read", path))? {
        match content.as_mut() {
            None => {
                let parsed = shard_file::parse_header(&payload).map_err(|e| invalid(e.to_string()))?;
                content = Some(ContentTree::new(parsed.start, parsed.end));
                header = Some(parsed);
            }
            Some(content) => {
                if let Err(error) = content.insert_record(&payload) {
                    tracing::warn!(path = %path.display(), %error, "a stored record is left out of the content digest");
                }
            }
        }
        digest.update(&raw);
        digest.update(&payload);
        valid += (frame::HEADER_LEN + payload.len()) as u64;
    }
    let (Some(header), Some(content)) = (header, content) else {
        return Err(invalid(shard_file::LayoutError::BadHeader("missing".to_owned()).to_string()));
    };
    if valid < total {
        // An append cut short by a crash ends the file inside its own frame (never acknowledged:
        // appends are fsynced first). A whole frame whose checksum fails, or bytes past a bad
        // frame, are damage to acknowledged data: the file is kept whole for an operator.
        let rest = total - valid;
        let mut raw = [0u8; frame::HEADER_LEN];
        let header = read_at(path, valid, &mut raw).ok().and_then(|()| frame::Header::parse(raw));
        let torn = rest < frame::HEADER_LEN as u64 || header.is_some_and(|h| valid + frame::framed_len(h.len) > total);
        if !torn {
            return Err(invalid(format!(
                "a corrupt record at byte {valid} with {rest} bytes from there to the end: damage, not a torn append"
            )));
        }
        let kept = keep_torn_tail(path, valid)?;
        tracing::warn!(path = %path.display(), cut = rest, kept = %kept, "torn append cut off a shard file (its bytes kept)");
        let file = OpenOptions::new().write(true).open(path).map_err(DatadError::io("open", path))?;
        file.set_len(valid).and_then(|()| file.sync_all()).map_err(DatadError::io("truncate", path))?;
    }
    let last_write = std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now());
    Ok(ShardFile { append: None, size: valid, digest, header, content, last_write, removed: false })
}

/// Moves `path` (the file of `shard_id` in the shard directory `dir`) to `dir/orphans/` under a
/// name no other file there has; returns its name relative to `dir`.
fn move_aside(dir: &Path, path: &Path, shard_id: ShardId) -> Result<String, DatadError> {
    let aside = dir.join(ORPHANS_DIR);
    std::fs::create_dir_all(&aside).map_err(DatadError::io("create", &aside))?;
    let mut name = format!("{shard_id}.shard");
    let mut n = 1;
    while aside.join(&name).exists() {
        name = format!("{shard_id}.shard.{n}");
        n += 1;
    }
    std::fs::rename(path, aside.join(&name)).map_err(DatadError::io("move aside", path))?;
    sync_dir(dir)?;
    sync_dir(&aside)?;
    Ok(format!("{ORPHANS_DIR}/{name}"))
}

/// Copies the bytes of `path` from `offset` on into `orphans/` beside it before a torn append is
/// cut off, so that cutting never destroys bytes; returns the copy's name.
fn keep_torn_tail(path: &Path, offset: u64) -> Result<String, DatadError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let aside = dir.join(ORPHANS_DIR);
    std::fs::create_dir_all(&aside).map_err(DatadError::io("create", &aside))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = format!("{file_name}.torn-at-{offset}");
    let mut from = File::open(path).map_err(DatadError::io("open", path))?;
    from.seek(SeekFrom::Start(offset)).map_err(DatadError::io("seek in", path))?;
    let target = aside.join(&name);
    let mut to = File::create(&target).map_err(DatadError::io("create", &target))?;
    std::io::copy(&mut from, &mut to).and_then(|_| to.sync_all()).map_err(DatadError::io("write", &target))?;
    sync_dir(&aside)?;
    Ok(format!("{ORPHANS_DIR}/{name}"))
}

/// Reads `buf.len()` bytes of `path` at `offset`.
fn read_at(path: &Path, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// Where the records of a shard file start: after its magic and its header frame.
fn records_start(path: &Path) -> Result<u64, DatadError> {
    let mut reader = BufReader::new(File::open(path).map_err(DatadError::io("open", path))?);
    let mut magic = [0u8; 8];
    reader.read_exact(&mut magic).map_err(DatadError::io("read", path))?;
    let mut payload = Vec::new();
    match frame::read_next(&mut reader, &mut payload).map_err(DatadError::io("read", path))? {
        Some(_) if &magic == MAGIC => Ok(magic.len() as u64 + frame::framed_len(payload.len())),
        _ => Err(DatadError::Io {
            action: "read",
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no shard header"),
        }),
    }
}

/// Appends the records of `from` in bytes `[start, end)` (whole frames) to `out` (the file at
/// `out_path`), adding them to `file`'s size, digest and content.
fn append_records(
    from: &Path,
    start: u64,
    end: u64,
    out: &mut File,
    out_path: &Path,
    file: &mut ShardFile,
) -> Result<(), DatadError> {
    if end <= start {
        return Ok(());
    }
    let mut source = File::open(from).map_err(DatadError::io("open", from))?;
    source.seek(SeekFrom::Start(start)).map_err(DatadError::io("seek in", from))?;
    let mut reader = BufReader::with_capacity(256 * 1024, source.take(end - start));
    let mut payload = Vec::new();
    let mut read = 0;
    while let Some(raw) = frame::read_next(&mut reader, &mut payload).map_err(DatadError::io("read", from))? {
        out.write_all(&raw).and_then(|()| out.write_all(&payload)).map_err(DatadError::io("append to", out_path))?;
        file.digest.update(&raw);
        file.digest.update(&payload);
        file.size += frame::framed_len(payload.len());
        read += frame::framed_len(payload.len());
        if let Err(error) = file.content.insert_record(&payload) {
            tracing::warn!(path = %from.display(), %error, "a stored record is left out of the content digest");
        }
    }
    if read != end - start {
        let message = format!("records end at byte {} of {end}", start + read);
        let source = std::io::Error::new(std::io::ErrorKind::InvalidData, message);
        return Err(DatadError::Io { action: "read", path: from.to_owned(), source });
    }
    Ok(())
}

/// Fsyncs a directory, making renames and new files in it durable.
fn sync_dir(dir: &Path) -> Result<(), DatadError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(DatadError::io("fsync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_file::tests::header;
    use xxhash_rust::xxh3::xxh3_64;

    /// The bytes of a shard file holding `records`, one per append.
    fn file_of(shard_id: ShardId, records: &[&[u8]]) -> Vec<u8> {
        let mut bytes = header(shard_id).encode();
        records.iter().for_each(|r| frame::encode(r, &mut bytes));
        bytes
    }

    #[test]
    fn append_tracks_size_digest_and_inventory_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ShardStore::open(dir.path()).expect("open");
        let v0 = store.inventory_version();
        store.append(7, b"cpu v=1 1\n", &header(7)).expect("append");
        let summary = store.append(7, b"cpu v=2 2\n", &header(7)).expect("append");
        let expected = file_of(7, &[b"cpu v=1 1\n", b"cpu v=2 2\n"]);
        assert_eq!(summary, ShardSummary { shard_id: 7, size: expected.len() as u64, checksum: xxh3_64(&expected) });
        assert!(store.inventory_version() >= v0 + 2);
        let on_disk = std::fs::read(dir.path().join("shards/7.shard")).expect("read");
        assert_eq!(on_disk, expected);
        assert_eq!(shard_file::lines(&on_disk).expect("lines"), b"cpu v=1 1\ncpu v=2 2\n");
        assert_eq!(store.read_range(7, 10, 5).expect("range"), &expected[10..15]);
        assert_eq!(store.digest(7, Some(10)).expect("digest").2, xxh3_64(&expected[..10]));
        assert!(matches!(store.digest(7, Some(10_000)), Err(DatadError::RangeNotSatisfiable { .. })));
        assert!(matches!(store.read_range(8, 0, 1), Err(DatadError::ShardNotFound { shard_id: 8 })));
    }

    #[test]
    fn a_file_of_another_shard_or_cluster_is_set_aside_never_appended_to() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ShardStore::open(dir.path()).expect("open");
        let mut foreign = header(3);
        foreign.cluster_id = "f".repeat(32);
        store.append(3, b"theirs v=1 1\n", &foreign).expect("append");
        let theirs = std::fs::read(store.shard_path(3)).expect("read");
        store.append(3, b"ours v=1 1\n", &header(3)).expect("append");
        assert_eq!(std::fs::read(store.shard_path(3)).expect("read"), file_of(3, &[b"ours v=1 1\n"]));
        assert_eq!(std::fs::read(dir.path().join("shards/orphans/3.shard")).expect("kept"), theirs);
        let mut other_policy = header(3);
        other_policy.retention_policy = "weekly".to_owned();
        store.append(3, b"weekly v=1 1\n", &other_policy).expect("append");
        let kept: Vec<(String, String)> = store.unusable().into_iter().map(|f| (f.name, f.reason)).collect();
        let expected = [("orphans/3.shard", "other_cluster"), ("orphans/3.shard.1", "header_mismatch")]
            .map(|(n, r)| (n.to_owned(), r.to_owned()));
        assert_eq!(kept, expected);
        drop(store);
        let store = ShardStore::open(dir.path()).expect("reopen");
        assert_eq!(store.unusable().len(), 2, "set-aside files are still reported after a restart");
        assert_eq!(store.summaries().len(), 1);
    }

    #[test]
    fn reopen_recomputes_sizes_and_digests_cuts_a_torn_append_and_keeps_unusable_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = {
            let store = ShardStore::open(dir.path()).expect("open");
            store.append(1, b"a v=1 1\n", &header(1)).expect("append");
            store.append(2, b"b v=1 1\nb v=2 2\n", &header(2)).expect("append");
            store.append(1, b"a v=3 3\n", &header(1)).expect("append");
            store.summaries()
        };
        // A crash in the middle of an append to shard 1: never acknowledged.
        let mut torn = OpenOptions::new().append(true).open(dir.path().join("shards/1.shard")).expect("open");
        torn.write_all(&[30, 0, 0, 0, 1, 2, 3]).expect("torn write");
        drop(torn);
        std::fs::write(dir.path().join("shards/3.partial"), b"ignored").expect("write");
        std::fs::write(dir.path().join("shards/notes.txt"), b"ignored").expect("write");
        std::fs::write(dir.path().join("shards/4.lp"), b"old v=1 1\n").expect("write");
        std::fs::write(dir.path().join("shards/5.shard"), b"garbage").expect("write");
        std::fs::write(dir.path().join("shards/6.shard"), file_of(9, &[])).expect("write");
        let store = ShardStore::open(dir.path()).expect("reopen");
        assert_eq!(store.summaries(), before);
        let reasons: Vec<(String, String)> = store
            .unusable()
            .into_iter()
            .map(|f| (f.name, f.reason.split(':').next().unwrap_or("").to_owned()))
            .collect();
        let torn = format!("orphans/1.shard.torn-at-{}", before[0].size);
        let expected = [
            ("4.lp", "legacy_layout"),
            (torn.as_str(), "torn_append"),
            ("orphans/5.shard", "unreadable"),
            ("orphans/6.shard", "unreadable"),
        ]
        .map(|(n, r)| (n.to_owned(), r.to_owned()));
        assert_eq!(reasons, expected);
        let kept = std::fs::read(dir.path().join("shards").join(&torn)).expect("the torn bytes are kept");
        assert_eq!(kept, [30, 0, 0, 0, 1, 2, 3]);
        let now = SystemTime::now();
        let inventory = store.inventory(|id| id == 2, |h| h.shard_id != 2, Duration::ZERO, now);
        let hot: Vec<_> = inventory.iter().map(|r| (r.shard_id, r.hot, r.content.is_some())).collect();
        assert_eq!(hot, vec![(1, false, true)], "a file its filter refuses is not reported; a cold one has its root");
        let lately = store.inventory(|_| false, |_| true, Duration::from_secs(3600), now);
        assert!(lately.iter().all(|r| r.hot && r.content.is_none()), "written within cold-after: hot, no root");
        let after = store.append(1, b"a v=4 4\n", &header(1)).expect("append after reopen");
        let expected = file_of(1, &[b"a v=1 1\n", b"a v=3 3\n", b"a v=4 4\n"]);
        assert_eq!(after.checksum, xxh3_64(&expected));
        assert_eq!(std::fs::read(store.shard_path(1)).expect("read"), expected);
    }

    /// A record damaged in the middle of a file (a flipped bit) is no torn append: nothing is cut.
    /// The file is moved aside whole, reported, and never written or replaced; the shard starts
    /// afresh (anti-entropy copies it back from another owner, or reports it lost).
    #[test]
    fn a_damaged_record_before_intact_ones_sets_the_whole_file_aside_and_cuts_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = ShardStore::open(dir.path()).expect("open");
            for line in [
                &b"a v=1 1
"[..],
                b"a v=2 2
",
                b"a v=3 3
",
            ] {
                store.append(1, line, &header(1)).expect("append");
            }
        }
        let path = dir.path().join("shards/1.shard");
        let mut bytes = std::fs::read(&path).expect("read");
        let whole = bytes.clone();
        let second = whole.len() - 2 * (frame::HEADER_LEN + 8) + frame::HEADER_LEN + 2;
        bytes[second] ^= 0x20;
        std::fs::write(&path, &bytes).expect("flip a bit in the second record");
        let store = ShardStore::open(dir.path()).expect("reopen");
        assert!(store.summary(1).is_none(), "the damaged file is not used");
        let unusable = store.unusable();
        assert_eq!(unusable.len(), 1, "{unusable:?}");
        assert_eq!(unusable[0].name, "orphans/1.shard");
        assert!(unusable[0].reason.contains("damage, not a torn append"), "{}", unusable[0].reason);
        assert_eq!(std::fs::read(dir.path().join("shards/orphans/1.shard")).expect("kept"), bytes, "nothing cut");
        store
            .append(
                1,
                b"a v=4 4
",
                &header(1),
            )
            .expect("a new file for the shard");
        assert_eq!(std::fs::read(dir.path().join("shards/orphans/1.shard")).expect("kept"), bytes, "untouched");
    }

    #[test]
    fn legacy_files_are_migrated_when_their_shard_is_known_and_kept_otherwise() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("shards")).expect("mkdir");
        std::fs::write(dir.path().join("shards/4.lp"), b"old v=1 1\nold v=2 2\n").expect("write");
        std::fs::write(dir.path().join("shards/8.lp"), b"gone v=1 1\n").expect("write");
        let store = ShardStore::open(dir.path()).expect("open");
        assert!(store.summaries().is_empty(), "not used before migration");
        let migrated = store.migrate_legacy(|id| (id == 4).then(|| header(4))).expect("migrates");
        assert_eq!(migrated, vec![4]);
        let bytes = std::fs::read(store.shard_path(4)).expect("read");
        assert_eq!(shard_file::lines(&bytes).expect("lines"), b"old v=1 1\nold v=2 2\n");
        assert!(!dir.path().join("shards/4.lp").exists());
        assert_eq!(store.summary(4).map(|s| s.checksum), Some(xxh3_64(&bytes)));
        let kept: Vec<String> = store.unusable().into_iter().map(|f| f.name).collect();
        assert_eq!(kept, ["8.lp"], "a file of a shard the metadata does not know stays");
        store.append(4, b"new v=3 3\n", &header(4)).expect("appends after migration");
    }

    #[test]
    fn install_partial_replaces_the_shard_atomically_keeping_local_records_or_rejects_a_bad_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ShardStore::open(dir.path()).expect("open");
        store.append(5, b"local v=1 1\n", &header(5)).expect("append");
        let local = std::fs::read(store.shard_path(5)).expect("read");
        let copy = file_of(5, &[b"copied v=1 1\n", b"copied v=2 2\n"]);
        let len = copy.len() as u64;
        std::fs::write(store.partial_path(5), &copy).expect("write partial");
        let wrong = store.install_partial(5, len, xxh3_64(&copy) ^ 1, &header(5));
        assert!(matches!(wrong, Err(DatadError::ChecksumMismatch { shard_id: 5, .. })));
        assert!(!store.partial_path(5).exists(), "a corrupt partial is deleted");
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), local);

        // A copy of another cluster's shard 5 is refused.
        let mut foreign = header(5);
        foreign.cluster_id = "f".repeat(32);
        let mut other = foreign.encode();
        frame::encode(b"theirs v=1 1\n", &mut other);
        std::fs::write(store.partial_path(5), &other).expect("write partial");
        let refused = store.install_partial(5, other.len() as u64, xxh3_64(&other), &header(5));
        assert!(matches!(refused, Err(DatadError::ShardFileConflict { shard_id: 5, .. })), "{refused:?}");
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), local);

        std::fs::write(store.partial_path(5), &copy).expect("write partial");
        let v = store.inventory_version();
        let summary = store.install_partial(5, len, xxh3_64(&copy), &header(5)).expect("install");
        // What the node stored itself while the copy ran (a pending owner's writes) is kept.
        let merged = file_of(5, &[b"copied v=1 1\n", b"copied v=2 2\n", b"local v=1 1\n"]);
        assert_eq!(summary.size, merged.len() as u64);
        assert_eq!(summary.checksum, xxh3_64(&merged));
        assert!(store.inventory_version() > v);
        assert!(!store.partial_path(5).exists());
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), merged);
        let points = store.contents().into_iter().find(|c| c.shard_id == 5).map(|c| c.points);
        assert_eq!(points, Some(3), "the content digest holds the copied and the local points");
        // Appends go to the new file, not the replaced one.
        store.append(5, b"new v=3 3\n", &header(5)).expect("append");
        let expected = file_of(5, &[b"copied v=1 1\n", b"copied v=2 2\n", b"local v=1 1\n", b"new v=3 3\n"]);
        assert_eq!(std::fs::read(store.shard_path(5)).expect("read"), expected);
        assert_eq!(store.summary(5).map(|s| s.checksum), Some(xxh3_64(&expected)));

        // A copy of a shard this node never held creates it.
        let fresh = file_of(9, &[b"x v=1 1\n"]);
        std::fs::write(store.partial_path(9), &fresh).expect("write partial");
        store.install_partial(9, fresh.len() as u64, xxh3_64(&fresh), &header(9)).expect("install new");
        assert_eq!(store.summaries().len(), 2);
    }
}
