//! The server as a stranger, as sync sees it.

use pyxis_testkit::hostile::{HostileServer, edit_json};

use crate::support::{Device, cluster};

/// A listed entry whose binding does not verify is refused; a refused
/// entry must not read as "removed on the server", which would delete the
/// device's copy.
#[tokio::test]
async fn a_refused_entry_is_left_alone_not_taken_for_removed() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    a.write("kept.txt", b"precious");
    a.write("other.txt", b"fine");
    a.sync().await;
    let proxy = HostileServer::start(&c).await.unwrap();
    let mut b = Device::at(&c, &proxy.url, "alice", "b", "/s").await;
    b.sync().await;
    assert_eq!(b.read("kept.txt"), b"precious");
    // The server now lies about kept.txt's size in every listing.
    proxy.rewrite("/v1/list", |_, body| {
        edit_json(body, |v| {
            for e in v["entries"].as_array_mut().unwrap() {
                if e["path"] == "/s/kept.txt" {
                    e["size"] = serde_json::json!(1);
                }
            }
        })
    });
    b.reopen(false).await; // a fresh start lists everything
    let r = b.folder.sync().await.unwrap();
    assert!(proxy.lies_told() >= 1, "the proxy never rewrote a listing");
    assert_eq!(r.removed_local, 0, "{r:?}");
    assert_eq!(b.read("kept.txt"), b"precious", "the local copy is still there");
    let (path, why) = r.skipped.iter().find(|(p, _)| p == "kept.txt").expect("reported");
    assert!(why.contains("refused"), "{path}: {why}");
    assert_eq!(b.read("other.txt"), b"fine");
}
