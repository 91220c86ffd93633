//! Compaction (reclaiming the space of deleted shards) and scrubbing
//! (re-hashing everything to find rot before a client does).
//!
//! Compaction copies a mostly-dead volume's live records, and the tombstones
//! that still matter, to the active volume through the writer, waits until
//! they are durable, and only then removes the old volume. A crash at any
//! point leaves either the old volume (replay sees original, then copy: same
//! bytes) or only the copies, so no live shard is lost; and deleted shards stay
//! deleted because a tombstone is dropped only together with its target.

use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pyxis_crypto::shard::shard_hash;
use pyxis_proto::ShardHash;
use tokio::sync::oneshot;
use tracing::{error, info, warn};

use super::error::{Result, StoreError};
use super::handle::{Store, blocking};
use super::layout::{Loc, RecordKind, VOLUME_HEADER_LEN};
use super::volume::{self, ReadFault, ScanEnd, Scanned};
use super::writer::Op;

/// Copies in flight before compaction waits for them to be durable: bounds
/// the memory a compaction holds.
const RELOCATE_WINDOW: u64 = 32 << 20;

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Volumes rewritten and removed.
    pub volumes: u64,
    /// Live shards copied to the active volume.
    pub relocated: u64,
    /// Bytes of volume files removed, less the bytes the copies took.
    pub reclaimed_bytes: u64,
    /// Live shards found corrupt while copying (dropped, not copied).
    pub corrupt: Vec<ShardHash>,
}

/// What a scrub found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubReport {
    pub checked: u64,
    pub bytes: u64,
    /// Shards whose bytes failed their hash; they were dropped.
    pub corrupt: Vec<ShardHash>,
}

/// Outstanding writer answers of one compaction.
#[derive(Default)]
struct InFlight {
    relocations: Vec<oneshot::Receiver<Result<bool>>>,
    drops: Vec<oneshot::Receiver<Result<bool>>>,
    others: Vec<oneshot::Receiver<Result<()>>>,
    bytes: u64,
    relocated: u64,
    written: u64,
}

impl InFlight {
    /// Blocks until every sent copy is durable (runs on a blocking thread).
    fn settle(&mut self) -> Result<()> {
        for rx in self.relocations.drain(..) {
            if rx.blocking_recv().unwrap_or(Err(StoreError::Closed))? {
                self.relocated += 1;
            }
        }
        for rx in self.drops.drain(..) {
            rx.blocking_recv().unwrap_or(Err(StoreError::Closed))?;
        }
        for rx in self.others.drain(..) {
            rx.blocking_recv().unwrap_or(Err(StoreError::Closed))?;
        }
        self.bytes = 0;
        Ok(())
    }
}

impl Store {
    /// Rewrites every sealed volume whose dead fraction reached the threshold
    /// and removes it. Safe to run at any time; runs one at a time.
    pub async fn compact(&self) -> Result<CompactReport> {
        let _one_at_a_time = self.inner.compacting.lock().await;
        let candidates: Vec<(u32, u64)> = {
            let state = self.inner.shared.lock();
            let threshold = self.inner.opts.compact_threshold;
            let volumes = state.index.volumes().iter();
            let due = volumes.filter(|(id, v)| **id != state.active && v.dead_bytes() > 0);
            due.filter(|(_, v)| v.dead_fraction() >= threshold).map(|(id, v)| (*id, v.file_len)).collect()
        };
        let mut report = CompactReport::default();
        for (id, file_len) in candidates {
            if self.is_closed() {
                return Err(StoreError::Closed);
            }
            let store = self.clone();
            let (flight, corrupt) = blocking(move || store.compact_volume(id, file_len)).await?;
            report.corrupt.extend(corrupt);
            report.relocated += flight.relocated;
            let store = self.clone();
            if blocking(move || store.remove_volume(id)).await? {
                report.volumes += 1;
                report.reclaimed_bytes += file_len.saturating_sub(flight.written);
            }
        }
        Ok(report)
    }

    /// Copies what must survive out of volume `id` (on a blocking thread).
    fn compact_volume(&self, id: u32, file_len: u64) -> Result<(InFlight, Vec<ShardHash>)> {
        let path = volume::volume_path(&self.inner.dir, id);
        let mut flight = InFlight::default();
        let mut corrupt = Vec::new();
        let mut failed = None;
        let end = volume::scan_file(&path, VOLUME_HEADER_LEN, file_len, false, |s| {
            let Scanned::Record { offset, header, data } = s else { return ControlFlow::Continue(()) };
            let loc = Loc { volume: id, offset };
            let hash = header.hash;
            let op = match header.kind {
                RecordKind::Shard { .. } => {
                    let live = self.inner.shared.lock().index.get(&hash).is_some_and(|s| s.loc == loc);
                    if !live {
                        return ControlFlow::Continue(());
                    }
                    if shard_hash(data) != hash {
                        error!(shard = %hash, path = %path.display(), offset, "corrupt shard found while compacting; dropped");
                        corrupt.push(hash);
                        let (reply, rx) = oneshot::channel();
                        flight.drops.push(rx);
                        Op::Delete { hash, expect: Some(loc), reply }
                    } else {
                        flight.written += header.record_len();
                        flight.bytes += header.record_len();
                        let (reply, rx) = oneshot::channel();
                        flight.relocations.push(rx);
                        Op::Relocate { hash, from: loc, data: Bytes::copy_from_slice(data), reply }
                    }
                }
                RecordKind::Tombstone { target } => {
                    // Needed only while its target's volume exists; a volume
                    // never comes back, since ids are not reused.
                    let needed = target.volume != id && self.inner.shared.lock().index.volume(target.volume).is_some();
                    if !needed {
                        return ControlFlow::Continue(());
                    }
                    flight.written += header.record_len();
                    let (reply, rx) = oneshot::channel();
                    flight.others.push(rx);
                    Op::Carry { hash, target, reply }
                }
            };
            if self.inner.tx.send(op).is_err() || self.is_closed() {
                failed = Some(StoreError::Closed);
                return ControlFlow::Break(());
            }
            if flight.bytes >= RELOCATE_WINDOW
                && let Err(e) = flight.settle()
            {
                failed = Some(e);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| StoreError::io("compacting", &path, e))?;
        if let Some(e) = failed {
            return Err(e);
        }
        flight.settle()?;
        if let ScanEnd::Torn { offset, why } = end {
            warn!(path = %path.display(), offset, %why, "volume ends in damage; compacting what is readable");
        }
        Ok((flight, corrupt))
    }

    /// Forgets and deletes an emptied volume. Returns false (keeping it) if a
    /// live shard still points into it.
    fn remove_volume(&self, id: u32) -> Result<bool> {
        {
            let mut state = self.inner.shared.lock();
            if !state.index.remove_volume(id) {
                warn!(volume = id, "volume still holds live shards after compaction; keeping it");
                return Ok(false);
            }
            state.files.remove(&id);
        }
        // The volume goes first: a snapshot without its volume is ignored at
        // startup, while a volume without its snapshot is merely re-scanned.
        let dir = &self.inner.dir;
        for path in [volume::volume_path(dir, id), volume::snapshot_path(dir, id)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("removing", &path, e)),
            }
        }
        crate::fsutil::sync_dir(dir).map_err(|e| StoreError::io("syncing", dir, e))?;
        info!(volume = id, "compacted volume removed");
        Ok(true)
    }

    /// Re-reads and re-hashes every shard. Corrupt ones are dropped from the
    /// store (durably) and listed.
    pub async fn scrub(&self) -> Result<ScrubReport> {
        let mut slots = {
            let state = self.inner.shared.lock();
            let with_file = state.index.slots().into_iter();
            with_file
                .filter_map(|(h, s)| state.files.get(&s.loc.volume).map(|f| (h, s, Arc::clone(f))))
                .collect::<Vec<_>>()
        };
        // Disk order: sequential reads.
        slots.sort_by_key(|(_, s, _)| s.loc);
        let (report, bad) = blocking(move || {
            let mut report = ScrubReport::default();
            let mut bad = Vec::new();
            for (hash, slot, file) in slots {
                report.checked += 1;
                report.bytes += u64::from(slot.len);
                match volume::read_shard(&file, slot, &hash) {
                    Ok(_) => {}
                    Err(ReadFault::Corrupt(why)) => bad.push((hash, slot, why)),
                    Err(ReadFault::Io(e)) => warn!(shard = %hash, error = %e, "scrub could not read a shard"),
                }
            }
            (report, bad)
        })
        .await;
        let mut report = report;
        for (hash, slot, why) in bad {
            // A shard deleted or moved meanwhile is not corrupt.
            if self.inner.shared.lock().index.get(&hash) == Some(slot) {
                self.drop_corrupt(hash, slot, &why).await;
                report.corrupt.push(hash);
            }
        }
        Ok(report)
    }
}

/// Compacts in the background: when a delete pushes a volume over the
/// threshold, and every `every` in case a wake-up was missed.
pub(super) fn spawn_background(store: &Store, every: Duration) {
    let weak = Arc::downgrade(&store.inner);
    let shared = store.inner.shared.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shared.compact_wanted.notified() => {}
                () = tokio::time::sleep(every) => {}
            }
            let Some(inner) = weak.upgrade() else { break };
            let store = Store { inner };
            if store.is_closed() {
                break;
            }
            match store.compact().await {
                Ok(r) if r.volumes > 0 => {
                    info!(volumes = r.volumes, relocated = r.relocated, reclaimed = r.reclaimed_bytes, "compacted")
                }
                Ok(_) => {}
                Err(StoreError::Closed) => break,
                Err(e) => warn!(error = %e, "background compaction failed"),
            }
        }
    });
}
