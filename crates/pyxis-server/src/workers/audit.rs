//! Audits: a random sample of stored shards is fetched from their remotes
//! and checked against its hash. The remote can only pass by holding the
//! bytes. A missing or corrupt shard is marked lost (and gets repaired); a
//! remote that fails `suspect_after` audits in a row becomes suspect: no new
//! placements, and all its shards are rebuilt elsewhere.

use pyxis_proto::ShardHash;

use super::Stats;
use crate::State;

pub async fn pass(state: State) -> anyhow::Result<()> {
    let d = &state.opts.durability;
    for row in state.db.audit_sample(d.audit_sample as i64).await? {
        let Some(hash) = ShardHash::from_slice(&row.hash) else { continue };
        match state.fetch_shard(row.remote_id, &row.url, hash).await {
            Ok(_) => {
                Stats::add(&state.stats.audits_passed, 1);
                state.db.audit_result(row.remote_id, true, d.suspect_after).await?;
            }
            Err(e) if e.is_missing() => {
                Stats::add(&state.stats.audits_failed, 1);
                state.db.mark_shards_lost(row.remote_id, &[hash]).await?;
                let failures = state.db.audit_result(row.remote_id, false, d.suspect_after).await?;
                tracing::warn!(remote = row.remote_id, shard = %hash, failures, error = %e, "audit failed");
            }
            // An unreachable remote is the liveness sweeper's business.
            Err(e) => tracing::debug!(remote = row.remote_id, error = %e, "audit skipped"),
        }
    }
    Ok(())
}
