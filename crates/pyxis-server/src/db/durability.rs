//! The catalog side of durability: which chunks are degraded, moving shards
//! after repair, swapping schemes after re-encoding, audits, expiry and
//! garbage. Every write is a compare-and-set on what the caller saw, so a
//! worker that crashed or raced another leaves the catalog consistent.

use pyxis_proto::{ChunkId, ShardHash};

use crate::on_db;

use super::remotes::{OFFLINE, ONLINE, SUSPECT};
use super::{Db, now_ms};

/// A chunk to examine: its owner, id, scheme and size.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkRef {
    pub user_id: i64,
    pub chunk_id: Vec<u8>,
    pub data_shards: i64,
    pub parity_shards: i64,
    pub blob_len: i64,
}

impl ChunkRef {
    pub fn id(&self) -> Option<ChunkId> {
        ChunkId::from_slice(&self.chunk_id)
    }
}

/// A shard with everything health needs about its remote.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShardHealthRow {
    pub idx: i64,
    pub hash: Vec<u8>,
    pub remote_id: i64,
    pub state: i64,
    pub proof: i64,
    pub remote_state: i64,
    pub last_seen: i64,
    pub url: String,
}

/// A shard to record: where it is and why the catalog believes it.
#[derive(Debug, Clone, Copy)]
pub struct NewShard {
    pub idx: i64,
    pub hash: ShardHash,
    pub remote: i64,
    pub proof: i64,
}

/// `shards.proof`: nothing yet (placed; the upload is in progress or failed).
pub const PROOF_NONE: i64 = 0;
/// A receipt signed by the remote, or a passed audit.
pub const PROOF_RECEIPT: i64 = 1;
/// Stored before receipts existed, or re-adopted from an inventory: counted,
/// audited first, and never held against the remote if missing.
pub const PROOF_LEGACY: i64 = 2;

/// Which shards an audit pass looks at.
#[derive(Debug, Clone, Copy)]
pub enum AuditPick {
    Random,
    Legacy,
    Remote(i64),
}

/// When audits change how a remote is seen.
#[derive(Debug, Clone, Copy)]
pub struct AuditLimits {
    pub suspect_after: i64,
    pub vet_after: i64,
}

/// A shard picked for an audit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub remote_id: i64,
    pub url: String,
    pub hash: Vec<u8>,
    pub proof: i64,
    pub blob_len: i64,
    pub data_shards: i64,
}

const CHUNK_REF: &str = "c.user_id, c.chunk_id, c.data_shards, c.parity_shards, c.blob_len";

impl Db {
    /// Stored chunks with a shard that is lost, never receipted, or on a
    /// remote not online.
    pub async fn degraded_chunks(&self, limit: i64) -> sqlx::Result<Vec<ChunkRef>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT {CHUNK_REF} FROM chunks c \
             JOIN shards s ON s.user_id = c.user_id AND s.chunk_id = c.chunk_id \
             JOIN remotes r ON r.id = s.remote_id \
             WHERE c.state = 2 AND (s.state <> 1 OR s.proof = 0 OR r.state <> $1) LIMIT $2"
        ));
        on_db!(self, read | c | sqlx::query_as(sql).bind(ONLINE).bind(limit).fetch_all(c).await)
    }

    /// Referenced chunks stored with fewer shards than `total` (the network
    /// grew past a policy step since they were written).
    pub async fn narrow_chunks(&self, total: i64, parity: i64, limit: i64) -> sqlx::Result<Vec<ChunkRef>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CHUNK_REF} FROM chunks c WHERE c.state = 2 AND c.refcount > 0 \
             AND c.data_shards + c.parity_shards < $1 AND c.parity_shards <= $2 LIMIT $3"
        ));
        on_db!(self, read | c | sqlx::query_as(sql).bind(total).bind(parity).bind(limit).fetch_all(c).await)
    }

    pub async fn shard_health(&self, user: i64, chunk: &[u8]) -> sqlx::Result<Vec<ShardHealthRow>> {
        on_db!(
            self,
            read | c
                | {
                    sqlx::query_as(
                "SELECT s.idx, s.hash, s.remote_id, s.state, s.proof, r.state AS remote_state, r.last_seen, r.url \
                 FROM shards s JOIN remotes r ON r.id = s.remote_id WHERE s.user_id = $1 AND s.chunk_id = $2 ORDER BY s.idx",
            )
            .bind(user)
            .bind(chunk)
            .fetch_all(c)
            .await
                }
        )
    }

    /// Records a rebuilt shard's new home if the shard is still where the
    /// repair found it; the old copy becomes garbage (deleted if its remote
    /// ever answers again). False if something else moved it first.
    pub async fn move_shard_if(
        &self,
        c: &ChunkRef,
        idx: i64,
        hash: &ShardHash,
        old: i64,
        new: i64,
    ) -> sqlx::Result<bool> {
        let now = now_ms();
        on_db!(
            self,
            write | db | {
                let mut tx = db.begin().await?;
                let moved = sqlx::query(
                    "UPDATE shards SET remote_id = $1, state = 1, proof = $7 \
                 WHERE user_id = $2 AND chunk_id = $3 AND idx = $4 AND remote_id = $5 AND hash = $6",
                )
                .bind(new)
                .bind(c.user_id)
                .bind(&c.chunk_id)
                .bind(idx)
                .bind(old)
                .bind(&hash.0[..])
                .bind(PROOF_RECEIPT)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if moved && old != new {
                    sqlx::query(
                        "INSERT INTO garbage (hash, remote_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&hash.0[..])
                    .bind(old)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(moved)
            }
        )
    }

    /// Replaces a chunk's shards with a re-encoding at a new scheme, if the
    /// chunk still has the scheme the worker read. Old shards become garbage.
    pub async fn swap_scheme_if(
        &self,
        c: &ChunkRef,
        data: i64,
        parity: i64,
        shards: &[NewShard],
    ) -> sqlx::Result<bool> {
        let now = now_ms();
        on_db!(
            self,
            write
                | db
                | {
                    let mut tx = db.begin().await?;
                    let swapped = sqlx::query(
                        "UPDATE chunks SET data_shards = $1, parity_shards = $2 \
                 WHERE user_id = $3 AND chunk_id = $4 AND data_shards = $5 AND parity_shards = $6 AND state = 2",
                    )
                    .bind(data)
                    .bind(parity)
                    .bind(c.user_id)
                    .bind(&c.chunk_id)
                    .bind(c.data_shards)
                    .bind(c.parity_shards)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    if swapped {
                        sqlx::query(
                            "INSERT INTO garbage (hash, remote_id, created_at) SELECT hash, remote_id, $1 FROM shards \
                     WHERE user_id = $2 AND chunk_id = $3 ON CONFLICT DO NOTHING",
                        )
                        .bind(now)
                        .bind(c.user_id)
                        .bind(&c.chunk_id)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("DELETE FROM shards WHERE user_id = $1 AND chunk_id = $2")
                            .bind(c.user_id)
                            .bind(&c.chunk_id)
                            .execute(&mut *tx)
                            .await?;
                        for sh in shards {
                            sqlx::query(
                                "INSERT INTO shards (user_id, chunk_id, idx, hash, remote_id, proof) VALUES ($1, $2, $3, $4, $5, $6)",
                            )
                            .bind(c.user_id)
                            .bind(&c.chunk_id)
                            .bind(sh.idx)
                            .bind(&sh.hash.0[..])
                            .bind(sh.remote)
                            .bind(sh.proof)
                            .execute(&mut *tx)
                            .await?;
                        }
                        // A new shard could land where an old one of this chunk was.
                        sqlx::query("DELETE FROM garbage WHERE created_at = $1 AND (hash, remote_id) IN (SELECT hash, remote_id FROM shards WHERE user_id = $2 AND chunk_id = $3)")
                    .bind(now)
                    .bind(c.user_id)
                    .bind(&c.chunk_id)
                    .execute(&mut *tx)
                    .await?;
                    }
                    tx.commit().await?;
                    Ok(swapped)
                }
        )
    }

    /// A remote says (scrub) or an audit found that it does not hold this
    /// shard intact any more.
    pub async fn mark_shards_lost(&self, remote: i64, hashes: &[ShardHash]) -> sqlx::Result<u64> {
        on_db!(
            self,
            write | db | {
                let mut tx = db.begin().await?;
                let mut n = 0;
                for h in hashes {
                    n += sqlx::query("UPDATE shards SET state = 2 WHERE remote_id = $1 AND hash = $2 AND state = 1")
                        .bind(remote)
                        .bind(&h.0[..])
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            }
        )
    }

    /// Shards to audit on online remotes: a random sample of those the
    /// catalog counts as stored, or those stored before receipts (adopted
    /// first), or a random few on one remote (unvetted remotes get their
    /// own share, so a newcomer is checked before it is trusted).
    pub async fn audit_sample(&self, pick: AuditPick, n: i64) -> sqlx::Result<Vec<AuditRow>> {
        const SELECT: &str = "SELECT s.remote_id, r.url, s.hash, s.proof, c.blob_len, c.data_shards FROM shards s \
             JOIN remotes r ON r.id = s.remote_id JOIN chunks c ON c.user_id = s.user_id AND c.chunk_id = s.chunk_id \
             WHERE r.state = $1 AND s.state = 1 AND c.state = 2";
        let (filter, remote) = match pick {
            AuditPick::Random => ("AND s.proof > 0 ORDER BY RANDOM() LIMIT $2", 0),
            AuditPick::Legacy => ("AND s.proof = 2 LIMIT $2", 0),
            AuditPick::Remote(r) => ("AND s.proof > 0 AND s.remote_id = $3 ORDER BY RANDOM() LIMIT $2", r),
        };
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} {filter}"));
        on_db!(
            self,
            read | db | {
                let q = sqlx::query_as(sql).bind(ONLINE).bind(n);
                let q = if remote != 0 { q.bind(remote) } else { q };
                q.fetch_all(db).await
            }
        )
    }

    /// Records an audit of a shard on `remote`. A pass resets the remote's
    /// failure count, counts toward vetting (vetted at `vet_after` passes),
    /// and turns an unproven shard into a proven one. A failure marks the
    /// shard lost; it counts against the remote only if the remote receipted
    /// the shard (`blame`), and at `suspect_after` failures in a row the
    /// remote becomes suspect (its shards are rebuilt elsewhere). Returns the
    /// remote's failures in a row.
    pub async fn audit_result(
        &self,
        remote: i64,
        hash: &[u8],
        passed: bool,
        blame: bool,
        limits: AuditLimits,
    ) -> sqlx::Result<i64> {
        on_db!(
            self,
            write | db | {
                let mut tx = db.begin().await?;
                if passed {
                    sqlx::query(
                        "UPDATE remotes SET audit_failures = 0, audits_passed = audits_passed + 1, \
                         vetted = CASE WHEN audits_passed + 1 >= $1 THEN 1 ELSE vetted END WHERE id = $2",
                    )
                    .bind(limits.vet_after)
                    .bind(remote)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE shards SET proof = $1 WHERE remote_id = $2 AND hash = $3 AND proof = $4")
                        .bind(PROOF_RECEIPT)
                        .bind(remote)
                        .bind(hash)
                        .bind(PROOF_LEGACY)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    sqlx::query("UPDATE shards SET state = 2 WHERE remote_id = $1 AND hash = $2 AND state = 1")
                        .bind(remote)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await?;
                    if blame {
                        sqlx::query("UPDATE remotes SET audit_failures = audit_failures + 1 WHERE id = $1")
                            .bind(remote)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let failures: i64 = sqlx::query_scalar("SELECT audit_failures FROM remotes WHERE id = $1")
                    .bind(remote)
                    .fetch_one(&mut *tx)
                    .await?;
                if failures >= limits.suspect_after {
                    // Offline too: a remote that answered an audit is alive
                    // whatever its late heartbeat made the sweeper think, and
                    // its next heartbeat would otherwise wash the failures out.
                    sqlx::query("UPDATE remotes SET state = $1 WHERE id = $2 AND state IN ($3, $4)")
                        .bind(SUSPECT)
                        .bind(remote)
                        .bind(ONLINE)
                        .bind(OFFLINE)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(failures)
            }
        )
    }

    /// Collects chunks nobody references whose time is up (uploads never
    /// committed, data removed past its grace): their rows go, their quota
    /// comes back, their shards become garbage. Returns how many.
    pub async fn expire_chunks(&self, limit: i64) -> sqlx::Result<u64> {
        let now = now_ms();
        let due: Vec<(i64, Vec<u8>, i64)> = on_db!(
            self,
            read | db
                | {
                    sqlx::query_as(
                "SELECT user_id, chunk_id, blob_len FROM chunks WHERE refcount <= 0 AND expires_at IS NOT NULL AND expires_at < $1 LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(db)
            .await
                }
        )?;
        if due.is_empty() {
            return Ok(0);
        }
        on_db!(
            self,
            write | db | {
                let mut tx = db.begin().await?;
                let mut n = 0;
                for (user, chunk, blob_len) in &due {
                    // Shard rows go with the chunk (cascade): record their copies
                    // as garbage first, then delete if the chunk is still due.
                    sqlx::query(
                        "INSERT INTO garbage (hash, remote_id, created_at) SELECT hash, remote_id, $1 FROM shards \
                     WHERE user_id = $2 AND chunk_id = $3 ON CONFLICT DO NOTHING",
                    )
                    .bind(now)
                    .bind(user)
                    .bind(chunk)
                    .execute(&mut *tx)
                    .await?;
                    let gone = sqlx::query(
                        "DELETE FROM chunks WHERE user_id = $1 AND chunk_id = $2 AND refcount <= 0 AND expires_at < $3",
                    )
                    .bind(user)
                    .bind(chunk)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if gone == 0 {
                        // Referenced again since we looked: its shards are not garbage.
                        sqlx::query(
                            "DELETE FROM garbage WHERE created_at = $1 AND (hash, remote_id) IN \
                         (SELECT hash, remote_id FROM shards WHERE user_id = $2 AND chunk_id = $3)",
                        )
                        .bind(now)
                        .bind(user)
                        .bind(chunk)
                        .execute(&mut *tx)
                        .await?;
                        continue;
                    }
                    sqlx::query("UPDATE users SET used_bytes = used_bytes - $1 WHERE id = $2")
                        .bind(blob_len)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                    n += 1;
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(n)
            }
        )
    }

    /// Chunks by healthy-shard count (`(healthy, total, chunks, bytes)`),
    /// counting shards on online remotes only.
    pub async fn health_histogram(&self) -> sqlx::Result<Vec<(i64, i64, i64, i64)>> {
        on_db!(
            self,
            read | db | {
                sqlx::query_as(
                    "SELECT healthy, total, COUNT(*), CAST(COALESCE(SUM(blob_len), 0) AS BIGINT) FROM ( \
                   SELECT c.blob_len, c.data_shards + c.parity_shards AS total, \
                     SUM(CASE WHEN s.state = 1 AND s.proof > 0 AND r.state = 1 THEN 1 ELSE 0 END) AS healthy \
                   FROM chunks c JOIN shards s ON s.user_id = c.user_id AND s.chunk_id = c.chunk_id \
                   JOIN remotes r ON r.id = s.remote_id WHERE c.state = 2 \
                   GROUP BY c.user_id, c.chunk_id, c.blob_len, c.data_shards, c.parity_shards) AS h \
                 GROUP BY healthy, total ORDER BY healthy, total",
                )
                .fetch_all(db)
                .await
            }
        )
    }

    /// Stored chunks by healthy shards and scheme: (healthy, k, n, chunks,
    /// bytes). One scan, for the metrics refresh (never per scrape).
    pub async fn health_by_scheme(&self) -> sqlx::Result<Vec<(i64, i64, i64, i64, i64)>> {
        on_db!(
            self,
            read | db | {
                sqlx::query_as(
                    "SELECT healthy, k, n, COUNT(*), CAST(COALESCE(SUM(blob_len), 0) AS BIGINT) FROM ( \
                   SELECT c.blob_len, c.data_shards AS k, c.data_shards + c.parity_shards AS n, \
                     SUM(CASE WHEN s.state = 1 AND s.proof > 0 AND r.state = 1 THEN 1 ELSE 0 END) AS healthy \
                   FROM chunks c JOIN shards s ON s.user_id = c.user_id AND s.chunk_id = c.chunk_id \
                   JOIN remotes r ON r.id = s.remote_id WHERE c.state = 2 \
                   GROUP BY c.user_id, c.chunk_id, c.blob_len, c.data_shards, c.parity_shards) AS h \
                 GROUP BY healthy, k, n ORDER BY healthy, k, n",
                )
                .fetch_all(db)
                .await
            }
        )
    }

    /// (accounts, quota bytes used, quota bytes granted, garbage shards):
    /// totals for the metrics refresh.
    pub async fn totals(&self) -> sqlx::Result<(i64, i64, i64, i64)> {
        on_db!(
            self,
            read | db | {
                sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM users), \
                       (SELECT CAST(COALESCE(SUM(used_bytes), 0) AS BIGINT) FROM users), \
                       (SELECT CAST(COALESCE(SUM(quota_bytes), 0) AS BIGINT) FROM users), \
                       (SELECT COUNT(*) FROM garbage)",
                )
                .fetch_one(db)
                .await
            }
        )
    }

    pub async fn set_remote_state(&self, id: i64, state: i64) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | db | {
                let r =
                    sqlx::query("UPDATE remotes SET state = $1 WHERE id = $2").bind(state).bind(id).execute(db).await?;
                Ok(r.rows_affected() == 1)
            }
        )
    }

    /// Shards the catalog still places on a remote.
    pub async fn shards_on(&self, remote: i64) -> sqlx::Result<i64> {
        on_db!(
            self,
            read | db
                | sqlx::query_scalar("SELECT COUNT(*) FROM shards WHERE remote_id = $1")
                    .bind(remote)
                    .fetch_one(db)
                    .await
        )
    }
}
