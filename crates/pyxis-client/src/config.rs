//! One device's login: server URL, session token and master key, in
//! `CONFIG_DIR/session.json` (owner-only, written atomically).
//!
//! Keeping the master key on the device is what lets `pyxis get` work without
//! the password each time; it is the same trust as an SSH key in `~/.ssh`.

use std::path::{Path, PathBuf};

use pyxis_crypto::keys::{Keyring, MasterKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::error::{ClientError, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub username: String,
    pub user_id: i64,
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Hex of the master key.
    pub master_key: String,
    /// The account binds every version (its wrapped master key says so):
    /// this device refuses unbound versions.
    #[serde(default)]
    pub bound: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.master_key.zeroize();
        self.token.zeroize();
    }
}

impl Session {
    pub fn keyring(&self) -> Result<Keyring> {
        let mut bytes: [u8; 32] = pyxis_proto::hex::decode_array(&self.master_key)
            .map_err(|e| ClientError::Invalid(format!("session.json: master key: {e}")))?;
        let master = MasterKey::from_bytes(bytes);
        bytes.zeroize();
        Ok(Keyring::new(&master))
    }
}

/// The directory of one device's settings.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    dir: PathBuf,
}

impl ConfigDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$PYXIS_CONFIG`, else `$XDG_CONFIG_HOME/pyxis`, else `~/.config/pyxis`.
    pub fn default_location() -> PathBuf {
        if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("pyxis");
        }
        match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".config/pyxis"),
            None => PathBuf::from(".pyxis"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn session_path(&self) -> PathBuf {
        self.dir.join("session.json")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// This device's memory of the versions it has seen, one file per
    /// account and server, named from the account's keys and the server's
    /// URL (nothing the server says: docs/FORMAT.md, "Client device files").
    pub fn seen_file(&self, s: &Session) -> Result<PathBuf> {
        let server = blake3::hash(s.server.trim_end_matches('/').as_bytes()).to_hex();
        Ok(self.path().join("seen").join(format!("{}-{}.json", s.keyring()?.memory_id(), &server[..16])))
    }

    /// The public keys this account pinned on this server (`pins.rs`).
    pub fn pins_file(&self, s: &Session) -> Result<PathBuf> {
        let seen = self.seen_file(s)?;
        Ok(self.path().join("pins").join(seen.file_name().unwrap_or_default()))
    }

    pub fn load(&self) -> Result<Option<Session>> {
        let p = self.session_path();
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ClientError::Invalid(format!("{}: not a Pyxis session ({e}); log in again", p.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(p.display(), e)),
        }
    }

    pub fn save(&self, s: &Session) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ClientError::io(self.dir.display(), e))?;
        let mut json = serde_json::to_vec_pretty(s).map_err(|e| ClientError::Invalid(e.to_string()))?;
        let result = write_private(&self.session_path(), &json);
        json.zeroize();
        result
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The CA bundle this device trusts for its server and remotes (given
    /// once, with `--ca` or `PYXIS_CA`, and kept), if any.
    pub fn load_ca(&self) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.ca_path()) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::io(self.ca_path().display(), e)),
        }
    }

    /// Keeps a CA bundle for later commands.
    pub fn save_ca(&self, pem: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ClientError::io(self.dir.display(), e))?;
        write_private(&self.ca_path(), pem)
    }

    pub fn clear(&self) -> Result<()> {
        remove_if_present(&self.session_path())
    }
}

/// Removes a file; one already gone is not an error.
pub fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ClientError::io(path.display(), e)),
    }
}

/// Writes a file readable only by its owner, via temp + fsync + rename.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let io = |e| ClientError::io(path.display(), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
