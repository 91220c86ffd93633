//! Remotes failing under transfers: uploads move on to new placements,
//! downloads read the shards that are left.

use std::sync::atomic::Ordering;
use std::time::Duration;

use pyxis_testkit::Cluster;

use crate::support::{random_file, same_file};

#[tokio::test]
async fn a_remote_dying_during_upload_is_replaced() {
    let mut c = Cluster::start(7).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 3, 48 << 20);
    let progress = a.progress();
    let put = async { a.put(&f, "/f").await };
    let kill = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while progress.wire.load(Ordering::Relaxed) < 4 << 20 {
            assert!(std::time::Instant::now() < deadline, "the upload never got going");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.stop_remote(0).await;
    };
    let (r, ()) = tokio::join!(put, kill);
    let r = r.unwrap();
    assert!(r.failed.is_empty());
    // The remote died with the upload under way: shards bound for it went
    // elsewhere (or their chunks were placed again), or the test proved nothing.
    let t = r.totals;
    assert!(t.failovers + t.replaced_chunks > 0, "no upload was ever moved off the dead remote: {t:?}");
    let out = c.dir.path().join("f.out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn downloads_survive_lost_remotes() {
    let mut c = Cluster::start(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 4, 24 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "4+2");
    // Two remotes gone (the parity budget of 4+2), one of them mid-download.
    c.stop_remote(1).await;
    let out = c.dir.path().join("f.out");
    let progress = a.progress();
    let get = async { a.get("/f", &out, None).await };
    let kill = async {
        while progress.done.load(Ordering::Relaxed) < 2 << 20 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        c.stop_remote(4).await;
    };
    let (r, ()) = tokio::join!(get, kill);
    r.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn corrupt_shards_on_disk_are_detected_and_read_around() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let c = Cluster::start(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 5, 12 << 20);
    a.put(&f, "/f").await.unwrap();
    // Flip a byte in the middle of every shard remote 2 holds.
    let store = c.remote(2).store();
    let hashes = store.list();
    assert!(!hashes.is_empty());
    for h in &hashes {
        let loc = store.locate(h).unwrap();
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&loc.path).unwrap();
        let at = loc.offset + u64::from(loc.len) / 2;
        let mut b = [0u8];
        file.seek(SeekFrom::Start(at)).unwrap();
        file.read_exact(&mut b).unwrap();
        file.seek(SeekFrom::Start(at)).unwrap();
        file.write_all(&[b[0] ^ 0x40]).unwrap();
    }
    let out = c.dir.path().join("f.out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
    // The shards that were read were caught by the remote and dropped rather
    // than served (parity shards nobody read wait for the scrubber).
    let dropped = hashes.iter().filter(|h| !store.contains(h)).count();
    assert!(dropped >= 1, "no corrupt shard was caught");
}

#[tokio::test]
async fn shard_locations_are_cached_and_stale_ones_refreshed() {
    let mut c = Cluster::start(4).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 6, 6 << 20);
    a.put(&f, "/f").await.unwrap();
    let out = c.dir.path().join("f.out");
    let first = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    first.get("/f", &out, None).await.unwrap();
    assert!(first.progress().totals().locates >= 1);
    assert!(c.device("alice").cache_dir().join("locations.json").exists());

    // A second process reads without asking where shards are.
    let second = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    second.get("/f", &out, None).await.unwrap();
    assert_eq!(second.progress().totals().locates, 0, "a fresh cache must spare the locate calls");

    // Every remote comes back on a new port: every cached URL is stale.
    for i in 0..4 {
        c.stop_remote(i).await;
        c.restart_remote(i, ([127, 0, 0, 1], 0).into()).await.unwrap();
    }
    c.wait_online(4).await.unwrap();
    // Registration carries the new URLs: wait until the server has them all.
    let urls: Vec<String> = (0..4).map(|i| c.remote(i).url().to_owned()).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let known: Vec<String> =
            c.server().state().db.online_remotes().await.unwrap().into_iter().map(|r| r.url).collect();
        if urls.iter().all(|u| known.contains(u)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server never learnt the new URLs: {known:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let third = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    std::fs::remove_file(&out).unwrap();
    third.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
    assert!(third.progress().totals().locates >= 1, "stale entries must be refreshed from the server");
}
