//! Sealing and opening manifests, and the content hash of a file version.

use pyxis_proto::ChunkId;
use pyxis_proto::format::manifest::{Attrs, ENVELOPE_HEADER_LEN, EnvelopeHeader, Manifest, NodeKind};

use crate::error::Result;
use pyxis_crypto::aead;
use pyxis_crypto::keys::{FileKey, Keyring};

/// Seals a manifest body under the version's file key (random nonce: a file key
/// seals one manifest, but the nonce costs nothing and removes the question).
pub fn seal_manifest(manifest: &Manifest, file_key: &FileKey) -> Result<Vec<u8>> {
    let mut nonce = [0u8; 12];
    aead::random(&mut nonce)?;
    seal_with_nonce(manifest, file_key, nonce)
}

/// Sealing with a caller-chosen nonce, for pinned test vectors only: a nonce must
/// never be used twice with one file key.
pub fn seal_with_nonce(manifest: &Manifest, file_key: &FileKey, nonce: [u8; 12]) -> Result<Vec<u8>> {
    let header = EnvelopeHeader { version: manifest.version(), nonce }.to_bytes();
    let mut out = header.to_vec();
    let mut body = manifest.body_bytes();
    out.extend_from_slice(&body);
    zeroize::Zeroize::zeroize(&mut body);
    let tag = aead::seal(file_key.as_bytes(), nonce, &header, &mut out[ENVELOPE_HEADER_LEN..]);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed manifest: envelope, tag, then the body's own consistency.
pub fn open_manifest(bytes: &[u8], file_key: &FileKey) -> Result<Manifest> {
    let (header, sealed) = EnvelopeHeader::parse(bytes)?;
    let (body, tag) = sealed.split_at(sealed.len() - aead::TAG_LEN);
    let mut body = body.to_vec();
    aead::open(file_key.as_bytes(), header.nonce, &bytes[..ENVELOPE_HEADER_LEN], &mut body, tag, "manifest")?;
    let parsed = Manifest::parse(header.version, &body);
    zeroize::Zeroize::zeroize(&mut body);
    Ok(parsed?)
}

/// A file version's content hash, the same on every device for the same bytes
/// (sync compares them) and useless to the server, which cannot test a guess
/// without the account's key. Its input depends only on the file:
///
/// * files below the packing threshold (small enough to be inlined or packed
///   with others): keyed BLAKE3 over `0x01 ‖ bytes` ([`ContentHasher`]);
/// * bigger files, which are always chunked on their own: keyed BLAKE3 over
///   `0x02 ‖ chunk ids` ([`content_hash_of_chunks`]), which costs no extra pass
///   over the data.
#[derive(Debug, Clone)]
pub struct ContentHasher(blake3::Hasher);

impl ContentHasher {
    pub fn new(keys: &Keyring) -> Self {
        let mut h = blake3::Hasher::new_keyed(keys.content_key());
        h.update(&[1]);
        Self(h)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finalize(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The hash the catalog keeps for a version with attributes: its content
/// hash with the node kind and mode, so a `chmod` or a file turned into a
/// link is a change (keyed BLAKE3 over `0x03 ‖ content hash ‖ node ‖ mode`).
/// A version without attributes keeps its content hash.
pub fn version_hash(keys: &Keyring, content: [u8; 32], attrs: Option<Attrs>) -> [u8; 32] {
    let Some(a) = attrs else { return content };
    let mut h = blake3::Hasher::new_keyed(keys.content_key());
    h.update(&[3]);
    h.update(&content);
    h.update(&[match a.kind {
        NodeKind::File => 0,
        NodeKind::Symlink => 1,
    }]);
    h.update(&a.mode.to_le_bytes());
    *h.finalize().as_bytes()
}

/// The content hash of a file stored in its own chunks (see [`ContentHasher`]).
pub fn content_hash_of_chunks<'a>(keys: &Keyring, chunk_ids: impl IntoIterator<Item = &'a ChunkId>) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(keys.content_key());
    h.update(&[2]);
    for id in chunk_ids {
        h.update(id.as_bytes());
    }
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use pyxis_crypto::keys::MasterKey;
    use pyxis_proto::format::chunk::Compression;
    use pyxis_proto::format::manifest::{ManifestBody, ManifestEntry};

    fn body() -> ManifestBody {
        ManifestBody::Chunks {
            size: 7,
            entries: vec![
                ManifestEntry::whole(ChunkId([1; 32]), [2; 32], 3),
                ManifestEntry { id: ChunkId([3; 32]), key: [4; 32], chunk_len: 9, offset: 5, len: 4 },
            ],
        }
    }

    #[test]
    fn seal_open_and_wrong_key() {
        let fk = FileKey::generate().unwrap();
        let inline = ManifestBody::Inline { size: 2, compression: Compression::None, stored: b"hi".to_vec() };
        for b in [
            Manifest { attrs: None, body: body() },
            Manifest { attrs: Some(Attrs::file(0o755)), body: inline.clone() },
            Manifest { attrs: Some(Attrs::symlink()), body: inline },
        ] {
            let sealed = seal_manifest(&b, &fk).unwrap();
            assert_eq!(open_manifest(&sealed, &fk).unwrap(), b);
            let other = FileKey::generate().unwrap();
            assert!(matches!(open_manifest(&sealed, &other), Err(Error::Crypto(pyxis_crypto::Error::Decrypt { .. }))));
        }
    }

    #[test]
    fn every_flip_and_truncation_fails_cleanly() {
        let fk = FileKey::from_bytes([9; 32]);
        let sealed =
            seal_with_nonce(&Manifest { attrs: Some(Attrs::file(0o600)), body: body() }, &fk, [1; 12]).unwrap();
        for bit in 0..sealed.len() * 8 {
            let mut b = sealed.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(open_manifest(&b, &fk).is_err(), "bit {bit}");
        }
        for n in 0..sealed.len() {
            assert!(open_manifest(&sealed[..n], &fk).is_err(), "length {n}");
        }
    }

    #[test]
    fn content_hashes_depend_on_content_key_and_kind() {
        let a = Keyring::new(&MasterKey::from_bytes([1; 32]));
        let b = Keyring::new(&MasterKey::from_bytes([2; 32]));
        let ids = [ChunkId([5; 32]), ChunkId([6; 32])];
        assert_eq!(content_hash_of_chunks(&a, &ids), content_hash_of_chunks(&a, &ids));
        assert_ne!(content_hash_of_chunks(&a, &ids), content_hash_of_chunks(&a, &ids[..1]));
        assert_ne!(content_hash_of_chunks(&a, &ids), content_hash_of_chunks(&b, &ids));
        let mut h = ContentHasher::new(&a);
        h.update(&[5; 32]);
        h.update(&[6; 32]);
        assert_ne!(h.finalize(), content_hash_of_chunks(&a, &ids), "domains must differ");
        let mut split = ContentHasher::new(&a);
        split.update(&[5; 64][..10]);
        split.update(&[5; 64][10..]);
        let mut whole = ContentHasher::new(&a);
        whole.update(&[5; 64]);
        assert_eq!(split.finalize(), whole.finalize());
    }
}
