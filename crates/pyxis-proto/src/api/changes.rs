//! The change feed: every catalog change of a user's tree, numbered by a
//! per-user counter that only grows. `GET /v1/changes?after=N&wait=S` answers
//! the changes after cursor N (waiting up to S seconds for one);
//! `GET /v1/changes/ws?after=N` (a WebSocket) pushes the same answers as
//! they happen. With `?share=ID`, the owner's changes under the shared path.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    /// A new version of `path` (`version`); a restore is one too.
    Commit,
    Mkdir,
    /// `path` (and everything under it) moved to `to`.
    Move,
    /// `path` (and everything under it) was removed.
    Remove,
    /// `path` was shared with `peer`, or `peer` shared it (in the grantee's
    /// feed, as `@OWNER/PATH`).
    Share,
    Unshare,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// An answer of the feed (and each WebSocket message).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangesResponse {
    pub changes: Vec<Change>,
    /// Pass as `after` next time: the last change answered (or looked at,
    /// through a share), else `after` itself.
    pub cursor: i64,
    /// The newest change of the tree. Below the cursor a client sent, the
    /// server lost changes (restored from an older backup): rescan.
    pub newest: i64,
    /// When the backup this catalog was restored from was taken (Unix ms),
    /// if it was: changes made after then are gone, and the client should
    /// say so rather than only rescan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<i64>,
}
