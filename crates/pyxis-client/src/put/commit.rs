//! The committing half of a put: seals each finished file's manifest, binds
//! it as the next version of its file, commits in batches as the upload
//! watermark passes the file's chunks, and checks what the server answers
//! (docs/SECURITY.md, "Authenticated versions").

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyxis_core::manifest::seal_manifest;
use pyxis_crypto::keys::FileKey;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::{CommitFile, CommitRequest, CommittedFile};
use pyxis_proto::hex;
use tokio::sync::{mpsc, watch};

use crate::error::{ClientError, Result};
use crate::put::plan::Skipped;
use crate::trust::binding::{Head, NewVersion, bind_version_with, verify_entry};

use crate::ctx::Ctx;
use crate::share::OwnedShare;
use crate::version::{Landed, successor, version_keys};
use pyxis_proto::ChunkId;
use pyxis_proto::format::manifest::Manifest;

/// A file whose manifest is built, waiting for its chunks to be stored.
#[derive(Debug)]
pub struct FileDone {
    pub dst: String,
    pub size: u64,
    pub mtime: i64,
    /// The version hash (`pyxis_core::manifest::version_hash`: content, kind and mode).
    pub hash: [u8; 32],
    pub manifest: Manifest,
    pub chunks: Vec<ChunkId>,
    pub max_seq: u64,
}

/// Files per commit request.
const COMMIT_BATCH: usize = 1000;
/// Bytes of sealed manifests per commit request, well under the server's
/// body limit for commits (32 MiB): a batch of big files commits sooner.
const COMMIT_BYTES: usize = 8 << 20;
/// A partial batch is committed after this long, so progress is visible.
const COMMIT_DELAY: Duration = Duration::from_millis(500);

fn seal(ctx: &Ctx, shares: &[OwnedShare], f: FileDone, head: Option<&Head>) -> Result<CommitFile> {
    let file_key = FileKey::generate()?;
    let manifest = seal_manifest(&f.manifest, &file_key)?;
    let (expect, file_id) = successor(&f.dst, head)?;
    let k = version_keys(ctx, shares, &f.dst, &file_id, expect + 1, head, &file_key)?;
    let new = NewVersion {
        path: &f.dst,
        head,
        size: f.size,
        mtime: f.mtime,
        content_hash: &f.hash,
        manifest: &manifest,
        wrapped_key: &k.wrapped_key,
    };
    let binding = bind_version_with(&k.binding_key, &f.dst, file_id, expect + 1, &new);
    Ok(CommitFile {
        path: f.dst,
        size: f.size,
        mtime: f.mtime,
        content_hash: hex::encode(&f.hash),
        manifest,
        wrapped_key: k.wrapped_key,
        chunks: f.chunks,
        expect: Some(expect),
        binding: Some(binding),
        share_keys: k.share_keys,
        new_version: false,
        writer_keys: k.writer_keys,
        chunks_of: None,
    })
}

/// Binds a sealed file of one's own tree again as the successor of `head`
/// (its current version moved on while the put ran).
fn rebind(ctx: &Ctx, shares: &[OwnedShare], f: &mut CommitFile, head: Option<&Head>) -> Result<()> {
    if ctx.opener.shared().is_some() {
        return Err(ClientError::Invalid(format!(
            "{}: changed on the server while this put ran; put it again",
            f.path
        )));
    }
    let hash: [u8; 32] = hex::decode_array(&f.content_hash).map_err(|e| ClientError::Invalid(e.to_string()))?;
    let file_key = ctx.keys.unwrap_file_key(&f.wrapped_key)?;
    let (expect, file_id) = successor(&f.path, head)?;
    // The version (and maybe the file) changed: so do its keys and wraps.
    let k = version_keys(ctx, shares, &f.path, &file_id, expect + 1, head, &file_key)?;
    let new = NewVersion {
        path: &f.path,
        head,
        size: f.size,
        mtime: f.mtime,
        content_hash: &hash,
        manifest: &f.manifest,
        wrapped_key: &k.wrapped_key,
    };
    f.binding = Some(bind_version_with(&k.binding_key, &f.path, file_id, expect + 1, &new));
    f.wrapped_key = k.wrapped_key;
    f.share_keys = k.share_keys;
    f.expect = Some(expect);
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
/// new current versions (verified) and binds the batch again, once. A file
/// whose new current version is refused leaves the batch, reported.
async fn refresh_heads(
    ctx: &Ctx,
    shares: &[OwnedShare],
    heads: &mut HashMap<String, Head>,
    files: &mut Vec<CommitFile>,
    strict: bool,
) -> Result<Vec<Skipped>> {
    let mut refused = Vec::new();
    let mut kept = Vec::with_capacity(files.len());
    for mut f in std::mem::take(files) {
        let head = match ctx.api.stat(&f.path).await {
            Ok(e) => verify_entry(&ctx.opener, &ctx.seen, &e),
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(None),
            Err(e) => return Err(e),
        };
        // A strict put (sync) writes only over the version its content came
        // from: one that moved on is another device's edit, to be merged.
        let moved_on = match &head {
            Ok(h) => h.as_ref().map(|h| h.version) != heads.get(&f.path).map(|h| h.version),
            Err(_) => false,
        };
        if strict && moved_on {
            refused.push(Skipped { path: f.path.clone(), error: CHANGED_ON_SERVER.into() });
            continue;
        }
        match head {
            Ok(Some(h)) => {
                heads.insert(f.path.clone(), h);
            }
            Ok(None) => {
                heads.remove(&f.path);
            }
            Err(e) => {
                refused.push(Skipped { path: f.path.clone(), error: e.to_string() });
                continue;
            }
        }
        let head = heads.get(&f.path).cloned();
        match rebind(ctx, shares, &mut f, head.as_ref()) {
            Ok(()) => kept.push(f),
            Err(e) => refused.push(Skipped { path: f.path.clone(), error: e.to_string() }),
        }
    }
    *files = kept;
    Ok(refused)
}

/// Why a strict put left a file out.
pub const CHANGED_ON_SERVER: &str = "changed on the server while it was being put";

/// What the commit loop did.
#[derive(Debug, Default)]
pub struct Committed {
    pub files: u64,
    pub unchanged: u64,
    pub failed: Vec<Skipped>,
    pub landed: Vec<Landed>,
}

/// Commits files as their chunks become stored. `strict`: a file whose
/// current version is no longer its head fails instead of being bound
/// over the newer version.
pub async fn commit_loop(
    ctx: &Arc<Ctx>,
    shares: &[OwnedShare],
    mut heads: HashMap<String, Head>,
    mut done: mpsc::Receiver<FileDone>,
    mut mark: watch::Receiver<u64>,
    new_versions: bool,
    strict: bool,
) -> Result<Committed> {
    let mut pending: VecDeque<FileDone> = VecDeque::new();
    let mut batch: Vec<CommitFile> = Vec::new();
    let (mut open, mut uploading) = (true, true);
    let mut since = Instant::now();
    let (mut committed, mut unchanged, mut failed) = (0u64, 0u64, Vec::new());
    let mut landed = Vec::new();
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
            // New versions under a path this user shares get a wrap for each share.
            let mut sealed = seal(ctx, shares, f, head)?;
            sealed.new_version = new_versions;
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
            if answer.as_ref().is_err_and(|e| e.code() == Some(ErrorCode::VersionConflict)) {
                failed.extend(refresh_heads(ctx, shares, &mut heads, &mut files, strict).await?);
                answer = if files.is_empty() {
                    Ok(pyxis_proto::api::catalog::CommitResponse { files: vec![] })
                } else {
                    ctx.api.commit(&CommitRequest { files: files.clone() }).await
                };
            }
            match answer {
                Ok(r) => {
                    let (same, lies) = check_committed(ctx, &heads, &files, &r.files);
                    committed += (files.len() - lies.len()) as u64;
                    unchanged += same;
                    for (f, c) in files.iter().zip(&r.files) {
                        if !lies.iter().any(|l| l.path == f.path) {
                            let hash = f.content_hash.clone();
                            landed.push(Landed { path: f.path.clone(), version: c.version, content_hash: hash });
                        }
                    }
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
    Ok(Committed { files: committed, unchanged, failed, landed })
}
