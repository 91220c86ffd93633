//! The store's plain types: the knobs it opens with and the figures it
//! reports. Apart from the handle, so the writer thread can name what a put
//! did without reaching back into the module that owns it.

use std::path::PathBuf;
use std::time::Duration;

/// Default volume size: big enough that a volume's snapshot and file count
/// stay small for terabytes, small enough that compacting one is quick.
pub const DEFAULT_VOLUME_SIZE: u64 = 512 << 20;

/// Knobs of a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Live shard bytes the store accepts; puts past it fail with [`StoreError::Full`](super::StoreError::Full).
    pub capacity: u64,
    /// A volume is sealed and a new one started once it would grow past this.
    pub volume_size: u64,
    /// A sealed volume is compacted once this fraction of it is dead.
    pub compact_threshold: f64,
    /// How often background compaction looks for work (it also wakes when a
    /// delete makes a volume cross the threshold); `None` turns it off.
    pub auto_compact: Option<Duration>,
}

impl StoreOptions {
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            volume_size: DEFAULT_VOLUME_SIZE,
            compact_threshold: 0.5,
            auto_compact: Some(Duration::from_secs(60)),
        }
    }
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// The shard was already here; nothing was written.
    Existed,
}

/// Inventory figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    pub shards: u64,
    /// Live shard bytes.
    pub used: u64,
    pub capacity: u64,
    pub free: u64,
    /// Bytes of all volume files, dead space included.
    pub file_bytes: u64,
    pub volumes: u64,
    /// Batches flushed to disk since the store opened (puts share flushes).
    pub flushes: u64,
}

/// Where a shard's bytes are on disk, for tools and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardLocation {
    pub path: PathBuf,
    /// Offset of the shard's first byte (after its record header).
    pub offset: u64,
    pub len: u32,
}
