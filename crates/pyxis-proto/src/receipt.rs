//! Storage receipts: a remote's signed statement that it holds a shard. The
//! server marks a shard stored only on a valid receipt from the remote it was
//! placed on, and audits blame a remote only for shards it receipted.
//!
//! ```text
//! off len field
//!   0   4 magic "PYXA" (acknowledgement)
//!   4   1 version = 1
//!   5   3 reserved = 0
//!   8   8 remote id (i64 LE)
//!  16  32 shard hash
//!  48   4 shard length in bytes (u32 LE)
//!  52   8 time the shard was stored (or found already there), Unix ms (u64 LE)
//!  60  64 Ed25519 signature over bytes 0..60 by the remote's identity key
//! ```
//! On the wire the 124 bytes travel base64url (no padding) in the
//! `X-Pyxis-Receipt` header of the answer to a shard PUT.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::format::{FormatError, Reader};
use crate::ids::ShardHash;

pub const MAGIC: [u8; 4] = *b"PYXA";
pub const VERSION: u8 = 1;
pub const BODY_LEN: usize = 60;
pub const SIGNED_LEN: usize = BODY_LEN + 64;
/// The HTTP header that carries a receipt.
pub const HEADER: &str = "x-pyxis-receipt";

const WHAT: &str = "receipt";

/// What a receipt says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub remote: i64,
    pub shard: ShardHash,
    pub len: u32,
    pub time_ms: u64,
}

impl Receipt {
    pub fn to_bytes(&self) -> [u8; BODY_LEN] {
        let mut b = [0u8; BODY_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[8..16].copy_from_slice(&self.remote.to_le_bytes());
        b[16..48].copy_from_slice(self.shard.as_bytes());
        b[48..52].copy_from_slice(&self.len.to_le_bytes());
        b[52..60].copy_from_slice(&self.time_ms.to_le_bytes());
        b
    }

    /// Splits signed receipt bytes into the receipt and its signature. The
    /// signature is not checked here (`pyxis_crypto::identity` does that).
    pub fn parse_signed(bytes: &[u8]) -> Result<(Receipt, [u8; 64]), FormatError> {
        if bytes.len() != SIGNED_LEN {
            return Err(FormatError::Invalid {
                what: WHAT,
                field: "length",
                value: bytes.len() as u64,
                why: "a receipt is 124 bytes",
            });
        }
        let mut r = Reader::new(WHAT, bytes);
        r.preamble(&MAGIC, VERSION)?;
        r.zero(3)?;
        let remote = i64::from_le_bytes(r.array()?);
        let shard = ShardHash(r.array()?);
        let len = r.u32()?;
        let time_ms = r.u64()?;
        let sig = r.array()?;
        Ok((Receipt { remote, shard, len, time_ms }, sig))
    }
}

/// Encodes signed receipt bytes for the header.
pub fn encode(signed: &[u8; SIGNED_LEN]) -> String {
    URL_SAFE_NO_PAD.encode(signed)
}

/// Decodes a header value back to signed receipt bytes (length-checked
/// before decoding, so a hostile value costs nothing).
pub fn decode(token: &str) -> Result<Vec<u8>, FormatError> {
    let token = token.trim();
    if token.len() > SIGNED_LEN.div_ceil(3) * 4 {
        return Err(FormatError::Invalid {
            what: WHAT,
            field: "token length",
            value: token.len() as u64,
            why: "too long",
        });
    }
    URL_SAFE_NO_PAD.decode(token).map_err(|_| FormatError::Invalid {
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
    fn layout_round_trip_and_every_cut_is_refused() {
        let rc = Receipt { remote: 42, shard: ShardHash([7; 32]), len: 1 << 20, time_ms: 1_800_000_000_123 };
        let mut signed = [0u8; SIGNED_LEN];
        signed[..BODY_LEN].copy_from_slice(&rc.to_bytes());
        signed[BODY_LEN..].copy_from_slice(&[3; 64]);
        let token = encode(&signed);
        assert_eq!(Receipt::parse_signed(&decode(&token).unwrap()).unwrap(), (rc, [3; 64]));
        for n in 0..SIGNED_LEN {
            assert!(Receipt::parse_signed(&signed[..n]).is_err(), "cut at {n}");
        }
        let mut longer = signed.to_vec();
        longer.push(0);
        assert!(Receipt::parse_signed(&longer).is_err());
        let mut bad = signed;
        bad[5] = 1;
        assert!(Receipt::parse_signed(&bad).is_err(), "reserved bytes must be zero");
        bad = signed;
        bad[0] = b'X';
        assert!(Receipt::parse_signed(&bad).is_err());
        assert!(decode("not*base64").is_err());
        assert!(decode(&"A".repeat(400)).is_err());
    }
}
