//! Remotes joining the network and staying alive.

use axum::Json;
use axum::extract::{Path, State as StateX};
use axum::http::HeaderMap;
use pyxis_proto::api::remote::{
    HeartbeatRequest, HeartbeatResponse, InventoryRequest, InventoryResponse, RegisterRequest, RegisterResponse,
    ReportRequest,
};
use pyxis_proto::hex;

use super::extract::Body;
use crate::State;
use crate::auth::{random_token, same_hash, token_hash};
use crate::db::remotes::RemoteSpace;
use crate::error::{ApiError, ApiResult};

fn check_url(url: &str) -> ApiResult<()> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.contains(char::is_whitespace);
    if ok { Ok(()) } else { Err(ApiError::bad_request("bad_url", format!("remote URL {url:?} is not an http(s) URL"))) }
}

fn space(capacity: u64, free: u64, used: u64) -> RemoteSpace {
    let clamp = |v: u64| v.min(i64::MAX as u64) as i64;
    RemoteSpace { capacity: clamp(capacity), free: clamp(free.min(capacity)), used: clamp(used) }
}

/// A remote joins, or re-joins with the id and token it kept.
#[utoipa::path(post, path = "/v1/remotes/register", request_body = RegisterRequest,
    responses((status = 200, body = RegisterResponse)), tag = "remotes")]
pub async fn register(
    StateX(state): StateX<State>,
    Body(req): Body<RegisterRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    check_url(&req.url)?;
    if req.name.is_empty() || req.name.len() > 255 {
        return Err(ApiError::bad_request("bad_name", "remote name must be 1 to 255 bytes"));
    }
    let sp = space(req.capacity, req.free, req.capacity.saturating_sub(req.free));
    let known = match (req.remote_id, &req.token) {
        (Some(id), Some(token)) => state
            .db
            .remote(id)
            .await?
            .filter(|r| same_hash(&r.token_hash, &token_hash(token)))
            .map(|r| (r.id, token.clone())),
        _ => None,
    };
    let (remote_id, token) = match known {
        Some((id, token)) => {
            state.db.remote_seen(id, &req.url, sp).await?;
            tracing::info!(remote = id, url = %req.url, "remote re-registered");
            (id, token)
        }
        None => {
            let token = random_token();
            let id = state.db.insert_remote(&req.name, &req.url, &token_hash(&token), sp).await?;
            tracing::info!(remote = id, name = %req.name, url = %req.url, "remote registered");
            (id, token)
        }
    };
    Ok(Json(RegisterResponse {
        remote_id,
        token,
        grant_public_key: hex::encode(&state.signer.public_key()),
        heartbeat_secs: state.opts.heartbeat.as_secs().max(1),
    }))
}

#[utoipa::path(post, path = "/v1/remotes/{id}/heartbeat", request_body = HeartbeatRequest,
    params(("id" = i64, Path, description = "remote id")),
    responses((status = 200, body = HeartbeatResponse), (status = 404, body = pyxis_proto::api::ErrorBody)), tag = "remotes")]
pub async fn heartbeat(
    StateX(state): StateX<State>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Body(req): Body<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    authenticate(&state, id, &headers).await?;
    check_url(&req.url)?;
    state.db.remote_seen(id, &req.url, space(req.capacity, req.free, req.used)).await?;
    Ok(Json(HeartbeatResponse { grant_public_key: hex::encode(&state.signer.public_key()) }))
}

/// Checks a remote's bearer token.
async fn authenticate(state: &State, id: i64, headers: &HeaderMap) -> ApiResult<()> {
    let remote = state
        .db
        .remote(id)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_remote", format!("no remote {id}: register again")))?;
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("no_token", "remote token required"))?;
    if !same_hash(&remote.token_hash, &token_hash(token)) {
        return Err(ApiError::unauthorized("bad_token", format!("wrong token for remote {id}: register again")));
    }
    Ok(())
}

/// Shards the remote's scrubber found corrupt and dropped: mark them lost, so
/// the repair worker rebuilds them elsewhere.
#[utoipa::path(post, path = "/v1/remotes/{id}/report", request_body = ReportRequest,
    params(("id" = i64, Path, description = "remote id")), responses((status = 204)), tag = "remotes")]
pub async fn report(
    StateX(state): StateX<State>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Body(req): Body<ReportRequest>,
) -> ApiResult<axum::http::StatusCode> {
    authenticate(&state, id, &headers).await?;
    let n = state.db.mark_shards_lost(id, &req.corrupt).await?;
    if n > 0 {
        tracing::warn!(remote = id, shards = n, "remote reported corrupt shards");
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A batch of a remote's inventory: the answer names the shards the catalog
/// does not place there (orphans the remote may delete).
#[utoipa::path(post, path = "/v1/remotes/{id}/inventory", request_body = InventoryRequest,
    params(("id" = i64, Path, description = "remote id")), responses((status = 200, body = InventoryResponse)), tag = "remotes")]
pub async fn inventory(
    StateX(state): StateX<State>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Body(req): Body<InventoryRequest>,
) -> ApiResult<Json<InventoryResponse>> {
    authenticate(&state, id, &headers).await?;
    if req.hashes.len() > 10_000 {
        return Err(ApiError::bad_request("batch_too_large", "at most 10000 hashes per inventory batch"));
    }
    Ok(Json(InventoryResponse { unwanted: state.db.unwanted(id, &req.hashes).await? }))
}
