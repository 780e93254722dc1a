//! [`StagedRestore`]: a backup arriving in bounded log entries, held until its last part.

use serde::{Deserialize, Serialize};

/// The parts of a backup received so far ([`crate::Command::RestoreMetadataPart`]). Part of the
/// replicated state (a snapshot taken between two parts carries it), so every meta node restores
/// at the same log entry, the last part's, in one step. A new upload's first part replaces it;
/// the last part, restored or refused, clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedRestore {
    /// Which upload the parts belong to (chosen by the node that split the backup).
    pub upload: u64,
    /// Parts in all.
    pub parts: u32,
    /// Parts received, in order: the number of the next part expected.
    pub received: u32,
    /// The encoded [`crate::MetadataRecord`] received so far.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}
