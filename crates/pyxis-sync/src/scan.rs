//! The local scan: every file, link and directory under the root, without
//! following links, with a hash only for files whose stat changed since
//! they were last synced.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::engine::Scan;
use crate::model::{Bases, Kind, Local, Stat};

/// The folder's own directory: state marker and download staging. Never
/// synced.
pub const META_DIR: &str = ".pyxis";
/// The ignore file, in gitignore syntax, at the root.
pub const IGNORE_FILE: &str = ".pyxisignore";

/// A scan's result plus where each path is on disk (a local name that is
/// not in NFC keeps its own spelling on disk).
#[derive(Debug, Default)]
pub struct Found {
    pub scan: Scan,
    pub paths: HashMap<String, PathBuf>,
}

/// The matcher for the root's `.pyxisignore` (none: nothing ignored).
pub fn ignore_rules(root: &Path) -> Result<Gitignore, String> {
    let mut b = GitignoreBuilder::new(root);
    let file = root.join(IGNORE_FILE);
    if file.exists()
        && let Some(e) = b.add(&file)
    {
        return Err(format!("{}: {e}", file.display()));
    }
    b.build().map_err(|e| format!("{}: {e}", file.display()))
}

pub fn stat_of(m: &std::fs::Metadata) -> Stat {
    Stat {
        size: m.len(),
        mtime_ns: m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec()),
        inode: m.ino(),
        mode: m.permissions().mode(),
    }
}

/// Files at least this big, changed within [`RECENT`], are looked at twice
/// before they are read: one still being written (a copy in progress) is
/// left for the pass its last write will trigger, rather than read to the
/// end only to fail as changed.
const BUSY_MIN: u64 = 1 << 20;
const RECENT: std::time::Duration = std::time::Duration::from_secs(2);
const SETTLE: std::time::Duration = std::time::Duration::from_millis(30);

fn still_written(path: &Path, meta: &std::fs::Metadata, stat: Stat) -> bool {
    let recent = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age < RECENT);
    if !meta.is_file() || stat.size < BUSY_MIN || !recent {
        return false;
    }
    std::thread::sleep(SETTLE);
    std::fs::symlink_metadata(path).map(|m| stat_of(&m) != stat).unwrap_or(true)
}

/// Whether a name is one of the temporary files a get writes before its
/// rename (`.NAME.pyxis-XXXXXXXXXXXX`).
fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.rsplit_once(".pyxis-").is_some_and(|(_, t)| t.len() == 12)
}

/// Scans `root`. `hash` gives the catalog hash of a file (it reads it);
/// it is called only for files whose stat is not their base's.
pub fn scan(root: &Path, bases: &Bases, hash: &dyn Fn(&Path) -> Result<Option<String>, String>) -> Found {
    let mut found = Found::default();
    let rules = match ignore_rules(root) {
        Ok(r) => r,
        Err(e) => {
            // A broken ignore file must not make ignored files look new.
            found.scan.vanished = Some(format!("the ignore file cannot be read: {e}"));
            return found;
        }
    };
    walk(root, "", bases, hash, &rules, &mut found);
    found
}

fn walk(
    dir: &Path,
    rel_dir: &str,
    bases: &Bases,
    hash: &dyn Fn(&Path) -> Result<Option<String>, String>,
    rules: &Gitignore,
    found: &mut Found,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            found.scan.skipped.push((rel_dir.to_owned(), format!("cannot list: {e}")));
            return;
        }
    };
    let mut names: Vec<(String, PathBuf, std::fs::Metadata)> = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let raw = e.file_name();
        let Some(name) = raw.to_str() else {
            found.scan.skipped.push((format!("{rel_dir}/{}", raw.to_string_lossy()), "name is not UTF-8".into()));
            continue;
        };
        if (rel_dir.is_empty() && name == META_DIR) || is_temp(name) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue }; // gone since listed
        if rules.matched_path_or_any_parents(&path, meta.is_dir()).is_ignore() {
            continue;
        }
        let nfc = pyxis_proto::path::to_nfc(name).into_owned();
        names.push((nfc, path, meta));
    }
    // Two local names equal in NFC: the one spelled in NFC wins, as in put.
    names.sort_by(|a, b| {
        (&a.0, a.1.file_name() != Some(a.0.as_ref())).cmp(&(&b.0, b.1.file_name() != Some(b.0.as_ref())))
    });
    let mut last: Option<String> = None;
    for (name, path, meta) in names {
        let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
        if last.as_deref() == Some(name.as_str()) {
            found.scan.skipped.push((rel, "another local name is the same in NFC".into()));
            continue;
        }
        last = Some(name.clone());
        if let Err(e) = pyxis_proto::path::join("/", &rel) {
            found.scan.skipped.push((rel, e.to_string()));
            continue;
        }
        let stat = stat_of(&meta);
        if meta.is_dir() {
            found.scan.locals.insert(rel.clone(), Local { kind: Kind::Dir, stat, hash: None, busy: false });
            found.paths.insert(rel.clone(), path.clone());
            walk(&path, &rel, bases, hash, rules, found);
            continue;
        }
        if !meta.is_file() && !meta.file_type().is_symlink() {
            found.scan.skipped.push((rel, "not a file, a directory or a link".into()));
            continue;
        }
        let known =
            bases.get(&rel).filter(|b| b.kind == Kind::File && b.stat == Some(stat)).and_then(|b| b.hash.clone());
        if known.is_none() && still_written(&path, &meta, stat) {
            found.scan.locals.insert(rel.clone(), Local { kind: Kind::File, stat, hash: None, busy: true });
            found.paths.insert(rel, path);
            continue;
        }
        let h = match known {
            Some(h) => Some(h),
            None => match hash(&path) {
                Ok(h) => h,
                Err(e) => {
                    found.scan.skipped.push((rel, e));
                    continue;
                }
            },
        };
        found.scan.locals.insert(rel.clone(), Local { kind: Kind::File, stat, hash: h, busy: false });
        found.paths.insert(rel, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_without_following_links_and_honours_the_ignore_file() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f.txt"), b"x").unwrap();
        std::fs::write(root.join("a/skip.log"), b"x").unwrap();
        std::fs::create_dir_all(root.join("build")).unwrap();
        std::fs::write(root.join("build/out"), b"x").unwrap();
        std::fs::write(root.join(IGNORE_FILE), b"*.log\nbuild/\n").unwrap();
        std::fs::create_dir_all(root.join(META_DIR)).unwrap();
        std::fs::write(root.join(".f.txt.pyxis-0123456789ab"), b"partial").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        std::fs::write(root.join("cafe\u{301}"), b"nfd").unwrap();
        let hashed = std::cell::Cell::new(0);
        let hash = |_: &Path| {
            hashed.set(hashed.get() + 1);
            Ok(Some("h".to_owned()))
        };
        let f = scan(root, &Bases::new(), &hash);
        let rels: Vec<&str> = f.scan.locals.keys().map(|s| s.as_str()).collect();
        assert_eq!(rels, [IGNORE_FILE, "a", "a/b", "a/b/f.txt", "caf\u{e9}", "etc"]);
        assert_eq!(f.scan.locals["etc"].kind, Kind::File, "a link is a file-like node, not walked");
        assert_eq!(f.paths["caf\u{e9}"], root.join("cafe\u{301}"));
        assert_eq!(hashed.get(), 4);
        // Unchanged stats are not hashed again.
        let bases: Bases = f
            .scan
            .locals
            .iter()
            .map(|(r, l)| {
                let b = crate::model::Base {
                    kind: l.kind,
                    hash: l.hash.clone(),
                    version: 1,
                    file_id: None,
                    stat: Some(l.stat),
                };
                (r.clone(), b)
            })
            .collect();
        hashed.set(0);
        scan(root, &bases, &hash);
        assert_eq!(hashed.get(), 0);
    }
}
