//! Unknown is not unwanted: a remote deletes a shard only when the server
//! recorded its collection, keeps what the server does not know in
//! quarantine, and deletes no more than a tenth of its store in one pass.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pyxis_proto::ShardHash;

use crate::server::{TestServer, options, registered};
use crate::support::shard;

async fn remote_with_shards(
    server: &TestServer,
    dir: &std::path::Path,
    n: u64,
    keep: Duration,
) -> (pyxis_remote::RunningRemote, Vec<ShardHash>) {
    let mut opts = options(&server.url, dir, 1 << 30);
    opts.quarantine_keep = Some(keep);
    let remote = pyxis_remote::start(opts).await.unwrap();
    registered(&remote).await;
    let mut hashes = Vec::new();
    for i in 0..n {
        let (h, data) = shard(i, 2_000);
        remote.store().put(h, data).await.unwrap();
        hashes.push(h);
    }
    (remote, hashes)
}

#[tokio::test]
async fn a_server_that_knows_nothing_makes_the_remote_keep_everything_aside() {
    // A server restored from an older backup, or another server behind a
    // mistyped URL: it has no record of any shard here.
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, hashes) = remote_with_shards(&server, dir.path(), 20, Duration::from_secs(3600)).await;
    let r = remote.reconcile().await.unwrap();
    assert_eq!((r.deleted, r.quarantined, r.released), (0, 20, 0));
    assert!(hashes.iter().all(|h| remote.store().contains(h)), "a shard was deleted for being unknown");
    // It says so in its heartbeats (the server shows it to the operator).
    server
        .until("a heartbeat reporting the quarantine", |s| {
            s.heartbeats.lock().unwrap().last().is_some_and(|b| b.quarantined == 20 && b.quarantined_bytes == 40_000)
        })
        .await;
    // The list survives a restart.
    let path = dir.path().join(pyxis_remote::quarantine::FILE_NAME);
    assert!(std::fs::read_to_string(&path).unwrap().contains(&hashes[0].to_string()));
    // The server comes to know half of them again: they leave quarantine.
    server.state.wanted.lock().unwrap().extend(hashes[..10].iter().copied());
    assert_eq!(remote.reconcile().await.unwrap().quarantined, 10);
    remote.shutdown().await;
}

#[tokio::test]
async fn only_collected_shards_go_and_a_tenth_of_the_store_per_pass() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, hashes) = remote_with_shards(&server, dir.path(), 20, Duration::from_secs(3600)).await;
    server.state.wanted.lock().unwrap().extend(hashes[..15].iter().copied());
    server.state.collected.lock().unwrap().extend(hashes[15..].iter().copied());
    // 5 collected of 20 held: 2 go now (10 %), 3 wait for later passes.
    let r = remote.reconcile().await.unwrap();
    assert_eq!((r.deleted, r.deferred, r.quarantined), (2, 3, 0));
    let r = remote.reconcile().await.unwrap();
    assert_eq!((r.deleted, r.deferred), (1, 2), "18 held: one tenth is 1");
    let mut passes = 0;
    while hashes[15..].iter().any(|h| remote.store().contains(h)) {
        remote.reconcile().await.unwrap();
        passes += 1;
        assert!(passes < 5);
    }
    assert!(hashes[..15].iter().all(|h| remote.store().contains(h)), "a wanted shard was deleted");
    remote.shutdown().await;
}

#[tokio::test]
async fn quarantined_shards_go_only_after_the_operator_releases_them_and_the_minimum_time() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keep = Duration::from_millis(300);
    let (remote, hashes) = remote_with_shards(&server, dir.path(), 4, keep).await;
    assert_eq!(remote.reconcile().await.unwrap().quarantined, 4);
    // Kept long enough, but nobody released them.
    tokio::time::sleep(keep * 2).await;
    assert_eq!(remote.reconcile().await.unwrap().released, 0);
    // Released (before now), and the server came to know one of them again.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    *server.state.release_before.lock().unwrap() = Some(now);
    server.state.wanted.lock().unwrap().insert(hashes[0]);
    let beats = server.state.beats.load(Ordering::SeqCst);
    server.until("a heartbeat carrying the release", |s| s.beats.load(Ordering::SeqCst) > beats + 1).await;
    let mut released = 0;
    while released < 3 {
        let r = remote.reconcile().await.unwrap();
        assert!(r.released > 0, "a released, old enough, still unknown shard stayed: {r:?}");
        released += r.released;
    }
    assert!(remote.store().contains(&hashes[0]), "a shard the server knows again was deleted");
    assert!(hashes[1..].iter().all(|h| !remote.store().contains(h)));
    remote.shutdown().await;
}
