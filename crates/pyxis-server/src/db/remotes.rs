//! The remote registry: who stores shards, where, with how much room.

use crate::on_db;

use super::{Db, now_ms};

pub const ONLINE: i64 = 1;
pub const OFFLINE: i64 = 2;
pub const SUSPECT: i64 = 3;
pub const DRAINING: i64 = 4;
pub const DRAINED: i64 = 5;

pub fn state_name(state: i64) -> &'static str {
    match state {
        ONLINE => "online",
        OFFLINE => "offline",
        SUSPECT => "suspect",
        DRAINING => "draining",
        DRAINED => "drained",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub token_hash: Vec<u8>,
    pub capacity: i64,
    pub free: i64,
    pub used: i64,
    pub state: i64,
    pub last_seen: i64,
    pub created_at: i64,
    /// Audits failed since the last one it passed.
    pub audit_failures: i64,
}

/// What a remote reports about itself.
#[derive(Debug, Clone, Copy)]
pub struct RemoteSpace {
    pub capacity: i64,
    pub free: i64,
    pub used: i64,
}

const COLUMNS: &str = "id, name, url, token_hash, capacity, free, used, state, last_seen, created_at, audit_failures";

impl Db {
    pub async fn insert_remote(
        &self,
        name: &str,
        url: &str,
        token_hash: &[u8],
        space: RemoteSpace,
    ) -> sqlx::Result<i64> {
        let now = now_ms();
        on_db!(
            self,
            write | c | {
                sqlx::query_scalar(
                    "INSERT INTO remotes (name, url, token_hash, capacity, free, used, state, last_seen, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(name)
                .bind(url)
                .bind(token_hash)
                .bind(space.capacity)
                .bind(space.free)
                .bind(space.used)
                .bind(ONLINE)
                .bind(now)
                .bind(now)
                .fetch_one(c)
                .await
            }
        )
    }

    pub async fn remote(&self, id: i64) -> sqlx::Result<Option<RemoteRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM remotes WHERE id = $1"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(id).fetch_optional(c).await)
    }

    /// Records a heartbeat (or a re-registration): the remote is alive with this
    /// much room at this URL. A draining, drained or suspect remote keeps its
    /// state: being alive does not undo failed audits or an operator's drain.
    pub async fn remote_seen(&self, id: i64, url: &str, space: RemoteSpace) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query(
                    "UPDATE remotes SET url = $1, capacity = $2, free = $3, used = $4, last_seen = $5, \
                 state = CASE WHEN state IN ($6, $7, $10) THEN state ELSE $8 END WHERE id = $9",
                )
                .bind(url)
                .bind(space.capacity)
                .bind(space.free)
                .bind(space.used)
                .bind(now_ms())
                .bind(DRAINING)
                .bind(DRAINED)
                .bind(ONLINE)
                .bind(id)
                .bind(SUSPECT)
                .execute(c)
                .await
                .map(|_| ())
            }
        )
    }

    pub async fn set_remote_token(&self, id: i64, token_hash: &[u8]) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query("UPDATE remotes SET token_hash = $1 WHERE id = $2")
                    .bind(token_hash)
                    .bind(id)
                    .execute(c)
                    .await
                    .map(|_| ())
            }
        )
    }

    /// Remotes that take new shards and serve old ones.
    pub async fn online_remotes(&self) -> sqlx::Result<Vec<RemoteRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM remotes WHERE state = $1 ORDER BY id"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(ONLINE).fetch_all(c).await)
    }

    pub async fn all_remotes(&self) -> sqlx::Result<Vec<(RemoteRow, i64)>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM remotes ORDER BY id"));
        let rows: Vec<RemoteRow> = on_db!(self, read | c | sqlx::query_as(sql).fetch_all(c).await)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let n: i64 = on_db!(
                self,
                read | c | {
                    sqlx::query_scalar("SELECT COUNT(*) FROM shards WHERE remote_id = $1").bind(r.id).fetch_one(c).await
                }
            )?;
            out.push((r, n));
        }
        Ok(out)
    }

    /// Marks online remotes silent since `before` (Unix ms) offline; returns
    /// how many changed.
    pub async fn mark_silent_offline(&self, before: i64) -> sqlx::Result<u64> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("UPDATE remotes SET state = $1 WHERE state = $2 AND last_seen < $3")
                    .bind(OFFLINE)
                    .bind(ONLINE)
                    .bind(before)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected())
            }
        )
    }
}
