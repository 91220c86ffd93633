//! History: removed files go to the trash and come back; `forget` and the
//! server's collection keep what the retention policy says and free the
//! rest; only the owner deletes for good.

use std::time::Duration;

use pyxis_client::{Client, ClientError};
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::history::{ForgetRequest, RetentionInfo, TrashEmptyRequest, TrashRestoreRequest};
use pyxis_proto::api::shares::ShareMode;
use pyxis_proto::retention::Retention;
use pyxis_testkit::Cluster;

use crate::support::random_file;

fn code(e: &ClientError) -> Option<ErrorCode> {
    e.code()
}

/// Waits up to 20 s for `cond`.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while !cond().await {
        assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn versions(c: &Client, p: &str) -> Vec<i64> {
    c.api().versions(p).await.unwrap().versions.iter().map(|v| v.version).collect()
}

async fn used(c: &Client) -> u64 {
    c.api().usage().await.unwrap().used
}

#[tokio::test]
async fn removed_files_go_to_the_trash_and_come_back() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("src");
    let first = random_file(&src.join("a"), 1, 30_000);
    a.put(&src.join("a"), "/d/a").await.unwrap();
    let a2 = random_file(&src.join("a"), 2, 30_000);
    a.put(&src.join("a"), "/d/a").await.unwrap();
    let b = random_file(&src.join("b"), 3, 5_000);
    a.put(&src.join("b"), "/d/b").await.unwrap();
    let before = used(&a).await;

    let r = a.remove("/d", true).await.unwrap();
    assert_eq!((r.files, r.dirs), (2, 1));
    assert_eq!(code(&a.api().stat("/d/a").await.unwrap_err()), Some(ErrorCode::NotFound));
    assert!(a.api().list("/", true, None).await.unwrap().entries.is_empty(), "the trash is not in the tree");
    let trash = a.trash(None).await.unwrap();
    let mut paths: Vec<_> = trash.iter().map(|i| (i.entry.path.as_str(), i.versions)).collect();
    paths.sort();
    assert_eq!(paths, [("/d/a", 2), ("/d/b", 1)]);
    assert!(trash.iter().all(|i| i.expires_at - i.removed_at == Retention::default_policy().trash_ms()));
    let u = a.api().usage().await.unwrap();
    assert_eq!((u.trashed_files, u.trashed_bytes, u.files), (2, 35_000, 0));
    assert_eq!(u.used, before, "the quota still counts the trash");

    // Back where it was: the next version, so every device that saw it
    // removed sees something newer (this one removed it, and accepts it).
    let back = a.restore_from_trash("/d/a", None, None).await.unwrap();
    assert_eq!((back.path.as_str(), back.version), ("/d/a", Some(3)));
    assert_eq!(versions(&a, "/d/a").await, [1, 2, 3], "its history came back with it");
    let out = c.dir.path().join("out");
    a.get("/d/a", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), a2);
    a.restore("/d/a", 1).await.unwrap();
    a.get("/d/a", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), first);

    // Elsewhere, re-bound to its new path; an occupied path is refused.
    a.put(&src.join("a"), "/d/b").await.unwrap();
    let e = a.restore_from_trash("/d/b", None, None).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::Exists), "{e}");
    // A new path needs the entry tag made for it: the server cannot bind.
    let id = a.trash(None).await.unwrap().iter().find(|i| i.entry.path == "/d/b").unwrap().id;
    let bare = TrashRestoreRequest { id, to: Some("/e/b".into()), entry_tag: None };
    assert_eq!(code(&a.api().trash_restore(&bare).await.unwrap_err()), Some(ErrorCode::BindingRequired));
    let moved = a.restore_from_trash("/d/b", None, Some("/e/b")).await.unwrap();
    assert_eq!(moved.path, "/e/b");
    a.get("/e/b", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b);
    assert!(a.trash(None).await.unwrap().is_empty());
    let e = a.restore_from_trash("/d/b", None, None).await.unwrap_err();
    assert!(e.to_string().contains("not in the trash"), "{e}");

    // Emptying the trash deletes for good, and the space comes back.
    let before = used(&a).await;
    a.remove("/e/b", false).await.unwrap();
    assert_eq!(used(&a).await, before);
    let r = a.api().trash_empty(&TrashEmptyRequest { path: Some("/e".into()), ..Default::default() }).await.unwrap();
    assert_eq!((r.files, r.versions), (1, 2));
    until("the emptied file's chunks to be collected", || async { used(&a).await < before - 5_000 }).await;
    a.get("/d/a", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), first, "what is still kept reads back");
}

#[tokio::test]
async fn forget_keeps_what_the_policy_says_and_frees_the_rest() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("v");
    let mut bodies = Vec::new();
    for i in 0..4 {
        bodies.push(random_file(&f, 10 + i, 20_000));
        a.put(&f, "/v").await.unwrap();
    }
    let keep2 = Retention { keep_last: Some(2), ..Default::default() };
    let dry = ForgetRequest { path: None, policy: Some(keep2.clone()), dry_run: true };
    let r = a.api().forget(&dry).await.unwrap();
    let listed: Vec<i64> = r.forgotten.iter().map(|v| v.version).collect();
    assert_eq!((listed.as_slice(), r.kept), (&[2, 1][..], 2));
    assert_eq!(versions(&a, "/v").await, [1, 2, 3, 4], "a dry run forgets nothing");

    let before = used(&a).await;
    let r = a.api().forget(&ForgetRequest { dry_run: false, ..dry }).await.unwrap();
    assert_eq!(r.forgotten.len(), 2);
    assert_eq!(versions(&a, "/v").await, [3, 4]);
    until("forgotten versions' chunks to be collected", || async { used(&a).await < before - 30_000 }).await;
    let out = c.dir.path().join("out");
    a.get("/v", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bodies[3]);
    a.restore("/v", 3).await.unwrap();
    a.get("/v", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bodies[2]);

    // An empty policy would forget every older version: refused.
    let empty = ForgetRequest { policy: Some(Retention::default()), ..Default::default() };
    assert_eq!(code(&a.api().forget(&empty).await.unwrap_err()), Some(ErrorCode::BadPolicy));
    let bad = RetentionInfo { policy: Some(Retention::default()), default: false };
    assert_eq!(code(&a.api().set_retention(&bad).await.unwrap_err()), Some(ErrorCode::BadPolicy));
}

/// The account's saved policy is what collection applies, to history and
/// to the trash; until then (the default) nothing young goes.
#[tokio::test]
async fn collection_applies_the_saved_policy_to_history_and_the_trash() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("h");
    for i in 0..3 {
        random_file(&f, 20 + i, 10_000);
        a.put(&f, "/h").await.unwrap();
    }
    a.put(&f, "/gone").await.unwrap();
    a.remove("/gone", false).await.unwrap();
    // Several collection passes under the default policy keep everything.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(versions(&a, "/h").await, [1, 2, 3]);
    assert_eq!(a.trash(None).await.unwrap().len(), 1);
    let info = a.api().retention().await.unwrap();
    assert!(info.default && info.policy == Some(Retention::default_policy()));

    let short = Retention { keep_within: Some(1), ..Default::default() };
    let info = a.api().set_retention(&RetentionInfo { policy: Some(short.clone()), default: false }).await.unwrap();
    assert_eq!((info.policy, info.default), (Some(short), false));
    until("collection to apply the policy", || async {
        versions(&a, "/h").await == [3] && a.trash(None).await.unwrap().is_empty()
    })
    .await;
    let out = c.dir.path().join("out");
    a.get("/h", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&f).unwrap());
}

/// A writer through a share removes into the owner's trash, and cannot
/// delete for good, nor see or empty the owner's trash.
#[tokio::test]
async fn only_the_owner_deletes_for_good() {
    let c = Cluster::start(3).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let bob = c.signup("bob", "pw").await.unwrap();
    let f = c.dir.path().join("w");
    let body = random_file(&f, 30, 7_000);
    alice.put(&f, "/docs/w").await.unwrap();
    alice.share("/docs", "bob", ShareMode::Write, None).await.unwrap();
    let e = bob.remove_with("@alice/docs/w", false, true).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::ReadOnlyShare), "{e}");
    bob.remove("@alice/docs/w", false).await.unwrap();
    assert!(bob.trash(None).await.unwrap().is_empty(), "bob's own trash");
    let items = alice.trash(None).await.unwrap();
    assert_eq!(items.len(), 1);
    alice.restore_from_trash("/docs/w", None, None).await.unwrap();
    let out = c.dir.path().join("out");
    alice.get("/docs/w", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    // bob cannot name alice's items: ids are per owner.
    let r = bob.api().trash_empty(&TrashEmptyRequest { ids: vec![items[0].id], path: None }).await.unwrap();
    assert_eq!(r.files, 0);
}
