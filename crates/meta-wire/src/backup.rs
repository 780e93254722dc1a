//! The backup file of `metactl backup` / `metactl restore`: a format of its own, versioned and
//! checksummed, so a truncated or edited file is refused with a clear message instead of being
//! loaded half-read.
//!
//! ```text
//!  line 1:  {"format":"metad-backup","version":1,"index":N,"shards":M,"created_at":T,
//!            "source_meta_nodes":["1=meta-1:8091",...],"body_bytes":B,"sha256":"<hex of the body>"}
//!  rest:    the body: the `GET /v1/metadata` reply (index and metadata) as JSON, B bytes
//! ```
//!
//! Files written before this format (the bare `GET /v1/metadata` JSON) are read as version 0:
//! nothing vouches for them, so they are accepted only as what they parse to.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use meta_model::Timestamp;

use crate::MetadataReply;

/// The `format` every backup header names.
pub const BACKUP_FORMAT: &str = "metad-backup";
/// The backup format version this build writes and reads (and 0, the headerless files).
pub const BACKUP_VERSION: u32 = 1;

/// The first line of a backup file: what it holds and how to check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupHeader {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    /// The format version ([`BACKUP_VERSION`] when written by this build).
    pub version: u32,
    /// The applied log index the metadata reflects.
    pub index: u64,
    /// Shards in the metadata.
    pub shards: usize,
    /// When the backup was taken (nanoseconds since the epoch, the client's clock).
    pub created_at: Timestamp,
    /// The cluster the backup was taken from, as its meta nodes (`ID=ADDR`).
    pub source_meta_nodes: Vec<String>,
    /// Length of the body in bytes.
    pub body_bytes: u64,
    /// SHA-256 of the body, lowercase hex.
    pub sha256: String,
}

/// A backup file read back: its header (`None` for a version-0 file) and its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The header, if the file has one.
    pub header: Option<BackupHeader>,
    /// The metadata and its index.
    pub reply: MetadataReply<'static>,
}

/// Why a file is not a backup this build can restore.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file is neither a backup nor the bare metadata of older files.
    #[error("not a metactl backup: {0}")]
    NotABackup(String),
    /// The header names a version this build does not read.
    #[error("backup format version {found}; this build reads versions up to {BACKUP_VERSION}")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The body is shorter or longer than the header says: the file was cut short or appended to.
    #[error("the backup is truncated or has extra bytes: its header announces {expected} bytes of metadata, the file holds {found}")]
    WrongLength {
        /// Bytes announced.
        expected: u64,
        /// Bytes found.
        found: u64,
    },
    /// The body does not match the header's checksum: the file was edited or corrupted.
    #[error("the backup's checksum does not match (sha256 {found}, header says {expected}): the file was edited or corrupted")]
    ChecksumMismatch {
        /// The header's checksum.
        expected: String,
        /// The body's.
        found: String,
    },
    /// The body passed its checks but is not metadata this build reads.
    #[error("the backup's metadata cannot be read: {0}")]
    Body(String),
    /// The metadata could not be encoded.
    #[error("cannot encode the metadata: {0}")]
    Encode(String),
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Encodes a backup of `reply` taken at `created_at`.
pub fn encode_backup(reply: &MetadataReply<'_>, created_at: Timestamp) -> Result<Vec<u8>, BackupError> {
    let body = serde_json::to_vec(reply).map_err(|e| BackupError::Encode(e.to_string()))?;
    let header = BackupHeader {
        format: BACKUP_FORMAT.to_owned(),
        version: BACKUP_VERSION,
        index: reply.index,
        shards: reply.metadata.shard_count(),
        created_at,
        source_meta_nodes: reply.metadata.meta_nodes().values().map(|n| format!("{}={}", n.id, n.addr)).collect(),
        body_bytes: body.len() as u64,
        sha256: sha256_hex(&body),
    };
    let mut file = serde_json::to_vec(&header).map_err(|e| BackupError::Encode(e.to_string()))?;
    file.push(b'\n');
    file.extend_from_slice(&body);
    Ok(file)
}

/// Reads a backup file, checking its header, length and checksum before its body.
pub fn decode_backup(file: &[u8]) -> Result<Backup, BackupError> {
    let (first, rest) = match file.iter().position(|&b| b == b'\n') {
        Some(end) => (&file[..end], &file[end + 1..]),
        None => (file, &[][..]),
    };
    let header: BackupHeader = match serde_json::from_slice(first) {
        Ok(header) => header,
        // Files from before this format are the bare metadata reply.
        Err(_) => {
            let reply = serde_json::from_slice(file)
                .map_err(|e| BackupError::NotABackup(format!("no backup header, and not bare metadata either: {e}")))?;
            return Ok(Backup { header: None, reply });
        }
    };
    if header.format != BACKUP_FORMAT {
        return Err(BackupError::NotABackup(format!("its header names format {:?}", header.format)));
    }
    if header.version > BACKUP_VERSION {
        return Err(BackupError::UnsupportedVersion { found: header.version });
    }
    if rest.len() as u64 != header.body_bytes {
        return Err(BackupError::WrongLength { expected: header.body_bytes, found: rest.len() as u64 });
    }
    let found = sha256_hex(rest);
    if found != header.sha256 {
        return Err(BackupError::ChecksumMismatch { expected: header.sha256, found });
    }
    let reply: MetadataReply<'static> = serde_json::from_slice(rest).map_err(|e| BackupError::Body(e.to_string()))?;
    if reply.index != header.index {
        return Err(BackupError::Body(format!(
            "the metadata is at index {}, the header says {}",
            reply.index, header.index
        )));
    }
    Ok(Backup { header: Some(header), reply })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metadata;
    use meta_model::{Command, MetaState};

    fn reply() -> MetadataReply<'static> {
        let mut state = MetaState::new();
        state.apply(&Command::AddMetaNode { node_id: Some(1), addr: "meta-1:8091".into() }).expect("meta node");
        state.apply(&Command::CreateDatabase { name: "db".into(), default_retention_policy: None }).expect("db");
        MetadataReply { index: 7, metadata: Metadata::of(&state).into_owned() }
    }

    #[test]
    fn a_backup_reads_back_with_its_header() {
        let file = encode_backup(&reply(), 42).expect("encodes");
        let backup = decode_backup(&file).expect("decodes");
        assert_eq!(backup.reply, reply());
        let header = backup.header.expect("a header");
        assert_eq!((header.version, header.index, header.created_at), (BACKUP_VERSION, 7, 42));
        assert_eq!(header.source_meta_nodes, vec!["1=meta-1:8091".to_owned()]);
    }

    #[test]
    fn truncated_extended_and_edited_files_are_refused() {
        let file = encode_backup(&reply(), 42).expect("encodes");
        let cut = decode_backup(&file[..file.len() - 1]);
        assert!(matches!(cut, Err(BackupError::WrongLength { .. })), "{cut:?}");
        let mut longer = file.clone();
        longer.push(b' ');
        assert!(matches!(decode_backup(&longer), Err(BackupError::WrongLength { .. })));
        let mut edited = file.clone();
        let at = edited.iter().rposition(|&b| b == b'"').expect("a quote in the body");
        edited[at - 1] ^= 0x01;
        let refused = decode_backup(&edited).expect_err("an edited body is refused");
        assert!(matches!(refused, BackupError::ChecksumMismatch { .. }), "{refused}");
        assert!(refused.to_string().contains("edited or corrupted"));
        let header_only = &file[..file.iter().position(|&b| b == b'\n').expect("a header line")];
        assert!(matches!(decode_backup(header_only), Err(BackupError::WrongLength { found: 0, .. })));
    }

    #[test]
    fn newer_formats_and_other_files_are_refused_older_bare_metadata_is_read() {
        let file = encode_backup(&reply(), 42).expect("encodes");
        let text = String::from_utf8(file).expect("utf-8");
        let newer = text.replacen("\"version\":1", "\"version\":9", 1);
        assert!(matches!(decode_backup(newer.as_bytes()), Err(BackupError::UnsupportedVersion { found: 9 })));
        assert!(matches!(decode_backup(b"hello"), Err(BackupError::NotABackup(_))));
        let bare = serde_json::to_vec(&reply()).expect("json");
        let old = decode_backup(&bare).expect("version 0 is read");
        assert_eq!((old.header, old.reply), (None, reply()));
    }
}
