//! This device's memory of the catalog: the newest version it has seen of
//! each file (by file id, wherever the file lives), what it removed and
//! moved, and whether it refuses unbound versions. What a server rolls back,
//! revives or serves at a path the file left is caught against it
//! (docs/SECURITY.md, "Authenticated versions").
//!
//! One file per account and server (docs/FORMAT.md; `disk.rs`), written
//! atomically under a lock and merged with what other commands wrote
//! meanwhile, so two commands running at once never undo each other's
//! records. It is read when first needed: a command that checks nothing
//! (`whoami`, a put) never parses it.

mod disk;
mod memory;

use memory::{FileSeen, Memory};

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pyxis_proto::FileId;

use crate::error::{ClientError, Result};

#[derive(Debug, Default)]
pub struct Seen {
    /// The memory's name as JSON (the binary file sits beside it).
    file: Option<PathBuf>,
    state: Mutex<State>,
    dirty: AtomicBool,
    /// Refuse unbound versions whatever the file says (the session's
    /// account binds every version, or a share's tree).
    strict: AtomicBool,
    /// Legacy versions accepted since this was loaded.
    pub legacy: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    loaded: bool,
    mem: Memory,
    /// The file's length and mtime when this memory last read or wrote it:
    /// unchanged at save, no other command wrote it, and there is nothing
    /// to merge (a tree of 50,000 files need not be parsed twice).
    stamp: Option<(u64, std::time::SystemTime)>,
}

fn stamp(file: &std::path::Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(disk::path(file)).ok()?;
    Some((m.len(), m.modified().ok()?))
}

impl Seen {
    /// The memory kept in `file` (none: kept only in this process). Nothing
    /// is read until it is needed; a missing file is an empty memory, an
    /// unreadable one an error at first use, so a corrupted file cannot
    /// silently turn the checks off.
    pub fn open(file: Option<PathBuf>) -> Self {
        Self { file, ..Default::default() }
    }

    /// Reads the memory now, on a blocking thread, if it is not yet: a
    /// command that will check what the server answers calls this before
    /// it asks, so the reading overlaps the round trip (it took a third of
    /// a `pyxis ls` of 10,000 entries on a device that had seen 40,000
    /// files). An unreadable memory is reported by the check that needs it.
    pub fn preload(self: &std::sync::Arc<Self>) {
        if self.file.is_none() || self.state.lock().map(|s| s.loaded).unwrap_or(true) {
            return;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || drop(me.mem()));
    }

    /// The memory, read from its file the first time.
    fn mem(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !st.loaded {
            if let Some(f) = &self.file {
                st.stamp = stamp(f);
                st.mem = disk::read(f)?;
            }
            st.loaded = true;
        }
        Ok(st)
    }

    fn touch(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the memory back if it changed: under a lock, merged with what
    /// is on disk now, atomically and fsync'd.
    pub fn save(&self) -> Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        if !self.dirty.load(Ordering::Relaxed) {
            return Ok(());
        }
        let dir = file.parent().unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| ClientError::io(dir.display(), e))?;
        let lock_path = file.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| ClientError::io(lock_path.display(), e))?;
        lock.lock().map_err(|e| ClientError::io(lock_path.display(), e))?;
        let mut st = self.mem()?;
        if stamp(file) != st.stamp {
            let other = disk::read(file)?;
            st.mem.merge(other);
        }
        st.mem.strict |= self.strict.load(Ordering::Relaxed);
        let bytes = disk::encode(&st.mem)?;
        crate::config::write_private(&disk::path(file), &bytes)?;
        // An older build's JSON memory is now in the binary file.
        crate::config::remove_if_present(file)?;
        st.stamp = stamp(file);
        self.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Refuse unbound versions from now on. `persist`: also in the file
    /// (an `upgrade` left none), which needs the memory read; otherwise it
    /// holds for this process only (the session says so each time).
    pub fn make_strict(&self, persist: bool) -> Result<()> {
        self.strict.store(true, Ordering::Relaxed);
        if persist {
            let mut st = self.mem()?;
            if !st.mem.strict {
                st.mem.strict = true;
                self.touch();
            }
        }
        Ok(())
    }

    /// Forgets what was seen at `path` (or everywhere): the user accepts the
    /// server's state as it is now (after a restore from a backup). Every
    /// record gone cannot be read back: a memory that is unreadable is
    /// forgotten whole.
    pub fn forget(&self, path: Option<&str>) -> Result<()> {
        let mut st = match (self.mem(), path) {
            (Ok(st), _) => st,
            (Err(_), None) => {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                *st = State { loaded: true, ..Default::default() };
                st
            }
            (Err(e), Some(_)) => return Err(e),
        };
        let mem = &mut st.mem;
        match path {
            None => {
                mem.files.clear();
                mem.paths.clear();
            }
            Some(p) => {
                let within = |q: &str| q == p || pyxis_proto::path::is_within(q, p);
                let ids: Vec<FileId> = mem.paths.iter().filter(|(q, _)| within(q)).map(|(_, id)| *id).collect();
                mem.paths.retain(|q, _| !within(q));
                for id in ids {
                    mem.files.remove(&id);
                }
                mem.files.retain(|_, f| !f.moved_from.as_deref().is_some_and(within));
            }
        }
        // Forgetting must stick even against another command's merge: the
        // file is rewritten from this memory alone.
        self.touch();
        if let Some(f) = &self.file {
            crate::config::remove_if_present(&disk::path(f))?;
            crate::config::remove_if_present(f)?;
            st.stamp = None;
        }
        Ok(())
    }

    /// Records `version` of `file` at `path` as seen, or refuses it as a
    /// rollback, a revival of what this device removed, or the file served
    /// at a path this device moved it away from.
    pub fn observe(&self, path: &str, file: FileId, version: i64) -> Result<()> {
        let mut st = self.mem()?;
        let mem = &mut st.mem;
        if let Some(f) = mem.files.get(&file) {
            if f.removed && version <= f.version {
                return Err(ClientError::Tampered {
                    path: path.to_owned(),
                    why: format!("this device removed it at version {}; the server serves it again", f.version),
                });
            }
            if version < f.version {
                return Err(ClientError::Rollback { path: path.to_owned(), seen: f.version, served: version });
            }
            if version == f.version && f.moved_from.as_deref() == Some(path) {
                return Err(ClientError::Tampered {
                    path: path.to_owned(),
                    why: "this device moved this file away from here; the server serves it here again".into(),
                });
            }
            if version == f.version && mem.paths.get(path) == Some(&file) {
                return Ok(());
            }
        }
        let seen = FileSeen { version, removed: false, moved_from: None };
        let merged = match mem.files.remove(&file) {
            Some(old) if old.version == version => FileSeen { moved_from: old.moved_from, ..seen },
            _ => seen,
        };
        mem.files.insert(file, merged);
        mem.paths.insert(path.to_owned(), file);
        drop(st);
        self.touch();
        Ok(())
    }

    /// Records that this device removed these files at these versions.
    pub fn removed(&self, files: impl IntoIterator<Item = (String, FileId, i64)>) -> Result<()> {
        let mut st = self.mem()?;
        for (path, id, version) in files {
            st.mem.files.insert(id, FileSeen { version, removed: true, moved_from: None });
            st.mem.paths.remove(&path);
        }
        drop(st);
        self.touch();
        Ok(())
    }

    /// Records that this device put a file back from the trash: it was
    /// removed, and coming back is now expected (at `version` or later).
    pub fn restored(&self, file: FileId, version: i64) -> Result<()> {
        self.mem()?.mem.files.insert(file, FileSeen { version, removed: false, moved_from: None });
        self.touch();
        Ok(())
    }

    /// Records that this device moved these files (old path, new path).
    pub fn moved(&self, files: impl IntoIterator<Item = (FileId, i64, String, String)>) -> Result<()> {
        let mut st = self.mem()?;
        for (id, version, from, to) in files {
            st.mem.files.insert(id, FileSeen { version, removed: false, moved_from: Some(from.clone()) });
            st.mem.paths.remove(&from);
            st.mem.paths.insert(to, id);
        }
        drop(st);
        self.touch();
        Ok(())
    }

    /// An unbound version at `path`: accepted (and counted) only on a device
    /// that is not strict and never saw a bound file there.
    pub fn legacy(&self, path: &str) -> Result<()> {
        let st = self.mem()?;
        let refuse = |why: &str| Err(ClientError::Tampered { path: path.to_owned(), why: why.to_owned() });
        if st.mem.strict || self.strict.load(Ordering::Relaxed) {
            return refuse("it has no binding, and this account binds every version");
        }
        if st.mem.paths.contains_key(path) {
            return refuse("it has no binding, but this device saw it bound");
        }
        self.legacy.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> FileId {
        FileId([n; 32])
    }

    #[test]
    fn rollbacks_revivals_and_moves_are_refused_and_merges_keep_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seen.json");
        let a = Seen::open(Some(file.clone()));
        a.observe("/x", id(1), 3).unwrap();
        assert!(matches!(a.observe("/x", id(1), 2), Err(ClientError::Rollback { seen: 3, served: 2, .. })));
        // The same file under another name still may not go back.
        assert!(a.observe("/y", id(1), 2).is_err());
        a.observe("/x", id(1), 4).unwrap();
        a.save().unwrap();
        // A second command, loaded before: its records merge, none is lost.
        let b = Seen::open(Some(file.clone()));
        a.removed([("/x".to_owned(), id(1), 4)]).unwrap();
        b.observe("/z", id(2), 1).unwrap();
        b.save().unwrap();
        a.save().unwrap();
        let c = Seen::open(Some(file.clone()));
        assert!(c.observe("/x", id(1), 4).unwrap_err().to_string().contains("removed it"));
        c.observe("/x", id(1), 5).unwrap(); // a newer version: someone wrote it again
        c.observe("/z", id(2), 1).unwrap();
        assert!(c.observe("/z", id(2), 0).is_err(), "b's record survived a's save");
        c.moved([(id(2), 1, "/z".to_owned(), "/w".to_owned())]).unwrap();
        assert!(c.observe("/z", id(2), 1).unwrap_err().to_string().contains("moved this file away"));
        c.observe("/w", id(2), 1).unwrap();
        // Legacy: refused where a bound file was seen, and once strict.
        assert!(c.legacy("/w").is_err());
        c.legacy("/new").unwrap();
        c.make_strict(true).unwrap();
        assert!(c.legacy("/new").is_err());
        // Forgetting one path keeps the rest.
        c.forget(Some("/w")).unwrap();
        c.observe("/w", id(2), 0).unwrap();
        assert!(c.observe("/x", id(1), 1).is_err());
    }

    #[test]
    fn a_json_memory_from_an_older_build_is_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seen.json");
        let hex = id(7).to_hex();
        let json = format!(
            r#"{{"strict":false,"files":{{"{hex}":{{"version":5,"removed":false}}}},"paths":{{"/a":"{hex}"}}}}"#
        );
        std::fs::write(&file, json).unwrap();
        let seen = Seen::open(Some(file.clone()));
        assert!(matches!(seen.observe("/a", id(7), 4), Err(ClientError::Rollback { seen: 5, .. })));
        seen.observe("/b", id(8), 1).unwrap();
        seen.save().unwrap();
        assert!(!file.exists() && disk::path(&file).exists());
        let again = Seen::open(Some(file));
        assert!(again.observe("/a", id(7), 4).is_err() && again.observe("/b", id(8), 0).is_err());
        // Nothing read yet: a strict floor does not need the file.
        let lazy = Seen::open(Some(dir.path().join("absent.json")));
        lazy.make_strict(false).unwrap();
        assert!(lazy.legacy("/n").is_err());
    }

    #[test]
    fn a_corrupt_memory_is_an_error_not_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seen.json");
        std::fs::write(&file, b"{not json").unwrap();
        let seen = Seen::open(Some(file.clone()));
        assert!(seen.observe("/x", id(1), 1).unwrap_err().to_string().contains("move it away"));
        // A damaged binary memory is refused the same way, not read as empty.
        std::fs::write(disk::path(&file), b"PYXSEEN\x01garbage").unwrap();
        let seen = Seen::open(Some(file.clone()));
        assert!(seen.legacy("/x").unwrap_err().to_string().contains("move it away"));
        // Forgetting everything is how a user starts again.
        seen.forget(None).unwrap();
        seen.observe("/x", id(1), 1).unwrap();
        seen.save().unwrap();
        assert!(!file.exists());
        assert!(Seen::open(Some(file)).observe("/x", id(1), 0).is_err());
    }
}
