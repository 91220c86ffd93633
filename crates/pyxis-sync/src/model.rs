//! What the engine knows about a path on each side, and what it last
//! agreed on. Paths are relative to the folder's root, `/`-separated, in
//! NFC, as the catalog spells them below the remote root (`a/b.txt`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A regular file or a symbolic link: content (a link's is its target)
    /// with a hash that also covers kind and mode.
    File,
    Dir,
}

/// What `lstat` says of a local file: enough to tell it changed without
/// reading it (size, mtime in ns, inode, permission bits and type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Stat {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    pub mode: u32,
}

/// The last state both sides agreed on for a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    pub kind: Kind,
    /// The catalog's hash of the version (files).
    pub hash: Option<String>,
    /// The catalog version the local file is (files).
    pub version: i64,
    /// The catalog's file id (hex; files), which a move keeps.
    pub file_id: Option<String>,
    /// The local file's stat when it was last synced.
    pub stat: Option<Stat>,
}

/// A path as the local scan found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub kind: Kind,
    pub stat: Stat,
    /// The hash the catalog would keep for it (files).
    pub hash: Option<String>,
    /// Still being written (its stat moved while it was looked at): left
    /// for a later pass, neither sent nor taken for deleted.
    pub busy: bool,
}

/// A path as the server lists it (verified against its binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub kind: Kind,
    pub version: i64,
    pub hash: Option<String>,
    pub file_id: Option<String>,
    pub size: u64,
    /// Listed, but refused (its binding did not verify), with why: nothing
    /// is decided about it, least of all a delete.
    pub refused: Option<String>,
}

impl Remote {
    pub fn dir() -> Self {
        Remote { kind: Kind::Dir, version: 0, hash: None, file_id: None, size: 0, refused: None }
    }
}

pub type Bases = BTreeMap<String, Base>;
pub type Locals = BTreeMap<String, Local>;
pub type Remotes = BTreeMap<String, Remote>;

/// The parent of a relative path (`""` for a top-level one).
pub fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Whether `rel` is `dir` or lies under it.
pub fn within(rel: &str, dir: &str) -> bool {
    rel == dir || (rel.len() > dir.len() && rel.starts_with(dir) && rel.as_bytes()[dir.len()] == b'/')
}

/// The name a conflict copy gets: `NAME (conflict from DEVICE YYYY-MM-DD
/// HHMMSS).EXT`, next to the file. A name already a conflict copy's is not
/// nested further (copies never cascade): its own copy gets a fresh stamp.
pub fn conflict_name(rel: &str, device: &str, unix_secs: i64) -> String {
    let (dir, name) = match rel.rsplit_once('/') {
        Some((d, n)) => (format!("{d}/"), n),
        None => (String::new(), rel),
    };
    let base = match name.find(" (conflict from ") {
        Some(i) => &name[..i],
        None => name,
    };
    let ext = name.rfind('.').filter(|&i| i > 0 && !name[i..].contains(')')).map_or("", |i| &name[i..]);
    let stem = base.strip_suffix(ext).unwrap_or(base);
    let device: String = device.chars().filter(|c| !matches!(c, '/' | '\0' | '(' | ')')).take(40).collect();
    format!("{dir}{stem} (conflict from {device} {}){ext}", stamp(unix_secs))
}

/// `YYYY-MM-DD HHMMSS` in UTC.
fn stamp(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    // RFC 3339 is `YYYY-MM-DDTHH:MM:SSZ`.
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} {}", &s[..10], s[11..19].replace(':', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names() {
        let t = 1_796_041_845; // 2026-11-30 12:30:45 UTC
        assert_eq!(conflict_name("a/report.txt", "laptop", t), "a/report (conflict from laptop 2026-11-30 123045).txt");
        assert_eq!(conflict_name("Makefile", "pc", 0), "Makefile (conflict from pc 1970-01-01 000000)");
        assert_eq!(conflict_name(".bashrc", "pc", 0), ".bashrc (conflict from pc 1970-01-01 000000)");
        assert_eq!(conflict_name("a.tar.gz", "pc", 0), "a.tar (conflict from pc 1970-01-01 000000).gz");
        // A copy's copy is not nested.
        let once = conflict_name("r.txt", "a", 0);
        assert_eq!(conflict_name(&once, "b", t), "r (conflict from b 2026-11-30 123045).txt");
        assert_eq!(conflict_name("x", "evil/../dev()", 0), "x (conflict from evil..dev 1970-01-01 000000)");
    }

    #[test]
    fn paths() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert!(within("a/b", "a") && within("a", "a") && !within("ab", "a") && !within("a", "a/b"));
    }
}
