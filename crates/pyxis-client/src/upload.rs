//! The upload pipeline every put shares.
//!
//! A reader thread hands in chunks (already cut and identified) in sequence
//! order. They are processed in batches: ask which are missing, encode the
//! missing ones on worker threads (one per core), get placements and grants,
//! PUT every shard over a bounded number of lanes (a remote that fails is
//! replaced by a new placement), then confirm the batch as stored. A
//! watermark publishes "every chunk up to N is stored", which is what lets
//! files be committed while later ones still upload.
//!
//! Memory is bounded by the batches in flight (`BATCHES` × `BATCH` chunks,
//! with their shards), whatever the size of the input.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use pyxis_core::codec::{ChunkBuf, ChunkCodec, EncodedChunk};
use pyxis_core::keys::Keyring;
use pyxis_proto::api::chunks::{MissingRequest, PlaceChunk, PlaceRequest, ReplaceRequest, ShardTarget, StoredRequest};
use pyxis_proto::{ChunkId, Scheme};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_util::task::AbortOnDropHandle;

use crate::api::Api;
use crate::error::{ClientError, Result};
use crate::progress::Progress;
use crate::transfer;

/// Chunks per server round trip.
const BATCH: usize = 8;
/// Batches in flight: one encoding while others upload.
const BATCHES: usize = 3;
/// Remotes tried for one shard before the upload fails.
const MAX_TRIES: usize = 4;

/// Shared state of one client's transfers.
#[derive(Debug)]
pub struct Ctx {
    pub api: Api,
    pub keys: Arc<Keyring>,
    pub progress: Arc<Progress>,
    /// Concurrent shard transfers.
    pub lanes: Arc<Semaphore>,
    /// Concurrent encodes (one per core).
    pub encoders: Arc<Semaphore>,
    /// Set when a placement used fewer than two parity shards.
    pub reduced: AtomicBool,
    /// Chunks placed by the put in progress (given back if it fails).
    pub placed: Mutex<Vec<ChunkId>>,
}

/// A chunk to upload, numbered in the order the reader produced it.
#[derive(Debug)]
pub struct ChunkJob {
    pub seq: u64,
    pub id: ChunkId,
    pub buf: ChunkBuf,
}

thread_local! {
    // One codec per worker thread: its zstd and Reed-Solomon state is reused.
    static CODEC: RefCell<Option<ChunkCodec>> = const { RefCell::new(None) };
}

/// Runs `f` with this (blocking) thread's codec.
pub fn with_codec<T>(f: impl FnOnce(&mut ChunkCodec) -> pyxis_core::Result<T>) -> pyxis_core::Result<T> {
    CODEC.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(ChunkCodec::new()?);
        }
        f(slot.as_mut().expect("codec just set"))
    })
}

/// Encodes on the calling (blocking) thread with its own codec.
pub fn encode_here(keys: &Keyring, id: ChunkId, buf: ChunkBuf, scheme: Scheme) -> pyxis_core::Result<EncodedChunk> {
    with_codec(|c| c.encode_known(keys, id, buf, scheme))
}

/// Publishes the highest N such that jobs 1..=N are all done.
#[derive(Debug)]
struct Watermark {
    done: BTreeSet<u64>,
    next: u64,
    tx: watch::Sender<u64>,
}

impl Watermark {
    fn complete(&mut self, seqs: impl IntoIterator<Item = u64>) {
        self.done.extend(seqs);
        while self.done.remove(&self.next) {
            self.next += 1;
        }
        self.tx.send_replace(self.next - 1);
    }
}

/// Uploads every chunk received on `rx`; `mark` follows the watermark. Ends
/// when `rx` closes and everything is stored, or at the first failure.
pub async fn run(
    ctx: Arc<Ctx>,
    scheme: Scheme,
    mut rx: mpsc::Receiver<ChunkJob>,
    mark: watch::Sender<u64>,
) -> Result<()> {
    let marks = Arc::new(Mutex::new(Watermark { done: BTreeSet::new(), next: 1, tx: mark }));
    let known = Arc::new(Mutex::new(HashSet::<ChunkId>::new()));
    let mut running = FuturesUnordered::new();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Claim ids in sequence order: a chunk seen earlier in this put is
        // uploaded by the batch that claimed it, and that batch completes no
        // later than the watermark passes this one.
        let (mine, seen): (Vec<ChunkJob>, Vec<ChunkJob>) = {
            let mut k = known.lock().expect("known lock");
            batch.into_iter().partition(|j| k.insert(j.id))
        };
        for j in &seen {
            Progress::add(&ctx.progress.dedup, j.buf.len() as u64);
            Progress::add(&ctx.progress.chunks_dedup, 1);
        }
        marks.lock().expect("mark lock").complete(seen.iter().map(|j| j.seq));
        running.push(AbortOnDropHandle::new(tokio::spawn(batch_task(ctx.clone(), scheme, mine, marks.clone()))));
        while running.len() >= BATCHES {
            if let Some(r) = running.next().await {
                r.map_err(|e| ClientError::Invalid(format!("upload task: {e}")))??;
            }
        }
    }
    while let Some(r) = running.next().await {
        r.map_err(|e| ClientError::Invalid(format!("upload task: {e}")))??;
    }
    Ok(())
}

async fn batch_task(ctx: Arc<Ctx>, scheme: Scheme, jobs: Vec<ChunkJob>, marks: Arc<Mutex<Watermark>>) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let seqs: Vec<u64> = jobs.iter().map(|j| j.seq).collect();
    let missing: HashSet<ChunkId> = ctx
        .api
        .missing(&MissingRequest { ids: jobs.iter().map(|j| j.id).collect() })
        .await?
        .missing
        .into_iter()
        .collect();
    let mut encodes = Vec::new();
    for job in jobs {
        if !missing.contains(&job.id) {
            Progress::add(&ctx.progress.dedup, job.buf.len() as u64);
            Progress::add(&ctx.progress.chunks_dedup, 1);
            continue;
        }
        let (ctx2, sem) = (ctx.clone(), ctx.encoders.clone());
        encodes.push(AbortOnDropHandle::new(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.map_err(|_| ClientError::Invalid("encoder pool closed".into()))?;
            tokio::task::spawn_blocking(move || encode_here(&ctx2.keys, job.id, job.buf, scheme))
                .await
                .map_err(|e| ClientError::Invalid(format!("encode task: {e}")))?
                .map_err(ClientError::from)
        })));
    }
    let mut encoded = Vec::with_capacity(encodes.len());
    for e in encodes {
        encoded.push(e.await.map_err(|e| ClientError::Invalid(format!("encode task: {e}")))??);
    }
    if !encoded.is_empty() {
        upload_encoded(&ctx, scheme, encoded).await?;
    }
    marks.lock().expect("mark lock").complete(seqs);
    Ok(())
}

async fn upload_encoded(ctx: &Arc<Ctx>, scheme: Scheme, encoded: Vec<EncodedChunk>) -> Result<()> {
    let req = PlaceRequest {
        chunks: encoded
            .iter()
            .map(|e| PlaceChunk {
                id: e.id,
                scheme,
                blob_len: e.blob_len as u32,
                shards: e.shards.iter().map(|s| s.hash).collect(),
            })
            .collect(),
    };
    ctx.placed.lock().expect("placed lock").extend(req.chunks.iter().map(|c| c.id));
    let placed = ctx.api.place(&req).await?;
    if placed.reduced {
        ctx.reduced.store(true, Ordering::Relaxed);
    }
    let mut puts = FuturesUnordered::new();
    let mut stored = Vec::new();
    for (e, p) in encoded.into_iter().zip(placed.chunks) {
        if p.id != e.id {
            return Err(ClientError::Invalid("server answered placements out of order".into()));
        }
        if p.exists {
            Progress::add(&ctx.progress.dedup, u64::from(e.plaintext_len));
            Progress::add(&ctx.progress.chunks_dedup, 1);
            continue;
        }
        Progress::add(&ctx.progress.new, u64::from(e.plaintext_len));
        Progress::add(&ctx.progress.chunks_new, 1);
        stored.push(e.id);
        let mut shards: Vec<Option<Bytes>> = e.shards.into_iter().map(|s| Some(Bytes::from(s.bytes))).collect();
        for t in p.targets {
            let bytes = shards.get_mut(usize::from(t.index)).and_then(Option::take).ok_or_else(|| {
                ClientError::Invalid(format!("placement names shard {} twice or out of range", t.index))
            })?;
            puts.push(put_with_failover(ctx.clone(), e.id, t, bytes));
        }
    }
    while let Some(r) = puts.next().await {
        r?;
    }
    if !stored.is_empty() {
        ctx.api.stored(&StoredRequest { ids: stored }).await?;
    }
    Ok(())
}

/// PUTs one shard; if its remote fails, asks the server for another and tries
/// there, up to `MAX_TRIES` remotes.
async fn put_with_failover(ctx: Arc<Ctx>, id: ChunkId, mut target: ShardTarget, bytes: Bytes) -> Result<()> {
    let mut failed = Vec::new();
    let mut last = String::new();
    for _ in 0..MAX_TRIES {
        let result = {
            let _lane = ctx.lanes.acquire().await.map_err(|_| ClientError::Invalid("transfer lanes closed".into()))?;
            transfer::put_shard(ctx.api.http(), &target, bytes.clone()).await
        };
        match result {
            Ok(()) => {
                Progress::add(&ctx.progress.wire, bytes.len() as u64);
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(chunk = %id, shard = target.index, error = %e, "shard upload failed; placing it elsewhere");
                last = e.to_string();
                failed.push(e.remote());
                target = ctx.api.replace(&ReplaceRequest { id, index: target.index, failed: failed.clone() }).await?;
            }
        }
    }
    Err(ClientError::UploadFailed { attempts: MAX_TRIES, last })
}
