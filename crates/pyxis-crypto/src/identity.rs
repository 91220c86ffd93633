//! A remote's identity: an Ed25519 key pair it makes on first start and keeps
//! in its directory. The key, never the URL, is who the remote is. It signs
//! every call the remote makes to the server (`pyxis_proto::remote_call`) and
//! every storage receipt (`pyxis_proto::receipt`); the server checks both
//! with the public key it recorded at admission.
//!
//! Ed25519 through aws-lc-rs, the project's one crypto provider.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use pyxis_proto::receipt::{self, BODY_LEN, Receipt, SIGNED_LEN};
use pyxis_proto::remote_call::{self, MAX_SKEW_MS, RemoteAuth};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a signed statement from a remote is not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("malformed {what}: {why}")]
    Malformed { what: &'static str, why: String },
    #[error("{what} signature does not verify with the remote's key")]
    BadSignature { what: &'static str },
    #[error(
        "call signed at {signed_ms} ms, {skew_ms} ms away from the server's clock (limit {MAX_SKEW_MS}); check the remote's clock"
    )]
    Stale { signed_ms: u64, skew_ms: u64 },
}

/// A remote's key pair.
pub struct RemoteKey {
    pair: Ed25519KeyPair,
    seed: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for RemoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteKey({})", pyxis_proto::hex::encode(&self.public_key()))
    }
}

impl RemoteKey {
    /// A new random key.
    pub fn generate() -> crate::Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(seed.as_mut()).map_err(|_| crate::Error::Random)?;
        Self::from_seed(&seed)
    }

    pub fn from_seed(seed: &[u8; 32]) -> crate::Result<Self> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| crate::Error::Key { what: "remote identity key" })?;
        Ok(Self { pair, seed: Zeroizing::new(*seed) })
    }

    /// The secret seed, to be stored (owner-only) by the remote.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(msg).as_ref());
        out
    }

    /// The `X-Pyxis-Remote-Auth` value for a call.
    pub fn sign_call(&self, method: &str, path: &str, time_ms: u64, body: &[u8]) -> String {
        let hash = blake3::hash(body);
        let signature = self.sign(&remote_call::signing_input(method, path, time_ms, hash.as_bytes()));
        RemoteAuth { public_key: self.public_key(), time_ms, signature }.encode()
    }

    /// The `X-Pyxis-Receipt` value for a stored shard.
    pub fn sign_receipt(&self, r: &Receipt) -> String {
        let body = r.to_bytes();
        let mut signed = [0u8; SIGNED_LEN];
        signed[..BODY_LEN].copy_from_slice(&body);
        signed[BODY_LEN..].copy_from_slice(&self.sign(&body));
        receipt::encode(&signed)
    }
}

/// Checks an Ed25519 signature.
pub fn verify(public_key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key).verify(msg, sig).is_ok()
}

/// Checks a signed call: well-formed, signed by the key it names, over this
/// method, path and body, at a time within the allowed skew of `now_ms`.
/// Returns the caller's public key (the server then checks who that is).
pub fn verify_call(
    header: &str,
    method: &str,
    path: &str,
    body: &[u8],
    now_ms: u64,
) -> Result<[u8; 32], SignatureError> {
    let auth = RemoteAuth::parse(header).map_err(|e| SignatureError::Malformed { what: "call", why: e.to_string() })?;
    let skew_ms = auth.time_ms.abs_diff(now_ms);
    if skew_ms > MAX_SKEW_MS {
        return Err(SignatureError::Stale { signed_ms: auth.time_ms, skew_ms });
    }
    let input = remote_call::signing_input(method, path, auth.time_ms, blake3::hash(body).as_bytes());
    if !verify(&auth.public_key, &input, &auth.signature) {
        return Err(SignatureError::BadSignature { what: "call" });
    }
    Ok(auth.public_key)
}

/// Checks a receipt's signature with the remote's key and returns what it says.
pub fn verify_receipt(public_key: &[u8; 32], token: &str) -> Result<Receipt, SignatureError> {
    let malformed =
        |e: pyxis_proto::format::FormatError| SignatureError::Malformed { what: "receipt", why: e.to_string() };
    let bytes = receipt::decode(token).map_err(malformed)?;
    let (r, sig) = Receipt::parse_signed(&bytes).map_err(malformed)?;
    if !verify(public_key, &bytes[..BODY_LEN], &sig) {
        return Err(SignatureError::BadSignature { what: "receipt" });
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyxis_proto::ShardHash;

    #[test]
    fn calls_verify_only_as_signed() {
        let key = RemoteKey::from_seed(&[5; 32]).unwrap();
        let h = key.sign_call("POST", "/v1/remotes/register", 1_000_000, b"{}");
        assert_eq!(verify_call(&h, "POST", "/v1/remotes/register", b"{}", 1_000_000).unwrap(), key.public_key());
        // Within the skew either way; beyond it, stale.
        verify_call(&h, "POST", "/v1/remotes/register", b"{}", 1_000_000 + MAX_SKEW_MS).unwrap();
        assert!(matches!(
            verify_call(&h, "POST", "/v1/remotes/register", b"{}", 1_000_000 + MAX_SKEW_MS + 1),
            Err(SignatureError::Stale { .. })
        ));
        for (m, p, b) in [
            ("PUT", "/v1/remotes/register", &b"{}"[..]),
            ("POST", "/v1/remotes/2/heartbeat", b"{}"),
            ("POST", "/v1/remotes/register", b"{ }"),
        ] {
            assert_eq!(verify_call(&h, m, p, b, 1_000_000), Err(SignatureError::BadSignature { what: "call" }));
        }
        // Another key cannot sign as this one: swapping the key in the header breaks the signature.
        let other = RemoteKey::from_seed(&[6; 32]).unwrap();
        let mut forged = RemoteAuth::parse(&h).unwrap();
        forged.public_key = other.public_key();
        assert!(verify_call(&forged.encode(), "POST", "/v1/remotes/register", b"{}", 1_000_000).is_err());
        assert!(matches!(verify_call("v1.x", "POST", "/", b"", 0), Err(SignatureError::Malformed { .. })));
    }

    #[test]
    fn receipts_verify_with_their_remote_key_only() {
        let key = RemoteKey::generate().unwrap();
        let r = Receipt { remote: 3, shard: ShardHash([8; 32]), len: 4096, time_ms: 77 };
        let token = key.sign_receipt(&r);
        assert_eq!(verify_receipt(&key.public_key(), &token).unwrap(), r);
        let other = RemoteKey::generate().unwrap();
        assert_eq!(verify_receipt(&other.public_key(), &token), Err(SignatureError::BadSignature { what: "receipt" }));
        let bytes = receipt::decode(&token).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let mut arr = [0u8; SIGNED_LEN];
            arr.copy_from_slice(&b);
            assert!(verify_receipt(&key.public_key(), &receipt::encode(&arr)).is_err(), "bit {bit}");
        }
        assert!(!format!("{key:?}").contains(&pyxis_proto::hex::encode(key.seed())));
    }
}
