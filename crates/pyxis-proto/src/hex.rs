//! Lower-case hex encoding for ids and hashes (too small a job for a crate).

use thiserror::Error;

/// A hex string that is not what it claims to be.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HexError {
    #[error("expected {expected} hex characters, got {got}")]
    Length { expected: usize, got: usize },
    #[error("invalid hex character {0:?}")]
    Char(char),
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn nibble(c: u8) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::Char(c as char)),
    }
}

/// Decodes exactly `N` bytes of hex (either case).
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let raw = s.as_bytes();
    if raw.len() != N * 2 {
        return Err(HexError::Length { expected: N * 2, got: raw.len() });
    }
    let mut out = [0u8; N];
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(out)
}

/// Decodes hex of any even length.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let raw = s.as_bytes();
    if !raw.len().is_multiple_of(2) {
        return Err(HexError::Length { expected: raw.len() + 1, got: raw.len() });
    }
    raw.chunks_exact(2).map(|p| Ok((nibble(p[0])? << 4) | nibble(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode_array::<2>("abc"), Err(HexError::Length { expected: 4, got: 3 }));
        assert_eq!(decode_array::<2>("zz00"), Err(HexError::Char('z')));
        assert!(decode("a").is_err());
        assert_eq!(decode("00FF").unwrap(), vec![0, 255]);
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = encode(&bytes);
            prop_assert_eq!(decode(&s).unwrap(), bytes);
        }
    }
}
