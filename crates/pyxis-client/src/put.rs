//! `put`: a file or a tree into the catalog.
//!
//! A reader thread walks the plan in order — inline files, then the pack
//! stream of small files, then big files — builds each file's manifest, and
//! feeds chunks to the upload pipeline. The committer seals manifests and
//! commits files in batches as soon as the watermark says their chunks are
//! stored. A file is visible only once committed; a failed file is reported,
//! never half there.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_core::codec::ChunkCodec;
use pyxis_core::keys::{FileKey, Keyring};
use pyxis_core::manifest::{ContentHasher, content_hash_of_chunks, seal_manifest};
use pyxis_proto::ChunkId;
use pyxis_proto::api::catalog::{CommitFile, CommitRequest, CommittedFile};
use pyxis_proto::format::manifest::{ManifestBody, ManifestEntry};
use pyxis_proto::hex;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::task::AbortOnDropHandle;

use crate::binding::{Head, NewVersion, verify_entry};
use crate::error::{ClientError, Result};
use crate::pack::{PackItem, PackReader};
use crate::plan::{Plan, Planned, Skipped, mtime_ms};
use crate::progress::{Progress, Totals};
use crate::upload::{self, ChunkJob, Ctx};

/// Files per commit request.
const COMMIT_BATCH: usize = 1000;
/// Bytes of sealed manifests per commit request, well under the server's
/// body limit for commits (32 MiB): a batch of big files commits sooner.
const COMMIT_BYTES: usize = 8 << 20;
/// A partial batch is committed after this long, so progress is visible.
const COMMIT_DELAY: Duration = Duration::from_millis(500);

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
}

/// A file whose manifest is built, waiting for its chunks to be stored.
#[derive(Debug)]
struct FileDone {
    dst: String,
    size: u64,
    mtime: i64,
    hash: [u8; 32],
    body: ManifestBody,
    chunks: Vec<ChunkId>,
    max_seq: u64,
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
    let skipped = plan.skipped.clone();
    let unchanged_unread = plan.unchanged;
    let producer = tokio::task::spawn_blocking(move || produce(&keys, chunker, plan, &jobs_tx, &done_tx, &progress));
    let committed = commit_loop(&ctx, heads, done_rx, mark_rx).await;
    let produced = producer.await.map_err(|e| ClientError::Invalid(format!("reader task: {e}")))?;
    let uploaded = uploader.await.map_err(|e| ClientError::Invalid(format!("upload task: {e}")))?;
    uploaded?;
    let (files, unchanged, mut failed) = committed?;
    failed.extend(produced?);
    Ok(PutReport {
        files: files + unchanged_unread,
        unchanged: unchanged + unchanged_unread,
        dirs,
        scheme: ctx.scheme().await?.to_string(),
        reduced: ctx.reduced.load(std::sync::atomic::Ordering::Relaxed),
        totals: ctx.progress.totals(),
        failed,
        skipped,
    })
}

/// The reader thread. Returns the files it could not read.
fn produce(
    keys: &Keyring,
    params: ChunkerParams,
    plan: Plan,
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
                let (compression, stored) = codec.compress_inline(&data);
                Progress::add(&progress.done, data.len() as u64);
                let body = ManifestBody::Inline { size: data.len() as u64, compression, stored };
                send_done(FileDone {
                    dst: f.dst.clone(),
                    size: f.size,
                    mtime: mtime_ms(f.mtime),
                    hash: h.finalize(),
                    body,
                    chunks: vec![],
                    max_seq: seq,
                })?;
            }
            Err(e) => failed.push(Skipped { path: f.dst.clone(), error: e }),
        }
    }
    produce_packed(keys, params, &plan.packed, jobs, &mut seq, progress, &mut failed, &send_done)?;
    for f in &plan.big {
        match produce_big(keys, params, f, jobs, &mut seq, progress) {
            Ok(fd) => send_done(fd)?,
            Err(ClientError::Invalid(m)) if m == "upload stopped" => return Err(ClientError::Invalid(m)),
            Err(e) => failed.push(Skipped { path: f.dst.clone(), error: e.to_string() }),
        }
    }
    Ok(failed)
}

fn read_small(f: &Planned) -> std::result::Result<Vec<u8>, String> {
    let data = std::fs::read(&f.src).map_err(|e| e.to_string())?;
    let now = std::fs::metadata(&f.src).map_err(|e| e.to_string())?;
    if data.len() as u64 != f.size || now.len() != f.size || (f.mtime.is_some() && now.modified().ok() != f.mtime) {
        return Err("changed while it was being read".into());
    }
    Ok(data)
}

fn send_job(jobs: &mpsc::Sender<ChunkJob>, job: ChunkJob) -> Result<()> {
    jobs.blocking_send(job).map_err(|_| ClientError::Invalid("upload stopped".into()))
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
        hash: content_hash_of_chunks(keys, &chunks),
        body: ManifestBody::Chunks { size: total, entries },
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
                        hash: s.hash,
                        body: ManifestBody::Chunks { size: s.len, entries: list },
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

fn seal(keys: &Keyring, f: FileDone, head: Option<&Head>) -> Result<CommitFile> {
    let file_key = FileKey::generate()?;
    let manifest = seal_manifest(&f.body, &file_key)?;
    let wrapped_key = keys.wrap_file_key(&file_key)?;
    let (expect, binding) = NewVersion {
        path: &f.dst,
        head,
        size: f.size,
        mtime: f.mtime,
        content_hash: &f.hash,
        manifest: &manifest,
        wrapped_key: &wrapped_key,
    }
    .bind(keys)?;
    Ok(CommitFile {
        path: f.dst,
        size: f.size,
        mtime: f.mtime,
        content_hash: hex::encode(&f.hash),
        manifest,
        wrapped_key,
        chunks: f.chunks,
        expect: Some(expect),
        binding: Some(binding),
    })
}

/// Binds a sealed file again as the successor of `head` (its current version
/// moved on while the put ran).
fn rebind(keys: &Keyring, f: &mut CommitFile, head: Option<&Head>) -> Result<()> {
    let hash: [u8; 32] = hex::decode_array(&f.content_hash).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let (expect, binding) = NewVersion {
        path: &f.path,
        head,
        size: f.size,
        mtime: f.mtime,
        content_hash: &hash,
        manifest: &f.manifest,
        wrapped_key: &f.wrapped_key,
    }
    .bind(keys)?;
    f.expect = Some(expect);
    f.binding = Some(binding);
    Ok(())
}

/// Checks the server's answer to a commit against what was asked: a new
/// version must be the one bound, and "unchanged" is believed only for a
/// file whose verified current version has the same facts. Returns how
/// many were unchanged, and the files the answer lied about.
fn check_committed(
    ctx: &Ctx,
    heads: &HashMap<String, Head>,
    sent: &[CommitFile],
    got: &[CommittedFile],
) -> (u64, Vec<Skipped>) {
    let mut unchanged = 0;
    let mut bad = Vec::new();
    if got.len() != sent.len() {
        let why = format!("the server answered {} files to a commit of {}", got.len(), sent.len());
        return (0, sent.iter().map(|f| Skipped { path: f.path.clone(), error: why.clone() }).collect());
    }
    for (f, c) in sent.iter().zip(got) {
        let Some(b) = &f.binding else { continue };
        let expect = f.expect.unwrap_or(0);
        let verdict = if c.path != f.path {
            Err(format!("the server answered for {}", c.path))
        } else if c.unchanged {
            let same = heads.get(&f.path).is_some_and(|h| {
                h.version == c.version
                    && h.version == expect
                    && h.size == f.size
                    && h.mtime == f.mtime
                    && hex::encode(&h.content_hash) == f.content_hash
            });
            if same {
                unchanged += 1;
                Ok(())
            } else {
                Err("the server claims it is unchanged, but its verified current version differs: \
                     the new content was not stored; put it again"
                    .to_owned())
            }
        } else if c.version != expect + 1 {
            Err(format!("the server made version {} of it, but version {} was bound", c.version, expect + 1))
        } else {
            ctx.seen.observe(&f.path, b.file_id, c.version).map_err(|e| e.to_string())
        };
        if let Err(why) = verdict {
            bad.push(Skipped {
                path: f.path.clone(),
                error: ClientError::Tampered { path: f.path.clone(), why }.to_string(),
            });
        }
    }
    (unchanged, bad)
}

/// A commit refused because a file's current version moved on: learns the
/// new current versions (verified) and binds the batch again, once.
async fn refresh_heads(ctx: &Ctx, heads: &mut HashMap<String, Head>, files: &mut [CommitFile]) -> Result<()> {
    for f in files.iter_mut() {
        match ctx.api.stat(&f.path).await {
            Ok(e) => match verify_entry(&ctx.keys, &ctx.seen, &e)? {
                Some(h) => {
                    heads.insert(f.path.clone(), h);
                }
                None => {
                    heads.remove(&f.path);
                }
            },
            Err(e) if e.code() == Some("not_found") => {
                heads.remove(&f.path);
            }
            Err(e) => return Err(e),
        }
        rebind(&ctx.keys, f, heads.get(&f.path))?;
    }
    Ok(())
}

/// Commits files as their chunks become stored. Returns how many were
/// committed, how many of those were unchanged, and those that failed.
async fn commit_loop(
    ctx: &Arc<Ctx>,
    mut heads: HashMap<String, Head>,
    mut done: mpsc::Receiver<FileDone>,
    mut mark: watch::Receiver<u64>,
) -> Result<(u64, u64, Vec<Skipped>)> {
    let mut pending: VecDeque<FileDone> = VecDeque::new();
    let mut batch: Vec<CommitFile> = Vec::new();
    let (mut open, mut uploading) = (true, true);
    let mut since = Instant::now();
    let (mut committed, mut unchanged, mut failed) = (0u64, 0u64, Vec::new());
    let mut batch_bytes = 0usize;
    loop {
        let ready = pending.front().is_some_and(|f| f.max_seq <= *mark.borrow());
        if !ready && (open || (uploading && !pending.is_empty())) {
            tokio::select! {
                f = done.recv(), if open => match f {
                    Some(f) => pending.push_back(f),
                    None => open = false,
                },
                r = mark.changed(), if uploading => if r.is_err() { uploading = false },
                _ = tokio::time::sleep(COMMIT_DELAY), if !batch.is_empty() => {}
            }
        }
        let stored = *mark.borrow();
        let full = |batch: &Vec<CommitFile>, bytes: usize| batch.len() >= COMMIT_BATCH || bytes >= COMMIT_BYTES;
        while !full(&batch, batch_bytes) && pending.front().is_some_and(|f| f.max_seq <= stored) {
            let f = pending.pop_front().expect("front exists");
            let head = heads.get(&f.dst);
            let sealed = seal(&ctx.keys, f, head)?;
            // Base64 manifest and key, hex chunk ids, the path and field names.
            batch_bytes += sealed.manifest.len() * 4 / 3 + sealed.chunks.len() * 67 + sealed.path.len() + 256;
            batch.push(sealed);
        }
        let more_ready = pending.front().is_some_and(|f| f.max_seq <= stored);
        let finished = !open && (pending.is_empty() || !uploading) && !more_ready;
        if full(&batch, batch_bytes) || (!batch.is_empty() && (finished || since.elapsed() >= COMMIT_DELAY)) {
            batch_bytes = 0;
            let mut files = std::mem::take(&mut batch);
            let mut answer = ctx.api.commit(&CommitRequest { files: files.clone() }).await;
            if answer.as_ref().is_err_and(|e| e.code() == Some("version_conflict")) {
                refresh_heads(ctx, &mut heads, &mut files).await?;
                answer = ctx.api.commit(&CommitRequest { files: files.clone() }).await;
            }
            match answer {
                Ok(r) => {
                    let (same, lies) = check_committed(ctx, &heads, &files, &r.files);
                    committed += (files.len() - lies.len()) as u64;
                    unchanged += same;
                    failed.extend(lies);
                }
                Err(e) => failed.extend(files.into_iter().map(|f| Skipped { path: f.path, error: e.to_string() })),
            }
            since = Instant::now();
        }
        if finished && batch.is_empty() {
            break;
        }
    }
    failed
        .extend(pending.into_iter().map(|f| Skipped { path: f.dst, error: "its chunks were not all uploaded".into() }));
    Ok((committed, unchanged, failed))
}
