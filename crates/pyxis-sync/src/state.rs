//! A folder's local state, in SQLite: per path the base (kind, stat, hash,
//! the catalog version and file id last agreed on), and the folder's facts
//! (root, remote path, change-feed cursor, device name). It lives in the
//! client's config directory, never in the folder, so an unmounted folder
//! cannot take its state with it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::engine::{Result, SyncError};
use crate::model::{Base, Bases, Kind, Stat};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS bases (rel TEXT PRIMARY KEY, kind INTEGER NOT NULL, hash TEXT, \
     version INTEGER NOT NULL, file_id TEXT, size INTEGER, mtime_ns INTEGER, inode INTEGER, mode INTEGER)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

fn err(e: sqlx::Error) -> SyncError {
    SyncError::State(e.to_string())
}

/// The directory holding a folder's state: `CONFIG/sync/<id>`, the id
/// taken from the folder's absolute path.
pub fn folder_dir(config: &Path, root: &Path) -> PathBuf {
    let id = blake3::hash(root.as_os_str().as_encoded_bytes()).to_hex();
    config.join("sync").join(&id[..16])
}

#[derive(Debug, Clone)]
pub struct State {
    pool: SqlitePool,
}

impl State {
    /// Opens (or creates) the state at `dir/state.db`.
    pub async fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir).map_err(|e| SyncError::Local(format!("{}: {e}", dir.display())))?;
        let opts = SqliteConnectOptions::from_str("sqlite:")
            .map_err(err)?
            .filename(dir.join("state.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.map_err(err)?;
        for s in SCHEMA {
            sqlx::query(*s).execute(&pool).await.map_err(err)?;
        }
        Ok(State { pool })
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn load(&self) -> Result<Bases> {
        let rows = sqlx::query("SELECT rel, kind, hash, version, file_id, size, mtime_ns, inode, mode FROM bases")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        let mut bases = Bases::new();
        for r in rows {
            let kind = if r.get::<i64, _>(1) == 1 { Kind::Dir } else { Kind::File };
            let size: Option<i64> = r.get(5);
            let stat = size.map(|size| Stat {
                size: size as u64,
                mtime_ns: r.get::<Option<i64>, _>(6).unwrap_or(0),
                inode: r.get::<Option<i64>, _>(7).unwrap_or(0) as u64,
                mode: r.get::<Option<i64>, _>(8).unwrap_or(0) as u32,
            });
            let base = Base { kind, hash: r.get(2), version: r.get(3), file_id: r.get(4), stat };
            bases.insert(r.get(0), base);
        }
        Ok(bases)
    }

    /// Applies base changes in one transaction.
    pub async fn save(&self, changes: &[(String, Option<Base>)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        for (rel, base) in changes {
            match base {
                None => {
                    sqlx::query("DELETE FROM bases WHERE rel = $1").bind(rel).execute(&mut *tx).await.map_err(err)?;
                }
                Some(b) => {
                    let s = b.stat;
                    sqlx::query(
                        "INSERT INTO bases (rel, kind, hash, version, file_id, size, mtime_ns, inode, mode) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (rel) DO UPDATE SET kind = $2, \
                         hash = $3, version = $4, file_id = $5, size = $6, mtime_ns = $7, inode = $8, mode = $9",
                    )
                    .bind(rel)
                    .bind(if b.kind == Kind::Dir { 1i64 } else { 0 })
                    .bind(&b.hash)
                    .bind(b.version)
                    .bind(&b.file_id)
                    .bind(s.map(|s| s.size as i64))
                    .bind(s.map(|s| s.mtime_ns))
                    .bind(s.map(|s| s.inode as i64))
                    .bind(s.map(|s| i64::from(s.mode)))
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                }
            }
        }
        tx.commit().await.map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bases_and_meta_persist() {
        let d = tempfile::tempdir().unwrap();
        let s = State::open(d.path()).await.unwrap();
        let b = Base {
            kind: Kind::File,
            hash: Some("ab".into()),
            version: 3,
            file_id: Some("cd".into()),
            stat: Some(Stat { size: 5, mtime_ns: -7, inode: u64::from(u32::MAX) + 9, mode: 0o100755 }),
        };
        let dir = Base { kind: Kind::Dir, hash: None, version: 0, file_id: None, stat: None };
        s.save(&[("a/f".into(), Some(b.clone())), ("a".into(), Some(dir.clone())), ("x".into(), Some(dir.clone()))])
            .await
            .unwrap();
        s.save(&[("x".into(), None)]).await.unwrap();
        s.set_meta("cursor", "12").await.unwrap();
        s.set_meta("cursor", "13").await.unwrap();
        drop(s);
        let s = State::open(d.path()).await.unwrap();
        let loaded = s.load().await.unwrap();
        assert_eq!(loaded, Bases::from([("a".to_owned(), dir), ("a/f".to_owned(), b)]));
        assert_eq!(s.meta("cursor").await.unwrap().as_deref(), Some("13"));
        assert_eq!(s.meta("nothing").await.unwrap(), None);
    }
}
