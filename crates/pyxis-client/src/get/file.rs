//! One file written from its version: a link placed as a link, anything
//! else filled chunk by chunk (from a local seed where it has them) into a
//! temporary name, then given its mode and time, fsynced when asked, and
//! renamed into place.

use std::path::Path;
use std::sync::Arc;

use futures::stream::StreamExt;
use pyxis_proto::ChunkId;
use pyxis_proto::api::catalog::FileVersion;
use pyxis_proto::format::manifest::{Manifest, ManifestBody, NodeKind};

use crate::error::{ClientError, Result};
use crate::get::place::{local_mode, place_link, system_time, temp_path};
use crate::get::reader::Reader;
use crate::get::seed::Seed;
use crate::progress::Progress;
use crate::version::open_version;

/// Chunks fetched at once for one file.
const CHUNKS_IN_FLIGHT: usize = 8;

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    path: &Path,
) -> Result<T> {
    let p = path.display().to_string();
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Task { task: "file", why: e.to_string() })?
        .map_err(|e| ClientError::io(p, e))
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
            let data = crate::ctx::with_codec(|c| c.decompress_inline(*compression, stored, *size))?;
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
