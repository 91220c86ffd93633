//! Signed calls from a remote to the server. A remote *is* its Ed25519 key
//! pair, never its URL: every call it makes (register, heartbeat, report,
//! inventory) carries its public key, the time, and a signature over the
//! method, the path, the time and the BLAKE3 hash of the body.
//!
//! ```text
//! X-Pyxis-Remote-Auth: v1.<public key, 64 hex>.<Unix ms>.<signature, base64url>
//!
//! signed bytes: "PYXIS remote call v1\n" METHOD "\n" PATH "\n" <Unix ms, decimal> "\n"
//!               <BLAKE3 of the body, 32 bytes>
//! ```
//! The server accepts a time within [`MAX_SKEW_MS`] of its own clock, so a
//! captured call cannot be replayed later (within the window a replay only
//! repeats what the remote said).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use thiserror::Error;

/// The HTTP header that carries the signature.
pub const HEADER: &str = "x-pyxis-remote-auth";
/// How far a call's time may be from the server's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

const PREFIX: &str = "v1";
const CONTEXT: &[u8] = b"PYXIS remote call v1\n";

#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum RemoteAuthError {
    #[error("the call is not signed (header {HEADER} missing): this remote is older than the server; upgrade it")]
    Missing,
    #[error("malformed {HEADER} header: {0}")]
    Malformed(&'static str),
}

/// A parsed `X-Pyxis-Remote-Auth` value (the signature is not checked here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAuth {
    pub public_key: [u8; 32],
    pub time_ms: u64,
    pub signature: [u8; 64],
}

impl RemoteAuth {
    pub fn parse(value: &str) -> Result<RemoteAuth, RemoteAuthError> {
        if value.len() > 256 {
            return Err(RemoteAuthError::Malformed("too long"));
        }
        let mut parts = value.trim().split('.');
        let (Some(v), Some(key), Some(time), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(RemoteAuthError::Malformed("expected v1.KEY.TIME.SIGNATURE"));
        };
        if v != PREFIX {
            return Err(RemoteAuthError::Malformed("unknown version"));
        }
        let public_key =
            crate::hex::decode_array::<32>(key).map_err(|_| RemoteAuthError::Malformed("key is not 64 hex"))?;
        if time.is_empty() || time.len() > 20 || !time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RemoteAuthError::Malformed("time is not a decimal number"));
        }
        let time_ms = time.parse().map_err(|_| RemoteAuthError::Malformed("time is out of range"))?;
        let raw = URL_SAFE_NO_PAD.decode(sig).map_err(|_| RemoteAuthError::Malformed("signature is not base64url"))?;
        let signature: [u8; 64] =
            raw.try_into().map_err(|_| RemoteAuthError::Malformed("signature is not 64 bytes"))?;
        Ok(RemoteAuth { public_key, time_ms, signature })
    }

    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            crate::hex::encode(&self.public_key),
            self.time_ms,
            URL_SAFE_NO_PAD.encode(self.signature)
        )
    }
}

/// The bytes a remote signs for one call.
pub fn signing_input(method: &str, path: &str, time_ms: u64, body_hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(CONTEXT.len() + method.len() + path.len() + 24 + 32);
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(method.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(path.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(time_ms.to_string().as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body_hash);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_malformed_values() {
        let a = RemoteAuth { public_key: [0xab; 32], time_ms: 1_800_000_000_000, signature: [9; 64] };
        assert_eq!(RemoteAuth::parse(&a.encode()).unwrap(), a);
        for bad in [
            "",
            "v1",
            "v2.00.1.AA",
            &format!("v1.{}.1.AA", "zz".repeat(32)),
            &format!("v1.{}.x.AA", "ab".repeat(32)),
            &format!("v1.{}.-1.AA", "ab".repeat(32)),
            &format!("v1.{}.1.AA", "ab".repeat(32)),
            &format!("v1.{}.1.{}.x", "ab".repeat(32), "A".repeat(86)),
            &"v1.".repeat(100),
        ] {
            assert!(RemoteAuth::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_signed_bytes_bind_every_part() {
        let base = signing_input("POST", "/v1/remotes/register", 5, &[1; 32]);
        assert_ne!(base, signing_input("PUT", "/v1/remotes/register", 5, &[1; 32]));
        assert_ne!(base, signing_input("POST", "/v1/remotes/1/heartbeat", 5, &[1; 32]));
        assert_ne!(base, signing_input("POST", "/v1/remotes/register", 6, &[1; 32]));
        assert_ne!(base, signing_input("POST", "/v1/remotes/register", 5, &[2; 32]));
    }
}
