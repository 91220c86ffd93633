//! The catalog: a user's tree of directories and files, and file versions.

use serde::{Deserialize, Serialize};

use crate::ids::{ChunkId, FileId, Tag};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EntryKind {
    Dir,
    File,
}

/// One directory or file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    /// Current version's size (0 for directories).
    pub size: u64,
    /// Current version's modification time, Unix milliseconds (0 for directories).
    pub mtime: i64,
    /// Current version number (files only).
    pub version: Option<i64>,
    /// Hex content hash of the current version (files only).
    pub content_hash: Option<String>,
    /// When the current version was committed, Unix milliseconds (0 for
    /// directories). A put trusts size + mtime only for files whose mtime
    /// is well before this (a file changed in the same tick is re-read).
    #[serde(default)]
    pub committed_at: i64,
    /// The writer's binding of this path to the file and its current
    /// version (files only; absent for a legacy version written before
    /// bindings). The client checks it; the server cannot make one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<EntryBinding>,
    /// Read through a share (`?share=ID`): the current version's share wrap
    /// (its file key and binding key under the share key), if its owner's
    /// client made one.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::b64opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub share_key: Option<Vec<u8>>,
    /// Made by another user through a write share (absent: by the tree's
    /// owner): who, and the binding key they wrapped for the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::b64opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub writer_keys: Option<Vec<u8>>,
}

/// A path bound to a file: `tag` is the entry tag over the path, the file
/// id and the current version's number, size, mtime and content hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryBinding {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub file_id: FileId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tag: Tag,
}

/// A version bound to its file: the version tag over the file id, the
/// version's facts, its manifest and its wrapped key; with the entry tag
/// when the version is (or, at commit, becomes) the path's current one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionBinding {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub file_id: FileId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub version_tag: Tag,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub entry_tag: Option<Tag>,
}

/// `GET /v1/list?path=P&recursive=true&after=CURSOR&limit=N`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListResponse {
    pub entries: Vec<Entry>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// One version of a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    pub version: i64,
    pub size: u64,
    pub mtime: i64,
    pub content_hash: String,
    /// Unix milliseconds when it was committed.
    pub created_at: i64,
}

/// `GET /v1/versions?path=P`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionsResponse {
    pub path: String,
    pub current: i64,
    pub versions: Vec<VersionInfo>,
}

/// A file version with what it takes to read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileVersion {
    pub path: String,
    pub info: VersionInfo,
    /// Sealed manifest (docs/FORMAT.md).
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub manifest: Vec<u8>,
    /// File key wrapped for this user.
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_key: Vec<u8>,
    /// Distinct chunks the version uses.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub chunks: Vec<ChunkId>,
    /// Absent for a legacy version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<VersionBinding>,
    /// Read through a share: this version's share wrap (see [`Entry`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::b64opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub share_key: Option<Vec<u8>>,
    /// Made by another user through a write share: its keys are wrapped by
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::b64opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub writer_keys: Option<Vec<u8>>,
    /// Its chunks are this user's, not the tree owner's (a writer's, or a
    /// version restored from one): locate them with `of`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_of: Option<String>,
}

/// `POST /v1/files/read`: several files' current (or given) versions at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadRequest {
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::FILES}, _, _>")]
    pub paths: Vec<String>,
    /// A version number; only with a single path.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReadResponse {
    pub files: Vec<FileVersion>,
}

/// One file to commit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitFile {
    pub path: String,
    pub size: u64,
    /// Unix milliseconds.
    pub mtime: i64,
    pub content_hash: String,
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub manifest: Vec<u8>,
    #[serde(with = "super::b64")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Byte))]
    pub wrapped_key: Vec<u8>,
    /// Every chunk the manifest references (each must be stored).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub chunks: Vec<ChunkId>,
    /// Only commit if the current version is this one (0: the file must not
    /// exist). Absent: commit whatever is there.
    #[serde(default)]
    pub expect: Option<i64>,
    /// Tags for version `expect + 1` (so `expect` is required with it); the
    /// entry tag is required too. Absent: a legacy commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<VersionBinding>,
    /// Share wraps of the new version, one for each of the committer's
    /// shares that covers the path (so a grantee can read it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub share_keys: Vec<super::shares::ShareWrap>,
    /// Make a new version even if content, size and mtime equal the current
    /// version's (the same content in new chunks: a share re-packs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_version: bool,
    /// Through a write share: the binding key wrapped for the tree's owner
    /// (required there; `wrapped_key` is the file key wrapped likewise).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::b64opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Byte))]
    pub writer_keys: Option<Vec<u8>>,
    /// The chunks are this user's, not the committer's: a restore of a
    /// version a writer made (each chunk must be used by a version of the
    /// same file already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_of: Option<String>,
}

/// `POST /v1/commit`: all files become visible at once, or none does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitRequest {
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::FILES}, _, _>")]
    pub files: Vec<CommitFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommittedFile {
    pub path: String,
    pub version: i64,
    /// Content, size and mtime equal the current version's: no new version
    /// was made (`version` is the current one), so re-putting an unchanged
    /// tree does not fill the history with copies.
    #[serde(default)]
    pub unchanged: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitResponse {
    pub files: Vec<CommittedFile>,
}

/// `POST /v1/mkdir`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MkdirRequest {
    pub path: String,
    /// Create missing parents too, and succeed if it exists.
    #[serde(default)]
    pub parents: bool,
}

/// `POST /v1/move`: rename a file or a directory with everything under it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MoveRequest {
    pub from: String,
    pub to: String,
    /// A new entry tag for every file that moves, under its new path: the
    /// client re-binds, the server only stores (a file left out becomes
    /// unbound, which clients report).
    #[serde(default, deserialize_with = "crate::api::at_most::<{crate::api::max::MOVED}, _, _>")]
    pub tags: Vec<PathTag>,
}

/// A path's new entry tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PathTag {
    pub path: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tag: Tag,
}

/// `POST /v1/bind`: bindings for current versions written before them
/// (`pyxis upgrade`). Only a version without a binding takes one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BindRequest {
    #[serde(deserialize_with = "crate::api::at_most::<{crate::api::max::FILES}, _, _>")]
    pub files: Vec<BindFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BindFile {
    pub path: String,
    pub version: i64,
    pub binding: VersionBinding,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BindResponse {
    /// Versions that took their binding (others were bound already, or
    /// were no longer current).
    pub bound: u64,
}

/// `POST /v1/remove`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveRequest {
    pub path: String,
    /// Remove a directory and everything in it.
    #[serde(default)]
    pub recursive: bool,
    /// Remove only while the file's current version is this one (a
    /// directory's is 0); else `version_conflict`. Sync removes this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<i64>,
    /// Delete for good instead of moving files to the trash.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanently: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoveResponse {
    pub files: u64,
    pub dirs: u64,
}

/// `POST /v1/restore`: make an older version current again (as a new version).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RestoreRequest {
    pub path: String,
    pub version: i64,
}
