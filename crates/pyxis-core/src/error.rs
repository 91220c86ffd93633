//! The one error type of the data path.
//!
//! Policy: every input from a remote, a server, a disk or a user is hostile, so
//! every check returns an `Error` that names the thing that failed (which shard,
//! which field, which key) — never a panic and never bytes that were not
//! verified. Callers decide whether to retry with other shards
//! ([`Error::is_shard_fault`]) or to give up.

use pyxis_proto::format::FormatError;
use pyxis_proto::{ChunkId, ShardHash};
use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Format(#[from] FormatError),

    #[error("shard {expected}: hash mismatch (got {actual}): the shard is corrupt or not the one asked for")]
    ShardHash { expected: ShardHash, actual: ShardHash },

    #[error("shards do not belong together: {0}")]
    InconsistentShards(String),

    #[error("not enough shards to decode: have {have} distinct, need {need}")]
    NotEnoughShards { have: usize, need: usize },

    #[error("{what}: authentication failed (corrupt, tampered with, or the wrong key)")]
    Decrypt { what: &'static str },

    #[error("chunk {0}: decrypted content does not match the chunk id")]
    ChunkIdMismatch(ChunkId),

    #[error("chunk {id}: {why}")]
    Decompress { id: ChunkId, why: String },

    #[error("compression failed: {0}")]
    Compress(String),

    #[error("erasure coding failed: {0}")]
    Erasure(String),

    #[error("reading input: {0}")]
    Io(#[from] std::io::Error),

    #[error("invalid chunker parameters: {0}")]
    ChunkerParams(String),

    #[error("password key derivation: {0}")]
    Kdf(String),

    #[error("the system random number generator failed")]
    Random,

    #[error("{what}: invalid key")]
    Key { what: &'static str },

    #[error("no redundancy scheme possible: {0}")]
    Policy(String),

    #[error("placement needs {need} distinct remotes with free space, only {have} available")]
    NotEnoughRemotes { have: usize, need: usize },
}

impl Error {
    /// Whether the fault lies with one shard, so the caller should drop it and
    /// try others rather than fail the whole chunk.
    pub fn is_shard_fault(&self) -> bool {
        matches!(self, Error::ShardHash { .. } | Error::Format(_))
    }
}
