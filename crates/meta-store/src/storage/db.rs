//! The RocksDB database behind the log and the state machine, and its key layout.
//!
//! | column family   | key                         | value                               |
//! |-----------------|-----------------------------|-------------------------------------|
//! | `log`           | log index, u64 big-endian   | encoded log entry                   |
//! | `raft`          | `vote`, `committed`, `purged` | encoded vote / log id             |
//! | `state_machine` | `snapshot_meta`, `snapshot_data` | the newest snapshot, written atomically |

use std::path::Path;
use std::sync::Arc;

use openraft::storage::SnapshotSignature;
use openraft::StorageIOError;
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DBRecoveryMode, Options, WriteBatch, WriteOptions, DB};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::type_config::StorageError;
use crate::error::StoreError;
use meta_model::codec;
use meta_model::NodeId;

pub(crate) const CF_LOG: &str = "log";
pub(crate) const CF_RAFT: &str = "raft";
pub(crate) const CF_STATE_MACHINE: &str = "state_machine";

pub(crate) const KEY_VOTE: &[u8] = b"vote";
pub(crate) const KEY_COMMITTED: &[u8] = b"committed";
pub(crate) const KEY_PURGED: &[u8] = b"purged";
pub(crate) const KEY_SNAPSHOT_META: &[u8] = b"snapshot_meta";
pub(crate) const KEY_SNAPSHOT_DATA: &[u8] = b"snapshot_data";

/// The open database, shared by the log store, the state machine and the WAL flusher.
#[derive(Debug)]
pub(crate) struct Db {
    inner: DB,
}

impl Db {
    /// Opens (creating if needed) the database at `path` with all column families.
    pub(crate) fn open(path: &Path) -> Result<Arc<Self>, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // After a power loss, recover the WAL up to its first damaged record and no further: a
        // prefix of what was written, in order (RocksDB's default, stated because the log store
        // relies on it: an unsynced committed id never survives without the entries before it).
        // With several column families RocksDB syncs older WALs before a memtable flush makes
        // one family's data durable, so the prefix holds across families too.
        options.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
        let families =
            [CF_LOG, CF_RAFT, CF_STATE_MACHINE].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let inner = DB::open_cf_descriptors(&options, path, families)?;
        Ok(Arc::new(Db { inner }))
    }

    pub(crate) fn raw(&self) -> &DB {
        &self.inner
    }

    pub(crate) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.inner.cf_handle(name).ok_or(StoreError::MissingColumnFamily(name))
    }

    /// Reads and decodes one value.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.inner.get_pinned_cf(self.cf(cf)?, key)? {
            Some(bytes) => Ok(Some(codec::decode(what, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Encodes and writes one value; with `sync` the WAL is fsynced before returning.
    pub(crate) fn put<T: Serialize>(
        &self,
        cf: &'static str,
        key: &[u8],
        what: &'static str,
        value: &T,
        sync: bool,
    ) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(cf)?, key, codec::encode(what, value)?);
        self.write(batch, sync)
    }

    /// Writes a batch atomically; with `sync` the WAL is fsynced before returning.
    pub(crate) fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.inner.write_opt(batch, &options)?;
        Ok(())
    }
}

/// The key of log entry `index`: big-endian, so RocksDB's byte order is index order.
pub(crate) fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index a log key encodes.
pub(crate) fn log_index(key: &[u8]) -> Option<u64> {
    key.try_into().ok().map(u64::from_be_bytes)
}

/// Maps our storage failures onto openraft's error kinds.
pub(crate) enum Failure {
    ReadLogs,
    WriteLogs,
    ReadVote,
    WriteVote,
    Read,
    Write,
    ReadSnapshot(Option<SnapshotSignature<NodeId>>),
    WriteSnapshot(Option<SnapshotSignature<NodeId>>),
}

impl Failure {
    pub(crate) fn of(self, error: impl Into<StoreError>) -> StorageError {
        let error = error.into();
        let io = match self {
            Failure::ReadLogs => StorageIOError::read_logs(&error),
            Failure::WriteLogs => StorageIOError::write_logs(&error),
            Failure::ReadVote => StorageIOError::read_vote(&error),
            Failure::WriteVote => StorageIOError::write_vote(&error),
            Failure::Read => StorageIOError::read(&error),
            Failure::Write => StorageIOError::write(&error),
            Failure::ReadSnapshot(signature) => StorageIOError::read_snapshot(signature, &error),
            Failure::WriteSnapshot(signature) => StorageIOError::write_snapshot(signature, &error),
        };
        io.into()
    }
}
