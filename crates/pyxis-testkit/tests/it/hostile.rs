//! The server as a stranger: a proxy over a real server rewrites its
//! answers, and the client must write nothing outside its target, panic on
//! nothing, and name what it refused. Each test also checks that the proxy
//! really told its lie.

use pyxis_testkit::Cluster;
use pyxis_testkit::hostile::{HostileServer, edit_json};
use serde_json::{Value, json};

/// alice with /docs/a.txt, /docs/b.txt and /notes.txt, and a device of hers
/// that talks to the server through `proxy`.
async fn setup(c: &Cluster) -> (HostileServer, pyxis_client::Client) {
    crate::support::alice_with_docs(c).await;
    let proxy = HostileServer::start(c).await.unwrap();
    let dev = c.device("alice-via-proxy");
    pyxis_client::account::login(&dev, &proxy.url, "alice", "pw").await.unwrap();
    (proxy, pyxis_client::Client::open(&dev, None, Default::default()).unwrap())
}

#[tokio::test]
async fn a_listing_with_dot_dot_and_outside_paths_writes_nothing_outside_the_target() {
    let c = Cluster::start(3).await.unwrap();
    let (proxy, client) = setup(&c).await;
    let outside = c.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let escape = format!("/docs/../../../../../../../..{}/pwned.txt", outside.display());
    let hostile = [escape.clone(), "/notes.txt".to_owned(), "/docs/../notes.txt".to_owned(), "docs/rel.txt".to_owned()];
    let injected = hostile.clone();
    proxy.rewrite("/v1/list", move |_, body| {
        edit_json(body, |v| {
            let entries = v["entries"].as_array_mut().unwrap();
            let template = entries.iter().find(|e| e["kind"] == "file").unwrap().clone();
            for p in &injected {
                let mut e = template.clone();
                e["path"] = json!(p);
                entries.push(e);
            }
        })
    });
    let dst = c.dir.path().join("dst");
    let report = client.get("/docs", &dst, None).await.unwrap();
    assert!(proxy.lies_told() >= 1, "the proxy never rewrote a listing");
    // The real files arrived; every hostile entry is named and skipped.
    assert!(dst.join("a.txt").exists() && dst.join("b.txt").exists());
    assert_eq!(report.files, 2, "{report:?}");
    for p in &hostile {
        let f = report.failed.iter().find(|f| f.path == *p).unwrap_or_else(|| panic!("{p} not reported: {report:?}"));
        assert!(f.error.contains("not a path under /docs"), "{}", f.error);
    }
    assert!(!outside.join("pwned.txt").exists(), "the server wrote outside the target");
    assert!(!dst.join("notes.txt").exists() && !c.dir.path().join("notes.txt").exists());
}

#[tokio::test]
async fn empty_swapped_and_broken_read_answers_are_refused_and_named() {
    let c = Cluster::start(3).await.unwrap();
    let (proxy, client) = setup(&c).await;
    let notes = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    let real_notes: Value = json!(
        notes
            .api()
            .read(&pyxis_proto::api::catalog::ReadRequest { paths: vec!["/notes.txt".into()], version: None })
            .await
            .unwrap()
            .files[0]
    );

    // An empty answer to the read of one file: an error, not a panic.
    proxy.rewrite("/v1/files/read", |_, _| Some(br#"{"files":[]}"#.to_vec()));
    let e = client.get("/docs/a.txt", &c.dir.path().join("one"), None).await.unwrap_err();
    assert!(e.to_string().contains("exactly the version of /docs/a.txt"), "{e}");
    // ... and to the reads of a tree: each file named, nothing written.
    let dst = c.dir.path().join("tree");
    let report = client.get("/docs", &dst, None).await.unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(report.failed.iter().all(|f| f.error.contains("left it out")), "{report:?}");
    assert!(!dst.join("a.txt").exists() && !dst.join("b.txt").exists());

    // Another file's version answered for /docs/a.txt (under its own path):
    // named, and not written under either name.
    proxy.honest();
    proxy.rewrite("/v1/files/read", move |_, body| {
        edit_json(body, |v| {
            if let Some(i) = v["files"].as_array().unwrap().iter().position(|f| f["path"] == "/docs/a.txt") {
                v["files"][i] = real_notes.clone();
            }
        })
    });
    let dst = c.dir.path().join("swapped");
    let report = client.get("/docs", &dst, None).await.unwrap();
    let f = report.failed.iter().find(|f| f.path == "/docs/a.txt").expect("the swap is reported");
    assert!(f.error.contains("/notes.txt"), "{}", f.error);
    assert!(!dst.join("a.txt").exists() && !dst.join("notes.txt").exists());
    assert!(dst.join("b.txt").exists(), "the honest part of the answer is used");

    // A truncated or oversized-looking answer is a clear error.
    proxy.honest();
    proxy.rewrite("/v1/files/read", |_, body| Some(body[..body.len() / 2].to_vec()));
    let e = client.get("/docs/a.txt", &c.dir.path().join("cut"), None).await.unwrap_err();
    assert!(e.to_string().contains("bad answer from the server"), "{e}");
    proxy.honest();
    proxy.rewrite("/v1/stat", |_, _| Some(b"[".repeat(100_000)));
    let e = client.get("/docs/a.txt", &c.dir.path().join("deep"), None).await.unwrap_err();
    assert!(e.to_string().contains("bad answer from the server"), "{e}");
    assert!(proxy.lies_told() >= 5, "{}", proxy.lies_told());
}

/// A listing whose cursor never moves on (or whose pages are empty with
/// more to come) would keep a client asking for ever: `get` and `ls` end
/// with an error that says so, and write nothing.
#[tokio::test]
async fn a_listing_cursor_that_does_not_move_forward_ends_the_command() {
    let c = Cluster::start(3).await.unwrap();
    let (proxy, client) = setup(&c).await;
    proxy.rewrite("/v1/list", |_, body| edit_json(body, |v| v["next"] = json!("/docs/a.txt")));
    let limit = std::time::Duration::from_secs(60);
    let dst = c.dir.path().join("dst");
    let e = tokio::time::timeout(limit, client.get("/docs", &dst, None)).await.expect("get kept asking").unwrap_err();
    assert!(e.to_string().contains("cursor does not move forward"), "{e}");
    assert!(!dst.join("a.txt").exists());
    let e = tokio::time::timeout(limit, client.list("/docs", true)).await.expect("ls kept asking").unwrap_err();
    assert!(e.to_string().contains("cursor does not move forward"), "{e}");
    // A put onto /docs lists it to skip what is unchanged: the same lie
    // ends the put before anything is written over /docs.
    let src = c.dir.path().join("reput");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"not what /docs/a.txt holds").unwrap();
    let e = tokio::time::timeout(limit, client.put(&src, "/docs")).await.expect("put kept asking").unwrap_err();
    assert!(e.to_string().contains("cursor does not move forward"), "{e}");
    assert_eq!(client.versions("/docs/a.txt").await.unwrap().versions.len(), 1, "the put wrote a version");
    let told = proxy.lies_told();
    assert!(told >= 6, "the proxy told {told} lies");
    // Empty pages that promise more are refused too.
    proxy.honest();
    proxy.rewrite("/v1/list", |_, body| {
        edit_json(body, |v| {
            v["entries"] = json!([]);
            v["next"] = json!("/docs/zzz");
        })
    });
    let e = tokio::time::timeout(limit, client.list("/docs", true)).await.expect("ls kept asking").unwrap_err();
    assert!(e.to_string().contains("empty page"), "{e}");
}
