//! Framed records on disk: each record is `[length: u32 LE][CRC-32C of the payload: u32 LE]
//! [payload]`, so a reader finds where every record ends and detects a torn or corrupt one (a
//! crash in the middle of an append, a flipped bit) instead of misreading it.
//!
//! CRC-32C (Castagnoli, as in iSCSI, ext4 and LevelDB's log) by the `crc32c` crate, which uses
//! the CPU's instruction where there is one.

use std::io::Read;

/// Bytes of a frame's header.
pub(crate) const HEADER_LEN: usize = 8;

/// Largest payload a frame may carry: a frame claiming more is corrupt.
pub(crate) const MAX_PAYLOAD: usize = 256 * 1024 * 1024;

/// Appends the frame of `payload` to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    debug_assert!(payload.len() <= MAX_PAYLOAD, "payload over the frame limit");
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The size of the frame of a payload of `len` bytes.
pub(crate) fn framed_len(len: usize) -> u64 {
    (HEADER_LEN + len) as u64
}

/// What a frame header says: the payload's length and checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Payload bytes.
    pub(crate) len: usize,
    /// CRC-32C of the payload.
    pub(crate) crc: u32,
}

impl Header {
    /// Reads a header; `None` if it claims more than [`MAX_PAYLOAD`].
    pub(crate) fn parse(bytes: [u8; HEADER_LEN]) -> Option<Header> {
        let [l0, l1, l2, l3, c0, c1, c2, c3] = bytes;
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        (len <= MAX_PAYLOAD).then_some(Header { len, crc: u32::from_le_bytes([c0, c1, c2, c3]) })
    }

    /// Whether `payload` is the one this header describes.
    pub(crate) fn matches(&self, payload: &[u8]) -> bool {
        payload.len() == self.len && crc32c::crc32c(payload) == self.crc
    }
}

/// Reads the next frame of `reader` into `payload` (replacing what it held); its header's bytes
/// when the frame is whole and intact, `None` at the end or at a torn or corrupt frame (the caller
/// knows from its position which it is). Errors only when reading fails for another reason.
pub(crate) fn read_next(reader: &mut impl Read, payload: &mut Vec<u8>) -> std::io::Result<Option<[u8; HEADER_LEN]>> {
    let mut raw = [0u8; HEADER_LEN];
    let torn = |error: std::io::Error| match error.kind() {
        std::io::ErrorKind::UnexpectedEof => Ok(None),
        _ => Err(error),
    };
    if let Err(error) = reader.read_exact(&mut raw) {
        return torn(error);
    }
    let Some(header) = Header::parse(raw) else { return Ok(None) };
    payload.resize(header.len, 0);
    if let Err(error) = reader.read_exact(payload) {
        return torn(error);
    }
    Ok(header.matches(payload).then_some(raw))
}

/// The frames of `bytes`, in order, and how many leading bytes they cover: everything when the
/// bytes end cleanly after a frame, less when the rest is torn or corrupt.
pub(crate) fn decode_all(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER_LEN) {
        let mut raw = [0u8; HEADER_LEN];
        raw.copy_from_slice(header);
        let Some(header) = Header::parse(raw) else { break };
        let Some(payload) = bytes.get(at + HEADER_LEN..at + HEADER_LEN + header.len) else { break };
        if !header.matches(payload) {
            break;
        }
        frames.push(payload);
        at += HEADER_LEN + header.len;
    }
    (frames, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        payloads.iter().for_each(|p| encode(p, &mut out));
        out
    }

    #[test]
    fn frames_round_trip_and_a_known_checksum_is_used() {
        let bytes = framed(&[b"123456789", b"", b"x"]);
        // CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
        assert_eq!(&bytes[4..8], &0xe306_9283_u32.to_le_bytes());
        let (frames, valid) = decode_all(&bytes);
        assert_eq!(frames, vec![&b"123456789"[..], b"", b"x"]);
        assert_eq!(valid, bytes.len());
        assert_eq!(framed_len(9), 17);
    }

    #[test]
    fn frames_are_read_one_by_one_from_a_reader_until_the_first_bad_one() {
        let mut bytes = framed(&[b"one", b"two"]);
        bytes.extend_from_slice(&[5, 0, 0, 0, 1]);
        let (mut reader, mut payload) = (&bytes[..], Vec::new());
        for expected in [&b"one"[..], b"two"] {
            assert!(read_next(&mut reader, &mut payload).expect("reads").is_some());
            assert_eq!(payload, expected);
        }
        assert_eq!(read_next(&mut reader, &mut payload).expect("reads"), None, "a torn frame ends the frames");
    }

    #[test]
    fn a_header_claiming_too_much_is_corrupt() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        assert_eq!(decode_all(&bytes), (vec![], 0));
    }

    proptest! {
        /// Cutting the bytes anywhere keeps exactly the frames that end before the cut.
        #[test]
        fn a_torn_tail_is_detected_wherever_it_is_cut(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            let bytes = framed(&refs);
            let cut = cut.index(bytes.len() + 1);
            let (frames, valid) = decode_all(&bytes[..cut]);
            let mut end = 0;
            let whole = refs.iter().take_while(|p| { end += HEADER_LEN + p.len(); end <= cut }).count();
            prop_assert_eq!(frames.len(), whole);
            prop_assert_eq!(&frames[..], &refs[..whole]);
            prop_assert!(valid <= cut);
        }

        /// A flipped bit in a payload ends the readable frames at the frame it is in.
        #[test]
        fn a_flipped_bit_is_detected(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 1..8),
            which in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            let mut bytes = framed(&refs);
            let victim = which.index(refs.len());
            let start: usize = refs[..victim].iter().map(|p| HEADER_LEN + p.len()).sum();
            bytes[start + HEADER_LEN] ^= 1 << bit;
            let (frames, valid) = decode_all(&bytes);
            prop_assert_eq!(frames.len(), victim);
            prop_assert_eq!(valid, start);
        }
    }
}
