//! Accounts and sessions. The password never leaves the client: it derives a
//! login secret (sent) and a key-wrapping key (kept) with Argon2id.

use serde::{Deserialize, Serialize};

/// Argon2id cost parameters, chosen by the client at signup.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// `POST /v1/auth/prelogin`: what a client needs to derive its login secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreloginRequest {
    pub username: String,
}

/// Unknown users get a stable made-up salt, so the answer does not reveal
/// which usernames exist.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreloginResponse {
    /// Hex, 16 bytes.
    pub salt: String,
    pub kdf: KdfParams,
}

/// `POST /v1/auth/signup`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignupRequest {
    pub username: String,
    /// Hex, 16 bytes, random, chosen by the client.
    pub salt: String,
    pub kdf: KdfParams,
    /// Hex, 32 bytes.
    pub login_secret: String,
    /// The master key wrapped under the key-wrapping key (docs/FORMAT.md).
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_master_key: Vec<u8>,
    /// Hex, 32 bytes: the user's X25519 public key, for sharing.
    pub reader_public_key: String,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub login_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub quota: u64,
    pub used: u64,
    pub created_at: i64,
}

/// Answer to signup and login: a session token (`Authorization: Bearer`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionResponse {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub user: UserInfo,
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_master_key: Vec<u8>,
}
