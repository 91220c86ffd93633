//! A wrapped (encrypted) key: the master key under the password-derived
//! key-wrapping key, or a file key for its owner or for another reader.
//!
//! ```text
//! off len field
//!   0   4 magic "PYXK"
//!   4   1 version = 1
//!   5   1 algorithm: 1 = AES-256-GCM under a symmetric wrapping key
//!                    2 = X25519 (ephemeral-static) + AES-256-GCM, to a reader
//!                    3 = X25519 (ephemeral-static and static-static) +
//!                        AES-256-GCM: to a reader, from a known sender
//!   6   1 purpose: 1 = master key, 2 = file key, 3 = master key of an account
//!                  that binds every version, 4 = share key, 5 = binding key
//!   7   1 reserved = 0
//! algorithm 1:  8 12 nonce,            20 32 sealed key, 52 16 tag  (68 bytes)
//! algorithm 2:  8 32 ephemeral public, 40 32 sealed key, 72 16 tag  (88 bytes)
//! algorithm 3:  as algorithm 2                                       (88 bytes)
//! ```
//! Bytes 0..8 are the AEAD associated data, so a key sealed for one purpose
//! cannot be passed off as another. Share keys and the keys wrapped under
//! them add a context to the associated data (pyxis-core `share`), which the
//! opener supplies and which is not stored here.

use super::{FormatError, Reader};

pub const MAGIC: [u8; 4] = *b"PYXK";
pub const VERSION: u8 = 1;
pub const PREFIX_LEN: usize = 8;
pub const ALG_SYMMETRIC: u8 = 1;
pub const ALG_X25519: u8 = 2;
pub const ALG_X25519_AUTH: u8 = 3;
pub const SYMMETRIC_LEN: usize = 68;
pub const X25519_LEN: usize = 88;

const WHAT: &str = "wrapped key";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    MasterKey = 1,
    FileKey = 2,
    /// The master key of an account that binds every version (created with
    /// bindings, docs/SECURITY.md "Authenticated versions"): its devices
    /// refuse unbound versions. In the associated data like every purpose,
    /// so the server cannot turn it back into `MasterKey`.
    BoundMasterKey = 3,
    ShareKey = 4,
    BindingKey = 5,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WrappedKey {
    Symmetric { purpose: Purpose, nonce: [u8; 12], sealed: [u8; 48] },
    X25519 { purpose: Purpose, ephemeral: [u8; 32], sealed: [u8; 48] },
    X25519Auth { purpose: Purpose, ephemeral: [u8; 32], sealed: [u8; 48] },
}

pub fn prefix(alg: u8, purpose: Purpose) -> [u8; PREFIX_LEN] {
    let mut p = [0u8; PREFIX_LEN];
    p[..4].copy_from_slice(&MAGIC);
    p[4] = VERSION;
    p[5] = alg;
    p[6] = purpose as u8;
    p
}

impl WrappedKey {
    pub fn purpose(&self) -> Purpose {
        match self {
            WrappedKey::Symmetric { purpose, .. }
            | WrappedKey::X25519 { purpose, .. }
            | WrappedKey::X25519Auth { purpose, .. } => *purpose,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            WrappedKey::Symmetric { purpose, nonce, sealed } => {
                [&prefix(ALG_SYMMETRIC, *purpose)[..], nonce, sealed].concat()
            }
            WrappedKey::X25519 { purpose, ephemeral, sealed } => {
                [&prefix(ALG_X25519, *purpose)[..], ephemeral, sealed].concat()
            }
            WrappedKey::X25519Auth { purpose, ephemeral, sealed } => {
                [&prefix(ALG_X25519_AUTH, *purpose)[..], ephemeral, sealed].concat()
            }
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(WHAT, bytes);
        r.preamble(&MAGIC, VERSION)?;
        let alg = r.u8()?;
        let purpose = match r.u8()? {
            1 => Purpose::MasterKey,
            2 => Purpose::FileKey,
            3 => Purpose::BoundMasterKey,
            4 => Purpose::ShareKey,
            5 => Purpose::BindingKey,
            v => {
                return Err(FormatError::Unknown { what: WHAT, field: "purpose", value: v.into() });
            }
        };
        r.zero(1)?;
        let key = match alg {
            ALG_SYMMETRIC => WrappedKey::Symmetric { purpose, nonce: r.array()?, sealed: r.array()? },
            ALG_X25519 => WrappedKey::X25519 { purpose, ephemeral: r.array()?, sealed: r.array()? },
            ALG_X25519_AUTH => WrappedKey::X25519Auth { purpose, ephemeral: r.array()?, sealed: r.array()? },
            v => {
                return Err(FormatError::Unknown { what: WHAT, field: "algorithm", value: v.into() });
            }
        };
        let extra = r.rest().len();
        if extra != 0 {
            return Err(FormatError::Invalid {
                what: WHAT,
                field: "length",
                value: bytes.len() as u64,
                why: "trailing bytes after the key",
            });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_lengths_and_rejections() {
        let a = WrappedKey::Symmetric { purpose: Purpose::MasterKey, nonce: [1; 12], sealed: [2; 48] };
        let b = WrappedKey::X25519 { purpose: Purpose::FileKey, ephemeral: [3; 32], sealed: [4; 48] };
        let c = WrappedKey::X25519Auth { purpose: Purpose::ShareKey, ephemeral: [5; 32], sealed: [6; 48] };
        assert_eq!(a.to_bytes().len(), SYMMETRIC_LEN);
        assert_eq!(b.to_bytes().len(), X25519_LEN);
        assert_eq!(c.to_bytes().len(), X25519_LEN);
        for k in [a, b, c] {
            let bytes = k.to_bytes();
            assert_eq!(WrappedKey::parse(&bytes).unwrap(), k);
            for n in 0..bytes.len() {
                assert!(WrappedKey::parse(&bytes[..n]).is_err());
            }
            let mut long = bytes.clone();
            long.push(0);
            assert!(WrappedKey::parse(&long).is_err());
            let mut bad = bytes.clone();
            bad[5] = 9;
            assert!(WrappedKey::parse(&bad).unwrap_err().to_string().contains("algorithm 9"));
        }
    }
}
