//! The server's own shard traffic: fetch, store and delete shards on remotes
//! under grants it signs for itself. Every answer is read only up to the size
//! it should have (a shard, or a short error), and a store counts only with
//! a valid receipt signed by the remote's key.

use bytes::Bytes;
use pyxis_proto::ShardHash;
use pyxis_proto::grant::{self, GrantOp};

use crate::AppState;
use crate::db::remotes::RemoteRow;

fn url(base: &str, hash: &ShardHash) -> String {
    format!("{}/v1/shards/{hash}", base.trim_end_matches('/'))
}

/// Why a shard operation failed: the remote's answer, or none.
#[derive(Debug, thiserror::Error)]
pub enum ShardOpError {
    #[error("remote {0} unreachable: {1}")]
    Unreachable(i64, String),
    #[error("remote {remote} answered {status}: {body}")]
    Refused { remote: i64, status: u16, body: String },
    #[error("shard {0} from remote {1} failed its hash check")]
    Corrupt(ShardHash, i64),
    #[error("remote {remote} answered with more bytes than shard {shard} has ({why})")]
    Oversized { remote: i64, shard: ShardHash, why: String },
    #[error("remote {remote} stored shard {shard} without a valid receipt: {why}")]
    NoReceipt { remote: i64, shard: ShardHash, why: String },
}

impl ShardOpError {
    /// The remote answered, without the shard intact: not found, corrupt,
    /// more bytes than the shard has, or a redirect elsewhere (never
    /// followed: the remote must hold the bytes itself). An audit counts
    /// these as failed; no answer at all is the liveness sweeper's business.
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            ShardOpError::Refused { status: 300..=399 | 404, .. }
                | ShardOpError::Corrupt(..)
                | ShardOpError::Oversized { .. }
        )
    }
}

impl AppState {
    /// Fetches a shard of at most `max_len` bytes and checks its hash.
    pub async fn fetch_shard(
        &self,
        remote: i64,
        base: &str,
        hash: ShardHash,
        max_len: u32,
    ) -> Result<Bytes, ShardOpError> {
        let g = self.grant(GrantOp::Get, remote, hash, max_len);
        let resp = pyxis_net::request_id::attach(self.http.get(url(base, &hash)))
            .header(grant::HEADER, g)
            .send()
            .await
            .map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body = pyxis_net::error_text(resp).await;
            return Err(ShardOpError::Refused { remote, status: status.as_u16(), body });
        }
        let bytes = pyxis_net::read_capped(resp, max_len as usize).await.map_err(|e| match e {
            pyxis_net::ReadError::TooLarge { .. } => {
                ShardOpError::Oversized { remote, shard: hash, why: e.to_string() }
            }
            other => ShardOpError::Unreachable(remote, other.to_string()),
        })?;
        if pyxis_crypto::shard::shard_hash(&bytes) != hash {
            return Err(ShardOpError::Corrupt(hash, remote));
        }
        Ok(bytes)
    }

    /// Stores a shard on a remote and checks the receipt it answers with.
    pub async fn store_shard(&self, target: &RemoteRow, hash: ShardHash, bytes: Bytes) -> Result<(), ShardOpError> {
        let remote = target.id;
        let len = bytes.len() as u32;
        let g = self.grant(GrantOp::Put, remote, hash, len);
        let resp = pyxis_net::request_id::attach(self.http.put(url(&target.url, &hash)))
            .header(grant::HEADER, g)
            .body(bytes)
            .send()
            .await
            .map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ShardOpError::Refused {
                remote,
                status: status.as_u16(),
                body: pyxis_net::error_text(resp).await,
            });
        }
        let no_receipt = |why: String| ShardOpError::NoReceipt { remote, shard: hash, why };
        let token = resp
            .headers()
            .get(pyxis_proto::receipt::HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| no_receipt("none given".into()))?;
        let key = target.key().ok_or_else(|| no_receipt("the remote has no identity key".into()))?;
        let r = pyxis_crypto::identity::verify_receipt(&key, token).map_err(|e| no_receipt(e.to_string()))?;
        if r.remote != remote || r.shard != hash || r.len != len {
            return Err(no_receipt(format!("it is for shard {} ({} bytes) on remote {}", r.shard, r.len, r.remote)));
        }
        Ok(())
    }

    /// Deletes a shard; a shard already gone counts as deleted.
    pub async fn delete_shard(&self, remote: i64, base: &str, hash: ShardHash) -> Result<(), ShardOpError> {
        let g = self.grant(GrantOp::Delete, remote, hash, u32::MAX);
        let resp = pyxis_net::request_id::attach(self.http.delete(url(base, &hash)))
            .header(grant::HEADER, g)
            .send()
            .await
            .map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        let status = resp.status();
        if status.is_success() || status.as_u16() == 404 {
            Ok(())
        } else {
            Err(ShardOpError::Refused { remote, status: status.as_u16(), body: pyxis_net::error_text(resp).await })
        }
    }
}
