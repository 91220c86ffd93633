//! Grants: the server's signed permission for one operation on one shard at
//! one remote, until an expiry. Remotes check them offline with the server's
//! Ed25519 public key (the signing lives in `pyxis-core::grants`).
//!
//! ```text
//! off len field
//!   0   4 magic "PYXG"
//!   4   1 version = 1
//!   5   1 operation: 1 = put, 2 = get, 3 = delete
//!   6   2 reserved = 0
//!   8   8 remote id (i64 LE)
//!  16  32 shard hash
//!  48   4 maximum shard size in bytes (u32 LE)
//!  52   8 expiry, Unix seconds (u64 LE)
//!  60  64 Ed25519 signature over bytes 0..60
//! ```
//! On the wire the 124 bytes travel base64url (no padding) in the
//! `X-Pyxis-Grant` header.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::format::{FormatError, Reader};
use crate::ids::ShardHash;

pub const MAGIC: [u8; 4] = *b"PYXG";
pub const VERSION: u8 = 1;
pub const BODY_LEN: usize = 60;
pub const SIGNED_LEN: usize = BODY_LEN + 64;
/// The HTTP header that carries a grant.
pub const HEADER: &str = "x-pyxis-grant";

const WHAT: &str = "grant";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantOp {
    Put = 1,
    Get = 2,
    Delete = 3,
}

impl std::fmt::Display for GrantOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GrantOp::Put => "put",
            GrantOp::Get => "get",
            GrantOp::Delete => "delete",
        })
    }
}

/// What a grant allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub op: GrantOp,
    pub remote: i64,
    pub shard: ShardHash,
    pub max_size: u32,
    pub expires: u64,
}

impl Grant {
    pub fn to_bytes(&self) -> [u8; BODY_LEN] {
        let mut b = [0u8; BODY_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = self.op as u8;
        b[8..16].copy_from_slice(&self.remote.to_le_bytes());
        b[16..48].copy_from_slice(self.shard.as_bytes());
        b[48..52].copy_from_slice(&self.max_size.to_le_bytes());
        b[52..60].copy_from_slice(&self.expires.to_le_bytes());
        b
    }

    /// Splits signed grant bytes into the grant and its signature. The
    /// signature is not checked here.
    pub fn parse_signed(bytes: &[u8]) -> Result<(Grant, [u8; 64]), FormatError> {
        let mut r = Reader::new(WHAT, bytes);
        r.preamble(&MAGIC, VERSION)?;
        let op = match r.u8()? {
            1 => GrantOp::Put,
            2 => GrantOp::Get,
            3 => GrantOp::Delete,
            v => return Err(FormatError::Unknown { what: WHAT, field: "operation", value: v.into() }),
        };
        r.zero(2)?;
        let remote = i64::from_le_bytes(r.array()?);
        let shard = ShardHash(r.array()?);
        let max_size = r.u32()?;
        let expires = r.u64()?;
        let sig = r.array()?;
        if !r.rest().is_empty() {
            return Err(FormatError::Invalid {
                what: WHAT,
                field: "length",
                value: bytes.len() as u64,
                why: "trailing bytes",
            });
        }
        Ok((Grant { op, remote, shard, max_size, expires }, sig))
    }
}

/// What the server's old grant key signs to vouch for its new one when the
/// server rotates keys: remotes pin the key they were admitted under and
/// follow a rotation only with this endorsement.
pub fn endorsement_input(new_key: &[u8; 32]) -> Vec<u8> {
    let mut m = b"PYXIS grant key rotation v1\n".to_vec();
    m.extend_from_slice(new_key);
    m
}

/// Encodes signed grant bytes for the header.
pub fn encode_token(signed: &[u8; SIGNED_LEN]) -> String {
    URL_SAFE_NO_PAD.encode(signed)
}

/// Decodes a header value back to signed grant bytes.
pub fn decode_token(token: &str) -> Result<Vec<u8>, FormatError> {
    if token.len() > 2 * SIGNED_LEN {
        return Err(FormatError::Invalid {
            what: WHAT,
            field: "token length",
            value: token.len() as u64,
            why: "too long",
        });
    }
    URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| FormatError::Invalid {
        what: WHAT,
        field: "token",
        value: token.len() as u64,
        why: "not base64url",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trip() {
        let g = Grant { op: GrantOp::Get, remote: -3, shard: ShardHash([9; 32]), max_size: 77, expires: 1_800_000_000 };
        let mut signed = [0u8; SIGNED_LEN];
        signed[..BODY_LEN].copy_from_slice(&g.to_bytes());
        signed[BODY_LEN..].copy_from_slice(&[5; 64]);
        let token = encode_token(&signed);
        let (back, sig) = Grant::parse_signed(&decode_token(&token).unwrap()).unwrap();
        assert_eq!((back, sig), (g, [5; 64]));
        for n in 0..SIGNED_LEN {
            assert!(Grant::parse_signed(&signed[..n]).is_err());
        }
        assert!(decode_token("not*base64").is_err());
        assert!(decode_token(&"A".repeat(1000)).is_err());
    }
}
