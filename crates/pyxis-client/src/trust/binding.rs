//! What the client checks in every catalog answer before it trusts it: the
//! bindings its writers made (pyxis-core's `binding`), and its own memory of
//! the newest version it has seen of each path.
//!
//! A binding that does not verify is tampering, named with the path. A
//! version without one is *legacy* (written before bindings): accepted and
//! counted on a device of an account from before bindings until `pyxis
//! upgrade` has bound them all, refused after that and always on an account
//! that binds every version (a server cannot strip bindings to get past the
//! checks). A version older than one this device has seen of the same file is
//! a rollback ([`Seen`]): reported, never written, until the user accepts the
//! server's state (`pyxis accept-rollback`).

use crate::error::{ClientError, Result};
pub use crate::trust::opener::Opener;
pub use crate::trust::seen::Seen;
use pyxis_crypto::binding::{Facts, new_file_id, tags_equal};
use pyxis_crypto::keys::Keyring;
use pyxis_proto::api::catalog::{Entry, EntryKind, FileVersion, VersionBinding};
use pyxis_proto::{FileId, hex};

/// A path's current version as the client verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub version: i64,
    /// `None`: a legacy version.
    pub file_id: Option<FileId>,
    pub size: u64,
    pub mtime: i64,
    pub content_hash: [u8; 32],
}

pub(crate) fn tampered(path: &str, why: String) -> ClientError {
    ClientError::Tampered { path: path.to_owned(), why }
}

fn content_hash(path: &str, hex_hash: &str) -> Result<[u8; 32]> {
    hex::decode_array(hex_hash).map_err(|e| tampered(path, format!("bad content hash: {e}")))
}

/// Checks a listed entry (a file's binding to its path and current version).
/// Directories carry none. Returns the verified head of a file.
pub fn verify_entry(keys: &Opener, seen: &Seen, e: &Entry) -> Result<Option<Head>> {
    if e.kind != EntryKind::File {
        return Ok(None);
    }
    let version = e.version.ok_or_else(|| tampered(&e.path, "a file without a version".into()))?;
    let hash = content_hash(&e.path, e.content_hash.as_deref().unwrap_or_default())?;
    let Some(b) = &e.binding else {
        seen.legacy(&e.path)?;
        return Ok(Some(Head { version, file_id: None, size: e.size, mtime: e.mtime, content_hash: hash }));
    };
    let facts = Facts { file_id: &b.file_id, version, size: e.size, mtime: e.mtime, content_hash: &hash };
    let key = keys.binding_key(
        &e.path,
        &b.file_id,
        version,
        e.share_key.as_deref(),
        e.writer.as_deref(),
        e.writer_keys.as_deref(),
    )?;
    if !tags_equal(&key.entry_tag(&e.path, &facts), &b.tag) {
        return Err(tampered(&e.path, "its entry does not match what its writer bound".into()));
    }
    seen.observe(&e.path, b.file_id, version)?;
    Ok(Some(Head { version, file_id: Some(b.file_id), size: e.size, mtime: e.mtime, content_hash: hash }))
}

/// Checks a version read from the server: its version tag, and when it is
/// the path's current version (`current`), its entry tag. For an older
/// version, `head` is the path's verified current version: the old one must
/// belong to the same file and come before it.
pub fn verify_version(keys: &Opener, seen: &Seen, fv: &FileVersion, head: Option<&Head>) -> Result<()> {
    let path = &fv.path;
    let i = &fv.info;
    let hash = content_hash(path, &i.content_hash)?;
    let Some(b) = &fv.binding else { return seen.legacy(path) };
    let key = keys.binding_key(
        path,
        &b.file_id,
        i.version,
        fv.share_key.as_deref(),
        fv.writer.as_deref(),
        fv.writer_keys.as_deref(),
    )?;
    let facts = Facts { file_id: &b.file_id, version: i.version, size: i.size, mtime: i.mtime, content_hash: &hash };
    if !tags_equal(&key.version_tag(&facts, &fv.manifest, &fv.wrapped_key), &b.version_tag) {
        return Err(tampered(
            path,
            format!("version {} does not match what its writer bound (another file's or another version's)", i.version),
        ));
    }
    match head {
        None => {
            let tag = b.entry_tag.as_ref().ok_or_else(|| {
                tampered(
                    path,
                    "it has no binding to this path (moved or restored by the server, not by a client)".into(),
                )
            })?;
            if !tags_equal(&key.entry_tag(path, &facts), tag) {
                return Err(tampered(path, "it is not bound to this path".into()));
            }
            seen.observe(path, b.file_id, i.version)
        }
        Some(h) => {
            if h.file_id.is_some_and(|f| f != b.file_id) || i.version > h.version {
                return Err(tampered(path, format!("version {} is not a version of this file", i.version)));
            }
            Ok(())
        }
    }
}

/// The binding for a new version of `path`: version `head.version + 1` of
/// the same file, or version 1 of a new one.
#[derive(Debug)]
pub struct NewVersion<'a> {
    pub path: &'a str,
    pub head: Option<&'a Head>,
    pub size: u64,
    pub mtime: i64,
    pub content_hash: &'a [u8; 32],
    pub manifest: &'a [u8],
    pub wrapped_key: &'a [u8],
}

impl NewVersion<'_> {
    /// Returns `expect` (the current version it replaces) and the binding.
    pub fn bind(&self, keys: &Keyring) -> Result<(i64, VersionBinding)> {
        let expect = self.head.map_or(0, |h| h.version);
        let next =
            expect.checked_add(1).ok_or_else(|| tampered(self.path, format!("version {expect} has no successor")))?;
        let file_id = match self.head.and_then(|h| h.file_id) {
            Some(f) => f,
            None => new_file_id()?,
        };
        Ok((expect, bind_version(keys, self.path, file_id, next, self)))
    }
}

/// Tags for version `version` of `file_id` at `path`.
pub fn bind_version(keys: &Keyring, path: &str, file_id: FileId, version: i64, v: &NewVersion) -> VersionBinding {
    bind_version_with(&keys.binding_key(&file_id), path, file_id, version, v)
}

/// Tags for version `version` of `file_id` at `path`, under `key`.
pub fn bind_version_with(
    key: &pyxis_crypto::binding::BindingKey,
    path: &str,
    file_id: FileId,
    version: i64,
    v: &NewVersion,
) -> VersionBinding {
    let facts = Facts { file_id: &file_id, version, size: v.size, mtime: v.mtime, content_hash: v.content_hash };
    VersionBinding {
        file_id,
        version_tag: key.version_tag(&facts, v.manifest, v.wrapped_key),
        entry_tag: Some(key.entry_tag(path, &facts)),
    }
}

/// The entry tag of a verified head under a new path (a move re-binds).
pub fn rebind_entry(keys: &Opener, new_path: &str, head: &Head) -> Option<pyxis_proto::Tag> {
    let file_id = head.file_id?;
    let facts = Facts {
        file_id: &file_id,
        version: head.version,
        size: head.size,
        mtime: head.mtime,
        content_hash: &head.content_hash,
    };
    Some(keys.known_key(&file_id, head.version)?.entry_tag(new_path, &facts))
}
