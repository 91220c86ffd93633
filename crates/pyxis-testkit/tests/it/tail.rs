//! Remotes on stalled links: a put is done when each chunk has reached its
//! success threshold; the shards still in flight get a grace measured on the
//! others and are then cancelled, left to repair. A read that falls behind
//! is hedged on another remote, and a transfer silent for `SHARD_STALL` is
//! given up on, so a chunk that needs a stalled remote's shard moves it.

use std::path::PathBuf;
use std::time::Duration;

use pyxis_client::Client;
use pyxis_testkit::Cluster;
use pyxis_testkit::rogue::{Lie, RogueRemote};

use crate::support::{random_file, same_file};

/// Bounds the test, not the put: without the grace, a put waited on the
/// stalled remote until the HTTP timeout (300 s a shard).
const BOUND: Duration = Duration::from_secs(120);

/// Six honest remotes and `rogues` vetted ones (placed shards as often as
/// anyone) that answer as `lie` says, alice signed up, and a random file of
/// `len` bytes at `DIR/f`.
async fn network(rogues: usize, lie: Lie, seed: u64, len: usize) -> (Cluster, Vec<RogueRemote>, Client, PathBuf) {
    let c = Cluster::start(6).await.unwrap();
    let mut started = Vec::new();
    for _ in 0..rogues {
        let token = c.admission_token(true, None).await.unwrap();
        started.push(RogueRemote::start(&c, &token, lie.clone()).await.unwrap());
    }
    c.wait_online(6 + rogues).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, seed, len);
    (c, started, a, f)
}

#[tokio::test]
async fn a_remote_that_takes_uploads_and_never_answers_holds_no_put() {
    let (c, rogues, a, f) = network(1, Lie::Stall, 7, 24 << 20).await;
    let stalled = &rogues[0];
    let report =
        tokio::time::timeout(BOUND, a.put(&f, "/f")).await.expect("the put waited on the stalled remote").unwrap();
    assert!(stalled.acked() > 0, "the stalled remote was sent no shard: the test proved nothing");
    assert!(report.totals.tail_cut > 0, "no upload was cut, yet the stalled remote took some: {:?}", report.totals);
    assert!(report.failed.is_empty(), "{:?}", report.failed);

    // Every chunk is stored on the others: the file reads back whole, and
    // no shard on the stalled remote has a receipt (what it never
    // answered for is repair's to place).
    let out = c.dir.path().join("out");
    tokio::time::timeout(BOUND, a.get("/f", &out, None)).await.expect("the get waited on the stalled remote").unwrap();
    same_file(&f, &out);
    let db = &c.server().state().db;
    let user = db.user_by_name("alice").await.unwrap().unwrap().id;
    for id in db.chunk_ids(user).await.unwrap() {
        let shards = db.chunk_shards(user, &id).await.unwrap();
        let on_stalled: Vec<_> = shards.iter().filter(|s| s.remote_id == stalled.remote_id()).collect();
        assert!(on_stalled.iter().all(|s| s.proof == 0), "chunk {id}: a shard on the stalled remote has a receipt");
    }
}

#[tokio::test]
async fn a_remote_that_stalls_on_reads_holds_no_get() {
    let (c, rogues, a, f) = network(1, Lie::StallReads, 8, 40 << 20).await;
    let stalled = &rogues[0];
    a.put(&f, "/f").await.unwrap();
    assert!(stalled.acked() > 0, "the stalling remote took no shard: the test proved nothing");
    let out = c.dir.path().join("out");
    tokio::time::timeout(BOUND, a.get("/f", &out, None)).await.expect("the get waited on the stalled remote").unwrap();
    same_file(&f, &out);
    assert!(stalled.reads() > 0, "no read went to the stalling remote: the test proved nothing");
    assert!(a.progress().totals().hedges > 0, "the stalled reads were not hedged: {:?}", a.progress().totals());
}

#[tokio::test]
async fn two_stalled_remotes_are_given_up_on_for_their_silence_and_the_put_moves_on() {
    let (c, stalled, a, f) = network(2, Lie::Stall, 9, 24 << 20).await;
    // 4+2 with a threshold of 5: a chunk placed on both stalled remotes
    // reaches it only if one of them is given up on and its shard moved.
    let report =
        tokio::time::timeout(BOUND, a.put(&f, "/f")).await.expect("the put waited on the stalled remotes").unwrap();
    assert_eq!(report.scheme, "4+2");
    assert!(stalled.iter().all(|r| r.acked() > 0), "a stalled remote was sent no shard: the test proved less");
    assert!(report.totals.failovers > 0, "no upload moved off a stalled remote: {:?}", report.totals);
    let out = c.dir.path().join("out");
    tokio::time::timeout(BOUND, a.get("/f", &out, None)).await.expect("the get waited on the stalled remotes").unwrap();
    same_file(&f, &out);
}
