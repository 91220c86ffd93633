//! Who this remote is: its id, its heartbeat token and the server's grant key,
//! kept in `DIR/remote.json` so that a restarted remote keeps its identity
//! (and the server keeps counting the shards it holds).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use pyxis_core::grants::GrantVerifier;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fsutil;

pub const FILE_NAME: &str = "remote.json";

/// `remote.json`. The token is a secret, so the file is written mode 0600.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedIdentity {
    pub remote_id: i64,
    pub token: String,
    /// The server that issued the id; another server's id means nothing.
    pub server: String,
    /// Hex of the server's Ed25519 grant key.
    pub grant_public_key: String,
}

impl std::fmt::Debug for SavedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedIdentity")
            .field("remote_id", &self.remote_id)
            .field("token", &"<secret>")
            .field("server", &self.server)
            .field("grant_public_key", &self.grant_public_key)
            .finish()
    }
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is not a valid remote identity ({source}); move it away to register afresh")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Reads the saved identity, if there is one.
pub fn load(dir: &Path) -> Result<Option<SavedIdentity>, IdentityError> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| IdentityError::Parse { path, source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IdentityError::Read { path, source }),
    }
}

/// Saves the identity atomically: a crash leaves the old file or the new one.
pub fn save(dir: &Path, id: &SavedIdentity) -> Result<(), IdentityError> {
    let path = dir.join(FILE_NAME);
    // Serialising plain strings and integers cannot fail.
    let json = serde_json::to_vec_pretty(id).unwrap_or_default();
    fsutil::write_atomic(&path, &json, 0o600).map_err(|source| IdentityError::Write { path, source })
}

/// What the API checks grants against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub remote_id: i64,
    pub verifier: GrantVerifier,
}

/// The current registration, shared by the API and the heartbeat task. Empty
/// until the first registration (or a saved identity) gives an id and a key.
#[derive(Debug, Default)]
pub struct Registration {
    current: RwLock<Option<Registered>>,
}

impl Registration {
    pub fn get(&self) -> Option<Registered> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, r: Registered) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip_privately() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let id = SavedIdentity {
            remote_id: 7,
            token: "hunter2".into(),
            server: "http://s".into(),
            grant_public_key: "00".repeat(32),
        };
        save(dir.path(), &id).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(id.clone()));
        let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{id:?}").contains("hunter2"));
        std::fs::write(dir.path().join(FILE_NAME), b"{").unwrap();
        assert!(matches!(load(dir.path()), Err(IdentityError::Parse { .. })));
    }
}
