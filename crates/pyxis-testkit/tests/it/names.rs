//! Names (issue 9): the catalog holds NFC, refuses bidirectional controls and
//! invisible characters, a put skips local names it cannot store, and names
//! stored before these rules stay within reach.

use pyxis_client::{Client, ClientError};
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::{CommitFile, CommitRequest};
use pyxis_testkit::Cluster;

use crate::support::random_file;

const CAFE_NFC: &str = "caf\u{E9}";
const CAFE_NFD: &str = "cafe\u{301}";

async fn names(a: &Client, dir: &str) -> Vec<String> {
    a.api().list(dir, true, None).await.unwrap().entries.into_iter().map(|e| e.path).collect()
}

/// The status and code of a refused call.
fn refusal(e: ClientError) -> (u16, ErrorCode, String) {
    match e {
        ClientError::Api { status, code, message } => (status, code, message),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn an_nfd_name_is_stored_as_nfc_and_meets_its_nfc_spelling() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    // What a macOS disk hands over: the NFD spelling.
    let mac = c.dir.path().join("mac");
    random_file(&mac.join(CAFE_NFD), 1, 100);
    let r = a.put(&mac, "/t").await.unwrap();
    assert_eq!((r.files, r.skipped.len()), (1, 0), "{r:?}");
    assert_eq!(names(&a, "/t").await, [format!("/t/{CAFE_NFC}")]);

    // The NFC spelling, from another disk, is the same entry: a new version.
    let linux = c.dir.path().join("linux");
    let body = random_file(&linux.join(CAFE_NFC), 2, 200);
    let r = a.put(&linux, "/t").await.unwrap();
    assert_eq!((r.files, r.unchanged), (1, 0), "{r:?}");
    assert_eq!(names(&a, "/t").await, [format!("/t/{CAFE_NFC}")]);
    let v = a.api().versions(&format!("/t/{CAFE_NFC}")).await.unwrap();
    assert_eq!(v.versions.len(), 2);

    // A destination typed in NFD lands there too.
    let one = c.dir.path().join("one");
    random_file(&one, 3, 300);
    a.put(&one, &format!("/t/{CAFE_NFD}")).await.unwrap();
    assert_eq!(names(&a, "/t").await, [format!("/t/{CAFE_NFC}")]);
    assert_eq!(a.api().versions(&format!("/t/{CAFE_NFC}")).await.unwrap().versions.len(), 3);
    let back = c.dir.path().join("back");
    a.get(&format!("/t/{CAFE_NFC}"), &back, Some(2)).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), body);
}

#[tokio::test]
async fn the_server_refuses_nfd_and_hidden_characters_with_bad_path() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let api = a.api();
    api.mkdir("/ok", false).await.unwrap();
    let cases = [
        (format!("/{CAFE_NFD}"), "NFC"),
        ("/photo\u{202E}gnp.exe".into(), "U+202E"),
        ("/a\u{2067}b".into(), "U+2067"),
        ("/a\u{200B}b".into(), "U+200B"),
        ("/\u{FEFF}a".into(), "U+FEFF"),
        ("/hidden\u{E0041}".into(), "U+E0041"),
        ("/dir/a\u{2028}b".into(), "U+2028"),
    ];
    for (bad, named) in &cases {
        let (status, code, message) = refusal(api.mkdir(bad, true).await.unwrap_err());
        assert_eq!((status, code), (400, ErrorCode::BadPath), "{bad:?}: {message}");
        assert!(message.contains(named), "{bad:?}: {message}");
        let file = CommitFile {
            path: bad.clone(),
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
        let (status, code, _) = refusal(api.commit(&CommitRequest { files: vec![file] }).await.unwrap_err());
        assert_eq!((status, code), (400, ErrorCode::BadPath), "{bad:?}");
        let (status, code, _) = refusal(api.rename("/ok", bad).await.unwrap_err());
        assert_eq!((status, code), (400, ErrorCode::BadPath), "{bad:?}");
    }
    assert_eq!(names(&a, "/").await, ["/ok"], "nothing refused was created");
    // The joiners real names use are fine.
    for good in ["/👩\u{200D}💻", "/می\u{200C}خواهم"] {
        assert_eq!(api.mkdir(good, false).await.unwrap().path, good);
    }
}

#[tokio::test]
async fn local_names_the_catalog_refuses_are_skipped_and_reported() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let tree = c.dir.path().join("tree");
    random_file(&tree.join("fine.txt"), 1, 100);
    random_file(&tree.join("sub/also fine"), 2, 300_000);
    random_file(&tree.join("photo\u{202E}gnp.exe"), 3, 100);
    random_file(&tree.join("a\u{200B}b/inside"), 4, 100);
    for round in 0..2 {
        // The second round meets the same names and skips them again, at once.
        let r = a.put(&tree, "/t").await.unwrap();
        assert_eq!(r.files, 2, "round {round}: {r:?}");
        assert!(r.failed.is_empty(), "round {round}: {r:?}");
        let mut skipped: Vec<_> = r.skipped.iter().map(|s| (s.path.as_str(), s.error.as_str())).collect();
        skipped.sort();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].0.ends_with("a\u{200B}b") && skipped[0].1.contains("U+200B"), "{skipped:?}");
        assert!(skipped[1].0.ends_with("photo\u{202E}gnp.exe") && skipped[1].1.contains("U+202E"), "{skipped:?}");
    }
    assert_eq!(names(&a, "/t").await, ["/t/fine.txt", "/t/sub", "/t/sub/also fine"]);

    // One such file put into a directory is skipped the same way.
    let r = a.put(&tree.join("photo\u{202E}gnp.exe"), "/t").await.unwrap();
    assert_eq!((r.files, r.skipped.len()), (0, 1), "{r:?}");
    assert!(r.skipped[0].error.contains("U+202E"), "{r:?}");
    // A destination the caller names is not skipped: it is an error.
    let e = a.put(&tree.join("fine.txt"), "/t/x\u{202E}y").await.unwrap_err();
    assert!(matches!(e, ClientError::Path(_)), "{e}");
}

#[tokio::test]
async fn names_stored_before_the_rules_can_be_read_renamed_and_removed() {
    let c = Cluster::start(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let uid = a.api().whoami().await.unwrap().id;
    let f = c.dir.path().join("f");
    let body = random_file(&f, 1, 100);
    a.put(&f, "/old/f").await.unwrap();
    a.put(&f, "/old/g").await.unwrap();
    // What an older server accepted, written where no rule applies.
    let (rlo, nfd) = ("/old/photo\u{202E}gnp.exe", format!("/old/{CAFE_NFD}"));
    // Re-bound as the owner's client would have (a name with no binding for
    // it is refused as tampering).
    let keys = c.keyring("alice").unwrap();
    let seen = pyxis_client::binding::Seen::default();
    let opener = pyxis_client::binding::Opener::own(keys.clone());
    for (from, to) in [("/old/f", rlo), ("/old/g", nfd.as_str())] {
        let head =
            pyxis_client::binding::verify_entry(&opener, &seen, &a.api().stat(from).await.unwrap()).unwrap().unwrap();
        let tag = pyxis_client::binding::rebind_entry(&opener, to, &head).unwrap();
        c.server().state().db.rename(uid, from, to, &[(to.to_owned(), tag.0.to_vec())]).await.unwrap();
    }

    assert_eq!(names(&a, "/old").await, [nfd.clone(), rlo.to_owned()]);
    assert_eq!(a.api().stat(rlo).await.unwrap().size, 100);
    let out = c.dir.path().join("out");
    a.get("/old", &out, None).await.unwrap();
    assert_eq!(std::fs::read(out.join(CAFE_NFD)).unwrap(), body);
    // Renamed to a valid name, and removed.
    a.rename(rlo, "/old/photo.exe").await.unwrap();
    a.remove(&nfd, false).await.unwrap();
    assert_eq!(names(&a, "/old").await, ["/old/photo.exe"]);
}
