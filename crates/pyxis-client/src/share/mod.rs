//! Sharing, the client's half (docs/SECURITY.md, "Sharing").
//!
//! The owner's client makes a share key, wraps it for itself and to the
//! grantee's *pinned* public key, and wraps every current version under the
//! shared path (its file key and binding key) under it; each later commit
//! under the path adds its version's wrap. A grantee addresses the owner's
//! tree as `@OWNER/PATH`: its client opens the share key with the owner's
//! pinned key, then reads through the share (`?share=ID`), checking every
//! version's binding with the key the owner wrapped. What the grantee reads
//! is exactly what the owner's clients (or a writer of theirs) bound; the
//! server can withhold, not forge.
//!
//! Through a write share the grantee also writes (`commit::version_keys`):
//! its chunks are its own, and each version's keys are wrapped to the owner
//! from the writer's key and under the share. The owner's client accepts
//! them only from a writer it pinned and granted that path (`opener`).

use pyxis_crypto::binding::BindingKey;
use pyxis_crypto::keys::FileKey;
use pyxis_crypto::share::{ShareContext, ShareKey};
use pyxis_proto::FileId;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::shares::{CreateShareRequest, ShareInfo, ShareMode, ShareWrap, UnshareRequest};
use serde::Serialize;

use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::put::plan::Skipped;
use crate::trust::opener::Writers;
use crate::trust::pins::{Pinned, Pins};

mod survey;
mod tree;

pub use tree::SharedTree;

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
        Err(e) if e.code() == Some(ErrorCode::Exists) => {
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
    Ok(SharedTree::new(info, key, served.public_key))
}
