//! Garbage and inventories: shards the catalog no longer wants, their
//! collection from remotes, and what the catalog says of the shards a
//! remote reports holding. Unknown is never unwanted: only a recorded
//! collection makes a remote delete (docs/PROTOCOL.md, "Inventory and
//! quarantine").

use pyxis_proto::ShardHash;

use crate::on_db;

use super::durability::PROOF_LEGACY;
use super::remotes::ONLINE;
use super::{Db, now_ms};

/// A garbage shard and where it is.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GarbageRow {
    pub hash: Vec<u8>,
    pub remote_id: i64,
    pub url: String,
    pub remote_state: i64,
}

/// What the catalog says about a remote's inventory batch.
#[derive(Debug, Default)]
pub struct Inventory {
    pub collected: Vec<ShardHash>,
    pub unknown: Vec<ShardHash>,
    pub adopted: u64,
}

impl Db {
    /// Records shards the catalog does not want as garbage on their remotes
    /// (collection deletes them unless they are wanted there by then).
    pub async fn add_garbage(&self, shards: &[(ShardHash, i64)]) -> sqlx::Result<()> {
        let now = now_ms();
        on_db!(
            self,
            write | db | {
                let mut tx = db.begin().await?;
                for (hash, remote) in shards {
                    sqlx::query(
                        "INSERT INTO garbage (hash, remote_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(&hash.0[..])
                    .bind(remote)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            }
        )
    }

    /// Garbage shards older than `before` (Unix ms), oldest first.
    pub async fn garbage(&self, before: i64, limit: i64) -> sqlx::Result<Vec<GarbageRow>> {
        on_db!(
            self,
            read | db
                | {
                    sqlx::query_as(
                "SELECT g.hash, g.remote_id, r.url, r.state AS remote_state FROM garbage g JOIN remotes r ON r.id = g.remote_id \
                 WHERE g.created_at < $1 ORDER BY g.created_at LIMIT $2",
            )
            .bind(before)
            .bind(limit)
            .fetch_all(db)
            .await
                }
        )
    }

    /// A garbage shard is gone from its remote, unless the catalog has placed
    /// the very same shard there again meanwhile (then it is not garbage).
    pub async fn garbage_deleted(&self, hash: &[u8], remote: i64) -> sqlx::Result<()> {
        on_db!(
            self,
            write | db | {
                sqlx::query("DELETE FROM garbage WHERE hash = $1 AND remote_id = $2")
                    .bind(hash)
                    .bind(remote)
                    .execute(db)
                    .await
                    .map(|_| ())
            }
        )
    }

    /// Whether the catalog (still or again) wants this shard on this remote.
    pub async fn shard_wanted(&self, hash: &[u8], remote: i64) -> sqlx::Result<bool> {
        let n: i64 = on_db!(
            self,
            read | db | {
                sqlx::query_scalar("SELECT COUNT(*) FROM shards WHERE hash = $1 AND remote_id = $2")
                    .bind(hash)
                    .bind(remote)
                    .fetch_one(db)
                    .await
            }
        )?;
        Ok(n > 0)
    }

    /// Whether the catalog recorded the decision to delete this shard from
    /// this remote (a garbage row).
    async fn shard_collected(&self, hash: &[u8], remote: i64) -> sqlx::Result<bool> {
        let n: i64 = on_db!(
            self,
            read | db | {
                sqlx::query_scalar("SELECT COUNT(*) FROM garbage WHERE hash = $1 AND remote_id = $2")
                    .bind(hash)
                    .bind(remote)
                    .fetch_one(db)
                    .await
            }
        )?;
        Ok(n > 0)
    }

    /// Classifies a batch of a remote's inventory. A shard the catalog places
    /// there is wanted; one it recorded as garbage there is collected (the
    /// only answer that lets a remote delete); one it knows elsewhere, where
    /// it is not healthy (lost, never receipted, or on a remote that is not
    /// online: a catalog restored from a backup, a remote it forgot), is
    /// re-adopted here unless this remote already holds a shard of that
    /// chunk; everything else is unknown, and the remote keeps it aside.
    pub async fn inventory(&self, remote: i64, hashes: &[ShardHash]) -> sqlx::Result<Inventory> {
        let mut inv = Inventory::default();
        for h in hashes {
            if self.shard_wanted(&h.0, remote).await? {
                continue;
            }
            if self.shard_collected(&h.0, remote).await? {
                inv.collected.push(*h);
            } else if self.adopt(remote, h).await? {
                inv.adopted += 1;
            } else {
                inv.unknown.push(*h);
            }
        }
        Ok(inv)
    }

    /// Moves a shard the catalog knows at an unhealthy location to `remote`,
    /// which reports holding it. Recorded as unproven (`proof` 2): the next
    /// audits check it without blaming anyone if it is not there.
    async fn adopt(&self, remote: i64, hash: &ShardHash) -> sqlx::Result<bool> {
        let rows: Vec<(i64, Vec<u8>, i64, i64)> = on_db!(
            self,
            read | db
                | {
                    sqlx::query_as(
                    "SELECT s.user_id, s.chunk_id, s.idx, s.remote_id FROM shards s JOIN remotes r ON r.id = s.remote_id \
                     WHERE s.hash = $1 AND NOT (s.state = 1 AND s.proof > 0 AND r.state = $2) \
                     AND NOT EXISTS (SELECT 1 FROM shards o WHERE o.user_id = s.user_id AND o.chunk_id = s.chunk_id \
                                     AND o.remote_id = $3)",
                )
                .bind(&hash.0[..])
                .bind(ONLINE)
                .bind(remote)
                .fetch_all(db)
                .await
                }
        )?;
        let Some((user, chunk, idx, old)) = rows.into_iter().next() else { return Ok(false) };
        let now = now_ms();
        on_db!(
            self,
            write | db | {
                let mut tx = db.begin().await?;
                let moved = sqlx::query(
                    "UPDATE shards SET remote_id = $1, state = 1, proof = $2 \
                     WHERE user_id = $3 AND chunk_id = $4 AND idx = $5 AND remote_id = $6 AND hash = $7",
                )
                .bind(remote)
                .bind(PROOF_LEGACY)
                .bind(user)
                .bind(&chunk)
                .bind(idx)
                .bind(old)
                .bind(&hash.0[..])
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if moved {
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
}
