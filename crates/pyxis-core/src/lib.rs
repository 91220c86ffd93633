//! The Pyxis data path, pure and synchronous: no network, no async runtime.
//!
//! A file goes through [`chunker`] (FastCDC), gets ids and keys from
//! `pyxis_crypto::keys`, is sealed and split by [`codec`] and [`erasure`]
//! into shards that [`placement`] spreads over remotes with a scheme from
//! [`policy`]; the list of its chunks is a sealed [`manifest`]. What protects
//! and authenticates (AEAD, keys, grants, identities, session tokens, share
//! wraps, bindings, the shard hash) is in `pyxis-crypto`, below this crate,
//! so that a remote links it without the codec. Every decoder here treats
//! its input as hostile (see [`error`]).

pub mod chunker;
pub mod codec;
pub mod erasure;
pub mod error;
pub mod manifest;
pub mod placement;
pub mod policy;
pub mod repair;
pub mod testdata;

pub use error::{Error, Result};
