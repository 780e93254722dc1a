//! The crate's error type, and its HTTP form: `{"error": {"code": "...", "message": "..."}}`.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use meta_client::ClientError;
use meta_model::ShardId;

use crate::shard_file::ShardHeader;
use meta_wire::{ErrorDetail, ErrorReply};

/// Everything that can go wrong in a data node.
#[derive(Debug, thiserror::Error)]
pub enum DatadError {
    /// An option has a bad value.
    #[error("invalid {option} {value:?}: {reason}")]
    Config {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `append to`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The listen address could not be bound or served.
    #[error("cannot serve on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS certificate, key or CA file cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] cluster_tls::TlsError),
    /// The HTTP client for peer data nodes could not be built.
    #[error("cannot build the HTTP client for peers: {0}")]
    PeerClient(String),
    /// The meta service refused a request or could not be reached.
    #[error("meta service: {0}")]
    Meta(#[from] ClientError),
    /// A peer data node (a copy source or a write owner) failed a request.
    #[error("peer {url}: {message}")]
    Peer {
        /// The request.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A copied shard does not match the source's digest.
    #[error("shard {shard_id}: checksum mismatch after copy (expected {expected:016x}, got {actual:016x})")]
    ChecksumMismatch {
        /// The shard.
        shard_id: ShardId,
        /// The source's digest.
        expected: u64,
        /// The digest of the copied bytes.
        actual: u64,
    },
    /// The shard's file (or a copy of it) has a header naming another shard or cluster: it is
    /// kept, never appended to or installed.
    #[error(
        "shard {shard_id}: the file's header names shard {} of database {:?}, policy {:?}, cluster {}, not shard {} of \
         {:?}, {:?}, cluster {}",
        found.shard_id, found.database, found.retention_policy, found.cluster_id,
        expected.shard_id, expected.database, expected.retention_policy, expected.cluster_id
    )]
    ShardFileConflict {
        /// The shard.
        shard_id: ShardId,
        /// What the file says.
        found: Box<ShardHeader>,
        /// What the metadata says.
        expected: Box<ShardHeader>,
    },
    /// A task on the blocking pool panicked or was cancelled.
    #[error("a file task did not finish: {0}")]
    Unfinished(String),
    /// This node holds no file for the shard.
    #[error("shard {shard_id} is not held by this node")]
    ShardNotFound {
        /// The shard.
        shard_id: ShardId,
    },
    /// A byte range lies outside a shard.
    #[error("shard {shard_id}: range {range} is outside its {size} bytes")]
    RangeNotSatisfiable {
        /// The shard.
        shard_id: ShardId,
        /// The range asked for.
        range: String,
        /// The shard's size.
        size: u64,
    },
}

impl DatadError {
    /// A [`DatadError::Io`] error.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DatadError::Io { action, path, source }
    }
}

/// An HTTP error reply with a stable code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `shard_not_found`.
    pub code: String,
    /// What went wrong, naming the field or line.
    pub message: String,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into() }
    }

    /// `400` with `code`.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `404` with `code`.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
}

impl From<DatadError> for ApiError {
    fn from(error: DatadError) -> Self {
        match &error {
            DatadError::ShardNotFound { .. } => ApiError::not_found("shard_not_found", error.to_string()),
            DatadError::RangeNotSatisfiable { .. } => {
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", error.to_string())
            }
            DatadError::ShardFileConflict { .. } => {
                tracing::error!(%error, "append refused");
                ApiError::new(StatusCode::CONFLICT, "shard_file_conflict", error.to_string())
            }
            DatadError::Meta(_) | DatadError::Peer { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", error.to_string())
            }
            _ => {
                // Internal causes (paths, OS errors) are logged, not returned.
                tracing::error!(%error, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the node's log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorReply { error: ErrorDetail { code: self.code, message: self.message } };
        (self.status, Json(body)).into_response()
    }
}
