//! A file version's manifest: which chunks, with which keys, make the file (or
//! the file's bytes themselves when it is tiny). It is sealed with the version's
//! file key, so whoever holds that key can read the file and nobody else can.
//!
//! Envelope (plaintext, authenticated as AEAD associated data):
//! ```text
//! off len field
//!   0   4 magic "PYXM"
//!   4   1 version: 1, or 2 when the body carries attributes
//!   5   1 aead: 1 = AES-256-GCM
//!   6   2 reserved = 0
//!   8  12 nonce
//!  20   n sealed body
//! 20+n 16 GCM tag
//! ```
//! Body (inside the seal):
//! ```text
//!   0   1 kind: 1 = chunk list, 2 = inline bytes
//! version 1:
//!   1   7 reserved = 0
//! version 2:
//!   1   1 node: 0 = regular file, 1 = symbolic link (inline, uncompressed,
//!         the stored bytes are the link's target)
//!   2   2 mode: permission bits (u16 LE, at most 0o7777)
//!   4   4 reserved = 0
//!   8   8 file size (u64 LE)
//! kind 1:
//!  16   4 entry count (u32 LE)
//!  20 76×count entries: chunk id (32), chunk key (32), chunk length (u32 LE),
//!                       offset in the chunk (u32 LE), length taken (u32 LE)
//! kind 2:
//!  16   1 compression: 0 = none, 1 = zstd
//!  17   3 reserved = 0
//!  20   4 stored length (u32 LE)
//!  24   s stored bytes
//! ```

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::chunk::{Compression, MAX_PLAINTEXT};
use super::{FormatError, Reader};
use crate::ids::ChunkId;

pub const MAGIC: [u8; 4] = *b"PYXM";
/// The version of a manifest without attributes (what clients before
/// version 2 wrote; still read).
pub const VERSION_1: u8 = 1;
/// The version written today: the body carries the node's kind and mode.
pub const VERSION: u8 = 2;
/// Highest permission bits a mode may carry (setuid, setgid, sticky, rwx×3).
pub const MAX_MODE: u16 = 0o7777;
/// A symbolic link's target: 1 to this many bytes (Linux's PATH_MAX - 1).
pub const MAX_LINK_TARGET: u64 = 4095;
pub const ENVELOPE_HEADER_LEN: usize = 20;
pub const AEAD_AES_256_GCM: u8 = 1;
pub const ENTRY_LEN: usize = 76;
/// Inline bodies are for tiny files; the cap keeps a catalog row small.
pub const MAX_INLINE: u32 = 1 << 20;
const KIND_CHUNKS: u8 = 1;
const KIND_INLINE: u8 = 2;

const WHAT: &str = "manifest";

/// The plaintext envelope header (the part outside the seal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// [`VERSION_1`] or [`VERSION`]: whether the body carries [`Attrs`].
    pub version: u8,
    pub nonce: [u8; 12],
}

impl EnvelopeHeader {
    pub fn to_bytes(&self) -> [u8; ENVELOPE_HEADER_LEN] {
        let mut b = [0u8; ENVELOPE_HEADER_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4] = self.version;
        b[5] = AEAD_AES_256_GCM;
        b[8..20].copy_from_slice(&self.nonce);
        b
    }

    /// Splits a sealed manifest into its header and the sealed part (body + tag).
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), FormatError> {
        let mut r = Reader::new(WHAT, bytes);
        if r.array::<4>()? != MAGIC {
            return Err(FormatError::Magic { what: WHAT });
        }
        let version = r.u8()?;
        if version != VERSION_1 && version != VERSION {
            return Err(FormatError::Version { what: WHAT, version });
        }
        let aead = r.u8()?;
        if aead != AEAD_AES_256_GCM {
            return Err(FormatError::Unknown { what: WHAT, field: "aead", value: aead.into() });
        }
        r.zero(2)?;
        let nonce = r.array()?;
        let sealed = r.rest();
        if sealed.len() < 16 {
            return Err(FormatError::Truncated { what: WHAT, need: ENVELOPE_HEADER_LEN + 16, have: bytes.len() });
        }
        Ok((Self { version, nonce }, sealed))
    }
}

/// What kind of node a version is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    File = 0,
    /// A symbolic link, stored as a link: its target is the content.
    Symlink = 1,
}

/// A version's attributes, sealed with its content (the server sees
/// neither). A version-1 manifest has none: a plain file, mode unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attrs {
    pub kind: NodeKind,
    /// Permission bits, at most [`MAX_MODE`].
    pub mode: u16,
}

impl Attrs {
    pub fn file(mode: u32) -> Self {
        Self { kind: NodeKind::File, mode: (mode & u32::from(MAX_MODE)) as u16 }
    }

    pub fn symlink() -> Self {
        Self { kind: NodeKind::Symlink, mode: 0o777 }
    }
}

/// A whole manifest: attributes (version 2) and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub attrs: Option<Attrs>,
    pub body: ManifestBody,
}

impl Manifest {
    /// The envelope version these contents are sealed with.
    pub fn version(&self) -> u8 {
        if self.attrs.is_some() { VERSION } else { VERSION_1 }
    }

    /// The body bytes (to be sealed).
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut b = self.body.to_bytes();
        if let Some(a) = self.attrs {
            b[1] = a.kind as u8;
            b[2..4].copy_from_slice(&a.mode.to_le_bytes());
        }
        b
    }

    /// Parses the body of an envelope of `version`.
    pub fn parse(version: u8, bytes: &[u8]) -> Result<Self, FormatError> {
        const BODY: &str = "manifest body";
        if version == VERSION_1 {
            return Ok(Self { attrs: None, body: ManifestBody::parse(bytes)? });
        }
        if version != VERSION {
            return Err(FormatError::Version { what: BODY, version });
        }
        let mut r = Reader::new(BODY, bytes);
        r.u8()?;
        let kind = match r.u8()? {
            0 => NodeKind::File,
            1 => NodeKind::Symlink,
            v => return Err(FormatError::Unknown { what: BODY, field: "node", value: v.into() }),
        };
        let mode = u16::from_le_bytes(r.array()?);
        if mode > MAX_MODE {
            return Err(FormatError::Invalid {
                what: BODY,
                field: "mode",
                value: mode.into(),
                why: "must be at most 0o7777",
            });
        }
        r.zero(4)?;
        // The rest of the body is a version-1 body once the attribute bytes
        // are zeroed (they were checked above).
        let mut plain = bytes.to_vec();
        plain[1..4].fill(0);
        let body = ManifestBody::parse(&plain);
        plain.zeroize();
        let body = body?;
        if kind == NodeKind::Symlink {
            let ok = match &body {
                ManifestBody::Inline { size, compression: Compression::None, stored } => {
                    (1..=MAX_LINK_TARGET).contains(size) && !stored.contains(&0)
                }
                _ => false,
            };
            if !ok {
                return Err(FormatError::Invalid {
                    what: BODY,
                    field: "link target",
                    value: body.size(),
                    why: "must be 1 to 4095 stored bytes without NUL",
                });
            }
        }
        Ok(Self { attrs: Some(Attrs { kind, mode }), body })
    }
}

/// A piece of a file: bytes `offset..offset + len` of a chunk's plaintext.
/// A big file's entries each take a whole chunk; small files packed together
/// into shared chunks take slices of them.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ManifestEntry {
    #[zeroize(skip)]
    pub id: ChunkId,
    pub key: [u8; 32],
    /// The chunk's whole plaintext length.
    #[zeroize(skip)]
    pub chunk_len: u32,
    #[zeroize(skip)]
    pub offset: u32,
    #[zeroize(skip)]
    pub len: u32,
}

impl ManifestEntry {
    /// An entry taking a whole chunk.
    pub fn whole(id: ChunkId, key: [u8; 32], len: u32) -> Self {
        Self { id, key, chunk_len: len, offset: 0, len }
    }
}

impl std::fmt::Debug for ManifestEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}[{}..+{} of {}] (key hidden)", self.id, self.offset, self.len, self.chunk_len)
    }
}

/// What a manifest says the file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestBody {
    Chunks { size: u64, entries: Vec<ManifestEntry> },
    Inline { size: u64, compression: Compression, stored: Vec<u8> },
}

impl Drop for ManifestBody {
    fn drop(&mut self) {
        // Inline bytes are file content: do not leave them in freed memory.
        if let ManifestBody::Inline { stored, .. } = self {
            stored.zeroize();
        }
    }
}

impl ManifestBody {
    pub fn size(&self) -> u64 {
        match self {
            ManifestBody::Chunks { size, .. } | ManifestBody::Inline { size, .. } => *size,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            ManifestBody::Chunks { size, entries } => {
                b.reserve(20 + entries.len() * ENTRY_LEN);
                b.push(KIND_CHUNKS);
                b.extend_from_slice(&[0; 7]);
                b.extend_from_slice(&size.to_le_bytes());
                b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
                for e in entries {
                    b.extend_from_slice(e.id.as_bytes());
                    b.extend_from_slice(&e.key);
                    b.extend_from_slice(&e.chunk_len.to_le_bytes());
                    b.extend_from_slice(&e.offset.to_le_bytes());
                    b.extend_from_slice(&e.len.to_le_bytes());
                }
            }
            ManifestBody::Inline { size, compression, stored } => {
                b.reserve(24 + stored.len());
                b.push(KIND_INLINE);
                b.extend_from_slice(&[0; 7]);
                b.extend_from_slice(&size.to_le_bytes());
                b.push(*compression as u8);
                b.extend_from_slice(&[0; 3]);
                b.extend_from_slice(&(stored.len() as u32).to_le_bytes());
                b.extend_from_slice(stored);
            }
        }
        b
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        const BODY: &str = "manifest body";
        let invalid = |field, value: u64, why| FormatError::Invalid { what: BODY, field, value, why };
        let mut r = Reader::new(BODY, bytes);
        let kind = r.u8()?;
        r.zero(7)?;
        let size = r.u64()?;
        match kind {
            KIND_CHUNKS => {
                let count = r.u32()? as usize;
                let rest = r.rest();
                if rest.len() != count.saturating_mul(ENTRY_LEN) {
                    return Err(invalid("entry count", count as u64, "does not match the body length"));
                }
                let mut entries = Vec::with_capacity(count);
                let mut total = 0u64;
                for raw in rest.chunks_exact(ENTRY_LEN) {
                    let id = ChunkId::from_slice(&raw[..32]).expect("32-byte slice");
                    let mut key = [0u8; 32];
                    key.copy_from_slice(&raw[32..64]);
                    let word = |at: usize| u32::from_le_bytes(raw[at..at + 4].try_into().expect("4-byte slice"));
                    let (chunk_len, offset, len) = (word(64), word(68), word(72));
                    if chunk_len == 0 || chunk_len > MAX_PLAINTEXT {
                        return Err(invalid("chunk length", chunk_len.into(), "must be 1 byte to 16 MiB"));
                    }
                    if len == 0 || u64::from(offset) + u64::from(len) > u64::from(chunk_len) {
                        return Err(invalid("slice", offset.into(), "must be a non-empty range inside the chunk"));
                    }
                    total += u64::from(len);
                    entries.push(ManifestEntry { id, key, chunk_len, offset, len });
                }
                if total != size {
                    return Err(invalid("file size", size, "is not the sum of the chunk lengths"));
                }
                Ok(ManifestBody::Chunks { size, entries })
            }
            KIND_INLINE => {
                let compression = match r.u8()? {
                    0 => Compression::None,
                    1 => Compression::Zstd,
                    v => {
                        return Err(FormatError::Unknown { what: BODY, field: "compression", value: v.into() });
                    }
                };
                r.zero(3)?;
                let stored_len = r.u32()?;
                let stored = r.rest();
                if stored.len() != stored_len as usize {
                    return Err(invalid("stored length", stored_len.into(), "does not match the body length"));
                }
                let fits = match compression {
                    Compression::None => stored_len as u64 == size,
                    Compression::Zstd => (stored_len as u64) < size,
                };
                if size > u64::from(MAX_INLINE) || !fits {
                    return Err(invalid("file size", size, "does not fit an inline body"));
                }
                Ok(ManifestBody::Inline { size, compression, stored: stored.to_vec() })
            }
            k => Err(FormatError::Unknown { what: BODY, field: "kind", value: k.into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks() -> ManifestBody {
        ManifestBody::Chunks {
            size: 30,
            entries: vec![
                ManifestEntry::whole(ChunkId([1; 32]), [2; 32], 10),
                ManifestEntry { id: ChunkId([3; 32]), key: [4; 32], chunk_len: 100, offset: 80, len: 20 },
            ],
        }
    }

    #[test]
    fn bodies_round_trip() {
        for body in [
            chunks(),
            ManifestBody::Chunks { size: 0, entries: vec![] },
            ManifestBody::Inline { size: 3, compression: Compression::None, stored: b"abc".to_vec() },
        ] {
            assert_eq!(ManifestBody::parse(&body.to_bytes()).unwrap(), body);
        }
    }

    #[test]
    fn body_inconsistencies_are_named() {
        let mut b = chunks().to_bytes();
        b[8] = 31; // size no longer the sum
        assert!(ManifestBody::parse(&b).unwrap_err().to_string().contains("file size"));
        let b = chunks().to_bytes();
        assert!(ManifestBody::parse(&b[..b.len() - 1]).unwrap_err().to_string().contains("entry count"));
        let mut b = chunks().to_bytes();
        b[0] = 9;
        assert!(ManifestBody::parse(&b).unwrap_err().to_string().contains("kind 9"));
        for n in 0..20 {
            assert!(ManifestBody::parse(&chunks().to_bytes()[..n]).is_err());
        }
        // A slice reaching past its chunk.
        let mut b = chunks().to_bytes();
        let second = 20 + ENTRY_LEN;
        b[second + 68..second + 72].copy_from_slice(&90u32.to_le_bytes());
        assert!(ManifestBody::parse(&b).unwrap_err().to_string().contains("slice"));
    }

    #[test]
    fn attributes_round_trip_and_are_checked() {
        let link = |target: &[u8]| ManifestBody::Inline {
            size: target.len() as u64,
            compression: Compression::None,
            stored: target.to_vec(),
        };
        for m in [
            Manifest { attrs: Some(Attrs::file(0o100755)), body: chunks() },
            Manifest { attrs: Some(Attrs::file(0o4750)), body: chunks() },
            Manifest { attrs: Some(Attrs::symlink()), body: link(b"../a b/c") },
            Manifest { attrs: None, body: chunks() },
        ] {
            assert_eq!(Manifest::parse(m.version(), &m.body_bytes()).unwrap(), m);
        }
        assert_eq!(Attrs::file(0o100755).mode, 0o755, "the file-type bits are not permission bits");
        let bad = |m: Manifest, fix: &dyn Fn(&mut Vec<u8>), field: &str| {
            let mut b = m.body_bytes();
            fix(&mut b);
            let err = Manifest::parse(VERSION, &b).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        };
        let file = || Manifest { attrs: Some(Attrs::file(0o644)), body: chunks() };
        bad(file(), &|b| b[1] = 2, "node");
        bad(file(), &|b| b[2..4].copy_from_slice(&0o10000u16.to_le_bytes()), "mode");
        bad(file(), &|b| b[5] = 1, "reserved");
        let sym = |body| Manifest { attrs: Some(Attrs::symlink()), body };
        bad(sym(chunks()), &|_| {}, "link target");
        bad(sym(link(b"a\0b")), &|_| {}, "link target");
        bad(sym(link(&[b'a'; 4096])), &|_| {}, "link target");
        bad(
            sym(ManifestBody::Inline { size: 0, compression: Compression::None, stored: vec![] }),
            &|_| {},
            "link target",
        );
        // A version-1 reader's rule still holds for version 1: reserved bytes are zero.
        assert!(Manifest::parse(VERSION_1, &file().body_bytes()).is_err());
        assert!(Manifest::parse(3, &file().body_bytes()).is_err());
    }

    #[test]
    fn envelope_checks() {
        let mut sealed = EnvelopeHeader { version: VERSION, nonce: [5; 12] }.to_bytes().to_vec();
        sealed.extend_from_slice(&[0; 16]);
        assert_eq!(EnvelopeHeader::parse(&sealed).unwrap().1.len(), 16);
        assert!(EnvelopeHeader::parse(&sealed[..35]).is_err());
        sealed[0] = b'X';
        assert!(matches!(EnvelopeHeader::parse(&sealed), Err(FormatError::Magic { .. })));
    }
}
