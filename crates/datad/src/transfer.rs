//! Pulling one shard from a peer: resumable, chunked, verified.
//!
//! ```text
//!  GET SOURCE/shards/{id}/digest?min_index=I ─▶ total = size, expected checksum
//!       (the source answers once its metadata reached index I, where the target saw its task)
//!  have = len({id}.partial)              (0 when the partial is longer than total)
//!  GET SOURCE/shards/{id}  Range: bytes=have-(have+chunk-1)  ─▶ 206, append to {id}.partial
//!  ... until have == total
//!  FNV-1a of the partial == checksum ?  ─▶ fsync, rename over {id}.lp, fsync dir
//!                                     : ─▶ delete the partial, error
//! ```
//! A copy of a hot shard (one still written) takes its first `total` bytes: the size when the
//! copy started. Points written afterwards reach the target directly, which is a pending owner of
//! the shard from the moment its task exists (see [`crate::routing`]); installing the copy keeps
//! them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use meta_model::ShardId;
use meta_wire::ErrorReply;

use crate::blocking::blocking;
use crate::error::DatadError;
use crate::shard_file::ShardHeader;
use crate::shard_store::ShardStore;
use meta_wire::ShardSummary;

/// How long a copy's target waits for the source's metadata to reach the index at which the
/// target saw its task.
pub(crate) const SOURCE_CATCH_UP: Duration = Duration::from_secs(10);

/// `GET /shards/{id}/digest` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestReply {
    /// The shard's current size.
    pub size: u64,
    /// How many leading bytes the checksum covers.
    pub len: u64,
    /// FNV-1a 64 of the first `len` bytes.
    pub checksum: u64,
}

/// One shard being pulled from a source node into `{id}.partial`.
#[derive(Debug)]
pub struct Transfer {
    http: reqwest::Client,
    url: String,
    shard_id: ShardId,
    partial_path: PathBuf,
    partial: tokio::fs::File,
    have: u64,
    total: u64,
    checksum: u64,
    chunk_size: u64,
}

impl Transfer {
    /// Asks the source (its base URL, `http://host:port` or `https://host:port`) for the shard's size and digest and opens the partial file,
    /// resuming after the bytes it already holds (or starting over when it holds too many). With
    /// `min_index`, the source answers only once its metadata reached that index; it is asked
    /// again for up to 10 s meanwhile.
    pub async fn start(
        http: &reqwest::Client,
        source_url: &str,
        shard_id: ShardId,
        store: &ShardStore,
        chunk_size: u64,
        min_index: Option<u64>,
    ) -> Result<Self, DatadError> {
        let url = format!("{source_url}/shards/{shard_id}");
        let digest_url = match min_index {
            Some(index) => format!("{url}/digest?min_index={index}"),
            None => format!("{url}/digest"),
        };
        let asked = Instant::now();
        let response = loop {
            let response = http.get(&digest_url).send().await.map_err(|e| peer(&digest_url, e))?;
            if response.status() != StatusCode::SERVICE_UNAVAILABLE || asked.elapsed() >= SOURCE_CATCH_UP {
                break response;
            }
            // The source follows the metadata by long poll: it catches up within moments.
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let response = expect_status(&digest_url, response, StatusCode::OK).await?;
        let digest: DigestReply = response.json().await.map_err(|e| peer(&digest_url, e))?;
        let partial_path = store.partial_path(shard_id);
        let partial = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial_path)
            .await
            .map_err(DatadError::io("open", &partial_path))?;
        let mut have = partial.metadata().await.map_err(DatadError::io("stat", &partial_path))?.len();
        if have > digest.size {
            tracing::warn!(shard_id, have, total = digest.size, "partial copy is longer than the shard; starting over");
            partial.set_len(0).await.map_err(DatadError::io("truncate", &partial_path))?;
            have = 0;
        } else if have > 0 {
            tracing::info!(shard_id, have, total = digest.size, "resuming a partial copy");
        }
        Ok(Transfer {
            http: http.clone(),
            url,
            shard_id,
            partial_path,
            partial,
            have,
            total: digest.size,
            checksum: digest.checksum,
            chunk_size: chunk_size.max(1),
        })
    }

    /// The shard.
    pub fn shard_id(&self) -> ShardId {
        self.shard_id
    }

    /// Bytes in the partial file.
    pub fn bytes_done(&self) -> u64 {
        self.have
    }

    /// Bytes to copy in all (the shard's size when the copy started).
    pub fn bytes_total(&self) -> u64 {
        self.total
    }

    /// The source's digest of the bytes to copy.
    pub fn expected_checksum(&self) -> u64 {
        self.checksum
    }

    /// Abandons the copy and deletes the partial file (e.g. the node holds the shard already).
    pub async fn discard(self) -> Result<(), DatadError> {
        drop(self.partial);
        tokio::fs::remove_file(&self.partial_path).await.map_err(DatadError::io("delete", &self.partial_path))
    }

    /// Whether every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.have >= self.total
    }

    /// Fetches the next chunk and appends it to the partial file; returns its length.
    pub async fn next_chunk(&mut self) -> Result<u64, DatadError> {
        let last = (self.have + self.chunk_size).min(self.total).saturating_sub(1);
        let response = self
            .http
            .get(&self.url)
            .header(RANGE, format!("bytes={}-{last}", self.have))
            .send()
            .await
            .map_err(|e| peer(&self.url, e))?;
        let response = expect_status(&self.url, response, StatusCode::PARTIAL_CONTENT).await?;
        let range = response.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (start, end) = range
            .as_deref()
            .and_then(parse_content_range)
            .ok_or_else(|| peer(&self.url, format!("bad Content-Range {range:?}")))?;
        let body = response.bytes().await.map_err(|e| peer(&self.url, e))?;
        let len = body.len() as u64;
        if start != self.have || end < start || end - start + 1 != len || end >= self.total {
            let message = format!("asked for bytes {}-{last}, got {len} bytes as {range:?}", self.have);
            return Err(peer(&self.url, message));
        }
        // Flushing waits for the write itself (tokio hands it to the blocking pool), so the file
        // holds `have` bytes whenever this returns.
        self.partial.write_all(&body).await.map_err(DatadError::io("append to", &self.partial_path))?;
        self.partial.flush().await.map_err(DatadError::io("append to", &self.partial_path))?;
        self.have += len;
        Ok(len)
    }

    /// Checks the finished copy against the source's digest and makes it the shard's file.
    /// A copy that does not match is deleted and reported as [`DatadError::ChecksumMismatch`].
    /// The copy must be a file of the shard `expected` names (same cluster, shard, database,
    /// policy and range), or it is deleted and refused ([`DatadError::ShardFileConflict`]).
    pub async fn install(mut self, store: Arc<ShardStore>, expected: ShardHeader) -> Result<ShardSummary, DatadError> {
        self.partial.flush().await.map_err(DatadError::io("write", &self.partial_path))?;
        drop(self.partial);
        let (shard_id, total, checksum) = (self.shard_id, self.total, self.checksum);
        blocking(move || store.install_partial(shard_id, total, checksum, &expected)).await
    }
}

/// Parses `bytes START-END/TOTAL` into `(START, END)`.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let (range, _total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, end.trim().parse().ok()?))
}

/// A failed request to a peer.
fn peer(url: &str, message: impl ToString) -> DatadError {
    DatadError::Peer { url: url.to_owned(), message: message.to_string() }
}

/// Passes a response with `expected` status; anything else becomes an error with its message.
async fn expect_status(
    url: &str,
    response: reqwest::Response,
    expected: StatusCode,
) -> Result<reqwest::Response, DatadError> {
    let status = response.status();
    if status == expected {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let message = match serde_json::from_slice::<ErrorReply>(&body) {
        Ok(reply) => format!("{} ({}, HTTP {status})", reply.error.message, reply.error.code),
        Err(_) => format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
    };
    Err(peer(url, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(parse_content_range("bytes 0-9/100"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19)));
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("items 0-9/100"), None);
    }
}
