//! Operator calls (`pyxis admin ...`), authenticated by the admin token.

use serde::{Deserialize, Serialize};

/// `POST /v1/admin/quota`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuotaRequest {
    pub username: String,
    pub quota: u64,
}

/// An account as `pyxis admin users` lists it (no keys, no paths).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub id: i64,
    pub username: String,
    pub quota: u64,
    pub used: u64,
    pub created_at: i64,
    /// Unix milliseconds; absent: not disabled.
    pub disabled_at: Option<i64>,
    /// The owner deleted it; its files go after this.
    pub delete_after: Option<i64>,
    /// Its files were removed.
    pub deleted_at: Option<i64>,
}

/// `GET /v1/admin/users`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsersResponse {
    pub users: Vec<UserSummary>,
}

/// `POST /v1/admin/users/disable`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisableRequest {
    pub username: String,
    /// false: enable again (which also cancels a deletion in its grace).
    pub disabled: bool,
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
    /// Hex of the remote's identity key (empty for a remote of an older
    /// release that has not come back since the upgrade).
    #[serde(default)]
    pub public_key: String,
    /// May hold any shard of a chunk (vouched for, or past its audits).
    #[serde(default)]
    pub vetted: bool,
    /// The most it may claim to offer, from its admission (none: no cap).
    #[serde(default)]
    pub capacity_cap: Option<u64>,
    #[serde(default)]
    pub audits_passed: u64,
    #[serde(default)]
    pub audit_failures: u64,
    /// Shards it keeps aside because the server had no record of them.
    #[serde(default)]
    pub quarantined: u64,
    #[serde(default)]
    pub quarantined_bytes: u64,
}

/// `GET /v1/admin/remotes`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemotesResponse {
    pub remotes: Vec<RemoteInfo>,
}

/// One bucket of the health histogram: chunks with `healthy` of `total`
/// shards on online remotes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthBucket {
    pub healthy: u64,
    pub total: u64,
    pub chunks: u64,
    pub bytes: u64,
}

/// Work done by the background workers since the server started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerStats {
    pub chunks_repaired: u64,
    pub shards_rebuilt: u64,
    pub repair_bytes: u64,
    pub chunks_reencoded: u64,
    pub unrecoverable: u64,
    pub audits_passed: u64,
    pub audits_failed: u64,
    pub chunks_expired: u64,
    pub garbage_deleted: u64,
}

/// `GET /v1/admin/health`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    pub remotes_online: u64,
    pub remotes_other: u64,
    /// Chunks by healthy-shard count, fewest healthy first.
    pub chunks: Vec<HealthBucket>,
    /// Bytes of chunks whose next loss would leave them unreadable or worse
    /// (healthy shards at most k).
    pub bytes_at_risk: u64,
    /// Chunks missing at least one shard.
    pub degraded: u64,
    /// Shards waiting to be deleted from remotes.
    pub garbage: u64,
    pub workers: WorkerStats,
    /// Shards remotes hold that this catalog does not know, kept aside in
    /// quarantine (after a restore from an older backup, the data written
    /// since), and their bytes, as the remotes last reported.
    #[serde(default)]
    pub quarantined: u64,
    #[serde(default)]
    pub quarantined_bytes: u64,
    /// When the backup this catalog was restored from was taken (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<i64>,
}

/// `POST /v1/admin/remote-tokens`: a single-use token that admits one remote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteTokenRequest {
    /// The most the admitted remote may claim to offer; none: no cap.
    #[serde(default)]
    pub capacity: Option<u64>,
    /// The operator vouches for the remote: no vetting period.
    #[serde(default)]
    pub vetted: bool,
    /// How long the token stays valid (default a day).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteTokenResponse {
    /// Give it to the remote: `pyxis remote --token TOKEN` (or `PYXIS_REMOTE_TOKEN`).
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub capacity: Option<u64>,
    pub vetted: bool,
}

impl std::fmt::Debug for RemoteTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTokenResponse")
            .field("token", &"<secret>")
            .field("expires_at", &self.expires_at)
            .field("capacity", &self.capacity)
            .field("vetted", &self.vetted)
            .finish()
    }
}

/// `POST /v1/admin/drain`, `/v1/admin/revoke`, `/v1/admin/vet` and
/// `/v1/admin/quarantine/release`: which remote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteRequest {
    pub remote: i64,
}
