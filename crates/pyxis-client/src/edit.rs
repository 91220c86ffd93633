//! Catalog edits the client makes and binds: a move re-binds every file it
//! moves to its new path (still one catalog call), a restore commits the old
//! version again as the next one, a remove is remembered so the file cannot
//! come back unnoticed, and `upgrade` binds versions written before bindings.

use pyxis_proto::api::catalog::{
    BindFile, BindRequest, CommitFile, CommitRequest, Entry, EntryKind, PathTag, ReadRequest, RemoveResponse,
};
use pyxis_proto::hex;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::trust::binding::{Head, NewVersion, bind_version, rebind_entry, verify_entry, verify_version};

/// The most entries a move, remove or upgrade walks (a hostile listing
/// cannot grow without bound).
const MAX_TREE: usize = 10_000_000;

/// Every entry under `root` (itself included), each file's binding checked.
async fn verified_tree(ctx: &Ctx, root: &str) -> Result<Vec<(Entry, Option<Head>)>> {
    let top = ctx.api.stat(root).await?;
    let mut out = Vec::new();
    if top.kind == EntryKind::Dir {
        for e in ctx.api.list_all(root, true, MAX_TREE).await? {
            let head = verify_entry(&ctx.opener, &ctx.seen, &e)?;
            out.push((e, head));
        }
    }
    let head = verify_entry(&ctx.opener, &ctx.seen, &top)?;
    out.push((top, head));
    Ok(out)
}

/// Moves a file or a directory, re-binding every bound file under it to its
/// new path (legacy files stay legacy).
pub async fn rename(ctx: &Ctx, from: &str, to: &str) -> Result<Entry> {
    let from = pyxis_proto::path::normalize_existing(from)?;
    let to = pyxis_proto::path::normalize_local(to)?;
    let mut tags = Vec::new();
    let mut files = Vec::new();
    for (e, head) in verified_tree(ctx, &from).await? {
        // Within `from` (stat and list_all check it), so this cannot fail.
        let Some(rest) = e.path.get(from.len()..) else { continue };
        let new_path = format!("{to}{rest}");
        if let Some(h) = &head
            && let (Some(tag), Some(id)) = (rebind_entry(&ctx.opener, &new_path, h), h.file_id)
        {
            files.push((id, h.version, e.path.clone(), new_path.clone()));
            tags.push(PathTag { path: new_path, tag });
        }
    }
    let moved = ctx.api.rename_bound(&from, &to, tags).await?;
    ctx.seen.moved(files)?;
    ctx.seen.save()?;
    Ok(moved)
}

/// Removes a path, remembering the versions removed: the server serving one
/// of them again later is reported as a revival.
/// Files go to the trash unless `permanently`.
pub async fn remove(ctx: &Ctx, path: &str, recursive: bool, permanently: bool) -> Result<RemoveResponse> {
    let path = pyxis_proto::path::normalize_existing(path)?;
    let tree = if recursive || ctx.api.stat(&path).await?.kind == EntryKind::File {
        verified_tree(ctx, &path).await?
    } else {
        Vec::new()
    };
    let r = if permanently {
        ctx.api.remove_permanently(&path, recursive).await?
    } else {
        ctx.api.remove(&path, recursive).await?
    };
    ctx.seen
        .removed(tree.into_iter().filter_map(|(e, h)| h.and_then(|h| h.file_id.map(|id| (e.path, id, h.version)))))?;
    ctx.seen.save()?;
    Ok(r)
}

/// Makes version `version` current again: read, checked against the
/// verified current version, and committed as the next version of the same
/// file (no data moves; the manifest and key are reused).
pub async fn restore(ctx: &Ctx, path: &str, version: i64) -> Result<Entry> {
    restore_as_new(ctx, path, version, false).await
}

/// [`restore`]; `always`: a new version even when `version` is the
/// current one (a file back from the trash).
pub async fn restore_as_new(ctx: &Ctx, path: &str, version: i64, always: bool) -> Result<Entry> {
    let path = pyxis_proto::path::normalize_existing(path)?;
    let entry = ctx.api.stat(&path).await?;
    let head = verify_entry(&ctx.opener, &ctx.seen, &entry)?
        .ok_or_else(|| ClientError::Invalid(format!("{path} is a directory: restore applies to files")))?;
    let read = ctx.api.read(&ReadRequest { paths: vec![path.clone()], version: Some(version) }).await?;
    let old = match read.files.as_slice() {
        [fv] if fv.path == path && fv.info.version == version => fv.clone(),
        _ => return Err(ClientError::Invalid(format!("the server did not answer with {path} version {version}"))),
    };
    verify_version(&ctx.opener, &ctx.seen, &old, Some(&head))?;
    // The old manifest must still open: a restore never makes a version that
    // cannot be read.
    crate::version::open_version(&ctx.opener, &old)?;
    let hash: [u8; 32] = hex::decode_array(&old.info.content_hash)
        .map_err(|e| ClientError::Tampered { path: path.clone(), why: format!("bad content hash: {e}") })?;
    let file_key = ctx.opener.file_key(&old)?;
    let (expect, file_id) = crate::version::successor(&path, Some(&head))?;
    let shares = crate::share::owned_shares(ctx).await?;
    let k = crate::version::version_keys(ctx, &shares, &path, &file_id, expect + 1, Some(&head), &file_key)?;
    let new = NewVersion {
        path: &path,
        head: Some(&head),
        size: old.info.size,
        mtime: old.info.mtime,
        content_hash: &hash,
        manifest: &old.manifest,
        wrapped_key: &k.wrapped_key,
    };
    let binding = crate::trust::binding::bind_version_with(&k.binding_key, &path, file_id, expect + 1, &new);
    // The old version's chunks stay whose they are: its writer's, or (read
    // through a share) the tree owner's.
    let chunks_of = old.chunks_of.clone().or_else(|| ctx.opener.shared().map(|t| t.info.owner.clone()));
    let commit = CommitFile {
        path: path.clone(),
        size: old.info.size,
        mtime: old.info.mtime,
        content_hash: old.info.content_hash.clone(),
        manifest: old.manifest,
        wrapped_key: k.wrapped_key,
        chunks: old.chunks,
        expect: Some(expect),
        binding: Some(binding),
        share_keys: k.share_keys,
        new_version: always,
        writer_keys: k.writer_keys,
        chunks_of,
    };
    let r = ctx.api.commit(&CommitRequest { files: vec![commit] }).await?;
    match r.files.as_slice() {
        [c] if c.unchanged && c.version == head.version && head.content_hash == hash => {}
        [c] if !c.unchanged && c.version == expect + 1 => ctx.seen.observe(&path, file_id, c.version)?,
        _ => {
            return Err(ClientError::Tampered {
                path,
                why: format!("the server's answer to restoring version {version} is not the version bound"),
            });
        }
    }
    ctx.seen.save()?;
    let after = ctx.api.stat(&path).await?;
    verify_entry(&ctx.opener, &ctx.seen, &after)?;
    Ok(after)
}

/// What `pyxis upgrade` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpgradeReport {
    /// Current versions bound now.
    pub bound: u64,
    /// Current versions without a binding left (could not be opened, or
    /// changed meanwhile); the client accepts legacy versions while any
    /// remain.
    pub remaining: u64,
    /// Files whose current version was bound already.
    pub already: u64,
    pub problems: Vec<crate::put::plan::Skipped>,
}

/// Binds every legacy version under `root`: each is read, opened with this
/// account's keys (so only versions the user could have written are bound)
/// and bound to a fresh file id for its file, older versions too (without
/// an entry tag). With none left under `/`, this device refuses unbound
/// versions from then on.
pub async fn upgrade(ctx: &Ctx, root: &str) -> Result<UpgradeReport> {
    let root = pyxis_proto::path::normalize_existing(root)?;
    let mut report = UpgradeReport::default();
    let mut legacy = Vec::new();
    for (e, head) in verified_tree(ctx, &root).await? {
        match head {
            Some(h) if h.file_id.is_none() => legacy.push(e.path),
            Some(_) => report.already += 1,
            None => {}
        }
    }
    for p in &legacy {
        match bind_history(ctx, p).await {
            Ok(true) => report.bound += 1,
            Ok(false) => report.remaining += 1,
            Err(e) => {
                report.remaining += 1;
                report.problems.push(crate::put::plan::Skipped { path: p.clone(), error: e.to_string() });
            }
        }
    }
    if root == "/" && report.remaining == 0 {
        ctx.seen.make_strict(true)?;
    }
    ctx.seen.save()?;
    Ok(report)
}

/// Binds every unbound version of one legacy file to one new file id.
/// Returns whether its current version was bound.
async fn bind_history(ctx: &Ctx, path: &str) -> Result<bool> {
    let history = ctx.api.versions(path).await?;
    let file_id = pyxis_crypto::binding::new_file_id()?;
    let mut files = Vec::new();
    for v in &history.versions {
        let read = ctx.api.read(&ReadRequest { paths: vec![path.to_owned()], version: Some(v.version) }).await?;
        let Some(fv) = read.files.into_iter().find(|f| f.path == path && f.info.version == v.version) else {
            return Err(ClientError::Invalid(format!("the server did not answer with version {}", v.version)));
        };
        if fv.binding.is_some() {
            continue;
        }
        crate::version::open_version(&ctx.opener, &fv).map_err(|e| {
            ClientError::Invalid(format!(
                "version {} does not open with this account's keys ({e}); left unbound",
                v.version
            ))
        })?;
        let hash = hex::decode_array::<32>(&fv.info.content_hash)
            .map_err(|e| ClientError::Invalid(format!("version {}: bad content hash: {e}", v.version)))?;
        let new = NewVersion {
            path,
            head: None,
            size: fv.info.size,
            mtime: fv.info.mtime,
            content_hash: &hash,
            manifest: &fv.manifest,
            wrapped_key: &fv.wrapped_key,
        };
        let mut binding = bind_version(&ctx.keys, path, file_id, v.version, &new);
        if v.version != history.current {
            binding.entry_tag = None;
        }
        files.push(BindFile { path: path.to_owned(), version: v.version, binding });
    }
    let current_sent = files.iter().any(|f| f.version == history.current);
    let bound = ctx.api.bind(&BindRequest { files }).await?.bound;
    Ok(current_sent && bound > 0)
}
