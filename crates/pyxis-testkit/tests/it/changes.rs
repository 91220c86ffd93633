//! The change feed: a per-user sequence of catalog changes that only grows,
//! replayed after a cursor (across a server restart) and pushed live, by
//! long poll and over a WebSocket; through a share, the shared path only.

use std::time::Duration;

use futures::StreamExt;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::changes::{ChangeKind, ChangesResponse};
use pyxis_proto::api::shares::ShareMode;
use pyxis_testkit::{Cluster, change_feed};

use crate::support::random_file;

fn kinds(r: &ChangesResponse) -> Vec<(ChangeKind, &str)> {
    r.changes.iter().map(|c| (c.kind, c.path.as_str())).collect()
}

#[tokio::test]
async fn the_feed_replays_after_a_cursor_and_wakes_its_readers() {
    let mut c = Cluster::start(3).await.unwrap();
    let alice = crate::support::alice_with_docs(&c).await;
    let all = alice.api().changes(0, 0).await.unwrap();
    let mut seen = kinds(&all);
    seen.sort_by_key(|(_, p)| p.to_string());
    assert_eq!(
        seen,
        [
            (ChangeKind::Mkdir, "/docs"),
            (ChangeKind::Commit, "/docs/a.txt"),
            (ChangeKind::Commit, "/docs/b.txt"),
            (ChangeKind::Commit, "/notes.txt")
        ]
    );
    assert!(all.changes.windows(2).all(|w| w[0].seq < w[1].seq), "{all:?}");
    assert_eq!((all.cursor, all.newest), (4, 4));
    assert!(all.changes.iter().filter(|c| c.kind == ChangeKind::Commit).all(|c| c.version == Some(1)));

    // Only what came after the cursor.
    alice.rename("/docs/a.txt", "/docs/z.txt").await.unwrap();
    alice.remove("/notes.txt", false).await.unwrap();
    let next = alice.api().changes(all.cursor, 0).await.unwrap();
    assert_eq!(kinds(&next), [(ChangeKind::Move, "/docs/a.txt"), (ChangeKind::Remove, "/notes.txt")]);
    assert_eq!(next.changes[0].to.as_deref(), Some("/docs/z.txt"));

    // A waiting reader (long poll) and a WebSocket both wake on a commit.
    let mut ws = change_feed(&c, "alice", next.cursor, None).await.unwrap();
    let api = alice.api().clone();
    let cursor = next.cursor;
    let waiting = tokio::spawn(async move { api.changes(cursor, 20).await });
    let src = c.dir.path().join("new.txt");
    random_file(&src, 9, 1_000);
    alice.put(&src, "/new.txt").await.unwrap();
    let woke = waiting.await.unwrap().unwrap();
    assert_eq!(kinds(&woke), [(ChangeKind::Commit, "/new.txt")], "the long poll ended without the change");
    let pushed = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(kinds(&pushed), [(ChangeKind::Commit, "/new.txt")]);

    // Changes made while a reader is away, and a server restart, lose nothing.
    drop(ws);
    alice.api().mkdir("/while-away", false).await.unwrap();
    c.restart_server().await.unwrap();
    alice.remove("/new.txt", false).await.unwrap();
    let back = alice.api().changes(woke.cursor, 0).await.unwrap();
    assert_eq!(kinds(&back), [(ChangeKind::Mkdir, "/while-away"), (ChangeKind::Remove, "/new.txt")]);
    let mut ws = change_feed(&c, "alice", woke.cursor, None).await.unwrap();
    let replayed = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(replayed.changes, back.changes);
}

#[tokio::test]
async fn a_grantee_follows_the_shared_path_and_learns_of_the_share() {
    let c = Cluster::start(3).await.unwrap();
    let alice = crate::support::alice_with_docs(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    let id = alice.share("/docs", "bob", ShareMode::Read, None).await.unwrap().share;
    let own = bob.api().changes(0, 0).await.unwrap();
    assert_eq!(kinds(&own), [(ChangeKind::Share, "@alice/docs")]);
    assert_eq!(own.changes[0].peer.as_deref(), Some("alice"));

    let through = bob.api().through_share(id);
    let start = through.changes(0, 0).await.unwrap();
    assert!(start.changes.iter().all(|c| c.path.starts_with("/docs")), "{start:?}");
    let mut ws = change_feed(&c, "bob", start.cursor, Some(id)).await.unwrap();
    alice.api().mkdir("/elsewhere", false).await.unwrap();
    alice.api().mkdir("/docs/inside", false).await.unwrap();
    let pushed = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(kinds(&pushed), [(ChangeKind::Mkdir, "/docs/inside")]);
    // An unshared user's socket is refused.
    let carol = c.signup("carol", "pw").await.unwrap();
    assert_eq!(carol.api().through_share(id).changes(0, 0).await.unwrap_err().code(), Some(ErrorCode::NotShared));
    assert!(change_feed(&c, "carol", 0, Some(id)).await.is_err());
}

#[tokio::test]
async fn a_commit_of_many_files_numbers_each_change_in_turn() {
    let c = Cluster::start(3).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("many");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..600 {
        random_file(&src.join(format!("f{i:03}")), i, 10);
    }
    alice.put(&src, "/many").await.unwrap();
    let r = alice.api().changes(0, 0).await.unwrap();
    assert_eq!(r.changes.len(), 601, "the directory and 600 files");
    assert!(r.changes.iter().enumerate().all(|(i, c)| c.seq == i as i64 + 1), "numbers skip or repeat");
    assert_eq!(r.changes.iter().filter(|c| c.kind == ChangeKind::Commit).count(), 600);
    assert_eq!((r.cursor, r.newest), (601, 601));
}
