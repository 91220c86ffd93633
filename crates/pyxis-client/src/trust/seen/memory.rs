//! The memory itself: per file, the newest version seen and what this
//! device did to it; per path, the file last seen there. Kept apart from
//! `Seen` (the locking and loading) and `disk` (the file's bytes), which
//! both use it.

use std::collections::HashMap;

use pyxis_proto::FileId;
use serde::Deserialize;

/// What this device knows of one file.
/// (`Deserialize`: the JSON memory of older builds; `disk.rs` writes.)
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub(super) struct FileSeen {
    /// The newest version seen.
    pub(super) version: i64,
    /// This device removed it at `version`.
    #[serde(default)]
    pub(super) removed: bool,
    /// This device moved it away from this path at `version`.
    #[serde(default)]
    pub(super) moved_from: Option<String>,
}

impl FileSeen {
    /// The later of two records of the same file.
    pub(super) fn merge(self, other: FileSeen) -> FileSeen {
        if other.version > self.version {
            return other;
        }
        if self.version > other.version {
            return self;
        }
        FileSeen {
            version: self.version,
            removed: self.removed || other.removed,
            moved_from: self.moved_from.or(other.moved_from),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Memory {
    /// Refuse unbound versions (the account binds every version, or
    /// `pyxis upgrade` left none unbound).
    #[serde(default)]
    pub(super) strict: bool,
    #[serde(default)]
    pub(super) files: HashMap<FileId, FileSeen>,
    /// The file last seen at each path.
    #[serde(default)]
    pub(super) paths: HashMap<String, FileId>,
}

impl Memory {
    pub(super) fn merge(&mut self, other: Memory) {
        self.strict |= other.strict;
        for (id, f) in other.files {
            let merged = match self.files.remove(&id) {
                Some(mine) => mine.merge(f),
                None => f,
            };
            self.files.insert(id, merged);
        }
        for (p, id) in other.paths {
            self.paths.entry(p).or_insert(id);
        }
    }
}
