//! The one error type of the suite: what stopped a run before its history could be checked.

use std::time::Duration;

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `docker` command failed.
    #[error("`docker {command}` failed: {message}")]
    Docker {
        /// The arguments.
        command: String,
        /// Its standard error, or why it could not run.
        message: String,
    },
    /// A condition did not come true in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// The condition.
        what: String,
        /// How long it was waited for.
        after: Duration,
    },
    /// The cluster did something it must not (e.g. replicas that never agree).
    #[error("{0}")]
    Cluster(String),
}
