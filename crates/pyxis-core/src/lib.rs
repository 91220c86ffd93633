//! The Pyxis data path, pure and synchronous: no network, no async runtime.
//!
//! A file goes through [`chunker`] (FastCDC), gets ids and keys from [`keys`],
//! is sealed and split by [`codec`] and [`erasure`] into shards that
//! [`placement`] spreads over remotes with a scheme from [`policy`]; the list
//! of its chunks is a sealed [`manifest`]. Every decoder here treats its input
//! as hostile (see [`error`]).

mod aead;
pub mod binding;
pub mod chunker;
pub mod codec;
pub mod erasure;
pub mod error;
pub mod grants;
pub mod identity;
pub mod keys;
pub mod manifest;
pub mod placement;
pub mod policy;
pub mod repair;
pub mod session;
pub mod share;
pub mod testdata;

pub use error::{Error, Result};
