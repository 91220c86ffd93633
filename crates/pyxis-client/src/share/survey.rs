//! Making a share's grants whole: which current versions under a path may
//! be passed on (a *survey*: checked bindings, and chunks that hold no byte
//! of a file outside the path), re-packing those that may not, and storing
//! the wraps. And the `Client` calls for sharing.

use std::collections::HashMap;

use pyxis_proto::ChunkId;
use pyxis_proto::api::catalog::{EntryKind, FileVersion, ReadRequest};
use pyxis_proto::api::shares::{ShareKeysRequest, ShareMode, VersionWrap};
use pyxis_proto::format::manifest::ManifestBody;

use super::{OwnedShare, ShareReport, create, owned_shares, unshare};
use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::put::plan::Skipped;
use crate::trust::binding::{Head, verify_entry, verify_version};
use crate::version::open_version;

/// The most entries a share walks.
const MAX_TREE: usize = 10_000_000;
/// Paths per read, and wraps per upload.
const BATCH: usize = 1000;

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
                open_version(&ctx.opener, &fv).map(|m| m.body)
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
        let mut plan = crate::put::plan::Plan { new_versions: true, ..Default::default() };
        for (i, (path, head)) in files.into_iter().enumerate() {
            let local = tmp.path().join(i.to_string());
            let reader = crate::get::Reader::new(self.ctx.clone(), self.locations.clone());
            crate::get::get(reader, &path, &local, None).await?;
            let meta = std::fs::symlink_metadata(&local).map_err(|e| ClientError::io(local.display(), e))?;
            let planned = crate::put::plan::Planned::from_meta(local.clone(), path.clone(), &meta)
                .ok_or_else(|| ClientError::Invalid(format!("{}: not a file or a link", local.display())))?;
            plan.add(planned);
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
