//! Operator routes, behind the admin token.

use axum::Json;
use axum::extract::State as StateX;
use axum::http::StatusCode;
use pyxis_proto::api::admin::{HealthBucket, HealthResponse, QuotaRequest, RemoteInfo, RemoteRequest, RemotesResponse};

use super::extract::Body;
use crate::State;
use crate::auth::Admin;
use crate::db::remotes::{DRAINING, ONLINE, state_name};
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

/// The health report behind `pyxis admin health` and `/metrics`.
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
        let healthy = rows.iter().filter(|r| r.state == 1 && r.remote_state == ONLINE).count() as i64;
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
        Err(ApiError::not_found("no_remote", format!("no remote {}", req.remote)))
    }
}

/// Prometheus text exposition of the health numbers and worker counters.
pub async fn metrics(StateX(state): StateX<State>) -> ApiResult<String> {
    use std::fmt::Write;
    let h = health_report(&state).await?;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    };
    gauge("pyxis_remotes_online", "Remotes online.", h.remotes_online);
    gauge("pyxis_remotes_not_online", "Remotes offline, suspect, draining or drained.", h.remotes_other);
    gauge("pyxis_bytes_at_risk", "Bytes of chunks with at most k healthy shards.", h.bytes_at_risk);
    gauge("pyxis_chunks_degraded", "Chunks missing at least one healthy shard.", h.degraded);
    gauge("pyxis_garbage_shards", "Shards waiting to be deleted from remotes.", h.garbage);
    let _ = writeln!(out, "# HELP pyxis_chunks Chunks by healthy and total shards.\n# TYPE pyxis_chunks gauge");
    for b in &h.chunks {
        let _ = writeln!(out, "pyxis_chunks{{healthy=\"{}\",total=\"{}\"}} {}", b.healthy, b.total, b.chunks);
    }
    let w = &h.workers;
    for (name, v) in [
        ("pyxis_chunks_repaired_total", w.chunks_repaired),
        ("pyxis_shards_rebuilt_total", w.shards_rebuilt),
        ("pyxis_repair_bytes_total", w.repair_bytes),
        ("pyxis_chunks_reencoded_total", w.chunks_reencoded),
        ("pyxis_repairs_unrecoverable_total", w.unrecoverable),
        ("pyxis_audits_passed_total", w.audits_passed),
        ("pyxis_audits_failed_total", w.audits_failed),
        ("pyxis_chunks_expired_total", w.chunks_expired),
        ("pyxis_garbage_deleted_total", w.garbage_deleted),
    ] {
        let _ = writeln!(out, "# TYPE {name} counter\n{name} {v}");
    }
    Ok(out)
}
