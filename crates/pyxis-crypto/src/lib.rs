//! What protects and authenticates in Pyxis, below the data path: AES-GCM
//! ([`aead`]), the key tree ([`keys`]), remotes' and the server's signatures
//! ([`grants`], [`identity`]), session tokens ([`session`]), share wraps
//! ([`share`]), version bindings ([`binding`]) and the shard hash
//! ([`shard`]). Pure and synchronous, with aws-lc-rs as the one provider.
//!
//! A remote needs only this and the wire types: it checks grants, signs
//! receipts and hashes shards, and never links the codec (zstd, Reed–Solomon,
//! FastCDC).

pub mod aead;
pub mod binding;
pub mod error;
pub mod grants;
pub mod identity;
pub mod keys;
pub mod session;
pub mod shard;
pub mod share;

pub use error::{Error, Result};
