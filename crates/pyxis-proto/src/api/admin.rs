//! Operator calls (`pyxis admin ...`), authenticated by the admin token.

use serde::{Deserialize, Serialize};

/// `POST /v1/admin/quota`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuotaRequest {
    pub username: String,
    pub quota: u64,
}

/// A remote as the registry sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteInfo {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub state: String,
    pub capacity: u64,
    pub free: u64,
    pub used: u64,
    /// Shards the catalog places on it.
    pub shards: u64,
    /// Unix seconds of the last heartbeat.
    pub last_seen: i64,
}

/// `GET /v1/admin/remotes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemotesResponse {
    pub remotes: Vec<RemoteInfo>,
}
