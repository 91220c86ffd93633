//! Repair and re-encoding, on ciphertext only (the server has no keys).
//!
//! Repair: chunks whose healthy shards fall to the threshold are rebuilt,
//! closest to loss first: fetch any k shards, rebuild the missing ones (byte
//! for byte the lost ones: re-splitting a blob is deterministic, so their
//! hashes do not change), store them on new remotes, then move each shard
//! in the catalog with a compare-and-set. A crash anywhere leaves either the
//! old location or the new one recorded; the next pass finishes the job.
//!
//! Re-encoding: when there is nothing to repair and the network has grown
//! past a policy step, chunks stored with a narrower scheme are rebuilt at the
//! wider one and swapped in atomically.

use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::StreamExt;
use pyxis_core::erasure::Erasure;
use pyxis_core::policy::max_unvetted;
use pyxis_core::repair::{self, Health, Limit, LostOn, ShardStatus};
use pyxis_crypto::shard::{shard_hash, verify_shard};
use pyxis_proto::{ChunkId, Scheme, ShardHash};

use super::limiter::Limiter;
use super::stats::Stats;
use crate::State;
use crate::db::durability::{AuditLimits, ChunkRef, NewShard, PROOF_NONE, PROOF_RECEIPT, ShardHealthRow};
use crate::db::now_ms;
use crate::db::remotes::{DRAINING, OFFLINE, ONLINE, RemoteRow, SUSPECT};
use crate::placement::{candidates, scheme_now, shard_len};

/// Degraded chunks examined per pass.
const SCAN: i64 = 4096;

fn status(row: &ShardHealthRow, cutoff: i64) -> ShardStatus {
    // Lost, or never receipted (an upload that failed, or a chunk stored at
    // the success threshold): repair places it.
    if row.state != 1 || row.proof == PROOF_NONE {
        return ShardStatus::Lost;
    }
    match row.remote_state {
        ONLINE => ShardStatus::Healthy,
        OFFLINE if row.last_seen >= cutoff => ShardStatus::Unavailable,
        _ => ShardStatus::Lost,
    }
}

fn scheme_of(c: &ChunkRef) -> anyhow::Result<Scheme> {
    Scheme::new(c.data_shards as usize, c.parity_shards as usize).context("bad scheme in the catalog")
}

fn hash_of(row: &ShardHealthRow) -> anyhow::Result<ShardHash> {
    ShardHash::from_slice(&row.hash).context("bad shard hash in the catalog")
}

pub async fn pass(state: State, limiter: Arc<Limiter>) -> anyhow::Result<()> {
    let d = &state.opts.durability;
    let remotes = state.db.online_remotes().await?;
    let cutoff = now_ms() - d.repair_grace.as_millis() as i64;
    let mut plans = Vec::new();
    for c in state.db.degraded_chunks(SCAN).await? {
        let scheme = scheme_of(&c)?;
        let rows = state.db.shard_health(c.user_id, &c.chunk_id).await?;
        let health = Health::of(scheme, rows.iter().map(|r| status(r, cutoff)));
        let threshold = d.repair_threshold.unwrap_or_else(|| repair::default_threshold(scheme));
        if health.needs_repair(threshold) {
            plans.push((health, c, rows));
        }
    }
    plans.sort_by(|a, b| repair::priority(&a.0, &b.0));
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let mut runs = futures::stream::iter(plans.into_iter().map(|(_, c, rows)| {
        let (state, limiter, remotes, failed) = (state.clone(), limiter.clone(), &remotes, &failed);
        async move {
            if let Err(e) = repair_chunk(&state, &limiter, remotes, cutoff, &c, &rows).await {
                // One line per pass, not per chunk: a network too small to
                // repair into would otherwise log every chunk every pass.
                if failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                    tracing::warn!(chunk = ?c.id(), error = %e, "repair failed; will retry");
                }
            }
        }
    }))
    .buffer_unordered(d.repair_concurrency.max(1));
    while runs.next().await.is_some() {}
    drop(runs);
    let failed = failed.into_inner();
    if failed > 1 {
        tracing::warn!(chunks = failed, "repairs failed this pass; will retry");
    }
    // Every pass, repairing or not: under churn there is always something
    // to repair, and chunks written narrow while remotes were down must
    // still widen once they are back.
    if d.reencode {
        reencode_pass(&state, &limiter, &remotes).await?;
    }
    Ok(())
}

/// Reads `k` intact shards of a chunk, from online remotes first, then from
/// remotes being drained or suspect (still worth asking: every byte is checked).
async fn read_k(state: &State, limiter: &Limiter, c: &ChunkRef, rows: &[ShardHealthRow]) -> anyhow::Result<Vec<Bytes>> {
    let scheme = scheme_of(c)?;
    let (k, max_len) = (scheme.data(), shard_len(c.blob_len as u32, scheme));
    let mut sources: Vec<&ShardHealthRow> =
        rows.iter().filter(|r| r.state == 1 && [ONLINE, DRAINING, SUSPECT].contains(&r.remote_state)).collect();
    sources.sort_by_key(|r| (r.remote_state != ONLINE, r.idx));
    let mut got = Vec::with_capacity(k);
    for r in sources {
        if got.len() == k {
            break;
        }
        let hash = hash_of(r)?;
        match state.fetch_shard(r.remote_id, &r.url, hash, max_len).await {
            Ok(b) => {
                limiter.take(b.len() as u64).await;
                Stats::add(&state.stats.repair_bytes, b.len() as u64);
                got.push(b);
            }
            Err(e) => {
                if e.is_missing() {
                    // As good as a failed audit: held against the remote if it
                    // receipted the shard, so a remote that discards what it
                    // takes is not handed the rebuilt shard back.
                    let d = &state.opts.durability;
                    let limits = AuditLimits { suspect_after: d.suspect_after, vet_after: d.vet_after };
                    state.db.audit_result(r.remote_id, &r.hash, false, r.proof == PROOF_RECEIPT, limits).await?;
                }
                tracing::debug!(error = %e, "repair source failed");
            }
        }
    }
    if got.len() < k {
        bail!("only {} of the {k} shards needed could be read", got.len());
    }
    Ok(got)
}

fn remote_of(remotes: &[RemoteRow], id: i64) -> anyhow::Result<&RemoteRow> {
    remotes.iter().find(|r| r.id == id).context("target remote vanished")
}

fn unvetted(remotes: &[RemoteRow]) -> impl Fn(i64) -> bool + '_ {
    |id| remotes.iter().any(|r| r.id == id && !r.is_vetted())
}

async fn repair_chunk(
    state: &State,
    limiter: &Limiter,
    remotes: &[RemoteRow],
    cutoff: i64,
    c: &ChunkRef,
    rows: &[ShardHealthRow],
) -> anyhow::Result<()> {
    let scheme = scheme_of(c)?;
    let id = c.id().context("bad chunk id in the catalog")?;
    let wanted: Vec<u8> =
        rows.iter().filter(|r| status(r, cutoff) != ShardStatus::Healthy).map(|r| r.idx as u8).collect();
    let got = match read_k(state, limiter, c, rows).await {
        Ok(g) => g,
        Err(e) => {
            Stats::add(&state.stats.unrecoverable, 1);
            return Err(e);
        }
    };
    let w = wanted.clone();
    let rebuilt = tokio::task::spawn_blocking(move || {
        let verified: Vec<_> = got.iter().map(|b| verify_shard(b, &shard_hash(b))).collect::<Result<_, _>>()?;
        Erasure::new().rebuild(&verified, &w)
    })
    .await??;
    // Home again, or elsewhere (to remotes holding no shard of this chunk, so
    // no remote ever holds two): `repair::destinations` decides, by where the
    // remote that lost each shard stands.
    let holding: Vec<i64> = rows.iter().map(|r| r.remote_id).collect();
    let shard_len = rebuilt.first().map(|s| s.bytes.len()).unwrap_or(0) as u32;
    let lost: Vec<LostOn> = rebuilt
        .iter()
        .map(|s| {
            let owner = rows
                .iter()
                .filter(|r| r.idx == i64::from(s.index) && r.remote_state == ONLINE)
                .find_map(|r| remotes.iter().find(|x| x.id == r.remote_id));
            match owner {
                Some(o) if o.audit_failures == 0 => LostOn::GoodStanding(o.id),
                Some(o) => LostOn::Failing(o.id),
                None => LostOn::Away,
            }
        })
        .collect();
    // Unvetted remotes hold at most ceil(m/2) shards of the chunk, counting
    // those that keep theirs.
    let is_unvetted = unvetted(remotes);
    let kept_unvetted = rows
        .iter()
        .filter(|r| {
            status(r, cutoff) == ShardStatus::Healthy
                || lost.contains(&LostOn::GoodStanding(r.remote_id))
                || lost.contains(&LostOn::Failing(r.remote_id))
        })
        .filter(|r| is_unvetted(r.remote_id))
        .count();
    let limit = Limit { limited: &is_unvetted, max: max_unvetted(scheme).saturating_sub(kept_unvetted) };
    let targets = repair::destinations(id.as_bytes(), &lost, &candidates(remotes, shard_len, &[]), &holding, &limit)?;
    for (shard, target) in rebuilt.into_iter().zip(targets) {
        let row = rows.iter().find(|r| r.idx == i64::from(shard.index)).context("rebuilt an unknown index")?;
        if shard.hash != hash_of(row)? {
            bail!("rebuilt shard {} does not match the catalog's hash", shard.index);
        }
        limiter.take(shard.bytes.len() as u64).await;
        Stats::add(&state.stats.repair_bytes, shard.bytes.len() as u64);
        state.store_shard(remote_of(remotes, target)?, shard.hash, Bytes::from(shard.bytes)).await?;
        if state.db.move_shard_if(c, row.idx, &shard.hash, row.remote_id, target).await? {
            Stats::add(&state.stats.shards_rebuilt, 1);
        } else {
            // Moved by something else meanwhile: this copy is garbage.
            state.db.add_garbage(&[(shard.hash, target)]).await?;
        }
    }
    Stats::add(&state.stats.chunks_repaired, 1);
    // One line a chunk: repairs are rare, and an operator (or a test of
    // several instances) can see which instance repaired which chunk.
    tracing::info!(chunk = %pyxis_proto::hex::encode(&c.chunk_id), "chunk repaired");
    tracing::info!(chunk = %id, shards = wanted.len(), "repaired");
    Ok(())
}

async fn reencode_pass(state: &State, limiter: &Limiter, remotes: &[RemoteRow]) -> anyhow::Result<()> {
    let Ok(choice) = scheme_now(state, remotes) else { return Ok(()) };
    let target = choice.scheme;
    let batch = state.opts.durability.repair_concurrency.max(1) as i64 * 4;
    for c in state.db.narrow_chunks(target.total() as i64, target.parity() as i64, batch).await? {
        if let Err(e) = reencode_chunk(state, limiter, remotes, &c, target).await {
            tracing::warn!(chunk = ?c.id(), error = %e, "re-encoding failed; will retry");
        }
    }
    Ok(())
}

/// Rebuilds a chunk at a wider scheme. The swap needs a receipt for every
/// new shard: widening is not urgent, and a wider chunk that could not be
/// stored whole would be degraded for as long as the network stays as it is
/// (a remote that stopped a moment ago still counts as online).
async fn reencode_chunk(
    state: &State,
    limiter: &Limiter,
    remotes: &[RemoteRow],
    c: &ChunkRef,
    target: Scheme,
) -> anyhow::Result<()> {
    let id: ChunkId = c.id().context("bad chunk id in the catalog")?;
    let rows = state.db.shard_health(c.user_id, &c.chunk_id).await?;
    let got = read_k(state, limiter, c, &rows).await?;
    let shards = tokio::task::spawn_blocking(move || {
        let verified: Vec<_> = got.iter().map(|b| verify_shard(b, &shard_hash(b))).collect::<Result<_, _>>()?;
        let mut e = Erasure::new();
        let mut blob = e.join(&verified)?;
        e.split(&mut blob, target)
    })
    .await??;
    let shard_len = shards.first().map(|s| s.bytes.len()).unwrap_or(0) as u32;
    let is_unvetted = unvetted(remotes);
    let limit = Limit { limited: &is_unvetted, max: max_unvetted(target) };
    let targets =
        repair::targets_within(id.as_bytes(), &candidates(remotes, shard_len, &[]), &[], shards.len(), &limit)?;
    let mut placed = Vec::with_capacity(shards.len());
    for (shard, t) in shards.into_iter().zip(targets) {
        limiter.take(shard.bytes.len() as u64).await;
        Stats::add(&state.stats.repair_bytes, shard.bytes.len() as u64);
        let (idx, hash) = (i64::from(shard.index), shard.hash);
        let proof = match state.store_shard(remote_of(remotes, t)?, hash, Bytes::from(shard.bytes)).await {
            Ok(()) => PROOF_RECEIPT,
            Err(e) => {
                tracing::debug!(chunk = %id, remote = t, error = %e, "re-encoded shard not stored");
                PROOF_NONE
            }
        };
        placed.push(NewShard { idx, hash, remote: t, proof });
    }
    let receipted = placed.iter().filter(|s| s.proof == PROOF_RECEIPT).count();
    let swapped = receipted == placed.len()
        && state.db.swap_scheme_if(c, target.data() as i64, target.parity() as i64, &placed).await?;
    if !swapped {
        // What was stored is recorded as garbage, never left for the remotes
        // to find unknown.
        let stored: Vec<(ShardHash, i64)> = placed.iter().map(|s| (s.hash, s.remote)).collect();
        state.db.add_garbage(&stored).await?;
        bail!("only {receipted} of the {} re-encoded shards were stored, or the chunk changed meanwhile", placed.len());
    }
    Stats::add(&state.stats.chunks_reencoded, 1);
    tracing::info!(chunk = %id, from = %scheme_of(c)?, to = %target, "re-encoded");
    Ok(())
}
