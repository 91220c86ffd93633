//! The server's own shard traffic: fetch, store and delete shards on remotes
//! under grants it signs for itself.

use bytes::Bytes;
use pyxis_proto::ShardHash;
use pyxis_proto::grant::{self, GrantOp};

use crate::AppState;

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
}

impl ShardOpError {
    /// The remote answered that it does not have the shard (intact).
    pub fn is_missing(&self) -> bool {
        matches!(self, ShardOpError::Refused { status: 404, .. } | ShardOpError::Corrupt(..))
    }
}

impl AppState {
    /// Fetches a shard and checks its hash.
    pub async fn fetch_shard(&self, remote: i64, base: &str, hash: ShardHash) -> Result<Bytes, ShardOpError> {
        let g = self.grant(GrantOp::Get, remote, hash, u32::MAX);
        let resp = self
            .http
            .get(url(base, &hash))
            .header(grant::HEADER, g)
            .send()
            .await
            .map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(ShardOpError::Refused { remote, status: status.as_u16(), body });
        }
        let bytes = resp.bytes().await.map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        if pyxis_core::erasure::shard_hash(&bytes) != hash {
            return Err(ShardOpError::Corrupt(hash, remote));
        }
        Ok(bytes)
    }

    pub async fn store_shard(
        &self,
        remote: i64,
        base: &str,
        hash: ShardHash,
        bytes: Bytes,
    ) -> Result<(), ShardOpError> {
        let g = self.grant(GrantOp::Put, remote, hash, bytes.len() as u32);
        let resp = self
            .http
            .put(url(base, &hash))
            .header(grant::HEADER, g)
            .body(bytes)
            .send()
            .await
            .map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(ShardOpError::Refused { remote, status: status.as_u16(), body: resp.text().await.unwrap_or_default() })
        }
    }

    /// Deletes a shard; a shard already gone counts as deleted.
    pub async fn delete_shard(&self, remote: i64, base: &str, hash: ShardHash) -> Result<(), ShardOpError> {
        let g = self.grant(GrantOp::Delete, remote, hash, u32::MAX);
        let resp = self
            .http
            .delete(url(base, &hash))
            .header(grant::HEADER, g)
            .send()
            .await
            .map_err(|e| ShardOpError::Unreachable(remote, e.to_string()))?;
        let status = resp.status();
        if status.is_success() || status.as_u16() == 404 {
            Ok(())
        } else {
            Err(ShardOpError::Refused { remote, status: status.as_u16(), body: resp.text().await.unwrap_or_default() })
        }
    }
}
