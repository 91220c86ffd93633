//! The remote's HTTP API: shards in and out under server-signed grants.
//!
//! | route | grant | success |
//! |---|---|---|
//! | `PUT /v1/shards/{hash}` (body: the shard) | put, exactly the granted size | 201 stored, 200 already here; both with a signed receipt in `X-Pyxis-Receipt` |
//! | `GET /v1/shards/{hash}` | get | 200 with the bytes |
//! | `DELETE /v1/shards/{hash}` | delete | 204 (also when absent) |
//! | `GET /v1/status` | none | 200 `RemoteStatus` |
//!
//! Errors are JSON `ErrorBody { code, message }`: `bad_hash` (400),
//! `hash_mismatch` (400), `grant_missing` / `grant_malformed` /
//! `grant_bad_signature` / `grant_expired` (401), `grant_wrong_op` /
//! `grant_wrong_remote` / `grant_wrong_shard` / `grant_too_small` (403),
//! `not_found` and `corrupt` (404), `too_large` (413), `full` (507),
//! `not_registered` and `shutting_down` (503), `storage` (500).
//!
//! The grant is checked from the headers before the body is read, so an
//! unauthorised client cannot make the remote buffer an upload.

mod error;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use bytes::Bytes;
use pyxis_crypto::grants::{self, GrantError};
use pyxis_crypto::identity::RemoteKey;
use pyxis_proto::ShardHash;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::remote::RemoteStatus;
use pyxis_proto::grant::{self as wire, Grant, GrantOp};
use pyxis_proto::receipt::{self, Receipt};
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::identity::Registration;
use crate::store::{MAX_SHARD_LEN, PutOutcome, Store};

/// Bodies over this are refused with 413 before they are buffered: the largest
/// shard plus slack, so the store's own limit gives the precise error.
pub const MAX_BODY: usize = 17 << 20;
/// A request (upload included) must finish within this: generous for 16 MiB
/// on a slow link, but bounded so stalled clients do not pile up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub registration: Arc<Registration>,
    /// Signs the receipt of every stored shard.
    pub key: Arc<RemoteKey>,
    pub metrics: crate::metrics::RemoteMetrics,
}

pub fn router(state: AppState) -> Router {
    let http = state.metrics.http.clone();
    Router::new()
        .route("/v1/shards/{hash}", put(put_shard).get(get_shard).delete(delete_shard))
        .route("/v1/status", get(status))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NoRoute, "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(http, pyxis_net::metrics::HttpMetrics::track))
        .layer(axum::middleware::from_fn(pyxis_net::request_id::track))
        .with_state(state)
}

fn parse_hash(path: Result<Path<String>, PathRejection>) -> Result<ShardHash, ApiError> {
    let Path(raw) = path.map_err(|e| ApiError::bad_hash("", e.body_text()))?;
    raw.parse().map_err(|e| ApiError::bad_hash(&raw, e))
}

/// Verifies the grant header (signature, expiry) and what it allows. Returns
/// the grant and this remote's id for later checks.
fn authorize(
    app: &AppState,
    headers: &HeaderMap,
    op: GrantOp,
    hash: &ShardHash,
    size: Option<u64>,
) -> Result<(Grant, i64), ApiError> {
    let reg = app.registration.get().ok_or_else(ApiError::not_registered)?;
    let token = headers
        .get(wire::HEADER)
        .map(|v| v.to_str().map_err(|_| GrantError::Malformed("the header is not ASCII".into())))
        .transpose()?;
    let grant = reg.verifier.verify(token, grants::unix_now())?;
    grants::check(&grant, op, reg.remote_id, hash, size)?;
    Ok((grant, reg.remote_id))
}

async fn put_shard(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let hash = parse_hash(path)?;
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let (grant, remote_id) = authorize(&app, req.headers(), GrantOp::Put, &hash, declared)?;
    if declared.is_some_and(|n| n > u64::from(MAX_SHARD_LEN)) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            "the body is over the shard size limit",
        ));
    }
    let body = Bytes::from_request(req, &()).await.map_err(|r| {
        let code = if r.status() == StatusCode::PAYLOAD_TOO_LARGE { ErrorCode::TooLarge } else { ErrorCode::BadBody };
        ApiError::new(r.status(), code, r.body_text())
    })?;
    // Without a Content-Length only the bytes received tell the size.
    grants::check(&grant, GrantOp::Put, remote_id, &hash, Some(body.len() as u64))?;
    grants::check_put_len(&grant, body.len() as u64)?;
    let len = body.len() as u32;
    let status = match app.store.put(hash, body).await? {
        PutOutcome::Stored => {
            app.metrics.written.inc_by(u64::from(len));
            StatusCode::CREATED
        }
        PutOutcome::Existed => StatusCode::OK,
    };
    // Signed only once the shard is durable: the receipt is what the server
    // counts, and what an audit holds this remote to.
    let time_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let token = app.key.sign_receipt(&Receipt { remote: remote_id, shard: hash, len, time_ms });
    let value = HeaderValue::from_str(&token)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Storage, "receipt encoding"))?;
    Ok((status, [(receipt::HEADER, value)]).into_response())
}

async fn get_shard(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = parse_hash(path)?;
    authorize(&app, &headers, GrantOp::Get, &hash, None)?;
    let bytes = app.store.get(&hash).await?;
    app.metrics.read.inc_by(bytes.len() as u64);
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
        (CONTENT_LENGTH, HeaderValue::from(bytes.len())),
    ];
    Ok((headers, bytes).into_response())
}

async fn delete_shard(
    State(app): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let hash = parse_hash(path)?;
    authorize(&app, &headers, GrantOp::Delete, &hash, None)?;
    app.store.delete(&hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn status(State(app): State<AppState>) -> Json<RemoteStatus> {
    let s = app.store.stats();
    Json(RemoteStatus {
        remote_id: app.registration.get().map(|r| r.remote_id),
        public_key: pyxis_proto::hex::encode(&app.key.public_key()),
        capacity: s.capacity,
        used: s.used,
        free: s.free,
        shards: s.shards,
    })
}
