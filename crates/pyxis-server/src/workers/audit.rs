//! Audits: stored shards are fetched from their remotes and checked against
//! their hashes. A remote can only pass by holding the bytes.
//!
//! Each pass audits a random sample of the shards the catalog counts as
//! stored, one shard on every unvetted remote (a newcomer is checked before
//! it is trusted: `vet_after` passes vet it), and a batch of shards stored
//! before receipts existed (adopted by auditing them). A missing or corrupt
//! shard is marked lost and gets repaired. It counts against its remote only
//! if the remote receipted it: a client that claims shards it never uploaded
//! cannot make an honest remote look bad. `suspect_after` failures in a row
//! make a remote suspect: no new placements, and its shards are rebuilt
//! elsewhere.

use pyxis_proto::{Scheme, ShardHash};

use super::stats::Stats;
use crate::State;
use crate::db::durability::{AuditLimits, AuditPick, AuditRow, PROOF_RECEIPT};
use crate::placement::shard_len;

/// Shards stored before receipts that each pass adopts.
const LEGACY_BATCH: i64 = 64;

pub async fn pass(state: State) -> anyhow::Result<()> {
    let d = &state.opts.durability;
    if d.audit_sample == 0 {
        return Ok(());
    }
    let mut rows = state.db.audit_sample(AuditPick::Random, d.audit_sample as i64).await?;
    for r in state.db.online_remotes().await?.iter().filter(|r| !r.is_vetted()) {
        rows.extend(state.db.audit_sample(AuditPick::Remote(r.id), 1).await?);
    }
    rows.extend(state.db.audit_sample(AuditPick::Legacy, LEGACY_BATCH).await?);
    let limits = AuditLimits { suspect_after: d.suspect_after, vet_after: d.vet_after };
    for row in rows {
        audit(&state, &row, limits).await?;
    }
    Ok(())
}

async fn audit(state: &State, row: &AuditRow, limits: AuditLimits) -> anyhow::Result<()> {
    let Some(hash) = ShardHash::from_slice(&row.hash) else { return Ok(()) };
    let max_len = match Scheme::new(row.data_shards as usize, 0) {
        // Parity shards are as long as data shards: k alone sets the length.
        Ok(s) => shard_len(row.blob_len as u32, s),
        Err(_) => return Ok(()),
    };
    match state.fetch_shard(row.remote_id, &row.url, hash, max_len).await {
        Ok(_) => {
            Stats::add(&state.stats.audits_passed, 1);
            state.db.audit_result(row.remote_id, &row.hash, true, false, limits).await?;
        }
        Err(e) if e.is_missing() => {
            Stats::add(&state.stats.audits_failed, 1);
            let blame = row.proof == PROOF_RECEIPT;
            let failures = state.db.audit_result(row.remote_id, &row.hash, false, blame, limits).await?;
            tracing::warn!(remote = row.remote_id, shard = %hash, failures, blamed = blame, error = %e, "audit failed");
        }
        // An unreachable remote is the liveness sweeper's business.
        Err(e) => tracing::debug!(remote = row.remote_id, error = %e, "audit skipped"),
    }
    Ok(())
}
