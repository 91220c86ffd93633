//! Operator routes, behind the admin token.

use axum::Json;
use axum::extract::State as StateX;
use axum::http::StatusCode;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::admin::{
    DisableRequest, HealthBucket, HealthResponse, QuotaRequest, RemoteInfo, RemoteRequest, RemoteTokenRequest,
    RemoteTokenResponse, RemotesResponse, UserSummary, UsersResponse,
};

use super::extract::Body;
use crate::State;
use std::time::Duration;

use crate::auth::Admin;
use crate::db::remotes::{Admission, DRAINING, ONLINE, REVOKED, state_name};
use crate::error::{ApiError, ApiResult};

#[utoipa::path(post, path = "/v1/admin/quota", request_body = QuotaRequest, responses((status = 204)), tag = "admin")]
pub async fn set_quota(StateX(state): StateX<State>, _: Admin, Body(req): Body<QuotaRequest>) -> ApiResult<StatusCode> {
    let quota = i64::try_from(req.quota).map_err(|_| ApiError::bad_request(ErrorCode::BadQuota, "quota too large"))?;
    if state.db.set_quota(&req.username, quota).await? {
        tracing::info!(user = %req.username, quota, "quota set");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(ErrorCode::NoUser, format!("no user {:?}", req.username)))
    }
}

/// Every account, with its use and state (no keys, no paths).
#[utoipa::path(get, path = "/v1/admin/users", responses((status = 200, body = UsersResponse)), tag = "admin")]
pub async fn users(StateX(state): StateX<State>, _: Admin) -> ApiResult<Json<UsersResponse>> {
    let users = state
        .db
        .all_users()
        .await?
        .into_iter()
        .map(|u| UserSummary {
            id: u.id,
            quota: u.quota_bytes.max(0) as u64,
            used: u.used_bytes.max(0) as u64,
            created_at: u.created_at,
            disabled_at: u.disabled_at,
            delete_after: u.delete_after,
            deleted_at: u.deleted_at,
            username: u.username,
        })
        .collect();
    Ok(Json(UsersResponse { users }))
}

/// Disables an account (its sessions end at once, its data stays) or
/// enables it again (which also cancels a deletion still in its grace).
#[utoipa::path(post, path = "/v1/admin/users/disable", request_body = DisableRequest, responses((status = 204)), tag = "admin")]
pub async fn disable_user(
    StateX(state): StateX<State>,
    _: Admin,
    Body(req): Body<DisableRequest>,
) -> ApiResult<StatusCode> {
    if state.db.set_disabled(&req.username, req.disabled).await? {
        tracing::warn!(user = %req.username, disabled = req.disabled, "account state set by the operator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(ErrorCode::NoUser, format!("no user {:?}", req.username)))
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
            public_key: r.public_key.as_deref().map(pyxis_proto::hex::encode).unwrap_or_default(),
            vetted: r.is_vetted(),
            id: r.id,
            name: r.name,
            url: r.url,
            state: state_name(r.state).to_owned(),
            capacity: r.capacity as u64,
            free: r.free as u64,
            used: r.used as u64,
            shards: shards as u64,
            last_seen: r.last_seen / 1000,
            capacity_cap: r.capacity_cap.map(|c| c.max(0) as u64),
            audits_passed: r.audits_passed.max(0) as u64,
            audit_failures: r.audit_failures.max(0) as u64,
            quarantined: r.quarantined.max(0) as u64,
            quarantined_bytes: r.quarantined_bytes.max(0) as u64,
        })
        .collect();
    Ok(Json(RemotesResponse { remotes }))
}

/// The health report behind `pyxis admin health` (`/metrics` reads cached
/// numbers instead: crate::metrics).
pub async fn health_report(state: &State) -> ApiResult<HealthResponse> {
    let remotes = state.db.all_remotes().await?;
    let online = remotes.iter().filter(|(r, _)| r.state == ONLINE).count() as u64;
    let mut chunks = Vec::new();
    let (mut at_risk, mut degraded) = (0u64, 0u64);
    for (healthy, total, n, bytes) in state.db.health_histogram().await? {
        let b = HealthBucket {
            healthy: healthy.max(0) as u64,
            total: total as u64,
            chunks: n as u64,
            bytes: bytes.max(0) as u64,
        };
        if b.healthy < b.total {
            degraded += b.chunks;
        }
        chunks.push(b);
    }
    // "At risk": the next loss would leave a chunk unreadable, or already has.
    // The histogram has no k, so recompute it from the degraded chunks.
    for c in state.db.degraded_chunks(1_000_000).await? {
        let rows = state.db.shard_health(c.user_id, &c.chunk_id).await?;
        let healthy = rows.iter().filter(|r| r.state == 1 && r.proof > 0 && r.remote_state == ONLINE).count() as i64;
        if healthy <= c.data_shards {
            at_risk += c.blob_len.max(0) as u64;
        }
    }
    let garbage = state.db.garbage(i64::MAX, i64::MAX).await?.len() as u64;
    Ok(HealthResponse {
        remotes_online: online,
        remotes_other: remotes.len() as u64 - online,
        chunks,
        bytes_at_risk: at_risk,
        degraded,
        garbage,
        workers: state.stats.snapshot(),
        quarantined: remotes.iter().map(|(r, _)| r.quarantined.max(0) as u64).sum(),
        quarantined_bytes: remotes.iter().map(|(r, _)| r.quarantined_bytes.max(0) as u64).sum(),
        restored_from: state.restored_from,
    })
}

#[utoipa::path(get, path = "/v1/admin/health", responses((status = 200, body = HealthResponse)), tag = "admin")]
pub async fn health(StateX(state): StateX<State>, _: Admin) -> ApiResult<Json<HealthResponse>> {
    Ok(Json(health_report(&state).await?))
}

/// Marks a remote as draining: no new shards go there, and the repair worker
/// moves its shards elsewhere; it is `drained` when it holds nothing needed.
#[utoipa::path(post, path = "/v1/admin/drain", request_body = RemoteRequest, responses((status = 204)), tag = "admin")]
pub async fn drain(StateX(state): StateX<State>, _: Admin, Body(req): Body<RemoteRequest>) -> ApiResult<StatusCode> {
    if state.db.set_remote_state(req.remote, DRAINING).await? {
        tracing::info!(remote = req.remote, "draining");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(ErrorCode::NoRemote, format!("no remote {}", req.remote)))
    }
}

/// A single-use token that admits one remote (`pyxis remote --token`), with
/// the most it may claim to offer and whether the operator vouches for it.
#[utoipa::path(post, path = "/v1/admin/remote-tokens", request_body = RemoteTokenRequest,
    responses((status = 200, body = RemoteTokenResponse)), tag = "admin")]
pub async fn remote_token(
    StateX(state): StateX<State>,
    _: Admin,
    Body(req): Body<RemoteTokenRequest>,
) -> ApiResult<Json<RemoteTokenResponse>> {
    const DAY: u64 = 24 * 3600;
    let ttl = req.ttl_secs.unwrap_or(DAY).clamp(60, 30 * DAY);
    let cap = req
        .capacity
        .map(|c| i64::try_from(c).map_err(|_| ApiError::bad_request(ErrorCode::BadCapacity, "capacity too large")))
        .transpose()?;
    let (token, expires_ms) = state
        .mint_admission_token(Admission { capacity_cap: cap, vetted: req.vetted }, Duration::from_secs(ttl))
        .await?;
    tracing::info!(vetted = req.vetted, cap = ?cap, ttl_secs = ttl, "remote admission token issued");
    Ok(Json(RemoteTokenResponse { token, expires_at: expires_ms / 1000, capacity: req.capacity, vetted: req.vetted }))
}

/// Ends a remote's admission: its key is refused from now on, it gets no
/// placements and no new grants (those it holds expire within the grant
/// lifetime), and repair rebuilds its shards elsewhere. Nothing is deleted
/// from it: the server no longer talks to it at all.
#[utoipa::path(post, path = "/v1/admin/revoke", request_body = RemoteRequest, responses((status = 204)), tag = "admin")]
pub async fn revoke(StateX(state): StateX<State>, _: Admin, Body(req): Body<RemoteRequest>) -> ApiResult<StatusCode> {
    if state.db.set_remote_state(req.remote, REVOKED).await? {
        tracing::warn!(remote = req.remote, "admission revoked; its shards will be rebuilt elsewhere");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(ErrorCode::NoRemote, format!("no remote {}", req.remote)))
    }
}

/// The operator vouches for a remote admitted unvetted.
#[utoipa::path(post, path = "/v1/admin/vet", request_body = RemoteRequest, responses((status = 204)), tag = "admin")]
pub async fn vet(StateX(state): StateX<State>, _: Admin, Body(req): Body<RemoteRequest>) -> ApiResult<StatusCode> {
    if state.db.set_vetted(req.remote).await? {
        tracing::info!(remote = req.remote, "vetted by the operator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(ErrorCode::NoRemote, format!("no remote {}", req.remote)))
    }
}

/// Releases a remote's quarantine: shards it keeps aside because this
/// catalog has no record of them may go, once the remote has kept them its
/// minimum time and the server still does not know them.
#[utoipa::path(post, path = "/v1/admin/quarantine/release", request_body = RemoteRequest, responses((status = 204)), tag = "admin")]
pub async fn release_quarantine(
    StateX(state): StateX<State>,
    _: Admin,
    Body(req): Body<RemoteRequest>,
) -> ApiResult<StatusCode> {
    if state.db.release_quarantine(req.remote).await? {
        tracing::warn!(remote = req.remote, "quarantine released by the operator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(ErrorCode::NoRemote, format!("no remote {}", req.remote)))
    }
}

/// `/metrics` on the main listener: behind the admin token (the numbers say
/// how big the network is; `--metrics-listen` serves them without a token
/// where only Prometheus reaches). A scrape costs no query (crate::metrics).
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "application/openmetrics-text")), tag = "admin")]
pub async fn metrics(StateX(state): StateX<State>, _: Admin) -> axum::response::Response {
    pyxis_net::metrics::answer(&state.metrics.registry)
}
