//! Durability under faults: repair, scrub, audits, collection, re-encoding,
//! drain. The workers run every 250 ms in tests; a remote offline 5 s
//! counts as lost.

use std::time::Duration;

use pyxis_testkit::{Cluster, fully_healthy};

use crate::support::{random_file, same_file};

#[tokio::test]
async fn losing_two_remotes_then_repairing_then_losing_two_more() {
    let mut c = Cluster::start(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 1, 200 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "4+2");
    c.wait_health("a healthy start", 10, |h| fully_healthy(h, 6)).await.unwrap();

    c.stop_remote(0).await;
    c.stop_remote(1).await;
    c.wait_online(4).await.unwrap();
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
    assert!(!fully_healthy(&c.health().await, 6), "the loss shows in the health report");

    // Two newcomers; after the grace period the lost shards are rebuilt on them.
    c.add_remote().await.unwrap();
    c.add_remote().await.unwrap();
    let h = c.wait_health("full health on 4 survivors + 2 new", 90, |h| fully_healthy(h, 6)).await.unwrap();
    // Every 4+2 chunk had a shard on each of the six: two per chunk rebuilt.
    let chunks: u64 = h.chunks.iter().map(|b| b.chunks).sum();
    assert_eq!(h.workers.shards_rebuilt, 2 * chunks, "{:?}", h.workers);
    assert_eq!(h.bytes_at_risk, 0);

    // Two more die (one an original, one a newcomer): still readable.
    c.stop_remote(2).await;
    c.stop_remote(6).await;
    std::fs::remove_file(&out).unwrap();
    let fresh = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    fresh.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn scrub_finds_corrupt_shards_and_repair_restores_health() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut c = Cluster::start(0).await.unwrap();
    c.upkeep = (Some(Duration::from_millis(500)), None);
    for _ in 0..6 {
        c.add_remote().await.unwrap();
    }
    c.wait_online(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 2, 40 << 20);
    a.put(&f, "/f").await.unwrap();
    // Corrupt every tenth shard on remote 0's disk.
    let store = c.remote(0).store();
    let hashes = store.list();
    let victims: Vec<_> = hashes.iter().step_by(10).copied().collect();
    assert!(!victims.is_empty());
    for h in &victims {
        let loc = store.locate(h).unwrap();
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&loc.path).unwrap();
        let at = loc.offset + 7;
        let mut b = [0u8];
        file.seek(SeekFrom::Start(at)).unwrap();
        file.read_exact(&mut b).unwrap();
        file.seek(SeekFrom::Start(at)).unwrap();
        file.write_all(&[!b[0]]).unwrap();
    }
    let h = c
        .wait_health("scrub, report and repair", 60, |h| {
            h.workers.shards_rebuilt >= victims.len() as u64 && fully_healthy(h, 6)
        })
        .await
        .unwrap();
    // Rebuilt where they were (that remote is online and in good standing),
    // and intact now.
    for v in &victims {
        let bytes = store.get(v).await.expect("rebuilt shard back on its remote");
        assert_eq!(pyxis_crypto::shard::shard_hash(&bytes), *v);
    }
    assert!(h.workers.chunks_repaired >= 1);
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn garbage_on_a_remote_offline_during_rm_is_deleted_when_it_returns() {
    let mut c = Cluster::start(4).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let (keep, gone) = (c.dir.path().join("keep"), c.dir.path().join("gone"));
    random_file(&keep, 3, 3 << 20);
    random_file(&gone, 4, 3 << 20);
    a.put(&keep, "/keep").await.unwrap();
    let before: Vec<_> = c.remote(2).store().list();
    a.put(&gone, "/gone").await.unwrap();
    let theirs: Vec<_> = c.remote(2).store().list().into_iter().filter(|h| !before.contains(h)).collect();
    assert!(!theirs.is_empty(), "remote 2 holds some of /gone");
    let addr = c.remote(2).addr();
    c.stop_remote(2).await;
    a.api().remove_permanently("/gone", false).await.unwrap();
    // Online remotes lose /gone's shards; the offline one keeps its garbage rows.
    c.wait_health("garbage left only for the offline remote", 30, |h| h.workers.garbage_deleted > 0 && h.garbage > 0)
        .await
        .unwrap();
    c.restart_remote(2, addr).await.unwrap();
    c.wait_health("all garbage deleted", 30, |h| h.garbage == 0).await.unwrap();
    let store = c.remote(2).store();
    assert!(theirs.iter().all(|h| !store.contains(h)), "returning remote still holds garbage");
    assert!(before.iter().all(|h| store.contains(h)), "committed data was collected");
    let out = c.dir.path().join("out");
    a.get("/keep", &out, None).await.unwrap();
    same_file(&keep, &out);
}

#[tokio::test]
async fn an_interrupted_upload_is_collected_after_expiry_and_committed_data_never_is() {
    // Reservations (and so put grants) last 4 s: long enough for a loaded
    // CI machine to finish the puts that should finish, short for the test.
    let c = Cluster::start_with(4, pyxis_testkit::DEFAULT_CAPACITY, |o| o.pending_ttl = Duration::from_secs(4))
        .await
        .unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let (keep, big) = (c.dir.path().join("keep"), c.dir.path().join("big"));
    random_file(&keep, 5, 2 << 20);
    random_file(&big, 6, 64 << 20);
    a.put(&keep, "/keep").await.unwrap();
    let committed: Vec<Vec<_>> = (0..4).map(|i| c.remote(i).store().list()).collect();
    // Interrupt a put once some shards are up (as a killed client would).
    let progress = a.progress();
    let mut put = Box::pin(a.put(&big, "/big"));
    let wait = async {
        while progress.wire.load(std::sync::atomic::Ordering::Relaxed) < 8 << 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        _ = &mut put => panic!("the put finished before it could be interrupted"),
        _ = wait => {}
    }
    drop(put); // the client is gone mid-upload (its upload tasks with it)
    let wire = || progress.wire.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = wire();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(wire(), sent, "shards kept going up after the put was dropped");
    let stray = |c: &Cluster| -> usize {
        (0..4).map(|i| c.remote(i).store().list().len().saturating_sub(committed[i].len())).sum()
    };
    assert!(stray(&c) > 0);
    c.wait_health("the interrupted upload collected", 30, |h| h.workers.chunks_expired > 0 && h.garbage == 0)
        .await
        .unwrap();
    // Reservations expire one collection pass at a time; every stray shard
    // must go, and no committed one may, at any point on the way.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        for (i, before) in committed.iter().enumerate() {
            let now = c.remote(i).store().list();
            assert!(before.iter().all(|h| now.contains(h)), "remote {i}: a committed shard was collected");
        }
        let left = stray(&c);
        if left == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{left} stray shards still on the remotes after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing lands afterwards: the dropped put left no upload running.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stray(&c), 0, "shards arrived after the put was dropped");
    assert!(a.api().stat("/big").await.is_err());
    let out = c.dir.path().join("out");
    a.get("/keep", &out, None).await.unwrap();
    same_file(&keep, &out);
}

#[tokio::test]
async fn a_server_restarted_mid_repair_finishes_the_repair() {
    // Slow repair (2 MB/s) so the restart lands in the middle of it.
    let mut c = Cluster::start_with(5, pyxis_testkit::DEFAULT_CAPACITY, |o| o.durability.repair_bandwidth = 2_000_000)
        .await
        .unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 7, 24 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "3+2");
    c.stop_remote(4).await;
    c.add_remote().await.unwrap();
    c.wait_health("repair under way", 60, |h| h.workers.shards_rebuilt >= 1).await.unwrap();
    let h = c.health().await;
    assert!(!fully_healthy(&h, 5), "repair finished before the restart; slow it down");
    c.restart_server().await.unwrap();
    c.wait_online(5).await.unwrap();
    c.wait_health("repair finished after the restart", 120, |h| fully_healthy(h, 5)).await.unwrap();
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn growing_from_three_to_ten_remotes_widens_old_chunks() {
    let mut c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 8, 12 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "2+1");
    for _ in 0..7 {
        c.add_remote().await.unwrap();
    }
    c.wait_online(10).await.unwrap();
    let h = c.wait_health("every chunk at 6+4", 90, |h| fully_healthy(h, 10)).await.unwrap();
    assert!(h.workers.chunks_reencoded >= 1);
    // The old 2+1 shards are garbage, and deleted.
    c.wait_health("old shards deleted", 30, |h| h.garbage == 0).await.unwrap();
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn audits_catch_a_remote_that_lost_its_shards() {
    // Seven remotes: a 4+2 chunk always has a remote without a shard of it.
    let c = Cluster::start_with(7, pyxis_testkit::DEFAULT_CAPACITY, |o| {
        o.durability.audit_sample = 16;
        o.durability.reencode = false;
    })
    .await
    .unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 9, 16 << 20);
    a.put(&f, "/f").await.unwrap();
    // Remote 3 silently loses everything (its disk was wiped behind its back).
    let store = c.remote(3).store();
    for h in store.list() {
        store.delete(&h).await.unwrap();
    }
    let h = c
        .wait_health("the remote caught and its data rebuilt", 90, |h| {
            h.workers.audits_failed >= 3 && fully_healthy(h, 6)
        })
        .await
        .unwrap();
    let remotes = c.server().state().db.all_remotes().await.unwrap();
    let r3 = remotes.iter().find(|(r, _)| Some(r.id) == c.remote(3).remote_id()).unwrap();
    assert_eq!(pyxis_server::db::remotes::state_name(r3.0.state), "suspect", "remote 3 after its audits failed");
    assert_eq!(r3.1, 0, "nothing is placed on a suspect remote any more");
    assert!(h.workers.audits_passed > 0);
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn a_remote_failing_audits_while_thought_offline_still_becomes_suspect() {
    use pyxis_server::db::remotes::state_name;
    let c = Cluster::start(3).await.unwrap();
    let db = &c.server().state().db;
    let id = c.remote(0).remote_id().unwrap();
    let state = || async { db.remote(id).await.unwrap().unwrap() };
    // Its heartbeat came late (a loaded machine): the sweeper marks it offline.
    db.mark_silent_offline(i64::MAX).await.unwrap();
    assert_eq!(state_name(state().await.state), "offline");
    // Yet it answers audits, without the bytes.
    // (Failures of shards it receipted: those are held against it.)
    let limits = pyxis_server::db::durability::AuditLimits { suspect_after: 3, vet_after: 50 };
    for _ in 0..3 {
        db.audit_result(id, &[9; 32], false, true, limits).await.unwrap();
    }
    assert_eq!(state_name(state().await.state), "suspect");
    // Its next heartbeat does not wash the failures out.
    let seen = state().await.last_seen;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while state().await.last_seen == seen {
        assert!(std::time::Instant::now() < deadline, "no heartbeat in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state_name(state().await.state), "suspect");
}

#[tokio::test]
async fn draining_a_remote_moves_its_shards_away() {
    let c = Cluster::start(7).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 10, 16 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "4+2");
    let id = c.remote(0).remote_id().unwrap();
    let token = std::fs::read_to_string(c.dir.path().join("server/admin-token")).unwrap();
    let admin = c.api().with_token(token.trim());
    admin.admin_drain(id).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = admin.admin_remotes().await.unwrap();
        let me = r.remotes.iter().find(|x| x.id == id).unwrap();
        if me.state == "drained" && me.shards == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not drained: {me:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.wait_health("garbage deleted from the drained remote", 30, |h| h.garbage == 0 && fully_healthy(h, 6))
        .await
        .unwrap();
    assert!(c.remote(0).store().list().is_empty(), "a drained remote keeps nothing");
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn upload_grants_end_with_the_reservation_they_serve() {
    use pyxis_proto::api::chunks::{PlaceChunk, PlaceRequest, ReplaceRequest};
    use pyxis_proto::grant::{Grant, decode_token};
    use pyxis_proto::{ChunkId, ShardHash};
    // Grants would last an hour; reservations of unfinished uploads 20 s.
    // Seven remotes: 4+2, and one to spare for the replacement.
    let c = Cluster::start_with(7, pyxis_testkit::DEFAULT_CAPACITY, |o| o.pending_ttl = Duration::from_secs(20))
        .await
        .unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let id = ChunkId([7; 32]);
    let shards = (0..6).map(|i| ShardHash([i; 32])).collect();
    let expires = |token: &str| Grant::parse_signed(&decode_token(token).unwrap()).unwrap().0.expires;
    let now = pyxis_crypto::grants::unix_now();
    let placed = a
        .api()
        .place(&PlaceRequest { chunks: vec![PlaceChunk { id, scheme: None, blob_len: 3000, shards }] })
        .await
        .unwrap();
    let targets = &placed.chunks[0].targets;
    assert_eq!(targets.len(), 6);
    for t in targets {
        let e = expires(&t.grant);
        assert!(
            (now + 19..=now + 21).contains(&e),
            "put grant expires at +{}s, not with the 20 s reservation",
            e - now
        );
    }
    // A re-placed shard gets a fresh grant, bounded the same way.
    let failed = vec![targets[0].remote_id];
    let moved = a.api().replace(&ReplaceRequest { id, index: 0, failed }).await.unwrap();
    assert_ne!(moved.remote_id, targets[0].remote_id);
    let e = expires(&moved.grant);
    assert!(e <= pyxis_crypto::grants::unix_now() + 21, "replacement grant outlives the reservation");
    // The failed remote may hold the shard after all: its copy is garbage,
    // and collected (nothing else in this test makes any).
    c.wait_health("the old location of a re-placed shard collected", 20, |h| h.workers.garbage_deleted == 1)
        .await
        .unwrap();
}
