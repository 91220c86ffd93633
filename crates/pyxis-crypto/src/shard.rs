//! A shard's address (BLAKE3 of its bytes) and the check every party makes
//! before it trusts a shard: its hash, then its header. This is all of the
//! data path a remote needs, so it lives here rather than beside erasure
//! coding.

use pyxis_proto::ShardHash;
use pyxis_proto::format::shard::ShardHeader;

use crate::error::{Error, Result};

/// The address of a shard's bytes.
pub fn shard_hash(bytes: &[u8]) -> ShardHash {
    ShardHash(*blake3::hash(bytes).as_bytes())
}

/// A shard whose bytes matched the expected hash and whose header parsed. Only
/// [`verify_shard`] makes one, so a payload always has the size its header says.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedShard<'a> {
    header: ShardHeader,
    payload: &'a [u8],
}

impl<'a> VerifiedShard<'a> {
    pub fn header(&self) -> &ShardHeader {
        &self.header
    }

    /// The bytes after the header (the erasure-coded slice of the blob).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// Checks a shard received from anywhere: its hash first (so nothing unverified
/// is even parsed further), then its header.
pub fn verify_shard<'a>(bytes: &'a [u8], expected: &ShardHash) -> Result<VerifiedShard<'a>> {
    let actual = shard_hash(bytes);
    if actual != *expected {
        return Err(Error::ShardHash { expected: *expected, actual });
    }
    let (header, payload) = ShardHeader::parse(bytes)?;
    Ok(VerifiedShard { header, payload })
}
