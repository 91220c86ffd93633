//! AES-256-GCM from aws-lc-rs, the one crypto provider of the project
//! (~20 GB/s on one core here, and the same library rustls uses).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::error::{Error, Result};

pub const TAG_LEN: usize = 16;

fn key(bytes: &[u8; 32]) -> LessSafeKey {
    // A 32-byte key is always valid for AES-256-GCM.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256 key is 32 bytes"))
}

/// Encrypts `in_out` in place and returns the tag.
pub fn seal(key_bytes: &[u8; 32], nonce: [u8; 12], aad: &[u8], in_out: &mut [u8]) -> [u8; TAG_LEN] {
    let tag = key(key_bytes)
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .expect("AES-GCM seal only fails for inputs over 64 GiB");
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Decrypts `in_out` in place after checking `tag`; on failure `in_out` holds
/// garbage that the caller must not use.
pub fn open(
    key_bytes: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    in_out: &mut [u8],
    tag: &[u8],
    what: &'static str,
) -> Result<()> {
    if tag.len() != TAG_LEN {
        return Err(Error::Decrypt { what });
    }
    key(key_bytes)
        .open_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), tag, in_out)
        .map(|_| ())
        .map_err(|_| Error::Decrypt { what })
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn random(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf).map_err(|_| Error::Random)
}
