//! `put`: a file or a tree into the catalog.
//!
//! A reader thread walks the plan in order — inline files, then the pack
//! stream of small files, then big files — builds each file's manifest, and
//! feeds chunks to the upload pipeline. The committer seals manifests and
//! commits files in batches as soon as the watermark says their chunks are
//! stored. A file is visible only once committed; a failed file is reported,
//! never half there.

pub mod commit;
pub mod pack;
pub mod plan;
pub mod unchanged;
pub mod upload;

use std::sync::Arc;

use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_core::codec::ChunkCodec;
use pyxis_core::manifest::{ContentHasher, content_hash_of_chunks, version_hash};
use pyxis_crypto::keys::Keyring;
use pyxis_proto::ChunkId;
use pyxis_proto::format::manifest::{Manifest, ManifestBody, ManifestEntry};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::task::AbortOnDropHandle;

use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::progress::{Progress, Totals};
use crate::put::commit::FileDone;
use crate::put::pack::{PackItem, PackReader};
use crate::put::plan::{Plan, Planned, Skipped, mtime_ms};
use crate::put::upload::ChunkJob;

#[derive(Debug, Clone, Serialize)]
pub struct PutReport {
    /// Files committed, unchanged ones included.
    pub files: u64,
    /// Files identical (content, size, mtime) to their current version: no
    /// new version was made for them.
    pub unchanged: u64,
    pub dirs: u64,
    pub scheme: String,
    /// Fewer than two parity shards were used.
    pub reduced: bool,
    #[serde(flatten)]
    pub totals: Totals,
    pub failed: Vec<Skipped>,
    pub skipped: Vec<Skipped>,
    /// Each file committed (or unchanged), with its version.
    #[serde(skip)]
    pub landed: Vec<crate::version::Landed>,
}

/// Runs a planned put to the end. Whatever happens, chunks it placed that no
/// committed file uses are given back, so a failed put costs no quota.
pub async fn put(ctx: Arc<Ctx>, chunker: ChunkerParams, plan: Plan) -> Result<PutReport> {
    ctx.placed.lock().expect("placed lock").clear();
    let result = run(&ctx, chunker, plan).await;
    let failed_something = result.as_ref().map(|r| !r.failed.is_empty()).unwrap_or(true);
    if failed_something {
        let placed = std::mem::take(&mut *ctx.placed.lock().expect("placed lock"));
        for ids in placed.chunks(1024) {
            if let Err(e) = ctx.api.abandon(&pyxis_proto::api::chunks::AbandonRequest { ids: ids.to_vec() }).await {
                tracing::warn!(error = %e, "could not give back the chunks of a failed put");
            }
        }
    }
    result
}

async fn run(ctx: &Arc<Ctx>, chunker: ChunkerParams, mut plan: Plan) -> Result<PutReport> {
    let ctx = ctx.clone();
    let heads = std::mem::take(&mut plan.heads);
    let progress = ctx.progress.clone();
    progress.total.store(plan.bytes, std::sync::atomic::Ordering::Relaxed);
    progress.files_total.store(plan.files() as u64, std::sync::atomic::Ordering::Relaxed);
    let mut dirs = 0;
    if let Some(root) = &plan.root_dir {
        ctx.api.mkdir(root, true).await?;
        dirs += 1;
    }
    for d in &plan.empty_dirs {
        ctx.api.mkdir(d, true).await?;
        dirs += 1;
    }
    ctx.refresh_scheme().await?;
    let (jobs_tx, jobs_rx) = mpsc::channel(4);
    let (done_tx, done_rx) = mpsc::channel(4096);
    let (mark_tx, mark_rx) = watch::channel(0);
    // Abort-on-drop: a put that is dropped (a caller's timeout, a select!)
    // must not leave its uploads running, storing shards nobody commits.
    let uploader = AbortOnDropHandle::new(tokio::spawn(upload::run(ctx.clone(), jobs_rx, mark_tx)));
    let keys = (*ctx.keys).clone();
    // Small files are packed together only with files their owner shares
    // with the same people: a grantee must get no byte of another file.
    let shares = crate::share::owned_shares(&ctx).await?;
    let domains: Vec<String> = shares.iter().map(|s| s.info.path.clone()).collect();
    let (new_versions, strict) = (plan.new_versions, plan.strict);
    let skipped = plan.skipped.clone();
    let refused = std::mem::take(&mut plan.refused);
    let unchanged_unread = plan.unchanged;
    let producer =
        tokio::task::spawn_blocking(move || produce(&keys, chunker, plan, &domains, &jobs_tx, &done_tx, &progress));
    let committed = crate::put::commit::commit_loop(&ctx, &shares, heads, done_rx, mark_rx, new_versions, strict).await;
    let produced = producer.await.map_err(|e| ClientError::Task { task: "reader", why: e.to_string() })?;
    let uploaded = uploader.await.map_err(|e| ClientError::Task { task: "upload", why: e.to_string() })?;
    uploaded?;
    let crate::put::commit::Committed { files, unchanged, mut failed, landed } = committed?;
    failed.extend(produced?);
    failed.extend(refused);
    Ok(PutReport {
        files: files + unchanged_unread,
        unchanged: unchanged + unchanged_unread,
        dirs,
        scheme: ctx.scheme().await?.to_string(),
        reduced: ctx.reduced.load(std::sync::atomic::Ordering::Relaxed),
        totals: ctx.progress.totals(),
        failed,
        skipped,
        landed,
    })
}

/// The reader thread. Returns the files it could not read.
fn produce(
    keys: &Keyring,
    params: ChunkerParams,
    plan: Plan,
    shared: &[String],
    jobs: &mpsc::Sender<ChunkJob>,
    done: &mpsc::Sender<FileDone>,
    progress: &Progress,
) -> Result<Vec<Skipped>> {
    let mut failed = Vec::new();
    let mut seq = 0u64;
    let send_done = |f: FileDone| {
        Progress::add(&progress.files, 1);
        done.blocking_send(f).map_err(|_| ClientError::Invalid("commit stopped".into()))
    };
    let mut codec = ChunkCodec::new()?;
    for f in &plan.inline {
        match read_small(f) {
            Ok(data) => {
                let mut h = ContentHasher::new(keys);
                h.update(&data);
                // A link's target is stored as it is (the format wants it
                // uncompressed: it is short, and read without a codec).
                let (compression, stored) = if f.is_link() {
                    (pyxis_proto::format::chunk::Compression::None, data.clone())
                } else {
                    codec.compress_inline(&data)
                };
                Progress::add(&progress.done, data.len() as u64);
                let body = ManifestBody::Inline { size: data.len() as u64, compression, stored };
                send_done(FileDone {
                    dst: f.dst.clone(),
                    size: f.size,
                    mtime: mtime_ms(f.mtime),
                    hash: version_hash(keys, h.finalize(), Some(f.attrs)),
                    manifest: Manifest { attrs: Some(f.attrs), body },
                    chunks: vec![],
                    max_seq: seq,
                })?;
            }
            Err(e) => failed.push(Skipped { path: f.dst.clone(), error: e }),
        }
    }
    for group in pack_groups(&plan.packed, shared) {
        produce_packed(keys, params, group, jobs, &mut seq, progress, &mut failed, &send_done)?;
    }
    for f in &plan.big {
        match produce_big(keys, params, f, jobs, &mut seq, progress) {
            Ok(fd) => send_done(fd)?,
            Err(ClientError::Stopped) => return Err(ClientError::Stopped),
            Err(e) => failed.push(Skipped { path: f.dst.clone(), error: e.to_string() }),
        }
    }
    Ok(failed)
}

/// Runs of consecutive files (in path order) that the same shares cover:
/// each is packed as a stream of its own, so no chunk mixes a shared file
/// with one its grantees may not read.
fn pack_groups<'a>(files: &'a [Planned], shared: &[String]) -> Vec<&'a [Planned]> {
    let domain =
        |f: &Planned| -> Vec<bool> { shared.iter().map(|s| pyxis_proto::path::is_within(&f.dst, s)).collect() };
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=files.len() {
        if i == files.len() || domain(&files[i]) != domain(&files[start]) {
            if i > start {
                groups.push(&files[start..i]);
            }
            start = i;
        }
    }
    groups
}

fn read_small(f: &Planned) -> std::result::Result<Vec<u8>, String> {
    let data = if f.is_link() {
        std::os::unix::ffi::OsStringExt::into_vec(
            std::fs::read_link(&f.src).map_err(|e| e.to_string())?.into_os_string(),
        )
    } else {
        std::fs::read(&f.src).map_err(|e| e.to_string())?
    };
    let now = std::fs::symlink_metadata(&f.src).map_err(|e| e.to_string())?;
    if now.file_type().is_symlink() != f.is_link() {
        return Err("changed while it was being read".into());
    }
    if data.len() as u64 != f.size || now.len() != f.size || (f.mtime.is_some() && now.modified().ok() != f.mtime) {
        return Err("changed while it was being read".into());
    }
    Ok(data)
}

fn send_job(jobs: &mpsc::Sender<ChunkJob>, job: ChunkJob) -> Result<()> {
    jobs.blocking_send(job).map_err(|_| ClientError::Stopped)
}

/// One big file, chunked on its own.
fn produce_big(
    keys: &Keyring,
    params: ChunkerParams,
    f: &Planned,
    jobs: &mpsc::Sender<ChunkJob>,
    seq: &mut u64,
    progress: &Progress,
) -> Result<FileDone> {
    let file = std::fs::File::open(&f.src).map_err(|e| ClientError::io(f.src.display(), e))?;
    let mut entries = Vec::new();
    let mut total = 0u64;
    for chunk in Chunker::new(&file, params, keys.chunker_seed())? {
        let chunk = chunk.map_err(|e| ClientError::Invalid(format!("{}: {e}", f.src.display())))?;
        let id = keys.chunk_id(chunk.data());
        let len = chunk.buf.len() as u32;
        entries.push(ManifestEntry::whole(id, *keys.chunk_key(&id).as_bytes(), len));
        total += u64::from(len);
        Progress::add(&progress.done, u64::from(len));
        *seq += 1;
        send_job(jobs, ChunkJob { seq: *seq, id, buf: chunk.buf })?;
    }
    let now = file.metadata().map_err(|e| ClientError::io(f.src.display(), e))?;
    if total != f.size || now.len() != f.size || (f.mtime.is_some() && now.modified().ok() != f.mtime) {
        return Err(ClientError::Changed { path: f.src.display().to_string() });
    }
    let chunks: Vec<ChunkId> = entries.iter().map(|e| e.id).collect();
    Ok(FileDone {
        dst: f.dst.clone(),
        size: total,
        mtime: mtime_ms(f.mtime),
        hash: version_hash(keys, content_hash_of_chunks(keys, &chunks), Some(f.attrs)),
        manifest: Manifest { attrs: Some(f.attrs), body: ManifestBody::Chunks { size: total, entries } },
        chunks,
        max_seq: *seq,
    })
}

/// The pack stream: small files concatenated, chunked, and mapped back.
#[allow(clippy::too_many_arguments)]
fn produce_packed(
    keys: &Keyring,
    params: ChunkerParams,
    files: &[Planned],
    jobs: &mpsc::Sender<ChunkJob>,
    seq: &mut u64,
    progress: &Progress,
    failed: &mut Vec<Skipped>,
    send_done: &dyn Fn(FileDone) -> Result<()>,
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let items = files.iter().map(|f| PackItem { src: f.src.clone(), size: f.size, mtime: f.mtime }).collect();
    let (reader, spans) = PackReader::new(items, keys.clone());
    let mut entries: Vec<Vec<ManifestEntry>> = vec![Vec::new(); files.len()];
    let mut next_done = 0; // first file not yet handed on
    for chunk in Chunker::new(reader, params, keys.chunker_seed())? {
        let chunk = chunk?;
        let (start, end) = (chunk.offset, chunk.offset + chunk.buf.len() as u64);
        let id = keys.chunk_id(chunk.data());
        let key = *keys.chunk_key(&id).as_bytes();
        let chunk_len = chunk.buf.len() as u32;
        Progress::add(&progress.done, u64::from(chunk_len));
        *seq += 1;
        send_job(jobs, ChunkJob { seq: *seq, id, buf: chunk.buf })?;
        // Every file that starts before this chunk's end was read at least up
        // to it (the chunker reads ahead before cutting).
        let spans = spans.borrow();
        for (i, s) in spans.iter().enumerate().skip(next_done) {
            if s.start >= end {
                break;
            }
            let file_end = if s.finished { s.start + s.len } else { u64::MAX };
            let (a, b) = (s.start.max(start), file_end.min(end));
            if a < b {
                entries[i].push(ManifestEntry { id, key, chunk_len, offset: (a - start) as u32, len: (b - a) as u32 });
            }
        }
        while next_done < spans.len()
            && spans[next_done].finished
            && spans[next_done].start + spans[next_done].len <= end
        {
            let (s, f) = (&spans[next_done], &files[next_done]);
            let list = std::mem::take(&mut entries[next_done]);
            match &s.error {
                Some(e) => failed.push(Skipped { path: f.dst.clone(), error: e.clone() }),
                None => {
                    let mut chunks: Vec<ChunkId> = list.iter().map(|e| e.id).collect();
                    chunks.dedup();
                    send_done(FileDone {
                        dst: f.dst.clone(),
                        size: s.len,
                        mtime: mtime_ms(f.mtime),
                        hash: version_hash(keys, s.hash, Some(f.attrs)),
                        manifest: Manifest {
                            attrs: Some(f.attrs),
                            body: ManifestBody::Chunks { size: s.len, entries: list },
                        },
                        chunks,
                        max_seq: *seq,
                    })?;
                }
            }
            next_done += 1;
        }
    }
    // Files that ended up empty (unreadable) leave no chunk behind.
    for (s, f) in spans.borrow().iter().zip(files).skip(next_done) {
        failed.push(Skipped { path: f.dst.clone(), error: s.error.clone().unwrap_or_else(|| "not read".into()) });
    }
    Ok(())
}
