//! File I/O (the shard store, the hinted-handoff queues) runs on tokio's blocking pool, so it
//! never stalls the tasks serving requests.

use crate::error::DatadError;

/// Runs `work` on the blocking pool; a task that panicked or was cancelled is
/// [`DatadError::Unfinished`].
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DatadError> + Send + 'static,
) -> Result<T, DatadError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|error| Err(DatadError::Unfinished(error.to_string())))
}
