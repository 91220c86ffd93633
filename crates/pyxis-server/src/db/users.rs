//! Users and their sessions.

use crate::on_db;

use super::{Db, now_ms};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub kdf_salt: Vec<u8>,
    pub kdf_memory_kib: i64,
    pub kdf_iterations: i64,
    pub kdf_parallelism: i64,
    pub login_hash: String,
    pub wrapped_master_key: Vec<u8>,
    pub reader_public_key: Vec<u8>,
    pub quota_bytes: i64,
    pub used_bytes: i64,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub delete_after: Option<i64>,
    pub deleted_at: Option<i64>,
}

/// Everything signup stores.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub kdf_salt: &'a [u8],
    pub kdf: (i64, i64, i64),
    pub login_hash: &'a str,
    pub wrapped_master_key: &'a [u8],
    pub reader_public_key: &'a [u8],
    pub quota_bytes: i64,
}

/// A live session, as `pyxis devices` lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub device: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What a new password replaces.
#[derive(Debug)]
pub struct NewPasswordRow<'a> {
    pub kdf_salt: &'a [u8],
    pub kdf: (i64, i64, i64),
    pub login_hash: &'a str,
    pub wrapped_master_key: &'a [u8],
}

const USER_COLUMNS: &str = "id, username, kdf_salt, kdf_memory_kib, kdf_iterations, kdf_parallelism, login_hash, \
     wrapped_master_key, reader_public_key, quota_bytes, used_bytes, created_at, disabled_at, delete_after, deleted_at";

impl Db {
    /// Creates a user; `None` if the name is taken.
    pub async fn create_user(&self, u: &NewUser<'_>) -> sqlx::Result<Option<i64>> {
        on_db!(
            self,
            write | c | {
                sqlx::query_scalar(
                "INSERT INTO users (username, kdf_salt, kdf_memory_kib, kdf_iterations, kdf_parallelism, login_hash, \
                 wrapped_master_key, reader_public_key, quota_bytes, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (username) DO NOTHING RETURNING id",
            )
            .bind(u.username)
            .bind(u.kdf_salt)
            .bind(u.kdf.0)
            .bind(u.kdf.1)
            .bind(u.kdf.2)
            .bind(u.login_hash)
            .bind(u.wrapped_master_key)
            .bind(u.reader_public_key)
            .bind(u.quota_bytes)
            .bind(now_ms())
            .fetch_optional(c)
            .await
            }
        )
    }

    pub async fn user_by_name(&self, name: &str) -> sqlx::Result<Option<UserRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(name).fetch_optional(c).await)
    }

    pub async fn user_by_id(&self, id: i64) -> sqlx::Result<Option<UserRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(id).fetch_optional(c).await)
    }

    /// Sets a user's quota; false if there is no such user.
    pub async fn set_quota(&self, name: &str, quota: i64) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let r = sqlx::query("UPDATE users SET quota_bytes = $1 WHERE username = $2")
                    .bind(quota)
                    .bind(name)
                    .execute(c)
                    .await?;
                Ok(r.rows_affected() == 1)
            }
        )
    }

    /// Replaces a user's password (salt, KDF, login hash, wrapped master
    /// key) and ends every session but `keep`, in one transaction: no moment
    /// exists where the old password's sessions live on under the new one.
    pub async fn set_password(&self, user: i64, p: &NewPasswordRow<'_>, keep: Option<&str>) -> sqlx::Result<()> {
        let now = now_ms();
        on_db!(
            self,
            write | c | {
                let mut tx = c.begin().await?;
                sqlx::query(
                    "UPDATE users SET kdf_salt = $1, kdf_memory_kib = $2, kdf_iterations = $3, kdf_parallelism = $4, \
                     login_hash = $5, wrapped_master_key = $6 WHERE id = $7",
                )
                .bind(p.kdf_salt)
                .bind(p.kdf.0)
                .bind(p.kdf.1)
                .bind(p.kdf.2)
                .bind(p.login_hash)
                .bind(p.wrapped_master_key)
                .bind(user)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
                     AND id <> COALESCE($3, '')",
                )
                .bind(now)
                .bind(user)
                .bind(keep)
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            }
        )
    }

    /// Keeps (or replaces) a user's recovery key: the hash of its login
    /// secret and the master key wrapped under it.
    pub async fn set_recovery(&self, user: i64, hash: &[u8], wrapped: &[u8]) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query("UPDATE users SET recovery_hash = $1, recovery_wrapped_master_key = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(wrapped)
                    .bind(user)
                    .execute(c)
                    .await
                    .map(|_| ())
            }
        )
    }

    /// A user's recovery key hash and wrapping, if they made one.
    pub async fn recovery_of(&self, user: i64) -> sqlx::Result<Option<(Vec<u8>, Vec<u8>)>> {
        type Row = (Option<Vec<u8>>, Option<Vec<u8>>);
        let row: Option<Row> = on_db!(
            self,
            read | c | {
                sqlx::query_as("SELECT recovery_hash, recovery_wrapped_master_key FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(c)
                    .await
            }
        )?;
        Ok(match row {
            Some((Some(h), Some(w))) => Some((h, w)),
            _ => None,
        })
    }

    pub async fn create_session(
        &self,
        id: &str,
        user_id: i64,
        expires_at: i64,
        device: Option<&str>,
    ) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, created_at, expires_at, device) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(user_id)
                .bind(now_ms())
                .bind(expires_at)
                .bind(device)
                .execute(c)
                .await
                .map(|_| ())
            }
        )
    }

    /// A user's live sessions (not revoked, not expired), oldest first.
    pub async fn sessions_of(&self, user_id: i64) -> sqlx::Result<Vec<SessionRow>> {
        on_db!(
            self,
            read | c | {
                sqlx::query_as(
                    "SELECT id, device, created_at, expires_at FROM sessions WHERE user_id = $1 \
                     AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at, id",
                )
                .bind(user_id)
                .bind(now_ms() / 1000)
                .fetch_all(c)
                .await
            }
        )
    }

    /// Whether a session exists for this user, is unexpired and not revoked.
    pub async fn session_valid(&self, id: &str, user_id: i64) -> sqlx::Result<bool> {
        let found: Option<i64> = on_db!(
            self,
            read | c
                | {
                    sqlx::query_scalar(
                "SELECT user_id FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3",
            )
            .bind(id)
            .bind(user_id)
            .bind(now_ms() / 1000)
            .fetch_optional(c)
            .await
                }
        )?;
        Ok(found.is_some())
    }

    pub async fn revoke_session(&self, id: &str) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2")
                    .bind(now_ms())
                    .bind(id)
                    .execute(c)
                    .await
                    .map(|_| ())
            }
        )
    }

    /// Every account, for `pyxis admin users`.
    pub async fn all_users(&self) -> sqlx::Result<Vec<UserRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"));
        on_db!(self, read | c | sqlx::query_as(sql).fetch_all(c).await)
    }

    /// Disables an account (its sessions end; its data stays) or enables it
    /// again, which also cancels a deletion still within its grace. Returns
    /// false for an unknown name.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> sqlx::Result<bool> {
        on_db!(
            self,
            write | c | {
                let mut tx = c.begin().await?;
                let id: Option<i64> = if disabled {
                    sqlx::query_scalar(
                        "UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE username = $2 RETURNING id",
                    )
                    .bind(now_ms())
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?
                } else {
                    sqlx::query_scalar(
                        "UPDATE users SET disabled_at = NULL, delete_after = NULL WHERE username = $1 RETURNING id",
                    )
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?
                };
                if let (Some(id), true) = (id, disabled) {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(id.is_some())
            }
        )
    }

    /// The owner deleted the account: it is disabled now (every session
    /// ends) and its files are removed after `delete_after`.
    pub async fn schedule_deletion(&self, user: i64, delete_after: i64) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                let mut tx = c.begin().await?;
                sqlx::query("UPDATE users SET disabled_at = $1, delete_after = $2 WHERE id = $3")
                    .bind(now_ms())
                    .bind(delete_after)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
                tx.commit().await
            }
        )
    }

    /// Accounts whose deletion grace is over.
    pub async fn deletions_due(&self, now: i64) -> sqlx::Result<Vec<i64>> {
        on_db!(
            self,
            read | c | {
                sqlx::query_scalar("SELECT id FROM users WHERE delete_after IS NOT NULL AND delete_after <= $1")
                    .bind(now)
                    .fetch_all(c)
                    .await
            }
        )
    }

    /// Records that a deleted account's files are gone (after removing them).
    pub async fn mark_deleted(&self, user: i64) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query("UPDATE users SET deleted_at = $1, delete_after = NULL WHERE id = $2")
                    .bind(now_ms())
                    .bind(user)
                    .execute(c)
                    .await
                    .map(|_| ())
            }
        )
    }
}
