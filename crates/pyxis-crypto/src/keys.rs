//! Keys: the master key and what is derived from it, the two secrets derived
//! from a password, and the wrapping of keys for storage and for readers.
//!
//! ```text
//! password ──Argon2id(salt, params)──► root ─┬─► login secret  (sent to the server, which hashes it again)
//!                                            └─► key-wrapping key (never leaves the client)
//! master key (random) ──BLAKE3 derive_key──► dedup key, chunk-key root, chunker seed,
//!                                            owner wrapping key, reader X25519 secret
//! chunk key = keyed BLAKE3(chunk-key root, chunk id)
//! ```
//! Every derived key has its own context string, so no two purposes ever share
//! a key. All secrets are zeroed when dropped.

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use pyxis_proto::ChunkId;
use pyxis_proto::format::wrapped::{self, Purpose, WrappedKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::aead;
use crate::error::{Error, Result};

const CTX_DEDUP: &str = "pyxis 2026-11-21 dedup key v1";
const CTX_CHUNK_ROOT: &str = "pyxis 2026-11-21 chunk key root v1";
const CTX_CHUNKER_SEED: &str = "pyxis 2026-11-21 chunker seed v1";
const CTX_OWNER_WRAP: &str = "pyxis 2026-11-21 owner file key wrapping v1";
const CTX_READER: &str = "pyxis 2026-11-21 reader x25519 secret v1";
const CTX_LOGIN: &str = "pyxis 2026-11-21 login secret v1";
const CTX_KWK: &str = "pyxis 2026-11-21 key wrapping key v1";
const CTX_X25519_WRAP: &str = "pyxis 2026-11-21 x25519 file key wrap v1";
const CTX_CONTENT: &str = "pyxis 2026-11-21 content hash key v1";
const CTX_RECOVERY_LOGIN: &str = "pyxis 2026-11-30 recovery login secret v1";
const CTX_RECOVERY_KWK: &str = "pyxis 2026-11-30 recovery key wrapping key v1";
const CTX_BINDING_ROOT: &str = "pyxis 2026-11-30 binding key root v1";

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; 32]);

        impl $name {
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(hidden)"))
            }
        }
    };
}

secret!(
    /// The user's random root key. Lives on the server only wrapped.
    MasterKey
);
secret!(
    /// Keys chunk ids: equal chunks of one account share an id; the server cannot
    /// test a guess.
    DedupKey
);
secret!(
    /// Encrypts exactly one chunk plaintext.
    ChunkKey
);
secret!(
    /// Seals one file version's manifest; shared with readers to share the file.
    FileKey
);
secret!(
    /// What the client proves its password with; the server stores an Argon2id
    /// hash of it and can derive nothing else from it.
    LoginSecret
);
secret!(
    /// Wraps the master key; derived from the password, never sent anywhere.
    KeyWrappingKey
);
secret!(
    /// 32 random bytes the user keeps on paper: opens a second wrapping of
    /// the master key when the password is lost.
    RecoveryKey
);

fn random_key() -> Result<[u8; 32]> {
    let mut k = [0u8; 32];
    aead::random(&mut k)?;
    Ok(k)
}

impl MasterKey {
    pub fn generate() -> Result<Self> {
        random_key().map(Self)
    }
}

impl FileKey {
    pub fn generate() -> Result<Self> {
        random_key().map(Self)
    }
}

impl RecoveryKey {
    pub fn generate() -> Result<Self> {
        random_key().map(Self)
    }

    /// For people: 64 hex digits in eight groups, `xxxxxxxx-xxxxxxxx-...`.
    pub fn display(&self) -> String {
        let hex = pyxis_proto::hex::encode(&self.0);
        hex.as_bytes().chunks(8).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join("-")
    }

    /// Reads [`display`](Self::display)'s form back; dashes and spaces are
    /// ignored, and case too.
    pub fn parse(text: &str) -> Result<Self> {
        let hex: String = text.chars().filter(|c| !matches!(c, '-' | ' ' | '\n' | '\r' | '\t')).collect();
        pyxis_proto::hex::decode_array(&hex.to_ascii_lowercase())
            .map(Self)
            .map_err(|_| Error::Kdf("a recovery key is 64 hex digits (dashes and spaces allowed)".into()))
    }

    /// The login secret and wrapping key it stands for, as a password's
    /// would (no Argon2: the key has 256 bits of entropy already).
    pub fn keys(&self) -> PasswordKeys {
        PasswordKeys {
            login: LoginSecret(blake3::derive_key(CTX_RECOVERY_LOGIN, &self.0)),
            wrapping: KeyWrappingKey(blake3::derive_key(CTX_RECOVERY_KWK, &self.0)),
        }
    }
}

impl LoginSecret {
    pub fn to_hex(&self) -> String {
        pyxis_proto::hex::encode(&self.0)
    }
}

/// Argon2id cost parameters. They travel from the server to the client before
/// login, so they are bounded: a hostile server must not make a client allocate
/// gigabytes or spin for minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes: about a fifth of a second on one core here, and well
    /// above OWASP's minimum for Argon2id.
    pub const DEFAULT: KdfParams = KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 };
    /// Only for tests: the cheapest parameters Argon2 accepts.
    pub const INSECURE_FAST: KdfParams = KdfParams { memory_kib: 8, iterations: 1, parallelism: 1 };
    const MAX_MEMORY_KIB: u32 = 1 << 20;
    const MAX_ITERATIONS: u32 = 64;
    const MAX_PARALLELISM: u32 = 16;

    pub fn validate(&self) -> Result<()> {
        // Saturating: the parameters come from the server, and 8 × a huge lane
        // count would overflow.
        let ok = (self.parallelism.saturating_mul(8)..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && (1..=Self::MAX_PARALLELISM).contains(&self.parallelism);
        if ok {
            Ok(())
        } else {
            Err(Error::Kdf(format!(
                "parameters {self:?} are outside the accepted range (memory 8 KiB per lane to 1 GiB, \
                 1 to 64 iterations, 1 to 16 lanes)"
            )))
        }
    }
}

/// The two secrets a password yields.
#[derive(Debug)]
pub struct PasswordKeys {
    pub login: LoginSecret,
    pub wrapping: KeyWrappingKey,
}

/// Salts are per user, random, and public (the server hands them out before login).
pub const SALT_LEN: usize = 16;

/// A fresh random salt for a new account.
pub fn random_salt() -> Result<[u8; SALT_LEN]> {
    let mut s = [0u8; SALT_LEN];
    aead::random(&mut s)?;
    Ok(s)
}

/// Runs Argon2id over the password and splits the result into the login secret
/// and the key-wrapping key. Takes a fraction of a second with default params.
pub fn derive_password_keys(password: &[u8], salt: &[u8], params: &KdfParams) -> Result<PasswordKeys> {
    params.validate()?;
    if salt.len() < 8 {
        return Err(Error::Kdf(format!("salt of {} bytes is too short", salt.len())));
    }
    let p = argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
        .map_err(|e| Error::Kdf(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut root = zeroize::Zeroizing::new([0u8; 32]);
    argon.hash_password_into(password, salt, &mut *root).map_err(|e| Error::Kdf(e.to_string()))?;
    Ok(PasswordKeys {
        login: LoginSecret(blake3::derive_key(CTX_LOGIN, &*root)),
        wrapping: KeyWrappingKey(blake3::derive_key(CTX_KWK, &*root)),
    })
}

fn wrap_symmetric(key: &[u8; 32], secret: &[u8; 32], purpose: Purpose) -> Result<Vec<u8>> {
    wrap_symmetric_in(key, secret, purpose, &[])
}

/// As [`wrap_symmetric`], with `context` added to the associated data (the
/// opener must supply the same).
pub(crate) fn wrap_symmetric_in(
    key: &[u8; 32],
    secret: &[u8; 32],
    purpose: Purpose,
    context: &[u8],
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; 12];
    aead::random(&mut nonce)?;
    let mut sealed = [0u8; 48];
    sealed[..32].copy_from_slice(secret);
    let aad = [&wrapped::prefix(wrapped::ALG_SYMMETRIC, purpose)[..], context].concat();
    let tag = aead::seal(key, nonce, &aad, &mut sealed[..32]);
    sealed[32..].copy_from_slice(&tag);
    let out = WrappedKey::Symmetric { purpose, nonce, sealed }.to_bytes();
    sealed.zeroize();
    Ok(out)
}

pub(crate) fn open_sealed(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    sealed: &[u8; 48],
    what: &'static str,
) -> Result<[u8; 32]> {
    let mut plain = [0u8; 32];
    plain.copy_from_slice(&sealed[..32]);
    match aead::open(key, nonce, aad, &mut plain, &sealed[32..], what) {
        Ok(()) => Ok(plain),
        Err(e) => {
            plain.zeroize();
            Err(e)
        }
    }
}

fn expect_purpose(w: &WrappedKey, purpose: Purpose, what: &'static str) -> Result<()> {
    if w.purpose() == purpose { Ok(()) } else { Err(Error::Key { what }) }
}

/// Seals the master key under the password's key-wrapping key, for the server
/// to keep. `bound`: the account binds every version (its devices refuse
/// unbound ones); sealed into the associated data, so it cannot be flipped.
pub fn wrap_master_key(master: &MasterKey, kwk: &KeyWrappingKey, bound: bool) -> Result<Vec<u8>> {
    let purpose = if bound { Purpose::BoundMasterKey } else { Purpose::MasterKey };
    wrap_symmetric(&kwk.0, &master.0, purpose)
}

/// Opens a wrapped master key; fails on a wrong password or a tampered blob.
/// Returns whether the account binds every version (see [`wrap_master_key`]).
pub fn unwrap_master_key(bytes: &[u8], kwk: &KeyWrappingKey) -> Result<(MasterKey, bool)> {
    const WHAT: &str = "wrapped master key";
    let w = WrappedKey::parse(bytes)?;
    let purpose = w.purpose();
    if !matches!(purpose, Purpose::MasterKey | Purpose::BoundMasterKey) {
        return Err(Error::Key { what: WHAT });
    }
    match w {
        WrappedKey::Symmetric { nonce, sealed, .. } => {
            let aad = wrapped::prefix(wrapped::ALG_SYMMETRIC, purpose);
            let master = open_sealed(&kwk.0, nonce, &aad, &sealed, WHAT).map(MasterKey)?;
            Ok((master, purpose == Purpose::BoundMasterKey))
        }
        WrappedKey::X25519 { .. } | WrappedKey::X25519Auth { .. } => Err(Error::Key { what: WHAT }),
    }
}

/// Derives the wrapping key of an X25519 wrap from the shared secret and both
/// public keys, so the result is bound to this exact exchange.
fn x25519_wrap_key(shared: &[u8], ephemeral: &[u8], reader: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(CTX_X25519_WRAP);
    h.update(shared).update(ephemeral).update(reader);
    *h.finalize().as_bytes()
}

/// Wraps a file key to a reader's X25519 public key (ephemeral-static ECDH).
/// The wrapping key is fresh for every wrap, so a zero nonce is safe.
pub fn wrap_file_key_for_reader(file_key: &FileKey, reader_public: &[u8; 32]) -> Result<Vec<u8>> {
    const WHAT: &str = "reader public key";
    let eph = PrivateKey::generate(&X25519).map_err(|_| Error::Random)?;
    let eph_pub = eph.compute_public_key().map_err(|_| Error::Key { what: WHAT })?;
    let mut ephemeral = [0u8; 32];
    ephemeral.copy_from_slice(eph_pub.as_ref());
    let mut wrap_key =
        agreement::agree(&eph, UnparsedPublicKey::new(&X25519, reader_public), Error::Key { what: WHAT }, |shared| {
            Ok(x25519_wrap_key(shared, &ephemeral, reader_public))
        })?;
    let mut sealed = [0u8; 48];
    sealed[..32].copy_from_slice(&file_key.0);
    let aad = wrapped::prefix(wrapped::ALG_X25519, Purpose::FileKey);
    let tag = aead::seal(&wrap_key, [0; 12], &aad, &mut sealed[..32]);
    sealed[32..].copy_from_slice(&tag);
    wrap_key.zeroize();
    Ok(WrappedKey::X25519 { purpose: Purpose::FileKey, ephemeral, sealed }.to_bytes())
}

/// Everything derived from a master key, computed once per session.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Keyring {
    dedup: DedupKey,
    chunk_root: [u8; 32],
    owner_wrap: [u8; 32],
    reader_secret: [u8; 32],
    content: [u8; 32],
    binding_root: [u8; 32],
    chunker_seed: u64,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(hidden)")
    }
}

impl Keyring {
    pub fn new(master: &MasterKey) -> Self {
        let seed = blake3::derive_key(CTX_CHUNKER_SEED, &master.0);
        Self {
            dedup: DedupKey(blake3::derive_key(CTX_DEDUP, &master.0)),
            chunk_root: blake3::derive_key(CTX_CHUNK_ROOT, &master.0),
            owner_wrap: blake3::derive_key(CTX_OWNER_WRAP, &master.0),
            reader_secret: blake3::derive_key(CTX_READER, &master.0),
            content: blake3::derive_key(CTX_CONTENT, &master.0),
            binding_root: blake3::derive_key(CTX_BINDING_ROOT, &master.0),
            chunker_seed: u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
        }
    }

    /// Keyed BLAKE3 of the plaintext.
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.dedup.0, plaintext).as_bytes())
    }

    pub fn chunk_key(&self, id: &ChunkId) -> ChunkKey {
        ChunkKey(*blake3::keyed_hash(&self.chunk_root, id.as_bytes()).as_bytes())
    }

    pub fn dedup_key(&self) -> &DedupKey {
        &self.dedup
    }

    /// A name for this account's per-device memory files that the server
    /// cannot influence (docs/FORMAT.md, "Client device files").
    pub fn memory_id(&self) -> String {
        blake3::keyed_hash(&self.binding_root, b"pyxis device memory v1").to_hex()[..16].to_owned()
    }

    /// A file's binding key: keyed BLAKE3 of its id under the account's
    /// binding root. One key a file (not one an account), so that a writer
    /// the file is shared with can be given it and bind new versions too.
    pub fn binding_key(&self, file_id: &pyxis_proto::FileId) -> crate::binding::BindingKey {
        crate::binding::BindingKey(*blake3::keyed_hash(&self.binding_root, file_id.as_bytes()).as_bytes())
    }

    /// Keys the content hash of file versions (see `manifest::content_hash`).
    pub fn content_key(&self) -> &[u8; 32] {
        &self.content
    }

    /// Keys the chunker's gear table, so chunk lengths do not reveal content
    /// that an observer could guess (the fingerprinting attack on CDC).
    pub fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }

    pub(crate) fn reader_private(&self) -> Result<PrivateKey> {
        PrivateKey::from_private_key(&X25519, &self.reader_secret).map_err(|_| Error::Key { what: "reader secret" })
    }

    /// The public key others wrap file keys to when they share with this user.
    pub fn reader_public_key(&self) -> Result<[u8; 32]> {
        let pk = self.reader_private()?.compute_public_key().map_err(|_| Error::Key { what: "reader secret" })?;
        let mut out = [0u8; 32];
        out.copy_from_slice(pk.as_ref());
        Ok(out)
    }

    /// The key this account wraps its own keys under (file keys, its copy
    /// of share keys).
    pub(crate) fn owner_wrap(&self) -> &[u8; 32] {
        &self.owner_wrap
    }

    /// Wraps a file key for its owner (symmetric: cheap enough for 50,000 files).
    pub fn wrap_file_key(&self, file_key: &FileKey) -> Result<Vec<u8>> {
        wrap_symmetric(&self.owner_wrap, &file_key.0, Purpose::FileKey)
    }

    /// Opens a file key wrapped either for this user as owner or to this user's
    /// reader key.
    pub fn unwrap_file_key(&self, bytes: &[u8]) -> Result<FileKey> {
        const WHAT: &str = "wrapped file key";
        let w = WrappedKey::parse(bytes)?;
        expect_purpose(&w, Purpose::FileKey, WHAT)?;
        match w {
            WrappedKey::Symmetric { nonce, sealed, .. } => {
                let aad = wrapped::prefix(wrapped::ALG_SYMMETRIC, Purpose::FileKey);
                open_sealed(&self.owner_wrap, nonce, &aad, &sealed, WHAT).map(FileKey)
            }
            WrappedKey::X25519 { ephemeral, sealed, .. } => {
                let reader_public = self.reader_public_key()?;
                let mut wrap_key = agreement::agree(
                    &self.reader_private()?,
                    UnparsedPublicKey::new(&X25519, &ephemeral),
                    Error::Key { what: WHAT },
                    |shared| Ok(x25519_wrap_key(shared, &ephemeral, &reader_public)),
                )?;
                let aad = wrapped::prefix(wrapped::ALG_X25519, Purpose::FileKey);
                let key = open_sealed(&wrap_key, [0; 12], &aad, &sealed, WHAT);
                wrap_key.zeroize();
                key.map(FileKey)
            }
            WrappedKey::X25519Auth { .. } => Err(Error::Key { what: WHAT }),
        }
    }
}

#[cfg(test)]
mod tests;
