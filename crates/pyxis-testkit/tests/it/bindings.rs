//! Authenticated versions (issue 10): a proxy over a real server swaps,
//! rolls back, revives, injects and answers "unchanged" for a changed file;
//! each is refused with the file named and nothing written, and each test
//! checks that the proxy really served its lie. Moves and restores the
//! client makes pass the same checks; the server's own rewrites do not.

use pyxis_client::{Client, ClientError};
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::{FileVersion, ReadRequest};
use pyxis_testkit::Cluster;
use pyxis_testkit::hostile::{HostileServer, edit_json};
use serde_json::{Value, json};

use crate::support::random_file;

/// alice (signed up, so strict) with /docs/a.txt, /docs/b.txt and
/// /notes.txt, and a device of hers behind `proxy` that has bound
/// everything (`upgrade`, so strict too).
async fn setup(c: &Cluster) -> (Client, HostileServer, Client) {
    let alice = crate::support::alice_with_docs(c).await;
    let proxy = HostileServer::start(c).await.unwrap();
    let dev = c.device("alice-via-proxy");
    pyxis_client::account::login(&dev, &proxy.url, "alice", "pw").await.unwrap();
    let victim = Client::open(&dev, None, Default::default()).unwrap();
    let up = victim.upgrade("/").await.unwrap();
    assert_eq!((up.bound, up.remaining, up.already), (0, 0, 3), "{up:?}");
    (alice, proxy, victim)
}

/// What the honest server answers to a read of the current version of `path`.
async fn current(honest: &Client, path: &str) -> FileVersion {
    let r = honest.api().read(&ReadRequest { paths: vec![path.into()], version: None }).await.unwrap();
    r.files.into_iter().next().unwrap()
}

/// The proxy answers reads of `path` with `fv` (its path set to `path`).
fn serve_as(proxy: &HostileServer, path: &'static str, fv: &FileVersion) {
    let mut lie = json!(fv);
    lie["path"] = json!(path);
    proxy.rewrite("/v1/files/read", move |_, body| {
        edit_json(body, |v| {
            for f in v["files"].as_array_mut().unwrap() {
                if f["path"] == path {
                    *f = lie.clone();
                }
            }
        })
    });
}

fn tampered(e: &ClientError, path: &str) -> bool {
    matches!(e, ClientError::Tampered { path: p, .. } if p == path)
}

#[tokio::test]
async fn another_files_version_under_a_name_is_refused_and_named() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, proxy, victim) = setup(&c).await;
    // b.txt's whole version (manifest, key, binding) answered for a.txt.
    serve_as(&proxy, "/docs/a.txt", &current(&alice, "/docs/b.txt").await);
    let one = c.dir.path().join("one");
    let e = victim.get("/docs/a.txt", &one, None).await.unwrap_err();
    assert!(tampered(&e, "/docs/a.txt"), "{e}");
    assert!(e.to_string().contains("not bound to this path"), "{e}");
    assert!(!one.exists());
    let dst = c.dir.path().join("tree");
    let report = victim.get("/docs", &dst, None).await.unwrap();
    let f = report.failed.iter().find(|f| f.path == "/docs/a.txt").expect("the swap is reported");
    assert!(f.error.contains("refused what the server sent"), "{}", f.error);
    assert!(!dst.join("a.txt").exists() && dst.join("b.txt").exists());
    // Only the manifest and key swapped, a.txt's own binding kept: the
    // version tag catches it.
    let mut half = current(&alice, "/docs/a.txt").await;
    let b = current(&alice, "/docs/b.txt").await;
    (half.manifest, half.wrapped_key) = (b.manifest, b.wrapped_key);
    proxy.honest();
    serve_as(&proxy, "/docs/a.txt", &half);
    let e = victim.get("/docs/a.txt", &one, None).await.unwrap_err();
    assert!(tampered(&e, "/docs/a.txt") && e.to_string().contains("does not match what its writer bound"), "{e}");
    assert!(!one.exists());
    assert!(proxy.lies_told() >= 3, "{}", proxy.lies_told());
}

#[tokio::test]
async fn an_older_version_served_as_current_is_a_rollback_until_accepted() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, proxy, victim) = setup(&c).await;
    // The server keeps version 1 as it was while current, entry tag and all.
    let v1 = current(&alice, "/notes.txt").await;
    let f = c.dir.path().join("notes2");
    let edited = random_file(&f, 9, 2_500);
    alice.put(&f, "/notes.txt").await.unwrap();
    let out = c.dir.path().join("notes.out");
    victim.get("/notes.txt", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), edited);
    std::fs::remove_file(&out).unwrap();
    serve_as(&proxy, "/notes.txt", &v1);
    let e = victim.get("/notes.txt", &out, None).await.unwrap_err();
    assert!(matches!(e, ClientError::Rollback { seen: 2, served: 1, .. }), "{e}");
    assert!(e.to_string().contains("accept-rollback"), "{e}");
    assert!(!out.exists());
    assert!(proxy.lies_told() >= 1);
    // The user says the server was restored from a backup: accepted.
    victim.accept_rollback(Some("/notes.txt")).unwrap();
    victim.get("/notes.txt", &out, None).await.unwrap();
    assert_ne!(std::fs::read(&out).unwrap(), edited);
}

#[tokio::test]
async fn a_file_removed_here_and_served_again_is_refused() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, proxy, victim) = setup(&c).await;
    let old = current(&alice, "/docs/a.txt").await;
    let entry = alice.api().stat("/docs/a.txt").await.unwrap();
    victim.remove("/docs/a.txt", false).await.unwrap();
    // The server brings it back: in stat and in the read.
    proxy.answer("/v1/stat", 200, serde_json::to_vec(&entry).unwrap());
    proxy.answer("/v1/files/read", 200, serde_json::to_vec(&json!({ "files": [old] })).unwrap());
    let out = c.dir.path().join("a.out");
    let e = victim.get("/docs/a.txt", &out, None).await.unwrap_err();
    assert!(tampered(&e, "/docs/a.txt") && e.to_string().contains("removed it at version 1"), "{e}");
    assert!(!out.exists());
    assert!(proxy.lies_told() >= 2);
}

#[tokio::test]
async fn an_injected_file_is_refused_bound_or_not() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, proxy, victim) = setup(&c).await;
    let notes = current(&alice, "/notes.txt").await;
    let notes_entry: Value = json!(alice.api().stat("/notes.txt").await.unwrap());
    // Two injected entries in the listing of /docs: one carrying notes.txt's
    // binding, one with none (what a legacy file would look like).
    proxy.rewrite("/v1/list", move |_, body| {
        edit_json(body, |v| {
            let entries = v["entries"].as_array_mut().unwrap();
            for (path, bound) in [("/docs/evil.txt", true), ("/docs/legacy.txt", false)] {
                let mut e = notes_entry.clone();
                e["path"] = json!(path);
                if !bound {
                    e.as_object_mut().unwrap().remove("binding");
                }
                entries.push(e);
            }
        })
    });
    // The read of the four listed files, answered whole.
    let mut unbound = notes.clone();
    unbound.binding = None;
    let mut files = vec![current(&alice, "/docs/a.txt").await, current(&alice, "/docs/b.txt").await];
    for (path, mut fv) in [("/docs/evil.txt", notes), ("/docs/legacy.txt", unbound)] {
        fv.path = path.into();
        files.push(fv);
    }
    proxy.answer("/v1/files/read", 200, serde_json::to_vec(&json!({ "files": files })).unwrap());
    // Nothing is written under an injected name; the real files arrive.
    let dst = c.dir.path().join("tree");
    let report = victim.get("/docs", &dst, None).await.unwrap();
    for p in ["/docs/evil.txt", "/docs/legacy.txt"] {
        assert!(report.failed.iter().any(|f| f.path == p), "{p} not reported: {report:?}");
    }
    assert!(!dst.join("evil.txt").exists() && !dst.join("legacy.txt").exists());
    assert!(dst.join("a.txt").exists() && dst.join("b.txt").exists());
    // check names both, bound or not.
    let r = victim.check("/docs", false).await.unwrap();
    for p in ["/docs/evil.txt", "/docs/legacy.txt"] {
        assert!(r.problems.iter().any(|f| f.path == p), "check missed {p}: {r:?}");
    }
    assert!(proxy.lies_told() >= 2);
}

#[tokio::test]
async fn unchanged_for_a_changed_file_is_refused_in_the_listing_and_the_commit() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, proxy, victim) = setup(&c).await;
    let f = c.dir.path().join("notes.new");
    random_file(&f, 11, 2_000);
    let local = std::fs::metadata(&f).unwrap();
    let mtime = local.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    // The stat a put trusts to skip a file claims the local size and mtime.
    proxy.rewrite("/v1/stat", move |_, body| {
        edit_json(body, |v| {
            v["size"] = json!(2_000);
            v["mtime"] = json!(mtime);
            v["committed_at"] = json!(mtime + 60_000);
        })
    });
    let r = victim.put(&f, "/notes.txt").await.unwrap();
    let refused = r.failed.iter().find(|x| x.path == "/notes.txt").expect("the lie is reported");
    assert!(refused.error.contains("refused what the server sent"), "{}", refused.error);
    assert_eq!((r.files, r.unchanged), (0, 0), "{r:?}");
    // The commit answer claims "unchanged".
    proxy.honest();
    proxy.rewrite("/v1/commit", |_, body| {
        edit_json(body, |v| {
            for c in v["files"].as_array_mut().unwrap() {
                c["unchanged"] = json!(true);
                c["version"] = json!(1);
            }
        })
    });
    let r = victim.put(&f, "/notes.txt").await.unwrap();
    let failed = r.failed.iter().find(|x| x.path == "/notes.txt").expect("the lie is reported");
    assert!(failed.error.contains("claims it is unchanged"), "{}", failed.error);
    assert!(proxy.lies_told() >= 2);
    let _ = alice;
}

#[tokio::test]
async fn moves_and_restores_by_the_client_pass_and_the_servers_own_do_not() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, _proxy, victim) = setup(&c).await;
    let f = c.dir.path().join("v");
    let first = random_file(&f, 21, 3_000);
    alice.put(&f, "/docs/v.txt").await.unwrap();
    random_file(&f, 22, 3_100);
    alice.put(&f, "/docs/v.txt").await.unwrap();
    // A directory rename by the client: one call, every file re-bound.
    alice.rename("/docs", "/archive").await.unwrap();
    let dst = c.dir.path().join("moved");
    let report = victim.get("/archive", &dst, None).await.unwrap();
    assert_eq!((report.files, report.failed.len()), (3, 0), "{report:?}");
    // A restore by the client: the old version, bound as version 3.
    assert_eq!(alice.restore("/archive/v.txt", 1).await.unwrap().version, Some(3));
    let out = c.dir.path().join("v.out");
    victim.get("/archive/v.txt", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), first);
    let r = victim.check("/", true).await.unwrap();
    assert!(r.ok(), "{r:?}");
    // An honest server refuses a move or restore that would leave bound
    // files unbound (an older client's) ...
    for e in [
        alice.api().rename("/archive/a.txt", "/archive/a2.txt").await.unwrap_err(),
        alice.api().restore("/archive/v.txt", 2).await.unwrap_err(),
    ] {
        assert_eq!(e.code(), Some(ErrorCode::BindingRequired), "{e}");
    }
    // ... and a server that makes them on its own binds nothing: refused by name.
    let uid = alice.api().whoami().await.unwrap().id;
    let db = &c.server().state().db;
    let head = pyxis_client::binding::verify_entry(
        &pyxis_client::binding::Opener::own(c.keyring("alice").unwrap()),
        &Default::default(),
        &alice.api().stat("/archive/a.txt").await.unwrap(),
    )
    .unwrap()
    .unwrap();
    assert!(head.file_id.is_some());
    db.rename(uid, "/archive/a.txt", "/archive/a2.txt", &[("/archive/a2.txt".into(), vec![0; 32])]).await.unwrap();
    db.restore(uid, "/archive/v.txt", 2).await.unwrap();
    for p in ["/archive/a2.txt", "/archive/v.txt"] {
        let e = victim.get(p, &c.dir.path().join("x"), None).await.unwrap_err();
        assert!(tampered(&e, p), "{p}: {e}");
    }
    let r = victim.check("/", false).await.unwrap();
    assert_eq!(r.problems.len(), 2, "{r:?}");
}

#[tokio::test]
async fn a_put_over_a_version_that_moved_on_meanwhile_rebinds_and_commits() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, proxy, victim) = setup(&c).await;
    // The victim's view of /notes.txt is version 1; another device then
    // writes version 2 before the victim commits (the proxy serves the
    // version-1 entry once, as a listing taken a moment earlier would).
    let stale = serde_json::to_vec(&alice.api().stat("/notes.txt").await.unwrap()).unwrap();
    let f = c.dir.path().join("other");
    random_file(&f, 30, 1_000);
    alice.put(&f, "/notes.txt").await.unwrap();
    let once = std::sync::atomic::AtomicBool::new(true);
    proxy.rewrite("/v1/stat", move |_, _| once.swap(false, std::sync::atomic::Ordering::SeqCst).then(|| stale.clone()));
    let mine = c.dir.path().join("mine");
    let body = random_file(&mine, 31, 1_500);
    let r = victim.put(&mine, "/notes.txt").await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(proxy.lies_told(), 1);
    // The conflict was met by re-binding as version 3, not by overwriting.
    assert_eq!(victim.api().stat("/notes.txt").await.unwrap().version, Some(3));
    let out = c.dir.path().join("mine.out");
    victim.get("/notes.txt", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
}
