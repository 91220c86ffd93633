//! Walking what to put and sorting files by how they will be stored:
//! inline (tiny), packed with others (small), or chunked on their own (big).
//!
//! Local names become catalog names in NFC. One the catalog refuses even
//! then (a bidirectional control, an invisible character, not UTF-8) is
//! skipped and reported, not sent: the server would refuse it every time.

use std::fs::DirEntry;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use pyxis_proto::format::manifest::{Attrs, MAX_LINK_TARGET, NodeKind};
use pyxis_proto::path;
use serde::Serialize;

use crate::error::{ClientError, Result};

/// Files up to this size live inline in the catalog: no shard at all.
pub const INLINE_MAX: u64 = 4 << 10;
/// Files below this size (the minimum chunk size) are packed together.
pub const PACK_MAX: u64 = 256 << 10;

/// A file that was not stored, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone)]
pub struct Planned {
    pub src: PathBuf,
    pub dst: String,
    /// The content's length (a link's: its target's).
    pub size: u64,
    pub mtime: Option<SystemTime>,
    /// Kind and permission bits, stored sealed in the manifest.
    pub attrs: Attrs,
}

impl Planned {
    /// A regular file or a symbolic link, from its `lstat`; `None` for
    /// anything else (a directory, a device, a socket).
    pub fn from_meta(src: PathBuf, dst: String, meta: &std::fs::Metadata) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        let attrs = if meta.is_file() {
            Attrs::file(meta.permissions().mode())
        } else if meta.file_type().is_symlink() {
            Attrs::symlink()
        } else {
            return None;
        };
        Some(Self { src, dst, size: meta.len(), mtime: meta.modified().ok(), attrs })
    }

    pub fn is_link(&self) -> bool {
        self.attrs.kind == NodeKind::Symlink
    }

    /// Stored in chunks of its own (not inline or packed with others); its
    /// content hash is then over its chunk ids, else over its bytes.
    pub fn chunked_alone(&self) -> bool {
        !self.is_link() && self.size >= PACK_MAX
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    pub inline: Vec<Planned>,
    pub packed: Vec<Planned>,
    pub big: Vec<Planned>,
    /// Directories with nothing in them, which no commit would create.
    pub empty_dirs: Vec<String>,
    /// The destination itself, when the source is a directory.
    pub root_dir: Option<String>,
    pub skipped: Vec<Skipped>,
    pub bytes: u64,
    /// Files left out because the catalog already has them unchanged.
    pub unchanged: u64,
    /// The verified current versions at the destination (new versions are
    /// bound as their successors).
    pub heads: std::collections::HashMap<String, crate::trust::binding::Head>,
    /// Files not put because what the catalog shows at their path was
    /// refused (a binding that does not verify): reported as failed.
    pub refused: Vec<Skipped>,
    /// Make a new version of every file, even one whose content, size and
    /// mtime are the current version's (a share re-packs files: same
    /// content, new chunks).
    pub new_versions: bool,
    /// Commit each file only over its head in `heads` (none: only as a new
    /// file); one that moved on fails ([`crate::put::commit::CHANGED_ON_SERVER`])
    /// instead of being bound over the newer version. Sync puts this way.
    pub strict: bool,
}

impl Plan {
    /// Takes the file put at `dst` out of the plan, as failed with `why`.
    pub fn refuse(&mut self, dst: &str, why: String) {
        for list in [&mut self.inline, &mut self.packed, &mut self.big] {
            if let Some(i) = list.iter().position(|p| p.dst == dst) {
                let p = list.remove(i);
                self.bytes -= p.size;
                self.refused.push(Skipped { path: dst.to_owned(), error: why });
                return;
            }
        }
    }

    pub fn files(&self) -> usize {
        self.inline.len() + self.packed.len() + self.big.len()
    }

    pub(crate) fn add(&mut self, p: Planned) {
        self.bytes += p.size;
        // A link's target is at most 4,095 bytes: always inline.
        if p.size <= INLINE_MAX || p.is_link() {
            self.inline.push(p);
        } else if !p.chunked_alone() {
            self.packed.push(p);
        } else {
            self.big.push(p);
        }
    }
}

/// Plans putting `src` (a file or a directory) at catalog path `dst`.
pub fn plan(src: &Path, dst: &str) -> Result<Plan> {
    let dst = path::normalize_local(dst)?;
    let meta = std::fs::metadata(src).map_err(|e| ClientError::io(src.display(), e))?;
    let mut plan = Plan::default();
    if meta.is_dir() {
        plan.root_dir = Some(dst.clone());
        walk(src, &dst, &mut plan)?;
    } else if let Some(p) = Planned::from_meta(src.to_owned(), dst, &meta) {
        plan.add(p);
    } else {
        return Err(ClientError::Invalid(format!("{}: not a regular file or a directory", src.display())));
    }
    Ok(plan)
}

fn walk(dir: &Path, dst: &str, plan: &mut Plan) -> Result<()> {
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ClientError::io(dir.display(), e))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| ClientError::io(dir.display(), e))?;
    if entries.is_empty() && plan.root_dir.as_deref() != Some(dst) {
        plan.empty_dirs.push(dst.to_owned());
    }
    // The catalog name given last, and the file that has it.
    let mut taken: Option<(String, PathBuf)> = None;
    for (e, name) in by_catalog_name(entries) {
        let src = e.path();
        let skip =
            |plan: &mut Plan, why: String| plan.skipped.push(Skipped { path: src.display().to_string(), error: why });
        let Some(name) = name else {
            skip(plan, "name is not UTF-8".into());
            continue;
        };
        if let Some((last, first)) = &taken
            && *last == name
        {
            let why = format!("its name in NFC is that of {}, which is stored instead", first.display());
            skip(plan, why);
            continue;
        }
        let child = match path::join(dst, &name) {
            Ok(c) => c,
            Err(err) => {
                skip(plan, err.to_string());
                continue;
            }
        };
        taken = Some((name, src.clone()));
        let meta = match e.metadata() {
            Ok(m) => m,
            Err(err) => {
                skip(plan, err.to_string());
                continue;
            }
        };
        // `DirEntry::metadata` does not follow links: a link is stored as a
        // link, and a link to a directory is never walked into.
        if meta.is_dir() {
            walk(&src, &child, plan)?;
        } else if meta.file_type().is_symlink() && meta.len() > MAX_LINK_TARGET {
            skip(plan, format!("symbolic link with a target over {MAX_LINK_TARGET} bytes"));
        } else if let Some(p) = Planned::from_meta(src.clone(), child, &meta) {
            plan.add(p);
        } else {
            skip(plan, "not a regular file, a directory or a symbolic link".into());
        }
    }
    Ok(())
}

/// A directory's entries with their names in NFC, as the catalog stores them
/// (`None`: not UTF-8), sorted by that name. Two local names can differ only
/// in normalisation (an NFC and an NFD `café`) and one catalog entry cannot
/// hold both: the one already spelled in NFC sorts first and is the one kept.
fn by_catalog_name(entries: Vec<DirEntry>) -> Vec<(DirEntry, Option<String>)> {
    let mut named: Vec<_> = entries
        .into_iter()
        .map(|e| {
            let name = e.file_name().to_str().map(|n| path::to_nfc(n).into_owned());
            (e, name)
        })
        .collect();
    named.sort_by_cached_key(|(e, name)| {
        let local = e.file_name();
        (name.clone(), local.to_str() != name.as_deref(), local)
    });
    named
}

/// Unix milliseconds of a modification time.
pub fn mtime_ms(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_size_and_records_empty_dirs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("tiny"), b"x").unwrap();
        std::fs::write(d.path().join("small"), vec![1u8; 10_000]).unwrap();
        std::fs::write(d.path().join("big"), vec![1u8; 300_000]).unwrap();
        std::fs::create_dir(d.path().join("empty")).unwrap();
        std::os::unix::fs::symlink("tiny", d.path().join("link")).unwrap();
        let p = plan(d.path(), "/up").unwrap();
        assert_eq!(p.inline.iter().map(|f| f.dst.as_str()).collect::<Vec<_>>(), ["/up/link", "/up/tiny"]);
        assert_eq!(p.packed[0].dst, "/up/small");
        assert_eq!(p.big[0].dst, "/up/big");
        assert_eq!(p.empty_dirs, ["/up/empty"]);
        assert_eq!(p.root_dir.as_deref(), Some("/up"));
        let link = p.inline.iter().find(|f| f.dst == "/up/link").unwrap();
        assert!(link.is_link() && link.size == 4, "{link:?}");
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.bytes, 310_005);
    }

    #[test]
    fn local_names_become_nfc_and_refused_ones_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cafe\u{301}.txt"), b"nfd").unwrap();
        std::fs::write(d.path().join("photo\u{202E}gnp.exe"), b"rlo").unwrap();
        std::fs::create_dir(d.path().join("a\u{200B}b")).unwrap();
        std::fs::write(d.path().join("a\u{200B}b").join("inside"), b"x").unwrap();
        std::fs::write(d.path().join("ok"), b"x").unwrap();
        let p = plan(d.path(), "/up/cafe\u{301}").unwrap();
        let dsts: Vec<_> = p.inline.iter().map(|f| f.dst.as_str()).collect();
        assert_eq!(dsts, ["/up/caf\u{E9}/caf\u{E9}.txt", "/up/caf\u{E9}/ok"]);
        assert_eq!(p.root_dir.as_deref(), Some("/up/caf\u{E9}"));
        let skipped: Vec<_> =
            p.skipped.iter().map(|s| (s.path.rsplit('/').next().unwrap(), s.error.as_str())).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].0 == "a\u{200B}b" && skipped[0].1.contains("U+200B"), "{skipped:?}");
        assert!(skipped[1].0 == "photo\u{202E}gnp.exe" && skipped[1].1.contains("U+202E"), "{skipped:?}");
    }

    #[test]
    fn of_two_names_equal_in_nfc_the_nfc_one_is_kept() {
        let d = tempfile::tempdir().unwrap();
        // In byte order the NFD spelling ("e" 0x65) comes before the NFC one (0xC3).
        std::fs::write(d.path().join("cafe\u{301}"), b"nfd").unwrap();
        std::fs::write(d.path().join("caf\u{E9}"), b"nfc").unwrap();
        let p = plan(d.path(), "/up").unwrap();
        assert_eq!(p.inline.len(), 1);
        assert_eq!(p.inline[0].dst, "/up/caf\u{E9}");
        assert_eq!(p.inline[0].src, d.path().join("caf\u{E9}"));
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].path, d.path().join("cafe\u{301}").display().to_string());
        assert!(p.skipped[0].error.contains("NFC"), "{:?}", p.skipped[0]);
    }
}
