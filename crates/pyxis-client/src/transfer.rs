//! Shard transfers between the client and remotes: raw bytes over HTTP with a
//! grant header. Every connection goes through one shared, keep-alive pool
//! that follows no redirect, and every answer is read no further than an
//! honest one can be (a shard is as long as its grant says).

use bytes::Bytes;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::chunks::ShardTarget;
use pyxis_proto::grant;

/// Why a shard transfer failed. All of them are reasons to try another
/// remote; none is fatal for the file on its own.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("remote {remote} unreachable: {why}")]
    Unreachable { remote: i64, why: String },
    #[error("remote {remote} refused ({status} {code}): {message}")]
    Refused { remote: i64, status: u16, code: ErrorCode, message: String },
    #[error("remote {remote} stored the shard without a receipt (a remote of an older release?)")]
    NoReceipt { remote: i64 },
}

impl ShardError {
    /// The remote said "not here" or "corrupt", or failed: another shard will do.
    pub fn remote(&self) -> i64 {
        match self {
            ShardError::Unreachable { remote, .. }
            | ShardError::Refused { remote, .. }
            | ShardError::NoReceipt { remote } => *remote,
        }
    }

    /// The grant was refused (expired, or for a remote that lost its identity):
    /// fresh locations may fix it.
    pub fn is_auth(&self) -> bool {
        matches!(self, ShardError::Refused { status: 401 | 403, .. })
    }
}

/// The slowest rate a transfer may keep up: a remote trickling below it (a
/// byte a second keeps a connection's silence short) is given up on. A
/// 5 Mbit/s home uplink sends 600 KiB/s.
const MIN_RATE: u64 = 64 << 10;

/// How long moving `len` bytes may take in all: the silence allowed, plus
/// `len` at the slowest rate.
fn deadline(len: usize) -> std::time::Duration {
    crate::api::SHARD_STALL + std::time::Duration::from_millis(len as u64 * 1000 / MIN_RATE)
}

fn shard_url(t: &ShardTarget) -> String {
    format!("{}/v1/shards/{}", t.url.trim_end_matches('/'), t.hash)
}

async fn refused(remote: i64, resp: reqwest::Response) -> ShardError {
    match crate::api::api_error(resp).await {
        crate::ClientError::Api { status, code, message } => ShardError::Refused { remote, status, code, message },
        other => ShardError::Unreachable { remote, why: other.to_string() },
    }
}

/// PUTs a shard; returns the receipt the remote signed for it (the server
/// counts the shard only with it).
pub async fn put_shard(http: &reqwest::Client, t: &ShardTarget, bytes: Bytes) -> Result<String, ShardError> {
    let unreachable = |e: reqwest::Error| ShardError::Unreachable { remote: t.remote_id, why: e.to_string() };
    let resp = http
        .put(shard_url(t))
        .timeout(deadline(bytes.len()))
        .header(grant::HEADER, &t.grant)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(refused(t.remote_id, resp).await);
    }
    let receipt = resp.headers().get(pyxis_proto::receipt::HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    receipt.ok_or(ShardError::NoReceipt { remote: t.remote_id })
}

/// Fetches a shard's bytes, at most `max_len` of them; the caller verifies
/// them against the hash.
pub async fn get_shard(http: &reqwest::Client, t: &ShardTarget, max_len: usize) -> Result<Bytes, ShardError> {
    let unreachable = |e: reqwest::Error| ShardError::Unreachable { remote: t.remote_id, why: e.to_string() };
    let resp = http
        .get(shard_url(t))
        .timeout(deadline(max_len))
        .header(grant::HEADER, &t.grant)
        .send()
        .await
        .map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(refused(t.remote_id, resp).await);
    }
    pyxis_net::read_capped(resp, max_len)
        .await
        .map_err(|e| ShardError::Unreachable { remote: t.remote_id, why: e.to_string() })
}
