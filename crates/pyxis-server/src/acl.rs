//! Whose tree a catalog call acts on, and what the caller may do there.
//!
//! Every catalog and locate route takes a [`Tree`] instead of the bare
//! session user: without `?share=ID` it is the caller's own tree; with one,
//! it is the share's owner's tree, only if the share was made *to the
//! caller*, only under the shared path, and for writing only through a
//! write share. The checks live here, in one place, so that no route can
//! forget one.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::shares::ShareParam;
use pyxis_proto::path;

use crate::State;
use crate::auth::AuthUser;
use crate::db::shares::ShareRow;
use crate::error::{ApiError, ApiResult};
use crate::routes::extract::Query;

/// `shares.mode` of a share that lets its grantee write.
pub const WRITE: i64 = 2;

/// The tree a request acts on.
#[derive(Debug, Clone)]
pub struct Tree {
    pub user: AuthUser,
    /// The tree's owner: the caller, or the share's owner.
    pub owner: i64,
    pub share: Option<ShareRow>,
}

impl FromRequestParts<State> for Tree {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> ApiResult<Self> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let Query(q) = Query::<ShareParam>::from_request_parts(parts, state).await?;
        let Some(id) = q.share else {
            return Ok(Tree { owner: user.id, user, share: None });
        };
        // The same answer for a share that does not exist and one made to
        // somebody else: a grantee learns nothing about other shares.
        let share =
            state.db.share(id).await?.filter(|s| s.grantee_id == user.id).ok_or_else(|| {
                ApiError::forbidden(ErrorCode::NotShared, format!("share {id} is not shared with you"))
            })?;
        Ok(Tree { owner: share.owner_id, user, share: Some(share) })
    }
}

impl Tree {
    /// May `p` (normalised) be read? Anything in one's own tree; through a
    /// share, the shared path and what lies under it.
    pub fn read(&self, p: &str) -> ApiResult<()> {
        match &self.share {
            None => Ok(()),
            Some(s) if path::is_within(p, &s.path) => Ok(()),
            Some(s) => Err(ApiError::forbidden(
                ErrorCode::NotShared,
                format!("{p} is not under {}, which is what {} shares with you", s.path, s.owner),
            )),
        }
    }

    /// The owner whose tree a write changes: one's own, or through a write
    /// share, its owner's (each path written is checked with [`Tree::write`]).
    pub fn writer(&self) -> ApiResult<i64> {
        match &self.share {
            Some(s) if s.mode != WRITE => Err(ApiError::forbidden(
                ErrorCode::ReadOnlyShare,
                format!("{} shares {} with you to read only", s.owner, s.path),
            )),
            _ => Ok(self.owner),
        }
    }

    /// [`Tree::writer`], for a write of `p`: under the shared path.
    pub fn write(&self, p: &str) -> ApiResult<i64> {
        let owner = self.writer()?;
        self.read(p)?;
        Ok(owner)
    }

    /// Writes only the owner makes (binding legacy versions).
    pub fn write_own(&self) -> ApiResult<i64> {
        match &self.share {
            None => Ok(self.user.id),
            Some(s) => Err(ApiError::forbidden(
                ErrorCode::ReadOnlyShare,
                format!("only {} can do that in their tree", s.owner),
            )),
        }
    }
}
