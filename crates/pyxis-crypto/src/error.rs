//! The error type of the primitives that protect and authenticate.
//!
//! Policy: as in the data path (pyxis-core's `error`), every input is
//! hostile, so a failed check returns an `Error` naming what failed (which
//! key, which shard) and never a panic. Modules with richer failures of their
//! own (grants, identity, session tokens) have their own enums beside it.

use pyxis_proto::ShardHash;
use pyxis_proto::format::FormatError;
use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Format(#[from] FormatError),

    #[error("shard {expected}: hash mismatch (got {actual}): the shard is corrupt or not the one asked for")]
    ShardHash { expected: ShardHash, actual: ShardHash },

    #[error("{what}: authentication failed (corrupt, tampered with, or the wrong key)")]
    Decrypt { what: &'static str },

    #[error("password key derivation: {0}")]
    Kdf(String),

    #[error("the system random number generator failed")]
    Random,

    #[error("{what}: invalid key")]
    Key { what: &'static str },
}

impl Error {
    /// Whether the fault lies with one shard, so the caller should drop it and
    /// try others rather than fail the whole chunk.
    pub fn is_shard_fault(&self) -> bool {
        matches!(self, Error::ShardHash { .. } | Error::Format(_))
    }
}
