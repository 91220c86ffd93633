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
use pyxis_core::keys::{FileKey, Keyring};
use pyxis_core::share::{ShareContext, ShareKey};
use pyxis_proto::FileId;
use pyxis_proto::api::catalog::{EntryKind, ReadRequest, VersionBinding};
use pyxis_proto::api::shares::{
    CreateShareRequest, ShareInfo, ShareKeysRequest, ShareMode, ShareWrap, UnshareRequest, VersionWrap,
};
use serde::Serialize;

use crate::binding::{verify_entry, verify_version};
use crate::error::{ClientError, Result};
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

/// The share wraps a new version `version` of `path` gets: one for each
/// owned share that covers the path.
pub(crate) fn wraps_for(
    shares: &[OwnedShare],
    keys: &Keyring,
    path: &str,
    file_key: &FileKey,
    binding: &VersionBinding,
    version: i64,
) -> Result<Vec<ShareWrap>> {
    shares
        .iter()
        .filter(|s| pyxis_proto::path::is_within(path, &s.info.path))
        .map(|s| {
            let wrapped =
                s.key.wrap_version(&binding.file_id, version, file_key, &keys.binding_key(&binding.file_id))?;
            Ok(ShareWrap { share: s.info.id, wrapped })
        })
        .collect()
}

/// Wraps the current version of every file under `root` for `share`
/// (checked against its binding first: nothing tampered is passed on).
/// Returns how many were stored, and the files left out with why.
pub(crate) async fn wrap_current(ctx: &Ctx, share: &OwnedShare, root: &str) -> Result<(u64, Vec<Skipped>)> {
    let top = ctx.api.stat(root).await?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let entries = match top.kind {
        EntryKind::Dir => ctx.api.list_all(root, true, MAX_TREE).await?,
        EntryKind::File => vec![top],
    };
    for e in entries.into_iter().filter(|e| e.kind == EntryKind::File) {
        match verify_entry(&ctx.opener, &ctx.seen, &e) {
            Ok(Some(h)) if h.file_id.is_some() => files.push(e.path),
            Ok(_) => skipped.push(Skipped {
                path: e.path,
                error: "written before bindings: run `pyxis upgrade`, then share again".into(),
            }),
            Err(err) => skipped.push(Skipped { path: e.path, error: err.to_string() }),
        }
    }
    let mut stored = 0;
    for batch in files.chunks(BATCH) {
        let read = ctx.api.read(&ReadRequest { paths: batch.to_vec(), version: None }).await?;
        let mut keys = Vec::with_capacity(batch.len());
        for (fv, path) in read.files.iter().zip(batch) {
            let wrap = (|| {
                if fv.path != *path {
                    return Err(ClientError::Tampered { path: path.clone(), why: "answered with another file".into() });
                }
                verify_version(&ctx.opener, &ctx.seen, fv, None)?;
                let b = fv.binding.as_ref().ok_or_else(|| ClientError::Invalid("unbound".into()))?;
                let file_key = ctx.keys.unwrap_file_key(&fv.wrapped_key)?;
                let binding_key = ctx.keys.binding_key(&b.file_id);
                Ok(share.key.wrap_version(&b.file_id, fv.info.version, &file_key, &binding_key)?)
            })();
            match wrap {
                Ok(wrapped) => keys.push(VersionWrap { path: path.clone(), version: fv.info.version, wrapped }),
                Err(e) => skipped.push(Skipped { path: path.clone(), error: e.to_string() }),
            }
        }
        if !keys.is_empty() {
            stored += ctx.api.share_keys(&ShareKeysRequest { share: share.info.id, keys }).await?.stored;
        }
    }
    Ok((stored, skipped))
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
    pub skipped: Vec<Skipped>,
}

/// Shares `path` with `grantee` to read, wrapping to the grantee's pinned
/// key (`fingerprint`: one the grantee gave, which it must match).
pub async fn share(
    ctx: &Ctx,
    pins: &Pins,
    me: &str,
    path: &str,
    grantee: &str,
    fingerprint: Option<&str>,
) -> Result<ShareReport> {
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
        mode: ShareMode::Read,
        created_at: 0,
        key: Vec::new(),
    };
    let key = ShareKey::generate()?;
    let req = CreateShareRequest {
        path: path.clone(),
        grantee: grantee.to_owned(),
        mode: ShareMode::Read,
        grantee_public_key: served.public_key,
        owner_key: key.wrap_for_owner(&ctx.keys, &context(&info))?,
        grantee_key: key.wrap_to(&ctx.keys, &served.public_key, &context(&info))?,
    };
    let (share, existed) = match ctx.api.create_share(&req).await {
        Ok(made) => (OwnedShare { info: ShareInfo { id: made.id, created_at: made.created_at, ..info }, key }, false),
        Err(e) if e.code() == Some("exists") => {
            let found = owned_shares(ctx).await?.into_iter().find(|s| s.info.path == path && s.info.grantee == grantee);
            (found.ok_or(e)?, true)
        }
        Err(e) => return Err(e),
    };
    let (versions, skipped) = wrap_current(ctx, &share, &path).await?;
    ctx.seen.save()?;
    Ok(ShareReport {
        share: share.info.id,
        path,
        grantee: grantee.to_owned(),
        fingerprint: crate::account::key_fingerprint(&served.public_key),
        newly_pinned: pinned == Pinned::New,
        existed,
        versions,
        skipped,
    })
}

/// Ends the share of `path` with `grantee`.
pub async fn unshare(ctx: &Ctx, path: &str, grantee: &str) -> Result<()> {
    let path = pyxis_proto::path::normalize_existing(path)?;
    ctx.api.unshare(&UnshareRequest { path, grantee: grantee.to_owned() }).await
}

/// A share made to this user, with its key open: what reads through it use.
pub struct SharedTree {
    pub info: ShareInfo,
    key: ShareKey,
}

impl std::fmt::Debug for SharedTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTree").field("id", &self.info.id).field("owner", &self.info.owner).finish()
    }
}

impl SharedTree {
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
    Ok(SharedTree { info, key })
}
