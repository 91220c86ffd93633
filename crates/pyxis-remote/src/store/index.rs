//! The in-memory index: shard hash → record location, plus per-volume space
//! accounting that decides when a volume is worth compacting.
//!
//! It is rebuilt at startup by replaying every volume's records in log order
//! (volume id, then offset) and is changed afterwards only by the writer, in the
//! same way, so the memory state and a replay of the disk always agree.

use std::collections::{BTreeMap, HashMap};

use pyxis_proto::ShardHash;

use super::layout::{Loc, RECORD_HEADER_LEN, RecordHeader, RecordKind, VOLUME_HEADER_LEN};

/// Where a live shard is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub loc: Loc,
    pub len: u32,
}

impl Slot {
    fn record_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// Space accounting of one volume file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolumeStats {
    pub file_len: u64,
    /// Record bytes (header + data) of the live shards in this volume.
    pub live_bytes: u64,
    pub live_count: u64,
    /// Tombstones are kept out of the dead space: they may still be needed, and
    /// counting them would make a volume of tombstones compact forever.
    pub tombstone_bytes: u64,
}

impl VolumeStats {
    /// Bytes that a compaction would reclaim: dead shard records and torn or
    /// corrupt leftovers.
    pub fn dead_bytes(&self) -> u64 {
        self.file_len.saturating_sub(VOLUME_HEADER_LEN + self.live_bytes + self.tombstone_bytes)
    }

    pub fn dead_fraction(&self) -> f64 {
        let body = self.file_len.saturating_sub(VOLUME_HEADER_LEN);
        if body == 0 { 0.0 } else { self.dead_bytes() as f64 / body as f64 }
    }
}

#[derive(Debug, Default)]
pub struct Index {
    map: HashMap<ShardHash, Slot>,
    volumes: BTreeMap<u32, VolumeStats>,
    used: u64,
}

impl Index {
    pub fn get(&self, hash: &ShardHash) -> Option<Slot> {
        self.map.get(hash).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes of live shard data (what capacity is measured against).
    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn hashes(&self) -> Vec<ShardHash> {
        self.map.keys().copied().collect()
    }

    pub fn slots(&self) -> Vec<(ShardHash, Slot)> {
        self.map.iter().map(|(h, s)| (*h, *s)).collect()
    }

    pub fn volumes(&self) -> &BTreeMap<u32, VolumeStats> {
        &self.volumes
    }

    pub fn volume(&self, id: u32) -> Option<&VolumeStats> {
        self.volumes.get(&id)
    }

    pub fn file_bytes(&self) -> u64 {
        self.volumes.values().map(|v| v.file_len).sum()
    }

    pub fn add_volume(&mut self, id: u32, file_len: u64) {
        self.volumes.entry(id).or_default().file_len = file_len;
    }

    pub fn set_file_len(&mut self, id: u32, file_len: u64) {
        self.add_volume(id, file_len);
    }

    /// Forgets a volume that compaction emptied. Refuses (returns false) while
    /// any live shard still points into it.
    pub fn remove_volume(&mut self, id: u32) -> bool {
        match self.volumes.get(&id) {
            Some(v) if v.live_count > 0 => false,
            _ => {
                self.volumes.remove(&id);
                true
            }
        }
    }

    /// Applies one record found at `loc`, exactly as replay does.
    pub fn apply(&mut self, loc: Loc, header: &RecordHeader) {
        match header.kind {
            RecordKind::Shard { len } => self.put(header.hash, Slot { loc, len }),
            RecordKind::Tombstone { target } => {
                self.volumes.entry(loc.volume).or_default().tombstone_bytes += RECORD_HEADER_LEN as u64;
                self.kill(&header.hash, target);
            }
        }
    }

    /// A newer record of a hash replaces an older one (compaction's copies come
    /// after their originals in log order).
    fn put(&mut self, hash: ShardHash, slot: Slot) {
        if let Some(old) = self.map.insert(hash, slot) {
            self.unaccount(&old);
        }
        let v = self.volumes.entry(slot.loc.volume).or_default();
        v.live_bytes += slot.record_len();
        v.live_count += 1;
        self.used += u64::from(slot.len);
    }

    /// Removes `hash` only if it still lives at `target`: a tombstone deletes
    /// one record, never a later copy or re-upload.
    fn kill(&mut self, hash: &ShardHash, target: Loc) -> Option<Slot> {
        let slot = self.map.get(hash).copied().filter(|s| s.loc == target)?;
        self.map.remove(hash);
        self.unaccount(&slot);
        Some(slot)
    }

    fn unaccount(&mut self, slot: &Slot) {
        if let Some(v) = self.volumes.get_mut(&slot.loc.volume) {
            v.live_bytes = v.live_bytes.saturating_sub(slot.record_len());
            v.live_count = v.live_count.saturating_sub(1);
        }
        self.used = self.used.saturating_sub(u64::from(slot.len));
    }

    /// Drops entries pointing past the end of their volume or into a volume
    /// that is gone. Returns how many: only damage outside the store's control
    /// (a file truncated or removed by hand) produces any.
    pub fn drop_dangling(&mut self) -> usize {
        let dangling: Vec<(ShardHash, Slot)> = self
            .map
            .iter()
            .filter(|(_, s)| match self.volumes.get(&s.loc.volume) {
                Some(v) => s.loc.offset + s.record_len() > v.file_len,
                None => true,
            })
            .map(|(h, s)| (*h, *s))
            .collect();
        for (hash, slot) in &dangling {
            self.kill(hash, slot.loc);
        }
        dangling.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> ShardHash {
        ShardHash([n; 32])
    }

    fn loc(volume: u32, offset: u64) -> Loc {
        Loc { volume, offset }
    }

    #[test]
    fn tombstones_kill_only_their_target() {
        let mut ix = Index::default();
        ix.add_volume(1, 1000);
        ix.apply(loc(1, 16), &RecordHeader::shard(h(1), 100));
        ix.apply(loc(1, 180), &RecordHeader::tombstone(h(1), loc(1, 16)));
        assert_eq!(ix.get(&h(1)), None);
        ix.apply(loc(1, 244), &RecordHeader::shard(h(1), 100));
        // A stale tombstone (carried forward by compaction) must not kill the re-upload.
        ix.apply(loc(1, 408), &RecordHeader::tombstone(h(1), loc(1, 16)));
        assert_eq!(ix.get(&h(1)), Some(Slot { loc: loc(1, 244), len: 100 }));
        assert_eq!(ix.used(), 100);
        let v = ix.volume(1).unwrap();
        assert_eq!((v.live_count, v.live_bytes, v.tombstone_bytes), (1, 164, 128));
    }

    #[test]
    fn copies_replace_originals_and_move_the_accounting() {
        let mut ix = Index::default();
        ix.add_volume(1, 16 + 164);
        ix.add_volume(2, 16 + 164);
        ix.apply(loc(1, 16), &RecordHeader::shard(h(1), 100));
        ix.apply(loc(2, 16), &RecordHeader::shard(h(1), 100));
        assert_eq!(ix.used(), 100);
        assert_eq!(ix.volume(1).unwrap().live_count, 0);
        assert_eq!(ix.volume(1).unwrap().dead_fraction(), 1.0);
        assert_eq!(ix.volume(2).unwrap().dead_fraction(), 0.0);
        assert!(ix.remove_volume(1));
        assert!(!ix.remove_volume(2));
    }

    #[test]
    fn dangling_entries_are_dropped() {
        let mut ix = Index::default();
        ix.add_volume(1, 100);
        ix.apply(loc(1, 16), &RecordHeader::shard(h(1), 100));
        ix.apply(loc(3, 16), &RecordHeader::shard(h(2), 1));
        assert_eq!(ix.drop_dangling(), 2);
        assert_eq!((ix.len(), ix.used()), (0, 0));
    }
}
