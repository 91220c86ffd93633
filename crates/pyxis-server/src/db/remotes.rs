//! The remote registry: who stores shards, where, with how much room, and
//! how far the network trusts them. A remote is its public key; its URL and
//! name are only what it last said about itself.

use crate::on_db;

use super::{Db, now_ms};

pub const ONLINE: i64 = 1;
pub const OFFLINE: i64 = 2;
pub const SUSPECT: i64 = 3;
pub const DRAINING: i64 = 4;
pub const DRAINED: i64 = 5;
/// The operator ended its admission: it gets no placements and no new
/// grants, its heartbeats are refused, its shards are rebuilt elsewhere.
pub const REVOKED: i64 = 6;

pub fn state_name(state: i64) -> &'static str {
    match state {
        ONLINE => "online",
        OFFLINE => "offline",
        SUSPECT => "suspect",
        DRAINING => "draining",
        DRAINED => "drained",
        REVOKED => "revoked",
        _ => "unknown",
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// Hash of the token of a remote of an earlier release; only used to
    /// bind its new key once.
    pub token_hash: Vec<u8>,
    pub public_key: Option<Vec<u8>>,
    pub capacity: i64,
    pub free: i64,
    pub used: i64,
    pub state: i64,
    pub last_seen: i64,
    pub created_at: i64,
    /// Audits failed since the last one it passed.
    pub audit_failures: i64,
    pub audits_passed: i64,
    pub capacity_cap: Option<i64>,
    /// 1 when vetted (an integer: PostgreSQL keeps it as BIGINT).
    pub vetted: i64,
    pub quarantined: i64,
    pub quarantined_bytes: i64,
    pub quarantine_release: Option<i64>,
}

impl RemoteRow {
    pub fn key(&self) -> Option<[u8; 32]> {
        self.public_key.as_deref().and_then(|k| k.try_into().ok())
    }

    pub fn is_vetted(&self) -> bool {
        self.vetted != 0
    }
}

/// What a remote reports about itself, already bounded by its admission's
/// capacity cap (see [`RemoteSpace::capped`]): placement weighs remotes by
/// `free`, so a remote can never claim more than the operator allowed.
#[derive(Debug, Clone, Copy)]
pub struct RemoteSpace {
    pub capacity: i64,
    pub free: i64,
    pub used: i64,
}

impl RemoteSpace {
    pub fn capped(capacity: u64, free: u64, used: u64, cap: Option<i64>) -> RemoteSpace {
        let clamp = |v: u64| v.min(i64::MAX as u64) as i64;
        let capacity = cap.map_or(clamp(capacity), |c| clamp(capacity).min(c.max(0)));
        let used = clamp(used);
        let free = clamp(free).min(capacity.saturating_sub(used)).max(0);
        RemoteSpace { capacity, free, used }
    }
}

/// How a new remote is let in.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    pub capacity_cap: Option<i64>,
    pub vetted: bool,
}

/// Why an admission token does not admit.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error("the admission token is unknown, used already, or expired: ask the operator for a new one")]
    BadToken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Inserts a remote (runs on any connection or transaction; a macro because
/// the two backends' executors share no trait object).
macro_rules! insert_remote {
    ($conn:expr, $key:expr, $name:expr, $url:expr, $space:expr, $admission:expr) => {{
        let now = now_ms();
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO remotes (name, url, token_hash, public_key, capacity, free, used, state, last_seen, \
             created_at, capacity_cap, vetted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) RETURNING id",
        )
        .bind($name)
        .bind($url)
        .bind(&[0u8; 0][..])
        .bind(&$key[..])
        .bind($space.capacity)
        .bind($space.free)
        .bind($space.used)
        .bind(ONLINE)
        .bind(now)
        .bind($admission.capacity_cap)
        .bind(i64::from($admission.vetted))
        .fetch_one($conn)
        .await
    }};
}

const COLUMNS: &str = "id, name, url, token_hash, public_key, capacity, free, used, state, last_seen, created_at, \
     audit_failures, audits_passed, capacity_cap, vetted, quarantined, quarantined_bytes, quarantine_release";

impl Db {
    /// A new remote with this key, admitted as `admission` says.
    pub async fn insert_remote(
        &self,
        key: &[u8; 32],
        name: &str,
        url: &str,
        space: RemoteSpace,
        admission: Admission,
    ) -> sqlx::Result<i64> {
        on_db!(self, write | c | insert_remote!(c, key, name, url, space, admission))
    }

    /// Spends a single-use admission token on a new remote with this key, in
    /// one transaction: the token is used exactly once even under races.
    pub async fn admit_with_token(
        &self,
        token_hash: &[u8; 32],
        key: &[u8; 32],
        name: &str,
        url: &str,
        reported: (u64, u64, u64),
    ) -> Result<(i64, Admission), AdmitError> {
        let now = now_ms();
        on_db!(
            self,
            write
                | c
                | {
                    let mut tx = c.begin().await?;
                    let row: Option<(Option<i64>, i64)> = sqlx::query_as(
                "UPDATE admission_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING capacity_cap, vetted",
            )
            .bind(now)
            .bind(&token_hash[..])
            .fetch_optional(&mut *tx)
            .await?;
                    let Some((capacity_cap, vetted)) = row else { return Err(AdmitError::BadToken) };
                    let admission = Admission { capacity_cap, vetted: vetted != 0 };
                    let space = RemoteSpace::capped(reported.0, reported.1, reported.2, capacity_cap);
                    let id = insert_remote!(&mut *tx, key, name, url, space, admission)?;
                    sqlx::query("UPDATE admission_tokens SET used_by = $1 WHERE token_hash = $2")
                        .bind(id)
                        .bind(&token_hash[..])
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok((id, admission))
                }
        )
    }

    pub async fn create_admission_token(
        &self,
        token_hash: &[u8; 32],
        admission: Admission,
        expires_at: i64,
    ) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query(
                    "INSERT INTO admission_tokens (token_hash, capacity_cap, vetted, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&token_hash[..])
                .bind(admission.capacity_cap)
                .bind(i64::from(admission.vetted))
                .bind(now_ms())
                .bind(expires_at)
                .execute(c)
                .await
                .map(|_| ())
            }
        )
    }

    pub async fn remote(&self, id: i64) -> sqlx::Result<Option<RemoteRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM remotes WHERE id = $1"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(id).fetch_optional(c).await)
    }

    pub async fn remote_by_key(&self, key: &[u8; 32]) -> sqlx::Result<Option<RemoteRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM remotes WHERE public_key = $1"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(&key[..]).fetch_optional(c).await)
    }

    /// Binds a key to a remote of an earlier release (one that has none yet)
    /// and forgets its token: from now on only the key speaks for it.
    pub async fn bind_key(&self, id: i64, key: &[u8; 32]) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query(
                    "UPDATE remotes SET public_key = $1, token_hash = $2 WHERE id = $3 AND public_key IS NULL",
                )
                .bind(&key[..])
                .bind(&[0u8; 0][..])
                .bind(id)
                .execute(c)
                .await?;
                Ok(r.rows_affected() == 1)
            }
        )
    }

    /// Records a heartbeat (or a re-registration): the remote is alive with this
    /// much room at this URL. A draining, drained, suspect or revoked remote
    /// keeps its state: being alive does not undo failed audits or an
    /// operator's decision.
    pub async fn remote_seen(&self, id: i64, url: &str, space: RemoteSpace) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query(
                    "UPDATE remotes SET url = $1, capacity = $2, free = $3, used = $4, last_seen = $5, \
                 state = CASE WHEN state IN ($6, $7, $8, $9) THEN state ELSE $10 END WHERE id = $11",
                )
                .bind(url)
                .bind(space.capacity)
                .bind(space.free)
                .bind(space.used)
                .bind(now_ms())
                .bind(DRAINING)
                .bind(DRAINED)
                .bind(SUSPECT)
                .bind(REVOKED)
                .bind(ONLINE)
                .bind(id)
                .execute(c)
                .await
                .map(|_| ())
            }
        )
    }

    /// What a remote reports it keeps in quarantine.
    pub async fn set_quarantine(&self, id: i64, shards: u64, bytes: u64) -> sqlx::Result<()> {
        let clamp = |v: u64| v.min(i64::MAX as u64) as i64;
        on_db!(
            self,
            write | c | {
                sqlx::query("UPDATE remotes SET quarantined = $1, quarantined_bytes = $2 WHERE id = $3")
                    .bind(clamp(shards))
                    .bind(clamp(bytes))
                    .bind(id)
                    .execute(c)
                    .await
                    .map(|_| ())
            }
        )
    }

    /// The operator releases a remote's quarantine (recorded, then told to
    /// the remote with its next heartbeat).
    pub async fn release_quarantine(&self, id: i64) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("UPDATE remotes SET quarantine_release = $1 WHERE id = $2")
                    .bind(now_ms())
                    .bind(id)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected() == 1)
            }
        )
    }

    pub async fn set_vetted(&self, id: i64) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("UPDATE remotes SET vetted = 1 WHERE id = $1").bind(id).execute(c).await?;
                Ok(r.rows_affected() == 1)
            }
        )
    }

    /// Marks a remote unreachable now (a client reported it and the server's
    /// own probe failed), without waiting for its heartbeats to lapse.
    pub async fn mark_unreachable(&self, id: i64) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("UPDATE remotes SET state = $1 WHERE id = $2 AND state = $3")
                    .bind(OFFLINE)
                    .bind(id)
                    .bind(ONLINE)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected() == 1)
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

    /// At start: the remotes online when the server stopped get a fresh
    /// `last_seen`, so the server's own downtime is not counted as theirs
    /// (they have had no one to heartbeat to).
    pub async fn forgive_downtime(&self) -> sqlx::Result<u64> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("UPDATE remotes SET last_seen = $1 WHERE state = $2")
                    .bind(now_ms())
                    .bind(ONLINE)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected())
            }
        )
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
