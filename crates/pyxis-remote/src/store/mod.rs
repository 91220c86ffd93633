//! The shard store: content-addressed shards in append-only volume files.
//!
//! Why volumes and not a file per shard: creating, writing and renaming one
//! file per shard costs the kernel ~5 s per 1.5 GiB here and caps durable puts
//! near 450 MB/s, while appending to one big file and flushing it once per batch
//! costs a fraction of that. Shards live as records in volume files
//! (docs/FORMAT.md); an in-memory index maps each hash to its record and is
//! rebuilt at startup from per-volume index snapshots plus a re-hashed tail.
//!
//! Guarantees: a put returns only once its record is flushed (`fdatasync`);
//! every read re-hashes the bytes, and a shard that fails is dropped and
//! reported, never served; deletes are durable tombstones; compaction rewrites
//! mostly-dead volumes without ever losing a live shard or reviving a deleted
//! one across a crash. All disk work runs off the async runtime: one writer
//! thread for changes, `spawn_blocking` for reads.

mod compact;
mod error;
mod handle;
mod index;
pub mod layout;
mod recover;
mod types;
mod volume;
mod writer;

use std::fs::{self, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use bytes::Bytes;
use pyxis_crypto::shard::shard_hash;
use pyxis_proto::ShardHash;
use tokio::sync::oneshot;
use tracing::error;

pub use compact::{CompactReport, ScrubReport};
pub use error::{Result, StoreError};
pub use handle::Store;
use handle::{Inner, blocking};
use index::Slot;
pub use layout::MAX_SHARD_LEN;
pub use types::{DEFAULT_VOLUME_SIZE, PutOutcome, ShardLocation, StoreOptions, StoreStats};
use volume::ReadFault;
use writer::{Op, Shared, State, Writer, WriterConfig};

/// The volume scanner, public only for the fuzz targets in `fuzz/` (a volume
/// file is bytes from the disk, so its reader must hold up to anything).
#[doc(hidden)]
pub mod fuzzing {
    pub use super::volume::{ScanEnd, Scanned, scan};
}

/// Shards up to this size are hashed on the calling task; bigger ones on a
/// blocking thread (hashing 64 KiB takes ~10 µs).
const INLINE_HASH_MAX: usize = 64 << 10;
/// The active volume's snapshot is rewritten after this many new bytes, which
/// bounds what a restart must re-hash.
const CHECKPOINT_BYTES: u64 = 64 << 20;

impl Store {
    /// Opens (creating if needed) the store in `dir`, recovering from whatever
    /// a crash left. Fails if another store has the directory open.
    pub async fn open(dir: impl Into<PathBuf>, opts: StoreOptions) -> Result<Store> {
        let dir = dir.into();
        let store = blocking(move || Self::open_blocking(dir, opts)).await?;
        if let Some(every) = store.inner.opts.auto_compact {
            compact::spawn_background(&store, every);
        }
        Ok(store)
    }

    fn open_blocking(dir: PathBuf, opts: StoreOptions) -> Result<Store> {
        fs::create_dir_all(&dir).map_err(|e| StoreError::io("creating", &dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| StoreError::io("opening", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked(dir)),
            Err(TryLockError::Error(e)) => return Err(StoreError::io("locking", &lock_path, e)),
        }
        let rec = recover::recover(&dir)?;
        let state = State { index: rec.index, files: rec.files, active: rec.active.id, reserved: 0 };
        let shared =
            Arc::new(Shared { state: Mutex::new(state), compact_wanted: Default::default(), flushes: 0.into() });
        let cfg = WriterConfig {
            dir: dir.clone(),
            volume_size: opts.volume_size,
            compact_threshold: opts.compact_threshold,
            checkpoint_bytes: CHECKPOINT_BYTES,
        };
        let (tx, rx) = mpsc::channel();
        let writer = Writer::new(cfg, shared.clone(), rec.active, rec.next_id, lock);
        let handle = std::thread::Builder::new()
            .name("pyxis-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::io("starting the writer thread for", &dir, e))?;
        let inner = Inner {
            dir,
            opts,
            shared,
            tx,
            writer: Mutex::new(Some(handle)),
            closed: AtomicBool::new(false),
            compacting: tokio::sync::Mutex::new(()),
        };
        Ok(Store { inner: Arc::new(inner) })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn capacity(&self) -> u64 {
        self.inner.opts.capacity
    }

    /// Sends a request to the writer and waits for its answer.
    async fn request<T>(&self, op: impl FnOnce(writer::Reply<T>) -> Op) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.tx.send(op(tx)).map_err(|_| StoreError::Closed)?;
        rx.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Stores a shard under its hash, after checking that the bytes hash to
    /// it. Returns once the shard is durable.
    pub async fn put(&self, hash: ShardHash, data: Bytes) -> Result<PutOutcome> {
        let len = data.len() as u64;
        if len > u64::from(MAX_SHARD_LEN) {
            return Err(StoreError::TooLarge { hash, len });
        }
        let actual = if data.len() <= INLINE_HASH_MAX {
            shard_hash(&data)
        } else {
            let d = data.clone();
            blocking(move || shard_hash(&d)).await
        };
        if actual != hash {
            return Err(StoreError::HashMismatch { expected: hash, actual });
        }
        {
            let mut state = self.inner.shared.lock();
            if state.index.get(&hash).is_some() {
                return Ok(PutOutcome::Existed);
            }
            let (used, pending, capacity) = (state.index.used(), state.reserved, self.inner.opts.capacity);
            if used.saturating_add(pending).saturating_add(len) > capacity {
                return Err(StoreError::Full { len, used, pending, capacity });
            }
            state.reserved += len;
        }
        let result = self.request(|reply| Op::Put { hash, data, reply }).await;
        if matches!(result, Err(StoreError::Closed)) {
            // The writer never saw it, so never released the reservation.
            let mut state = self.inner.shared.lock();
            state.reserved = state.reserved.saturating_sub(len);
        }
        result
    }

    /// Reads a shard whole and verifies it. A shard whose bytes fail their
    /// hash is dropped from the store and reported as [`StoreError::Corrupt`].
    pub async fn get(&self, hash: &ShardHash) -> Result<Bytes> {
        let hash = *hash;
        let (slot, file) = {
            let state = self.inner.shared.lock();
            let slot = state.index.get(&hash).ok_or(StoreError::NotFound(hash))?;
            (slot, state.files.get(&slot.loc.volume).cloned().ok_or(StoreError::NotFound(hash))?)
        };
        match blocking(move || volume::read_shard(&file, slot, &hash)).await {
            Ok(bytes) => Ok(bytes),
            Err(ReadFault::Corrupt(why)) => {
                self.drop_corrupt(hash, slot, &why).await;
                Err(StoreError::Corrupt(hash))
            }
            Err(ReadFault::Io(e)) => Err(StoreError::io("reading", &self.volume_path(slot.loc.volume), e)),
        }
    }

    /// Removes a corrupt record from the index durably (a tombstone naming it).
    async fn drop_corrupt(&self, hash: ShardHash, slot: Slot, why: &str) {
        let path = self.volume_path(slot.loc.volume);
        error!(shard = %hash, path = %path.display(), offset = slot.loc.offset, %why, "corrupt shard dropped");
        let expect = Some(slot.loc);
        if let Err(e) = self.request(|reply| Op::Delete { hash, expect, reply }).await {
            error!(shard = %hash, error = %e, "could not record the corrupt shard's removal");
        }
    }

    /// Deletes a shard durably. Returns whether it was there.
    pub async fn delete(&self, hash: &ShardHash) -> Result<bool> {
        let hash = *hash;
        self.request(|reply| Op::Delete { hash, expect: None, reply }).await
    }

    pub fn contains(&self, hash: &ShardHash) -> bool {
        self.inner.shared.lock().index.get(hash).is_some()
    }

    /// Every stored hash, in no particular order (for reconciliation with the server).
    pub fn list(&self) -> Vec<ShardHash> {
        self.inner.shared.lock().index.hashes()
    }

    pub fn stats(&self) -> StoreStats {
        let state = self.inner.shared.lock();
        let capacity = self.inner.opts.capacity;
        let used = state.index.used();
        StoreStats {
            shards: state.index.len() as u64,
            used,
            capacity,
            free: capacity.saturating_sub(used),
            file_bytes: state.index.file_bytes(),
            volumes: state.index.volumes().len() as u64,
            flushes: self.inner.shared.flushes.load(Ordering::Relaxed),
        }
    }

    pub fn locate(&self, hash: &ShardHash) -> Option<ShardLocation> {
        let slot = self.inner.shared.lock().index.get(hash)?;
        Some(ShardLocation {
            path: self.volume_path(slot.loc.volume),
            offset: slot.loc.offset + layout::RECORD_HEADER_LEN as u64,
            len: slot.len,
        })
    }

    fn volume_path(&self, id: u32) -> PathBuf {
        volume::volume_path(&self.inner.dir, id)
    }

    /// Writes the active volume's index snapshot now (the writer also does it
    /// every 64 MiB, when idle, and when closing).
    pub async fn checkpoint(&self) -> Result<()> {
        self.request(|reply| Op::Checkpoint { reply }).await
    }

    /// Finishes running work, writes the last snapshot and releases the
    /// directory. Requests on any clone fail with [`StoreError::Closed`] after.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.shared.compact_wanted.notify_one();
        let _running_compaction = self.inner.compacting.lock().await;
        let (reply, done) = oneshot::channel();
        if self.inner.tx.send(Op::Shutdown { reply }).is_ok() {
            let _ = done.await;
        }
        let handle = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle
            && let Err(panic) = blocking(move || h.join()).await
        {
            std::panic::resume_unwind(panic);
        }
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }
}
