//! The upload pipeline every put shares.
//!
//! A reader thread hands in chunks (already cut and identified) in sequence
//! order. They are processed in batches: ask which are missing, encode the
//! missing ones on worker threads (one per core) with the network's current
//! scheme, get placements and grants (the server assigns the scheme), PUT
//! every shard over a bounded number of lanes (a remote that fails is
//! replaced by a new placement at once), then hand the remotes' receipts to
//! the server. A chunk is stored once `k + ceil(m/2)` of its shards have
//! receipts; repair places the rest. The put does not wait for the slowest
//! remotes: once every chunk of a batch is at its threshold, the shards still
//! in flight get a grace of twice the time the batch took to get there (at
//! least a second), and are then cancelled and left to repair. A chunk that
//! cannot reach its threshold (remotes died) is cut again for the scheme the
//! network has now and placed again: writes stay available while up to `m`
//! remotes are down. A watermark publishes "every chunk up to N is stored",
//! which is what lets files be committed while later ones still upload.
//!
//! Memory is bounded by the batches in flight (`BATCHES` × `BATCH` chunks,
//! with their shards), whatever the size of the input.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use pyxis_core::codec::{ChunkBuf, EncodedChunk};
use pyxis_core::policy::success_threshold;
use pyxis_crypto::keys::Keyring;
use pyxis_crypto::shard::verify_shard;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::chunks::{
    MissingRequest, PlaceChunk, PlaceRequest, ReplaceRequest, ShardReceipt, ShardTarget, StoredChunk, StoredRequest,
};
use pyxis_proto::{ChunkId, Scheme, ShardHash};
use tokio::sync::{mpsc, watch};
use tokio_util::task::AbortOnDropHandle;

use crate::ctx::{Ctx, with_codec};
use crate::error::{ClientError, Result};
use crate::progress::Progress;
use crate::transfer;

/// Chunks per server round trip.
const BATCH: usize = 8;
/// Batches in flight: one encoding while others upload.
const BATCHES: usize = 3;
/// Remotes tried for one shard before giving up on it (the chunk may still
/// reach its success threshold without it).
const MAX_TRIES: usize = 4;
/// The least grace the shards still in flight get once every chunk of their
/// batch has reached its success threshold (beyond it, twice the time the
/// batch took to get there): long enough that a remote as fast as the
/// others, only scheduled later, still finishes; short enough that a
/// stalled one costs a put about a second per batch.
const TAIL_GRACE_MIN: Duration = Duration::from_secs(1);
/// Times a batch is placed again (cut for the network's scheme now) before
/// the put fails.
const MAX_ROUNDS: usize = 4;

/// A chunk to upload, numbered in the order the reader produced it.
#[derive(Debug)]
pub struct ChunkJob {
    pub seq: u64,
    pub id: ChunkId,
    pub buf: ChunkBuf,
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
pub async fn run(ctx: Arc<Ctx>, mut rx: mpsc::Receiver<ChunkJob>, mark: watch::Sender<u64>) -> Result<()> {
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
        running.push(AbortOnDropHandle::new(tokio::spawn(batch_task(ctx.clone(), mine, marks.clone()))));
        while running.len() >= BATCHES {
            if let Some(r) = running.next().await {
                r.map_err(|e| ClientError::Task { task: "upload", why: e.to_string() })??;
            }
        }
    }
    while let Some(r) = running.next().await {
        r.map_err(|e| ClientError::Task { task: "upload", why: e.to_string() })??;
    }
    Ok(())
}

async fn batch_task(ctx: Arc<Ctx>, jobs: Vec<ChunkJob>, marks: Arc<Mutex<Watermark>>) -> Result<()> {
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
    let scheme = ctx.scheme().await?;
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
                .map_err(|e| ClientError::Task { task: "encode", why: e.to_string() })?
                .map_err(ClientError::from)
        })));
    }
    let mut encoded = Vec::with_capacity(encodes.len());
    for e in encodes {
        encoded.push(e.await.map_err(|e| ClientError::Task { task: "encode", why: e.to_string() })??);
    }
    if !encoded.is_empty() {
        upload_encoded(&ctx, encoded, scheme).await?;
    }
    marks.lock().expect("mark lock").complete(seqs);
    Ok(())
}

/// A sealed chunk on its way to remotes: its shards for one scheme.
#[derive(Debug)]
struct Pending {
    id: ChunkId,
    plaintext_len: u32,
    blob_len: u32,
    scheme: Scheme,
    shards: Vec<(ShardHash, Bytes)>,
}

impl Pending {
    fn new(e: EncodedChunk, scheme: Scheme) -> Self {
        let shards = e.shards.into_iter().map(|s| (s.hash, Bytes::from(s.bytes))).collect();
        Pending { id: e.id, plaintext_len: e.plaintext_len, blob_len: e.blob_len as u32, scheme, shards }
    }

    /// The same sealed blob cut for another scheme (no re-encryption).
    fn resplit(self, scheme: Scheme) -> Result<Pending> {
        let shards = with_codec(|c| {
            let verified: Vec<_> =
                self.shards.iter().map(|(h, b)| verify_shard(b, h)).collect::<pyxis_crypto::Result<_>>()?;
            c.erasure().resplit(&verified, scheme)
        })?;
        let shards = shards.into_iter().map(|s| (s.hash, Bytes::from(s.bytes))).collect();
        Ok(Pending { scheme, shards, ..self })
    }
}

/// Uploads a batch's encoded chunks until each is stored (its receipts past
/// the threshold), placing again at the network's new scheme those that
/// could not get there.
async fn upload_encoded(ctx: &Arc<Ctx>, encoded: Vec<EncodedChunk>, scheme: Scheme) -> Result<()> {
    let mut pending: Vec<Pending> = encoded.into_iter().map(|e| Pending::new(e, scheme)).collect();
    let mut first = true;
    for round in 1..=MAX_ROUNDS {
        let scheme = ctx.scheme().await?;
        if pending.iter().any(|p| p.scheme != scheme) {
            let old = std::mem::take(&mut pending);
            pending = tokio::task::spawn_blocking(move || {
                old.into_iter()
                    .map(|p| if p.scheme == scheme { Ok(p) } else { p.resplit(scheme) })
                    .collect::<Result<Vec<Pending>>>()
            })
            .await
            .map_err(|e| ClientError::Task { task: "re-split", why: e.to_string() })??;
        }
        let req = PlaceRequest {
            chunks: pending
                .iter()
                .map(|p| PlaceChunk {
                    id: p.id,
                    scheme: None,
                    blob_len: p.blob_len,
                    shards: p.shards.iter().map(|(h, _)| *h).collect(),
                })
                .collect(),
        };
        ctx.placed.lock().expect("placed lock").extend(req.chunks.iter().map(|c| c.id));
        let placed = match ctx.api.place(&req).await {
            Err(e) if e.code() == Some(ErrorCode::SchemeChanged) && round < MAX_ROUNDS => {
                ctx.refresh_scheme().await?;
                continue;
            }
            other => other?,
        };
        if placed.reduced {
            ctx.reduced.store(true, Ordering::Relaxed);
        }
        let short = upload_round(ctx, &pending, placed.chunks, first).await?;
        first = false;
        if short.is_empty() {
            return Ok(());
        }
        tracing::warn!(chunks = short.len(), scheme = %scheme, "some chunks could not reach their success threshold; placing them again");
        Progress::add(&ctx.progress.replaced_chunks, short.len() as u64);
        ctx.refresh_scheme().await?;
        let keep: HashSet<ChunkId> = short.into_iter().collect();
        pending.retain(|p| keep.contains(&p.id));
    }
    Err(ClientError::UploadFailed {
        attempts: MAX_ROUNDS,
        last: format!("{} chunks could not be stored on enough remotes", pending.len()),
    })
}

/// One placement of a batch: PUT every shard (with failover), hand the
/// receipts to the server. Returns the chunks short of their threshold.
async fn upload_round(
    ctx: &Arc<Ctx>,
    pending: &[Pending],
    placements: Vec<pyxis_proto::api::chunks::Placement>,
    first: bool,
) -> Result<Vec<ChunkId>> {
    if placements.len() != pending.len() {
        return Err(ClientError::Invalid("server answered a different number of placements".into()));
    }
    let mut puts = FuturesUnordered::new();
    // None: the chunk was stored already (deduplicated at placement).
    let mut receipts: Vec<Option<Vec<ShardReceipt>>> = vec![Some(Vec::new()); pending.len()];
    for (n, (p, pl)) in pending.iter().zip(placements).enumerate() {
        if pl.id != p.id {
            return Err(ClientError::Invalid("server answered placements out of order".into()));
        }
        if pl.exists {
            if first {
                Progress::add(&ctx.progress.dedup, u64::from(p.plaintext_len));
                Progress::add(&ctx.progress.chunks_dedup, 1);
            }
            receipts[n] = None;
            continue;
        }
        if first {
            Progress::add(&ctx.progress.new, u64::from(p.plaintext_len));
            Progress::add(&ctx.progress.chunks_new, 1);
        }
        let mut seen = vec![false; p.shards.len()];
        for t in pl.targets {
            let i = usize::from(t.index);
            if p.shards.get(i).is_none_or(|s| s.0 != t.hash) || std::mem::replace(&mut seen[i], true) {
                return Err(ClientError::Invalid(format!(
                    "placement names shard {} twice, out of range or with another hash",
                    t.index
                )));
            }
            let bytes = p.shards[i].1.clone();
            puts.push(async move { (n, t.index, put_with_failover(ctx.clone(), p.id, t, bytes).await) });
        }
    }
    // A chunk is done at its success threshold: the put waits for the
    // slowest remotes no longer than a grace measured on the others, then
    // cancels what is still in flight (repair places those shards).
    let thresholds: Vec<usize> = pending.iter().map(|p| success_threshold(p.scheme)).collect();
    let mut waiting = receipts.iter().filter(|r| r.is_some()).count();
    let started = Instant::now();
    while waiting > 0 {
        let Some(done) = puts.next().await else { break };
        waiting -= take_receipt(&mut receipts, &thresholds, done)?;
    }
    if !puts.is_empty() {
        let grace = (started.elapsed() * 2).max(TAIL_GRACE_MIN);
        let tail = async {
            while let Some(done) = puts.next().await {
                take_receipt(&mut receipts, &thresholds, done)?;
            }
            Ok::<_, ClientError>(())
        };
        if let Ok(r) = tokio::time::timeout(grace, tail).await {
            r?;
        }
        if !puts.is_empty() {
            tracing::info!(
                shards = puts.len(),
                ?grace,
                "shard uploads still in flight past the grace: cancelled, left to repair"
            );
            Progress::add(&ctx.progress.tail_cut, puts.len() as u64);
        }
    }
    drop(puts);
    let mut stored = Vec::new();
    let mut short = Vec::new();
    for ((p, r), need) in pending.iter().zip(receipts).zip(thresholds) {
        let Some(r) = r else { continue };
        if r.len() >= need {
            stored.push(StoredChunk { id: p.id, receipts: r });
        } else {
            short.push(p.id);
        }
    }
    for batch in stored.chunks(64) {
        ctx.api.stored(&StoredRequest { chunks: batch.to_vec() }).await?;
    }
    Ok(short)
}

/// Records one finished shard upload; 1 when it brought its chunk to the
/// success threshold.
fn take_receipt(
    receipts: &mut [Option<Vec<ShardReceipt>>],
    thresholds: &[usize],
    (n, index, r): (usize, u8, Result<Option<String>>),
) -> Result<usize> {
    match (r?, receipts[n].as_mut()) {
        (Some(receipt), Some(list)) => {
            list.push(ShardReceipt { index, receipt });
            Ok(usize::from(list.len() == thresholds[n]))
        }
        _ => Ok(0),
    }
}

/// PUTs one shard; if its remote fails, asks the server for another and
/// tries there, up to `MAX_TRIES` remotes. Returns the receipt, or `None` if
/// no remote could take it (the chunk may reach its threshold without it).
async fn put_with_failover(
    ctx: Arc<Ctx>,
    id: ChunkId,
    mut target: ShardTarget,
    bytes: Bytes,
) -> Result<Option<String>> {
    let mut failed = Vec::new();
    for _ in 0..MAX_TRIES {
        let result = {
            let _lane = ctx.lanes.acquire().await.map_err(|_| ClientError::Invalid("transfer lanes closed".into()))?;
            transfer::put_shard(&ctx.shards, &target, bytes.clone()).await
        };
        match result {
            Ok(receipt) => {
                Progress::add(&ctx.progress.wire, bytes.len() as u64);
                return Ok(Some(receipt));
            }
            Err(e) => {
                tracing::warn!(chunk = %id, shard = target.index, error = %e, "shard upload failed; placing it elsewhere");
                Progress::add(&ctx.progress.failovers, 1);
                failed.push(e.remote());
                match ctx.api.replace(&ReplaceRequest { id, index: target.index, failed: failed.clone() }).await {
                    Ok(t) => target = t,
                    Err(e) if e.code() == Some(ErrorCode::NotEnoughRemotes) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(None)
}
