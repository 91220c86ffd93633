//! History: the trash (removed files, kept for the retention period),
//! forgetting old versions by a retention policy, and what the kept
//! history costs (docs/PROTOCOL.md, "History").

use serde::{Deserialize, Serialize};

use super::catalog::Entry;
use crate::retention::Retention;

/// A file in the trash: `entry` is it as it was when removed (its path the
/// one it had, its binding unchanged, so the client checks it as usual).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashItem {
    /// Names this item (several removed files may have had one path).
    pub id: i64,
    pub entry: Entry,
    /// When it was removed, Unix ms.
    pub removed_at: i64,
    /// When collection deletes it for good, Unix ms (the account's
    /// retention policy decides).
    pub expires_at: i64,
    /// Versions it keeps.
    pub versions: i64,
}

/// `GET /v1/trash?path=P`: what is in the trash (under P, if given),
/// newest removal first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashResponse {
    pub items: Vec<TrashItem>,
    /// More matched than one answer carries.
    #[serde(default)]
    pub truncated: bool,
}

/// `POST /v1/trash/restore`: put a trashed file back, at its old path or
/// at `to`. A new path needs the entry tag the client made for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashRestoreRequest {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub entry_tag: Option<crate::Tag>,
}

/// `POST /v1/trash/empty`: delete from the trash for good: the items
/// named, or everything removed from under `path`, or (neither) all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashEmptyRequest {
    #[serde(default, deserialize_with = "super::at_most::<{ super::max::FILES }, _, _>")]
    pub ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrashEmptyResponse {
    pub files: u64,
    pub versions: u64,
}

/// `POST /v1/forget`: drop the versions a policy does not keep, under
/// `path` (default: everywhere, the trash included). Without `policy`,
/// the account's. `dry_run` only says what would go.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgetRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Retention>,
    #[serde(default)]
    pub dry_run: bool,
}

/// One version forgotten (or, dry run, that would be).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgottenVersion {
    pub path: String,
    pub version: i64,
    pub size: u64,
    pub created_at: i64,
    /// The file is in the trash.
    #[serde(default)]
    pub trashed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgetResponse {
    pub forgotten: Vec<ForgottenVersion>,
    /// Versions the policy keeps among those it looked at.
    pub kept: u64,
    /// More were forgotten than listed here.
    #[serde(default)]
    pub truncated: bool,
}

/// `GET /v1/retention` (the account's policy, and whether it is the
/// default) and `POST /v1/retention` (set it; `policy` absent: back to
/// the default).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetentionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Retention>,
    #[serde(default)]
    pub default: bool,
}

/// `GET /v1/usage`: what the quota counts, told apart. Sizes are the
/// files' plaintext sizes; `used` is what the quota charges (stored
/// chunks, deduplicated, after compression, plus manifests).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub used: u64,
    pub quota: u64,
    pub files: u64,
    pub file_bytes: u64,
    /// Older versions of files (in the tree and in the trash).
    pub old_versions: u64,
    pub old_version_bytes: u64,
    pub trashed_files: u64,
    pub trashed_bytes: u64,
    pub policy: Retention,
}
