//! Sharing: an owner gives another user read access to a file or a directory
//! of the owner's tree (docs/SECURITY.md, "Sharing").
//!
//! A share has a random share key `S`, wrapped twice by the owner's client:
//! for the owner (symmetric) and to the grantee's X25519 public key
//! (authenticated by the owner's own X25519 key, so a grantee who pinned the
//! owner's key knows the share came from the owner). Each version under the
//! shared path carries a *share wrap*: its file key and its file's binding
//! key under `S`. The server stores these bytes and enforces the ACL; it can
//! open none of them.
//!
//! A grantee addresses the owner's tree by adding `?share=ID` to the
//! catalog's read calls (`list`, `stat`, `versions`, `files/read`) and to
//! `chunks/locate`; every answer then holds the owner's paths, each file
//! with the share wrap of its version.

use serde::{Deserialize, Serialize};

/// What a grantee may do: read, or also write (commit, mkdir, move,
/// remove) under the shared path. Write calls through a read share are
/// refused (`read_only_share`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ShareMode {
    Read,
    Write,
}

impl ShareMode {
    /// The byte bound into the wrapped share key.
    pub fn code(self) -> u8 {
        match self {
            ShareMode::Read => 1,
            ShareMode::Write => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(ShareMode::Read),
            2 => Some(ShareMode::Write),
            _ => None,
        }
    }
}

/// `GET /v1/users/key?name=U`: the public key the server hands out for a
/// user (a client pins it on first use and compares it ever after).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserKey {
    pub username: String,
    /// X25519, hex.
    #[serde(with = "super::hex32")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub public_key: [u8; 32],
}

/// `POST /v1/shares`: the owner shares `path` with `grantee`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateShareRequest {
    pub path: String,
    pub grantee: String,
    pub mode: ShareMode,
    /// The grantee's public key the owner wrapped to (the server refuses the
    /// share if it is not the grantee's current one).
    #[serde(with = "super::hex32")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub grantee_public_key: [u8; 32],
    /// `S` wrapped for the owner.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub owner_key: Vec<u8>,
    /// `S` wrapped to the grantee.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub grantee_key: Vec<u8>,
}

/// One share, as its owner or its grantee sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareInfo {
    pub id: i64,
    pub owner: String,
    pub grantee: String,
    pub path: String,
    pub mode: ShareMode,
    pub created_at: i64,
    /// `S` wrapped for whoever asks: the owner's copy in `mine`, the
    /// grantee's in `with_me`.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub key: Vec<u8>,
}

/// `GET /v1/shares`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharesResponse {
    /// What this user shares with others.
    pub mine: Vec<ShareInfo>,
    /// What others share with this user.
    pub with_me: Vec<ShareInfo>,
}

/// A version's share wrap, by the owner's path and version number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionWrap {
    pub path: String,
    pub version: i64,
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped: Vec<u8>,
}

/// `POST /v1/shares/keys`: share wraps for versions under a share (made by
/// its owner when sharing, and for files moved into a shared directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareKeysRequest {
    pub share: i64,
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::FILES}, _, _>")]
    pub keys: Vec<VersionWrap>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareKeysResponse {
    /// Wraps stored (a version under the shared path); others were ignored.
    pub stored: u64,
}

/// `POST /v1/shares/remove`: the owner ends a share.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnshareRequest {
    pub path: String,
    pub grantee: String,
}

/// A share wrap a commit adds for a share covering the committed path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareWrap {
    pub share: i64,
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped: Vec<u8>,
}

/// `?share=ID` on the catalog's read calls and on locate.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ShareParam {
    #[serde(default)]
    pub share: Option<i64>,
}
