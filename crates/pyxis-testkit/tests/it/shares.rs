//! Sharing between users (docs/SECURITY.md, "Sharing"): a grantee reads what
//! the owner's clients bound and nothing else; the server enforces the ACL
//! on every catalog call and before every grant; a key the server swaps in
//! is caught by the pin; a share or keys the server makes up do not open.

use pyxis_client::ClientError;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::ReadRequest;
use pyxis_proto::api::chunks::LocateRequest;
use pyxis_proto::api::shares::ShareMode;
use pyxis_testkit::Cluster;
use pyxis_testkit::hostile::{HostileServer, edit_json};
use serde_json::json;

use crate::support::{random_file, same_file};

fn code(e: &ClientError) -> Option<ErrorCode> {
    e.code()
}

/// alice's /home: docs/a.txt (6 kB), docs/sub/b.txt (200 kB) and
/// private/p.txt (7 kB), put at once, so all three are packed into the same
/// chunks. Returns alice, and the local source directory.
async fn alice_with_home(c: &Cluster) -> (pyxis_client::Client, std::path::PathBuf) {
    let alice = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("home");
    random_file(&src.join("docs/a.txt"), 11, 6_000);
    random_file(&src.join("docs/sub/b.txt"), 12, 200_000);
    random_file(&src.join("private/p.txt"), 13, 7_000);
    alice.put(&src, "/home").await.unwrap();
    (alice, src)
}

async fn chunks_of(api: &pyxis_client::Api, path: &str) -> Vec<pyxis_proto::ChunkId> {
    api.read(&ReadRequest { paths: vec![path.into()], version: None }).await.unwrap().files.remove(0).chunks
}

#[tokio::test]
async fn a_shared_directory_reads_as_its_owner_wrote_it_with_later_files_and_versions() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, src) = alice_with_home(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    let private_chunks = chunks_of(alice.api(), "/home/private/p.txt").await;
    assert!(!private_chunks.is_empty(), "p.txt is packed, not inline");
    // The packed neighbour really shares a chunk with the docs before the share...
    let mut before = chunks_of(alice.api(), "/home/docs/a.txt").await;
    before.extend(chunks_of(alice.api(), "/home/docs/sub/b.txt").await);
    assert!(before.iter().any(|id| private_chunks.contains(id)), "the test needs a mixed pack");

    let r = alice.share("/home/docs", "bob", ShareMode::Read, None).await.unwrap();
    assert_eq!((r.versions, r.skipped.len(), r.existed), (2, 0, false), "{r:?}");
    assert!(r.newly_pinned);
    // ...so sharing stored the docs again, apart from it: no chunk bob can
    // locate holds a byte of p.txt.
    assert!(r.repacked >= 1, "{r:?}");
    let through = bob.api().through_share(r.share);
    for p in ["/home/docs/a.txt", "/home/docs/sub/b.txt"] {
        let ids = chunks_of(&through, p).await;
        assert!(ids.iter().all(|id| !private_chunks.contains(id)), "{p} still shares a chunk with p.txt");
    }
    assert_eq!(chunks_of(alice.api(), "/home/private/p.txt").await, private_chunks, "p.txt itself is untouched");

    let (entries, refused) = bob.list("@alice/home/docs", true).await.unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let names: Vec<_> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["@alice/home/docs/a.txt", "@alice/home/docs/sub", "@alice/home/docs/sub/b.txt"]);
    let dst = c.dir.path().join("bob-docs");
    let got = bob.get("@alice/home/docs", &dst, None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (2, 0), "{got:?}");
    same_file(&src.join("docs/a.txt"), &dst.join("a.txt"));
    same_file(&src.join("docs/sub/b.txt"), &dst.join("sub/b.txt"));

    // A file added later and a new version are the grantee's to read too.
    random_file(&src.join("docs/a.txt"), 21, 9_000);
    random_file(&src.join("docs/c.txt"), 22, 50_000);
    alice.put(&src, "/home").await.unwrap();
    let again = c.dir.path().join("bob-docs-2");
    let got = bob.get("@alice/home/docs", &again, None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (3, 0), "{got:?}");
    same_file(&src.join("docs/a.txt"), &again.join("a.txt"));
    same_file(&src.join("docs/c.txt"), &again.join("c.txt"));
    let a = bob.stat("@alice/home/docs/a.txt").await.unwrap();
    assert_eq!((a.path.as_str(), a.version), ("@alice/home/docs/a.txt", Some(3)), "v2 re-packed, v3 edited");
    // New versions under the share are packed apart from p.txt as well.
    for p in ["/home/docs/a.txt", "/home/docs/c.txt"] {
        let ids = chunks_of(&through, p).await;
        let private = chunks_of(alice.api(), "/home/private/p.txt").await;
        assert!(ids.iter().all(|id| !private.contains(id)), "{p} packed with p.txt");
    }
    let shared = bob.shares().await.unwrap();
    assert_eq!((shared.mine.len(), shared.with_me.len()), (0, 1));
    assert_eq!((shared.with_me[0].owner.as_str(), shared.with_me[0].path.as_str()), ("alice", "/home/docs"));
    // Sharing again reuses the share. (It may store again files packed next
    // to an older version: bytes the client cannot account for from the
    // current versions are treated as another file's.)
    let r2 = alice.share("/home/docs", "bob", ShareMode::Read, None).await.unwrap();
    assert_eq!((r2.share, r2.existed, r2.versions, r2.skipped.len()), (r.share, true, 3, 0), "{r2:?}");
    let again = c.dir.path().join("bob-docs-3");
    assert_eq!(bob.get("@alice/home/docs", &again, None).await.unwrap().files, 3);
    same_file(&src.join("docs/sub/b.txt"), &again.join("sub/b.txt"));
}

#[tokio::test]
async fn the_server_enforces_the_acl_on_every_call_and_after_unshare() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, _src) = alice_with_home(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    let carol = c.signup("carol", "pw").await.unwrap();
    let id = alice.share("/home/docs", "bob", ShareMode::Read, None).await.unwrap().share;
    let private = "/home/private/p.txt";
    let private_chunks = chunks_of(alice.api(), private).await;

    // An unshared user cannot list, stat, read or locate through bob's share.
    let as_carol = carol.api().through_share(id);
    let e = as_carol.list("/home/docs", false, None).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NotShared), "{e}");
    assert_eq!(code(&as_carol.stat("/home/docs/a.txt").await.unwrap_err()), Some(ErrorCode::NotShared));
    let read = ReadRequest { paths: vec!["/home/docs/a.txt".into()], version: None };
    assert_eq!(code(&as_carol.read(&read).await.unwrap_err()), Some(ErrorCode::NotShared));
    let e = carol.get("@alice/home/docs", &c.dir.path().join("carol"), None).await.unwrap_err();
    assert!(e.to_string().contains("shares nothing with you"), "{e}");
    assert!(!c.dir.path().join("carol").exists());

    // The reader sees the shared path only, and writes nothing.
    let as_bob = bob.api().through_share(id);
    for p in ["/", "/home", private] {
        assert_eq!(code(&as_bob.stat(p).await.unwrap_err()), Some(ErrorCode::NotShared), "{p}");
    }
    assert_eq!(code(&as_bob.list("/home", true, None).await.unwrap_err()), Some(ErrorCode::NotShared));
    let read = ReadRequest { paths: vec!["/home/docs/a.txt".into(), private.into()], version: None };
    assert_eq!(code(&as_bob.read(&read).await.unwrap_err()), Some(ErrorCode::NotShared));
    assert_eq!(code(&as_bob.versions(private).await.unwrap_err()), Some(ErrorCode::NotShared));
    let e = as_bob.locate(&LocateRequest { ids: private_chunks.clone(), of: None }).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NoChunk), "{e}");
    assert_eq!(code(&as_bob.mkdir("/home/docs/new", true).await.unwrap_err()), Some(ErrorCode::ReadOnlyShare));
    assert_eq!(code(&as_bob.remove("/home/docs/a.txt", false).await.unwrap_err()), Some(ErrorCode::ReadOnlyShare));
    assert_eq!(
        code(&as_bob.rename("/home/docs/a.txt", "/home/docs/z.txt").await.unwrap_err()),
        Some(ErrorCode::ReadOnlyShare)
    );
    assert_eq!(code(&as_bob.restore("/home/docs/a.txt", 1).await.unwrap_err()), Some(ErrorCode::ReadOnlyShare));
    let fv = as_bob.read(&ReadRequest { paths: vec!["/home/docs/a.txt".into()], version: None }).await.unwrap();
    let f = &fv.files[0];
    let commit = pyxis_proto::api::catalog::CommitFile {
        path: "/home/docs/a.txt".into(),
        size: f.info.size,
        mtime: f.info.mtime + 1,
        content_hash: f.info.content_hash.clone(),
        manifest: f.manifest.clone(),
        wrapped_key: f.wrapped_key.clone(),
        chunks: f.chunks.clone(),
        expect: None,
        binding: None,
        share_keys: vec![],
        new_version: false,
        writer_keys: None,
        chunks_of: None,
    };
    let req = pyxis_proto::api::catalog::CommitRequest { files: vec![commit] };
    assert_eq!(code(&as_bob.commit(&req).await.unwrap_err()), Some(ErrorCode::ReadOnlyShare));
    // Nothing changed in alice's tree, and bob still reads it.
    assert_eq!(alice.stat("/home/docs/a.txt").await.unwrap().version, Some(2));
    assert!(alice.stat("/home/docs/new").await.is_err());
    assert_eq!(bob.list("@alice/home/docs", true).await.unwrap().0.len(), 3);

    // After unshare: refused on every call, and by the client.
    alice.unshare("/home/docs", "bob").await.unwrap();
    assert_eq!(code(&as_bob.list("/home/docs", false, None).await.unwrap_err()), Some(ErrorCode::NotShared));
    assert_eq!(code(&as_bob.read(&read).await.unwrap_err()), Some(ErrorCode::NotShared));
    let e = bob.get("@alice/home/docs", &c.dir.path().join("bob-after"), None).await.unwrap_err();
    assert!(e.to_string().contains("shares nothing with you"), "{e}");
    assert_eq!(code(&alice.unshare("/home/docs", "bob").await.unwrap_err()), Some(ErrorCode::NoShare));
}

/// A device of `user` that talks to the server through `proxy`.
async fn via(c: &Cluster, proxy: &HostileServer, user: &str, device: &str) -> pyxis_client::Client {
    let dev = c.device(device);
    pyxis_client::account::login(&dev, &proxy.url, user, "pw").await.unwrap();
    pyxis_client::Client::open(&dev, None, Default::default()).unwrap()
}

/// From now on the proxy hands out `key` as every user's public key.
fn substitute_keys(proxy: &HostileServer, key: [u8; 32]) {
    proxy.rewrite("/v1/users/key", move |_, body| {
        edit_json(body, |v| v["public_key"] = json!(pyxis_proto::hex::encode(&key)))
    });
}

#[tokio::test]
async fn a_public_key_the_server_substitutes_is_caught_at_sharing_and_at_reading() {
    let c = Cluster::start(3).await.unwrap();
    crate::support::alice_with_docs(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    c.signup("mallory", "pw").await.unwrap();
    let mallory_key = c.keyring("mallory").unwrap().reader_public_key().unwrap();
    let bob_fp = pyxis_client::account::key_fingerprint(&c.keyring("bob").unwrap().reader_public_key().unwrap());
    let proxy = HostileServer::start(&c).await.unwrap();
    let alice = via(&c, &proxy, "alice", "alice-via-proxy").await;

    // Pinned on first use (honest), then swapped: refused, nothing shared.
    alice.share("/notes.txt", "bob", ShareMode::Read, None).await.unwrap();
    substitute_keys(&proxy, mallory_key);
    let e = alice.share("/docs", "bob", ShareMode::Read, None).await.unwrap_err();
    assert!(proxy.lies_told() >= 1, "the proxy never swapped a key");
    assert!(e.to_string().contains("pinned") && e.to_string().contains(&bob_fp), "{e}");
    let with_bob = bob.shares().await.unwrap().with_me;
    assert_eq!(with_bob.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(), ["/notes.txt"]);
    // On first use, a fingerprint bob gave catches it too.
    let fresh = via(&c, &proxy, "alice", "alice-fresh").await;
    let e = fresh.share("/docs", "bob", ShareMode::Read, Some(&bob_fp)).await.unwrap_err();
    assert!(e.to_string().contains(&format!("not the {bob_fp}")), "{e}");
    assert_eq!(bob.shares().await.unwrap().with_me.len(), 1);

    // The grantee pins the owner's key as it reads, and catches a swap later.
    proxy.honest();
    let bob_via = via(&c, &proxy, "bob", "bob-via-proxy").await;
    bob_via.get("@alice/notes.txt", &c.dir.path().join("n1"), None).await.unwrap();
    substitute_keys(&proxy, mallory_key);
    let told = proxy.lies_told();
    let e = bob_via.get("@alice/notes.txt", &c.dir.path().join("n2"), None).await.unwrap_err();
    assert!(proxy.lies_told() > told);
    assert!(e.to_string().contains("pinned"), "{e}");
    assert!(!c.dir.path().join("n2").exists());
    // Nor does `trust` pin a key whose fingerprint is not the one given.
    let alice_fp = pyxis_client::account::key_fingerprint(&c.keyring("alice").unwrap().reader_public_key().unwrap());
    assert!(bob_via.trust("alice", &alice_fp).await.is_err());
}

#[tokio::test]
async fn a_share_the_server_made_up_and_keys_it_swapped_do_not_open() {
    let c = Cluster::start(3).await.unwrap();
    crate::support::alice_with_docs(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    c.signup("mallory", "pw").await.unwrap();
    let alice = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    alice.share("/notes.txt", "bob", ShareMode::Read, None).await.unwrap();
    bob.get("@alice/notes.txt", &c.dir.path().join("n"), None).await.unwrap();

    // The server makes a share "from alice" of /docs with a key of its own
    // (wrapped with mallory's keys, which it might hold): bob refuses it.
    let db = &c.server().state().db;
    let ids = |name: &str| {
        let name = name.to_owned();
        async move { db.user_by_name(&name).await.unwrap().unwrap().id }
    };
    let ctx = pyxis_crypto::share::ShareContext { owner: "alice", grantee: "bob", path: "/docs", mode: 1 };
    let key = pyxis_crypto::share::ShareKey::generate().unwrap();
    let bob_pub = c.keyring("bob").unwrap().reader_public_key().unwrap();
    let forged = key.wrap_to(&c.keyring("mallory").unwrap(), &bob_pub, &ctx).unwrap();
    let new = pyxis_server::db::shares::NewShare {
        owner: ids("alice").await,
        path: "/docs",
        grantee: ids("bob").await,
        mode: 1,
        owner_key: &forged,
        grantee_key: &forged,
    };
    db.create_share(&new).await.unwrap().unwrap();
    let e = bob.get("@alice/docs/a.txt", &c.dir.path().join("forged"), None).await.unwrap_err();
    assert!(matches!(e, ClientError::Tampered { .. }) && e.to_string().contains("did not make it"), "{e}");
    assert!(!c.dir.path().join("forged").exists());
    // alice's client ignores it too: it does not open with her keys.
    alice.unshare("/docs", "bob").await.unwrap();

    // A real share of /docs, and a proxy that swaps the two files' keys.
    alice.share("/docs", "bob", ShareMode::Read, None).await.unwrap();
    let proxy = HostileServer::start(&c).await.unwrap();
    let bob_via = via(&c, &proxy, "bob", "bob-via-proxy").await;
    proxy.rewrite("/v1/files/read", |_, body| {
        edit_json(body, |v| {
            let files = v["files"].as_array_mut().unwrap();
            if files.len() == 2 {
                let k0 = files[0]["share_key"].take();
                files[0]["share_key"] = files[1]["share_key"].take();
                files[1]["share_key"] = k0;
            }
        })
    });
    let dst = c.dir.path().join("swapped");
    let got = bob_via.get("@alice/docs", &dst, None).await.unwrap();
    assert!(proxy.lies_told() >= 1);
    assert_eq!((got.files, got.failed.len()), (0, 2), "{got:?}");
    for f in &got.failed {
        assert!(f.error.contains("do not open"), "{}", f.error);
    }
    assert!(!dst.join("a.txt").exists() && !dst.join("b.txt").exists());
}

#[tokio::test]
async fn a_file_moved_into_a_shared_directory_is_readable_and_one_moved_out_is_not() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, src) = alice_with_home(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    let id = alice.share("/home/docs", "bob", ShareMode::Read, None).await.unwrap().share;
    let old_chunks = chunks_of(alice.api(), "/home/private/p.txt").await;
    alice.rename("/home/private/p.txt", "/home/docs/p.txt").await.unwrap();
    alice.rename("/home/docs/sub", "/home/private/sub").await.unwrap();
    let dst = c.dir.path().join("bob-docs");
    let got = bob.get("@alice/home/docs", &dst, None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (2, 0), "{got:?}");
    same_file(&src.join("private/p.txt"), &dst.join("p.txt"));
    assert!(!dst.join("sub").exists());
    // p.txt was packed with files bob may not read: it moved in with new chunks.
    let through = bob.api().through_share(id);
    assert!(chunks_of(&through, "/home/docs/p.txt").await.iter().all(|id| !old_chunks.contains(id)));
    assert_eq!(code(&through.stat("/home/private/sub/b.txt").await.unwrap_err()), Some(ErrorCode::NotShared));
}

#[tokio::test]
async fn a_writer_changes_a_shared_directory_and_everyone_reads_what_was_written() {
    let c = Cluster::start(3).await.unwrap();
    let (alice, src) = alice_with_home(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    let carol = c.signup("carol", "pw").await.unwrap();
    let id = alice.share("/home/docs", "bob", ShareMode::Write, None).await.unwrap().share;
    alice.share("/home/docs", "carol", ShareMode::Read, None).await.unwrap();
    let alice_used = alice.api().quota().await.unwrap().used;

    // bob edits a.txt and adds a big, a small and a tiny file.
    let mine = c.dir.path().join("bob-src");
    random_file(&mine.join("a.txt"), 31, 8_000);
    random_file(&mine.join("big.bin"), 32, 400_000);
    random_file(&mine.join("new.txt"), 33, 20_000);
    random_file(&mine.join("tiny.txt"), 34, 100);
    let r = bob.put(&mine, "@alice/home/docs").await.unwrap();
    assert_eq!((r.files, r.failed.len()), (4, 0), "{r:?}");
    assert_eq!(alice.api().quota().await.unwrap().used, alice_used, "a writer's uploads are the writer's quota");
    assert!(bob.api().quota().await.unwrap().used > 400_000);

    // The owner reads what bob wrote, checked against bob's pinned key.
    let (entries, refused) = alice.list("/home/docs", false).await.unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let a = entries.iter().find(|e| e.path == "/home/docs/a.txt").unwrap();
    assert_eq!((a.version, a.writer.as_deref()), (Some(3), Some("bob")));
    let dst = c.dir.path().join("alice-docs");
    let got = alice.get("/home/docs", &dst, None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (5, 0), "{got:?}");
    for f in ["a.txt", "big.bin", "new.txt", "tiny.txt"] {
        same_file(&mine.join(f), &dst.join(f));
    }
    same_file(&src.join("docs/sub/b.txt"), &dst.join("sub/b.txt"));
    assert!(alice.check("/home", true).await.unwrap().ok());
    // So does the writer; a reader once the owner shares again (bob could
    // wrap only for his own share).
    let got = bob.get("@alice/home/docs", &c.dir.path().join("bob-docs"), None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (5, 0), "{got:?}");
    let early = carol.get("@alice/home/docs", &c.dir.path().join("carol-early"), None).await.unwrap();
    assert_eq!(early.failed.len(), 4, "{early:?}");
    assert!(early.failed.iter().all(|f| f.error.contains("has not given you the keys")), "{early:?}");
    alice.share("/home/docs", "carol", ShareMode::Read, None).await.unwrap();
    let cdst = c.dir.path().join("carol-docs");
    let got = carol.get("@alice/home/docs", &cdst, None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (5, 0), "{got:?}");
    same_file(&mine.join("big.bin"), &cdst.join("big.bin"));

    // The owner's next version, bob's moves and removes, an owner's restore
    // of bob's version: each checks out on every side.
    random_file(&src.join("docs/a.txt"), 35, 7_000);
    alice.put(&src.join("docs/a.txt"), "/home/docs/a.txt").await.unwrap();
    bob.rename("@alice/home/docs/new.txt", "@alice/home/docs/renamed.txt").await.unwrap();
    bob.remove("@alice/home/docs/tiny.txt", false).await.unwrap();
    let v4 = c.dir.path().join("bob-a-v4");
    bob.get("@alice/home/docs/a.txt", &v4, None).await.unwrap();
    same_file(&src.join("docs/a.txt"), &v4);
    let restored = alice.restore("/home/docs/a.txt", 3).await.unwrap();
    assert_eq!(restored.version, Some(5));
    let (entries, refused) = alice.list("/home/docs", true).await.unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    let names: Vec<_> = entries.iter().map(|e| e.path.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["a.txt", "big.bin", "renamed.txt", "sub", "b.txt"]);
    let back = c.dir.path().join("alice-a-v5");
    alice.get("/home/docs/a.txt", &back, None).await.unwrap();
    same_file(&mine.join("a.txt"), &back);
    let got = bob.get("@alice/home/docs", &c.dir.path().join("bob-docs-2"), None).await.unwrap();
    assert_eq!((got.files, got.failed.len()), (4, 0), "{got:?}");

    // Nothing outside the shared path, through the API or the client.
    let through = bob.api().through_share(id);
    assert_eq!(code(&through.mkdir("/home/private/x", true).await.unwrap_err()), Some(ErrorCode::NotShared));
    assert_eq!(code(&through.remove("/home/private/p.txt", false).await.unwrap_err()), Some(ErrorCode::NotShared));
    let e = through.rename("/home/docs/big.bin", "/home/private/big.bin").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NotShared));
    let e = bob.put(&mine.join("a.txt"), "@alice/home/private/a.txt").await.unwrap_err();
    assert!(e.to_string().contains("shares nothing with you"), "{e}");
    // A reader writes nothing.
    let e = carol.put(&mine.join("a.txt"), "@alice/home/docs/c.txt").await.unwrap_err();
    assert!(e.to_string().contains("to read only"), "{e}");
    assert!(alice.stat("/home/docs/c.txt").await.is_err());
}

#[tokio::test]
async fn a_version_the_server_passes_off_as_a_writers_is_refused_by_the_owner() {
    let c = Cluster::start(3).await.unwrap();
    crate::support::alice_with_docs(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    c.signup("carol", "pw").await.unwrap();
    let alice = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    alice.share("/docs", "bob", ShareMode::Write, None).await.unwrap();
    alice.share("/notes.txt", "carol", ShareMode::Read, None).await.unwrap();
    let mine = c.dir.path().join("bob-src");
    random_file(&mine.join("w.txt"), 41, 6_000);
    bob.put(&mine.join("w.txt"), "@alice/docs/w.txt").await.unwrap();
    let proxy = HostileServer::start(&c).await.unwrap();
    let alice_via = via(&c, &proxy, "alice", "alice-via-proxy").await;
    assert!(alice_via.list("/", true).await.unwrap().1.is_empty());

    // One at a time: bob's keys made garbage; bob's version credited to
    // carol (who may only read, elsewhere); alice's own file credited to bob.
    type Edit = Box<dyn Fn(&mut serde_json::Value) + Send + Sync>;
    let lies: Vec<(&str, Edit, &str)> = vec![
        ("/docs/w.txt", Box::new(|e| e["writer_keys"] = json!("AAAA")), "key"),
        ("/docs/w.txt", Box::new(|e| e["writer"] = json!("carol")), "lets carol write"),
        ("/docs/a.txt", Box::new(|e| e["writer"] = json!("bob")), "carries no keys"),
    ];
    for (path, lie, why) in lies {
        proxy.honest();
        let lie = std::sync::Arc::new(lie);
        let target = path.to_owned();
        proxy.rewrite("/v1/list", move |_, body| {
            edit_json(body, |v| {
                for e in v["entries"].as_array_mut().unwrap() {
                    if e["path"] == target.as_str() {
                        lie(e);
                    }
                }
            })
        });
        let told = proxy.lies_told();
        let (shown, refused) = alice_via.list("/docs", false).await.unwrap();
        assert!(proxy.lies_told() > told);
        assert_eq!(refused.len(), 1, "{path}: {refused:?}");
        assert_eq!(refused[0].0, path);
        assert!(refused[0].1.contains(why), "{path}: {}", refused[0].1);
        assert!(shown.iter().all(|e| e.path != path));
    }
}

#[tokio::test]
async fn share_calls_that_do_not_hold_are_refused_and_change_nothing() {
    use pyxis_proto::api::catalog::{CommitFile, CommitRequest};
    use pyxis_proto::api::shares::{CreateShareRequest, ShareKeysRequest, VersionWrap};
    let c = Cluster::start(3).await.unwrap();
    let (alice, _src) = alice_with_home(&c).await;
    let bob = c.signup("bob", "pw").await.unwrap();
    let id = alice.share("/home/docs", "bob", ShareMode::Write, None).await.unwrap().share;
    let private = alice
        .api()
        .read(&ReadRequest { paths: vec!["/home/private/p.txt".into()], version: None })
        .await
        .unwrap()
        .files
        .remove(0);

    // A share wrapped to a key that is not the grantee's, or to oneself.
    let share = |grantee: &str, key: [u8; 32]| CreateShareRequest {
        path: "/home/private".into(),
        grantee: grantee.into(),
        mode: ShareMode::Read,
        grantee_public_key: key,
        owner_key: private.wrapped_key.clone(),
        grantee_key: private.wrapped_key.clone(),
    };
    assert_eq!(code(&alice.api().create_share(&share("bob", [7; 32])).await.unwrap_err()), Some(ErrorCode::KeyChanged));
    let own_key = c.keyring("alice").unwrap().reader_public_key().unwrap();
    assert_eq!(code(&alice.api().create_share(&share("alice", own_key)).await.unwrap_err()), Some(ErrorCode::BadShare));
    // Wraps for a path outside the share, or for somebody else's share.
    let wrap = |path: &str| ShareKeysRequest {
        share: id,
        keys: vec![VersionWrap { path: path.into(), version: 1, wrapped: vec![0; 136] }],
    };
    assert_eq!(
        code(&alice.api().share_keys(&wrap("/home/private/p.txt")).await.unwrap_err()),
        Some(ErrorCode::NotShared)
    );
    assert_eq!(code(&bob.api().share_keys(&wrap("/home/docs/a.txt")).await.unwrap_err()), Some(ErrorCode::NoShare));

    // Commits: a writer's without its keys for the owner; an owner's with
    // them; a writer's that names the owner's chunks of another file.
    let commit = |path: &str, writer_keys: Option<Vec<u8>>, chunks_of: Option<&str>| CommitRequest {
        files: vec![CommitFile {
            path: path.into(),
            size: private.info.size,
            mtime: private.info.mtime,
            content_hash: private.info.content_hash.clone(),
            manifest: private.manifest.clone(),
            wrapped_key: private.wrapped_key.clone(),
            chunks: private.chunks.clone(),
            expect: None,
            binding: None,
            share_keys: vec![],
            new_version: false,
            writer_keys,
            chunks_of: chunks_of.map(Into::into),
        }],
    };
    let through = bob.api().through_share(id);
    let e = through.commit(&commit("/home/docs/x.txt", None, Some("alice"))).await.unwrap_err();
    assert!(code(&e) == Some(ErrorCode::BadFile) && e.to_string().contains("writer_keys"), "{e}");
    let e = alice.api().commit(&commit("/home/docs/x.txt", Some(private.wrapped_key.clone()), None)).await.unwrap_err();
    assert!(code(&e) == Some(ErrorCode::BadFile) && e.to_string().contains("writer_keys"), "{e}");
    let e = through.commit(&commit("/home/docs/x.txt", Some(private.wrapped_key.clone()), Some("alice"))).await;
    assert_eq!(code(&e.unwrap_err()), Some(ErrorCode::MissingChunk), "a writer cannot reach the owner's other chunks");
    assert!(alice.stat("/home/docs/x.txt").await.is_err());
    assert_eq!(bob.shares().await.unwrap().with_me.len(), 1);
}
