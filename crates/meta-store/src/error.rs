//! Storage failures: disk, RocksDB, and records this build cannot read.

use meta_model::CodecError;

/// A failure of the storage layer: disk, encoding, or a persisted record this build cannot read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record could not be encoded or decoded (corrupt, truncated, unknown format version).
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A record that must accompany another is missing (e.g. snapshot data without its meta).
    #[error("{what} is missing")]
    Missing {
        /// What was expected.
        what: &'static str,
    },
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database lacks a column family it needs.
    #[error("column family {0} is missing")]
    MissingColumnFamily(&'static str),
}
