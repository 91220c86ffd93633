//! Volume files on disk: naming, creation, reading one shard, scanning records
//! in order, and index snapshots.
//!
//! Reads use positional I/O (`pread`), so any number of readers share one file
//! handle with the writer and never move a cursor under each other.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use pyxis_proto::ShardHash;

use super::index::Slot;
use super::layout::{self, RECORD_HEADER_LEN, RecordHeader, RecordKind, Snapshot, SnapshotEntry, VOLUME_HEADER_LEN};
use crate::fsutil;

/// Sequential scans read this much at a time: large enough that a scan runs at
/// disk speed, small enough to not matter next to a shard.
const SCAN_BUFFER: usize = 1 << 20;

pub fn volume_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("vol-{id:08}.pyxv"))
}

pub fn snapshot_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("vol-{id:08}.pyxi"))
}

/// What a file in the store directory is, by its name.
#[derive(Debug, PartialEq, Eq)]
pub enum StoreFile {
    Volume(u32),
    Snapshot(u32),
    /// A leftover of an interrupted atomic write.
    Temp,
}

pub fn classify(name: &str) -> Option<StoreFile> {
    if name.ends_with(".tmp") {
        return Some(StoreFile::Temp);
    }
    let rest = name.strip_prefix("vol-")?;
    let (id, ext) = rest.split_once('.')?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id = id.parse().ok()?;
    match ext {
        "pyxv" => Some(StoreFile::Volume(id)),
        "pyxi" => Some(StoreFile::Snapshot(id)),
        _ => None,
    }
}

/// Creates a new, empty volume durably: its header is synced and so is its
/// directory entry, so a record appended later never lands in a file that a
/// crash could make vanish.
pub fn create_volume(dir: &Path, id: u32) -> io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(volume_path(dir, id))?;
    file.write_all_at(&layout::encode_volume_header(id), 0)?;
    file.sync_all()?;
    fsutil::sync_dir(dir)?;
    Ok(file)
}

pub fn open_volume(dir: &Path, id: u32) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(volume_path(dir, id))
}

/// Reads and checks a volume's header; `Err` holds why it is unusable.
pub fn read_volume_header(file: &File, id: u32) -> Result<(), String> {
    let mut b = [0u8; VOLUME_HEADER_LEN as usize];
    file.read_exact_at(&mut b, 0).map_err(|e| format!("reading the header: {e}"))?;
    match layout::decode_volume_header(&b) {
        Ok(found) if found == id => Ok(()),
        Ok(found) => Err(format!("the header names volume {found}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Durably replaces a volume's index snapshot.
pub fn write_snapshot(dir: &Path, volume: u32, covered: u64, entries: &[SnapshotEntry]) -> io::Result<()> {
    fsutil::write_atomic(&snapshot_path(dir, volume), &Snapshot::encode_parts(volume, covered, entries), 0o644)
}

/// Loads a volume's snapshot if there is a usable one. `Err` says why an
/// existing snapshot was rejected (the volume is then scanned instead).
pub fn read_snapshot(dir: &Path, id: u32, volume_len: u64) -> Result<Option<Snapshot>, String> {
    let path = snapshot_path(dir, id);
    let len = match fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if len > Snapshot::max_encoded_len(volume_len) {
        return Err(format!("{len} bytes is more than a volume of {volume_len} bytes can need"));
    }
    let snap = Snapshot::decode(&fs::read(&path).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    if snap.volume != id {
        return Err(format!("it describes volume {}", snap.volume));
    }
    if snap.covered > volume_len {
        return Err(format!("it covers {} bytes but the volume has {volume_len}", snap.covered));
    }
    Ok(Some(snap))
}

/// Why a stored shard could not be served.
#[derive(Debug)]
pub enum ReadFault {
    /// The bytes on disk are not the shard: never serve them.
    Corrupt(String),
    Io(io::Error),
}

/// Reads a shard whole and verifies its record header and its hash.
/// Reads exactly `len` bytes at `offset` into memory that is not zeroed
/// first: zeroing the buffer of every shard served was 5 % of the
/// network's CPU in a 1 GiB get.
fn read_unzeroed_at(file: &File, len: usize, offset: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The allocator may have given more room than asked, and pread filled it.
    buf.truncate(len);
    Ok(buf)
}

pub fn read_shard(file: &File, slot: Slot, hash: &ShardHash) -> Result<Bytes, ReadFault> {
    let buf =
        read_unzeroed_at(file, RECORD_HEADER_LEN + slot.len as usize, slot.loc.offset).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => ReadFault::Corrupt("the volume ends inside the record".into()),
            // EIO: the medium failed; the shard is lost here either way.
            _ if e.raw_os_error() == Some(5) => ReadFault::Corrupt(format!("read error: {e}")),
            _ => ReadFault::Io(e),
        })?;
    let mut head = [0u8; RECORD_HEADER_LEN];
    head.copy_from_slice(&buf[..RECORD_HEADER_LEN]);
    match RecordHeader::decode(&head) {
        Ok(h) if h == RecordHeader::shard(*hash, slot.len) => {}
        Ok(_) => return Err(ReadFault::Corrupt("the record header names another shard".into())),
        Err(e) => return Err(ReadFault::Corrupt(e.to_string())),
    }
    let actual = pyxis_crypto::shard::shard_hash(&buf[RECORD_HEADER_LEN..]);
    if actual != *hash {
        return Err(ReadFault::Corrupt(format!("the bytes hash to {actual}")));
    }
    Ok(Bytes::from(buf).slice(RECORD_HEADER_LEN..))
}

/// One record met by [`scan`].
#[derive(Debug)]
pub enum Scanned<'a> {
    /// A record with a valid header; shard data is hash-checked when the scan
    /// verifies, otherwise it is the caller's to check.
    Record { offset: u64, header: RecordHeader, data: &'a [u8] },
    /// A valid header whose shard bytes fail their hash: a torn or damaged write.
    /// The scan goes on after it, since the header says where the next record is.
    Corrupt { offset: u64, header: RecordHeader },
}

/// How a scan ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every byte up to the end was records.
    Clean,
    /// Bytes from `offset` on are not a record (a torn tail or garbage).
    Torn { offset: u64, why: String },
    /// The visitor asked to stop at `offset`.
    Stopped { offset: u64 },
}

/// Walks records from `start` (where `reader` is positioned) to `end`.
pub fn scan<R: Read>(
    reader: R,
    start: u64,
    end: u64,
    verify: bool,
    mut visit: impl FnMut(Scanned<'_>) -> ControlFlow<()>,
) -> io::Result<ScanEnd> {
    let mut reader = BufReader::with_capacity(SCAN_BUFFER, reader);
    let mut data = Vec::new();
    let mut offset = start;
    while offset < end {
        let torn = |why: String| Ok(ScanEnd::Torn { offset, why });
        if end - offset < RECORD_HEADER_LEN as u64 {
            return torn(format!("{} bytes left, less than a record header", end - offset));
        }
        let mut head = [0u8; RECORD_HEADER_LEN];
        if let Err(e) = reader.read_exact(&mut head) {
            return if e.kind() == io::ErrorKind::UnexpectedEof {
                torn("file shorter than expected".into())
            } else {
                Err(e)
            };
        }
        let header = match RecordHeader::decode(&head) {
            Ok(h) => h,
            Err(e) => return torn(e.to_string()),
        };
        let record_end = offset + header.record_len();
        if record_end > end {
            return torn(format!("the record's {} data bytes run past the end", header.data_len()));
        }
        data.clear();
        let n = reader.by_ref().take(u64::from(header.data_len())).read_to_end(&mut data)?;
        if n != header.data_len() as usize {
            return torn("file shorter than expected".into());
        }
        let item = match header.kind {
            RecordKind::Shard { .. } if verify && pyxis_crypto::shard::shard_hash(&data) != header.hash => {
                Scanned::Corrupt { offset, header }
            }
            _ => Scanned::Record { offset, header, data: &data },
        };
        if visit(item).is_break() {
            return Ok(ScanEnd::Stopped { offset: record_end });
        }
        offset = record_end;
    }
    Ok(ScanEnd::Clean)
}

/// [`scan`] over a volume file, through a handle of its own so no other
/// reader's cursor moves.
pub fn scan_file(
    path: &Path,
    start: u64,
    end: u64,
    verify: bool,
    visit: impl FnMut(Scanned<'_>) -> ControlFlow<()>,
) -> io::Result<ScanEnd> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    scan(file, start, end, verify, visit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::layout::Loc;
    use std::io::Cursor;

    fn record(data: &[u8]) -> Vec<u8> {
        let h = RecordHeader::shard(pyxis_crypto::shard::shard_hash(data), data.len() as u32);
        [&h.encode()[..], data].concat()
    }

    fn collect(bytes: &[u8], verify: bool) -> (Vec<(u64, bool)>, ScanEnd) {
        let mut seen = vec![];
        let end = scan(Cursor::new(bytes), 0, bytes.len() as u64, verify, |s| {
            seen.push(match s {
                Scanned::Record { offset, .. } => (offset, true),
                Scanned::Corrupt { offset, .. } => (offset, false),
            });
            ControlFlow::Continue(())
        })
        .unwrap();
        (seen, end)
    }

    #[test]
    fn scan_skips_corrupt_data_and_stops_at_a_torn_header() {
        let mut bytes = [record(b"one"), record(b"two")].concat();
        bytes[64 + 1] ^= 1;
        bytes.extend_from_slice(&RecordHeader::tombstone(ShardHash([1; 32]), Loc { volume: 1, offset: 0 }).encode());
        bytes.extend_from_slice(b"garbage");
        let (seen, end) = collect(&bytes, true);
        assert_eq!(seen, vec![(0, false), (67, true), (134, true)]);
        assert!(matches!(end, ScanEnd::Torn { offset: 198, .. }));
        let (seen, _) = collect(&bytes, false);
        assert_eq!(seen[0], (0, true));
    }

    #[test]
    fn read_shard_returns_the_bytes_and_refuses_a_short_or_damaged_record() {
        use crate::store::index::Slot;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        let hash = pyxis_crypto::shard::shard_hash(&data);
        let bytes = [vec![9u8; 13], record(&data)].concat();
        std::fs::write(&path, &bytes).unwrap();
        let slot = Slot { loc: Loc { volume: 1, offset: 13 }, len: data.len() as u32 };
        let file = File::open(&path).unwrap();
        assert_eq!(&read_shard(&file, slot, &hash).unwrap()[..], &data[..]);
        let other = ShardHash([3; 32]);
        assert!(matches!(read_shard(&file, slot, &other), Err(ReadFault::Corrupt(_))));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        assert!(matches!(read_shard(&File::open(&path).unwrap(), slot, &hash), Err(ReadFault::Corrupt(_))));
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        match read_shard(&File::open(&path).unwrap(), slot, &hash) {
            Err(ReadFault::Corrupt(why)) => assert!(why.contains("ends inside"), "{why}"),
            other => panic!("a record cut short read as {other:?}"),
        }
    }

    #[test]
    fn names_are_classified_strictly() {
        assert_eq!(classify("vol-00000007.pyxv"), Some(StoreFile::Volume(7)));
        assert_eq!(classify("vol-00000007.pyxi"), Some(StoreFile::Snapshot(7)));
        assert_eq!(classify("vol-00000007.pyxi.tmp"), Some(StoreFile::Temp));
        assert_eq!(classify("vol-7.pyxv"), None);
        assert_eq!(classify("vol-0000000x.pyxv"), None);
        assert_eq!(classify("LOCK"), None);
    }
}
