//! Who this remote is, and which server it trusts.
//!
//! * `DIR/remote.key`: the remote's Ed25519 key, made on first start. The
//!   key is the remote's identity: the server knows it by its public key,
//!   whatever URL or name it comes back with. Owner-only (0600); a key other
//!   users could read is refused, since it speaks for the remote.
//! * `DIR/remote.json`: the id the server gave, and the server's grant key
//!   pinned at admission. The remote checks grants with the pinned key and
//!   accepts a new one only when the pinned key signed it (a rotation), or
//!   when the operator re-admits the remote with a new token. A remote of an
//!   earlier release also finds its old token here, which it presents once
//!   to bind its new key.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use pyxis_crypto::grants::GrantVerifier;
use pyxis_crypto::identity::RemoteKey;
use pyxis_proto::api::remote::KeyRotation;
use pyxis_proto::hex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::fsutil;

pub const FILE_NAME: &str = "remote.json";
pub const KEY_FILE: &str = "remote.key";
const KEY_HEADER: &str = "pyxis remote key v1";

/// `remote.json`, written mode 0600.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedIdentity {
    pub remote_id: i64,
    /// The server it last registered with (for people: the pinned key, not
    /// the URL, is what identifies the server).
    pub server: String,
    /// Hex of the server's Ed25519 grant key, pinned at admission.
    pub grant_public_key: String,
    /// Only in files of an earlier release: the token it registered with,
    /// presented once to bind the key, then dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for SavedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedIdentity")
            .field("remote_id", &self.remote_id)
            .field("server", &self.server)
            .field("grant_public_key", &self.grant_public_key)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
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
    #[error(
        "{path} is not a valid remote key ({why}); it is this remote's identity, so it is not replaced: restore it, or move it away to join as a new remote"
    )]
    BadKey { path: PathBuf, why: String },
    #[error(
        "{path} is mode {mode:04o}: other users of this machine can read the remote's key and speak for it. Run `chmod 600 {path}`"
    )]
    KeyExposed { path: PathBuf, mode: u32 },
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

/// The remote's key: loaded, or made and saved (0600) on first start.
pub fn load_or_create_key(dir: &Path) -> Result<RemoteKey, IdentityError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(KEY_FILE);
    let bad = |why: &str| IdentityError::BadKey { path: path.clone(), why: why.to_owned() };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mode = std::fs::metadata(&path)
                .map_err(|source| IdentityError::Read { path: path.clone(), source })?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(IdentityError::KeyExposed { path, mode });
            }
            let mut lines = text.lines();
            if lines.next() != Some(KEY_HEADER) {
                return Err(bad("unknown header"));
            }
            let seed: [u8; 32] =
                hex::decode_array(lines.next().unwrap_or("").trim()).map_err(|e| bad(&e.to_string()))?;
            RemoteKey::from_seed(&seed).map_err(|e| bad(&e.to_string()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = RemoteKey::generate().map_err(|e| bad(&e.to_string()))?;
            let text = format!("{KEY_HEADER}\n{}\n", hex::encode(key.seed()));
            fsutil::write_atomic(&path, text.as_bytes(), 0o600)
                .map_err(|source| IdentityError::Write { path: path.clone(), source })?;
            tracing::info!(key = %hex::encode(&key.public_key()), "made this remote's identity key");
            Ok(key)
        }
        Err(source) => Err(IdentityError::Read { path, source }),
    }
}

/// Follows a chain of grant-key rotations from the key a remote pinned:
/// each step counts only if signed by the key before it. Returns the newest
/// key reached (the pinned one if no rotation applies).
pub fn follow_rotations(pinned: [u8; 32], rotations: &[KeyRotation]) -> [u8; 32] {
    let mut current = pinned;
    for r in rotations {
        let (Ok(previous), Ok(key), Ok(sig)) = (
            hex::decode_array::<32>(&r.previous),
            hex::decode_array::<32>(&r.key),
            hex::decode_array::<64>(&r.endorsement),
        ) else {
            continue;
        };
        if previous == current && GrantVerifier::new(current).endorses(&key, &sig) {
            current = key;
        }
    }
    current
}

/// What the API checks grants against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub remote_id: i64,
    pub verifier: GrantVerifier,
}

/// The current registration, shared by the API and the background tasks.
/// Empty until the first registration (or a saved identity) gives an id and
/// a key.
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
    use pyxis_crypto::grants::GrantSigner;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn save_and_load_round_trip_privately_and_read_the_old_layout() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let id = SavedIdentity {
            remote_id: 7,
            server: "http://s".into(),
            grant_public_key: "00".repeat(32),
            token: Some("hunter2".into()),
        };
        save(dir.path(), &id).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(id.clone()));
        let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{id:?}").contains("hunter2"));
        // The earlier release's file: id, token, server, grant key.
        std::fs::write(
            dir.path().join(FILE_NAME),
            br#"{"remote_id": 1, "token": "t", "server": "http://x", "grant_public_key": "ab"}"#,
        )
        .unwrap();
        assert_eq!(load(dir.path()).unwrap().unwrap().token.as_deref(), Some("t"));
        std::fs::write(dir.path().join(FILE_NAME), b"{").unwrap();
        assert!(matches!(load(dir.path()), Err(IdentityError::Parse { .. })));
    }

    #[test]
    fn the_key_is_made_once_kept_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_key(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create_key(dir.path()).unwrap().public_key(), first.public_key());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_key(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::KeyExposed { mode: 0o644, .. }), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(load_or_create_key(dir.path()), Err(IdentityError::BadKey { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "garbage", "a bad key file must not be overwritten");
    }

    #[test]
    fn only_endorsed_rotations_are_followed() {
        let (a, b, c) = (
            GrantSigner::from_seed(&[1; 32]).unwrap(),
            GrantSigner::from_seed(&[2; 32]).unwrap(),
            GrantSigner::from_seed(&[3; 32]).unwrap(),
        );
        let step = |from: &GrantSigner, to: &GrantSigner, signer: &GrantSigner| KeyRotation {
            previous: hex::encode(&from.public_key()),
            key: hex::encode(&to.public_key()),
            endorsement: hex::encode(&signer.endorse(&to.public_key())),
        };
        let chain = [step(&a, &b, &a), step(&b, &c, &b)];
        assert_eq!(follow_rotations(a.public_key(), &chain), c.public_key());
        assert_eq!(follow_rotations(b.public_key(), &chain), c.public_key());
        // A key nobody endorsed (a wiped server's) is not reached.
        let forged = [step(&a, &c, &c)];
        assert_eq!(follow_rotations(a.public_key(), &forged), a.public_key());
        let garbage = [KeyRotation { previous: "zz".into(), key: "00".into(), endorsement: "".into() }];
        assert_eq!(follow_rotations(a.public_key(), &garbage), a.public_key());
    }
}
