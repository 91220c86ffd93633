//! Concurrent edits: conflict copies, edit against delete, and the same
//! content on both sides.

use crate::support::{Device, Node, cluster, conflict_copies};

#[tokio::test]
async fn simultaneous_offline_edits_keep_both_in_one_conflict_copy() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "laptop", "/s").await;
    let mut b = Device::new(&c, "alice", "desktop", "/s").await;
    a.write("report.txt", b"v1");
    a.sync().await;
    b.sync().await;
    a.write("report.txt", b"laptop's edit");
    b.write("report.txt", b"desktop's edit!");
    a.sync().await; // the laptop's commit reaches the server first
    let r = b.sync().await;
    assert_eq!(r.conflicts.len(), 1, "{r:?}");
    a.sync().await;
    let (ta, tb) = (a.tree(), b.tree());
    assert_eq!(ta, tb);
    let copies = conflict_copies(&ta);
    assert_eq!(copies.len(), 1, "{ta:?}");
    assert!(copies[0].starts_with("report (conflict from desktop ") && copies[0].ends_with(".txt"), "{copies:?}");
    // The first commit keeps the name; the other edit is the copy.
    assert_eq!(a.read("report.txt"), b"laptop's edit");
    assert_eq!(ta[copies[0]], Node::File { data: b"desktop's edit!".to_vec(), mode: 0o644 });
    // Quiet afterwards: a copy never causes another.
    assert_eq!(a.sync().await.planned + b.sync().await.planned, 0);
    assert!(conflict_copies(&a.tree()).len() == 1);
}

#[tokio::test]
async fn an_edit_beats_a_delete_in_either_order() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    a.write("one", b"1");
    a.write("two", b"2");
    a.write("keep", b"k");
    a.sync().await;
    b.sync().await;
    // a edits `one` and deletes `two`; b deletes `one` and edits `two`.
    a.write("one", b"1 edited");
    std::fs::remove_file(a.path("two")).unwrap();
    std::fs::remove_file(b.path("one")).unwrap();
    b.write("two", b"2 edited");
    a.sync().await;
    b.sync().await;
    a.sync().await;
    for d in [&a, &b] {
        assert_eq!(d.read("one"), b"1 edited", "{}", d.name);
        assert_eq!(d.read("two"), b"2 edited", "{}", d.name);
    }
    assert_eq!(a.tree(), b.tree());
    assert!(conflict_copies(&a.tree()).is_empty());
}

#[tokio::test]
async fn the_same_new_file_on_both_sides_is_no_conflict() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    a.write("same.txt", b"identical bytes");
    b.write("same.txt", b"identical bytes");
    a.sync().await;
    let r = b.sync().await;
    assert!(r.conflicts.is_empty() && r.downloaded == 0 && r.uploaded == 0, "{r:?}");
    assert_eq!(a.tree(), b.tree());
    let v = a.folder.client().versions("/s/same.txt").await.unwrap();
    assert_eq!(v.versions.len(), 1);
}
