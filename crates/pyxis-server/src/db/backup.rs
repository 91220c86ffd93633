//! The catalog's own safety: an online snapshot (`pyxis admin backup`) and
//! a consistency check of a catalog (`pyxis admin check`), for a backup
//! before it is trusted and for a live catalog after a crash or a restore.

use std::path::Path;

use serde::Serialize;

use super::Db;
use crate::on_db;

/// What `check` found; a sound catalog has every count zero.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    pub versions: i64,
    pub chunks: i64,
    /// Chunks whose reference count differs from the versions that use them.
    pub bad_refcounts: i64,
    /// Chunks some version uses that are missing or not stored.
    pub missing_chunks: i64,
    /// Chunks some version uses with fewer than k stored shards on record.
    pub short_of_shards: i64,
}

impl CheckReport {
    pub fn sound(&self) -> bool {
        self.bad_refcounts == 0 && self.missing_chunks == 0 && self.short_of_shards == 0
    }
}

/// Why a backup of the catalog was not made (nothing is left at `dest`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("a PostgreSQL catalog is backed up with pg_dump (docs/OPERATIONS.md, \"Back up\")")]
    Postgres,
    #[error("{}: {source} (the backup must be a new file)", path.display())]
    Create { path: std::path::PathBuf, source: std::io::Error },
    #[error("{}: not a UTF-8 path", .0.display())]
    NotUtf8(std::path::PathBuf),
    #[error("{what}: {source}")]
    Database { what: &'static str, source: sqlx::Error },
    #[error("{}: {source}", path.display())]
    Sync { path: std::path::PathBuf, source: std::io::Error },
}

impl Db {
    /// Writes a consistent copy of a SQLite catalog to `dest` while the
    /// server runs (`VACUUM INTO` reads one snapshot of the WAL database).
    /// `dest` is made 0600 before SQLite writes to it: the catalog holds
    /// the server's secrets.
    pub async fn backup_to(&self, dest: &Path) -> Result<(), BackupError> {
        use std::os::unix::fs::OpenOptionsExt;
        let Db::Sqlite { read, .. } = self else {
            return Err(BackupError::Postgres);
        };
        // SQLite writes into an empty file it is given, keeping its mode.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(|source| BackupError::Create { path: dest.to_owned(), source })?;
        let Some(to) = dest.to_str() else {
            let _ = std::fs::remove_file(dest);
            return Err(BackupError::NotUtf8(dest.to_owned()));
        };
        let done = sqlx::query("VACUUM INTO $1").bind(to).execute(read).await;
        if let Err(e) = done {
            let _ = std::fs::remove_file(dest);
            return Err(BackupError::Database { what: "copying the catalog (VACUUM INTO)", source: e });
        }
        // The copy says what it is: a server started on it knows it was
        // restored, and since when its catalog is older than the world.
        if let Err(e) = mark_as_backup(dest).await {
            let _ = std::fs::remove_file(dest);
            return Err(BackupError::Database { what: "marking the copy as a backup", source: e });
        }
        // Durable before it is reported done.
        let sync = |p: &Path| {
            std::fs::File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|source| BackupError::Sync { path: p.to_owned(), source })
        };
        sync(dest)?;
        if let Some(dir) = dest.parent() {
            sync(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })?;
        }
        Ok(())
    }

    /// Checks that reference counts match the versions that use each chunk,
    /// and that every chunk a version uses is stored with at least k shards
    /// on record.
    pub async fn check(&self) -> sqlx::Result<CheckReport> {
        let one = |sql: &'static str| async move {
            on_db!(self, read | db | sqlx::query_scalar::<_, i64>(sql).fetch_one(db).await)
        };
        Ok(CheckReport {
            versions: one("SELECT COUNT(*) FROM versions").await?,
            chunks: one("SELECT COUNT(*) FROM chunks").await?,
            bad_refcounts: one(
                "SELECT COUNT(*) FROM chunks c WHERE c.refcount <> \
                 (SELECT COUNT(*) FROM version_chunks vc WHERE vc.user_id = c.user_id AND vc.chunk_id = c.chunk_id)",
            )
            .await?,
            missing_chunks: one(
                "SELECT COUNT(*) FROM (SELECT DISTINCT vc.user_id, vc.chunk_id FROM version_chunks vc \
                 LEFT JOIN chunks c ON c.user_id = vc.user_id AND c.chunk_id = vc.chunk_id \
                 WHERE c.chunk_id IS NULL OR c.state <> 2) AS m",
            )
            .await?,
            short_of_shards: one(
                "SELECT COUNT(*) FROM chunks c WHERE c.refcount > 0 AND c.state = 2 AND c.data_shards > \
                 (SELECT COUNT(*) FROM shards s WHERE s.user_id = c.user_id AND s.chunk_id = c.chunk_id AND s.state = 1)",
            )
            .await?,
        })
    }
}

/// The name of the catalog row a backup carries (Unix ms it was taken, as
/// decimal text).
pub const BACKUP_TAKEN_AT: &str = "backup_taken_at";
/// Writes that row: `$1` the name, `$2` the value.
const MARK_BACKUP: &str =
    "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";

async fn mark_as_backup(copy: &Path) -> sqlx::Result<()> {
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(copy).create_if_missing(false);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
    sqlx::query(MARK_BACKUP)
        .bind(BACKUP_TAKEN_AT)
        .bind(super::now_ms().to_string().into_bytes())
        .execute(&mut c)
        .await?;
    c.close().await?;
    Ok(())
}

impl Db {
    /// When the backup this catalog came from was taken, if it came from
    /// one: `pyxis admin backup` marks its copy, and `pyxis admin
    /// mark-restored` marks a catalog restored by other means (pg_restore).
    pub async fn restored_from(&self) -> sqlx::Result<Option<i64>> {
        let v: Option<Vec<u8>> = on_db!(
            self,
            read | c | {
                sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
                    .bind(BACKUP_TAKEN_AT)
                    .fetch_optional(c)
                    .await
            }
        )?;
        Ok(v.and_then(|b| String::from_utf8(b).ok()?.parse().ok()))
    }

    /// Marks this catalog as restored from a backup taken at `taken_at`
    /// (Unix ms), for a restore `pyxis admin backup` did not make.
    pub async fn mark_restored(&self, taken_at: i64) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query(MARK_BACKUP)
                    .bind(BACKUP_TAKEN_AT)
                    .bind(taken_at.to_string().into_bytes())
                    .execute(c)
                    .await?;
            }
        );
        Ok(())
    }
}
