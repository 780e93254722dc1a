//! The openraft type configuration of the meta service.

use std::io::Cursor;

use meta_model::Command;
use meta_model::CommandResult;

openraft::declare_raft_types!(
    /// openraft types of the meta service: log entries carry a [`Command`], applying one yields a
    /// [`CommandResult`]; nodes are addressed by `BasicNode { addr }` (their HTTP address).
    pub TypeConfig:
        D = Command,
        R = CommandResult,
);

/// A Raft log entry of the meta service.
pub type LogEntry = openraft::Entry<TypeConfig>;
/// openraft's storage error, specialised to our node IDs.
pub type StorageError = openraft::StorageError<meta_model::NodeId>;
/// Metadata of a snapshot: the last log id and membership it covers, and its ID.
pub type SnapshotMetadata = openraft::SnapshotMeta<meta_model::NodeId, openraft::BasicNode>;
