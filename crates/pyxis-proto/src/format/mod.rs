//! Byte layouts of everything Pyxis writes: chunk blobs, shards, manifests and
//! wrapped keys. Each starts with a four-byte magic and a version byte, and each
//! parser rejects what it does not know. docs/FORMAT.md describes every byte.
//!
//! Only layout lives here; the cryptography that fills these fields is in
//! `pyxis-core`.

pub mod chunk;
pub mod manifest;
pub mod shard;
pub mod wrapped;

use thiserror::Error;

/// Bytes that are not a valid instance of one of our formats.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
#[non_exhaustive]
pub enum FormatError {
    #[error("{what}: bad magic number (not a Pyxis {what})")]
    Magic { what: &'static str },
    #[error("{what}: unsupported format version {version} (this build reads version 1)")]
    Version { what: &'static str, version: u8 },
    #[error("{what}: unknown {field} {value}")]
    Unknown { what: &'static str, field: &'static str, value: u32 },
    #[error("{what}: truncated: need {need} bytes, have {have}")]
    Truncated { what: &'static str, need: usize, have: usize },
    #[error("{what}: {field} is {value}, which is invalid: {why}")]
    Invalid { what: &'static str, field: &'static str, value: u64, why: &'static str },
}

/// Reads fixed-size fields without panicking on short input.
pub(crate) struct Reader<'a> {
    what: &'static str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(what: &'static str, buf: &'a [u8]) -> Self {
        Self { what, buf, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(FormatError::Truncated {
            what: self.what,
            need: self.pos.saturating_add(n),
            have: self.buf.len(),
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Checks magic and version, the first five bytes of every format.
    pub(crate) fn preamble(&mut self, magic: &[u8; 4], version: u8) -> Result<(), FormatError> {
        if self.array::<4>()? != *magic {
            return Err(FormatError::Magic { what: self.what });
        }
        let v = self.u8()?;
        if v != version {
            return Err(FormatError::Version { what: self.what, version: v });
        }
        Ok(())
    }

    pub(crate) fn zero(&mut self, n: usize) -> Result<(), FormatError> {
        let what = self.what;
        if let Some(&b) = self.take(n)?.iter().find(|&&b| b != 0) {
            return Err(FormatError::Invalid {
                what,
                field: "reserved byte",
                value: u64::from(b),
                why: "reserved bytes must be zero",
            });
        }
        Ok(())
    }
}
