//! The one writer thread: group commit of appends, volume rotation and index
//! snapshots.
//!
//! Every change to the store goes through here, in order, so the in-memory
//! index always equals what a replay of the disk would build. Requests queue on
//! a channel while the writer flushes; the next batch takes all of them, writes
//! them, makes them durable with one `fdatasync` and only then answers them and
//! publishes them in the index. Many parallel uploads share one flush instead of
//! queueing for one each, and no reader ever sees a record that is not durable.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use pyxis_proto::ShardHash;
use tokio::sync::{Notify, oneshot};
use tracing::{debug, error, warn};

use super::error::{Result, StoreError};
use super::index::Index;
use super::layout::{Loc, RECORD_HEADER_LEN, RecordHeader, RecordKind, SnapshotEntry, VOLUME_HEADER_LEN};
use super::recover::Active;
use super::types::PutOutcome;
use super::volume;

/// A batch stops growing at this many requests (or at the byte limit): the
/// answers of the first ones should not wait for an unbounded flush.
const MAX_BATCH_OPS: usize = 1024;
/// The byte limit of a batch, when the volume size does not make it smaller.
const MAX_BATCH_BYTES: u64 = 64 << 20;
/// An idle writer snapshots the active volume after this long, so that a
/// restart re-hashes little.
const IDLE_CHECKPOINT: Duration = Duration::from_secs(1);

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// A request to the writer.
#[derive(Debug)]
pub(crate) enum Op {
    Put {
        hash: ShardHash,
        data: Bytes,
        reply: Reply<PutOutcome>,
    },
    /// Deletes `hash`; with `expect`, only if it still lives there (dropping a
    /// corrupt record must not delete a fresh copy). Answers whether it wrote.
    Delete {
        hash: ShardHash,
        expect: Option<Loc>,
        reply: Reply<bool>,
    },
    /// Compaction's copy of a live record; a no-op if the shard moved or went.
    Relocate {
        hash: ShardHash,
        from: Loc,
        data: Bytes,
        reply: Reply<bool>,
    },
    /// Compaction's copy of a tombstone whose target volume still exists.
    Carry {
        hash: ShardHash,
        target: Loc,
        reply: Reply<()>,
    },
    Checkpoint {
        reply: Reply<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

impl Op {
    fn bytes(&self) -> u64 {
        let header = RECORD_HEADER_LEN as u64;
        match self {
            Op::Put { data, .. } | Op::Relocate { data, .. } => header + data.len() as u64,
            Op::Delete { .. } | Op::Carry { .. } => header,
            Op::Checkpoint { .. } | Op::Shutdown { .. } => 0,
        }
    }
}

/// State shared by the writer, readers and compaction.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub compact_wanted: Notify,
    /// Flushes (`fdatasync`) of batches so far: with puts, shows group commit at work.
    pub flushes: AtomicU64,
}

/// Whether `PYXIS_FAULT` names this fault. Read at each use, so a test can
/// set it for one process only.
fn fault_injected(name: &str) -> bool {
    std::env::var_os("PYXIS_FAULT").is_some_and(|v| v == name)
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock aborts the daemon; tests see the panic itself.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub index: Index,
    pub files: HashMap<u32, Arc<File>>,
    pub active: u32,
    /// Bytes of puts accepted but not yet committed, held against capacity.
    pub reserved: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct WriterConfig {
    pub dir: PathBuf,
    pub volume_size: u64,
    pub compact_threshold: f64,
    pub checkpoint_bytes: u64,
}

/// An answer that waits for the batch's flush.
type Respond = Box<dyn FnOnce(Result<()>) + Send>;

fn respond<T: Send + 'static>(reply: Reply<T>, ok: T) -> Respond {
    Box::new(move |r| {
        let _ = reply.send(r.map(|()| ok));
    })
}

struct NewRecord {
    loc: Loc,
    header: RecordHeader,
    data: Option<Bytes>,
}

/// One batch being planned: the records to append and the answers waiting on them.
#[derive(Default)]
struct Batch {
    records: Vec<NewRecord>,
    bytes: u64,
    waiting: Vec<Respond>,
    checkpoints: Vec<Reply<()>>,
    released: u64,
    shutdown: Option<oneshot::Sender<()>>,
    /// Effects of earlier requests of this batch: hash → its new location, or
    /// `None` once deleted.
    overlay: HashMap<ShardHash, Option<Loc>>,
}

pub(crate) struct Writer {
    cfg: WriterConfig,
    shared: Arc<Shared>,
    active: Active,
    next_id: u32,
    broken: Option<String>,
    /// Held for the writer's life: the store's exclusive lock.
    _lock: File,
}

impl Writer {
    pub fn new(cfg: WriterConfig, shared: Arc<Shared>, active: Active, next_id: u32, lock: File) -> Self {
        Self { cfg, shared, active, next_id, broken: None, _lock: lock }
    }

    /// Runs until a shutdown request or until every sender is gone.
    pub fn run(mut self, rx: Receiver<Op>) {
        self.checkpoint_logged();
        let batch_limit = MAX_BATCH_BYTES.min(self.cfg.volume_size).max(1);
        let shutdown = loop {
            let first = match rx.recv_timeout(IDLE_CHECKPOINT) {
                Ok(op) => op,
                Err(RecvTimeoutError::Timeout) => {
                    self.checkpoint_logged();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break None,
            };
            let mut bytes = first.bytes();
            let mut ops = vec![first];
            while bytes < batch_limit && ops.len() < MAX_BATCH_OPS {
                let Ok(op) = rx.try_recv() else { break };
                bytes += op.bytes();
                ops.push(op);
            }
            if let Some(reply) = self.process(ops, bytes) {
                break Some(reply);
            }
        };
        self.checkpoint_logged();
        drop(self); // releases the store lock before the shutdown is acknowledged
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    fn process(&mut self, ops: Vec<Op>, estimate: u64) -> Option<oneshot::Sender<()>> {
        // Fault injection for the test that a daemon aborts rather than
        // limping on without its writer (docs/SECURITY.md, "Daemons").
        if ops.iter().any(|op| matches!(op, Op::Put { .. })) && fault_injected("store-writer-panic") {
            panic!("injected fault: the store writer panics (PYXIS_FAULT=store-writer-panic)");
        }
        let full = self.active.len > VOLUME_HEADER_LEN && self.active.len + estimate > self.cfg.volume_size;
        if full && let Err(e) = self.rotate() {
            error!(error = %e, "could not start a new volume; appending to the full one");
        }
        let mut batch = Batch::default();
        {
            let state = self.shared.lock();
            for op in ops {
                self.plan(&state.index, &mut batch, op);
            }
        }
        let result = self.write(&batch);
        let mut notify = false;
        {
            let shared = Arc::clone(&self.shared);
            let mut state = shared.lock();
            state.reserved = state.reserved.saturating_sub(batch.released);
            if result.is_ok() {
                notify = self.commit(&mut state, &batch);
            }
        }
        for r in batch.waiting {
            r(result.clone());
        }
        if notify {
            self.shared.compact_wanted.notify_one();
        }
        let forced = !batch.checkpoints.is_empty();
        if forced || self.active.len - self.active.covered >= self.cfg.checkpoint_bytes {
            let r = self.checkpoint();
            if let Err(e) = &r {
                warn!(error = %e, "index snapshot failed; the next start will scan more");
            }
            for reply in batch.checkpoints {
                let _ = reply.send(r.clone());
            }
        }
        batch.shutdown
    }

    /// Decides what one request writes, against the index as committed plus
    /// the batch's own earlier effects.
    fn plan(&self, index: &Index, b: &mut Batch, op: Op) {
        let current = |b: &Batch, hash: &ShardHash| match b.overlay.get(hash) {
            Some(pending) => (*pending, true),
            None => (index.get(hash).map(|s| s.loc), false),
        };
        if let Some(why) = &self.broken {
            let err = StoreError::Broken(why.clone());
            match op {
                Op::Put { data, reply, .. } => {
                    b.released += data.len() as u64;
                    let _ = reply.send(Err(err));
                }
                Op::Delete { reply, .. } | Op::Relocate { reply, .. } => drop(reply.send(Err(err))),
                Op::Carry { reply, .. } | Op::Checkpoint { reply } => drop(reply.send(Err(err))),
                Op::Shutdown { reply } => b.shutdown = Some(reply),
            }
            return;
        }
        match op {
            Op::Put { hash, data, reply } => {
                b.released += data.len() as u64;
                match current(b, &hash) {
                    (Some(_), false) => drop(reply.send(Ok(PutOutcome::Existed))),
                    (Some(_), true) => b.waiting.push(respond(reply, PutOutcome::Existed)),
                    (None, _) => {
                        let header = RecordHeader::shard(hash, data.len() as u32);
                        let loc = self.append(b, header, Some(data));
                        b.overlay.insert(hash, Some(loc));
                        b.waiting.push(respond(reply, PutOutcome::Stored));
                    }
                }
            }
            Op::Delete { hash, expect, reply } => match current(b, &hash) {
                (Some(loc), _) if expect.is_none_or(|e| e == loc) => {
                    self.append(b, RecordHeader::tombstone(hash, loc), None);
                    b.overlay.insert(hash, None);
                    b.waiting.push(respond(reply, true));
                }
                (_, true) => b.waiting.push(respond(reply, false)),
                (_, false) => drop(reply.send(Ok(false))),
            },
            Op::Relocate { hash, from, data, reply } => match current(b, &hash) {
                (Some(loc), false) if loc == from => {
                    let loc = self.append(b, RecordHeader::shard(hash, data.len() as u32), Some(data));
                    b.overlay.insert(hash, Some(loc));
                    b.waiting.push(respond(reply, true));
                }
                _ => drop(reply.send(Ok(false))),
            },
            Op::Carry { hash, target, reply } => {
                self.append(b, RecordHeader::tombstone(hash, target), None);
                b.waiting.push(respond(reply, ()));
            }
            Op::Checkpoint { reply } => b.checkpoints.push(reply),
            Op::Shutdown { reply } => b.shutdown = Some(reply),
        }
    }

    fn append(&self, b: &mut Batch, header: RecordHeader, data: Option<Bytes>) -> Loc {
        let loc = Loc { volume: self.active.id, offset: self.active.len + b.bytes };
        b.bytes += header.record_len();
        b.records.push(NewRecord { loc, header, data });
        loc
    }

    /// Writes the batch's records and flushes them. On a write error the
    /// volume is cut back to its last durable length; a failed flush leaves
    /// the page cache in an unknown state, so the writer stops writing.
    fn write(&mut self, b: &Batch) -> Result<()> {
        if b.records.is_empty() {
            return Ok(());
        }
        let path = volume::volume_path(&self.cfg.dir, self.active.id);
        let file = &self.active.file;
        let written = b.records.iter().try_for_each(|r| {
            file.write_all_at(&r.header.encode(), r.loc.offset)?;
            match &r.data {
                Some(data) => file.write_all_at(data, r.loc.offset + RECORD_HEADER_LEN as u64),
                None => Ok(()),
            }
        });
        if let Err(e) = written {
            if let Err(e2) = file.set_len(self.active.len) {
                self.broken = Some(format!("cutting back {} after a failed write: {e2}", path.display()));
            }
            return Err(StoreError::io("appending to", &path, e));
        }
        if let Err(e) = file.sync_data() {
            let err = StoreError::io("flushing", &path, e);
            self.broken = Some(err.to_string());
            error!(error = %err, "flush failed; the store refuses writes until restarted");
            return Err(err);
        }
        self.shared.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Publishes a flushed batch. Returns whether a sealed volume just crossed
    /// the compaction threshold.
    fn commit(&mut self, state: &mut State, b: &Batch) -> bool {
        let mut notify = false;
        for r in &b.records {
            state.index.apply(r.loc, &r.header);
            self.active.entries.push(SnapshotEntry { offset: r.loc.offset, header: r.header, void: false });
            if let RecordKind::Tombstone { target } = r.header.kind
                && target.volume != self.active.id
            {
                let over = state.index.volume(target.volume).map(|v| v.dead_fraction() >= self.cfg.compact_threshold);
                notify |= over == Some(true);
            }
        }
        self.active.len += b.bytes;
        state.index.set_file_len(self.active.id, self.active.len);
        notify
    }

    /// Seals the active volume (its snapshot then covers all of it) and starts
    /// the next one.
    fn rotate(&mut self) -> Result<()> {
        self.checkpoint()?;
        let id = self.next_id;
        self.next_id = id.checked_add(1).ok_or_else(|| StoreError::Broken("volume ids exhausted".into()))?;
        let file = volume::create_volume(&self.cfg.dir, id)
            .map_err(|e| StoreError::io("creating", &volume::volume_path(&self.cfg.dir, id), e))?;
        let file = Arc::new(file);
        let sealed_dead = {
            let mut state = self.shared.lock();
            state.files.insert(id, file.clone());
            state.index.add_volume(id, VOLUME_HEADER_LEN);
            state.active = id;
            state.index.volume(self.active.id).map(|v| v.dead_fraction())
        };
        debug!(sealed = self.active.id, new = id, "volume rotated");
        self.active = Active { id, file, len: VOLUME_HEADER_LEN, entries: vec![], covered: VOLUME_HEADER_LEN };
        if sealed_dead.is_some_and(|d| d >= self.cfg.compact_threshold) {
            self.shared.compact_wanted.notify_one();
        }
        Ok(())
    }

    /// Writes the active volume's snapshot if records were added since the last.
    fn checkpoint(&mut self) -> Result<()> {
        let a = &mut self.active;
        if a.covered == a.len {
            return Ok(());
        }
        volume::write_snapshot(&self.cfg.dir, a.id, a.len, &a.entries)
            .map_err(|e| StoreError::io("writing", &volume::snapshot_path(&self.cfg.dir, a.id), e))?;
        a.covered = a.len;
        Ok(())
    }

    fn checkpoint_logged(&mut self) {
        if self.broken.is_none()
            && let Err(e) = self.checkpoint()
        {
            warn!(error = %e, "index snapshot failed; the next start will scan more");
        }
    }
}
