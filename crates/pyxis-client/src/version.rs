//! One version of a file, as every verb that reads or writes one needs it:
//! opening a version (its file key, then its manifest, checked against the
//! catalog's size), the version a new one follows, the keys a new version
//! is committed with, and what a put or get reports of a file it landed.

use pyxis_core::manifest::open_manifest;
use pyxis_crypto::binding::{BindingKey, new_file_id};
use pyxis_crypto::keys::FileKey;
use pyxis_crypto::share::wrap_from_writer;
use pyxis_proto::FileId;
use pyxis_proto::api::catalog::FileVersion;
use pyxis_proto::api::shares::ShareWrap;
use pyxis_proto::format::manifest::Manifest;

use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::share::{OwnedShare, wraps_for};
use crate::trust::binding::Head;
use crate::trust::opener::Opener;

/// Opens a version's file key and manifest and checks the manifest against the
/// catalog's size. Every byte of `fv` comes from the server. Public only for
/// the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub fn open_version(keys: &Opener, fv: &FileVersion) -> Result<Manifest> {
    let file_key = keys.file_key(fv)?;
    let m = open_manifest(&fv.manifest, &file_key)?;
    if m.body.size() != fv.info.size {
        return Err(ClientError::Invalid(format!("{}: manifest and catalog disagree on the size", fv.path)));
    }
    Ok(m)
}

/// A file a put committed (or found unchanged): its version and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub path: String,
    pub version: i64,
    pub content_hash: String,
}

/// The keys a new version is committed with.
pub(crate) struct VersionKeys {
    pub wrapped_key: Vec<u8>,
    /// Through a write share: the binding key wrapped for the tree's owner.
    pub writer_keys: Option<Vec<u8>>,
    pub binding_key: BindingKey,
    pub share_keys: Vec<ShareWrap>,
}

/// The version a new one replaces (`expect`) and the file it belongs to: the
/// current version's file, or a new file.
pub(crate) fn successor(path: &str, head: Option<&Head>) -> Result<(i64, FileId)> {
    let expect = head.map_or(0, |h| h.version);
    if expect == i64::MAX {
        return Err(ClientError::Tampered { path: path.to_owned(), why: format!("version {expect} has no successor") });
    }
    let file_id = match head.and_then(|h| h.file_id) {
        Some(f) => f,
        None => new_file_id()?,
    };
    Ok((expect, file_id))
}

/// Wraps `file_key` for version `version` of `file_id` at `path`. In one's
/// own tree: for oneself, with one's own binding key, and for each of one's
/// shares that covers the path. Through a write share: for the tree's
/// owner (from this user's key) and for the share, with the binding key of
/// the file's current version (learnt when it was checked) or, for a new
/// file, a new random one.
pub(crate) fn version_keys(
    ctx: &Ctx,
    shares: &[OwnedShare],
    path: &str,
    file_id: &FileId,
    version: i64,
    head: Option<&Head>,
    file_key: &FileKey,
) -> Result<VersionKeys> {
    let Some(t) = ctx.opener.shared() else {
        let binding_key = ctx.keys.binding_key(file_id);
        return Ok(VersionKeys {
            wrapped_key: ctx.keys.wrap_file_key(file_key)?,
            writer_keys: None,
            share_keys: wraps_for(shares, path, file_id, version, file_key, &binding_key)?,
            binding_key,
        });
    };
    t.writable()?;
    let binding_key = match head.filter(|h| h.file_id == Some(*file_id)) {
        Some(h) => ctx
            .opener
            .known_key(file_id, h.version)
            .ok_or_else(|| ClientError::Invalid(format!("{path}: the keys of its current version were not checked")))?,
        None => BindingKey::generate()?,
    };
    let (wrapped_key, writer_keys) =
        wrap_from_writer(&ctx.keys, t.owner_public(), file_id, version, file_key, &binding_key)?;
    let share_keys = vec![t.wrap_version(file_id, version, file_key, &binding_key)?];
    Ok(VersionKeys { wrapped_key, writer_keys: Some(writer_keys), binding_key, share_keys })
}
