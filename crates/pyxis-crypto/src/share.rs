//! Sharing keys (docs/FORMAT.md, "Shares"; docs/SECURITY.md, "Sharing").
//!
//! ```text
//! share key S (random, one a share)
//!   ├─ for the owner:   AES-256-GCM under the owner wrapping key        (wrapped format, alg 1, purpose 4)
//!   └─ to the grantee:  X25519 ephemeral-static + static-static, from   (wrapped format, alg 3, purpose 4)
//!                       the owner's key to the grantee's key
//! per version under the share:
//!   file key ‖ binding key, each AES-256-GCM under derive_key(S)         (two wrapped keys, alg 1, purposes 2, 5)
//! ```
//! Every wrap carries a context in its associated data: the share's owner,
//! grantee, path and mode for S; the file id and version for a version's
//! keys. So the server cannot pass a share off for another path or mode, nor
//! one version's keys for another file's.
//!
//! The grantee's wrap is authenticated by the owner's static key: a grantee
//! that has pinned the owner's public key knows the share (and so every file
//! key under it) came from the owner, not from a server that made up a share
//! key of its own to slip files in.

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use pyxis_proto::FileId;
use pyxis_proto::format::wrapped::{self, Purpose, SYMMETRIC_LEN, WrappedKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::aead;
use crate::binding::BindingKey;
use crate::error::{Error, Result};
use crate::keys::{FileKey, Keyring, open_sealed, wrap_symmetric_in};

const CTX_SHARE_WRAP: &str = "pyxis 2026-11-30 share key wrap to grantee v1";
const CTX_SHARE_FILES: &str = "pyxis 2026-11-30 share file key wrapping v1";

/// One share's key.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ShareKey([u8; 32]);

impl std::fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareKey(hidden)")
    }
}

/// What a share key is bound to.
#[derive(Debug, Clone, Copy)]
pub struct ShareContext<'a> {
    pub owner: &'a str,
    pub grantee: &'a str,
    pub path: &'a str,
    pub mode: u8,
}

impl ShareContext<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut out = b"pyxis share v1".to_vec();
        for part in [self.owner, self.grantee, self.path] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out.push(self.mode);
        out
    }
}

fn version_context(file_id: &FileId, version: i64) -> Vec<u8> {
    [&b"pyxis shared version v1"[..], file_id.as_bytes(), &version.to_le_bytes()].concat()
}

/// The wrapping key of an authenticated X25519 wrap: both agreements, both
/// public keys of the grantee and sender, the ephemeral key and the context.
fn auth_wrap_key(eph_shared: &[u8], static_shared: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(CTX_SHARE_WRAP);
    h.update(eph_shared).update(static_shared);
    for p in parts {
        h.update(&(p.len() as u32).to_le_bytes()).update(p);
    }
    *h.finalize().as_bytes()
}

/// Wraps `secret` to `recipient_public`, from `sender`'s static key (wrapped
/// format, algorithm 3): only the recipient opens it, and only with the
/// sender's public key.
fn auth_wrap(
    sender: &Keyring,
    recipient_public: &[u8; 32],
    secret: &[u8; 32],
    purpose: Purpose,
    context: &[u8],
) -> Result<Vec<u8>> {
    const WHAT: &str = "recipient public key";
    let eph = PrivateKey::generate(&X25519).map_err(|_| Error::Random)?;
    let eph_pub = eph.compute_public_key().map_err(|_| Error::Key { what: WHAT })?;
    let mut ephemeral = [0u8; 32];
    ephemeral.copy_from_slice(eph_pub.as_ref());
    let sender_public = sender.reader_public_key()?;
    let mut e = agree(&eph, recipient_public, WHAT)?;
    let mut s = agree(&sender.reader_private()?, recipient_public, WHAT)?;
    let mut key = auth_wrap_key(&e, &s, &[&ephemeral, recipient_public, &sender_public, context]);
    e.zeroize();
    s.zeroize();
    let mut sealed = [0u8; 48];
    sealed[..32].copy_from_slice(secret);
    let aad = wrapped::prefix(wrapped::ALG_X25519_AUTH, purpose);
    let tag = aead::seal(&key, [0; 12], &aad, &mut sealed[..32]);
    sealed[32..].copy_from_slice(&tag);
    key.zeroize();
    let out = WrappedKey::X25519Auth { purpose, ephemeral, sealed }.to_bytes();
    sealed.zeroize();
    Ok(out)
}

/// Opens what [`auth_wrap`] made, from the holder of `sender_public`.
fn auth_open(
    recipient: &Keyring,
    sender_public: &[u8; 32],
    bytes: &[u8],
    purpose: Purpose,
    context: &[u8],
) -> Result<[u8; 32]> {
    const WHAT: &str = "key wrapped by another user";
    let WrappedKey::X25519Auth { purpose: p, ephemeral, sealed } = WrappedKey::parse(bytes)? else {
        return Err(Error::Key { what: WHAT });
    };
    if p != purpose {
        return Err(Error::Key { what: WHAT });
    }
    let own = recipient.reader_private()?;
    let own_public = recipient.reader_public_key()?;
    let mut e = agree(&own, &ephemeral, WHAT)?;
    let mut s = agree(&own, sender_public, WHAT)?;
    let mut key = auth_wrap_key(&e, &s, &[&ephemeral, &own_public, sender_public, context]);
    e.zeroize();
    s.zeroize();
    let aad = wrapped::prefix(wrapped::ALG_X25519_AUTH, purpose);
    let out = open_sealed(&key, [0; 12], &aad, &sealed, WHAT);
    key.zeroize();
    out
}

/// The keys of a version a writer made through a share, for the tree's
/// owner: `(wrapped file key, wrapped binding key)`, both from the writer's
/// static key to the owner's, bound to the file id and version.
pub fn wrap_from_writer(
    writer: &Keyring,
    owner_public: &[u8; 32],
    file_id: &FileId,
    version: i64,
    file: &FileKey,
    binding: &BindingKey,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let ctx = version_context(file_id, version);
    Ok((
        auth_wrap(writer, owner_public, file.as_bytes(), Purpose::FileKey, &ctx)?,
        auth_wrap(writer, owner_public, &binding.0, Purpose::BindingKey, &ctx)?,
    ))
}

/// The owner opens a writer's file key (`wrapped_key` of its version).
pub fn open_file_key_from_writer(
    owner: &Keyring,
    writer_public: &[u8; 32],
    file_id: &FileId,
    version: i64,
    wrapped: &[u8],
) -> Result<FileKey> {
    auth_open(owner, writer_public, wrapped, Purpose::FileKey, &version_context(file_id, version))
        .map(FileKey::from_bytes)
}

/// The owner opens a writer's binding key (`writer_keys` of its version).
pub fn open_binding_key_from_writer(
    owner: &Keyring,
    writer_public: &[u8; 32],
    file_id: &FileId,
    version: i64,
    wrapped: &[u8],
) -> Result<BindingKey> {
    auth_open(owner, writer_public, wrapped, Purpose::BindingKey, &version_context(file_id, version)).map(BindingKey)
}

fn agree(private: &PrivateKey, public: &[u8; 32], what: &'static str) -> Result<[u8; 32]> {
    agreement::agree(private, UnparsedPublicKey::new(&X25519, public), Error::Key { what }, |s| {
        let mut out = [0u8; 32];
        out.copy_from_slice(s);
        Ok(out)
    })
}

impl ShareKey {
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        aead::random(&mut k)?;
        Ok(Self(k))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// S wrapped for its owner.
    pub fn wrap_for_owner(&self, owner: &Keyring, ctx: &ShareContext) -> Result<Vec<u8>> {
        wrap_symmetric_in(owner.owner_wrap(), &self.0, Purpose::ShareKey, &ctx.bytes())
    }

    /// Opens the owner's copy.
    pub fn open_as_owner(owner: &Keyring, bytes: &[u8], ctx: &ShareContext) -> Result<Self> {
        const WHAT: &str = "share key (owner's copy)";
        let WrappedKey::Symmetric { purpose: Purpose::ShareKey, nonce, sealed } = WrappedKey::parse(bytes)? else {
            return Err(Error::Key { what: WHAT });
        };
        let aad = [&wrapped::prefix(wrapped::ALG_SYMMETRIC, Purpose::ShareKey)[..], &ctx.bytes()].concat();
        open_sealed(owner.owner_wrap(), nonce, &aad, &sealed, WHAT).map(Self)
    }

    /// S wrapped to the grantee's public key, from the owner's.
    pub fn wrap_to(&self, owner: &Keyring, grantee_public: &[u8; 32], ctx: &ShareContext) -> Result<Vec<u8>> {
        auth_wrap(owner, grantee_public, &self.0, Purpose::ShareKey, &ctx.bytes())
    }

    /// Opens a share wrapped to this grantee, checking it came from the
    /// holder of `owner_public` (the owner's pinned key).
    pub fn open_from(grantee: &Keyring, owner_public: &[u8; 32], bytes: &[u8], ctx: &ShareContext) -> Result<Self> {
        auth_open(grantee, owner_public, bytes, Purpose::ShareKey, &ctx.bytes()).map(Self)
    }

    fn files_key(&self) -> [u8; 32] {
        blake3::derive_key(CTX_SHARE_FILES, &self.0)
    }

    /// A version's share wrap: its file key and its file's binding key.
    pub fn wrap_version(
        &self,
        file_id: &FileId,
        version: i64,
        file: &FileKey,
        binding: &BindingKey,
    ) -> Result<Vec<u8>> {
        let mut key = self.files_key();
        let ctx = version_context(file_id, version);
        let out = [
            wrap_symmetric_in(&key, file.as_bytes(), Purpose::FileKey, &ctx)?,
            wrap_symmetric_in(&key, &binding.0, Purpose::BindingKey, &ctx)?,
        ]
        .concat();
        key.zeroize();
        Ok(out)
    }

    /// Opens a version's share wrap for `(file_id, version)`.
    pub fn open_version(&self, bytes: &[u8], file_id: &FileId, version: i64) -> Result<(FileKey, BindingKey)> {
        const WHAT: &str = "shared version keys";
        if bytes.len() != 2 * SYMMETRIC_LEN {
            return Err(Error::Key { what: WHAT });
        }
        let mut key = self.files_key();
        let ctx = version_context(file_id, version);
        let open = |part: &[u8], purpose: Purpose| -> Result<[u8; 32]> {
            let WrappedKey::Symmetric { purpose: p, nonce, sealed } = WrappedKey::parse(part)? else {
                return Err(Error::Key { what: WHAT });
            };
            if p != purpose {
                return Err(Error::Key { what: WHAT });
            }
            let aad = [&wrapped::prefix(wrapped::ALG_SYMMETRIC, purpose)[..], &ctx].concat();
            open_sealed(&key, nonce, &aad, &sealed, WHAT)
        };
        let out = open(&bytes[..SYMMETRIC_LEN], Purpose::FileKey).and_then(|f| {
            Ok((FileKey::from_bytes(f), BindingKey(open(&bytes[SYMMETRIC_LEN..], Purpose::BindingKey)?)))
        });
        key.zeroize();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MasterKey;

    fn ring() -> Keyring {
        Keyring::new(&MasterKey::generate().unwrap())
    }

    #[test]
    fn a_share_opens_for_its_grantee_from_its_owner_only_in_its_context() {
        let (alice, bob, mallory) = (ring(), ring(), ring());
        let ctx = ShareContext { owner: "alice", grantee: "bob", path: "/docs", mode: 1 };
        let s = ShareKey::generate().unwrap();
        let to_bob = s.wrap_to(&alice, &bob.reader_public_key().unwrap(), &ctx).unwrap();
        let alice_pub = alice.reader_public_key().unwrap();
        assert_eq!(ShareKey::open_from(&bob, &alice_pub, &to_bob, &ctx).unwrap(), s);
        // Another path or mode, another sender's key, another reader: refused.
        let other = ShareContext { path: "/", ..ctx };
        assert!(ShareKey::open_from(&bob, &alice_pub, &to_bob, &other).is_err());
        assert!(ShareKey::open_from(&bob, &alice_pub, &to_bob, &ShareContext { mode: 2, ..ctx }).is_err());
        assert!(ShareKey::open_from(&bob, &mallory.reader_public_key().unwrap(), &to_bob, &ctx).is_err());
        assert!(ShareKey::open_from(&mallory, &alice_pub, &to_bob, &ctx).is_err());
        // A share made by mallory (say, a server holding her keys) claiming to be alice's.
        let forged = s.wrap_to(&mallory, &bob.reader_public_key().unwrap(), &ctx).unwrap();
        assert!(ShareKey::open_from(&bob, &alice_pub, &forged, &ctx).is_err());

        let own = s.wrap_for_owner(&alice, &ctx).unwrap();
        assert_eq!(ShareKey::open_as_owner(&alice, &own, &ctx).unwrap(), s);
        assert!(ShareKey::open_as_owner(&bob, &own, &ctx).is_err());
        assert!(ShareKey::open_as_owner(&alice, &own, &other).is_err());
    }

    #[test]
    fn a_writers_keys_open_for_the_owner_only_from_that_writer() {
        let (alice, bob, mallory) = (ring(), ring(), ring());
        let id = crate::binding::new_file_id().unwrap();
        let (file, binding) = (FileKey::generate().unwrap(), BindingKey::generate().unwrap());
        let alice_pub = alice.reader_public_key().unwrap();
        let bob_pub = bob.reader_public_key().unwrap();
        let (fk, bk) = wrap_from_writer(&bob, &alice_pub, &id, 2, &file, &binding).unwrap();
        assert_eq!(open_file_key_from_writer(&alice, &bob_pub, &id, 2, &fk).unwrap(), file);
        assert_eq!(open_binding_key_from_writer(&alice, &bob_pub, &id, 2, &bk).unwrap().0, binding.0);
        // Another version, another writer, swapped halves: refused.
        assert!(open_file_key_from_writer(&alice, &bob_pub, &id, 3, &fk).is_err());
        assert!(open_file_key_from_writer(&alice, &mallory.reader_public_key().unwrap(), &id, 2, &fk).is_err());
        assert!(open_file_key_from_writer(&alice, &bob_pub, &id, 2, &bk).is_err());
        assert!(open_binding_key_from_writer(&mallory, &bob_pub, &id, 2, &bk).is_err());
    }

    #[test]
    fn version_keys_open_only_for_their_file_and_version() {
        let alice = ring();
        let s = ShareKey::generate().unwrap();
        let (id, other_id) = (crate::binding::new_file_id().unwrap(), crate::binding::new_file_id().unwrap());
        let file = FileKey::generate().unwrap();
        let binding = alice.binding_key(&id);
        let w = s.wrap_version(&id, 3, &file, &binding).unwrap();
        let (f, b) = s.open_version(&w, &id, 3).unwrap();
        assert_eq!(f, file);
        assert_eq!(b.0, binding.0);
        assert!(s.open_version(&w, &id, 4).is_err());
        assert!(s.open_version(&w, &other_id, 3).is_err());
        assert!(ShareKey::generate().unwrap().open_version(&w, &id, 3).is_err());
        assert!(s.open_version(&w[..w.len() - 1], &id, 3).is_err());
        // The two halves cannot be swapped (their purposes differ).
        let swapped = [&w[SYMMETRIC_LEN..], &w[..SYMMETRIC_LEN]].concat();
        assert!(s.open_version(&swapped, &id, 3).is_err());
    }
}
