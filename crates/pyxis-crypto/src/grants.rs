//! Signing and checking grants (the layout is `pyxis_proto::grant`).
//!
//! Ed25519 through aws-lc-rs, the project's one crypto provider. The server
//! signs; remotes verify offline with its public key, so granting an upload
//! costs the server one signature and the remote no round trip.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use pyxis_proto::ShardHash;
use pyxis_proto::grant::{self, BODY_LEN, Grant, GrantOp, SIGNED_LEN};
use thiserror::Error;

/// Why a grant does not allow what was asked (a 401 or 403 with this reason).
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantError {
    #[error("no grant given (header {})", grant::HEADER)]
    Missing,
    #[error("malformed grant: {0}")]
    Malformed(String),
    #[error("grant signature is not the server's")]
    BadSignature,
    #[error("grant expired at {expired} (now {now})")]
    Expired { expired: u64, now: u64 },
    #[error("grant is for {granted}, not {asked}")]
    WrongOp { granted: GrantOp, asked: GrantOp },
    #[error("grant is for remote {granted}, this is remote {this}")]
    WrongRemote { granted: i64, this: i64 },
    #[error("grant is for shard {granted}, not {asked}")]
    WrongShard { granted: ShardHash, asked: ShardHash },
    #[error("shard of {size} bytes is over the granted {max}")]
    TooLarge { size: u64, max: u32 },
    #[error("shard of {size} bytes; the put grant is for exactly {granted}")]
    WrongSize { size: u64, granted: u32 },
}

impl GrantError {
    /// Missing or unverifiable grants are 401; valid grants for something else 403.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(
            self,
            GrantError::Missing | GrantError::Malformed(_) | GrantError::BadSignature | GrantError::Expired { .. }
        )
    }
}

/// The server's signing key.
pub struct GrantSigner {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for GrantSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrantSigner({})", pyxis_proto::hex::encode(&self.public_key()))
    }
}

impl GrantSigner {
    /// A new random 32-byte seed, to be stored by the server.
    pub fn generate_seed() -> crate::Result<[u8; 32]> {
        let mut seed = [0u8; 32];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| crate::Error::Random)?;
        Ok(seed)
    }

    pub fn from_seed(seed: &[u8; 32]) -> crate::Result<Self> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| crate::Error::Key { what: "grant seed" })?;
        Ok(Self { pair })
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs `new_key` as this key's successor (a grant-key rotation).
    pub fn endorse(&self, new_key: &[u8; 32]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(&grant::endorsement_input(new_key)).as_ref());
        out
    }

    /// Signs a grant; returns the header value.
    pub fn sign(&self, grant: &Grant) -> String {
        let body = grant.to_bytes();
        let mut signed = [0u8; SIGNED_LEN];
        signed[..BODY_LEN].copy_from_slice(&body);
        signed[BODY_LEN..].copy_from_slice(self.pair.sign(&body).as_ref());
        grant::encode_token(&signed)
    }
}

/// A remote's view: the server's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantVerifier {
    public: [u8; 32],
}

impl GrantVerifier {
    pub fn new(public: [u8; 32]) -> Self {
        Self { public }
    }

    pub fn from_hex(hex: &str) -> Result<Self, pyxis_proto::hex::HexError> {
        pyxis_proto::hex::decode_array(hex).map(Self::new)
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// Whether this key signed `new_key` as its successor.
    pub fn endorses(&self, new_key: &[u8; 32], signature: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public).verify(&grant::endorsement_input(new_key), signature).is_ok()
    }

    /// Checks a header value: format, signature and expiry. What it allows is
    /// then checked with [`check`].
    pub fn verify(&self, token: Option<&str>, now: u64) -> Result<Grant, GrantError> {
        let token = token.ok_or(GrantError::Missing)?;
        let bytes = grant::decode_token(token).map_err(|e| GrantError::Malformed(e.to_string()))?;
        let (g, sig) = Grant::parse_signed(&bytes).map_err(|e| GrantError::Malformed(e.to_string()))?;
        UnparsedPublicKey::new(&ED25519, &self.public)
            .verify(&bytes[..BODY_LEN], &sig)
            .map_err(|_| GrantError::BadSignature)?;
        if g.expires < now {
            return Err(GrantError::Expired { expired: g.expires, now });
        }
        Ok(g)
    }
}

/// Checks that a verified grant covers this operation on this shard here. A
/// put grant names the exact length of the shard (the server derives it from
/// the chunk's blob length and scheme); other grants an upper bound.
pub fn check(g: &Grant, op: GrantOp, remote: i64, shard: &ShardHash, size: Option<u64>) -> Result<(), GrantError> {
    if g.op != op {
        return Err(GrantError::WrongOp { granted: g.op, asked: op });
    }
    if g.remote != remote {
        return Err(GrantError::WrongRemote { granted: g.remote, this: remote });
    }
    if g.shard != *shard {
        return Err(GrantError::WrongShard { granted: g.shard, asked: *shard });
    }
    if let Some(size) = size
        && size > u64::from(g.max_size)
    {
        return Err(GrantError::TooLarge { size, max: g.max_size });
    }
    Ok(())
}

/// The size check of a put once the whole body is known: exact.
pub fn check_put_len(g: &Grant, len: u64) -> Result<(), GrantError> {
    if len != u64::from(g.max_size) {
        return Err(GrantError::WrongSize { size: len, granted: g.max_size });
    }
    Ok(())
}

/// Seconds since the Unix epoch (grants use whole seconds).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant { op: GrantOp::Put, remote: 7, shard: ShardHash([1; 32]), max_size: 1000, expires: 2000 }
    }

    #[test]
    fn signed_grants_verify_and_everything_else_fails() {
        let signer = GrantSigner::from_seed(&[3; 32]).unwrap();
        let verifier = GrantVerifier::new(signer.public_key());
        let token = signer.sign(&grant());
        let g = verifier.verify(Some(&token), 1000).unwrap();
        assert_eq!(g, grant());
        check(&g, GrantOp::Put, 7, &ShardHash([1; 32]), Some(1000)).unwrap();

        assert_eq!(verifier.verify(None, 1000), Err(GrantError::Missing));
        assert!(matches!(verifier.verify(Some(&token), 2001), Err(GrantError::Expired { .. })));
        let other = GrantVerifier::new(GrantSigner::from_seed(&[4; 32]).unwrap().public_key());
        assert_eq!(other.verify(Some(&token), 1000), Err(GrantError::BadSignature));
        assert!(matches!(check(&g, GrantOp::Get, 7, &ShardHash([1; 32]), None), Err(GrantError::WrongOp { .. })));
        assert!(matches!(check(&g, GrantOp::Put, 8, &ShardHash([1; 32]), None), Err(GrantError::WrongRemote { .. })));
        assert!(matches!(check(&g, GrantOp::Put, 7, &ShardHash([2; 32]), None), Err(GrantError::WrongShard { .. })));
        assert!(matches!(
            check(&g, GrantOp::Put, 7, &ShardHash([1; 32]), Some(1001)),
            Err(GrantError::TooLarge { .. })
        ));
    }

    #[test]
    fn any_tampering_breaks_the_signature() {
        let signer = GrantSigner::from_seed(&[3; 32]).unwrap();
        let verifier = GrantVerifier::new(signer.public_key());
        let bytes = grant::decode_token(&signer.sign(&grant())).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let mut arr = [0u8; SIGNED_LEN];
            arr.copy_from_slice(&b);
            assert!(verifier.verify(Some(&grant::encode_token(&arr)), 1000).is_err(), "bit {bit}");
        }
        assert!(matches!(verifier.verify(Some("%%%"), 0), Err(GrantError::Malformed(_))));
    }
}
