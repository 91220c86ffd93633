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
    /// A name for this device (as in [`LoginRequest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub login_secret: String,
    /// A name for this device, shown by `pyxis devices` (at most 64
    /// characters, no control characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub quota: u64,
    pub used: u64,
    pub created_at: i64,
    /// The X25519 public key the server hands out for this user (hex): what
    /// others wrap file keys to. `pyxis whoami --fingerprint` compares it
    /// with the one the user's own keys give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_public_key: Option<String>,
}

/// `POST /v1/account/delete`: the owner deletes the account, proving the
/// password again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountDeleteRequest {
    pub current_login_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountDeleteResponse {
    /// Unix milliseconds after which the account's files are removed (until
    /// then the operator can enable it again with everything in place).
    pub delete_after: i64,
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

/// A new password: what signup sends about one, for `password` and `recover`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPassword {
    /// Hex, 16 bytes, random, chosen by the client.
    pub salt: String,
    pub kdf: KdfParams,
    /// Hex, 32 bytes.
    pub login_secret: String,
    /// The same master key, wrapped under the new key-wrapping key.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_master_key: Vec<u8>,
}

/// `POST /v1/auth/password`: replace the logged-in user's password. The
/// current one is proved again (a stolen session token is not enough), every
/// other session ends, and no data is re-encrypted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChangeRequest {
    /// Hex, 32 bytes: the login secret of the current password.
    pub current_login_secret: String,
    pub new: NewPassword,
}

/// `POST /v1/auth/recovery-key`: keep a second wrapping of the master key,
/// under a key derived from a recovery key the user writes down.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryKeyRequest {
    /// Hex, 32 bytes: the login secret of the current password.
    pub current_login_secret: String,
    /// Hex, 32 bytes: the recovery key's login secret (the server keeps its hash).
    pub recovery_secret: String,
    /// The master key wrapped under the recovery key's wrapping key.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_master_key: Vec<u8>,
}

/// `POST /v1/auth/recover`: with the recovery key's secret, get the master
/// key's recovery wrapping; with `new_password` as well, set a new password,
/// end every session and log this device in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoverRequest {
    pub username: String,
    /// Hex, 32 bytes.
    pub recovery_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_password: Option<NewPassword>,
    /// A name for this device (as in [`LoginRequest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoverResponse {
    /// The master key wrapped under the recovery key.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub recovery_wrapped_master_key: Vec<u8>,
    /// With `new_password`: the new session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionResponse>,
}

/// One logged-in device of the account: a live session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    /// Names the session without revealing it (16 hex digits of a hash of
    /// its id): what `revoke` takes.
    pub id: String,
    #[serde(default)]
    pub device: Option<String>,
    /// Unix milliseconds.
    pub logged_in_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// The session of the caller.
    pub current: bool,
}

/// `GET /v1/devices`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DevicesResponse {
    pub devices: Vec<DeviceInfo>,
}

/// `POST /v1/devices/revoke`: end one of the account's sessions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeDeviceRequest {
    pub id: String,
}
