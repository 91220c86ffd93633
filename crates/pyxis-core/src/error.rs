//! The one error type of the data path.
//!
//! Policy: every input from a remote, a server, a disk or a user is hostile, so
//! every check returns an `Error` that names the thing that failed (which shard,
//! which field, which key) — never a panic and never bytes that were not
//! verified. Callers decide whether to retry with other shards
//! ([`Error::is_shard_fault`]) or to give up.

use pyxis_proto::ChunkId;
use pyxis_proto::format::FormatError;
use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Format(#[from] FormatError),

    /// A key, seal or shard hash did not check out (pyxis-crypto's checks).
    #[error(transparent)]
    Crypto(#[from] pyxis_crypto::Error),

    #[error("shards do not belong together: {0}")]
    InconsistentShards(String),

    #[error("not enough shards to decode: have {have} distinct, need {need}")]
    NotEnoughShards { have: usize, need: usize },

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

    #[error("no redundancy scheme possible: {0}")]
    Policy(String),

    #[error("placement needs {need} distinct remotes with free space, only {have} available")]
    NotEnoughRemotes { have: usize, need: usize },
}

impl Error {
    /// Whether the fault lies with one shard, so the caller should drop it and
    /// try others rather than fail the whole chunk.
    pub fn is_shard_fault(&self) -> bool {
        match self {
            Error::Format(_) => true,
            Error::Crypto(e) => e.is_shard_fault(),
            _ => false,
        }
    }
}
