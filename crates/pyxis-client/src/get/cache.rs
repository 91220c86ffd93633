//! Where shards live, remembered between commands until the grants in the
//! answer expire, so repeated reads do not ask the server every time. A stale
//! entry (a remote moved, a shard repaired elsewhere) makes the read fall back
//! to asking the server, never fail.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use pyxis_crypto::grants::unix_now;
use pyxis_proto::ChunkId;
use pyxis_proto::api::chunks::ChunkLocation;
use serde::{Deserialize, Serialize};

/// Entries kept at most (the file stays a few megabytes).
const MAX_ENTRIES: usize = 20_000;
/// Stop using an entry this long before its grants expire.
const MARGIN_SECS: u64 = 60;

#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    loc: ChunkLocation,
    expires_at: u64,
}

#[derive(Debug)]
pub struct LocationCache {
    path: Option<PathBuf>,
    map: Mutex<HashMap<ChunkId, Cached>>,
}

impl LocationCache {
    /// Loads the cache file (a missing or unreadable one is an empty cache).
    pub fn load(path: Option<PathBuf>) -> Self {
        let map = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<Vec<(ChunkId, Cached)>>(&b).ok())
            .map(|v| v.into_iter().collect())
            .unwrap_or_default();
        Self { path, map: Mutex::new(map) }
    }

    pub fn get(&self, id: &ChunkId) -> Option<ChunkLocation> {
        let now = unix_now();
        let map = self.map.lock().expect("cache lock");
        map.get(id).filter(|c| c.expires_at > now + MARGIN_SECS).map(|c| c.loc.clone())
    }

    pub fn put(&self, loc: ChunkLocation, expires_at: u64) {
        self.map.lock().expect("cache lock").insert(loc.id, Cached { loc, expires_at });
    }

    pub fn forget(&self, id: &ChunkId) {
        self.map.lock().expect("cache lock").remove(id);
    }

    /// Writes the live entries back (best effort: a cache is only a cache).
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        let now = unix_now();
        let mut entries: Vec<(ChunkId, Cached)> = {
            let mut map = self.map.lock().expect("cache lock");
            map.retain(|_, c| c.expires_at > now + MARGIN_SECS);
            map.drain().collect()
        };
        entries.sort_by_key(|(_, c)| std::cmp::Reverse(c.expires_at));
        entries.truncate(MAX_ENTRIES);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(bytes) = serde_json::to_vec(&entries) {
            let _ = crate::config::write_private(path, &bytes);
        }
        self.map.lock().expect("cache lock").extend(entries);
    }
}
