//! Remotes joining the network and staying alive. Every call is signed by the
//! remote's key (`auth::SignedByRemote`): the key is who the remote is, so a
//! remote that comes back at another URL, or under another name, is the same
//! remote, and one the server does not know must be admitted first.

use axum::Json;
use axum::extract::{Path, State as StateX};
use axum::http::StatusCode;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::remote::{
    HeartbeatRequest, HeartbeatResponse, InventoryRequest, InventoryResponse, RegisterRequest, RegisterResponse,
    ReportRequest,
};
use pyxis_proto::hex;

use crate::State;
use crate::auth::SignedByRemote;
use crate::db::remotes::{Admission, AdmitError, REVOKED, RemoteRow, RemoteSpace};
use crate::error::{ApiError, ApiResult};
use crate::tokens::{same_hash, token_hash};

/// The most hashes one inventory batch may carry.
pub const MAX_INVENTORY_BATCH: usize = pyxis_proto::api::max::HASHES;

fn check_url(url: &str) -> ApiResult<()> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.contains(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(ErrorCode::BadUrl, format!("remote URL {url:?} is not an http(s) URL")))
    }
}

fn revoked(id: i64) -> ApiError {
    ApiError::forbidden(
        ErrorCode::Revoked,
        format!("the operator revoked remote {id}'s admission; its key is not accepted any more"),
    )
}

fn response(state: &State, id: i64, admission: Admission) -> RegisterResponse {
    RegisterResponse {
        remote_id: id,
        grant_public_key: hex::encode(&state.signer.public_key()),
        heartbeat_secs: state.opts.heartbeat.as_secs().max(1),
        vetted: admission.vetted,
        capacity_cap: admission.capacity_cap.map(|c| c.max(0) as u64),
        rotations: state.rotations.clone(),
    }
}

/// A remote joins, or comes back. Known key: the same remote, whatever URL
/// it gives now. Unknown key: a remote of an earlier release binding its key
/// with its old id and token, or a new remote with an admission token (or,
/// if the operator turned it on, open admission, unvetted and capped).
#[utoipa::path(post, path = "/v1/remotes/register", request_body = RegisterRequest,
    responses((status = 200, body = RegisterResponse), (status = 401, body = pyxis_proto::api::ErrorBody),
              (status = 403, body = pyxis_proto::api::ErrorBody)), tag = "remotes")]
pub async fn register(
    StateX(state): StateX<State>,
    call: SignedByRemote<RegisterRequest>,
) -> ApiResult<Json<RegisterResponse>> {
    let (key, req) = (call.key, call.body);
    check_url(&req.url)?;
    if req.name.is_empty() || req.name.len() > 255 {
        return Err(ApiError::bad_request(ErrorCode::BadName, "remote name must be 1 to 255 bytes"));
    }
    let reported = (req.capacity, req.free, req.capacity.saturating_sub(req.free));
    if let Some(r) = state.db.remote_by_key(&key).await? {
        return rejoin(&state, &r, &req.url, reported).await.map(Json);
    }
    if let Some(legacy) = &req.legacy
        && let Some(r) = state.db.remote(legacy.remote_id).await?
        && r.public_key.is_none()
        && !r.token_hash.is_empty()
        && same_hash(&r.token_hash, &token_hash(&legacy.token))
        && state.db.bind_key(r.id, &key).await?
    {
        tracing::info!(remote = r.id, key = %hex::encode(&key), "a remote of an earlier release now speaks with its key");
        return rejoin(&state, &r, &req.url, reported).await.map(Json);
    }
    let (id, admission) = if let Some(token) = &req.admission_token {
        match state.db.admit_with_token(&token_hash(token), &key, &req.name, &req.url, reported).await {
            Ok(v) => v,
            Err(AdmitError::BadToken) => {
                return Err(ApiError::unauthorized(ErrorCode::BadAdmissionToken, AdmitError::BadToken.to_string()));
            }
            Err(AdmitError::Db(e)) => return Err(e.into()),
        }
    } else if let Some(open) = &state.opts.open_admission {
        let admission = Admission { capacity_cap: Some(open.capacity_cap.min(i64::MAX as u64) as i64), vetted: false };
        let space = RemoteSpace::capped(reported.0, reported.1, reported.2, admission.capacity_cap);
        (state.db.insert_remote(&key, &req.name, &req.url, space, admission).await?, admission)
    } else {
        tracing::warn!(key = %hex::encode(&key), url = %req.url, "an unknown remote tried to join without an admission token");
        return Err(ApiError::unauthorized(
            ErrorCode::NotAdmitted,
            "this server does not know this remote's key: ask its operator for a token \
             (`pyxis admin remote-token`) and start the remote with --token",
        ));
    };
    tracing::info!(remote = id, name = %req.name, url = %req.url, vetted = admission.vetted,
        cap = ?admission.capacity_cap, "remote admitted");
    Ok(Json(response(&state, id, admission)))
}

/// A known remote registering again: it may have moved.
async fn rejoin(state: &State, r: &RemoteRow, url: &str, reported: (u64, u64, u64)) -> ApiResult<RegisterResponse> {
    if r.state == REVOKED {
        return Err(revoked(r.id));
    }
    let space = RemoteSpace::capped(reported.0, reported.1, reported.2, r.capacity_cap);
    state.db.remote_seen(r.id, url, space).await?;
    if r.url != url {
        tracing::info!(remote = r.id, old = %r.url, new = %url, "remote moved");
    }
    Ok(response(state, r.id, Admission { capacity_cap: r.capacity_cap, vetted: r.is_vetted() }))
}

/// The remote `id`, if the call was signed by its key.
async fn caller(state: &State, id: i64, key: &[u8; 32]) -> ApiResult<RemoteRow> {
    let r = state.db.remote(id).await?.filter(|r| r.key().is_some_and(|k| same_hash(&k, key))).ok_or_else(|| {
        ApiError::unauthorized(ErrorCode::UnknownRemote, format!("remote {id} does not have this key: register again"))
    })?;
    if r.state == REVOKED {
        return Err(revoked(id));
    }
    Ok(r)
}

#[utoipa::path(post, path = "/v1/remotes/{id}/heartbeat", request_body = HeartbeatRequest,
    params(("id" = i64, Path, description = "remote id")),
    responses((status = 200, body = HeartbeatResponse), (status = 401, body = pyxis_proto::api::ErrorBody)), tag = "remotes")]
pub async fn heartbeat(
    StateX(state): StateX<State>,
    Path(id): Path<i64>,
    call: SignedByRemote<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let r = caller(&state, id, &call.key).await?;
    let req = call.body;
    check_url(&req.url)?;
    state.db.remote_seen(id, &req.url, RemoteSpace::capped(req.capacity, req.free, req.used, r.capacity_cap)).await?;
    if (req.quarantined, req.quarantined_bytes) != (r.quarantined as u64, r.quarantined_bytes as u64) {
        state.db.set_quarantine(id, req.quarantined, req.quarantined_bytes).await?;
    }
    Ok(Json(HeartbeatResponse {
        grant_public_key: hex::encode(&state.signer.public_key()),
        rotations: state.rotations.clone(),
        release_quarantine_before: r.quarantine_release,
    }))
}

/// Shards the remote's scrubber found corrupt and dropped: mark them lost, so
/// the repair worker rebuilds them elsewhere.
#[utoipa::path(post, path = "/v1/remotes/{id}/report", request_body = ReportRequest,
    params(("id" = i64, Path, description = "remote id")), responses((status = 204)), tag = "remotes")]
pub async fn report(
    StateX(state): StateX<State>,
    Path(id): Path<i64>,
    call: SignedByRemote<ReportRequest>,
) -> ApiResult<StatusCode> {
    caller(&state, id, &call.key).await?;
    let n = state.db.mark_shards_lost(id, &call.body.corrupt).await?;
    if n > 0 {
        tracing::warn!(remote = id, shards = n, "remote reported corrupt shards");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A batch of a remote's inventory: the answer says which shards the catalog
/// recorded as collected there (the remote may delete them) and which it has
/// no record of (the remote keeps them aside); the rest are wanted, some of
/// them re-adopted just now.
#[utoipa::path(post, path = "/v1/remotes/{id}/inventory", request_body = InventoryRequest,
    params(("id" = i64, Path, description = "remote id")), responses((status = 200, body = InventoryResponse)), tag = "remotes")]
pub async fn inventory(
    StateX(state): StateX<State>,
    Path(id): Path<i64>,
    call: SignedByRemote<InventoryRequest>,
) -> ApiResult<Json<InventoryResponse>> {
    caller(&state, id, &call.key).await?;
    let hashes = call.body.hashes;
    if hashes.len() > MAX_INVENTORY_BATCH {
        return Err(ApiError::bad_request(
            ErrorCode::BatchTooLarge,
            format!("at most {MAX_INVENTORY_BATCH} hashes per inventory batch"),
        ));
    }
    let inv = state.db.inventory(id, &hashes).await?;
    if inv.adopted > 0 {
        tracing::info!(remote = id, shards = inv.adopted, "re-adopted shards the catalog had lost track of");
    }
    if !inv.unknown.is_empty() {
        tracing::warn!(
            remote = id,
            shards = inv.unknown.len(),
            "the remote holds shards this catalog has no record of; it keeps them aside"
        );
    }
    Ok(Json(InventoryResponse { collected: inv.collected, unknown: inv.unknown, adopted: inv.adopted }))
}
