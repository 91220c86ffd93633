//! Chunks already on the local disk. When a big file changes in the middle,
//! the older copy a device holds has most of the new version's chunks; a
//! sync fetches only the others. The local copy is chunked with the
//! account's keyed chunker, as `put` does, and each piece taken from it is
//! hashed again before use: a match is the chunk itself, whatever the local
//! file's history, so nothing about the file is trusted.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_crypto::keys::Keyring;
use pyxis_proto::ChunkId;
use pyxis_proto::format::manifest::ManifestEntry;

/// Where each chunk of a local file is.
#[derive(Debug)]
pub struct Seed {
    file: std::fs::File,
    chunks: HashMap<ChunkId, (u64, u32)>,
}

impl Seed {
    /// Chunks `path` (reads it all); `None` if it cannot be read.
    pub fn index(keys: &Keyring, params: ChunkerParams, path: &Path) -> Option<Seed> {
        let file = std::fs::File::open(path).ok()?;
        let mut chunks = HashMap::new();
        for c in Chunker::new(&file, params, keys.chunker_seed()).ok()? {
            let c = c.ok()?;
            chunks.insert(keys.chunk_id(c.data()), (c.offset, c.buf.len() as u32));
        }
        Some(Seed { file, chunks })
    }

    /// The chunks a version's manifest says the local file holds (whole
    /// chunks, one after the other): no read of the file to index it. A
    /// wrong claim costs only a fetch, as every piece is hashed on use.
    pub fn from_entries(path: &Path, entries: &[ManifestEntry]) -> Option<Seed> {
        let file = std::fs::File::open(path).ok()?;
        let mut chunks = HashMap::new();
        let mut at = 0u64;
        for e in entries {
            if e.offset != 0 || e.len != e.chunk_len {
                return None; // packed slices: not a file of its own
            }
            chunks.insert(e.id, (at, e.len));
            at += u64::from(e.len);
        }
        Some(Seed { file, chunks })
    }

    pub fn has(&self, id: &ChunkId) -> bool {
        self.chunks.contains_key(id)
    }

    /// The chunk's bytes from the local file, if it is there and still
    /// hashes to `id`.
    pub fn read(&self, keys: &Keyring, id: &ChunkId) -> Option<Vec<u8>> {
        let &(at, len) = self.chunks.get(id)?;
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(&mut buf, at).ok()?;
        (keys.chunk_id(&buf) == *id).then_some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unchanged_chunks_and_checks_them_again() {
        let keys = Keyring::new(&pyxis_crypto::keys::MasterKey::generate().unwrap());
        let params = ChunkerParams::default();
        let d = tempfile::tempdir().unwrap();
        let mut data = pyxis_core::testdata::pseudo_random(1, 20 << 20);
        let path = d.path().join("f");
        std::fs::write(&path, &data).unwrap();
        let old = Seed::index(&keys, params, &path).unwrap();
        // An edit in the middle: most chunks are the same.
        data[10 << 20..(10 << 20) + 100].fill(0);
        let new_ids: Vec<ChunkId> = Chunker::new(&data[..], params, keys.chunker_seed())
            .unwrap()
            .map(|c| keys.chunk_id(c.unwrap().data()))
            .collect();
        let reused = new_ids.iter().filter(|id| old.has(id)).count();
        assert!(reused + 2 >= new_ids.len() && reused < new_ids.len(), "{reused} of {}", new_ids.len());
        let first = new_ids[0];
        assert_eq!(old.read(&keys, &first).unwrap(), data[..old.chunks[&first].1 as usize]);
        // The local file changed since it was indexed: the piece is refused.
        std::fs::write(&path, vec![1u8; 20 << 20]).unwrap();
        assert!(old.read(&keys, &first).is_none());
    }
}
