//! `get`: a file or a tree out of the catalog.
//!
//! Every version read is checked against its binding first
//! ([`crate::trust::binding`]); its chunks come from the [`Reader`] (any k of their
//! shards). Files are written to a temporary name and renamed into place
//! when complete.

pub mod cache;
pub mod fetch;
mod file;
pub mod place;
pub mod reader;
pub mod seed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyxis_proto::api::catalog::{EntryKind, FileVersion, ReadRequest, ReadResponse};
use serde::Serialize;

use crate::api::MAX_LISTED;
use crate::error::{ClientError, Result};
pub use crate::get::reader::Reader;
use crate::progress::{Progress, Totals};
use crate::put::plan::Skipped;
use crate::trust::binding::{verify_entry, verify_version};
use file::blocking;
pub use file::{write_file, write_seeded};

#[derive(Debug, Clone, Serialize)]
pub struct GetReport {
    pub files: u64,
    pub dirs: u64,
    #[serde(flatten)]
    pub totals: Totals,
    pub failed: Vec<Skipped>,
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
    let landed = crate::get::fetch::fetch_files(&reader, &files, &HashMap::new(), &mut failed, false).await?;
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
