//! `get`: a file or a tree out of the catalog.
//!
//! Every version read is checked against its binding first
//! ([`crate::binding`]); its chunks come from the [`Reader`] (any k of their
//! shards). Files are written to a temporary name and renamed into place
//! when complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::stream::StreamExt;
use pyxis_core::manifest::open_manifest;
use pyxis_proto::api::catalog::{EntryKind, FileVersion, ReadRequest, ReadResponse};
use pyxis_proto::format::manifest::{Manifest, ManifestBody, NodeKind};
use serde::Serialize;

use crate::api::MAX_LISTED;
use crate::binding::{verify_entry, verify_version};
use crate::error::{ClientError, Result};
use crate::place::{local_mode, place_link, system_time, temp_path};
use crate::plan::Skipped;
use crate::progress::{Progress, Totals};
pub use crate::reader::Reader;
use crate::seed::Seed;
use pyxis_proto::ChunkId;

/// Chunks fetched at once for one file.
const CHUNKS_IN_FLIGHT: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct GetReport {
    pub files: u64,
    pub dirs: u64,
    #[serde(flatten)]
    pub totals: Totals,
    pub failed: Vec<Skipped>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    path: &Path,
) -> Result<T> {
    let p = path.display().to_string();
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Invalid(format!("file task: {e}")))?
        .map_err(|e| ClientError::io(p, e))
}

/// Opens a version's file key and manifest and checks the manifest against the
/// catalog's size. Every byte of `fv` comes from the server. Public only for
/// the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub fn open_version(keys: &crate::binding::Opener, fv: &FileVersion) -> Result<Manifest> {
    let file_key = keys.file_key(fv)?;
    let m = open_manifest(&fv.manifest, &file_key)?;
    if m.body.size() != fv.info.size {
        return Err(ClientError::Invalid(format!("{}: manifest and catalog disagree on the size", fv.path)));
    }
    Ok(m)
}

/// Where the entry `path` of a listing of `src` goes under `dst`. The path
/// comes from the server, so it must be in normal form (no `..`, checked by
/// the server's own rules) and lie under `src`: anything else would let a
/// hostile server write outside `dst`. Public only for the fuzz targets in
/// `fuzz/`.
#[doc(hidden)]
pub fn local_path(src: &str, dst: &Path, path: &str) -> Result<PathBuf> {
    let outside = || ClientError::Invalid(format!("the server listed {path:?}, which is not a path under {src}"));
    if pyxis_proto::path::normalize_existing(path).ok().as_deref() != Some(path)
        || !pyxis_proto::path::is_within(path, src)
    {
        return Err(outside());
    }
    let rel = path.get(src.len()..).ok_or_else(outside)?.trim_start_matches('/');
    Ok(dst.join(rel))
}

/// The one version a read of a single path answers.
fn single_file(resp: ReadResponse, path: &str) -> Result<FileVersion> {
    let mut files = resp.files.into_iter();
    match (files.next(), files.next()) {
        (Some(fv), None) if fv.path == path => Ok(fv),
        _ => {
            Err(ClientError::Invalid(format!("the server did not answer with exactly the version of {path} asked for")))
        }
    }
}

/// Writes one file version to `dst`; `durable` fsyncs it before the rename.
pub async fn write_file(reader: &Arc<Reader>, fv: FileVersion, dst: &Path, durable: bool) -> Result<u64> {
    write_seeded(reader, fv, dst, durable, None).await
}

/// [`write_file`], taking the chunks `seed` holds from it instead of the
/// network.
pub async fn write_seeded(
    reader: &Arc<Reader>,
    fv: FileVersion,
    dst: &Path,
    durable: bool,
    seed: Option<Arc<Seed>>,
) -> Result<u64> {
    let Manifest { attrs, body } = open_version(&reader.ctx.opener, &fv)?;
    if let (Some(a), ManifestBody::Inline { stored, .. }) = (attrs, &body)
        && a.kind == NodeKind::Symlink
    {
        let (target, d, mtime) = (stored.clone(), dst.to_owned(), fv.info.mtime);
        blocking(move || place_link(&target, &d, mtime), dst).await?;
        Progress::add(&reader.ctx.progress.done, body.size());
        return Ok(body.size());
    }
    let tmp = temp_path(dst);
    let file = {
        let t = tmp.clone();
        Arc::new(blocking(move || std::fs::File::create(&t), &tmp).await?)
    };
    let result = fill(reader, &body, &file, &tmp, seed).await;
    let finish = async {
        result?;
        let (f, t, d) = (file.clone(), tmp.clone(), dst.to_owned());
        let mtime = system_time(fv.info.mtime);
        let mode = local_mode(attrs);
        blocking(
            move || {
                if let Some(m) = mode {
                    f.set_permissions(m)?;
                }
                f.set_modified(mtime)?;
                if durable {
                    f.sync_all()?;
                }
                std::fs::rename(&t, &d)
            },
            &tmp,
        )
        .await
    };
    match finish.await {
        Ok(()) => Ok(body.size()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A chunk's plaintext, from a remote or from a local seed.
enum Piece {
    Fetched(Arc<pyxis_core::codec::ChunkBuf>),
    Local(Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Fetched(c) => c.data(),
            Piece::Local(v) => v,
        }
    }
}

async fn fill(
    reader: &Arc<Reader>,
    body: &ManifestBody,
    file: &Arc<std::fs::File>,
    tmp: &Path,
    seed: Option<Arc<Seed>>,
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    match body {
        ManifestBody::Inline { size, compression, stored } => {
            let data = crate::upload::with_codec(|c| c.decompress_inline(*compression, stored, *size))?;
            Progress::add(&reader.ctx.progress.done, data.len() as u64);
            let f = file.clone();
            blocking(move || f.write_all_at(&data, 0), tmp).await
        }
        ManifestBody::Chunks { entries, size } => {
            let local = |id: &ChunkId| seed.as_ref().is_some_and(|s| s.has(id));
            reader.prefetch(entries.iter().map(|e| e.id).filter(|id| !local(id))).await?;
            // Fetch several chunks at once but write them in order from this
            // one task: concurrent writers to one file only contend on its
            // inode lock (measured: a third of get's CPU spinning), and
            // sequential writes suit the file system.
            let mut fetches = futures::stream::iter(entries.iter().map(|e| {
                let reader = reader.clone();
                // Whole-chunk entries belong to one file: caching them would
                // only hold memory. Slices of packed chunks are shared.
                let shared = e.offset != 0 || e.len != e.chunk_len;
                let (id, key, start, len) = (e.id, e.key, e.offset as usize, e.len as usize);
                let seed = seed.clone().filter(|s| s.has(&id));
                async move {
                    let keys = reader.ctx.keys.clone();
                    let here = match seed {
                        Some(s) => tokio::task::spawn_blocking(move || s.read(&keys, &id)).await.ok().flatten(),
                        None => None,
                    };
                    let chunk = match here {
                        Some(bytes) => Piece::Local(bytes),
                        None if shared => Piece::Fetched(reader.chunk(id, key).await?),
                        None => Piece::Fetched(reader.fetch_uncached(id, key).await?),
                    };
                    if start + len > chunk.bytes().len() {
                        return Err(ClientError::Invalid(format!("chunk {id} is shorter than the manifest says")));
                    }
                    Ok::<_, ClientError>((chunk, start, len))
                }
            }))
            .buffered(CHUNKS_IN_FLIGHT);
            let mut at = 0u64;
            while let Some(r) = fetches.next().await {
                let (chunk, start, len) = r?;
                let f = file.clone();
                blocking(move || f.write_all_at(&chunk.bytes()[start..start + len], at), tmp).await?;
                Progress::add(&reader.ctx.progress.done, len as u64);
                at += len as u64;
            }
            let (f, s) = (file.clone(), *size);
            blocking(move || f.set_len(s), tmp).await
        }
    }
}

/// Gets a file (`durable`: fsync + rename + fsync of the directory) or a tree.
pub async fn get(reader: Arc<Reader>, src: &str, dst: &Path, version: Option<i64>) -> Result<GetReport> {
    let ctx = reader.ctx.clone();
    let entry = ctx.api.stat(src).await?;
    if entry.kind == EntryKind::File {
        let resp = ctx.api.read(&ReadRequest { paths: vec![entry.path.clone()], version }).await?;
        let fv = single_file(resp, &entry.path)?;
        // An older version is checked against the verified current one.
        let head = match version {
            Some(_) => verify_entry(&ctx.opener, &ctx.seen, &entry)?,
            None => None,
        };
        verify_version(&ctx.opener, &ctx.seen, &fv, head.as_ref())?;
        reader.note(&fv);
        ctx.progress.total.store(fv.info.size, std::sync::atomic::Ordering::Relaxed);
        ctx.progress.files_total.store(1, std::sync::atomic::Ordering::Relaxed);
        write_file(&reader, fv, dst, true).await?;
        if let Some(dir) = dst.parent().filter(|d| !d.as_os_str().is_empty()) {
            let d = dir.to_owned();
            blocking(move || std::fs::File::open(&d)?.sync_all(), dir).await?;
        }
        Progress::add(&ctx.progress.files, 1);
        return Ok(GetReport { files: 1, dirs: 0, totals: ctx.progress.totals(), failed: vec![] });
    }
    if version.is_some() {
        return Err(ClientError::Invalid(format!("{src} is a directory: --version applies to files")));
    }
    get_tree(reader, &entry.path, dst).await
}

async fn get_tree(reader: Arc<Reader>, src: &str, dst: &Path) -> Result<GetReport> {
    let ctx = reader.ctx.clone();
    let mut files = Vec::new();
    let mut dirs = vec![dst.to_owned()];
    let mut after: Option<String> = None;
    let mut failed = Vec::new();
    loop {
        let page = ctx.api.list(src, true, after.as_deref()).await?;
        let bad = |why: String| ClientError::Tampered { path: src.to_owned(), why };
        crate::api::cursor_moves(after.as_deref(), &page).map_err(|why| bad(why.into()))?;
        for e in page.entries {
            let local = match local_path(src, dst, &e.path) {
                Ok(l) => l,
                Err(err) => {
                    failed.push(Skipped { path: e.path, error: err.to_string() });
                    continue;
                }
            };
            match e.kind {
                EntryKind::Dir => dirs.push(local),
                EntryKind::File => {
                    ctx.progress.total.fetch_add(e.size, std::sync::atomic::Ordering::Relaxed);
                    files.push((e.path, local));
                }
            }
        }
        if files.len() + dirs.len() > MAX_LISTED {
            return Err(bad(format!("the listing holds more than {MAX_LISTED} entries")));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    ctx.progress.files_total.store(files.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let ndirs = dirs.len() as u64;
    blocking(move || dirs.iter().try_for_each(std::fs::create_dir_all), dst).await?;
    let landed = crate::fetch::fetch_files(&reader, &files, &HashMap::new(), &mut failed, false).await?;
    // One flush of the whole file system instead of an fsync per file.
    let d = dst.to_owned();
    blocking(move || std::fs::File::open(&d).and_then(|f| rustix::fs::syncfs(&f).map_err(Into::into)), dst).await?;
    Ok(GetReport { files: landed.len() as u64, dirs: ndirs, totals: ctx.progress.totals(), failed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyxis_proto::api::catalog::VersionInfo;

    #[test]
    fn listed_paths_stay_under_the_destination() {
        let dst = Path::new("/tmp/out");
        assert_eq!(local_path("/docs", dst, "/docs/a/b.txt").unwrap(), dst.join("a/b.txt"));
        assert_eq!(local_path("/", dst, "/a").unwrap(), dst.join("a"));
        for hostile in ["/docs/../../etc/passwd", "/docs/./a", "/docsx/a", "/other", "docs/a", "/docs//a", "/docs/a/"] {
            assert!(local_path("/docs", dst, hostile).is_err(), "{hostile}");
        }
    }

    #[test]
    fn a_read_must_answer_the_one_version_asked_for() {
        let fv = |path: &str| FileVersion {
            path: path.into(),
            info: VersionInfo { version: 1, size: 0, mtime: 0, content_hash: String::new(), created_at: 0 },
            manifest: vec![],
            wrapped_key: vec![],
            chunks: vec![],
            binding: None,
            share_key: None,
            writer: None,
            writer_keys: None,
            chunks_of: None,
        };
        // An empty answer used to panic the client (`files.remove(0)`).
        assert!(single_file(ReadResponse { files: vec![] }, "/a").is_err());
        assert!(single_file(ReadResponse { files: vec![fv("/b")] }, "/a").is_err());
        assert!(single_file(ReadResponse { files: vec![fv("/a"), fv("/a")] }, "/a").is_err());
        assert_eq!(single_file(ReadResponse { files: vec![fv("/a")] }, "/a").unwrap().path, "/a");
    }
}
