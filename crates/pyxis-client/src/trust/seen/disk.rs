//! The memory's file (docs/FORMAT.md, "seen"): `PYXSEEN` and a format
//! byte, the memory in postcard, and BLAKE3 of everything before it.
//!
//! It was JSON keyed by hex ids until a device that had seen 41,000 files
//! spent 30 ms and 17 MiB parsing 8.6 MB of it in every command; this is a
//! third of the size and parses in a few milliseconds. A JSON memory is
//! still read (and replaced by this file at the next save).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pyxis_proto::FileId;
use serde::{Deserialize, Serialize};

use super::memory::{FileSeen, Memory};
use crate::error::{ClientError, Result};

const MAGIC: &[u8; 7] = b"PYXSEEN";
const FORMAT: u8 = 1;
const SUM: usize = 32;

/// The memory as stored: ids as raw bytes, records in lists.
#[derive(Serialize, Deserialize)]
struct Stored {
    strict: bool,
    /// File id, newest version seen, removed, moved from.
    files: Vec<([u8; 32], i64, bool, Option<String>)>,
    /// Path, the file last seen there.
    paths: Vec<(String, [u8; 32])>,
}

/// The binary file beside `json` (the name the memory had as JSON).
pub fn path(json: &Path) -> PathBuf {
    json.with_extension("bin")
}

fn unreadable(file: &Path, why: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid(format!(
        "{}: unreadable ({why}); it is this device's memory of the versions it has seen: \
         move it away to start a new one",
        file.display()
    ))
}

pub fn encode(mem: &Memory) -> Result<Vec<u8>> {
    let stored = Stored {
        strict: mem.strict,
        files: mem.files.iter().map(|(id, f)| (id.0, f.version, f.removed, f.moved_from.clone())).collect(),
        paths: mem.paths.iter().map(|(p, id)| (p.clone(), id.0)).collect(),
    };
    let mut out = MAGIC.to_vec();
    out.push(FORMAT);
    let body = postcard::to_allocvec(&stored).map_err(|e| ClientError::Invalid(format!("seen memory: {e}")))?;
    out.extend_from_slice(&body);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    Ok(out)
}

pub fn decode(file: &Path, bytes: &[u8]) -> Result<Memory> {
    let min = MAGIC.len() + 1 + SUM;
    if bytes.len() < min || &bytes[..MAGIC.len()] != MAGIC {
        return Err(unreadable(file, "not a memory file"));
    }
    if bytes[MAGIC.len()] != FORMAT {
        return Err(unreadable(file, format!("format {} (this build reads {FORMAT})", bytes[MAGIC.len()])));
    }
    let (signed, sum) = bytes.split_at(bytes.len() - SUM);
    if blake3::hash(signed).as_bytes() != sum {
        return Err(unreadable(file, "its checksum does not match"));
    }
    let stored: Stored = postcard::from_bytes(&signed[MAGIC.len() + 1..]).map_err(|e| unreadable(file, e))?;
    let mut files = HashMap::with_capacity(stored.files.len());
    for (id, version, removed, moved_from) in stored.files {
        files.insert(FileId(id), FileSeen { version, removed, moved_from });
    }
    let paths = stored.paths.into_iter().map(|(p, id)| (p, FileId(id))).collect();
    Ok(Memory { strict: stored.strict, files, paths })
}

/// Reads the memory: the binary file, else the JSON one an older build
/// wrote, else an empty memory. Unreadable is an error, never empty.
pub fn read(json: &Path) -> Result<Memory> {
    let bin = path(json);
    match std::fs::read(&bin) {
        Ok(bytes) => return decode(&bin, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ClientError::io(bin.display(), e)),
    }
    match std::fs::read(json) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| unreadable(json, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Memory::default()),
        Err(e) => Err(ClientError::io(json.display(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut mem = Memory { strict: true, ..Default::default() };
        mem.files.insert(FileId([1; 32]), FileSeen { version: 3, removed: true, moved_from: Some("/a".into()) });
        mem.files.insert(FileId([2; 32]), FileSeen { version: -1, removed: false, moved_from: None });
        mem.paths.insert("/b \u{e9}".into(), FileId([2; 32]));
        let bytes = encode(&mem).unwrap();
        let back = decode(Path::new("m"), &bytes).unwrap();
        assert!(back.strict);
        assert_eq!(back.files, mem.files);
        assert_eq!(back.paths, mem.paths);
        for at in [0, 7, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(decode(Path::new("m"), &bad).unwrap_err().to_string().contains("move it away"), "flip at {at}");
        }
        assert!(decode(Path::new("m"), &bytes[..bytes.len() - 1]).is_err());
        assert!(decode(Path::new("m"), b"").is_err());
    }
}
