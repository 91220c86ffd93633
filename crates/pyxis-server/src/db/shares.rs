//! Shares: who may read which path of whose tree, and the wrapped keys that
//! let them (stored as the owner's client made them; opened by clients only).

use std::collections::{HashMap, HashSet};

use pyxis_proto::ChunkId;

use super::{Db, now_ms};
use crate::db::catalog::descendants;
use crate::on_db;

/// One share with both users' names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareRow {
    pub id: i64,
    pub owner_id: i64,
    pub owner: String,
    pub grantee_id: i64,
    pub grantee: String,
    pub path: String,
    pub mode: i64,
    pub owner_key: Vec<u8>,
    pub grantee_key: Vec<u8>,
    pub created_at: i64,
}

/// A new share, validated by the caller.
#[derive(Debug)]
pub struct NewShare<'a> {
    pub owner: i64,
    pub path: &'a str,
    pub grantee: i64,
    pub mode: i64,
    pub owner_key: &'a [u8],
    pub grantee_key: &'a [u8],
}

const SHARE_SELECT: &str = "SELECT s.id, s.owner_id, o.username AS owner, s.grantee_id, g.username AS grantee, s.path, \
     s.mode, s.owner_key, s.grantee_key, s.created_at \
     FROM shares s JOIN users o ON o.id = s.owner_id JOIN users g ON g.id = s.grantee_id";

impl Db {
    /// Creates a share; `None` if this owner already shares this path with
    /// this grantee (the owner's client then reuses that share's key).
    pub async fn create_share(&self, s: &NewShare<'_>) -> sqlx::Result<Option<i64>> {
        on_db!(
            self,
            write
                | c
                | {
                    sqlx::query_scalar(
                    "INSERT INTO shares (owner_id, path, grantee_id, mode, owner_key, grantee_key, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (owner_id, path, grantee_id) DO NOTHING RETURNING id",
                )
                .bind(s.owner)
                .bind(s.path)
                .bind(s.grantee)
                .bind(s.mode)
                .bind(s.owner_key)
                .bind(s.grantee_key)
                .bind(now_ms())
                .fetch_optional(c)
                .await
                }
        )
    }

    pub async fn share(&self, id: i64) -> sqlx::Result<Option<ShareRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{SHARE_SELECT} WHERE s.id = $1"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(id).fetch_optional(c).await)
    }

    /// Shares `user` owns (`owned`) or is the grantee of, by path.
    pub async fn shares(&self, user: i64, owned: bool) -> sqlx::Result<Vec<ShareRow>> {
        let col = if owned { "s.owner_id" } else { "s.grantee_id" };
        let sql = sqlx::AssertSqlSafe(format!("{SHARE_SELECT} WHERE {col} = $1 ORDER BY s.path, s.id"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(user).fetch_all(c).await)
    }

    /// Ends a share (its wraps go with it); false if there was none.
    pub async fn remove_share(&self, owner: i64, path: &str, grantee: i64) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("DELETE FROM shares WHERE owner_id = $1 AND path = $2 AND grantee_id = $3")
                    .bind(owner)
                    .bind(path)
                    .bind(grantee)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected() > 0)
            }
        )
    }

    /// Stores share wraps for `(path, version, wrap)` of the share's owner's
    /// tree (a wrap replaces an older one of the same version). The caller
    /// checked every path lies under the share. Returns how many were stored.
    pub async fn add_share_keys(&self, share: &ShareRow, items: &[(String, i64, Vec<u8>)]) -> sqlx::Result<u64> {
        let mut stored = 0;
        on_db!(
            self,
            write | c | {
                let mut tx = c.begin().await?;
                for (path, seq, wrapped) in items {
                    let r = sqlx::query(
                        "INSERT INTO share_keys (share_id, version_id, wrapped) \
                         SELECT $1, v.id, $2 FROM versions v JOIN entries e ON e.id = v.entry_id \
                         WHERE e.user_id = $3 AND e.path = $4 AND v.seq = $5 \
                         ON CONFLICT (share_id, version_id) DO UPDATE SET wrapped = excluded.wrapped",
                    )
                    .bind(share.id)
                    .bind(wrapped)
                    .bind(share.owner_id)
                    .bind(path)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                    stored += r.rows_affected();
                }
                tx.commit().await
            }
        )?;
        Ok(stored)
    }

    /// The share's wraps of these versions (absent: none was made).
    pub async fn share_keys(&self, share: i64, versions: &[i64]) -> sqlx::Result<HashMap<i64, Vec<u8>>> {
        let mut out = HashMap::new();
        for batch in versions.chunks(1000) {
            let marks: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT version_id, wrapped FROM share_keys WHERE share_id = $1 AND version_id IN ({})",
                marks.join(", ")
            );
            let rows: Vec<(i64, Vec<u8>)> = on_db!(
                self,
                read | c | {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(crate::db::sql_for(c, sql.clone()))).bind(share);
                    for v in batch {
                        q = q.bind(v);
                    }
                    q.fetch_all(c).await
                }
            )?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Which of `ids` (chunks of user `of`) a version of `owner`'s tree
    /// uses: under a share's path *and* with that share's keys (not older
    /// versions, which may have been packed with files its grantee may not
    /// read), or anywhere in the tree without one. What a caller may locate
    /// of another user's chunks: those a tree it reads refers to.
    pub async fn referenced_chunks(
        &self,
        owner: i64,
        share: Option<&ShareRow>,
        of: i64,
        ids: &[ChunkId],
    ) -> sqlx::Result<HashSet<ChunkId>> {
        let dir = share.map_or("/", |s| s.path.as_str());
        let (lo, hi) = descendants(dir);
        let share_id = share.map(|s| s.id);
        let mut out = HashSet::new();
        for id in ids {
            let hit: Option<i64> = on_db!(
                self,
                read | c
                    | {
                        sqlx::query_scalar(
                        "SELECT vc.version_id FROM version_chunks vc JOIN versions v ON v.id = vc.version_id \
                         JOIN entries e ON e.id = v.entry_id \
                         WHERE vc.user_id = $7 AND vc.chunk_id = $2 AND e.user_id = $1 \
                         AND (e.path = $3 OR (e.path > $4 AND e.path < $5)) \
                         AND ($6 IS NULL OR EXISTS (SELECT 1 FROM share_keys sk WHERE sk.version_id = v.id AND sk.share_id = $6)) \
                         LIMIT 1",
                    )
                    .bind(owner)
                    .bind(&id.0[..])
                    .bind(dir)
                    .bind(&lo)
                    .bind(&hi)
                    .bind(share_id)
                    .bind(of)
                    .fetch_optional(c)
                    .await
                    }
            )?;
            if hit.is_some() {
                out.insert(*id);
            }
        }
        Ok(out)
    }
}
