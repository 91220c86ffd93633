//! Transfer counters, updated by the pipelines and read by whoever draws a
//! progress bar (the CLI) or prints a summary.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Progress {
    /// Plaintext bytes to process in total (0 while unknown).
    pub total: AtomicU64,
    /// Plaintext bytes read from disk (put) or written to disk (get).
    pub done: AtomicU64,
    /// Plaintext bytes of chunks that had to be uploaded.
    pub new: AtomicU64,
    /// Plaintext bytes of chunks the server already had.
    pub dedup: AtomicU64,
    /// Shard bytes that crossed the network (parity included).
    pub wire: AtomicU64,
    pub files: AtomicU64,
    pub files_total: AtomicU64,
    /// Chunks uploaded / found already stored.
    pub chunks_new: AtomicU64,
    pub chunks_dedup: AtomicU64,
    /// Requests to the server for shard locations (the cache saves these).
    pub locates: AtomicU64,
    /// Shard uploads moved to another remote after theirs failed.
    pub failovers: AtomicU64,
    /// Chunks placed again, cut for a narrower scheme, because too few of
    /// their remotes took their shards (remotes died).
    pub replaced_chunks: AtomicU64,
    /// Shard uploads still in flight when their chunk had reached its
    /// success threshold and the grace after it ran out: cancelled, and
    /// left to repair (a slow or stalled remote).
    pub tail_cut: AtomicU64,
    /// Spare shard reads asked of another remote because one fell behind.
    pub hedges: AtomicU64,
}

/// A point-in-time copy of [`Progress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub total: u64,
    pub done: u64,
    pub new: u64,
    pub dedup: u64,
    pub wire: u64,
    pub files: u64,
    pub files_total: u64,
    pub chunks_new: u64,
    pub chunks_dedup: u64,
    pub locates: u64,
    pub failovers: u64,
    pub replaced_chunks: u64,
    pub tail_cut: u64,
    pub hedges: u64,
}

impl Progress {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn totals(&self) -> Totals {
        Totals {
            total: self.total.load(Relaxed),
            done: self.done.load(Relaxed),
            new: self.new.load(Relaxed),
            dedup: self.dedup.load(Relaxed),
            wire: self.wire.load(Relaxed),
            files: self.files.load(Relaxed),
            files_total: self.files_total.load(Relaxed),
            chunks_new: self.chunks_new.load(Relaxed),
            chunks_dedup: self.chunks_dedup.load(Relaxed),
            locates: self.locates.load(Relaxed),
            failovers: self.failovers.load(Relaxed),
            replaced_chunks: self.replaced_chunks.load(Relaxed),
            tail_cut: self.tail_cut.load(Relaxed),
            hedges: self.hedges.load(Relaxed),
        }
    }
}
