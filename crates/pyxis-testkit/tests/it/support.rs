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
