//! Crash states built with real files: torn tails, garbage, stale snapshots
//! and compaction interrupted between its steps. The store must keep every
//! acknowledged shard, never serve a wrong byte and never revive a deletion.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;
use pyxis_proto::ShardHash;
use pyxis_remote::store::{ShardLocation, Store, StoreError};

use crate::support::{assert_contents, copy_dir, open, shard, small_volumes, snapshots, volumes};

type Shards = Vec<(ShardHash, Bytes)>;

async fn fill(store: &Store, seeds: std::ops::Range<u64>, len: usize) -> Shards {
    let mut out = vec![];
    for i in seeds {
        let s = shard(i, len + i as usize % 777);
        store.put(s.0, s.1.clone()).await.unwrap();
        out.push(s);
    }
    out
}

/// A store whose last volume has a snapshot covering only its first shards,
/// as after a crash: `(early, tail)` shards, the tail after the checkpoint.
async fn crashed_after_checkpoint(dir: &Path) -> (Shards, Shards, Vec<ShardLocation>) {
    let store = open(dir, small_volumes(1 << 30)).await;
    let early = fill(&store, 0..3, 3_000).await;
    store.checkpoint().await.unwrap();
    let saved = dir.join("saved.snapshot");
    let last_snapshot = snapshots(dir).pop().unwrap();
    fs::copy(&last_snapshot, &saved).unwrap();
    let tail = fill(&store, 3..6, 3_000).await;
    assert_eq!(volumes(dir).len(), 1, "the test wants one volume");
    let locs = tail.iter().map(|(h, _)| store.locate(h).unwrap()).collect();
    store.close().await;
    fs::rename(&saved, &last_snapshot).unwrap();
    (early, tail, locs)
}

#[tokio::test]
async fn a_torn_last_record_is_dropped_and_the_rest_survives() {
    let dir = tempfile::tempdir().unwrap();
    let (early, mut tail, _) = crashed_after_checkpoint(dir.path()).await;
    let torn = tail.pop().unwrap();
    let vol = volumes(dir.path()).pop().unwrap();
    let len = fs::metadata(&vol).unwrap().len();
    OpenOptions::new().write(true).open(&vol).unwrap().set_len(len - 1000).unwrap();

    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let all: Shards = early.iter().chain(&tail).cloned().collect();
    assert_contents(&store, &all, std::slice::from_ref(&torn)).await;
    // The torn bytes were cut off, so new records follow valid ones.
    store.put(torn.0, torn.1.clone()).await.unwrap();
    let more = fill(&store, 100..103, 2_000).await;
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let all: Shards = all.into_iter().chain([torn]).chain(more).collect();
    assert_contents(&store, &all, &[]).await;
    store.close().await;
}

#[tokio::test]
async fn garbage_after_the_last_record_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (early, tail, _) = crashed_after_checkpoint(dir.path()).await;
    let vol = volumes(dir.path()).pop().unwrap();
    let garbage = [&b"PYXR"[..], &[0xa5; 200]].concat();
    OpenOptions::new().append(true).open(&vol).unwrap().write_all(&garbage).unwrap();
    let len = fs::metadata(&vol).unwrap().len();

    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let all: Shards = early.into_iter().chain(tail).collect();
    assert_contents(&store, &all, &[]).await;
    assert_eq!(store.stats().file_bytes, len - garbage.len() as u64);
    store.close().await;
}

#[tokio::test]
async fn a_tail_record_with_bad_data_is_dropped_durably_and_later_records_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (early, tail, locs) = crashed_after_checkpoint(dir.path()).await;
    // As if the crash persisted the header of a record but not all its data.
    let at = &locs[0];
    let f = OpenOptions::new().write(true).open(&at.path).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0; 100], at.offset + 10).unwrap();

    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let kept: Shards = early.iter().chain(&tail[1..]).cloned().collect();
    assert_contents(&store, &kept, &tail[..1]).await;
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &kept, &tail[..1]).await;
    store.close().await;
}

#[tokio::test]
async fn lost_or_damaged_snapshots_fall_back_to_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let shards = fill(&store, 0..40, 6_000).await;
    for (h, _) in &shards[..10] {
        store.delete(h).await.unwrap();
    }
    store.close().await;
    let snaps = snapshots(dir.path());
    assert!(snaps.len() >= 3);
    fs::remove_file(&snaps[0]).unwrap();
    let mut b = fs::read(&snaps[1]).unwrap();
    b[30] ^= 1;
    fs::write(&snaps[1], b).unwrap();
    fs::write(&snaps[2], b"short").unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &shards[10..], &shards[..10]).await;
    store.close().await;
    assert_eq!(snapshots(dir.path()).len(), snaps.len(), "repaired snapshots are written back");
}

/// Deletes two thirds of 30 shards in small volumes, keeps a copy of the
/// directory, then compacts. Returns `(kept, deleted, copy of the directory before compaction)`.
async fn compacted(dir: &Path, before: &Path) -> (Shards, Shards) {
    let store = open(dir, small_volumes(1 << 30)).await;
    let shards = fill(&store, 0..30, 8_000).await;
    let (mut keep, mut gone) = (vec![], vec![]);
    for (i, s) in shards.into_iter().enumerate() {
        if i % 3 == 0 { keep.push(s) } else { gone.push(s) }
    }
    for (h, _) in &gone {
        store.delete(h).await.unwrap();
    }
    store.checkpoint().await.unwrap();
    copy_dir(dir, before);
    let report = store.compact().await.unwrap();
    assert!(report.volumes >= 2, "{report:?}");
    store.close().await;
    (keep, gone)
}

/// Puts back the volumes (and snapshots) compaction removed, as if it crashed
/// before removing them.
fn restore_removed(dir: &Path, before: &Path, with_volumes: bool, with_snapshots: bool) {
    for e in fs::read_dir(before).unwrap() {
        let name = e.unwrap().file_name();
        let s = name.to_string_lossy();
        let wanted = (with_volumes && s.ends_with(".pyxv")) || (with_snapshots && s.ends_with(".pyxi"));
        if wanted && !dir.join(&name).exists() {
            fs::copy(before.join(&name), dir.join(&name)).unwrap();
        }
    }
}

#[tokio::test]
async fn compaction_interrupted_before_removing_old_volumes() {
    let (dir, before) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (keep, gone) = compacted(dir.path(), before.path()).await;
    restore_removed(dir.path(), before.path(), true, true);
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &keep, &gone).await;
    // Compaction finishes the job next time.
    assert!(store.compact().await.unwrap().volumes >= 2);
    assert_contents(&store, &keep, &gone).await;
    store.close().await;
}

#[tokio::test]
async fn compaction_interrupted_mid_copy() {
    let (dir, before) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (keep, gone) = compacted(dir.path(), before.path()).await;
    restore_removed(dir.path(), before.path(), true, true);
    // The copies went to the newest volume; tear it in the middle of them.
    let last = volumes(dir.path()).pop().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    OpenOptions::new().write(true).open(&last).unwrap().set_len(len / 2 + 7).unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &keep, &gone).await;
    store.close().await;
}

#[tokio::test]
async fn compaction_interrupted_between_volume_and_snapshot_removal() {
    let (dir, before) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (keep, gone) = compacted(dir.path(), before.path()).await;
    restore_removed(dir.path(), before.path(), false, true);
    let orphans = snapshots(dir.path()).len() - volumes(dir.path()).len();
    assert!(orphans >= 2);
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &keep, &gone).await;
    store.close().await;
    assert_eq!(snapshots(dir.path()).len(), volumes(dir.path()).len(), "orphan snapshots removed");
}

#[tokio::test]
async fn an_unreadable_sealed_volume_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let shards = fill(&store, 0..30, 6_000).await;
    let first = store.locate(&shards[0].0).unwrap().path;
    store.close().await;
    fs::write(&first, b"not a volume at all, but long enough to not look new").unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    for (h, d) in &shards {
        match store.get(h).await {
            Ok(got) => assert_eq!(&got, d),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(store.stats().shards > 0);
    store.close().await;
}

/// A closed store with shards spread over a few small volumes, built once.
fn template() -> &'static (tempfile::TempDir, Shards) {
    static T: std::sync::OnceLock<(tempfile::TempDir, Shards)> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let shards = rt.block_on(async {
            let store = open(dir.path(), small_volumes(1 << 30)).await;
            let s = fill(&store, 0..24, 5_000).await;
            store.close().await;
            s
        });
        (dir, shards)
    })
}

/// Opens a damaged copy of the template: must not panic, and every shard must
/// read back exactly or be reported missing; returns how many survived.
fn open_damaged(damage: impl FnOnce(&Path)) -> usize {
    let (template, shards) = template();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(template.path(), dir.path());
    damage(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = open(dir.path(), small_volumes(1 << 30)).await;
        let mut ok = 0;
        for (h, d) in shards {
            match store.get(h).await {
                Ok(got) => {
                    assert_eq!(&got, d, "a wrong shard was served");
                    ok += 1;
                }
                Err(StoreError::NotFound(_) | StoreError::Corrupt(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        store.close().await;
        ok
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_truncation_never_panics_nor_serves_a_wrong_shard(which in 0usize..8, cut in 0.0f64..1.0, drop_snapshot: bool) {
        let survived = open_damaged(|dir| {
            let vols = volumes(dir);
            let vol = &vols[which % vols.len()];
            let len = fs::metadata(vol).unwrap().len();
            OpenOptions::new().write(true).open(vol).unwrap().set_len((len as f64 * cut) as u64).unwrap();
            if drop_snapshot {
                let _ = fs::remove_file(vol.with_extension("pyxi"));
            }
        });
        prop_assert!(survived > 0);
    }

    #[test]
    fn any_flipped_byte_never_panics_nor_serves_a_wrong_shard(which in 0usize..8, at in 0.0f64..1.0, bit in 0u8..8) {
        open_damaged(|dir| {
            let files: Vec<_> = volumes(dir).into_iter().chain(snapshots(dir)).collect();
            let f = &files[which % files.len()];
            let mut b = fs::read(f).unwrap();
            let i = ((b.len() as f64 * at) as usize).min(b.len() - 1);
            b[i] ^= 1 << bit;
            fs::write(f, b).unwrap();
        });
    }
}

/// Tombstones in a compacted volume that still kill shards elsewhere must be
/// carried forward, or those shards come back at the next start.
#[tokio::test]
async fn compaction_carries_tombstones_whose_targets_survive() {
    let (dir, before) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let first = fill(&store, 0..8, 8_000).await;
    let first_volume = store.locate(&first[0].0).unwrap().path;
    let mut second = fill(&store, 100..101, 8_000).await;
    // Two deletions: the first volume stays under the threshold, and their
    // tombstones go to the second volume...
    for (h, _) in &first[..2] {
        store.delete(h).await.unwrap();
    }
    second.extend(fill(&store, 101..106, 8_000).await);
    let second_volume = store.locate(&second[0].0).unwrap().path;
    assert_ne!(first_volume, second_volume);
    // ...which then dies and is compacted away.
    for (h, _) in &second {
        store.delete(h).await.unwrap();
    }
    let third = fill(&store, 200..210, 8_000).await;
    copy_dir(dir.path(), before.path());
    let report = store.compact().await.unwrap();
    assert!(!second_volume.exists() && first_volume.exists(), "{report:?}");
    store.close().await;

    let live: Shards = first[2..].iter().chain(&third).cloned().collect();
    let dead: Shards = first[..2].iter().chain(&second).cloned().collect();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &live, &dead).await;
    store.close().await;
    // And as if it crashed before the second volume was removed.
    restore_removed(dir.path(), before.path(), true, false);
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &live, &dead).await;
    // Once the first volume is compacted too, nothing needs those tombstones.
    for (h, _) in &first[2..6] {
        store.delete(h).await.unwrap();
    }
    store.compact().await.unwrap();
    assert!(!first_volume.exists());
    let live: Shards = first[6..].iter().chain(&third).cloned().collect();
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &live, &first[..6]).await;
    store.close().await;
}

/// A copy whose header reached the disk but whose data did not must not
/// shadow the intact original that the interrupted compaction left behind.
#[tokio::test]
async fn a_torn_copy_does_not_shadow_its_original() {
    let (dir, before) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (keep, gone) = compacted(dir.path(), before.path()).await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    // A copy is past the end of what its volume held before compaction.
    let is_copy = |at: &ShardLocation| {
        let old = before.path().join(at.path.file_name().unwrap());
        fs::metadata(old).map_or(true, |m| m.len() < at.offset + u64::from(at.len))
    };
    let copies: Vec<ShardLocation> = keep.iter().map(|(h, _)| store.locate(h).unwrap()).filter(is_copy).collect();
    assert!(copies.len() >= 4, "{copies:?}");
    store.close().await;
    restore_removed(dir.path(), before.path(), true, true);
    // Zero the data of every copy, and lose the snapshots that listed them.
    for at in &copies {
        let f = OpenOptions::new().write(true).open(&at.path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &vec![0; at.len as usize], at.offset).unwrap();
        let _ = fs::remove_file(at.path.with_extension("pyxi"));
    }
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    store.checkpoint().await.unwrap();
    assert_contents(&store, &keep, &gone).await;
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &keep, &gone).await;
    store.close().await;
}
