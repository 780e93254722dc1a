//! The one place bytes are made: every persisted record, snapshot and message between meta nodes
//! is `[format version: u16 little-endian][bincode 2 (standard config) of the value]`.
//!
//! This build writes [`FORMAT_VERSION`] and reads every version from [`OLDEST_READABLE`] on. A
//! release that changes the shape of a record bumps the version and reads the older shape through
//! a migration ([`decode_migrating`]); records whose shape is the same in every readable version
//! are read with [`decode`].
//!
//! | version | change |
//! |---|---|
//! | 1 | predates any release; not readable |
//! | 2 | copy tasks in the state |
//! | 3 | tasks have a kind ([`crate::TaskKind`]); the metadata record migrates from 2 ([`crate::MetadataRecord::decode`]); the restore command carries an encoded record |
//! | 4 | the metadata record holds the cluster's identity ([`crate::ClusterIdentity`]); it migrates from 3 as none |
//! | 5 | the metadata record holds the placement policy ([`crate::PlacementPolicy`]); it migrates from 4 as the default (owners spread by `zone`) |
//! | 6 | the placement policy holds the balance policy ([`crate::BalancePolicy`]), migrating from 5 (and 4) with balancing off; tasks may be moves ([`crate::TaskKind::Move`]) |
//! | 7 | the metadata record holds a restore arriving in parts ([`crate::StagedRestore`]), none when read from 6 or older |
//!
//! Log entries (`Command`) keep the shape of version 2: a change to the command set only appends
//! variants, and the restore command of version 2 stays readable as `RestoreMetadataV2`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CodecError;

/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 7;

/// The oldest format version this build reads.
pub const OLDEST_READABLE: u16 = 2;

const HEADER_LEN: usize = 2;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes `value` with the current format version.
///
/// # Errors
/// [`CodecError::Encode`] if the value cannot be serialized.
pub fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = FORMAT_VERSION.to_le_bytes().to_vec();
    bincode::serde::encode_into_std_write(value, &mut out, config())
        .map_err(|source| CodecError::Encode { what, source })?;
    Ok(out)
}

/// Decodes a record whose shape is the same in every readable format version.
///
/// # Errors
/// [`CodecError`] for a version outside [`OLDEST_READABLE`]..=[`FORMAT_VERSION`], truncation,
/// bytes that are no such value, or trailing bytes.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, CodecError> {
    decode_migrating(what, bytes, |_, body| decode_body(what, body))
}

/// Decodes a record of the current version directly, and one of an older readable version
/// through `older(version, body)`, which reads that version's shape and converts it.
///
/// # Errors
/// As [`decode`], and whatever `older` returns.
pub fn decode_migrating<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
    older: impl FnOnce(u16, &[u8]) -> Result<T, CodecError>,
) -> Result<T, CodecError> {
    let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(CodecError::Truncated { what, len: bytes.len() });
    };
    match u16::from_le_bytes(*header) {
        FORMAT_VERSION => decode_body(what, body),
        version if (OLDEST_READABLE..FORMAT_VERSION).contains(&version) => older(version, body),
        found => Err(CodecError::UnsupportedFormat { what, found, supported: FORMAT_VERSION }),
    }
}

/// Decodes a body (the bytes after the version header) as `T`, refusing trailing bytes.
///
/// # Errors
/// [`CodecError::Decode`] or [`CodecError::TrailingBytes`].
pub fn decode_body<T: DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, CodecError> {
    let (value, read) =
        bincode::serde::decode_from_slice(body, config()).map_err(|source| CodecError::Decode { what, source })?;
    if read != body.len() {
        return Err(CodecError::TrailingBytes { what, extra: body.len() - read });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_version_header() {
        let bytes = encode("test", &("hello", 42u64)).expect("encode");
        assert_eq!(&bytes[..2], &FORMAT_VERSION.to_le_bytes());
        let back: (String, u64) = decode("test", &bytes).expect("decode");
        assert_eq!(back, ("hello".to_owned(), 42));
    }

    #[test]
    fn refuses_unknown_versions_truncation_and_trailing_bytes() {
        let mut bytes = encode("test", &7u32).expect("encode");
        assert!(matches!(decode::<u32>("test", &bytes[..1]), Err(CodecError::Truncated { .. })));
        bytes.push(0);
        assert!(matches!(decode::<u32>("test", &bytes), Err(CodecError::TrailingBytes { extra: 1, .. })));
        bytes[0] = 9;
        assert!(matches!(decode::<u32>("test", &bytes), Err(CodecError::UnsupportedFormat { found: 9, .. })));
        bytes[0] = 1;
        assert!(matches!(decode::<u32>("test", &bytes), Err(CodecError::UnsupportedFormat { found: 1, .. })));
        assert!(matches!(decode::<String>("test", &[3, 0, 200]), Err(CodecError::Decode { .. })));
    }

    #[test]
    fn older_readable_versions_go_through_the_migration() {
        let mut bytes = encode("test", &7u32).expect("encode");
        bytes[..2].copy_from_slice(&OLDEST_READABLE.to_le_bytes());
        let migrated = decode_migrating("test", &bytes, |version, body| {
            assert_eq!(version, OLDEST_READABLE);
            decode_body::<u32>("test", body).map(|old| old * 10)
        });
        assert_eq!(migrated.expect("migrated"), 70);
        assert_eq!(decode::<u32>("test", &bytes).expect("same shape"), 7);
    }
}
