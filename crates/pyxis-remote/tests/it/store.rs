//! The shard store through its public API: round trips, limits, restarts,
//! deletion, compaction, scrubbing and concurrency.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use pyxis_remote::store::{MAX_SHARD_LEN, PutOutcome, Store, StoreError, StoreOptions};

use crate::support::{assert_contents, open, shard, small_volumes, volumes};

#[tokio::test]
async fn put_get_round_trip_and_idempotent_put() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::new(1 << 30)).await;
    let (h, data) = shard(1, 300_000);
    assert_eq!(store.put(h, data.clone()).await.unwrap(), PutOutcome::Stored);
    let file_bytes = store.stats().file_bytes;
    assert_eq!(store.put(h, data.clone()).await.unwrap(), PutOutcome::Existed);
    assert_eq!(store.stats().file_bytes, file_bytes, "an existing shard is not written again");
    assert_eq!(store.get(&h).await.unwrap(), data);
    let (tiny, tiny_data) = shard(2, 1);
    store.put(tiny, tiny_data.clone()).await.unwrap();
    assert_eq!(store.get(&tiny).await.unwrap(), tiny_data);
    let stats = store.stats();
    assert_eq!((stats.shards, stats.used), (2, 300_001));
    let mut listed = store.list();
    listed.sort();
    let mut want = vec![h, tiny];
    want.sort();
    assert_eq!(listed, want);
    store.close().await;
}

#[tokio::test]
async fn wrong_bytes_and_oversized_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::new(1 << 30)).await;
    let (h, _) = shard(1, 1000);
    let (_, other) = shard(2, 1000);
    assert!(matches!(store.put(h, other).await, Err(StoreError::HashMismatch { .. })));
    let big = Bytes::from(vec![0u8; MAX_SHARD_LEN as usize + 1]);
    assert!(matches!(store.put(h, big).await, Err(StoreError::TooLarge { .. })));
    assert!(matches!(store.get(&h).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.stats().shards, 0);
    store.close().await;
}

#[tokio::test]
async fn capacity_is_enforced_and_nothing_is_stored_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::new(10_000)).await;
    let (a, a_data) = shard(1, 6_000);
    let (b, b_data) = shard(2, 6_000);
    store.put(a, a_data.clone()).await.unwrap();
    let before = store.stats();
    let err = store.put(b, b_data).await.unwrap_err();
    assert!(matches!(err, StoreError::Full { len: 6_000, used: 6_000, capacity: 10_000, .. }), "{err}");
    assert!(err.to_string().contains("store full"));
    assert_eq!(store.stats(), before);
    assert!(!store.contains(&b));
    // Idempotent puts still succeed on a full store.
    assert_eq!(store.put(a, a_data).await.unwrap(), PutOutcome::Existed);
    assert!(store.delete(&a).await.unwrap());
    let (c, c_data) = shard(3, 9_000);
    store.put(c, c_data).await.unwrap();
    assert_eq!(store.stats().free, 1_000);
    store.close().await;
}

#[tokio::test]
async fn restart_keeps_every_acknowledged_shard_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let shards: Vec<_> = (0..60).map(|i| shard(i, 100 + (i as usize * 997) % 20_000)).collect();
    for (h, d) in &shards {
        store.put(*h, d.clone()).await.unwrap();
    }
    for (h, _) in &shards[..10] {
        assert!(store.delete(h).await.unwrap());
    }
    assert!(!store.delete(&shards[0].0).await.unwrap(), "already gone");
    let stats = store.stats();
    assert!(stats.volumes > 3, "small volumes rotate: {stats:?}");
    store.close().await;

    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &shards[10..], &shards[..10]).await;
    let again = store.stats();
    assert_eq!((again.shards, again.used, again.file_bytes), (stats.shards, stats.used, stats.file_bytes));
    // A deleted shard can come back.
    store.put(shards[0].0, shards[0].1.clone()).await.unwrap();
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_eq!(store.get(&shards[0].0).await.unwrap(), shards[0].1);
    store.close().await;
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::new(1 << 20)).await;
    let err = Store::open(dir.path(), StoreOptions::new(1 << 20)).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    store.close().await;
    assert!(matches!(store.put(shard(1, 10).0, shard(1, 10).1).await, Err(StoreError::Closed)));
    open(dir.path(), StoreOptions::new(1 << 20)).await.close().await;
}

#[tokio::test]
async fn a_corrupt_byte_is_never_served_and_scrub_finds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let shards: Vec<_> = (0..20).map(|i| shard(i, 5_000)).collect();
    for (h, d) in &shards {
        store.put(*h, d.clone()).await.unwrap();
    }
    for (h, _) in &shards[..3] {
        let at = store.locate(h).unwrap();
        let f = OpenOptions::new().read(true).write(true).open(&at.path).unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, at.offset + 1234).unwrap();
        f.write_all_at(&[b[0] ^ 0x40], at.offset + 1234).unwrap();
    }
    assert!(matches!(store.get(&shards[0].0).await, Err(StoreError::Corrupt(h)) if h == shards[0].0));
    assert!(!store.contains(&shards[0].0), "dropped from the index");
    assert!(matches!(store.get(&shards[0].0).await, Err(StoreError::NotFound(_))));
    let report = store.scrub().await.unwrap();
    assert_eq!(report.checked, 19);
    let mut found = report.corrupt.clone();
    found.sort();
    let mut want = vec![shards[1].0, shards[2].0];
    want.sort();
    assert_eq!(found, want);
    assert_eq!(store.scrub().await.unwrap().corrupt, vec![]);
    store.close().await;
    // The drops are durable.
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &shards[3..], &shards[..3]).await;
    // The server can repair them by uploading again.
    store.put(shards[1].0, shards[1].1.clone()).await.unwrap();
    assert_eq!(store.get(&shards[1].0).await.unwrap(), shards[1].1);
    store.close().await;
}

#[tokio::test]
async fn compaction_reclaims_deleted_space_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    let shards: Vec<_> = (0..48).map(|i| shard(i, 8_000)).collect();
    for (h, d) in &shards {
        store.put(*h, d.clone()).await.unwrap();
    }
    let (keep, gone): (Vec<_>, Vec<_>) = shards.iter().cloned().enumerate().partition(|(i, _)| i % 3 == 0);
    let keep: Vec<_> = keep.into_iter().map(|(_, s)| s).collect();
    let gone: Vec<_> = gone.into_iter().map(|(_, s)| s).collect();
    for (h, _) in &gone {
        store.delete(h).await.unwrap();
    }
    let before = store.stats();
    let report = store.compact().await.unwrap();
    let after = store.stats();
    assert!(report.volumes >= 4, "{report:?}");
    assert!(after.file_bytes < before.file_bytes * 6 / 10, "{before:?} -> {after:?}");
    // Up to the headers of volumes the copies opened.
    assert!(report.reclaimed_bytes.abs_diff(before.file_bytes - after.file_bytes) <= 16 * 4, "{report:?}");
    assert_eq!(volumes(dir.path()).len() as u64, after.volumes);
    assert_contents(&store, &keep, &gone).await;
    assert_eq!(store.compact().await.unwrap().volumes, 0, "nothing left to do");
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &keep, &gone).await;
    assert_eq!(store.stats().file_bytes, after.file_bytes);
    store.close().await;
}

#[tokio::test]
async fn background_compaction_runs_after_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions { auto_compact: Some(std::time::Duration::from_secs(3600)), ..small_volumes(1 << 30) };
    let store = open(dir.path(), opts).await;
    let shards: Vec<_> = (0..24).map(|i| shard(i, 8_000)).collect();
    for (h, d) in &shards {
        store.put(*h, d.clone()).await.unwrap();
    }
    let first = store.locate(&shards[0].0).unwrap().path;
    for (h, _) in &shards[..16] {
        store.delete(h).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while first.exists() {
        assert!(tokio::time::Instant::now() < deadline, "no background compaction: {:?}", store.stats());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_contents(&store, &shards[16..], &shards[..16]).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_puts_share_flushes_and_are_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions { volume_size: 1 << 20, ..small_volumes(1 << 30) }).await;
    let shards: Vec<_> = (0..200).map(|i| shard(i, 20_000 + i as usize)).collect();
    let tasks: Vec<_> = shards
        .iter()
        .cloned()
        .map(|(h, d)| {
            let store = store.clone();
            tokio::spawn(async move { store.put(h, d).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), PutOutcome::Stored);
    }
    let flushes = store.stats().flushes;
    assert!(flushes < 100, "200 concurrent puts took {flushes} flushes: no group commit");
    store.close().await;
    let store = open(dir.path(), small_volumes(1 << 30)).await;
    assert_contents(&store, &shards, &[]).await;
    store.close().await;
}
