//! History (docs/PROTOCOL.md, "History"): the trash, `forget` by a
//! retention policy, the account's policy, and what the quota counts.
//! Each is the account owner's own: a share gives no access to these.

use axum::Json;
use axum::extract::State as StateX;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::Entry;
use pyxis_proto::api::history::{
    ForgetRequest, ForgetResponse, ForgottenVersion, RetentionInfo, TrashEmptyRequest, TrashEmptyResponse, TrashItem,
    TrashResponse, TrashRestoreRequest, Usage,
};
use pyxis_proto::path;
use pyxis_proto::retention::Retention;
use serde::Deserialize;

use super::extract::{Body, Query};
use crate::State;
use crate::acl::Tree;
use crate::auth::AuthUser;
use crate::db::now_ms;
use crate::error::{ApiError, ApiResult};

/// Trash items per answer, and forgotten versions listed per answer.
const PAGE: i64 = 10_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TrashQuery {
    /// Only what was removed from under this path.
    #[serde(default)]
    path: Option<String>,
}

/// The account's policy, or the default.
pub async fn policy_of(state: &State, user: i64) -> ApiResult<(Retention, bool)> {
    Ok(match state.db.retention(user).await? {
        Some(p) => (p, false),
        None => (Retention::default_policy(), true),
    })
}

fn checked(p: &Retention) -> ApiResult<()> {
    p.check().map_err(|why| ApiError::bad_request(ErrorCode::BadPolicy, why))
}

fn scope(p: Option<&str>) -> ApiResult<String> {
    Ok(match p {
        Some(p) => path::normalize_existing(p)?,
        None => "/".to_owned(),
    })
}

#[utoipa::path(get, path = "/v1/trash", params(TrashQuery), responses((status = 200, body = TrashResponse)), tag = "history")]
pub async fn list(
    StateX(state): StateX<State>,
    tree: Tree,
    Query(q): Query<TrashQuery>,
) -> ApiResult<Json<TrashResponse>> {
    let user = tree.write_own()?;
    let scope = scope(q.path.as_deref())?;
    let keep = policy_of(&state, user).await?.0.trash_ms();
    let mut rows = state.db.trash(user, &scope, PAGE + 1).await?;
    let truncated = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let mut items = Vec::with_capacity(rows.len());
    let (ids, listed): (Vec<_>, Vec<_>) =
        rows.into_iter().map(|r| ((r.trash_id, r.removed_at.unwrap_or(0), r.versions), r.entry)).unzip();
    let entries: Vec<Entry> = super::catalog::entries(&state, &tree, listed).await?;
    for ((id, removed_at, versions), entry) in ids.into_iter().zip(entries) {
        items.push(TrashItem { id, entry, removed_at, expires_at: removed_at.saturating_add(keep), versions });
    }
    Ok(Json(TrashResponse { items, truncated }))
}

#[utoipa::path(post, path = "/v1/trash/restore", request_body = TrashRestoreRequest, responses((status = 200, body = Entry)), tag = "history")]
pub async fn restore(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<TrashRestoreRequest>,
) -> ApiResult<Json<Entry>> {
    let user = tree.write_own()?;
    // A new name must pass today's rules; the old one is put back as it was.
    let to = req.to.as_deref().map(path::normalize).transpose()?;
    let tag = req.entry_tag.map(|t| t.0.to_vec());
    let (p, _) = state.db.untrash(user, req.id, to.as_deref(), tag.as_deref()).await?;
    state.feed.notify(user);
    let row = state.db.stat(user, &p).await?.ok_or_else(|| ApiError::not_found(ErrorCode::NotFound, p.clone()))?;
    Ok(Json(super::catalog::entries(&state, &tree, vec![row]).await?.remove(0)))
}

#[utoipa::path(post, path = "/v1/trash/empty", request_body = TrashEmptyRequest, responses((status = 200, body = TrashEmptyResponse)), tag = "history")]
pub async fn empty(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<TrashEmptyRequest>,
) -> ApiResult<Json<TrashEmptyResponse>> {
    let user = tree.write_own()?;
    let grace = state.opts.durability.deleted_grace.as_millis() as i64;
    let (mut files, mut versions) = (0, 0);
    if !req.ids.is_empty() {
        (files, versions) = state.db.purge_trash(user, &req.ids, grace).await?;
    } else {
        let scope = scope(req.path.as_deref())?;
        loop {
            let ids: Vec<i64> = state.db.trash(user, &scope, PAGE).await?.into_iter().map(|r| r.trash_id).collect();
            if ids.is_empty() {
                break;
            }
            let (f, v) = state.db.purge_trash(user, &ids, grace).await?;
            (files, versions) = (files + f, versions + v);
        }
    }
    tracing::info!(user, files, versions, "trash emptied by its owner");
    Ok(Json(TrashEmptyResponse { files, versions }))
}

/// Forgets what `policy` does not keep under `scope`; `dry_run`: only lists it.
pub async fn forget_under(
    state: &State,
    user: i64,
    scope: &str,
    policy: &Retention,
    dry_run: bool,
) -> ApiResult<ForgetResponse> {
    let aged = state.db.aged_versions(user, scope).await?;
    let (forget, kept) = crate::db::catalog::judge(policy, &aged, now_ms());
    let ids: Vec<i64> = forget.iter().map(|&i| aged[i].id).collect();
    if !dry_run && !ids.is_empty() {
        let grace = state.opts.durability.deleted_grace.as_millis() as i64;
        state.db.forget_versions(user, &ids, grace).await?;
    }
    let truncated = forget.len() > PAGE as usize;
    let forgotten = forget
        .into_iter()
        .take(PAGE as usize)
        .map(|i| {
            let v = &aged[i];
            ForgottenVersion {
                path: v.path.clone(),
                version: v.seq,
                size: v.size.max(0) as u64,
                created_at: v.created_at,
                trashed: v.removed_at.is_some(),
            }
        })
        .collect();
    Ok(ForgetResponse { forgotten, kept, truncated })
}

#[utoipa::path(post, path = "/v1/forget", request_body = ForgetRequest, responses((status = 200, body = ForgetResponse)), tag = "history")]
pub async fn forget(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<ForgetRequest>,
) -> ApiResult<Json<ForgetResponse>> {
    let user = tree.write_own()?;
    let policy = match req.policy {
        Some(p) => p,
        None => policy_of(&state, user).await?.0,
    };
    checked(&policy)?;
    let scope = scope(req.path.as_deref())?;
    let out = forget_under(&state, user, &scope, &policy, req.dry_run).await?;
    if !req.dry_run {
        tracing::info!(user, versions = out.forgotten.len(), "versions forgotten by their owner");
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/retention", responses((status = 200, body = RetentionInfo)), tag = "history")]
pub async fn retention(StateX(state): StateX<State>, user: AuthUser) -> ApiResult<Json<RetentionInfo>> {
    let (policy, default) = policy_of(&state, user.id).await?;
    Ok(Json(RetentionInfo { policy: Some(policy), default }))
}

#[utoipa::path(post, path = "/v1/retention", request_body = RetentionInfo, responses((status = 200, body = RetentionInfo)), tag = "history")]
pub async fn set_retention(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<RetentionInfo>,
) -> ApiResult<Json<RetentionInfo>> {
    let policy = if req.default { None } else { req.policy };
    if let Some(p) = &policy {
        checked(p)?;
    }
    state.db.set_retention(user.id, policy.as_ref()).await?;
    retention(StateX(state), user).await
}

#[utoipa::path(get, path = "/v1/usage", responses((status = 200, body = Usage)), tag = "history")]
pub async fn usage(StateX(state): StateX<State>, user: AuthUser) -> ApiResult<Json<Usage>> {
    let u = state
        .db
        .user_by_id(user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::BadSession, "user is gone"))?;
    let r = state.db.usage(user.id).await?;
    let n = |x: i64| x.max(0) as u64;
    Ok(Json(Usage {
        used: n(u.used_bytes),
        quota: n(u.quota_bytes),
        files: n(r.files.0),
        file_bytes: n(r.files.1),
        old_versions: n(r.old_versions.0),
        old_version_bytes: n(r.old_versions.1),
        trashed_files: n(r.trashed.0),
        trashed_bytes: n(r.trashed.1),
        policy: policy_of(&state, user.id).await?.0,
    }))
}
