//! Helpers shared by the tests: deterministic shards and file surgery.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use pyxis_core::testdata::pseudo_random;
use pyxis_crypto::shard::shard_hash;
use pyxis_proto::ShardHash;
use pyxis_remote::store::{Store, StoreOptions};

/// A shard of `len` pseudo-random bytes; the same seed gives the same shard.
pub fn shard(seed: u64, len: usize) -> (ShardHash, Bytes) {
    let data = pseudo_random(seed, len);
    (shard_hash(&data), Bytes::from(data))
}

/// Small volumes (so tests cross volume boundaries) and no background
/// compaction (so tests decide when it runs).
pub fn small_volumes(capacity: u64) -> StoreOptions {
    StoreOptions { volume_size: 64 << 10, auto_compact: None, ..StoreOptions::new(capacity) }
}

pub async fn open(dir: &Path, opts: StoreOptions) -> Store {
    Store::open(dir, opts).await.unwrap()
}

/// The store's volume files, oldest first.
pub fn volumes(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, ".pyxv")
}

pub fn snapshots(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, ".pyxi")
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.to_string_lossy().ends_with(ext)).collect();
    v.sort();
    v
}

/// Copies the regular files of `from` into `to` (created if missing).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Asserts that every shard in `present` reads back whole and that no shard
/// in `absent` is there.
pub async fn assert_contents(store: &Store, present: &[(ShardHash, Bytes)], absent: &[(ShardHash, Bytes)]) {
    for (h, data) in present {
        assert_eq!(&store.get(h).await.unwrap_or_else(|e| panic!("{h}: {e}")), data, "{h}");
    }
    for (h, _) in absent {
        assert!(!store.contains(h), "{h} should be gone");
    }
    assert_eq!(store.stats().shards, present.len() as u64);
}
