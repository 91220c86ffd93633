//! The chunk blob: header, AES-256-GCM ciphertext of the (maybe compressed)
//! plaintext, tag. The blob is what gets erasure-coded into shards.
//!
//! ```text
//! off len field
//!   0   4 magic "PYXC"
//!   4   1 version = 1
//!   5   1 aead: 1 = AES-256-GCM
//!   6   1 compression: 0 = none, 1 = zstd
//!   7   1 reserved = 0
//!   8   4 plaintext length (u32 LE)
//!  12   4 stored length = ciphertext length without tag (u32 LE)
//!  16  12 nonce
//!  28   n ciphertext
//! 28+n 16 GCM tag
//! ```

use super::{FormatError, Reader};

pub const MAGIC: [u8; 4] = *b"PYXC";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 28;
pub const TAG_LEN: usize = 16;
pub const NONCE_LEN: usize = 12;
pub const AEAD_AES_256_GCM: u8 = 1;
/// Largest plaintext a chunk may hold. fastcdc's own maximum; it also bounds
/// what a decoder allocates for a hostile header.
pub const MAX_PLAINTEXT: u32 = 16 << 20;

const WHAT: &str = "chunk header";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None = 0,
    Zstd = 1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    pub compression: Compression,
    pub plaintext_len: u32,
    pub stored_len: u32,
    pub nonce: [u8; NONCE_LEN],
}

impl ChunkHeader {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = AEAD_AES_256_GCM;
        b[6] = self.compression as u8;
        b[8..12].copy_from_slice(&self.plaintext_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.stored_len.to_le_bytes());
        b[16..28].copy_from_slice(&self.nonce);
        b
    }

    /// Length of the whole blob this header describes.
    pub fn blob_len(&self) -> usize {
        HEADER_LEN + self.stored_len as usize + TAG_LEN
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(WHAT, bytes);
        r.preamble(&MAGIC, VERSION)?;
        let aead = r.u8()?;
        if aead != AEAD_AES_256_GCM {
            return Err(FormatError::Unknown { what: WHAT, field: "aead", value: aead.into() });
        }
        let compression = match r.u8()? {
            0 => Compression::None,
            1 => Compression::Zstd,
            v => {
                return Err(FormatError::Unknown { what: WHAT, field: "compression", value: v.into() });
            }
        };
        r.zero(1)?;
        let plaintext_len = r.u32()?;
        let stored_len = r.u32()?;
        let nonce = r.array()?;
        if plaintext_len > MAX_PLAINTEXT {
            return Err(FormatError::Invalid {
                what: WHAT,
                field: "plaintext length",
                value: plaintext_len.into(),
                why: "over the 16 MiB chunk limit",
            });
        }
        let consistent = match compression {
            Compression::None => stored_len == plaintext_len,
            // Compression is only kept when it saves space, and empty input is never compressed.
            Compression::Zstd => stored_len < plaintext_len,
        };
        if !consistent {
            return Err(FormatError::Invalid {
                what: WHAT,
                field: "stored length",
                value: stored_len.into(),
                why: "does not fit the plaintext length and compression",
            });
        }
        Ok(Self { compression, plaintext_len, stored_len, nonce })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChunkHeader {
        ChunkHeader { compression: Compression::Zstd, plaintext_len: 1000, stored_len: 400, nonce: [9; 12] }
    }

    #[test]
    fn round_trip_and_every_truncation() {
        let h = sample();
        let b = h.to_bytes();
        assert_eq!(ChunkHeader::parse(&b), Ok(h));
        assert_eq!(h.blob_len(), 28 + 400 + 16);
        for n in 0..HEADER_LEN {
            assert!(matches!(ChunkHeader::parse(&b[..n]), Err(FormatError::Truncated { .. })));
        }
    }

    #[test]
    fn rejects_unknown_fields() {
        let b = sample().to_bytes();
        let mut bad = b;
        bad[4] = 2;
        assert_eq!(ChunkHeader::parse(&bad), Err(FormatError::Version { what: WHAT, version: 2 }));
        let mut bad = b;
        bad[6] = 7;
        assert!(ChunkHeader::parse(&bad).unwrap_err().to_string().contains("compression 7"));
        let mut bad = b;
        bad[7] = 1;
        assert!(ChunkHeader::parse(&bad).unwrap_err().to_string().contains("reserved"));
        let mut bad = b;
        bad[12..16].copy_from_slice(&2000u32.to_le_bytes());
        assert!(ChunkHeader::parse(&bad).unwrap_err().to_string().contains("stored length"));
        let mut bad = b;
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ChunkHeader::parse(&bad).unwrap_err().to_string().contains("16 MiB"));
    }
}
