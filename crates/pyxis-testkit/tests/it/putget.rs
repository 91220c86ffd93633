//! Files and trees in and out, byte for byte.

use pyxis_testkit::Cluster;

use crate::support::{random_file, same_file, set_mtime};

#[tokio::test]
async fn sizes_round_trip() {
    let c = Cluster::start(6).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let work = c.dir.path().join("work");
    for (i, len) in [0usize, 1, 4096, 4097, 300_000, 5 << 20].into_iter().enumerate() {
        let src = work.join(format!("in-{len}"));
        random_file(&src, i as u64, len);
        let report = alice.put(&src, &format!("/f{len}")).await.unwrap();
        assert_eq!(report.files, 1, "{len}: {report:?}");
        assert!(report.failed.is_empty(), "{report:?}");
        let out = work.join(format!("out-{len}"));
        alice.get(&format!("/f{len}"), &out, None).await.unwrap();
        same_file(&src, &out);
    }
    let ls = alice.api().list("/", false, None).await.unwrap();
    assert_eq!(ls.entries.len(), 6);
}

#[tokio::test]
async fn a_200_mib_file_round_trips() {
    let c = Cluster::start(6).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("big");
    random_file(&src, 200, 200 << 20);
    let r = alice.put(&src, "/big").await.unwrap();
    assert_eq!(r.scheme, "4+2");
    assert_eq!(r.totals.new, 200 << 20);
    // Shards carry the 4+2 expansion plus headers and padding: ~1.5x.
    let ratio = r.totals.wire as f64 / r.totals.new as f64;
    assert!((1.49..1.52).contains(&ratio), "wire/new = {ratio}");
    let out = c.dir.path().join("big.out");
    alice.get("/big", &out, None).await.unwrap();
    same_file(&src, &out);
}

#[tokio::test]
async fn a_tree_of_a_thousand_files_round_trips() {
    let c = Cluster::start(4).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("tree");
    // Tiny (inline), small (packed) and big (own chunks) files, nested.
    for i in 0..1000u64 {
        let len = match i % 10 {
            0 => 0,
            1..=5 => 100 + (i as usize * 37) % 4000,
            6..=8 => 5000 + (i as usize * 997) % 200_000,
            _ => 300_000 + (i as usize * 7919) % 700_000,
        };
        random_file(&src.join(format!("d{}/e{}/f{i}", i % 7, i % 3)), i, len);
    }
    std::fs::create_dir_all(src.join("empty/inner")).unwrap();
    let r = alice.put(&src, "/tree").await.unwrap();
    assert_eq!((r.files, r.failed.len()), (1000, 0), "{r:?}");
    let out = c.dir.path().join("out");
    let g = alice.get("/tree", &out, None).await.unwrap();
    assert_eq!((g.files, g.failed.len()), (1000, 0));
    for i in 0..1000u64 {
        let rel = format!("d{}/e{}/f{i}", i % 7, i % 3);
        same_file(&src.join(&rel), &out.join(&rel));
    }
    assert!(out.join("empty/inner").is_dir(), "empty directories come back too");
    // Small files share chunks: far fewer chunks than files.
    assert!(r.totals.chunks_new < 400, "{} chunks for 1000 files", r.totals.chunks_new);
}

#[tokio::test]
async fn re_put_sends_nothing_and_an_edit_sends_few_chunks() {
    let c = Cluster::start(6).await.unwrap();
    // A fixed key: boundaries are keyed, so with a random one the edit's cost
    // is a draw (2.2 chunks on average, now and then 4: `pyxis bench edits`).
    let key = pyxis_crypto::keys::MasterKey::from_bytes([64; 32]);
    let alice = c.signup_with_key("alice", "pw", key).await.unwrap();
    let src = c.dir.path().join("f");
    let mut data = random_file(&src, 64, 64 << 20);
    alice.put(&src, "/f").await.unwrap();

    // A fresh client, so the counters are this put's alone.
    // Read it all again (size + mtime would skip it unread): dedup sends nothing.
    let alice = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    let r = alice.put_with(&src, "/f", pyxis_client::PutOptions { checksum: true }).await.unwrap();
    assert_eq!(r.totals.new, 0, "re-put uploaded {} bytes", r.totals.new);
    assert_eq!(r.totals.wire, 0);
    assert_eq!(r.totals.dedup, 64 << 20);
    assert_eq!((r.files, r.unchanged), (1, 1), "an identical re-put makes no new version");

    // Overwrite 1 MiB in the middle.
    let edit = pyxis_core::testdata::pseudo_random(999, 1 << 20);
    data[30 << 20..31 << 20].copy_from_slice(&edit);
    std::fs::write(&src, &data).unwrap();
    let alice = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    let r = alice.put(&src, "/f").await.unwrap();
    assert!(r.totals.chunks_new <= 3, "a 1 MiB edit sent {} chunks ({} bytes)", r.totals.chunks_new, r.totals.new);
    assert!(r.totals.chunks_new >= 1);
    let out = c.dir.path().join("f.out");
    alice.get("/f", &out, None).await.unwrap();
    same_file(&src, &out);
    assert_eq!(r.unchanged, 0);
    let v = alice.api().versions("/f").await.unwrap();
    assert_eq!(v.versions.len(), 2);
    // The first version is still readable.
    let old = c.dir.path().join("f.v1");
    alice.get("/f", &old, Some(1)).await.unwrap();
    assert_ne!(std::fs::read(&old).unwrap(), data);
}

/// Sets a file's mtime `secs_ago` seconds into the past.
fn age(path: &std::path::Path, secs_ago: u64) {
    set_mtime(path, std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago));
}

#[tokio::test]
async fn re_put_skips_files_whose_size_and_mtime_match_unless_asked_to_checksum() {
    let c = Cluster::start(4).await.unwrap();
    c.signup("alice", "pw").await.unwrap();
    // A fresh client per put, so each report's counters are its own.
    let client = || pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    let tree = c.dir.path().join("tree");
    let (tiny, small, big) = (tree.join("tiny"), tree.join("sub/small"), tree.join("big"));
    random_file(&tiny, 1, 10);
    random_file(&small, 2, 100 << 10);
    let big_data = random_file(&big, 3, 3 << 20);
    for f in [&tiny, &small, &big] {
        age(f, 3600);
    }
    let r = client().put(&tree, "/t").await.unwrap();
    assert_eq!((r.files, r.unchanged), (3, 0));

    // Nothing changed: nothing is read, nothing is versioned.
    let r = client().put(&tree, "/t").await.unwrap();
    assert_eq!((r.files, r.unchanged, r.totals.done), (3, 3, 0), "{r:?}");
    assert_eq!(client().api().versions("/t/big").await.unwrap().versions.len(), 1);

    // Same size, new content and mtime: read and versioned; the rest skipped.
    random_file(&small, 20, 100 << 10);
    age(&small, 1800);
    let r = client().put(&tree, "/t").await.unwrap();
    assert_eq!((r.files, r.unchanged, r.totals.done), (3, 2, 100 << 10), "{r:?}");
    assert_eq!(client().api().stat("/t/sub/small").await.unwrap().version, Some(2));

    // A change that keeps size and mtime is what size + mtime cannot see
    // (rsync and restic alike); --checksum reads everything and finds it.
    let mtime = std::fs::metadata(&big).unwrap().modified().unwrap();
    let mut edited = big_data.clone();
    edited[1 << 20] ^= 0xff;
    std::fs::write(&big, &edited).unwrap();
    set_mtime(&big, mtime);
    let r = client().put(&tree, "/t").await.unwrap();
    assert_eq!(r.unchanged, 3);
    let r = client().put_with(&tree, "/t", pyxis_client::PutOptions { checksum: true }).await.unwrap();
    assert_eq!((r.files, r.unchanged), (3, 2), "{r:?}");
    assert_eq!(r.totals.done, 10 + (100 << 10) + (3 << 20));
    let out = c.dir.path().join("out");
    client().get("/t/big", &out, None).await.unwrap();
    same_file(&big, &out);

    // A file whose mtime is not well before its version's commit (written
    // just before the put, or stamped by a clock ahead; a minute ahead here,
    // so a slow machine cannot turn it into the first case's 2 s) may change
    // again within one tick: the next put reads it (and finds it unchanged).
    let fresh = tree.join("fresh");
    random_file(&fresh, 4, 5000);
    set_mtime(&fresh, std::time::SystemTime::now() + std::time::Duration::from_secs(60));
    client().put(&fresh, "/t/fresh").await.unwrap();
    let r = client().put(&fresh, "/t/fresh").await.unwrap();
    assert_eq!((r.files, r.unchanged, r.totals.done), (1, 1, 5000), "{r:?}");
}

/// A file is its content, mtime, permission bits and kind: a `chmod 755`
/// script comes back executable, a 400 file read-only, a link as a link
/// (never followed, wherever it points), and setuid is not handed out.
#[tokio::test]
async fn modes_and_links_round_trip() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let c = Cluster::start(4).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("tree");
    let mode = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    let files = [("run.sh", 100, 0o755), ("secret", 50, 0o400), ("packed", 10_000, 0o600), ("big", 300_000, 0o700)];
    for (i, (name, len, m)) in files.iter().enumerate() {
        random_file(&src.join(name), i as u64, *len);
        std::fs::set_permissions(src.join(name), std::fs::Permissions::from_mode(*m)).unwrap();
    }
    random_file(&src.join("suid"), 9, 20);
    std::fs::set_permissions(src.join("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    random_file(&src.join("sub/deeper/f"), 10, 10);
    let links = [("rel", "run.sh"), ("abs", "/etc/passwd"), ("dangling", "nowhere/at all"), ("todir", "sub")];
    for (name, target) in links {
        symlink(target, src.join(name)).unwrap();
    }
    set_mtime(&src.join("run.sh"), std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
    let r = alice.put(&src, "/t").await.unwrap();
    assert!(r.failed.is_empty() && r.skipped.is_empty(), "{r:?}");
    assert_eq!(r.files, 10, "{r:?}");

    let out = c.dir.path().join("out");
    let g = alice.get("/t", &out, None).await.unwrap();
    assert!(g.failed.is_empty(), "{g:?}");
    for (name, _, m) in files {
        assert_eq!(mode(&out.join(name)), m, "{name}");
        same_file(&src.join(name), &out.join(name));
    }
    assert_eq!(mode(&out.join("suid")), 0o755, "setuid is dropped on the way out");
    for (name, target) in links {
        let p = out.join(name);
        assert!(std::fs::symlink_metadata(&p).unwrap().file_type().is_symlink(), "{name}");
        assert_eq!(std::fs::read_link(&p).unwrap(), std::path::Path::new(target), "{name}");
    }
    // The link to a directory was stored as a link: its files are not
    // duplicated under it.
    assert!(alice.api().stat("/t/todir/deeper").await.is_err());
    let mtime = std::fs::metadata(out.join("run.sh")).unwrap().modified().unwrap();
    assert_eq!(mtime, std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
    // A single file, and a single link, come back alike.
    alice.get("/t/run.sh", &c.dir.path().join("one"), None).await.unwrap();
    assert_eq!(mode(&c.dir.path().join("one")), 0o755);
    alice.get("/t/abs", &c.dir.path().join("onelink"), None).await.unwrap();
    assert_eq!(std::fs::read_link(c.dir.path().join("onelink")).unwrap(), std::path::Path::new("/etc/passwd"));

    // A chmod alone is a change: a checksummed re-put makes a new version
    // of that file only.
    std::fs::set_permissions(src.join("secret"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = alice.put_with(&src, "/t", pyxis_client::PutOptions { checksum: true }).await.unwrap();
    assert_eq!((r.files, r.unchanged), (10, 9), "{r:?}");
    let again = c.dir.path().join("again");
    alice.get("/t/secret", &again, None).await.unwrap();
    assert_eq!(mode(&again), 0o640);
}
