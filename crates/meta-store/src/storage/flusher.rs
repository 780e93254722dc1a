//! Group commit of the Raft log: appends are written to RocksDB without waiting for the disk,
//! then one background thread fsyncs the WAL once for every append queued meanwhile and only
//! then tells openraft the entries are durable.
//!
//! ```text
//!  append(entries, cb) ──► WriteBatch (WAL, no sync) ──► readable at once
//!                     └──► queue cb ──► flusher: drain queue ─► SyncWAL ─► cb.log_io_completed(Ok)
//! ```

use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use openraft::storage::LogFlushed;

use super::db::Db;
use super::type_config::TypeConfig;
use crate::error::StoreError;

/// The handle to the flusher thread; dropping it stops the thread once its queue is empty.
#[derive(Debug)]
pub(crate) struct WalFlusher {
    queue: Option<Sender<LogFlushed<TypeConfig>>>,
    thread: Option<JoinHandle<()>>,
}

impl WalFlusher {
    pub(crate) fn start(db: Arc<Db>) -> Result<Self, StoreError> {
        let (queue, pending) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("raft-wal-sync".to_owned())
            .spawn(move || run(&db, &pending))
            .map_err(|source| StoreError::Io { action: "start", path: "raft-wal-sync thread".to_owned(), source })?;
        Ok(WalFlusher { queue: Some(queue), thread: Some(thread) })
    }

    /// Calls `callback` once everything written so far is on disk.
    pub(crate) fn submit(&self, callback: LogFlushed<TypeConfig>) {
        let Some(queue) = &self.queue else {
            callback.log_io_completed(Err(io::Error::other("the WAL flusher has stopped")));
            return;
        };
        if let Err(mpsc::SendError(callback)) = queue.send(callback) {
            callback.log_io_completed(Err(io::Error::other("the WAL flusher has stopped")));
        }
    }
}

impl Drop for WalFlusher {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            // The thread only ends by its queue closing; a panic there has been reported already.
            let _ = thread.join();
        }
    }
}

fn run(db: &Db, pending: &Receiver<LogFlushed<TypeConfig>>) {
    while let Ok(first) = pending.recv() {
        let mut batch = vec![first];
        batch.extend(pending.try_iter());
        let synced = db.raw().flush_wal(true);
        for callback in batch {
            let result = match &synced {
                Ok(()) => Ok(()),
                Err(error) => Err(io::Error::other(format!("syncing the raft WAL failed: {error}"))),
            };
            callback.log_io_completed(result);
        }
    }
}
