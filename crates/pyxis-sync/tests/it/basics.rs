//! Two devices in step: files, directories, modes, links, edits, renames.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Device, Node, cluster};

#[tokio::test]
async fn two_devices_converge_with_modes_links_and_empty_dirs() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "laptop", "/docs").await;
    let mut b = Device::new(&c, "alice", "desktop", "/docs").await;
    a.write("notes.txt", b"hello");
    a.write("deep/er/still/file.bin", &vec![7u8; 300_000]);
    a.write("bin/run.sh", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(a.path("bin/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    a.write("private", b"secret");
    std::fs::set_permissions(a.path("private"), std::fs::Permissions::from_mode(0o400)).unwrap();
    std::os::unix::fs::symlink("notes.txt", a.path("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", a.path("abs-link")).unwrap();
    std::fs::create_dir_all(a.path("empty/dir")).unwrap();
    let r = a.sync().await;
    assert_eq!(r.uploaded, 6, "{r:?}");
    let r = b.sync().await;
    assert_eq!(r.downloaded, 6, "{r:?}");
    assert_eq!(a.tree(), b.tree());
    assert_eq!(b.tree()["bin/run.sh"], Node::File { data: b"#!/bin/sh\necho hi\n".to_vec(), mode: 0o755 });
    assert_eq!(b.tree()["abs-link"], Node::Link("/etc/passwd".into()));
    assert_eq!(b.tree()["empty/dir"], Node::Dir);

    // An edit, a chmod, a removal and a new directory flow back.
    b.write("notes.txt", b"hello again");
    std::fs::set_permissions(b.path("bin/run.sh"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::remove_file(b.path("private")).unwrap();
    std::fs::create_dir(b.path("fresh")).unwrap();
    let r = b.sync().await;
    assert_eq!((r.uploaded, r.removed_remote), (2, 1), "{r:?}");
    let r = a.sync().await;
    assert_eq!((r.downloaded, r.removed_local), (2, 1), "{r:?}");
    assert_eq!(a.tree(), b.tree());
    assert_eq!(a.read("notes.txt"), b"hello again");
    // Quiet: nothing left to do on either side.
    assert_eq!(a.sync().await.planned, 0);
    assert_eq!(b.sync().await.planned, 0);
    // Every synced change is a version in the catalog's history.
    let v = a.folder.client().versions("/docs/notes.txt").await.unwrap();
    assert_eq!(v.versions.len(), 2);
}

#[tokio::test]
async fn renaming_a_directory_of_a_thousand_files_is_one_move() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    for i in 0..1000 {
        a.write(&format!("photos/{}/img{i}.jpg", i % 10), format!("image {i}").as_bytes());
    }
    a.sync().await;
    b.sync().await;
    let used = a.folder.client().api().quota().await.unwrap().used;
    std::fs::rename(a.path("photos"), a.path("Photos 2026")).unwrap();
    let r = a.sync().await;
    assert_eq!((r.moved, r.uploaded, r.removed_remote), (1, 0, 0), "{r:?}");
    assert!(r.paused.is_none());
    assert_eq!(a.folder.client().api().quota().await.unwrap().used, used, "nothing was stored again");
    let r = b.sync().await;
    assert_eq!((r.downloaded, r.removed_local), (0, 0), "renamed in place, not fetched again: {r:?}");
    assert_eq!(a.tree(), b.tree());
    assert!(b.path("Photos 2026/3/img3.jpg").exists() && !b.path("photos").exists());

    // A case-only rename of a file.
    std::fs::rename(a.path("Photos 2026/3/img3.jpg"), a.path("Photos 2026/3/IMG3.jpg")).unwrap();
    let r = a.sync().await;
    assert_eq!(r.moved, 1, "{r:?}");
    b.sync().await;
    assert_eq!(a.tree(), b.tree());
}

#[tokio::test]
async fn a_name_the_server_refuses_is_skipped_and_reported() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    a.write("ok.txt", b"fine");
    a.write("invoice\u{202E}fdp.exe", b"tricky");
    let r = a.sync().await;
    assert_eq!(r.uploaded, 1);
    let (path, why) = r.skipped.iter().find(|(p, _)| p.contains('\u{202E}')).expect("reported");
    assert!(why.contains("U+202E"), "{path}: {why}");
    assert!(a.folder.status.skipped.iter().any(|(p, _)| p == path), "in the status too");
}
