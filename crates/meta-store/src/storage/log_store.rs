//! The Raft log and vote on RocksDB ([`RaftLogStorage`]).
//!
//! Durability rules: `save_vote` fsyncs before returning; `append` makes the entries readable at
//! once and reports them flushed only after the WAL is fsynced (group commit, see `flusher`);
//! `truncate` fsyncs; `purge` writes the purge mark and the deletion in one atomic batch.
//!
//! `save_committed` writes the committed log id *without* a sync of its own: it reaches the disk
//! with the next fsync of the WAL (the next append's). The committed index is a hint, not Raft
//! state (§5.3 of the Raft paper keeps it volatile; openraft 0.9 documents `save_committed` as
//! optional): a restarted node that lost the latest one applies less at start and re-learns the
//! rest from the leader's next AppendEntries. It can never be ahead of the durable log: the log
//! entries it names were written to the same WAL before it, and RocksDB recovers a prefix of the
//! WAL (point-in-time recovery, set in `db`), so a saved committed id arrives with its entries.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{LogId, OptionalSend, RaftLogId, Vote};
use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::db::{log_index, log_key, Db, Failure, CF_LOG, CF_RAFT, KEY_COMMITTED, KEY_PURGED, KEY_VOTE};
use super::flusher::WalFlusher;
use super::type_config::{LogEntry, StorageError, TypeConfig};
use crate::error::StoreError;
use meta_model::codec;
use meta_model::NodeId;

/// The Raft log and vote, stored in RocksDB. Cheap to clone; clones share the database.
#[derive(Clone, Debug)]
pub struct LogStore {
    db: Arc<Db>,
    flusher: Arc<WalFlusher>,
    /// The last committed index saved, plus one (0: none); for status and readiness.
    committed: Arc<AtomicU64>,
}

impl LogStore {
    pub(crate) fn new(db: Arc<Db>) -> Result<Self, StoreError> {
        let flusher = Arc::new(WalFlusher::start(Arc::clone(&db))?);
        let saved: Option<Option<LogId<NodeId>>> = db.get(CF_RAFT, KEY_COMMITTED, "committed log id")?;
        let committed = Arc::new(AtomicU64::new(saved.flatten().map_or(0, |id| id.index + 1)));
        Ok(LogStore { db, flusher, committed })
    }

    /// The highest log index this node knows to be committed, as last saved by openraft.
    pub fn committed_index(&self) -> Option<u64> {
        self.committed.load(Ordering::Acquire).checked_sub(1)
    }

    fn entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<LogEntry>, StoreError> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut entries = Vec::new();
        let from = log_key(start);
        let iter = self.db.raw().iterator_cf(self.db.cf(CF_LOG)?, IteratorMode::From(&from, Direction::Forward));
        for item in iter {
            let (key, value) = item?;
            match log_index(&key) {
                Some(index) if range.contains(&index) => entries.push(codec::decode("log entry", &value)?),
                _ => break,
            }
        }
        Ok(entries)
    }

    fn last_log_id(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        let mut iter = self.db.raw().iterator_cf(self.db.cf(CF_LOG)?, IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (_, value) = item?;
                let entry: LogEntry = codec::decode("log entry", &value)?;
                Ok(Some(*entry.get_log_id()))
            }
            None => Ok(None),
        }
    }

    fn purged(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        self.db.get(CF_RAFT, KEY_PURGED, "purged log id")
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<LogEntry>, StorageError> {
        self.entries(range).map_err(|e| Failure::ReadLogs.of(e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self.purged().map_err(|e| Failure::ReadLogs.of(e))?;
        let last_log_id = self.last_log_id().map_err(|e| Failure::ReadLogs.of(e))?;
        Ok(LogState { last_purged_log_id, last_log_id: last_log_id.or(last_purged_log_id) })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.db.put(CF_RAFT, KEY_VOTE, "vote", vote, true).map_err(|e| Failure::WriteVote.of(e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.db.get(CF_RAFT, KEY_VOTE, "vote").map_err(|e| Failure::ReadVote.of(e))
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), StorageError> {
        // No fsync: see the module's durability rules.
        self.db.put(CF_RAFT, KEY_COMMITTED, "committed log id", &committed, false).map_err(|e| Failure::Write.of(e))?;
        self.committed.store(committed.map_or(0, |id| id.index + 1), Ordering::Release);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError> {
        let committed: Option<Option<LogId<NodeId>>> =
            self.db.get(CF_RAFT, KEY_COMMITTED, "committed log id").map_err(|e| Failure::Read.of(e))?;
        Ok(committed.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = LogEntry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let write = || -> Result<(), StoreError> {
            let cf = self.db.cf(CF_LOG)?;
            let mut batch = WriteBatch::default();
            for entry in entries {
                batch.put_cf(cf, log_key(entry.get_log_id().index), codec::encode("log entry", &entry)?);
            }
            self.db.write(batch, false)
        };
        write().map_err(|e| Failure::WriteLogs.of(e))?;
        self.flusher.submit(callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let write = || -> Result<(), StoreError> {
            let mut batch = WriteBatch::default();
            batch.delete_range_cf(self.db.cf(CF_LOG)?, log_key(log_id.index), log_key(u64::MAX));
            self.db.write(batch, true)
        };
        write().map_err(|e| Failure::WriteLogs.of(e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let write = || -> Result<(), StoreError> {
            let mut batch = WriteBatch::default();
            batch.put_cf(self.db.cf(CF_RAFT)?, KEY_PURGED, codec::encode("purged log id", &log_id)?);
            let end = log_key(log_id.index.saturating_add(1));
            batch.delete_range_cf(self.db.cf(CF_LOG)?, log_key(0), end);
            self.db.write(batch, false)
        };
        write().map_err(|e| Failure::WriteLogs.of(e))
    }
}
