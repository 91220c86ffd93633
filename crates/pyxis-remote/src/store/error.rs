//! The shard store's error type.
//!
//! Policy: nothing read from disk is trusted, so damage is reported (a shard
//! as [`StoreError::Corrupt`], a volume in the log) and never panics. Errors are
//! `Clone` because one failed group commit answers every request in it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyxis_proto::ShardHash;
use thiserror::Error;

use super::layout::MAX_SHARD_LEN;

#[derive(Debug, Error, Clone)]
#[non_exhaustive]
pub enum StoreError {
    #[error("shard {expected}: the bytes sent hash to {actual}, not to the shard's address")]
    HashMismatch { expected: ShardHash, actual: ShardHash },

    #[error("shard {hash}: {len} bytes is over the {MAX_SHARD_LEN}-byte shard limit")]
    TooLarge { hash: ShardHash, len: u64 },

    #[error(
        "store full: a {len}-byte shard does not fit ({used} of {capacity} bytes used, {pending} being written); \
         delete shards or raise the capacity"
    )]
    Full { len: u64, used: u64, pending: u64, capacity: u64 },

    #[error("shard {0} is not stored here")]
    NotFound(ShardHash),

    #[error("shard {0} is corrupt on disk (its bytes no longer match its hash) and was dropped")]
    Corrupt(ShardHash),

    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    #[error("store {0} is already open (its LOCK file is held by another store or process)")]
    Locked(PathBuf),

    #[error("the store stopped writing after a failed flush to disk ({0}); restart the remote")]
    Broken(String),

    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    pub(crate) fn io(what: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io { what, path: path.to_owned(), source: Arc::new(source) }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
