//! Bindings: what makes a file version the client reads the one its writer
//! committed, at that path, as that version, and not another file's, an older
//! one or one the server made up.
//!
//! Every file has a random [`FileId`] and a binding key derived from it
//! ([`crate::keys::Keyring::binding_key`]); the server holds neither key.
//! Two tags, keyed BLAKE3 over length-framed fields (docs/FORMAT.md):
//!
//! * the **version tag** binds a version's manifest and wrapped file key to
//!   the file id, the version number, the size, the mtime and the content
//!   hash: a manifest moved to another file or another version fails it;
//! * the **entry tag** binds a path to the file id and its current version's
//!   facts: a name pointing at another file, or a listing that lies about a
//!   size or a hash, fails it.
//!
//! An old entry tag stays valid for the version it was made for, so a server
//! can still serve an older state whole (a rollback). That is caught by the
//! client's memory of what it has seen, not here.

use pyxis_proto::{FileId, Tag};

use crate::error::Result;

const ENTRY: &[u8] = b"pyxis entry tag v1";
const VERSION: &[u8] = b"pyxis version tag v1";

/// The facts of one file version that both tags cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'a> {
    pub file_id: &'a FileId,
    pub version: i64,
    pub size: u64,
    pub mtime: i64,
    pub content_hash: &'a [u8; 32],
}

/// A file's binding key (see [`crate::keys::Keyring::binding_key`]).
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct BindingKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for BindingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindingKey(hidden)")
    }
}

impl BindingKey {
    /// A random binding key: for a file a writer creates in another user's
    /// tree through a share (the owner learns it from the writer's wrap).
    pub fn generate() -> crate::Result<Self> {
        let mut k = [0u8; 32];
        crate::aead::random(&mut k)?;
        Ok(Self(k))
    }

    fn hasher(&self, domain: &[u8], facts: &Facts) -> blake3::Hasher {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        framed(&mut h, domain);
        h.update(facts.file_id.as_bytes());
        h.update(&facts.version.to_le_bytes());
        h.update(&facts.size.to_le_bytes());
        h.update(&facts.mtime.to_le_bytes());
        h.update(facts.content_hash);
        h
    }

    /// Binds `path` to the file and its current version.
    pub fn entry_tag(&self, path: &str, facts: &Facts) -> Tag {
        let mut h = self.hasher(ENTRY, facts);
        framed(&mut h, path.as_bytes());
        Tag(*h.finalize().as_bytes())
    }

    /// Binds a version's sealed manifest and wrapped file key to the file and
    /// the version.
    pub fn version_tag(&self, facts: &Facts, manifest: &[u8], wrapped_key: &[u8]) -> Tag {
        let mut h = self.hasher(VERSION, facts);
        framed(&mut h, manifest);
        framed(&mut h, wrapped_key);
        Tag(*h.finalize().as_bytes())
    }
}

/// A length in front of every variable field, so no two field lists hash alike.
fn framed(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// A fresh random file id.
pub fn new_file_id() -> Result<FileId> {
    let mut id = [0u8; 32];
    crate::aead::random(&mut id)?;
    Ok(FileId(id))
}

/// Compares tags in constant time (a tag is a MAC).
pub fn tags_equal(a: &Tag, b: &Tag) -> bool {
    blake3::Hash::from_bytes(a.0) == blake3::Hash::from_bytes(b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Keyring, MasterKey};

    #[test]
    fn every_fact_and_byte_counts() {
        let keys = Keyring::new(&MasterKey::from_bytes([1; 32]));
        let id = FileId([2; 32]);
        let k = keys.binding_key(&id);
        let hash = [3u8; 32];
        let f = Facts { file_id: &id, version: 4, size: 5, mtime: 6, content_hash: &hash };
        let base = k.entry_tag("/a", &f);
        assert!(tags_equal(&base, &k.entry_tag("/a", &f)));
        let other_id = FileId([9; 32]);
        let other_hash = [7u8; 32];
        for changed in [
            Facts { version: 3, ..f },
            Facts { size: 6, ..f },
            Facts { mtime: 7, ..f },
            Facts { content_hash: &other_hash, ..f },
            Facts { file_id: &other_id, ..f },
        ] {
            assert_ne!(base, k.entry_tag("/a", &changed), "{changed:?}");
        }
        assert_ne!(base, k.entry_tag("/b", &f));
        assert_ne!(base, keys.binding_key(&other_id).entry_tag("/a", &f), "the key depends on the file id");
        let other_keys = Keyring::new(&MasterKey::from_bytes([2; 32]));
        assert_ne!(base, other_keys.binding_key(&id).entry_tag("/a", &f), "and on the account");
        let v = k.version_tag(&f, b"manifest", b"key");
        assert_ne!(v, k.version_tag(&f, b"manifesT", b"key"));
        assert_ne!(v, k.version_tag(&f, b"manifest", b"kez"));
        // Framing: moving a byte from one field to the next changes the tag.
        assert_ne!(v, k.version_tag(&f, b"manifestk", b"ey"));
        assert_ne!(Tag(*blake3::hash(b"").as_bytes()), v);
    }
}
