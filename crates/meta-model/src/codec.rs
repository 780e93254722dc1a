//! The one place bytes are made: every persisted record and snapshot is
//! `[format version: u16 little-endian][bincode 2 (standard config) of the value]`.
//!
//! A later release that changes a record's shape bumps [`FORMAT_VERSION`] and decodes older
//! versions through a migration arm in [`decode`]. Version 2 added copy tasks to the state;
//! version 1 predates any release, so no migration arm reads it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CodecError;

/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 2;

const HEADER_LEN: usize = 2;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes `value` with the current format version.
pub fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = FORMAT_VERSION.to_le_bytes().to_vec();
    bincode::serde::encode_into_std_write(value, &mut out, config())
        .map_err(|source| CodecError::Encode { what, source })?;
    Ok(out)
}

/// Decodes a record written by [`encode`], refusing unknown versions and trailing bytes.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, CodecError> {
    let Some((header, body)) = bytes.split_first_chunk::<HEADER_LEN>() else {
        return Err(CodecError::Truncated { what, len: bytes.len() });
    };
    match u16::from_le_bytes(*header) {
        FORMAT_VERSION => {
            let (value, read) = bincode::serde::decode_from_slice(body, config())
                .map_err(|source| CodecError::Decode { what, source })?;
            if read != body.len() {
                return Err(CodecError::TrailingBytes { what, extra: body.len() - read });
            }
            Ok(value)
        }
        found => Err(CodecError::UnsupportedFormat { what, found, supported: FORMAT_VERSION }),
    }
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
        assert!(matches!(decode::<String>("test", &[2, 0, 200]), Err(CodecError::Decode { .. })));
    }
}
