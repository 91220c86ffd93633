//! Chunks and shards: what each user has stored, and where.
//!
//! A chunk row is created *placed* when the server hands out put grants, and
//! becomes *stored* once the success threshold of its shards have receipts
//! signed by the remotes they were placed on; only stored chunks can be
//! committed. Quota is charged at placement (the chunk's sealed blob length,
//! whatever the scheme: the server picks the scheme, and remotes take exactly
//! the shard length it grants), so uploading without committing cannot dodge it.

use pyxis_proto::{ChunkId, ShardHash};

use crate::on_db;

use super::{Db, now_ms};

pub const PLACED: i64 = 1;
pub const STORED: i64 = 2;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChunkRow {
    pub chunk_id: Vec<u8>,
    pub data_shards: i64,
    pub parity_shards: i64,
    pub blob_len: i64,
    pub refcount: i64,
    pub state: i64,
}

/// A shard with the remote that holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShardLoc {
    pub idx: i64,
    pub hash: Vec<u8>,
    pub remote_id: i64,
    pub state: i64,
    pub proof: i64,
    pub url: String,
    pub remote_state: i64,
    pub public_key: Option<Vec<u8>>,
    pub vetted: i64,
}

/// A chunk to place: its scheme, size, and the remote chosen for each shard.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub id: ChunkId,
    pub data: i64,
    pub parity: i64,
    pub blob_len: i64,
    pub shards: Vec<(i64, ShardHash, i64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("quota exceeded: {used} of {quota} bytes used, {need} more needed")]
    Quota { used: i64, quota: i64, need: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

const CHUNK_COLUMNS: &str = "chunk_id, data_shards, parity_shards, blob_len, refcount, state";

impl Db {
    /// The ids among `ids` that this user has not stored (absent, or placed
    /// but never confirmed).
    /// One query per 500 ids (a query per id was a thread hand-off each on
    /// SQLite: 2,000 for a changed 1 GiB file).
    pub async fn missing_chunks(&self, user: i64, ids: &[ChunkId]) -> sqlx::Result<Vec<ChunkId>> {
        let mut stored = std::collections::HashSet::new();
        for batch in ids.chunks(500) {
            let marks: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT chunk_id FROM chunks WHERE user_id = $1 AND state = $2 AND chunk_id IN ({})",
                marks.join(", ")
            );
            let found: Vec<Vec<u8>> = on_db!(
                self,
                read | c | {
                    let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(crate::db::sql_for(c, sql.clone())))
                        .bind(user)
                        .bind(STORED);
                    for id in batch {
                        q = q.bind(&id.0[..]);
                    }
                    q.fetch_all(c).await
                }
            )?;
            stored.extend(found);
        }
        Ok(ids.iter().filter(|id| !stored.contains(&id.0[..])).copied().collect())
    }

    /// Every chunk a user has stored, in id order (for `pyxis admin check`
    /// and tests).
    pub async fn chunk_ids(&self, user: i64) -> sqlx::Result<Vec<ChunkId>> {
        let rows: Vec<Vec<u8>> = on_db!(
            self,
            read | c
                | sqlx::query_scalar("SELECT chunk_id FROM chunks WHERE user_id = $1 AND state = $2 ORDER BY chunk_id")
                    .bind(user)
                    .bind(STORED)
                    .fetch_all(c)
                    .await
        )?;
        Ok(rows.iter().filter_map(|r| ChunkId::from_slice(r)).collect())
    }

    pub async fn chunk(&self, user: i64, id: &ChunkId) -> sqlx::Result<Option<ChunkRow>> {
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {CHUNK_COLUMNS} FROM chunks WHERE user_id = $1 AND chunk_id = $2"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(user).bind(&id.0[..]).fetch_optional(c).await)
    }

    /// Records placements (`chunks` must have distinct ids). Chunks already stored are left alone (returned as
    /// `true`); placed ones get their shard rows replaced (a resumed upload);
    /// new ones are charged to the quota first, all or nothing.
    pub async fn place(&self, user: i64, chunks: &[NewChunk], expires_at: i64) -> Result<Vec<bool>, PlaceError> {
        let now = now_ms();
        on_db!(
            self,
            write
                | c
                | {
                    let mut tx = c.begin().await?;
                    let mut states = Vec::with_capacity(chunks.len());
                    let mut need = 0i64;
                    for ch in chunks {
                        let state: Option<i64> =
                            sqlx::query_scalar("SELECT state FROM chunks WHERE user_id = $1 AND chunk_id = $2")
                                .bind(user)
                                .bind(&ch.id.0[..])
                                .fetch_optional(&mut *tx)
                                .await?;
                        if state.is_none() {
                            need += ch.blob_len;
                        }
                        states.push(state);
                    }
                    if need > 0 {
                        let charged = sqlx::query(
                    "UPDATE users SET used_bytes = used_bytes + $1 WHERE id = $2 AND used_bytes + $1 <= quota_bytes",
                )
                .bind(need)
                .bind(user)
                .execute(&mut *tx)
                .await?;
                        if charged.rows_affected() == 0 {
                            let (used, quota): (i64, i64) =
                                sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
                                    .bind(user)
                                    .fetch_one(&mut *tx)
                                    .await?;
                            return Err(PlaceError::Quota { used, quota, need });
                        }
                    }
                    let mut exists = Vec::with_capacity(chunks.len());
                    for (ch, state) in chunks.iter().zip(&states) {
                        if *state == Some(STORED) {
                            exists.push(true);
                            continue;
                        }
                        exists.push(false);
                        sqlx::query(
                    "INSERT INTO chunks (user_id, chunk_id, data_shards, parity_shards, blob_len, state, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (user_id, chunk_id) DO UPDATE SET data_shards = $3, parity_shards = $4, expires_at = $8",
                )
                .bind(user)
                .bind(&ch.id.0[..])
                .bind(ch.data)
                .bind(ch.parity)
                .bind(ch.blob_len)
                .bind(PLACED)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                        // A re-placement (a resumed or re-encoded upload): the
                        // old locations may hold what was uploaded there, so
                        // they become garbage, unless placed again as they were.
                        sqlx::query(
                            "INSERT INTO garbage (hash, remote_id, created_at) SELECT hash, remote_id, $1 FROM shards \
                             WHERE user_id = $2 AND chunk_id = $3 ON CONFLICT DO NOTHING",
                        )
                        .bind(now)
                        .bind(user)
                        .bind(&ch.id.0[..])
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("DELETE FROM shards WHERE user_id = $1 AND chunk_id = $2")
                            .bind(user)
                            .bind(&ch.id.0[..])
                            .execute(&mut *tx)
                            .await?;
                        for (idx, hash, remote) in &ch.shards {
                            sqlx::query("DELETE FROM garbage WHERE hash = $1 AND remote_id = $2 AND created_at = $3")
                                .bind(&hash.0[..])
                                .bind(remote)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("INSERT INTO shards (user_id, chunk_id, idx, hash, remote_id) VALUES ($1, $2, $3, $4, $5)")
                        .bind(user)
                        .bind(&ch.id.0[..])
                        .bind(idx)
                        .bind(&hash.0[..])
                        .bind(remote)
                        .execute(&mut *tx)
                        .await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(exists)
                }
        )
    }

    /// A chunk's shards with their remotes, by index.
    pub async fn chunk_shards(&self, user: i64, id: &ChunkId) -> sqlx::Result<Vec<ShardLoc>> {
        on_db!(
            self,
            read | c
                | {
                    sqlx::query_as(
                    "SELECT s.idx, s.hash, s.remote_id, s.state, s.proof, r.url, r.state AS remote_state, r.public_key, \
                 r.vetted FROM shards s JOIN remotes r ON r.id = s.remote_id \
                 WHERE s.user_id = $1 AND s.chunk_id = $2 ORDER BY s.idx",
                )
                .bind(user)
                .bind(&id.0[..])
                .fetch_all(c)
                .await
                }
        )
    }

    /// Moves a shard of a chunk being uploaded to another remote; a pending
    /// chunk's reservation is renewed to `expires_at`. The old location
    /// becomes garbage: the failed upload may have been stored there after
    /// all (an answer lost on the way back).
    pub async fn move_shard(
        &self,
        user: i64,
        id: &ChunkId,
        idx: i64,
        remote: i64,
        expires_at: i64,
    ) -> sqlx::Result<bool> {
        let now = now_ms();
        on_db!(
            self,
            write
                | c
                | {
                    let mut tx = c.begin().await?;
                    sqlx::query(
                        "INSERT INTO garbage (hash, remote_id, created_at) SELECT hash, remote_id, $1 FROM shards \
                     WHERE user_id = $2 AND chunk_id = $3 AND idx = $4 AND remote_id <> $5 ON CONFLICT DO NOTHING",
                    )
                    .bind(now)
                    .bind(user)
                    .bind(&id.0[..])
                    .bind(idx)
                    .bind(remote)
                    .execute(&mut *tx)
                    .await?;
                    let r = sqlx::query(
                    "UPDATE shards SET remote_id = $1, state = 1, proof = 0 WHERE user_id = $2 AND chunk_id = $3 AND idx = $4",
                )
                .bind(remote)
                .bind(user)
                .bind(&id.0[..])
                .bind(idx)
                .execute(&mut *tx)
                .await?;
                    sqlx::query(
                    "UPDATE chunks SET expires_at = $1 WHERE user_id = $2 AND chunk_id = $3 AND expires_at IS NOT NULL \
                     AND expires_at < $1",
                )
                .bind(expires_at)
                .bind(user)
                .bind(&id.0[..])
                .execute(&mut *tx)
                .await?;
                    tx.commit().await?;
                    Ok(r.rows_affected() == 1)
                }
        )
    }

    /// Drops chunks of a failed put that no version references: their rows
    /// go, their quota comes back, their shards become garbage to collect.
    /// Returns the bytes freed.
    pub async fn abandon(&self, user: i64, ids: &[ChunkId]) -> sqlx::Result<i64> {
        let now = now_ms();
        on_db!(
            self,
            write | c | {
                let mut tx = c.begin().await?;
                let mut freed = 0i64;
                for id in ids {
                    let row: Option<(i64, i64)> =
                        sqlx::query_as("SELECT blob_len, refcount FROM chunks WHERE user_id = $1 AND chunk_id = $2")
                            .bind(user)
                            .bind(&id.0[..])
                            .fetch_optional(&mut *tx)
                            .await?;
                    let Some((blob_len, 0)) = row else { continue };
                    sqlx::query(
                        "INSERT INTO garbage (hash, remote_id, created_at) SELECT hash, remote_id, $1 FROM shards \
                     WHERE user_id = $2 AND chunk_id = $3 ON CONFLICT DO NOTHING",
                    )
                    .bind(now)
                    .bind(user)
                    .bind(&id.0[..])
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM chunks WHERE user_id = $1 AND chunk_id = $2 AND refcount = 0")
                        .bind(user)
                        .bind(&id.0[..])
                        .execute(&mut *tx)
                        .await?;
                    freed += blob_len;
                }
                sqlx::query("UPDATE users SET used_bytes = used_bytes - $1 WHERE id = $2")
                    .bind(freed)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(freed)
            }
        )
    }

    /// Records verified receipts for shards of chunks (each still at the
    /// remote that receipted it: a compare-and-set, since a replacement may
    /// have moved it since) and makes each chunk stored once its threshold
    /// of shards have one. One transaction for the whole batch, three
    /// statements a chunk: a put of 1 GiB sends a thousand chunks. Returns,
    /// for each chunk, how many of its shards have a receipt now.
    pub async fn record_receipts(&self, user: i64, chunks: &[Receipted<'_>]) -> sqlx::Result<Vec<i64>> {
        on_db!(
            self,
            write | c | {
                let mut tx = c.begin().await?;
                let mut have = Vec::with_capacity(chunks.len());
                for r in chunks {
                    if !r.shards.is_empty() {
                        // (idx = $3 AND remote_id = $4) OR (idx = $5 AND remote_id = $6) ...
                        let pairs = (0..r.shards.len())
                            .map(|i| format!("(idx = ${} AND remote_id = ${})", 3 + 2 * i, 4 + 2 * i))
                            .collect::<Vec<_>>()
                            .join(" OR ");
                        let sql = format!(
                            "UPDATE shards SET proof = 1, state = 1 WHERE user_id = $1 AND chunk_id = $2 \
                             AND proof <> 1 AND ({pairs})"
                        );
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user).bind(&r.id.0[..]);
                        for (idx, remote) in r.shards {
                            q = q.bind(*idx).bind(*remote);
                        }
                        q.execute(&mut *tx).await?;
                    }
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM shards WHERE user_id = $1 AND chunk_id = $2 AND proof > 0 AND state = 1",
                    )
                    .bind(user)
                    .bind(&r.id.0[..])
                    .fetch_one(&mut *tx)
                    .await?;
                    if n >= r.threshold {
                        sqlx::query(
                            "UPDATE chunks SET state = $1 WHERE user_id = $2 AND chunk_id = $3 AND state <> $1",
                        )
                        .bind(STORED)
                        .bind(user)
                        .bind(&r.id.0[..])
                        .execute(&mut *tx)
                        .await?;
                    }
                    have.push(n);
                }
                tx.commit().await?;
                Ok(have)
            }
        )
    }
}

/// One chunk's verified receipts: (shard index, remote) pairs, and how many
/// receipted shards make it stored.
#[derive(Debug)]
pub struct Receipted<'a> {
    pub id: &'a ChunkId,
    pub shards: &'a [(i64, i64)],
    pub threshold: i64,
}
