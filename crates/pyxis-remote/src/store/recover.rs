//! Opening a store directory: replaying every volume into the index and
//! cutting off what a crash left half-written.
//!
//! Each volume is replayed from its index snapshot (trusted: it was written
//! only after the records it lists were synced) and then scanned from where the
//! snapshot ends, re-hashing only those tail records. A bad header in the last
//! volume is a torn tail and is truncated away: nothing after the last fsync
//! was acknowledged. Anywhere else it is damage, logged and left for
//! compaction, never a reason to refuse to start.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use tracing::{error, info, warn};

use super::error::{Result, StoreError};
use super::index::Index;
use super::layout::{self, Loc, Snapshot, SnapshotEntry, VOLUME_HEADER_LEN};
use super::volume::{self, ScanEnd, Scanned, StoreFile};

/// The volume appends go to, as the writer needs it.
#[derive(Debug)]
pub(crate) struct Active {
    pub id: u32,
    pub file: Arc<File>,
    pub len: u64,
    /// Every record of the volume, for its next snapshot.
    pub entries: Vec<SnapshotEntry>,
    /// How far the snapshot on disk reaches; `len > covered` means a new one is due.
    pub covered: u64,
}

#[derive(Debug)]
pub(crate) struct Recovered {
    pub index: Index,
    pub files: HashMap<u32, Arc<File>>,
    pub active: Active,
    pub next_id: u32,
}

struct Replayed {
    file: Arc<File>,
    len: u64,
    entries: Vec<SnapshotEntry>,
    covered: u64,
}

pub(crate) fn recover(dir: &Path) -> Result<Recovered> {
    let io = |what, e| StoreError::io(what, dir, e);
    let (volumes, next_id) = tidy(dir)?;
    let last = volumes.last().copied();
    let mut index = Index::default();
    let mut files = HashMap::new();
    let mut active = None;
    for &id in &volumes {
        let is_last = Some(id) == last;
        let Some(r) = replay_volume(dir, id, is_last, &mut index)? else { continue };
        files.insert(id, r.file.clone());
        if is_last {
            active = Some(Active { id, file: r.file, len: r.len, entries: r.entries, covered: r.covered });
        }
    }
    let mut next_id = next_id;
    let active = match active {
        Some(a) => a,
        None => {
            let id = next_id;
            next_id += 1;
            let file = Arc::new(volume::create_volume(dir, id).map_err(|e| io("creating a volume in", e))?);
            index.add_volume(id, VOLUME_HEADER_LEN);
            files.insert(id, file.clone());
            Active { id, file, len: VOLUME_HEADER_LEN, entries: vec![], covered: VOLUME_HEADER_LEN }
        }
    };
    let dangling = index.drop_dangling();
    if dangling > 0 {
        error!(dir = %dir.display(), dangling, "index entries pointed outside their volume files; dropped");
    }
    info!(dir = %dir.display(), shards = index.len(), volumes = files.len(), "shard store opened");
    Ok(Recovered { index, files, active, next_id })
}

/// Lists the directory, removes leftovers of interrupted writes and snapshots
/// whose volume is gone, and returns the volume ids and the next unused id.
fn tidy(dir: &Path) -> Result<(BTreeSet<u32>, u32)> {
    let io = |e| StoreError::io("listing", dir, e);
    let mut volumes = BTreeSet::new();
    let mut snapshots = BTreeSet::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        match volume::classify(&name.to_string_lossy()) {
            Some(StoreFile::Volume(id)) => {
                volumes.insert(id);
            }
            Some(StoreFile::Snapshot(id)) => {
                snapshots.insert(id);
            }
            Some(StoreFile::Temp) => remove(&entry.path()),
            None => {}
        }
    }
    for id in snapshots.difference(&volumes) {
        // Compaction removes the volume first, then its snapshot.
        remove(&volume::snapshot_path(dir, *id));
    }
    let max = volumes.iter().chain(&snapshots).max().copied().unwrap_or(0);
    let next = max.checked_add(1).ok_or_else(|| StoreError::Broken("volume ids exhausted".into()))?;
    Ok((volumes, next))
}

fn remove(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => info!(path = %path.display(), "removed a leftover file"),
        Err(e) => warn!(path = %path.display(), error = %e, "could not remove a leftover file"),
    }
}

fn replay_volume(dir: &Path, id: u32, is_last: bool, index: &mut Index) -> Result<Option<Replayed>> {
    let path = volume::volume_path(dir, id);
    let io = |what, e| StoreError::io(what, &path, e);
    let file = volume::open_volume(dir, id).map_err(|e| io("opening", e))?;
    let mut len = file.metadata().map_err(|e| io("reading the size of", e))?.len();
    if let Err(why) = volume::read_volume_header(&file, id) {
        if !(is_last && len <= VOLUME_HEADER_LEN) {
            error!(path = %path.display(), %why, "volume header is unusable; skipping the volume");
            return Ok(None);
        }
        // A crash while the volume was being created: nothing was ever in it.
        file.set_len(0).map_err(|e| io("rewriting", e))?;
        file.write_all_at(&layout::encode_volume_header(id), 0).map_err(|e| io("rewriting", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        len = VOLUME_HEADER_LEN;
    }
    let (snapshot, snapshot_ok) = match volume::read_snapshot(dir, id, len) {
        Ok(Some(s)) => (s, true),
        Ok(None) => (Snapshot { volume: id, covered: VOLUME_HEADER_LEN, entries: vec![] }, false),
        Err(why) => {
            warn!(path = %path.display(), %why, "index snapshot rejected; scanning the whole volume");
            (Snapshot { volume: id, covered: VOLUME_HEADER_LEN, entries: vec![] }, false)
        }
    };
    let Snapshot { covered, mut entries, .. } = snapshot;
    let from_snapshot = entries.len();
    for e in entries.iter().filter(|e| !e.void) {
        index.apply(Loc { volume: id, offset: e.offset }, &e.header);
    }
    let end = volume::scan_file(&path, covered, len, true, |s| {
        let entry = match s {
            Scanned::Record { offset, header, .. } => {
                index.apply(Loc { volume: id, offset }, &header);
                SnapshotEntry { offset, header, void: false }
            }
            Scanned::Corrupt { offset, header } => {
                // Most likely a write the crash tore (never acknowledged);
                // never indexed, so it cannot shadow an older intact copy.
                warn!(path = %path.display(), offset, shard = %header.hash, "record fails its hash; ignoring it");
                SnapshotEntry { offset, header, void: true }
            }
        };
        entries.push(entry);
        ControlFlow::Continue(())
    })
    .map_err(|e| io("scanning", e))?;
    let records_end = match end {
        ScanEnd::Torn { offset, why } if is_last => {
            warn!(path = %path.display(), offset, dropped = len - offset, %why, "dropping a torn tail");
            file.set_len(offset).map_err(|e| io("truncating", e))?;
            file.sync_all().map_err(|e| io("syncing", e))?;
            len = offset;
            offset
        }
        ScanEnd::Torn { offset, why } => {
            error!(path = %path.display(), offset, %why, "records end early in a sealed volume; the rest is lost");
            offset
        }
        ScanEnd::Clean | ScanEnd::Stopped { .. } => len,
    };
    index.add_volume(id, len);
    let mut covered = covered;
    if !is_last && (!snapshot_ok || entries.len() > from_snapshot || covered != records_end) {
        // A sealed volume gets its snapshot back so the next start skips the scan.
        volume::write_snapshot(dir, id, records_end, &entries).map_err(|e| io("writing the snapshot of", e))?;
        covered = records_end;
    }
    Ok(Some(Replayed { file: Arc::new(file), len, entries, covered }))
}
