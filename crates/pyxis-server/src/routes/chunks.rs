//! Chunks: what is missing, where to upload (with put grants), where shards
//! live (with get grants).

use std::collections::HashSet;

use axum::Json;
use axum::extract::State as StateX;
use pyxis_proto::api::chunks::{
    ChunkLocation, LocateRequest, LocateResponse, MissingRequest, MissingResponse, NetworkResponse, PlaceRequest,
    PlaceResponse, Placement, ReplaceRequest, ShardTarget, StoredRequest,
};
use pyxis_proto::format::shard::MAX_BLOB;
use pyxis_proto::grant::GrantOp;
use pyxis_proto::{Scheme, ShardHash};

use super::extract::Body;
use crate::State;
use crate::auth::AuthUser;
use crate::db::chunks::{NewChunk, PlaceError, STORED};
use crate::db::remotes::ONLINE;
use crate::error::{ApiError, ApiResult};
use crate::placement::{choose, shard_len};

/// The most chunks one request may name (keeps a request's transaction short).
const MAX_BATCH: usize = 1024;

fn check_batch(n: usize) -> ApiResult<()> {
    if n > MAX_BATCH {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!("{n} chunks in one request; the limit is {MAX_BATCH}"),
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/network", responses((status = 200, body = NetworkResponse)), tag = "chunks")]
pub async fn network(StateX(state): StateX<State>, _user: AuthUser) -> ApiResult<Json<NetworkResponse>> {
    let online = state.db.online_remotes().await?.len();
    let choice =
        state.opts.policy.choose(online).map_err(|e| ApiError::unavailable("not_enough_remotes", e.to_string()))?;
    Ok(Json(NetworkResponse { online_remotes: online as u64, scheme: choice.scheme, reduced: choice.reduced }))
}

#[utoipa::path(post, path = "/v1/chunks/missing", request_body = MissingRequest,
    responses((status = 200, body = MissingResponse)), tag = "chunks")]
pub async fn missing(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<MissingRequest>,
) -> ApiResult<Json<MissingResponse>> {
    check_batch(req.ids.len())?;
    Ok(Json(MissingResponse { missing: state.db.missing_chunks(user.id, &req.ids).await? }))
}

#[utoipa::path(post, path = "/v1/chunks/place", request_body = PlaceRequest,
    responses((status = 200, body = PlaceResponse), (status = 413, body = pyxis_proto::api::ErrorBody),
              (status = 503, body = pyxis_proto::api::ErrorBody)), tag = "chunks")]
pub async fn place(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<PlaceRequest>,
) -> ApiResult<Json<PlaceResponse>> {
    check_batch(req.chunks.len())?;
    let remotes = state.db.online_remotes().await?;
    let mut seen = HashSet::new();
    let mut new = Vec::with_capacity(req.chunks.len());
    for c in &req.chunks {
        if !seen.insert(c.id) {
            continue;
        }
        if c.shards.len() != c.scheme.total() {
            return Err(ApiError::bad_request(
                "bad_chunk",
                format!(
                    "chunk {}: scheme {} has {} shards, {} hashes given",
                    c.id,
                    c.scheme,
                    c.scheme.total(),
                    c.shards.len()
                ),
            ));
        }
        if (c.blob_len as usize) < 44 || c.blob_len as usize > MAX_BLOB {
            return Err(ApiError::bad_request(
                "bad_chunk",
                format!("chunk {}: blob length {} is impossible", c.id, c.blob_len),
            ));
        }
        let chosen = choose(&c.id, &remotes, c.scheme.total(), shard_len(c.blob_len, c.scheme), &[])?;
        let shards = chosen.iter().zip(&c.shards).enumerate().map(|(i, (r, h))| (i as i64, *h, r.id)).collect();
        new.push((
            NewChunk {
                id: c.id,
                data: c.scheme.data() as i64,
                parity: c.scheme.parity() as i64,
                blob_len: c.blob_len.into(),
                shards,
            },
            c.scheme,
        ));
    }
    let expires = state.reservation_ends();
    let rows: Vec<NewChunk> = new.iter().map(|(n, _)| n.clone()).collect();
    let exists = state.db.place(user.id, &rows, expires).await.map_err(|e| match e {
        PlaceError::Quota { .. } => {
            ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded", e.to_string())
        }
        PlaceError::Db(e) => e.into(),
    })?;
    let mut reduced = false;
    let chunks = new
        .iter()
        .zip(exists)
        .map(|((n, scheme), exists)| {
            reduced |= scheme.parity() < 2;
            let size = shard_len(n.blob_len as u32, *scheme);
            let targets = if exists {
                vec![]
            } else {
                n.shards.iter().map(|(i, h, r)| upload_target(&state, &remotes, *i as u8, *h, *r, size)).collect()
            };
            Placement { id: n.id, exists, targets }
        })
        .collect();
    Ok(Json(PlaceResponse { chunks, reduced }))
}

/// Where a client uploads one shard, with its grant.
fn upload_target(
    state: &State,
    remotes: &[crate::db::remotes::RemoteRow],
    index: u8,
    hash: ShardHash,
    remote: i64,
    size: u32,
) -> ShardTarget {
    let url = remotes.iter().find(|r| r.id == remote).map(|r| r.url.clone()).unwrap_or_default();
    ShardTarget { index, hash, remote_id: remote, url, grant: state.upload_grant(remote, hash, size) }
}

#[utoipa::path(post, path = "/v1/chunks/replace", request_body = ReplaceRequest,
    responses((status = 200, body = ShardTarget)), tag = "chunks")]
pub async fn replace(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<ReplaceRequest>,
) -> ApiResult<Json<ShardTarget>> {
    let chunk = state
        .db
        .chunk(user.id, &req.id)
        .await?
        .ok_or_else(|| ApiError::not_found("no_chunk", format!("chunk {} was never placed", req.id)))?;
    let scheme = Scheme::new(chunk.data_shards as usize, chunk.parity_shards as usize).map_err(ApiError::internal)?;
    let shards = state.db.chunk_shards(user.id, &req.id).await?;
    let shard = shards
        .iter()
        .find(|s| s.idx == i64::from(req.index))
        .ok_or_else(|| ApiError::not_found("no_shard", format!("chunk {} has no shard {}", req.id, req.index)))?;
    let hash = ShardHash::from_slice(&shard.hash).ok_or_else(|| ApiError::internal("bad shard hash in catalog"))?;
    let mut exclude: Vec<i64> = req.failed.clone();
    exclude.extend(shards.iter().filter(|s| s.idx != shard.idx).map(|s| s.remote_id));
    let remotes = state.db.online_remotes().await?;
    let size = shard_len(chunk.blob_len as u32, scheme);
    let chosen = choose(&req.id, &remotes, 1, size, &exclude)?;
    let remote = chosen[0];
    // The new upload gets a fresh grant, so the reservation is renewed with it.
    state.db.move_shard(user.id, &req.id, shard.idx, remote.id, state.reservation_ends()).await?;
    tracing::debug!(chunk = %req.id, index = req.index, from = shard.remote_id, to = remote.id, "shard re-placed");
    Ok(Json(upload_target(&state, &remotes, req.index, hash, remote.id, size)))
}

#[utoipa::path(post, path = "/v1/chunks/stored", request_body = StoredRequest, responses((status = 204)), tag = "chunks")]
pub async fn stored(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<StoredRequest>,
) -> ApiResult<axum::http::StatusCode> {
    check_batch(req.ids.len())?;
    state.db.mark_stored(user.id, &req.ids).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A put failed: chunks it placed that no version uses are dropped and their
/// quota returned (their shards are collected from the remotes later).
#[utoipa::path(post, path = "/v1/chunks/abandon", request_body = StoredRequest, responses((status = 204)), tag = "chunks")]
pub async fn abandon(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<StoredRequest>,
) -> ApiResult<axum::http::StatusCode> {
    check_batch(req.ids.len())?;
    let freed = state.db.abandon(user.id, &req.ids).await?;
    tracing::debug!(user = user.id, freed, "abandoned chunks of a failed put");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/chunks/locate", request_body = LocateRequest,
    responses((status = 200, body = LocateResponse)), tag = "chunks")]
pub async fn locate(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<LocateRequest>,
) -> ApiResult<Json<LocateResponse>> {
    check_batch(req.ids.len())?;
    let mut chunks = Vec::with_capacity(req.ids.len());
    let mut seen = HashSet::new();
    for id in req.ids.iter().filter(|id| seen.insert(**id)) {
        let row = state
            .db
            .chunk(user.id, id)
            .await?
            .filter(|c| c.state == STORED)
            .ok_or_else(|| ApiError::not_found("no_chunk", format!("chunk {id} is not stored for this user")))?;
        let scheme = Scheme::new(row.data_shards as usize, row.parity_shards as usize).map_err(ApiError::internal)?;
        let size = shard_len(row.blob_len as u32, scheme);
        let mut shards: Vec<ShardTarget> = state
            .db
            .chunk_shards(user.id, id)
            .await?
            .into_iter()
            .filter(|s| s.remote_state == ONLINE && s.state == 1)
            .filter_map(|s| {
                let hash = ShardHash::from_slice(&s.hash)?;
                Some(ShardTarget {
                    index: s.idx as u8,
                    hash,
                    remote_id: s.remote_id,
                    url: s.url,
                    grant: state.grant(GrantOp::Get, s.remote_id, hash, size),
                })
            })
            .collect();
        // Data shards first: with all k of them no Reed-Solomon decode is needed.
        shards.sort_by_key(|s| s.index);
        chunks.push(ChunkLocation { id: *id, scheme, blob_len: row.blob_len as u32, shards });
    }
    let expires_at = pyxis_core::grants::unix_now() + state.opts.grant_ttl.as_secs();
    Ok(Json(LocateResponse { chunks, expires_at }))
}
