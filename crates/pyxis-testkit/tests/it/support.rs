//! Helpers for the end-to-end tests.

use std::path::Path;

use pyxis_core::testdata::pseudo_random;

/// Writes `len` deterministic random bytes to `path`.
pub fn random_file(path: &Path, seed: u64, len: usize) -> Vec<u8> {
    let data = pseudo_random(seed, len);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, &data).unwrap();
    data
}

/// Asserts two files have the same bytes, without printing megabytes.
pub fn same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert_eq!(x.len(), y.len(), "{} and {} differ in length", a.display(), b.display());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// Sets a file's modification time.
pub fn set_mtime(path: &Path, when: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
}

/// alice (signed up) with /docs/a.txt (5 kB), /docs/b.txt (300 kB) and
/// /notes.txt (2 kB): the tree the hostile-server tests lie about.
pub async fn alice_with_docs(c: &pyxis_testkit::Cluster) -> pyxis_client::Client {
    let alice = c.signup("alice", "pw").await.unwrap();
    let src = c.dir.path().join("src");
    random_file(&src.join("docs/a.txt"), 1, 5_000);
    random_file(&src.join("docs/b.txt"), 2, 300_000);
    random_file(&src.join("notes.txt"), 3, 2_000);
    alice.put(&src.join("docs"), "/docs").await.unwrap();
    alice.put(&src.join("notes.txt"), "/notes.txt").await.unwrap();
    alice
}
