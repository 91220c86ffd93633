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

fn wire(d: &Device) -> u64 {
    d.folder.client().progress().totals().wire
}

#[tokio::test]
async fn a_big_file_edited_in_the_middle_costs_only_the_edit_both_ways() {
    use std::io::{Seek, Write};
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    a.write("big.bin", &pyxis_core::testdata::pseudo_random(5, 200 << 20));
    a.sync().await;
    b.sync().await;
    let (up0, down0) = (wire(&a), wire(&b));
    let mut f = std::fs::OpenOptions::new().write(true).open(a.path("big.bin")).unwrap();
    f.seek(std::io::SeekFrom::Start(100 << 20)).unwrap();
    f.write_all(&pyxis_core::testdata::pseudo_random(6, 1 << 20)).unwrap();
    drop(f);
    assert_eq!(a.sync().await.uploaded, 1);
    assert_eq!(b.sync().await.downloaded, 1);
    assert_eq!(a.read("big.bin"), b.read("big.bin"));
    let (up, down) = (wire(&a) - up0, wire(&b) - down0);
    eprintln!("1 MiB overwrite in 200 MiB: {up} bytes up, {down} bytes down");
    // A few chunks around the edit, with parity: not the file again (300 MiB).
    assert!(up < 24 << 20, "uploaded {up}");
    assert!(down < 24 << 20, "downloaded {down}");
}

#[tokio::test]
async fn a_file_changed_while_it_uploads_is_never_committed_half_and_half() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let (old, new) =
        (pyxis_core::testdata::pseudo_random(1, 64 << 20), pyxis_core::testdata::pseudo_random(2, 64 << 20));
    a.write("moving.bin", &old);
    let path = a.path("moving.bin");
    let new2 = new.clone();
    // Rewritten in place, a piece at a time, while the pass reads it.
    let writer = std::thread::spawn(move || {
        use std::os::unix::fs::FileExt;
        std::thread::sleep(std::time::Duration::from_millis(30));
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for (i, piece) in new2.chunks(1 << 20).enumerate() {
            f.write_all_at(piece, (i << 20) as u64).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
    let first = a.folder.sync().await.unwrap();
    writer.join().unwrap();
    eprintln!("first pass: {:?} uploaded, {:?} failed", first.uploaded, first.failed);
    // Settles on the new content.
    for _ in 0..5 {
        if a.folder.sync().await.unwrap().failed.is_empty() {
            break;
        }
    }
    let out = c.dir.path().join("check");
    let client = a.folder.client();
    let versions = client.versions("/s/moving.bin").await.unwrap();
    for v in &versions.versions {
        client.get("/s/moving.bin", &out, Some(v.version)).await.unwrap();
        let got = std::fs::read(&out).unwrap();
        assert!(got == old || got == new, "version {} is neither the old nor the new content", v.version);
    }
    client.get("/s/moving.bin", &out, None).await.unwrap();
    assert!(std::fs::read(&out).unwrap() == new, "the current version is the new content");
}

#[tokio::test]
async fn a_device_offline_for_many_changes_catches_up() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    a.write("start", b"0");
    a.sync().await;
    b.sync().await;
    // b is away while a makes 20 passes of changes.
    for round in 0..20 {
        a.write(&format!("r{round}/new.txt"), format!("round {round}").as_bytes());
        a.write("start", format!("{round}").as_bytes());
        if round % 3 == 0 && round > 0 {
            std::fs::remove_file(a.path(&format!("r{}/new.txt", round - 1))).unwrap();
        }
        if round == 10 {
            std::fs::rename(a.path("r2"), a.path("moved")).unwrap();
        }
        a.sync().await;
    }
    b.reopen(false).await;
    b.sync().await;
    assert_eq!(a.tree(), b.tree());
    assert_eq!(b.read("start"), b"19");
}

#[tokio::test]
async fn ten_thousand_small_files_sync_in_a_few_round_trips() {
    let c = cluster("alice").await;
    let mut a = Device::new(&c, "alice", "a", "/s").await;
    let mut b = Device::new(&c, "alice", "b", "/s").await;
    for i in 0..10_000u64 {
        let len = 1024 + (i as usize * 7919) % 7168;
        a.write(&format!("d{:02}/f{i:05}", i % 100), &pyxis_core::testdata::pseudo_random(i, len));
    }
    let t = std::time::Instant::now();
    assert_eq!(a.sync().await.uploaded, 10_000);
    let up = t.elapsed();
    let t = std::time::Instant::now();
    assert_eq!(b.sync().await.downloaded, 10_000);
    eprintln!("10,000 files: up {up:?}, down {:?}", t.elapsed());
    assert_eq!(a.tree(), b.tree());
}
