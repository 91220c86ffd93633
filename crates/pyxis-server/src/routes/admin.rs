//! Operator routes, behind the admin token.

use axum::Json;
use axum::extract::State as StateX;
use axum::http::StatusCode;
use pyxis_proto::api::admin::{QuotaRequest, RemoteInfo, RemotesResponse};

use super::extract::Body;
use crate::State;
use crate::auth::Admin;
use crate::db::remotes::state_name;
use crate::error::{ApiError, ApiResult};

#[utoipa::path(post, path = "/v1/admin/quota", request_body = QuotaRequest, responses((status = 204)), tag = "admin")]
pub async fn set_quota(StateX(state): StateX<State>, _: Admin, Body(req): Body<QuotaRequest>) -> ApiResult<StatusCode> {
    let quota = i64::try_from(req.quota).map_err(|_| ApiError::bad_request("bad_quota", "quota too large"))?;
    if state.db.set_quota(&req.username, quota).await? {
        tracing::info!(user = %req.username, quota, "quota set");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no_user", format!("no user {:?}", req.username)))
    }
}

#[utoipa::path(get, path = "/v1/admin/remotes", responses((status = 200, body = RemotesResponse)), tag = "admin")]
pub async fn remotes(StateX(state): StateX<State>, _: Admin) -> ApiResult<Json<RemotesResponse>> {
    let remotes = state
        .db
        .all_remotes()
        .await?
        .into_iter()
        .map(|(r, shards)| RemoteInfo {
            id: r.id,
            name: r.name,
            url: r.url,
            state: state_name(r.state).to_owned(),
            capacity: r.capacity as u64,
            free: r.free as u64,
            used: r.used as u64,
            shards: shards as u64,
            last_seen: r.last_seen / 1000,
        })
        .collect();
    Ok(Json(RemotesResponse { remotes }))
}
