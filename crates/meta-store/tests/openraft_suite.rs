//! Runs the RocksDB storage through openraft's own storage conformance suite.

use meta_store::storage::{open, LogStore, StateMachineStore, StorageError, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageIOError;
use tempfile::TempDir;

/// Builds a fresh store in a temporary directory for every case of the suite.
struct RocksStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RocksStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let (log_store, state_machine) = open(dir.path()).map_err(|e| StorageIOError::write(&e))?;
        Ok((dir, log_store, state_machine))
    }
}

#[test]
fn rocksdb_store_passes_the_openraft_storage_suite() {
    if let Err(error) = Suite::test_all(RocksStoreBuilder) {
        panic!("storage suite failed: {error}");
    }
}
