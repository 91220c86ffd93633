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

/// Each byte's value as a hex digit, or `BAD`: one load per character
/// instead of three range tests. A device's memory of the versions it has
/// seen holds two 64-digit ids per file, and decoding them was a fifth of a
/// `pyxis ls`'s CPU.
const BAD: u8 = 0xff;
const VALUES: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// One byte from two hex digits.
#[inline]
fn pair(hi: u8, lo: u8) -> Result<u8, HexError> {
    let (h, l) = (VALUES[usize::from(hi)], VALUES[usize::from(lo)]);
    if (h | l) & 0xf0 != 0 {
        let bad = if h == BAD { hi } else { lo };
        return Err(HexError::Char(bad as char));
    }
    Ok((h << 4) | l)
}

/// Decodes exactly `N` bytes of hex (either case).
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let raw = s.as_bytes();
    if raw.len() != N * 2 {
        return Err(HexError::Length { expected: N * 2, got: raw.len() });
    }
    let mut out = [0u8; N];
    for (o, p) in out.iter_mut().zip(raw.chunks_exact(2)) {
        *o = pair(p[0], p[1])?;
    }
    Ok(out)
}

/// Decodes hex of any even length.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let raw = s.as_bytes();
    if !raw.len().is_multiple_of(2) {
        return Err(HexError::Length { expected: raw.len() + 1, got: raw.len() });
    }
    raw.chunks_exact(2).map(|p| pair(p[0], p[1])).collect()
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
        assert_eq!(decode("0g"), Err(HexError::Char('g')));
        assert_eq!(decode("g0"), Err(HexError::Char('g')));
        assert_eq!(decode_array::<1>("\u{e9}"), Err(HexError::Char('\u{c3}')));
    }

    #[test]
    fn every_pair_of_bytes_decodes_as_hex_digits_do() {
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        for hi in 0..=255u8 {
            for lo in 0..=255u8 {
                let want = match (digit(hi), digit(lo)) {
                    (Some(h), Some(l)) => Ok((h << 4) | l),
                    (None, _) => Err(HexError::Char(hi as char)),
                    (_, None) => Err(HexError::Char(lo as char)),
                };
                assert_eq!(pair(hi, lo), want, "{hi:#x} {lo:#x}");
            }
        }
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = encode(&bytes);
            prop_assert_eq!(decode(&s).unwrap(), bytes.clone());
            prop_assert_eq!(decode(&s.to_uppercase()).unwrap(), bytes);
        }
    }
}
