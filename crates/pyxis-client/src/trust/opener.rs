//! Whose keys open and check what the client reads.
//!
//! In one's own tree: one's own keys, except for a version another user
//! wrote through a write share, whose keys that writer wrapped to the owner
//! (opened with the writer's *pinned* key, and only if one of the owner's
//! write shares lets that writer write there). Through a share made to
//! this user: the keys the share's owner (or its writer) wrapped under the
//! share key. Which applies is the client's choice, never the server's: an
//! answer about one's own tree is never opened with a share's keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use pyxis_crypto::binding::BindingKey;
use pyxis_crypto::keys::{DedupKey, FileKey, Keyring};
use pyxis_crypto::share::{open_binding_key_from_writer, open_file_key_from_writer};
use pyxis_proto::FileId;
use pyxis_proto::api::catalog::FileVersion;

use crate::error::{ClientError, Result};
use crate::share::SharedTree;
use crate::trust::binding::tampered;

/// Who may write into this account's tree: the grantees of its write
/// shares, where, and their pinned public keys.
#[derive(Debug, Default)]
pub struct Writers {
    pub(crate) grants: Vec<(String, String)>,
    pub(crate) keys: HashMap<String, [u8; 32]>,
}

impl Writers {
    fn key_of(&self, writer: &str, path: &str) -> Option<&[u8; 32]> {
        let granted = self.grants.iter().any(|(w, p)| w == writer && pyxis_proto::path::is_within(path, p));
        granted.then(|| self.keys.get(writer)).flatten()
    }
}

/// Opens and checks what the client reads (see the module docs).
#[derive(Debug)]
pub struct Opener {
    keys: Arc<Keyring>,
    shared: Option<Arc<SharedTree>>,
    /// Loaded again before each operation on this account's own tree (a
    /// long-lived client sees shares made since).
    writers: RwLock<Option<Arc<Writers>>>,
    /// Binding keys learnt from wraps, by file and version: what a move or a
    /// new version of a file re-binds with when the key is not one's own.
    known: Mutex<HashMap<(FileId, i64), BindingKey>>,
}

impl Opener {
    /// One's own keys.
    pub fn own(keys: Keyring) -> Self {
        Self::new(Arc::new(keys), None)
    }

    pub(crate) fn new(keys: Arc<Keyring>, shared: Option<Arc<SharedTree>>) -> Self {
        Self { keys, shared, writers: RwLock::new(None), known: Mutex::new(HashMap::new()) }
    }

    /// The share this reads through, if any.
    pub fn shared(&self) -> Option<&SharedTree> {
        self.shared.as_deref()
    }

    pub(crate) fn set_writers(&self, w: Writers) {
        *self.writers.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(w));
    }

    fn learn(&self, file_id: &FileId, version: i64, key: &BindingKey) {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).insert((*file_id, version), key.clone());
    }

    /// A writer's pinned key, if the owner's write shares let `writer` write
    /// at `path`.
    fn writer_key(&self, path: &str, writer: &str) -> Result<[u8; 32]> {
        let Some(writers) = self.writers.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return Err(ClientError::Invalid(format!(
                "{path}: written by {writer} through a share, but this client did not load who may write here"
            )));
        };
        writers.key_of(writer, path).copied().ok_or_else(|| {
            tampered(
                path,
                format!("it claims {writer} wrote it, but none of your write shares lets {writer} write there"),
            )
        })
    }

    /// The binding key of version `version` of `file_id` at `path`, from
    /// whoever made that version.
    pub fn binding_key(
        &self,
        path: &str,
        file_id: &FileId,
        version: i64,
        share_key: Option<&[u8]>,
        writer: Option<&str>,
        writer_keys: Option<&[u8]>,
    ) -> Result<BindingKey> {
        let key = match (&self.shared, writer) {
            (Some(t), _) => t.open(path, file_id, version, share_key)?.1,
            (None, None) => return Ok(self.keys.binding_key(file_id)),
            (None, Some(w)) => {
                let public = self.writer_key(path, w)?;
                let wrapped = writer_keys.ok_or_else(|| tampered(path, format!("{w}'s version carries no keys")))?;
                open_binding_key_from_writer(&self.keys, &public, file_id, version, wrapped).map_err(|_| {
                    tampered(
                        path,
                        format!("its keys do not open with {w}'s pinned key for version {version} of this file"),
                    )
                })?
            }
        };
        self.learn(file_id, version, &key);
        Ok(key)
    }

    /// The file key of a version read from the server.
    pub fn file_key(&self, fv: &FileVersion) -> Result<FileKey> {
        let bound = || fv.binding.as_ref().ok_or_else(|| tampered(&fv.path, "written through a share, unbound".into()));
        match (&self.shared, &fv.writer) {
            (Some(t), _) => Ok(t.open(&fv.path, &bound()?.file_id, fv.info.version, fv.share_key.as_deref())?.0),
            (None, None) => Ok(self.keys.unwrap_file_key(&fv.wrapped_key)?),
            (None, Some(w)) => {
                let public = self.writer_key(&fv.path, w)?;
                open_file_key_from_writer(&self.keys, &public, &bound()?.file_id, fv.info.version, &fv.wrapped_key)
                    .map_err(|_| tampered(&fv.path, format!("its file key does not open with {w}'s pinned key")))
            }
        }
    }

    /// The binding key a new entry tag or version of `file_id` is made with,
    /// given its verified current version `version`: one's own for one's
    /// own files, else the one learnt when that version was checked.
    pub fn known_key(&self, file_id: &FileId, version: i64) -> Option<BindingKey> {
        let learnt = self.known.lock().unwrap_or_else(|e| e.into_inner()).get(&(*file_id, version)).cloned();
        match (&self.shared, learnt) {
            (_, Some(k)) => Some(k),
            (None, None) => Some(self.keys.binding_key(file_id)),
            (Some(_), None) => None,
        }
    }

    /// The key chunk ids are made with, to check a decoded chunk against its
    /// id: one's own, for one's own versions only (others' manifests are
    /// authenticated by the file key and its binding instead).
    pub fn dedup_key(&self, writer: Option<&str>) -> Option<&DedupKey> {
        (self.shared.is_none() && writer.is_none()).then(|| self.keys.dedup_key())
    }
}
