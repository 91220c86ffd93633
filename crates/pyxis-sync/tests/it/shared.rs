//! Folders shared with the user sync too: a read-only share down only, a
//! write share both ways.

use pyxis_proto::api::shares::ShareMode;

use crate::support::{Device, cluster, conflict_copies};

#[tokio::test]
async fn a_read_only_share_syncs_down_only_and_a_write_share_both_ways() {
    let c = cluster("alice").await;
    c.signup("bob", "pw").await.unwrap();
    let mut owner = Device::new(&c, "alice", "desk", "/docs").await;
    owner.write("plan.txt", b"v1");
    owner.write("w/shared.txt", b"w1");
    owner.sync().await;
    let alice = owner.folder.client().clone();
    alice.share("/docs", "bob", ShareMode::Read, None).await.unwrap();

    let mut bob = Device::new(&c, "bob", "laptop", "@alice/docs").await;
    assert_eq!(bob.sync().await.downloaded, 2);
    assert_eq!(bob.read("plan.txt"), b"v1");
    // The owner's edits come down.
    owner.write("plan.txt", b"v2 from alice");
    owner.sync().await;
    bob.sync().await;
    assert_eq!(bob.read("plan.txt"), b"v2 from alice");
    // The grantee's edits stay on the grantee's disk, reported, never sent.
    bob.write("plan.txt", b"bob's local change");
    bob.write("new.txt", b"bob's new file");
    let r = bob.folder.sync().await.unwrap();
    assert_eq!(r.uploaded, 0);
    assert!(r.skipped.iter().any(|(p, why)| p == "plan.txt" && why.contains("read-only")), "{r:?}");
    owner.sync().await;
    assert_eq!(owner.read("plan.txt"), b"v2 from alice");
    assert!(!owner.path("new.txt").exists());
    // Both changed: the owner's version keeps the name, bob's edit a local copy.
    owner.write("plan.txt", b"v3 from alice");
    owner.sync().await;
    let r = bob.folder.sync().await.unwrap();
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    assert_eq!(bob.read("plan.txt"), b"v3 from alice");
    let tree = bob.tree();
    let copy = conflict_copies(&tree);
    assert_eq!(std::fs::read(bob.path(copy[0])).unwrap(), b"bob's local change");
    owner.sync().await;
    assert!(conflict_copies(&owner.tree()).is_empty(), "nothing of bob's reached alice's tree");

    // A write share: bob's edits go up, into alice's tree.
    alice.share("/docs/w", "bob", ShareMode::Write, None).await.unwrap();
    let mut writer = Device::new(&c, "bob", "desktop", "@alice/docs/w").await;
    writer.sync().await;
    assert_eq!(writer.read("shared.txt"), b"w1");
    writer.write("shared.txt", b"w2 from bob");
    assert_eq!(writer.sync().await.uploaded, 1);
    owner.sync().await;
    assert_eq!(owner.read("w/shared.txt"), b"w2 from bob");
}
