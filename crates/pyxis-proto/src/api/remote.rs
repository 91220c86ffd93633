//! Between a remote and the server: registration and heartbeats. (Clients
//! talk to remotes with raw shard bytes and a grant header; see `grant`.)

use serde::{Deserialize, Serialize};

/// `POST /v1/remotes/register`: a remote joins (or re-joins) the network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// A name for people (the remote's hostname by default).
    pub name: String,
    /// Where clients reach the remote, e.g. `http://127.0.0.1:7001`.
    pub url: String,
    pub capacity: u64,
    pub free: u64,
    /// Identity from an earlier registration, kept in the remote's directory:
    /// with the matching token the remote keeps its id (and its shards count).
    #[serde(default)]
    pub remote_id: Option<i64>,
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    pub remote_id: i64,
    /// Secret the remote presents as `Authorization: Bearer` on heartbeats.
    pub token: String,
    /// Hex of the server's Ed25519 grant-signing public key.
    pub grant_public_key: String,
    /// How often the server expects a heartbeat.
    pub heartbeat_secs: u64,
}

/// `POST /v1/remotes/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    pub capacity: u64,
    pub free: u64,
    pub used: u64,
    pub shards: u64,
    /// The remote's URL, in case it moved.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatResponse {
    /// The server's grant key (hex), so a remote notices a key change.
    pub grant_public_key: String,
}

/// `GET /v1/status` on a remote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteStatus {
    pub remote_id: Option<i64>,
    pub capacity: u64,
    pub used: u64,
    pub free: u64,
    pub shards: u64,
}

/// `POST /v1/remotes/{id}/report`: shards the remote's scrubber found corrupt
/// (and dropped).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub corrupt: Vec<crate::ShardHash>,
}

/// `POST /v1/remotes/{id}/inventory`: a batch of the hashes a remote holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub hashes: Vec<crate::ShardHash>,
}

/// Which of them the catalog does not place there: the remote deletes them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub unwanted: Vec<crate::ShardHash>,
}
