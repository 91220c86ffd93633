//! Byte layouts of the shard store's files: volume headers, records and index
//! snapshots (docs/FORMAT.md, "Remote shard store", describes every byte).
//!
//! Pure encoding and decoding, so the layouts are tested without a disk. Every
//! decoder treats its input as hostile: lengths are bounded before anything is
//! allocated, and a checksum guards every record header and snapshot, so a torn
//! write is told apart from a record instead of being believed.

use pyxis_proto::ShardHash;
use thiserror::Error;

pub const VOLUME_MAGIC: [u8; 4] = *b"PYXV";
pub const RECORD_MAGIC: [u8; 4] = *b"PYXR";
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"PYXI";
pub const VERSION: u8 = 1;

pub const VOLUME_HEADER_LEN: u64 = 16;
pub const RECORD_HEADER_LEN: usize = 64;
const SNAPSHOT_HEADER_LEN: usize = 24;
const SNAPSHOT_ENTRY_LEN: usize = 64;
const SNAPSHOT_TRAILER_LEN: usize = 32;

/// The largest shard accepted: a 16 MiB blob kept whole (k = 1) plus room for
/// its 20-byte shard header and a future, larger one.
pub const MAX_SHARD_LEN: u32 = (16 << 20) + 100;

const KIND_SHARD: u8 = 1;
const KIND_TOMBSTONE: u8 = 2;
/// Snapshot entries only: a shard record whose data failed its hash when the
/// volume was scanned. It takes its space and has no effect on replay, so a
/// torn copy never shadows an intact original.
const KIND_VOID: u8 = 3;

/// Bytes that are not a valid instance of a store layout (on disk this means a
/// torn write or damage, never a reason to panic).
#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum LayoutError {
    #[error("{what}: bad magic number")]
    Magic { what: &'static str },
    #[error("{what}: unsupported version {version} (this build reads version 1)")]
    Version { what: &'static str, version: u8 },
    #[error("{what}: checksum mismatch (torn write or damage)")]
    Checksum { what: &'static str },
    #[error("{what}: {field} is {value}: {why}")]
    Invalid { what: &'static str, field: &'static str, value: u64, why: &'static str },
}

fn invalid(what: &'static str, field: &'static str, value: u64, why: &'static str) -> LayoutError {
    LayoutError::Invalid { what, field, value, why }
}

/// Where a record starts: its volume and the offset of its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    pub volume: u32,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// Shard bytes of this length follow the header.
    Shard { len: u32 },
    /// The shard record at `target` is deleted. Naming the exact record (not
    /// just the hash) makes replay order-independent: a later put of the same
    /// hash lives elsewhere and is untouched.
    Tombstone { target: Loc },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub hash: ShardHash,
    pub kind: RecordKind,
}

impl RecordHeader {
    pub fn shard(hash: ShardHash, len: u32) -> Self {
        Self { hash, kind: RecordKind::Shard { len } }
    }

    pub fn tombstone(hash: ShardHash, target: Loc) -> Self {
        Self { hash, kind: RecordKind::Tombstone { target } }
    }

    pub fn data_len(&self) -> u32 {
        match self.kind {
            RecordKind::Shard { len } => len,
            RecordKind::Tombstone { .. } => 0,
        }
    }

    /// Header plus data, the bytes the record takes in its volume.
    pub fn record_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + u64::from(self.data_len())
    }

    /// The fields shared by records and snapshot entries: kind, length, target.
    fn fields(&self) -> (u8, u32, Loc) {
        match self.kind {
            RecordKind::Shard { len } => (KIND_SHARD, len, Loc { volume: 0, offset: 0 }),
            RecordKind::Tombstone { target } => (KIND_TOMBSTONE, 0, target),
        }
    }

    fn from_fields(what: &'static str, hash: ShardHash, kind: u8, len: u32, target: Loc) -> Result<Self, LayoutError> {
        match kind {
            KIND_SHARD if len > MAX_SHARD_LEN => Err(invalid(what, "data length", len.into(), "over the shard limit")),
            KIND_SHARD if target != (Loc { volume: 0, offset: 0 }) => {
                Err(invalid(what, "target", target.offset, "a shard record has no target"))
            }
            KIND_SHARD => Ok(Self::shard(hash, len)),
            KIND_TOMBSTONE if len != 0 => Err(invalid(what, "data length", len.into(), "a tombstone has no data")),
            KIND_TOMBSTONE => Ok(Self::tombstone(hash, target)),
            k => Err(invalid(what, "kind", k.into(), "unknown record kind")),
        }
    }

    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN] {
        let (kind, len, target) = self.fields();
        let mut b = [0u8; RECORD_HEADER_LEN];
        b[0..4].copy_from_slice(&RECORD_MAGIC);
        b[4] = VERSION;
        b[5] = kind;
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b[12..16].copy_from_slice(&target.volume.to_le_bytes());
        b[16..24].copy_from_slice(&target.offset.to_le_bytes());
        b[24..56].copy_from_slice(self.hash.as_bytes());
        let check = header_check(&b[..56]);
        b[56..64].copy_from_slice(&check);
        b
    }

    pub fn decode(b: &[u8; RECORD_HEADER_LEN]) -> Result<Self, LayoutError> {
        const WHAT: &str = "record header";
        if b[0..4] != RECORD_MAGIC {
            return Err(LayoutError::Magic { what: WHAT });
        }
        if b[4] != VERSION {
            return Err(LayoutError::Version { what: WHAT, version: b[4] });
        }
        if b[56..64] != header_check(&b[..56]) {
            return Err(LayoutError::Checksum { what: WHAT });
        }
        if b[6..8] != [0, 0] {
            return Err(invalid(WHAT, "reserved bytes", u16_at(b, 6).into(), "must be zero"));
        }
        let target = Loc { volume: u32_at(b, 12), offset: u64_at(b, 16) };
        let hash = ShardHash(array_at(b, 24));
        Self::from_fields(WHAT, hash, b[5], u32_at(b, 8), target)
    }
}

/// First 8 bytes of BLAKE3 over the header's other bytes: a torn or stale
/// header fails it, so replay never trusts a length or target it did not write.
fn header_check(bytes: &[u8]) -> [u8; 8] {
    array_at(blake3::hash(bytes).as_bytes(), 0)
}

fn array_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[at..at + N]);
    out
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array_at(b, at))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array_at(b, at))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array_at(b, at))
}

/// The 16 bytes every volume file starts with.
pub fn encode_volume_header(id: u32) -> [u8; VOLUME_HEADER_LEN as usize] {
    let mut b = [0u8; VOLUME_HEADER_LEN as usize];
    b[0..4].copy_from_slice(&VOLUME_MAGIC);
    b[4] = VERSION;
    b[8..12].copy_from_slice(&id.to_le_bytes());
    b
}

/// Returns the volume id the header names.
pub fn decode_volume_header(b: &[u8; VOLUME_HEADER_LEN as usize]) -> Result<u32, LayoutError> {
    const WHAT: &str = "volume header";
    if b[0..4] != VOLUME_MAGIC {
        return Err(LayoutError::Magic { what: WHAT });
    }
    if b[4] != VERSION {
        return Err(LayoutError::Version { what: WHAT, version: b[4] });
    }
    if b[5..8] != [0; 3] || b[12..16] != [0; 4] {
        return Err(invalid(WHAT, "reserved bytes", 0, "must be zero"));
    }
    Ok(u32_at(b, 8))
}

/// One record as a snapshot lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    pub offset: u64,
    pub header: RecordHeader,
    /// A shard record whose data is known bad: replay skips it.
    pub void: bool,
}

/// The list of a volume's records up to `covered` bytes: what startup replays
/// instead of reading and re-hashing the volume itself.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub volume: u32,
    pub covered: u64,
    pub entries: Vec<SnapshotEntry>,
}

impl Snapshot {
    /// The file length of a snapshot with `count` entries.
    pub fn encoded_len(count: usize) -> usize {
        SNAPSHOT_HEADER_LEN + SNAPSHOT_ENTRY_LEN * count + SNAPSHOT_TRAILER_LEN
    }

    /// The most a valid snapshot of a volume of `volume_len` bytes can weigh:
    /// every record takes at least a header. Checked before a byte is read.
    pub fn max_encoded_len(volume_len: u64) -> u64 {
        let max_entries = volume_len.saturating_sub(VOLUME_HEADER_LEN) / RECORD_HEADER_LEN as u64;
        (Self::encoded_len(0) as u64).saturating_add(max_entries.saturating_mul(SNAPSHOT_ENTRY_LEN as u64))
    }

    pub fn encode(&self) -> Vec<u8> {
        Self::encode_parts(self.volume, self.covered, &self.entries)
    }

    /// Encodes without owning the entries (the writer keeps them to append more).
    pub fn encode_parts(volume: u32, covered: u64, entries: &[SnapshotEntry]) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(entries.len()));
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&[VERSION, 0, 0, 0]);
        out.extend_from_slice(&volume.to_le_bytes());
        // The count fits: 2^32 records of 64+ bytes would be a 256 GiB volume,
        // far past any volume size the writer uses, and decode re-checks it.
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&covered.to_le_bytes());
        for e in entries {
            let (kind, len, target) = e.header.fields();
            let kind = if e.void && kind == KIND_SHARD { KIND_VOID } else { kind };
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&[kind, 0, 0, 0]);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&target.volume.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(&target.offset.to_le_bytes());
            out.extend_from_slice(e.header.hash.as_bytes());
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        out
    }

    /// Parses and validates a snapshot: checksum, then that the entries tile
    /// the volume exactly from its header to `covered`, with no gap or overlap.
    pub fn decode(b: &[u8]) -> Result<Self, LayoutError> {
        const WHAT: &str = "index snapshot";
        if b.len() < Self::encoded_len(0) {
            return Err(invalid(WHAT, "length", b.len() as u64, "shorter than an empty snapshot"));
        }
        if b[0..4] != SNAPSHOT_MAGIC {
            return Err(LayoutError::Magic { what: WHAT });
        }
        if b[4] != VERSION {
            return Err(LayoutError::Version { what: WHAT, version: b[4] });
        }
        if b[5..8] != [0; 3] {
            return Err(invalid(WHAT, "reserved bytes", 0, "must be zero"));
        }
        let (body, sum) = b.split_at(b.len() - SNAPSHOT_TRAILER_LEN);
        if blake3::hash(body).as_bytes() != sum {
            return Err(LayoutError::Checksum { what: WHAT });
        }
        let count = u32_at(b, 12) as usize;
        if count.checked_mul(SNAPSHOT_ENTRY_LEN).map(|n| n + SNAPSHOT_HEADER_LEN) != Some(body.len()) {
            return Err(invalid(WHAT, "entry count", count as u64, "does not match the file length"));
        }
        let mut snap = Snapshot { volume: u32_at(b, 8), covered: u64_at(b, 16), entries: Vec::with_capacity(count) };
        let mut next = VOLUME_HEADER_LEN;
        for e in body[SNAPSHOT_HEADER_LEN..].chunks_exact(SNAPSHOT_ENTRY_LEN) {
            let offset = u64_at(e, 0);
            if offset != next {
                return Err(invalid(WHAT, "entry offset", offset, "records must follow each other without gaps"));
            }
            if e[9..12] != [0; 3] || e[20..24] != [0; 4] {
                return Err(invalid(WHAT, "reserved bytes", offset, "must be zero"));
            }
            let target = Loc { volume: u32_at(e, 16), offset: u64_at(e, 24) };
            let void = e[8] == KIND_VOID;
            let kind = if void { KIND_SHARD } else { e[8] };
            let header = RecordHeader::from_fields(WHAT, ShardHash(array_at(e, 32)), kind, u32_at(e, 12), target)?;
            next = offset + header.record_len();
            snap.entries.push(SnapshotEntry { offset, header, void });
        }
        if next != snap.covered {
            return Err(invalid(WHAT, "covered length", snap.covered, "is not where the last record ends"));
        }
        Ok(snap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_header() -> impl Strategy<Value = RecordHeader> {
        let hash = any::<[u8; 32]>().prop_map(ShardHash);
        prop_oneof![
            (hash.clone(), 0..=MAX_SHARD_LEN).prop_map(|(h, len)| RecordHeader::shard(h, len)),
            (hash, any::<u32>(), any::<u64>())
                .prop_map(|(h, volume, offset)| RecordHeader::tombstone(h, Loc { volume, offset })),
        ]
    }

    proptest! {
        #[test]
        fn record_header_round_trip(h in any_header()) {
            prop_assert_eq!(RecordHeader::decode(&h.encode()), Ok(h));
        }

        #[test]
        fn any_flipped_bit_in_a_header_is_rejected(h in any_header(), bit in 0usize..512) {
            let mut b = h.encode();
            b[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(RecordHeader::decode(&b).is_err());
        }

        #[test]
        fn snapshot_round_trip(volume in any::<u32>(), headers in proptest::collection::vec((any_header(), any::<bool>()), 0..20)) {
            let mut snap = Snapshot { volume, covered: VOLUME_HEADER_LEN, entries: vec![] };
            for (header, void) in headers {
                let void = void && matches!(header.kind, RecordKind::Shard { .. });
                snap.entries.push(SnapshotEntry { offset: snap.covered, header, void });
                snap.covered += header.record_len();
            }
            let bytes = snap.encode();
            prop_assert_eq!(bytes.len(), Snapshot::encoded_len(snap.entries.len()));
            prop_assert_eq!(Snapshot::decode(&bytes), Ok(snap));
            for n in 0..bytes.len() {
                prop_assert!(Snapshot::decode(&bytes[..n]).is_err());
            }
        }
    }

    #[test]
    fn header_rejects_bad_fields_even_with_a_valid_checksum() {
        let reseal = |mut b: [u8; 64]| {
            let check = header_check(&b[..56]);
            b[56..].copy_from_slice(&check);
            b
        };
        let good = RecordHeader::shard(ShardHash([1; 32]), 10).encode();
        let mut b = good;
        b[5] = 9;
        assert!(matches!(RecordHeader::decode(&reseal(b)), Err(LayoutError::Invalid { field: "kind", .. })));
        let mut b = good;
        b[8..12].copy_from_slice(&(MAX_SHARD_LEN + 1).to_le_bytes());
        assert!(RecordHeader::decode(&reseal(b)).is_err());
        let mut b = good;
        b[12] = 1;
        assert!(RecordHeader::decode(&reseal(b)).is_err());
        let mut b = RecordHeader::tombstone(ShardHash([1; 32]), Loc { volume: 1, offset: 16 }).encode();
        b[8] = 1;
        assert!(RecordHeader::decode(&reseal(b)).is_err());
        assert!(matches!(RecordHeader::decode(&[0; 64]), Err(LayoutError::Magic { .. })));
    }

    #[test]
    fn volume_header_round_trip_and_rejects() {
        let b = encode_volume_header(42);
        assert_eq!(decode_volume_header(&b), Ok(42));
        let mut bad = b;
        bad[4] = 2;
        assert_eq!(decode_volume_header(&bad), Err(LayoutError::Version { what: "volume header", version: 2 }));
        let mut bad = b;
        bad[13] = 1;
        assert!(decode_volume_header(&bad).is_err());
        assert!(decode_volume_header(&[0; 16]).is_err());
    }

    #[test]
    fn snapshot_reserved_bytes_must_be_zero_even_with_a_valid_checksum() {
        // Found by fuzz/ (volume_record): a snapshot with a reserved header byte
        // set decoded, and re-encoded to other bytes.
        let snap = Snapshot { volume: 1, covered: VOLUME_HEADER_LEN, entries: vec![] };
        let mut b = snap.encode();
        b[7] = 1;
        let n = b.len() - SNAPSHOT_TRAILER_LEN;
        let sum = *blake3::hash(&b[..n]).as_bytes();
        b[n..].copy_from_slice(&sum);
        assert!(matches!(Snapshot::decode(&b), Err(LayoutError::Invalid { field: "reserved bytes", .. })));
    }

    #[test]
    fn snapshot_with_a_gap_is_rejected_even_when_its_checksum_is_valid() {
        let h = RecordHeader::shard(ShardHash([2; 32]), 100);
        let snap = Snapshot {
            volume: 1,
            covered: 16 + 164 + 1,
            entries: vec![SnapshotEntry { offset: 17, header: h, void: false }],
        };
        assert!(Snapshot::decode(&snap.encode()).is_err());
        let snap = Snapshot {
            volume: 1,
            covered: 16 + 164 + 1,
            entries: vec![SnapshotEntry { offset: 16, header: h, void: false }],
        };
        assert!(Snapshot::decode(&snap.encode()).is_err());
    }
}
