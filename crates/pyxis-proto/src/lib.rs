//! Pyxis wire and format types shared by every role.
//!
//! This crate holds what two parties must agree on byte for byte: identifiers,
//! the erasure scheme notation, size notation and the format constants. It does
//! no I/O and no cryptography, so every other crate can depend on it.

pub mod api;
pub mod format;
pub mod grant;
pub mod hex;
pub mod ids;
pub mod path;
pub mod receipt;
pub mod remote_call;
pub mod retention;
pub mod scheme;
pub mod size;

pub use ids::{ChunkId, FileId, ShardHash, Tag};
pub use scheme::Scheme;
