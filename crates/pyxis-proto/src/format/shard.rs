//! A shard: one of the `k+m` pieces of a chunk blob, self-describing so that a
//! set of shards can be checked for consistency and decoded without the catalog.
//!
//! ```text
//! off len field
//!   0   4 magic "PYXS"
//!   4   1 version = 1
//!   5   1 erasure: 0 = none (plain split, only with m = 0),
//!                  1 = Reed-Solomon, reed-solomon-simd 3 (Leopard, GF(2^16))
//!   6   1 data shards k (>= 1)
//!   7   1 parity shards m (k + m <= 255)
//!   8   1 index of this shard (< k + m; indices >= k are parity)
//!   9   3 reserved = 0
//!  12   4 blob length (u32 LE)
//!  16   4 payload length (u32 LE) = round_up(ceil(blob length / k), 64)
//!  20   p payload
//! ```
//! The data shards are the blob cut in k pieces, the last one zero-padded.
//! A shard's address is the BLAKE3 hash of all of its bytes, header included,
//! so the index and scheme cannot be changed without changing the address.

use super::{FormatError, Reader, chunk};
use crate::scheme::Scheme;

pub const MAGIC: [u8; 4] = *b"PYXS";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 20;
pub const ERASURE_NONE: u8 = 0;
pub const ERASURE_REED_SOLOMON_LEOPARD: u8 = 1;
/// Payloads are padded to 64 bytes: the SIMD Reed–Solomon engine works on 64-byte
/// blocks, and the padding costs at most 63 bytes per shard.
pub const PAYLOAD_ALIGN: usize = 64;
/// The biggest blob a chunk can make.
pub const MAX_BLOB: usize = chunk::HEADER_LEN + chunk::MAX_PLAINTEXT as usize + chunk::TAG_LEN;

const WHAT: &str = "shard";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    pub scheme: Scheme,
    pub index: u8,
    pub blob_len: u32,
}

/// Bytes a whole shard of a `blob_len`-byte blob takes under `scheme`,
/// header included: what a put grant allows, exactly.
pub fn shard_len(blob_len: usize, scheme: crate::Scheme) -> usize {
    HEADER_LEN + payload_len(blob_len, scheme.data())
}

/// Payload bytes per shard for a blob of `blob_len` split `data` ways.
pub fn payload_len(blob_len: usize, data: usize) -> usize {
    let per = blob_len.div_ceil(data.max(1));
    per.div_ceil(PAYLOAD_ALIGN).max(1) * PAYLOAD_ALIGN
}

impl ShardHeader {
    pub fn erasure(&self) -> u8 {
        if self.scheme.parity() == 0 { ERASURE_NONE } else { ERASURE_REED_SOLOMON_LEOPARD }
    }

    pub fn payload_len(&self) -> usize {
        payload_len(self.blob_len as usize, self.scheme.data())
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = self.erasure();
        b[6] = self.scheme.data() as u8;
        b[7] = self.scheme.parity() as u8;
        b[8] = self.index;
        b[12..16].copy_from_slice(&self.blob_len.to_le_bytes());
        b[16..20].copy_from_slice(&(self.payload_len() as u32).to_le_bytes());
        b
    }

    /// Parses a whole shard, returning its header and payload. Every field is
    /// checked against the others, so a consistent-looking shard is the only
    /// kind that gets through.
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), FormatError> {
        let mut r = Reader::new(WHAT, bytes);
        r.preamble(&MAGIC, VERSION)?;
        let erasure = r.u8()?;
        let (k, m, index) = (r.u8()?, r.u8()?, r.u8()?);
        r.zero(3)?;
        let blob_len = r.u32()?;
        let declared = r.u32()?;
        let invalid = |field, value: u64, why| FormatError::Invalid { what: WHAT, field, value, why };
        let scheme = Scheme::new(k.into(), m.into())
            .map_err(|_| invalid("data shard count", k.into(), "a scheme needs k >= 1 and k+m <= 255"))?;
        let expected_erasure = if m == 0 { ERASURE_NONE } else { ERASURE_REED_SOLOMON_LEOPARD };
        if erasure != expected_erasure {
            return Err(FormatError::Unknown { what: WHAT, field: "erasure code", value: erasure.into() });
        }
        if usize::from(index) >= scheme.total() {
            return Err(invalid("index", index.into(), "not below k+m"));
        }
        if (blob_len as usize) < chunk::HEADER_LEN + chunk::TAG_LEN || blob_len as usize > MAX_BLOB {
            return Err(invalid("blob length", blob_len.into(), "outside what a chunk can be"));
        }
        let header = Self { scheme, index, blob_len };
        if declared as usize != header.payload_len() {
            return Err(invalid("payload length", declared.into(), "does not match blob length and k"));
        }
        let payload = r.rest();
        if payload.len() != declared as usize {
            return Err(FormatError::Truncated { what: WHAT, need: HEADER_LEN + declared as usize, have: bytes.len() });
        }
        Ok((header, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> Vec<u8> {
        let h = ShardHeader { scheme: "4+2".parse().unwrap(), index: 5, blob_len: 1000 };
        let mut v = h.to_bytes().to_vec();
        v.resize(HEADER_LEN + h.payload_len(), 0xAB);
        v
    }

    #[test]
    fn payload_sizes() {
        assert_eq!(payload_len(1000, 4), 256);
        assert_eq!(payload_len(1024, 4), 256);
        assert_eq!(payload_len(1025, 4), 320);
        assert_eq!(payload_len(44, 1), 64);
    }

    #[test]
    fn round_trip_and_truncation() {
        let s = shard();
        let (h, p) = ShardHeader::parse(&s).unwrap();
        assert_eq!((h.index, h.blob_len, p.len()), (5, 1000, 256));
        for n in 0..s.len() {
            assert!(ShardHeader::parse(&s[..n]).is_err(), "truncated to {n}");
        }
        let mut long = s.clone();
        long.push(0);
        assert!(ShardHeader::parse(&long).is_err());
    }

    #[test]
    fn header_bit_flips_never_pass_unnoticed() {
        let s = shard();
        let (orig, _) = ShardHeader::parse(&s).unwrap();
        for bit in 0..HEADER_LEN * 8 {
            let mut b = s.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            match ShardHeader::parse(&b) {
                Err(_) => {}
                // A flip in k, m, the index or the blob length may still be valid; the header
                // then reads differently and the shard hash (checked first by every
                // reader) no longer matches. It never parses back to the original.
                Ok((h, _)) => {
                    assert_ne!(h, orig, "bit {bit}");
                    let byte = bit / 8;
                    assert!(matches!(byte, 6..=8 | 12..16), "bit {bit} accepted");
                }
            }
        }
    }
}
