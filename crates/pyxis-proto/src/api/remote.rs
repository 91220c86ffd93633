//! Between a remote and the server: registration and heartbeats. (Clients
//! talk to remotes with raw shard bytes and a grant header; see `grant`.)

use serde::{Deserialize, Serialize};

/// `POST /v1/remotes/register`: a remote joins (or re-joins) the network.
/// The call is signed with the remote's key (`remote_call`), and the key is
/// its identity: a known key is the same remote whatever URL or name it gives.
/// An unknown key needs an admission token (or open admission on the server).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// A name for people (the remote's hostname by default).
    pub name: String,
    /// Where clients reach the remote, e.g. `http://127.0.0.1:7001`.
    pub url: String,
    pub capacity: u64,
    pub free: u64,
    /// A single-use token from `pyxis admin remote-token`, for a key the
    /// server does not know yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission_token: Option<String>,
    /// The id and token a remote of an older release was given: presenting
    /// them binds this key to that remote (an upgrade in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<LegacyIdentity>,
}

/// An identity from before remotes had keys (`remote.json` with a token).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LegacyIdentity {
    pub remote_id: i64,
    pub token: String,
}

impl std::fmt::Debug for LegacyIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyIdentity").field("remote_id", &self.remote_id).field("token", &"<secret>").finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    pub remote_id: i64,
    /// Hex of the server's Ed25519 grant-signing public key. A remote pins
    /// the key it was admitted under (see `HeartbeatResponse`).
    pub grant_public_key: String,
    /// How often the server expects a heartbeat.
    pub heartbeat_secs: u64,
    /// The operator vouches for this remote, or it has passed enough audits:
    /// it may hold any shard of a chunk. Until then it holds at most
    /// `ceil(m/2)` shards of any chunk.
    pub vetted: bool,
    /// The most this remote may claim to offer (its admission's cap); what
    /// it reports beyond this is ignored by placement.
    pub capacity_cap: Option<u64>,
    /// The grant key's rotations, as in `HeartbeatResponse`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<KeyRotation>,
}

/// `POST /v1/remotes/{id}/heartbeat` (signed like every remote call).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    pub capacity: u64,
    pub free: u64,
    pub used: u64,
    pub shards: u64,
    /// The remote's URL, in case it moved.
    pub url: String,
    /// Shards kept aside because the server did not know them (see inventory).
    #[serde(default)]
    pub quarantined: u64,
    #[serde(default)]
    pub quarantined_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatResponse {
    /// The server's current grant key (hex).
    pub grant_public_key: String,
    /// When the key differs from the one a remote pinned: the chain of
    /// rotations from the first key on, each new key with the previous key's
    /// signature over it (`grant::endorsement_input`). A remote follows the
    /// chain from its pinned key and refuses a key it cannot reach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<KeyRotation>,
    /// The operator released this remote's quarantine: shards quarantined
    /// before this time (Unix ms) that the server still does not know may
    /// be deleted once they have been kept the remote's minimum time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_quarantine_before: Option<i64>,
}

/// One grant-key rotation: the new key, signed by the key before it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyRotation {
    /// Hex of the key before.
    pub previous: String,
    /// Hex of the new key.
    pub key: String,
    /// Hex of the previous key's Ed25519 signature over `grant::endorsement_input(key)`.
    pub endorsement: String,
}

/// `GET /v1/status` on a remote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteStatus {
    pub remote_id: Option<i64>,
    /// Hex of the remote's identity key.
    pub public_key: String,
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
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::HASHES}, _, _>")]
    pub corrupt: Vec<crate::ShardHash>,
}

/// `POST /v1/remotes/{id}/inventory`: a batch of the hashes a remote holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::HASHES}, _, _>")]
    pub hashes: Vec<crate::ShardHash>,
}

/// What the server knows of the hashes in an inventory batch. A hash in
/// neither list is placed on this remote by the catalog (wanted). Unknown is
/// never a reason to delete: only `collected` is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryResponse {
    /// The server recorded the decision to delete these from this remote
    /// (garbage collection): the remote may delete them.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub collected: Vec<crate::ShardHash>,
    /// The server has no record of these here: the remote keeps them aside
    /// (quarantine) and never deletes them on its own.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub unknown: Vec<crate::ShardHash>,
    /// Of the rest, how many the server re-adopted just now: shards its
    /// catalog knew elsewhere (lost there, or on a remote it forgot), now
    /// recorded here (and audited like any other).
    #[serde(default)]
    pub adopted: u64,
}
