//! The workers' counters of work done, read by `admin health` and
//! `/metrics` ([`crate::metrics`]) and bumped by each worker.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use pyxis_proto::api::admin::WorkerStats;

/// Counters of work done (reported by `admin health` and `/metrics`).
#[derive(Debug, Default)]
pub struct Stats {
    pub chunks_repaired: AtomicU64,
    pub shards_rebuilt: AtomicU64,
    pub repair_bytes: AtomicU64,
    pub chunks_reencoded: AtomicU64,
    pub unrecoverable: AtomicU64,
    pub audits_passed: AtomicU64,
    pub audits_failed: AtomicU64,
    pub chunks_expired: AtomicU64,
    pub garbage_deleted: AtomicU64,
    /// Whether this instance holds each worker's lease, as last seen.
    pub leases: std::sync::Mutex<std::collections::BTreeMap<&'static str, bool>>,
}

impl Stats {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    pub fn snapshot(&self) -> WorkerStats {
        WorkerStats {
            chunks_repaired: self.chunks_repaired.load(Relaxed),
            shards_rebuilt: self.shards_rebuilt.load(Relaxed),
            repair_bytes: self.repair_bytes.load(Relaxed),
            chunks_reencoded: self.chunks_reencoded.load(Relaxed),
            unrecoverable: self.unrecoverable.load(Relaxed),
            audits_passed: self.audits_passed.load(Relaxed),
            audits_failed: self.audits_failed.load(Relaxed),
            chunks_expired: self.chunks_expired.load(Relaxed),
            garbage_deleted: self.garbage_deleted.load(Relaxed),
        }
    }
}
