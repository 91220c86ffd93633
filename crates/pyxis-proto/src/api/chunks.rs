//! Chunks and shards: what is missing, where to put it, where it lives.

use serde::{Deserialize, Serialize};

use crate::ids::{ChunkId, ShardHash};
use crate::scheme::Scheme;

/// `GET /v1/network`: what a client needs before encoding.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkResponse {
    pub online_remotes: u64,
    /// The scheme new chunks should use now.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "4+2"))]
    pub scheme: Scheme,
    /// Fewer than two parity shards: `put` warns.
    pub reduced: bool,
    /// Shards of a chunk that must be stored (with receipts) on distinct
    /// remotes before the chunk counts as stored: `k + ceil(m/2)`.
    #[serde(default)]
    pub threshold: u32,
}

/// `POST /v1/chunks/missing`: which of these does the server not hold?
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::CHUNKS}, _, _>")]
    pub ids: Vec<ChunkId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MissingResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub missing: Vec<ChunkId>,
}

/// A chunk the client has encoded and wants to store. The client names no
/// scheme: the server assigns the one its policy gives now, and refuses shard
/// hashes that do not fit it (409 `scheme_changed`: ask `network` again).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaceChunk {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ChunkId,
    /// Must be absent. Clients of earlier releases sent one; a place that
    /// names a scheme is refused (400 `scheme_not_allowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    pub blob_len: u32,
    /// Hash of every shard, by index.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::SHARDS}, _, _>")]
    pub shards: Vec<ShardHash>,
}

/// `POST /v1/chunks/place`: placement and put grants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaceRequest {
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::CHUNKS}, _, _>")]
    pub chunks: Vec<PlaceChunk>,
}

/// Where one shard goes (or lives), with the grant to do it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardTarget {
    pub index: u8,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub hash: ShardHash,
    pub remote_id: i64,
    pub url: String,
    /// Value for the `x-pyxis-grant` header.
    pub grant: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Placement {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ChunkId,
    /// Already stored: nothing to upload.
    pub exists: bool,
    pub targets: Vec<ShardTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlaceResponse {
    pub chunks: Vec<Placement>,
    /// Fewer than two parity shards in use: `put` warns.
    pub reduced: bool,
}

/// `POST /v1/chunks/replace`: a remote failed; put this shard elsewhere.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplaceRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ChunkId,
    pub index: u8,
    /// Remotes that failed for this chunk and must not be chosen again.
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::FAILED}, _, _>")]
    pub failed: Vec<i64>,
}

/// `POST /v1/chunks/stored`: the receipts remotes gave for these chunks'
/// shards. A chunk becomes stored once the threshold of its shards have
/// valid receipts from the remotes they were placed on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredRequest {
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::CHUNKS}, _, _>")]
    pub chunks: Vec<StoredChunk>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredChunk {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ChunkId,
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::SHARDS}, _, _>")]
    pub receipts: Vec<ShardReceipt>,
}

/// The `X-Pyxis-Receipt` value a remote answered for one shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardReceipt {
    pub index: u8,
    pub receipt: String,
}

/// `POST /v1/chunks/abandon`: a put failed; give back what it placed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbandonRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::CHUNKS}, _, _>")]
    pub ids: Vec<ChunkId>,
}

/// `POST /v1/chunks/locate`: where the shards of these chunks live, with get grants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocateRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::CHUNKS}, _, _>")]
    pub ids: Vec<ChunkId>,
    /// Chunks of this user (a writer through a share), used by versions of
    /// the tree the call reads; absent: the tree owner's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChunkLocation {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ChunkId,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "4+2"))]
    pub scheme: Scheme,
    pub blob_len: u32,
    /// Shards on remotes that are online, best first.
    pub shards: Vec<ShardTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocateResponse {
    pub chunks: Vec<ChunkLocation>,
    /// Unix seconds when the grants expire (cache no longer than this).
    pub expires_at: u64,
}
