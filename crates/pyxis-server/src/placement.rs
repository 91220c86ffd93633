//! Choosing remotes for shards and signing the grants to use them.

use pyxis_core::placement::{self, Candidate};
use pyxis_core::policy::Choice;
use pyxis_crypto::grants::unix_now;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::grant::{Grant, GrantOp};
use pyxis_proto::{ChunkId, Scheme, ShardHash};

use crate::AppState;
use crate::db::remotes::RemoteRow;
use crate::error::{ApiError, ApiResult};

/// Bytes a shard of this chunk takes, header included.
pub fn shard_len(blob_len: u32, scheme: Scheme) -> u32 {
    pyxis_proto::format::shard::shard_len(blob_len as usize, scheme) as u32
}

/// The scheme for new chunks now: the policy's, for the remotes online
/// (vetted and not), so that placement can always fill it.
pub fn scheme_now(state: &AppState, online: &[RemoteRow]) -> ApiResult<Choice> {
    let vetted = online.iter().filter(|r| r.is_vetted()).count();
    state.opts.policy.choose_for(vetted, online.len() - vetted).map_err(|e| {
        ApiError::unavailable(ErrorCode::NotEnoughRemotes, format!("{e}: start more remotes or wait for them"))
    })
}

/// Remotes with room for a shard of this size, weighted by free space (which
/// the registry already bounds by each remote's admitted capacity).
pub fn candidates(remotes: &[RemoteRow], shard_len: u32, exclude: &[i64]) -> Vec<Candidate> {
    remotes
        .iter()
        .filter(|r| !exclude.contains(&r.id) && r.free >= i64::from(shard_len))
        .map(|r| Candidate { id: r.id, weight: r.free.max(0) as u64 })
        .collect()
}

/// The `n` best remotes for a chunk by weighted rendezvous hashing, skipping
/// `exclude`, with at most `max_unvetted` of them not yet vetted.
pub fn choose<'a>(
    id: &ChunkId,
    remotes: &'a [RemoteRow],
    n: usize,
    shard_len: u32,
    exclude: &[i64],
    max_unvetted: usize,
) -> ApiResult<Vec<&'a RemoteRow>> {
    let unvetted = |id: i64| remotes.iter().any(|r| r.id == id && !r.is_vetted());
    let ids =
        placement::choose_limited(id.as_bytes(), &candidates(remotes, shard_len, exclude), n, unvetted, max_unvetted)
            .map_err(|e| {
            ApiError::unavailable(
                ErrorCode::NotEnoughRemotes,
                format!("{e}: start more remotes or wait for them to come back"),
            )
        })?;
    Ok(ids.iter().filter_map(|id| remotes.iter().find(|r| r.id == *id)).collect())
}

impl AppState {
    /// Signs a grant for one operation on one shard at one remote.
    pub fn grant(&self, op: GrantOp, remote: i64, shard: ShardHash, max_size: u32) -> String {
        self.grant_for(op, remote, shard, max_size, self.opts.grant_ttl)
    }

    /// A client's put grant. It never outlives the pending reservation of
    /// its chunk (`pending_ttl`): once a reservation expires its shards are
    /// collected, and a late upload under a still-valid grant would leave a
    /// shard nobody references until the remote's next inventory.
    pub fn upload_grant(&self, remote: i64, shard: ShardHash, max_size: u32) -> String {
        self.grant_for(GrantOp::Put, remote, shard, max_size, self.opts.grant_ttl.min(self.opts.pending_ttl))
    }

    /// When a reservation made now for an upload ends (Unix ms): placed
    /// chunks that are not committed by then are collected.
    pub fn reservation_ends(&self) -> i64 {
        crate::db::now_ms() + self.opts.pending_ttl.as_millis() as i64
    }

    fn grant_for(&self, op: GrantOp, remote: i64, shard: ShardHash, max_size: u32, ttl: std::time::Duration) -> String {
        let expires = unix_now() + ttl.as_secs();
        self.signer.sign(&Grant { op, remote, shard, max_size, expires })
    }
}
