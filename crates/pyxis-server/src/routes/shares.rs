//! Sharing: users' public keys, and the shares an owner makes, lists and
//! ends. The keys in a share are wrapped by the owner's client; the server
//! checks who may see what ([`crate::acl`]) and can open none of them.

use axum::Json;
use axum::extract::State as StateX;
use axum::http::StatusCode;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::shares::{
    CreateShareRequest, ShareInfo, ShareKeysRequest, ShareKeysResponse, ShareMode, SharesResponse, UnshareRequest,
    UserKey,
};
use pyxis_proto::format::wrapped::WrappedKey;
use pyxis_proto::path;
use serde::Deserialize;

use super::extract::{Body, Query};
use crate::State;
use crate::auth::AuthUser;
use crate::db::catalog::CatalogError;
use crate::db::shares::{NewShare, ShareRow};
use crate::db::users::UserRow;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NameQuery {
    name: String,
}

/// A user others may share with: not deleted, not being deleted.
async fn active_user(state: &State, name: &str) -> ApiResult<UserRow> {
    state
        .db
        .user_by_name(name)
        .await?
        .filter(|u| u.deleted_at.is_none() && u.delete_after.is_none())
        .ok_or_else(|| ApiError::not_found(ErrorCode::NoUser, format!("no user {name:?}")))
}

fn public_key(u: &UserRow) -> ApiResult<[u8; 32]> {
    u.reader_public_key.as_slice().try_into().map_err(ApiError::internal)
}

/// The public key the server hands out for a user.
#[utoipa::path(get, path = "/v1/users/key", params(NameQuery), responses((status = 200, body = UserKey)), tag = "shares")]
pub async fn user_key(
    StateX(state): StateX<State>,
    _user: AuthUser,
    Query(q): Query<NameQuery>,
) -> ApiResult<Json<UserKey>> {
    let u = active_user(&state, &q.name).await?;
    Ok(Json(UserKey { public_key: public_key(&u)?, username: u.username }))
}

fn info(s: ShareRow, as_owner: bool) -> ShareInfo {
    ShareInfo {
        id: s.id,
        owner: s.owner,
        grantee: s.grantee,
        path: s.path,
        mode: ShareMode::from_code(s.mode).unwrap_or(ShareMode::Read),
        created_at: s.created_at,
        key: if as_owner { s.owner_key } else { s.grantee_key },
    }
}

#[utoipa::path(get, path = "/v1/shares", responses((status = 200, body = SharesResponse)), tag = "shares")]
pub async fn list(StateX(state): StateX<State>, user: AuthUser) -> ApiResult<Json<SharesResponse>> {
    let mine = state.db.shares(user.id, true).await?.into_iter().map(|s| info(s, true)).collect();
    let with_me = state.db.shares(user.id, false).await?.into_iter().map(|s| info(s, false)).collect();
    Ok(Json(SharesResponse { mine, with_me }))
}

#[utoipa::path(post, path = "/v1/shares", request_body = CreateShareRequest,
    responses((status = 201, body = ShareInfo), (status = 409, body = pyxis_proto::api::ErrorBody)), tag = "shares")]
pub async fn create(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<CreateShareRequest>,
) -> ApiResult<(StatusCode, Json<ShareInfo>)> {
    let p = path::normalize_existing(&req.path)?;
    if p != "/" && state.db.stat(user.id, &p).await?.is_none() {
        return Err(CatalogError::NotFound(p).into());
    }
    let grantee = active_user(&state, &req.grantee).await?;
    if grantee.id == user.id {
        return Err(ApiError::bad_request(ErrorCode::BadShare, "a share is made to another user"));
    }
    // The client wrapped to the key it pinned; a different current key means
    // the grantee's account changed since, and the share would not open.
    if public_key(&grantee)? != req.grantee_public_key {
        return Err(ApiError::conflict(
            ErrorCode::KeyChanged,
            format!("{}'s public key is not the one the share was wrapped to", grantee.username),
        ));
    }
    for (what, bytes) in [("owner_key", &req.owner_key), ("grantee_key", &req.grantee_key)] {
        WrappedKey::parse(bytes).map_err(|e| ApiError::bad_request(ErrorCode::BadShare, format!("{what}: {e}")))?;
    }
    let new = NewShare {
        owner: user.id,
        path: &p,
        grantee: grantee.id,
        mode: i64::from(req.mode.code()),
        owner_key: &req.owner_key,
        grantee_key: &req.grantee_key,
    };
    let Some(id) = state.db.create_share(&new).await? else {
        return Err(ApiError::conflict(ErrorCode::Exists, format!("{p} is already shared with {}", grantee.username)));
    };
    tracing::info!(owner = user.id, grantee = grantee.id, share = id, "share created");
    let row = state.db.share(id).await?.ok_or_else(|| ApiError::internal("a share vanished as it was made"))?;
    announce(&state, &row, false).await?;
    Ok((StatusCode::CREATED, Json(info(row, true))))
}

/// Tells both users' change feeds that a share began or ended (the
/// grantee's names it `@OWNER/PATH`).
async fn announce(state: &State, s: &ShareRow, ended: bool) -> ApiResult<()> {
    use crate::db::changes::Change;
    state.db.record_change(s.owner_id, Change::shared(&s.path, &s.grantee, ended)).await?;
    let theirs = format!("@{}{}", s.owner, s.path);
    state.db.record_change(s.grantee_id, Change::shared(&theirs, &s.owner, ended)).await?;
    state.feed.notify(s.owner_id);
    state.feed.notify(s.grantee_id);
    Ok(())
}

/// The share `id`, if `user` owns it.
async fn owned(state: &State, user: i64, id: i64) -> ApiResult<ShareRow> {
    state
        .db
        .share(id)
        .await?
        .filter(|s| s.owner_id == user)
        .ok_or_else(|| ApiError::not_found(ErrorCode::NoShare, format!("you have no share {id}")))
}

#[utoipa::path(post, path = "/v1/shares/keys", request_body = ShareKeysRequest,
    responses((status = 200, body = ShareKeysResponse)), tag = "shares")]
pub async fn keys(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<ShareKeysRequest>,
) -> ApiResult<Json<ShareKeysResponse>> {
    let share = owned(&state, user.id, req.share).await?;
    let mut items = Vec::with_capacity(req.keys.len());
    for k in req.keys {
        let p = path::normalize_existing(&k.path)?;
        if !path::is_within(&p, &share.path) {
            return Err(ApiError::bad_request(ErrorCode::NotShared, format!("{p} is not under {}", share.path)));
        }
        items.push((p, k.version, k.wrapped));
    }
    Ok(Json(ShareKeysResponse { stored: state.db.add_share_keys(&share, &items).await? }))
}

#[utoipa::path(post, path = "/v1/shares/remove", request_body = UnshareRequest,
    responses((status = 204), (status = 404, body = pyxis_proto::api::ErrorBody)), tag = "shares")]
pub async fn remove(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<UnshareRequest>,
) -> ApiResult<StatusCode> {
    let p = path::normalize_existing(&req.path)?;
    let none = || ApiError::not_found(ErrorCode::NoShare, format!("{p} is not shared with {}", req.grantee));
    let grantee = state.db.user_by_name(&req.grantee).await?.ok_or_else(none)?;
    let found = state.db.shares(user.id, true).await?.into_iter().find(|s| s.path == p && s.grantee_id == grantee.id);
    if !state.db.remove_share(user.id, &p, grantee.id).await? {
        return Err(none());
    }
    if let Some(row) = found {
        announce(&state, &row, true).await?;
    }
    tracing::info!(owner = user.id, grantee = grantee.id, path = %p, "share ended");
    Ok(StatusCode::NO_CONTENT)
}
