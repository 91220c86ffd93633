//! The catalog's verbs and their errors: mkdir, mv, rm, ls, stat, versions,
//! restore, bad paths, and one user's files invisible to another.

use pyxis_client::ClientError;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::{CommitFile, CommitRequest, EntryKind};
use pyxis_testkit::Cluster;

use crate::support::{random_file, set_mtime};

fn code(e: &ClientError) -> Option<ErrorCode> {
    e.code()
}

#[tokio::test]
async fn mkdir_mv_rm_and_listing() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let api = a.api();
    let f = c.dir.path().join("x");
    random_file(&f, 1, 10_000);
    a.put(&f, "/docs/a/x").await.unwrap();
    a.put(&f, "/docs/a/y").await.unwrap();
    api.mkdir("/docs/empty", false).await.unwrap();
    assert_eq!(code(&api.mkdir("/docs/empty", false).await.unwrap_err()), Some(ErrorCode::Exists));
    api.mkdir("/docs/empty", true).await.unwrap();
    assert_eq!(code(&api.mkdir("/nope/deeper", false).await.unwrap_err()), Some(ErrorCode::NotFound));
    api.mkdir("/p/q/r", true).await.unwrap();
    assert_eq!(code(&api.mkdir("/docs/a/x/sub", true).await.unwrap_err()), Some(ErrorCode::ParentIsFile));

    let top: Vec<String> = api.list("/docs", false, None).await.unwrap().entries.into_iter().map(|e| e.path).collect();
    assert_eq!(top, ["/docs/a", "/docs/empty"]);
    let all: Vec<String> = api.list("/docs", true, None).await.unwrap().entries.into_iter().map(|e| e.path).collect();
    assert_eq!(all, ["/docs/a", "/docs/a/x", "/docs/a/y", "/docs/empty"]);

    // Move a directory with its contents; the old names are gone.
    a.rename("/docs/a", "/archive").await.unwrap();
    assert_eq!(api.stat("/archive/x").await.unwrap().size, 10_000);
    assert_eq!(code(&api.stat("/docs/a/x").await.unwrap_err()), Some(ErrorCode::NotFound));
    assert_eq!(code(&api.rename("/archive", "/archive/inner").await.unwrap_err()), Some(ErrorCode::IntoItself));
    assert_eq!(code(&api.rename("/archive/x", "/archive/y").await.unwrap_err()), Some(ErrorCode::Exists));
    assert_eq!(code(&api.rename("/missing", "/m2").await.unwrap_err()), Some(ErrorCode::NotFound));
    let back = c.dir.path().join("x.back");
    a.get("/archive/x", &back, None).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&f).unwrap());

    // rm: a non-empty directory needs -r.
    assert_eq!(code(&api.remove("/archive", false).await.unwrap_err()), Some(ErrorCode::NotEmpty));
    let r = api.remove("/archive", true).await.unwrap();
    assert_eq!((r.files, r.dirs), (2, 1));
    assert_eq!(code(&api.stat("/archive").await.unwrap_err()), Some(ErrorCode::NotFound));
    api.remove("/docs/empty", false).await.unwrap();
    assert_eq!(code(&api.remove("/docs/empty", false).await.unwrap_err()), Some(ErrorCode::NotFound));
}

/// A remove that names the version it saw removes only that version: an
/// edit committed in between is never taken away (sync removes this way).
#[tokio::test]
async fn a_remove_with_a_stale_version_is_refused() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let api = a.api();
    let f = c.dir.path().join("x");
    random_file(&f, 1, 100);
    a.put(&f, "/f").await.unwrap();
    random_file(&f, 2, 100);
    a.put(&f, "/f").await.unwrap();
    let e = api.remove_if("/f", false, Some(1)).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::VersionConflict), "{e}");
    assert_eq!(api.stat("/f").await.unwrap().version, Some(2), "still there");
    api.mkdir("/d", false).await.unwrap();
    assert_eq!(code(&api.remove_if("/d", false, Some(3)).await.unwrap_err()), Some(ErrorCode::VersionConflict));
    api.remove_if("/d", false, Some(0)).await.unwrap();
    api.remove_if("/f", false, Some(2)).await.unwrap();
    assert_eq!(code(&api.stat("/f").await.unwrap_err()), Some(ErrorCode::NotFound));
}

#[tokio::test]
async fn versions_and_restore() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("v");
    let mut bodies = Vec::new();
    for i in 0..3 {
        bodies.push(random_file(&f, i, 1000 + i as usize));
        a.put(&f, "/v").await.unwrap();
    }
    let v = a.api().versions("/v").await.unwrap();
    assert_eq!(v.versions.iter().map(|x| x.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(v.current, 3);
    let e = a.restore("/v", 1).await.unwrap();
    assert_eq!(e.version, Some(4));
    let out = c.dir.path().join("v.out");
    a.get("/v", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bodies[0]);
    assert_eq!(code(&a.restore("/v", 9).await.unwrap_err()), Some(ErrorCode::NotFound));
    // Restoring what is already current, or re-putting it, adds nothing:
    // no version, no quota.
    let used = a.api().quota().await.unwrap().used;
    assert_eq!(a.restore("/v", 1).await.unwrap().version, Some(4));
    let back = c.dir.path().join("v.back");
    std::fs::write(&back, &bodies[0]).unwrap();
    let mtime = a.api().stat("/v").await.unwrap().mtime;
    set_mtime(&back, std::time::UNIX_EPOCH + std::time::Duration::from_millis(mtime as u64));
    let r = a.put(&back, "/v").await.unwrap();
    assert_eq!((r.files, r.unchanged), (1, 1));
    assert_eq!(a.api().versions("/v").await.unwrap().versions.len(), 4);
    assert_eq!(a.api().quota().await.unwrap().used, used);
    assert_eq!(code(&a.api().versions("/").await.unwrap_err()), Some(ErrorCode::IsDirectory));
}

#[tokio::test]
async fn bad_paths_are_rejected_by_client_and_server() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("x");
    random_file(&f, 1, 10);
    let long = format!("/{}", "a/".repeat(2100));
    for bad in ["/a/../b", "/a//b", "/a/b/", "/a\0b", "", long.trim_end_matches('/')] {
        let e = a.put(&f, bad).await.unwrap_err();
        assert!(matches!(e, ClientError::Path(_)), "{bad:?}: {e}");
        // The server checks on its own, whatever a client sends.
        let e = a.api().mkdir(bad, true).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::BadPath), "{bad:?}: {e}");
        let file = CommitFile {
            path: bad.to_owned(),
            size: 0,
            mtime: 0,
            content_hash: "00".repeat(32),
            manifest: vec![],
            wrapped_key: vec![],
            chunks: vec![],
            expect: None,
            binding: None,
            share_keys: vec![],
            new_version: false,
            writer_keys: None,
            chunks_of: None,
        };
        let e = a.api().commit(&CommitRequest { files: vec![file] }).await.unwrap_err();
        assert_eq!(code(&e), Some(ErrorCode::BadPath), "{bad:?}: {e}");
    }
    let name = format!("/{}", "n".repeat(256));
    assert_eq!(code(&a.api().mkdir(&name, true).await.unwrap_err()), Some(ErrorCode::BadPath));
}

#[tokio::test]
async fn another_users_files_are_out_of_reach() {
    let c = Cluster::start(3).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let bob = c.signup("bob", "pw").await.unwrap();
    let f = c.dir.path().join("secret");
    random_file(&f, 7, 500_000);
    alice.put(&f, "/secret").await.unwrap();
    let fv = alice
        .api()
        .read(&pyxis_proto::api::catalog::ReadRequest { paths: vec!["/secret".into()], version: None })
        .await
        .unwrap();
    let chunk = fv.files[0].chunks[0];

    // Bob's catalog has no such path, and Alice's chunk ids mean nothing to him.
    assert_eq!(code(&bob.api().stat("/secret").await.unwrap_err()), Some(ErrorCode::NotFound));
    assert!(bob.get("/secret", &c.dir.path().join("stolen"), None).await.is_err());
    let e =
        bob.api().locate(&pyxis_proto::api::chunks::LocateRequest { ids: vec![chunk], of: None }).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::NoChunk));
    // Claiming her chunk in his own commit does not work either.
    let mut file = fv.files[0].clone();
    file.path = "/mine".into();
    let commit = CommitFile {
        path: file.path,
        size: file.info.size,
        mtime: 0,
        content_hash: file.info.content_hash,
        manifest: file.manifest,
        wrapped_key: file.wrapped_key,
        chunks: file.chunks,
        expect: None,
        binding: None,
        share_keys: vec![],
        new_version: false,
        writer_keys: None,
        chunks_of: None,
    };
    let e = bob.api().commit(&CommitRequest { files: vec![commit] }).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::MissingChunk), "{e}");
    // And nothing of Bob's changed Alice's view.
    assert_eq!(alice.api().stat("/secret").await.unwrap().kind, EntryKind::File);
    assert!(bob.api().list("/", true, None).await.unwrap().entries.is_empty());
}

#[tokio::test]
async fn quota_exceeded_is_clear_and_leaves_nothing_behind() {
    let c = Cluster::start_with(3, pyxis_testkit::DEFAULT_CAPACITY, |o| o.default_quota = 3 << 20).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("big");
    random_file(&f, 1, 8 << 20);
    let e = a.put(&f, "/big").await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::QuotaExceeded), "{e}");
    assert!(e.to_string().contains("quota"), "{e}");
    assert_eq!(code(&a.api().stat("/big").await.unwrap_err()), Some(ErrorCode::NotFound));
    // Small files still fit.
    let small = c.dir.path().join("small");
    random_file(&small, 2, 100_000);
    a.put(&small, "/small").await.unwrap();
    let q = a.api().quota().await.unwrap();
    assert!(q.used <= q.quota, "{q:?}");
}

#[tokio::test]
async fn admin_sets_quota_with_the_admin_token_only() {
    let c = Cluster::start(1).await.unwrap();
    c.signup("alice", "pw").await.unwrap();
    let token = std::fs::read_to_string(c.dir.path().join("server/admin-token")).unwrap();
    let admin = c.api().with_token(token.trim());
    admin.admin_quota("alice", 12345).await.unwrap();
    let a = pyxis_client::Client::open(&c.device("alice"), None, Default::default()).unwrap();
    assert_eq!(a.api().quota().await.unwrap().quota, 12345);
    assert_eq!(code(&admin.admin_quota("nobody", 1).await.unwrap_err()), Some(ErrorCode::NoUser));
    let wrong = c.api().with_token("nope");
    assert_eq!(code(&wrong.admin_quota("alice", 1).await.unwrap_err()), Some(ErrorCode::BadAdminToken));
    // A user's session is not an admin token.
    let session = c.device("alice").load().unwrap().unwrap().token.clone();
    let user = c.api().with_token(&session);
    assert!(user.admin_remotes().await.is_err());
    assert_eq!(admin.admin_remotes().await.unwrap().remotes.len(), 1);
}
