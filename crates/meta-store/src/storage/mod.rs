//! Durable openraft storage on RocksDB: the log and vote ([`LogStore`]) and the state machine
//! ([`StateMachineStore`]) share one database in `DIR`.
//!
//! ```text
//!  openraft ──append/vote/committed──► LogStore ──► RocksDB (cf log, cf raft) ──► WAL fsync
//!      │                                                                     (group commit)
//!      └──apply/snapshot──► StateMachineStore ──► MetaState (memory)
//!                                   └──snapshot──► RocksDB (cf state_machine), fsynced
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), meta_store::StoreError> {
//! let (log_store, state_machine) = meta_store::storage::open(std::path::Path::new("./metad-data/raft"))?;
//! // hand both to `openraft::Raft::new(..)`
//! # let _ = (log_store, state_machine);
//! # Ok(()) }
//! ```

mod db;
mod flusher;
mod log_store;
mod state_machine;
mod type_config;

use std::path::Path;

pub use log_store::LogStore;
pub use state_machine::{AppliedState, ApplyStats, ChangeListener, SharedState, SnapshotBuilder, StateMachineStore};
pub use type_config::{LogEntry, SnapshotMetadata, StorageError, TypeConfig};

use crate::error::StoreError;

/// Opens (creating if needed) the store at `dir` and restores the state from its newest snapshot.
pub fn open(dir: &Path) -> Result<(LogStore, StateMachineStore), StoreError> {
    let db = db::Db::open(dir)?;
    let state_machine = StateMachineStore::open(std::sync::Arc::clone(&db))?;
    let log_store = LogStore::new(db)?;
    Ok((log_store, state_machine))
}
