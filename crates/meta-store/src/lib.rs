//! Durable openraft storage of the cluster metadata on RocksDB: the Raft log and vote
//! ([`storage::LogStore`]) and the state machine ([`storage::StateMachineStore`]) over the pure
//! model of `meta-model`, with snapshots. The model never depends on this crate.
//!
//! ```no_run
//! # fn demo() -> Result<(), meta_store::StoreError> {
//! let (log_store, state_machine) = meta_store::storage::open(std::path::Path::new("./metad-data/raft"))?;
//! // hand both to `openraft::Raft::new(..)`
//! # let _ = (log_store, state_machine);
//! # Ok(()) }
//! ```

mod error;
pub mod storage;

pub use error::StoreError;
