//! Chunks: what is missing, where to upload (with put grants), where shards
//! live (with get grants).

use std::collections::HashSet;

use axum::Json;
use axum::extract::State as StateX;
use pyxis_core::policy::{max_unvetted, success_threshold};
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::chunks::{
    AbandonRequest, ChunkLocation, LocateRequest, LocateResponse, MissingRequest, MissingResponse, NetworkResponse,
    PlaceRequest, PlaceResponse, Placement, ReplaceRequest, ShardTarget, StoredChunk, StoredRequest,
};
use pyxis_proto::format::shard::MAX_BLOB;
use pyxis_proto::grant::GrantOp;
use pyxis_proto::{Scheme, ShardHash};

use super::extract::Body;
use crate::State;
use crate::auth::AuthUser;
use crate::db::chunks::{NewChunk, PlaceError, STORED};
use crate::db::remotes::{ONLINE, RemoteRow};
use crate::error::{ApiError, ApiResult};
use crate::placement::{choose, scheme_now, shard_len};

/// The most chunks one request may name (keeps a request's transaction short).
const MAX_BATCH: usize = pyxis_proto::api::max::CHUNKS;

fn check_batch(n: usize) -> ApiResult<()> {
    if n > MAX_BATCH {
        return Err(ApiError::bad_request(
            ErrorCode::BatchTooLarge,
            format!("{n} chunks in one request; the limit is {MAX_BATCH}"),
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/network", responses((status = 200, body = NetworkResponse)), tag = "chunks")]
pub async fn network(StateX(state): StateX<State>, _user: AuthUser) -> ApiResult<Json<NetworkResponse>> {
    let remotes = state.db.online_remotes().await?;
    let choice = scheme_now(&state, &remotes)?;
    Ok(Json(NetworkResponse {
        online_remotes: remotes.len() as u64,
        scheme: choice.scheme,
        reduced: choice.reduced,
        threshold: success_threshold(choice.scheme) as u32,
    }))
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

/// Places a batch of encoded chunks: the server assigns the scheme (from
/// the policy and the remotes reachable now), checks the shard count and the
/// blob length against it, charges the quota, picks remotes (at most
/// `ceil(m/2)` of them unvetted) and signs a put grant for the exact length
/// of each shard.
#[utoipa::path(post, path = "/v1/chunks/place", request_body = PlaceRequest,
    responses((status = 200, body = PlaceResponse), (status = 409, body = pyxis_proto::api::ErrorBody),
              (status = 413, body = pyxis_proto::api::ErrorBody), (status = 503, body = pyxis_proto::api::ErrorBody)), tag = "chunks")]
pub async fn place(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<PlaceRequest>,
) -> ApiResult<Json<PlaceResponse>> {
    check_batch(req.chunks.len())?;
    let remotes = state.db.online_remotes().await?;
    let scheme = scheme_now(&state, &remotes)?.scheme;
    let mut seen = HashSet::new();
    let mut new = Vec::with_capacity(req.chunks.len());
    for c in &req.chunks {
        if !seen.insert(c.id) {
            continue;
        }
        if let Some(named) = &c.scheme {
            return Err(ApiError::bad_request(
                ErrorCode::SchemeNotAllowed,
                format!(
                    "chunk {}: the client named scheme {named:?}, but the server assigns schemes \
                     (this network's is {scheme} now): upgrade the client",
                    c.id
                ),
            ));
        }
        if c.shards.len() != scheme.total() {
            return Err(ApiError::conflict(
                ErrorCode::SchemeChanged,
                format!(
                    "chunk {}: {} shard hashes, but the network's scheme is {scheme} now ({} shards): \
                     ask /v1/network again and re-encode",
                    c.id,
                    c.shards.len(),
                    scheme.total()
                ),
            ));
        }
        if (c.blob_len as usize) < 44 || c.blob_len as usize > MAX_BLOB {
            return Err(ApiError::bad_request(
                ErrorCode::BadChunk,
                format!("chunk {}: blob length {} is impossible", c.id, c.blob_len),
            ));
        }
        let chosen = choose(&c.id, &remotes, scheme.total(), shard_len(c.blob_len, scheme), &[], max_unvetted(scheme))?;
        let shards = chosen.iter().zip(&c.shards).enumerate().map(|(i, (r, h))| (i as i64, *h, r.id)).collect();
        new.push(NewChunk {
            id: c.id,
            data: scheme.data() as i64,
            parity: scheme.parity() as i64,
            blob_len: c.blob_len.into(),
            shards,
        });
    }
    let expires = state.reservation_ends();
    let exists = state.db.place(user.id, &new, expires).await.map_err(|e| match e {
        PlaceError::Quota { .. } => {
            ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::QuotaExceeded, e.to_string())
        }
        PlaceError::Db(e) => e.into(),
    })?;
    let size = |n: &NewChunk| shard_len(n.blob_len as u32, scheme);
    let chunks = new
        .iter()
        .zip(exists)
        .map(|(n, exists)| {
            let targets = if exists {
                vec![]
            } else {
                n.shards.iter().map(|(i, h, r)| upload_target(&state, &remotes, *i as u8, *h, *r, size(n))).collect()
            };
            Placement { id: n.id, exists, targets }
        })
        .collect();
    Ok(Json(PlaceResponse { chunks, reduced: scheme.parity() < 2 }))
}

/// Where a client uploads one shard, with its grant.
fn upload_target(
    state: &State,
    remotes: &[RemoteRow],
    index: u8,
    hash: ShardHash,
    remote: i64,
    size: u32,
) -> ShardTarget {
    let url = remotes.iter().find(|r| r.id == remote).map(|r| r.url.clone()).unwrap_or_default();
    ShardTarget { index, hash, remote_id: remote, url, grant: state.upload_grant(remote, hash, size) }
}

/// A remote failed a client mid-upload: the server checks the remotes the
/// client names at once (and leaves those that do not answer out of
/// placement until they heartbeat again), then places the shard elsewhere.
#[utoipa::path(post, path = "/v1/chunks/replace", request_body = ReplaceRequest,
    responses((status = 200, body = ShardTarget), (status = 503, body = pyxis_proto::api::ErrorBody)), tag = "chunks")]
pub async fn replace(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<ReplaceRequest>,
) -> ApiResult<Json<ShardTarget>> {
    if req.failed.len() > 64 {
        return Err(ApiError::bad_request(ErrorCode::BatchTooLarge, "at most 64 failed remotes per replace"));
    }
    let chunk = state
        .db
        .chunk(user.id, &req.id)
        .await?
        .ok_or_else(|| ApiError::not_found(ErrorCode::NoChunk, format!("chunk {} was never placed", req.id)))?;
    let scheme = Scheme::new(chunk.data_shards as usize, chunk.parity_shards as usize).map_err(ApiError::internal)?;
    let shards = state.db.chunk_shards(user.id, &req.id).await?;
    let shard = shards.iter().find(|s| s.idx == i64::from(req.index)).ok_or_else(|| {
        ApiError::not_found(ErrorCode::NoShard, format!("chunk {} has no shard {}", req.id, req.index))
    })?;
    let hash = ShardHash::from_slice(&shard.hash).ok_or_else(|| ApiError::internal("bad shard hash in catalog"))?;
    for r in &req.failed {
        state.probe_reported(*r).await;
    }
    let others: Vec<&crate::db::chunks::ShardLoc> = shards.iter().filter(|s| s.idx != shard.idx).collect();
    let mut exclude: Vec<i64> = req.failed.clone();
    exclude.extend(others.iter().map(|s| s.remote_id));
    let unvetted_held = others.iter().filter(|s| s.vetted == 0).count();
    let remotes = state.db.online_remotes().await?;
    let size = shard_len(chunk.blob_len as u32, scheme);
    // At most ceil(m/2) shards of a chunk on unvetted remotes, counting
    // those its other shards already use.
    let cap = max_unvetted(scheme).saturating_sub(unvetted_held);
    let chosen = choose(&req.id, &remotes, 1, size, &exclude, cap)?[0].id;
    // The new upload gets a fresh grant, so the reservation is renewed with it.
    state.db.move_shard(user.id, &req.id, shard.idx, chosen, state.reservation_ends()).await?;
    tracing::debug!(chunk = %req.id, index = req.index, from = shard.remote_id, to = chosen, "shard re-placed");
    Ok(Json(upload_target(&state, &remotes, req.index, hash, chosen, size)))
}

#[utoipa::path(post, path = "/v1/chunks/stored", request_body = StoredRequest,
    responses((status = 204), (status = 400, body = pyxis_proto::api::ErrorBody),
              (status = 409, body = pyxis_proto::api::ErrorBody)), tag = "chunks")]
pub async fn stored(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<StoredRequest>,
) -> ApiResult<axum::http::StatusCode> {
    check_batch(req.chunks.len())?;
    let mut verified = Vec::with_capacity(req.chunks.len());
    for c in &req.chunks {
        verified.push(verify_receipts(&state, user.id, c).await?);
    }
    let batch: Vec<crate::db::chunks::Receipted> = req
        .chunks
        .iter()
        .zip(&verified)
        .map(|(c, (valid, need))| crate::db::chunks::Receipted { id: &c.id, shards: valid, threshold: *need })
        .collect();
    let have = state.db.record_receipts(user.id, &batch).await?;
    let mut short = Vec::new();
    for ((c, (_, need)), have) in req.chunks.iter().zip(&verified).zip(have) {
        if have < *need {
            short.push(format!("chunk {}: {have} of the {need} shards needed have receipts", c.id));
        }
    }
    if let Some(first) = short.first() {
        return Err(ApiError::conflict(
            ErrorCode::NotEnoughReceipts,
            format!("{} chunks are not stored yet; {first}", short.len()),
        ));
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Verifies one chunk's receipts. Returns the (index, remote) of each valid
/// one and how many receipted shards the chunk needs.
async fn verify_receipts(state: &State, user: i64, c: &StoredChunk) -> ApiResult<(Vec<(i64, i64)>, i64)> {
    let row = state
        .db
        .chunk(user, &c.id)
        .await?
        .ok_or_else(|| ApiError::not_found(ErrorCode::NoChunk, format!("chunk {} was never placed", c.id)))?;
    let scheme = Scheme::new(row.data_shards as usize, row.parity_shards as usize).map_err(ApiError::internal)?;
    if c.receipts.len() > scheme.total() {
        return Err(ApiError::bad_request(ErrorCode::BadReceipt, format!("chunk {}: more receipts than shards", c.id)));
    }
    let len = shard_len(row.blob_len as u32, scheme);
    let shards = state.db.chunk_shards(user, &c.id).await?;
    let mut valid = Vec::with_capacity(c.receipts.len());
    for r in &c.receipts {
        let bad = |why: String| {
            ApiError::bad_request(ErrorCode::BadReceipt, format!("chunk {} shard {}: {why}", c.id, r.index))
        };
        let s = shards.iter().find(|s| s.idx == i64::from(r.index)).ok_or_else(|| bad("no such shard".into()))?;
        let key: [u8; 32] = s
            .public_key
            .as_deref()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| bad(format!("remote {} has no identity key", s.remote_id)))?;
        let got = pyxis_crypto::identity::verify_receipt(&key, &r.receipt).map_err(|e| bad(e.to_string()))?;
        if got.remote != s.remote_id || got.shard.0[..] != s.hash[..] || got.len != len {
            return Err(bad(format!(
                "the receipt is for shard {} ({} bytes) on remote {}, not this shard ({len} bytes) on remote {}",
                got.shard, got.len, got.remote, s.remote_id
            )));
        }
        valid.push((s.idx, s.remote_id));
    }
    Ok((valid, success_threshold(scheme) as i64))
}

/// A put failed: chunks it placed that no version uses are dropped and their
/// quota returned (their shards are collected from the remotes later).
#[utoipa::path(post, path = "/v1/chunks/abandon", request_body = AbandonRequest, responses((status = 204)), tag = "chunks")]
pub async fn abandon(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<AbandonRequest>,
) -> ApiResult<axum::http::StatusCode> {
    check_batch(req.ids.len())?;
    let freed = state.db.abandon(user.id, &req.ids).await?;
    tracing::debug!(user = user.id, freed, "abandoned chunks of a failed put");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/chunks/locate", params(pyxis_proto::api::shares::ShareParam), request_body = LocateRequest,
    responses((status = 200, body = LocateResponse)), tag = "chunks")]
pub async fn locate(
    StateX(state): StateX<State>,
    tree: crate::acl::Tree,
    Body(req): Body<LocateRequest>,
) -> ApiResult<Json<LocateResponse>> {
    check_batch(req.ids.len())?;
    // Whose chunks: the tree owner's, or a writer's (`of`) that the tree's
    // versions use. Through a share, or of another user, only chunks that
    // versions the caller may read use.
    let of = match &req.of {
        None => tree.owner,
        Some(name) => {
            let none = || ApiError::not_found(ErrorCode::NoChunk, format!("no chunks of {name:?} in what you read"));
            state.db.user_by_name(name).await?.ok_or_else(none)?.id
        }
    };
    let shared = if tree.share.is_some() || of != tree.owner {
        Some(state.db.referenced_chunks(tree.owner, tree.share.as_ref(), of, &req.ids).await?)
    } else {
        None
    };
    let mut chunks = Vec::with_capacity(req.ids.len());
    let mut seen = HashSet::new();
    for id in req.ids.iter().filter(|id| seen.insert(**id)) {
        if shared.as_ref().is_some_and(|ok| !ok.contains(id)) {
            return Err(ApiError::not_found(
                ErrorCode::NoChunk,
                format!("chunk {id} is not in what is shared with you"),
            ));
        }
        let row = state.db.chunk(of, id).await?.filter(|c| c.state == STORED).ok_or_else(|| {
            ApiError::not_found(ErrorCode::NoChunk, format!("chunk {id} is not stored for this user"))
        })?;
        let scheme = Scheme::new(row.data_shards as usize, row.parity_shards as usize).map_err(ApiError::internal)?;
        let size = shard_len(row.blob_len as u32, scheme);
        let mut shards: Vec<ShardTarget> = state
            .db
            .chunk_shards(of, id)
            .await?
            .into_iter()
            .filter(|s| s.remote_state == ONLINE && s.state == 1 && s.proof > 0)
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
    let expires_at = pyxis_crypto::grants::unix_now() + state.opts.grant_ttl.as_secs();
    Ok(Json(LocateResponse { chunks, expires_at }))
}
