//! Sharing, the client's half (docs/SECURITY.md, "Sharing").
//!
//! The owner's client makes a share key, wraps it for itself and to the
//! grantee's *pinned* public key, and wraps every current version under the
//! shared path (its file key and binding key) under it; each later commit
//! under the path adds its version's wrap. A grantee addresses the owner's
//! tree as `@OWNER/PATH`: its client opens the share key with the owner's
//! pinned key, then reads through the share (`?share=ID`), checking every
//! version's binding with the key the owner wrapped. What the grantee reads
//! is exactly what the owner's clients bound; the server can withhold, not
//! forge.

use pyxis_core::binding::BindingKey;
use pyxis_core::keys::FileKey;
use pyxis_core::share::{ShareContext, ShareKey};
use pyxis_proto::api::catalog::{EntryKind, FileVersion, ReadRequest};
use pyxis_proto::api::shares::{
    CreateShareRequest, ShareInfo, ShareKeysRequest, ShareMode, ShareWrap, UnshareRequest, VersionWrap,
};
use pyxis_proto::format::manifest::ManifestBody;
use pyxis_proto::{ChunkId, FileId};
use serde::Serialize;

use std::collections::HashMap;

use crate::binding::{Head, verify_entry, verify_version};
use crate::error::{ClientError, Result};
use crate::get::open_version;
use crate::opener::Writers;
use crate::pins::{Pinned, Pins};
use crate::plan::Skipped;
use crate::upload::Ctx;

/// The most entries a share walks.
const MAX_TREE: usize = 10_000_000;
/// Paths per read, and wraps per upload.
const BATCH: usize = 1000;

fn context(info: &ShareInfo) -> ShareContext<'_> {
    ShareContext { owner: &info.owner, grantee: &info.grantee, path: &info.path, mode: info.mode.code() }
}

/// `@OWNER/PATH` → `(OWNER, /PATH)`; `None` for a path of one's own tree.
pub fn parse_shared(path: &str) -> Option<Result<(String, String)>> {
    let rest = path.strip_prefix('@')?;
    let (owner, p) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if owner.is_empty() {
        return Some(Err(ClientError::Invalid(format!("{path:?}: a shared path is @OWNER/PATH"))));
    }
    Some(pyxis_proto::path::normalize_existing(p).map(|p| (owner.to_owned(), p)).map_err(Into::into))
}

/// A share this user owns, with its key open.
pub struct OwnedShare {
    pub info: ShareInfo,
    key: ShareKey,
}

impl std::fmt::Debug for OwnedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedShare").field("id", &self.info.id).field("path", &self.info.path).finish()
    }
}

/// The shares this user owns. One the owner's keys do not open (the
/// server made it up, or changed what it covers) is left out, logged.
pub(crate) async fn owned_shares(ctx: &Ctx) -> Result<Vec<OwnedShare>> {
    // Writing through someone else's share, this user's own shares do not apply.
    if ctx.opener.shared().is_some() {
        return Ok(Vec::new());
    }
    let mine = match ctx.api.shares().await {
        Ok(r) => r.mine,
        // A server from before sharing.
        Err(ClientError::Api { status: 404, .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(mine
        .into_iter()
        .filter_map(|info| match ShareKey::open_as_owner(&ctx.keys, &info.key, &context(&info)) {
            Ok(key) => Some(OwnedShare { info, key }),
            Err(_) => {
                tracing::warn!(share = info.id, path = %info.path, "a share listed as yours does not open with your keys; ignored");
                None
            }
        })
        .collect())
}

/// Loads who may write into this account's tree: the grantees of
/// its write shares (from shares whose keys open with the owner's keys, so
/// the server cannot add one) and their pinned public keys.
pub(crate) async fn load_writers(ctx: &Ctx, pins: &Pins) -> Result<()> {
    if ctx.opener.shared().is_some() {
        return Ok(());
    }
    let mut w = Writers::default();
    for s in owned_shares(ctx).await?.into_iter().filter(|s| s.info.mode == ShareMode::Write) {
        let grantee = s.info.grantee;
        if !w.keys.contains_key(&grantee) {
            let key = match ctx.api.user_key(&grantee).await {
                Ok(served) => pins.check(&grantee, &served.public_key, None).map(|_| served.public_key),
                Err(e) => Err(e),
            };
            match key {
                Ok(k) => {
                    w.keys.insert(grantee.clone(), k);
                }
                Err(e) => {
                    tracing::warn!(writer = %grantee, error = %e, "what this writer writes will be refused");
                    continue;
                }
            }
        }
        w.grants.push((grantee, s.info.path));
    }
    ctx.opener.set_writers(w);
    Ok(())
}

/// The share wraps a new version `version` of `file_id` at `path` gets:
/// one for each owned share that covers the path.
pub(crate) fn wraps_for(
    shares: &[OwnedShare],
    path: &str,
    file_id: &FileId,
    version: i64,
    file_key: &FileKey,
    binding_key: &BindingKey,
) -> Result<Vec<ShareWrap>> {
    shares
        .iter()
        .filter(|s| pyxis_proto::path::is_within(path, &s.info.path))
        .map(|s| {
            Ok(ShareWrap { share: s.info.id, wrapped: s.key.wrap_version(file_id, version, file_key, binding_key)? })
        })
        .collect()
}

/// The current versions of the files under `root`, checked, and sorted by
/// what a share of them may pass on.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// Versions whose chunks hold bytes of files under `root` only.
    pub clean: Vec<FileVersion>,
    /// Files packed into chunks together with a file outside `root` (a
    /// grantee would get some of its bytes): to be re-packed first.
    pub mixed: Vec<(String, Head)>,
    pub skipped: Vec<Skipped>,
}

/// Surveys the current version of every file under `root` (checked against
/// its binding first: nothing tampered is passed on). A chunk is clean when
/// the files under `root` that use it cover all of its bytes.
pub(crate) async fn survey(ctx: &Ctx, root: &str) -> Result<Survey> {
    let top = ctx.api.stat(root).await?;
    let mut out = Survey::default();
    let entries = match top.kind {
        EntryKind::Dir => ctx.api.list_all(root, true, MAX_TREE).await?,
        EntryKind::File => vec![top],
    };
    let mut files = Vec::new();
    for e in entries.into_iter().filter(|e| e.kind == EntryKind::File) {
        match verify_entry(&ctx.opener, &ctx.seen, &e) {
            Ok(Some(h)) if h.file_id.is_some() => files.push((e.path, h)),
            Ok(_) => out.skipped.push(Skipped {
                path: e.path,
                error: "written before bindings: run `pyxis upgrade`, then share again".into(),
            }),
            Err(err) => out.skipped.push(Skipped { path: e.path, error: err.to_string() }),
        }
    }
    // Per chunk: its length and the byte ranges files under `root` use.
    let mut cover: HashMap<ChunkId, (u32, Vec<(u32, u32)>)> = HashMap::new();
    let mut opened = Vec::with_capacity(files.len());
    for batch in files.chunks(BATCH) {
        let paths = batch.iter().map(|(p, _)| p.clone()).collect();
        let read = ctx.api.read(&ReadRequest { paths, version: None }).await?;
        if read.files.len() != batch.len() {
            return Err(ClientError::Tampered {
                path: root.to_owned(),
                why: format!("a read of {} files answered {}", batch.len(), read.files.len()),
            });
        }
        for (fv, (path, head)) in read.files.into_iter().zip(batch) {
            let checked = (|| {
                if fv.path != *path {
                    return Err(ClientError::Tampered { path: path.clone(), why: "answered with another file".into() });
                }
                verify_version(&ctx.opener, &ctx.seen, &fv, None)?;
                open_version(&ctx.opener, &fv)
            })();
            match checked {
                Ok(body) => {
                    if let ManifestBody::Chunks { entries, .. } = &body {
                        for c in entries {
                            let e = cover.entry(c.id).or_insert((c.chunk_len, Vec::new()));
                            e.1.push((c.offset, c.offset.saturating_add(c.len)));
                        }
                    }
                    opened.push((fv, head.clone(), body));
                }
                Err(e) => out.skipped.push(Skipped { path: path.clone(), error: e.to_string() }),
            }
        }
    }
    let whole = |(len, ranges): &mut (u32, Vec<(u32, u32)>)| {
        ranges.sort_unstable();
        let mut reach = 0u32;
        for &(a, b) in ranges.iter() {
            if a > reach {
                return false;
            }
            reach = reach.max(b);
        }
        reach >= *len
    };
    let clean: std::collections::HashSet<ChunkId> =
        cover.iter_mut().filter_map(|(id, c)| whole(c).then_some(*id)).collect();
    for (fv, head, body) in opened {
        let mixed = match &body {
            ManifestBody::Chunks { entries, .. } => entries.iter().any(|c| !clean.contains(&c.id)),
            _ => false,
        };
        if mixed { out.mixed.push((fv.path, head)) } else { out.clean.push(fv) }
    }
    Ok(out)
}

/// Wraps each of `versions` (the owner's, checked by [`survey`]) for
/// `share` and stores the wraps; returns how many were stored.
pub(crate) async fn store_wraps(ctx: &Ctx, share: &OwnedShare, versions: &[FileVersion]) -> Result<u64> {
    let mut stored = 0;
    for batch in versions.chunks(BATCH) {
        let mut keys = Vec::with_capacity(batch.len());
        for fv in batch {
            let b = fv.binding.as_ref().ok_or_else(|| ClientError::Invalid(format!("{}: unbound", fv.path)))?;
            // A version a writer made opens with the keys it wrapped for us.
            let file_key = ctx.opener.file_key(fv)?;
            let binding_key = ctx.opener.known_key(&b.file_id, fv.info.version).ok_or_else(|| {
                ClientError::Invalid(format!("{}: the keys of version {} were not checked", fv.path, fv.info.version))
            })?;
            let wrapped = share.key.wrap_version(&b.file_id, fv.info.version, &file_key, &binding_key)?;
            keys.push(VersionWrap { path: fv.path.clone(), version: fv.info.version, wrapped });
        }
        stored += ctx.api.share_keys(&ShareKeysRequest { share: share.info.id, keys }).await?.stored;
    }
    Ok(stored)
}

/// What `pyxis share` did.
#[derive(Debug, Clone, Serialize)]
pub struct ShareReport {
    pub share: i64,
    pub path: String,
    pub grantee: String,
    /// The grantee's key fingerprint, and whether this device pinned it now
    /// (compare it with theirs: `pyxis whoami --fingerprint`).
    pub fingerprint: String,
    pub newly_pinned: bool,
    /// The path was shared with them already: its key was reused and its
    /// wraps made again (for files moved in, or versions it missed).
    pub existed: bool,
    /// Versions the grantee can now read.
    pub versions: u64,
    /// Files that had been packed together with files outside the share,
    /// stored again in chunks of their own first (same content, a new
    /// version), so the grantee gets no byte of another file.
    pub repacked: u64,
    pub skipped: Vec<Skipped>,
}

/// Makes (or finds, if it exists) the share of `path` with `grantee`,
/// wrapped to the grantee's pinned key (`fingerprint`: one the grantee gave,
/// which it must match). The caller wraps the versions under it.
pub(crate) async fn create(
    ctx: &Ctx,
    pins: &Pins,
    me: &str,
    path: &str,
    grantee: &str,
    mode: ShareMode,
    fingerprint: Option<&str>,
) -> Result<(OwnedShare, ShareReport)> {
    let path = pyxis_proto::path::normalize_existing(path)?;
    let served = ctx.api.user_key(grantee).await?;
    if served.username != grantee {
        return Err(ClientError::Tampered {
            path: format!("the public key of {grantee}"),
            why: format!("the server answered with {:?}'s", served.username),
        });
    }
    let pinned = pins.check(grantee, &served.public_key, fingerprint)?;
    let info = ShareInfo {
        id: 0,
        owner: me.to_owned(),
        grantee: grantee.to_owned(),
        path: path.clone(),
        mode,
        created_at: 0,
        key: Vec::new(),
    };
    let key = ShareKey::generate()?;
    let req = CreateShareRequest {
        path: path.clone(),
        grantee: grantee.to_owned(),
        mode,
        grantee_public_key: served.public_key,
        owner_key: key.wrap_for_owner(&ctx.keys, &context(&info))?,
        grantee_key: key.wrap_to(&ctx.keys, &served.public_key, &context(&info))?,
    };
    let (share, existed) = match ctx.api.create_share(&req).await {
        Ok(made) => (OwnedShare { info: ShareInfo { id: made.id, created_at: made.created_at, ..info }, key }, false),
        Err(e) if e.code() == Some("exists") => {
            let found = owned_shares(ctx).await?.into_iter().find(|s| s.info.path == path && s.info.grantee == grantee);
            let found = found.ok_or(e)?;
            if found.info.mode != mode {
                return Err(ClientError::Invalid(format!(
                    "{path} is shared with {grantee} already, to {}: unshare it first to change that",
                    if found.info.mode == ShareMode::Write { "write" } else { "read" }
                )));
            }
            (found, true)
        }
        Err(e) => return Err(e),
    };
    let report = ShareReport {
        share: share.info.id,
        path,
        grantee: grantee.to_owned(),
        fingerprint: crate::account::key_fingerprint(&served.public_key),
        newly_pinned: pinned == Pinned::New,
        existed,
        versions: 0,
        repacked: 0,
        skipped: Vec::new(),
    };
    Ok((share, report))
}

/// Ends the share of `path` with `grantee`.
pub async fn unshare(ctx: &Ctx, path: &str, grantee: &str) -> Result<()> {
    let path = pyxis_proto::path::normalize_existing(path)?;
    ctx.api.unshare(&UnshareRequest { path, grantee: grantee.to_owned() }).await
}

/// A share made to this user, with its key open: what reads (and, through
/// a write share, writes) through it use.
pub struct SharedTree {
    pub info: ShareInfo,
    key: ShareKey,
    /// The owner's public key, as pinned.
    owner_public: [u8; 32],
}

impl std::fmt::Debug for SharedTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTree").field("id", &self.info.id).field("owner", &self.info.owner).finish()
    }
}

impl SharedTree {
    pub(crate) fn owner_public(&self) -> &[u8; 32] {
        &self.owner_public
    }

    /// Writing through this share: only a write share allows it.
    pub(crate) fn writable(&self) -> Result<()> {
        match self.info.mode {
            ShareMode::Write => Ok(()),
            ShareMode::Read => Err(ClientError::Invalid(format!(
                "{} shares {} with you to read only",
                self.info.owner, self.info.path
            ))),
        }
    }

    /// This share's wrap of a version written through it.
    pub(crate) fn wrap_version(
        &self,
        file_id: &FileId,
        version: i64,
        file: &FileKey,
        binding: &BindingKey,
    ) -> Result<ShareWrap> {
        Ok(ShareWrap { share: self.info.id, wrapped: self.key.wrap_version(file_id, version, file, binding)? })
    }

    /// The keys of version `version` of `file_id` (at `path`), from the
    /// share wrap the server passed on.
    pub(crate) fn open(
        &self,
        path: &str,
        file_id: &FileId,
        version: i64,
        wrap: Option<&[u8]>,
    ) -> Result<(FileKey, BindingKey)> {
        let owner = &self.info.owner;
        let wrap = wrap.ok_or_else(|| {
            ClientError::Invalid(format!(
                "{path}: {owner} has not given you the keys of version {version} (they can run `pyxis share {} {}` \
                 again)",
                self.info.path, self.info.grantee
            ))
        })?;
        self.key.open_version(wrap, file_id, version).map_err(|_| ClientError::Tampered {
            path: path.to_owned(),
            why: format!("its keys from {owner} do not open for version {version} of this file"),
        })
    }
}

/// Opens the share `owner` made to this user (`me`) that covers `path`
/// (the deepest, if several), checking it came from `owner`'s pinned key.
pub async fn open_shared(ctx: &Ctx, pins: &Pins, me: &str, owner: &str, path: &str) -> Result<SharedTree> {
    let with_me = ctx.api.shares().await?.with_me;
    let info = with_me
        .into_iter()
        .filter(|s| s.owner == owner && s.grantee == me && pyxis_proto::path::is_within(path, &s.path))
        .max_by_key(|s| s.path.len())
        .ok_or_else(|| {
            ClientError::Invalid(format!("{owner} shares nothing with you that holds {path} (see `pyxis shared`)"))
        })?;
    let served = ctx.api.user_key(owner).await?;
    pins.check(owner, &served.public_key, None)?;
    let key = ShareKey::open_from(&ctx.keys, &served.public_key, &info.key, &context(&info)).map_err(|_| {
        ClientError::Tampered {
            path: format!("@{owner}{}", info.path),
            why: format!("the share does not open with {owner}'s pinned public key: {owner} did not make it"),
        }
    })?;
    Ok(SharedTree { info, key, owner_public: served.public_key })
}

impl crate::Client {
    /// Shares `path` with `grantee` to read (`pyxis share`).
    /// Small files under `path` packed together with files outside it are
    /// stored again first (see [`ShareReport::repacked`]).
    pub async fn share(
        &self,
        path: &str,
        grantee: &str,
        mode: ShareMode,
        fingerprint: Option<&str>,
    ) -> Result<ShareReport> {
        self.ready().await?;
        let (share, mut report) =
            create(&self.ctx, &self.pins, &self.username, path, grantee, mode, fingerprint).await?;
        let (versions, repacked) = self.wrap_tree(&share, &report.path.clone(), &mut report.skipped).await?;
        report.versions = versions;
        report.repacked = repacked;
        self.ctx.seen.save()?;
        Ok(report)
    }

    /// Gives `share` the keys of every current version under `root`,
    /// re-packing first the files packed with files outside the share.
    /// Returns (versions wrapped, files re-packed).
    async fn wrap_tree(&self, share: &OwnedShare, root: &str, skipped: &mut Vec<Skipped>) -> Result<(u64, u64)> {
        let mut s = survey(&self.ctx, root).await?;
        let mut repacked = 0;
        if !s.mixed.is_empty() {
            let report = self.repack(std::mem::take(&mut s.mixed)).await?;
            repacked = report.files;
            skipped.extend(report.failed);
            s = survey(&self.ctx, root).await?;
            for (path, _) in s.mixed.drain(..) {
                let error = "still packed with files outside the share after re-packing: not shared".into();
                skipped.push(Skipped { path, error });
            }
        }
        skipped.append(&mut s.skipped);
        Ok((store_wraps(&self.ctx, share, &s.clean).await?, repacked))
    }

    /// Stores these files again, each a new version with the same content
    /// in new chunks (packed only with files the same shares cover).
    async fn repack(&self, files: Vec<(String, Head)>) -> Result<crate::put::PutReport> {
        let tmp = tempfile::tempdir().map_err(|e| ClientError::io("a temporary directory", e))?;
        let mut plan = crate::plan::Plan { new_versions: true, ..Default::default() };
        for (i, (path, head)) in files.into_iter().enumerate() {
            let local = tmp.path().join(i.to_string());
            let reader = crate::get::Reader::new(self.ctx.clone(), self.locations.clone());
            crate::get::get(reader, &path, &local, None).await?;
            let meta = std::fs::metadata(&local).map_err(|e| ClientError::io(local.display(), e))?;
            plan.bytes += meta.len();
            plan.add(crate::plan::Planned {
                src: local,
                dst: path.clone(),
                size: meta.len(),
                mtime: meta.modified().ok(),
            });
            plan.heads.insert(path, head);
        }
        // In path order, as a put packs them.
        plan.packed.sort_by(|a, b| a.dst.cmp(&b.dst));
        let report = crate::put::put(self.ctx.clone(), self.chunker, plan).await;
        self.locations.save();
        report
    }

    /// After a move into a directory this user shares, its grantees get the
    /// keys of what moved. (A share names a path: moving a shared directory
    /// itself ends access through it, as docs/SECURITY.md says.) Best effort:
    /// the move stands; `pyxis share` again finishes what fails here.
    pub(crate) async fn share_moved(&self, from: &str, to: &str) {
        let within = pyxis_proto::path::is_within;
        let shares = match owned_shares(&self.ctx).await {
            Ok(s) => s,
            Err(e) => return tracing::warn!(error = %e, "moved files not shared; run `pyxis share` again"),
        };
        for s in shares.iter().filter(|s| within(to, &s.info.path) && !within(from, &s.info.path)) {
            let mut skipped = Vec::new();
            match self.wrap_tree(s, to, &mut skipped).await {
                Ok(_) if skipped.is_empty() => {}
                Ok(_) => tracing::warn!(share = s.info.id, first = ?skipped[0], "some moved files not shared"),
                Err(e) => {
                    tracing::warn!(share = s.info.id, error = %e, "moved files not shared; run `pyxis share` again")
                }
            }
        }
    }

    /// Ends a share (`pyxis unshare`).
    pub async fn unshare(&self, path: &str, grantee: &str) -> Result<()> {
        unshare(&self.ctx, path, grantee).await
    }

    /// What this user shares, and what is shared with this user.
    pub async fn shares(&self) -> Result<pyxis_proto::api::shares::SharesResponse> {
        self.ctx.api.shares().await
    }

    /// Pins the key the server hands out for `user` if its fingerprint is
    /// `fingerprint` (`pyxis trust`).
    pub async fn trust(&self, user: &str, fingerprint: &str) -> Result<()> {
        let served = self.ctx.api.user_key(user).await?;
        self.pins.trust(user, &served.public_key, fingerprint)
    }
}
