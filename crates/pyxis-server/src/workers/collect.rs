//! Collection: deleted accounts' files are removed after their grace; chunks
//! nobody references are expired (uploads never
//! committed, removed data past its grace) and their shards deleted from the
//! remotes under delete grants. A remote that is offline keeps its garbage
//! rows until it returns; drained remotes with nothing left are marked so.

use pyxis_proto::ShardHash;

use super::stats::Stats;
use crate::State;
use crate::db::now_ms;
use crate::db::remotes::{DRAINED, DRAINING, ONLINE, SUSPECT};

/// Garbage rows handled per pass.
const BATCH: i64 = 2000;

pub async fn pass(state: State) -> anyhow::Result<()> {
    // Accounts deleted by their owners, past the grace: every file goes
    // (the chunks follow below as unreferenced), and that is recorded.
    for user in state.db.deletions_due(now_ms()).await? {
        let (files, dirs) = state.db.remove(user, "/", true, 0, None, true).await?;
        loop {
            let due = state.db.trash_due(user, i64::MAX, 10_000).await?;
            if due.is_empty() {
                break;
            }
            state.db.purge_trash(user, &due, 0).await?;
        }
        state.db.mark_deleted(user).await?;
        tracing::warn!(user, files, dirs, "deleted account's files removed");
    }
    let expired = state.db.expire_chunks(BATCH).await?;
    if expired > 0 {
        Stats::add(&state.stats.chunks_expired, expired);
        tracing::info!(chunks = expired, "expired unreferenced chunks");
    }
    let before = now_ms() - state.opts.durability.garbage_delay.as_millis() as i64;
    for g in state.db.garbage(before, BATCH).await? {
        if ![ONLINE, DRAINING, SUSPECT].contains(&g.remote_state) {
            continue; // offline: cleaned when it comes back
        }
        if state.db.shard_wanted(&g.hash, g.remote_id).await? {
            state.db.garbage_deleted(&g.hash, g.remote_id).await?; // placed there again meanwhile
            continue;
        }
        let Some(hash) = ShardHash::from_slice(&g.hash) else { continue };
        match state.delete_shard(g.remote_id, &g.url, hash).await {
            Ok(()) => {
                state.db.garbage_deleted(&g.hash, g.remote_id).await?;
                Stats::add(&state.stats.garbage_deleted, 1);
            }
            Err(e) => tracing::debug!(remote = g.remote_id, error = %e, "garbage delete failed; will retry"),
        }
    }
    for (r, shards) in state.db.all_remotes().await? {
        if r.state == DRAINING && shards == 0 {
            state.db.set_remote_state(r.id, DRAINED).await?;
            tracing::info!(remote = r.id, "drained: it holds nothing the catalog needs");
        }
    }
    Ok(())
}
