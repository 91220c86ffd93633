//! The Pyxis remote: a content-addressed shard store that serves shards under
//! server-signed grants.

mod fsutil;
pub mod store;
