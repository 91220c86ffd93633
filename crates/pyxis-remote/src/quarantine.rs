//! Shards kept aside: held here, but unknown to the server's catalog.
//!
//! Unknown is not unwanted. A server restored from an older backup, one
//! that lost track of this remote, or another server reached through a
//! mistyped URL does not know shards it once placed here, and deleting them
//! on that evidence would lose data for good. So an unknown shard stays in
//! the store, is listed in `DIR/quarantine.json` with the time it was first
//! found unknown, is counted in the remote's log and heartbeats (the server
//! shows it in `pyxis admin remotes`), and goes only when the server's
//! operator releases the quarantine *and* the shard has been kept at least
//! the remote's minimum time (7 days by default) *and* the server still does
//! not know it. A shard the server comes to know again leaves quarantine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use pyxis_proto::ShardHash;
use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::store::Store;

pub const FILE_NAME: &str = "quarantine.json";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    /// Shard hash (hex) → Unix ms when it was first found unknown.
    shards: BTreeMap<String, i64>,
}

#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    shards: Mutex<BTreeMap<ShardHash, i64>>,
    /// The server's operator released shards quarantined before this (Unix
    /// ms; 0: no release).
    release_before: AtomicI64,
}

/// Why the quarantine list could not be read: the remote does not start
/// on a damaged one, since it lists what must not be forgotten.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuarantineError {
    #[error("{} is damaged ({why}); move it away only if you accept forgetting what it lists", path.display())]
    Damaged { path: std::path::PathBuf, why: String },
    #[error("reading {}: {source}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
}

impl Quarantine {
    /// Loads `DIR/quarantine.json` (none: empty). A damaged file is an error,
    /// not an empty quarantine: it lists what must not be forgotten.
    pub fn load(dir: &Path) -> Result<Quarantine, QuarantineError> {
        let path = dir.join(FILE_NAME);
        let file: File = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| QuarantineError::Damaged { path: path.clone(), why: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(source) => return Err(QuarantineError::Read { path, source }),
        };
        let mut shards = BTreeMap::new();
        for (h, t) in file.shards {
            let hash = h.parse().map_err(|e: pyxis_proto::hex::HexError| QuarantineError::Damaged {
                path: path.clone(),
                why: format!("bad shard hash {h:?}: {e}"),
            })?;
            shards.insert(hash, t);
        }
        Ok(Quarantine { path, shards: Mutex::new(shards), release_before: AtomicI64::new(0) })
    }

    fn save(&self, shards: &BTreeMap<ShardHash, i64>) -> std::io::Result<()> {
        let file = File { version: 1, shards: shards.iter().map(|(h, t)| (h.to_string(), *t)).collect() };
        fsutil::write_atomic(&self.path, &serde_json::to_vec(&file).unwrap_or_default(), 0o600)
    }

    /// Records the shards the server does not know now (kept with the time
    /// they were first unknown) and drops those it knows again.
    pub fn update(&self, unknown: &[ShardHash], now_ms: i64) -> std::io::Result<()> {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let before = shards.clone();
        let unknown_set: std::collections::HashSet<&ShardHash> = unknown.iter().collect();
        shards.retain(|h, _| unknown_set.contains(h));
        for h in unknown {
            shards.entry(*h).or_insert(now_ms);
        }
        if *shards != before { self.save(&shards) } else { Ok(()) }
    }

    /// Forgets shards that were deleted.
    pub fn remove(&self, gone: &[ShardHash]) -> std::io::Result<()> {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let n = shards.len();
        for h in gone {
            shards.remove(h);
        }
        if shards.len() != n { self.save(&shards) } else { Ok(()) }
    }

    pub fn set_release(&self, before_ms: Option<i64>) {
        self.release_before.store(before_ms.unwrap_or(0), Ordering::Relaxed);
    }

    /// Quarantined shards that may go now: released by the operator, and
    /// kept at least `keep_ms`.
    pub fn releasable(&self, keep_ms: i64, now_ms: i64) -> Vec<ShardHash> {
        let release = self.release_before.load(Ordering::Relaxed);
        if release <= 0 {
            return Vec::new();
        }
        let cutoff = release.min(now_ms.saturating_sub(keep_ms));
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        shards.iter().filter(|(_, t)| **t < cutoff).map(|(h, _)| *h).collect()
    }

    /// How many shards are kept aside, and their bytes.
    pub fn stats(&self, store: &Store) -> (u64, u64) {
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = shards.keys().filter_map(|h| store.locate(h)).map(|l| u64::from(l.len)).sum();
        (shards.len() as u64, bytes)
    }

    pub fn contains(&self, h: &ShardHash) -> bool {
        self.shards.lock().unwrap_or_else(|e| e.into_inner()).contains_key(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_until_released_and_old_enough_and_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::load(dir.path()).unwrap();
        let (a, b) = (ShardHash([1; 32]), ShardHash([2; 32]));
        q.update(&[a, b], 1_000).unwrap();
        q.update(&[a, b], 5_000).unwrap();
        assert!(q.releasable(100, 10_000).is_empty(), "nothing goes without the operator's release");
        q.set_release(Some(9_000));
        assert!(q.releasable(10_000, 10_000).is_empty(), "kept the minimum time first");
        assert_eq!(q.releasable(100, 10_000), vec![a, b], "first seen at 1,000, not 5,000");
        // The server knows b again: it leaves quarantine.
        q.update(&[a], 11_000).unwrap();
        let again = Quarantine::load(dir.path()).unwrap();
        assert!(again.contains(&a) && !again.contains(&b));
        again.set_release(Some(20_000));
        assert_eq!(again.releasable(100, 20_000), vec![a]);
        again.remove(&[a]).unwrap();
        assert!(!Quarantine::load(dir.path()).unwrap().contains(&a));
        std::fs::write(dir.path().join(FILE_NAME), b"{").unwrap();
        assert!(Quarantine::load(dir.path()).unwrap_err().to_string().contains("damaged"));
    }
}
