//! Writing the current versions of many catalog paths at once: a tree's
//! `get` and a sync's batch of arrivals.
//!
//! Paths are read from the server a batch at a time, and the next batch's
//! versions are read, checked and located while this batch's files are
//! fetched and written, so the per-batch round trips overlap the transfers
//! instead of adding to them. Small files are assembled in memory and handed
//! to one writer thread in slices of bounded size; big files stream to disk
//! on their own, a few at a time.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::OptionFuture;
use futures::stream::StreamExt;
use pyxis_proto::api::catalog::{FileVersion, ReadRequest};
use pyxis_proto::format::manifest::{Manifest, ManifestBody};
use tokio::sync::mpsc;

use crate::error::{ClientError, Result};
use crate::get::file::write_seeded;
use crate::get::place::{Assembled, place_links, write_small_files};
use crate::get::reader::Reader;
use crate::get::seed::Seed;
use crate::progress::Progress;
use crate::put::plan::Skipped;
use crate::trust::binding::verify_version;
use crate::version::Landed;
use crate::version::open_version;

/// Small files assembled at once.
const FILES_IN_FLIGHT: usize = 16;
/// Big files streamed to disk at once (each fetches several chunks at once).
const BIG_FILES_IN_FLIGHT: usize = 4;
/// Files up to this size are assembled in memory and written by the writer
/// thread (the packing threshold: such files share chunks).
const SMALL_FILE: u64 = crate::put::plan::PACK_MAX;
/// Paths per read request.
const READ_BATCH: usize = 256;
/// Bytes of assembled small files handed to the writer at once. With the
/// channel's two slots, the one being written and the one being filled, at
/// most four of these are held, where whole batches (256 files of up to
/// 256 KiB) could be 64 MiB each.
const SLICE_BYTES: usize = 8 << 20;

/// A path of the catalog and where its file goes.
type Wanted = (String, PathBuf);

/// A batch's versions that passed every check, each with its path's entry,
/// and what was refused.
struct Checked<'a> {
    versions: Vec<(FileVersion, &'a Wanted)>,
    failed: Vec<Skipped>,
}

/// Writes the current versions of catalog paths to local paths (whose
/// directories exist), each to a temporary name renamed into place; links
/// last. Returns the versions written; what failed is added to `failed`.
/// The caller flushes (a tree's get syncs the file system once).
/// `direct`: small files are written at their destinations, not to a
/// temporary name renamed there (the caller's own staging paths, which it
/// renames into place itself).
pub async fn fetch_files(
    reader: &Arc<Reader>,
    files: &[Wanted],
    seeds: &HashMap<String, Arc<Seed>>,
    failed: &mut Vec<Skipped>,
    direct: bool,
) -> Result<Vec<Landed>> {
    let ctx = reader.ctx.clone();
    // One thread creating files in path order contends on no directory lock
    // and pays no hand-off per file.
    let (tx, rx) = mpsc::channel::<Vec<Assembled>>(2);
    let progress = ctx.progress.clone();
    let writer = tokio::task::spawn_blocking(move || write_small_files(rx, &progress, direct));
    let mut landed = Vec::new();
    let mut batches = files.chunks(READ_BATCH);
    let mut read_next = || OptionFuture::from(batches.next().map(|b| read_batch(reader, b)));
    let mut current = read_next().await.transpose()?;
    while let Some(checked) = current.take() {
        failed.extend(checked.failed);
        let ((written, mut bad, writer_alive), upcoming) =
            futures::join!(write_batch(reader, checked.versions, seeds, &tx), read_next());
        landed.extend(written);
        failed.append(&mut bad);
        if !writer_alive {
            break; // the writer failed; its error is reported below
        }
        current = upcoming.transpose()?;
    }
    drop(tx);
    let (written, errors, links) =
        writer.await.map_err(|e| ClientError::Task { task: "writer", why: e.to_string() })?;
    landed.extend(written);
    failed.extend(errors);
    let progress = ctx.progress.clone();
    let (written, errors) = tokio::task::spawn_blocking(move || place_links(links, &progress))
        .await
        .map_err(|e| ClientError::Task { task: "link", why: e.to_string() })?;
    landed.extend(written);
    failed.extend(errors);
    Ok(landed)
}

/// Reads a batch's current versions, keeps those that pass every check and
/// locates their chunks.
async fn read_batch<'a>(reader: &Arc<Reader>, batch: &'a [Wanted]) -> Result<Checked<'a>> {
    let ctx = &reader.ctx;
    let paths: Vec<String> = batch.iter().map(|(p, _)| p.clone()).collect();
    let answered = ctx.api.read(&ReadRequest { paths, version: None }).await?.files;
    let mut failed = Vec::new();
    let mut versions = Vec::with_capacity(answered.len());
    // The answer must hold the paths asked for, in order: a version answered
    // under another path is not written anywhere. Each version must be the
    // one its writer bound to this path; one that is not is reported and
    // never written.
    for (fv, wanted) in answered.into_iter().zip(batch) {
        if fv.path != wanted.0 {
            let error = format!("the server answered a read of {:?} with {:?}", wanted.0, fv.path);
            failed.push(Skipped { path: wanted.0.clone(), error });
        } else if let Err(e) = verify_version(&ctx.opener, &ctx.seen, &fv, None) {
            failed.push(Skipped { path: fv.path, error: e.to_string() });
        } else {
            versions.push((fv, wanted));
        }
    }
    if versions.len() < batch.len() {
        let seen: HashSet<&str> =
            versions.iter().map(|(fv, _)| fv.path.as_str()).chain(failed.iter().map(|f| f.path.as_str())).collect();
        let left_out: Vec<Skipped> = batch
            .iter()
            .filter(|(p, _)| !seen.contains(p.as_str()))
            .map(|(p, _)| Skipped { path: p.clone(), error: "the server's read answer left it out".into() })
            .collect();
        failed.extend(left_out);
    }
    for (fv, _) in &versions {
        reader.note(fv);
    }
    reader.prefetch(versions.iter().flat_map(|(v, _)| v.chunks.iter().copied())).await?;
    Ok(Checked { versions, failed })
}

/// Fetches and writes one checked batch: small files assembled and handed
/// to the writer in bounded slices, big files streamed at the same time.
/// Returns the big files written, what failed, and whether the writer still
/// takes files.
async fn write_batch(
    reader: &Arc<Reader>,
    versions: Vec<(FileVersion, &Wanted)>,
    seeds: &HashMap<String, Arc<Seed>>,
    tx: &mpsc::Sender<Vec<Assembled>>,
) -> (Vec<Landed>, Vec<Skipped>, bool) {
    let (small, big): (Vec<_>, Vec<_>) = versions.into_iter().partition(|(fv, _)| fv.info.size <= SMALL_FILE);
    let small = async {
        let mut failed = Vec::new();
        let mut slice = Vec::new();
        let mut bytes = 0;
        let mut jobs = futures::stream::iter(
            small
                .into_iter()
                .map(|(fv, (path, local))| async move { (path, assemble(reader, fv, local.clone()).await) }),
        )
        .buffer_unordered(FILES_IN_FLIGHT);
        while let Some((path, r)) = jobs.next().await {
            match r {
                Ok(a) => {
                    bytes += a.data.len();
                    slice.push(a);
                }
                Err(e) => failed.push(Skipped { path: path.clone(), error: e.to_string() }),
            }
            if bytes >= SLICE_BYTES {
                bytes = 0;
                if tx.send(std::mem::take(&mut slice)).await.is_err() {
                    return (failed, false);
                }
            }
        }
        let alive = slice.is_empty() || tx.send(slice).await.is_ok();
        (failed, alive)
    };
    let big = futures::stream::iter(big.into_iter().map(|(fv, (path, local))| async move {
        let info = landed_of(&fv);
        let seed = seeds.get(path).cloned();
        let r = write_seeded(reader, fv, local, false, seed).await;
        if r.is_ok() {
            Progress::add(&reader.ctx.progress.files, 1);
        }
        (path, info, r)
    }))
    .buffer_unordered(BIG_FILES_IN_FLIGHT)
    .collect::<Vec<_>>();
    let ((mut failed, alive), big) = futures::join!(small, big);
    let mut landed = Vec::new();
    for (path, info, r) in big {
        match r {
            Ok(_) => landed.push(info),
            Err(e) => failed.push(Skipped { path: path.clone(), error: e.to_string() }),
        }
    }
    (landed, failed, alive)
}

fn landed_of(fv: &FileVersion) -> Landed {
    Landed { path: fv.path.clone(), version: fv.info.version, content_hash: fv.info.content_hash.clone() }
}

/// Opens a small file's manifest and gathers its bytes.
async fn assemble(reader: &Arc<Reader>, fv: FileVersion, local: PathBuf) -> Result<Assembled> {
    let Manifest { attrs, body } = open_version(&reader.ctx.opener, &fv)?;
    let data = match &body {
        ManifestBody::Inline { size, compression, stored } => {
            crate::ctx::with_codec(|c| c.decompress_inline(*compression, stored, *size))?
        }
        ManifestBody::Chunks { entries, size } => {
            let mut data = Vec::with_capacity(*size as usize);
            for e in entries {
                let whole = e.offset == 0 && e.len == e.chunk_len;
                let chunk =
                    if whole { reader.fetch_uncached(e.id, e.key).await? } else { reader.chunk(e.id, e.key).await? };
                let (a, b) = (e.offset as usize, e.offset as usize + e.len as usize);
                let piece = chunk
                    .data()
                    .get(a..b)
                    .ok_or_else(|| ClientError::Invalid(format!("chunk {} is shorter than the manifest says", e.id)))?;
                data.extend_from_slice(piece);
            }
            data
        }
    };
    if data.len() as u64 != fv.info.size {
        return Err(ClientError::Invalid(format!(
            "{}: content is {} bytes, the catalog says {}",
            fv.path,
            data.len(),
            fv.info.size
        )));
    }
    Ok(Assembled {
        path: fv.path,
        version: fv.info.version,
        content_hash: fv.info.content_hash,
        local,
        mtime: fv.info.mtime,
        attrs,
        data,
    })
}
