//! The catalog database: SQLite (embedded default) or PostgreSQL, one schema
//! in two dialects (`migrations/sqlite`, `migrations/postgres`).
//!
//! Queries are written once with `$N` placeholders, which both engines accept,
//! and run through [`on_db!`], which expands the same code for each pool type.
//! SQLite gets one writer connection (writes serialise in-process, so there is
//! no lock-upgrade `SQLITE_BUSY`) and a pool of readers; WAL with
//! `synchronous=FULL`, because an acknowledged commit must survive power loss.

pub mod backup;
pub mod catalog;
pub mod changes;
pub mod chunks;
pub mod durability;
pub mod garbage;
pub mod leases;
pub mod remotes;
pub mod shares;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::error::StartError;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$c` bound to the right pool: `read` or `write`.
#[macro_export]
macro_rules! on_db {
    ($db:expr, read |$c:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { read: $c, .. } => $body,
            $crate::db::Db::Postgres($c) => $body,
        }
    };
    ($db:expr, write |$c:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { write: $c, .. } => $body,
            $crate::db::Db::Postgres($c) => $body,
        }
    };
}

/// Which engine a pool or transaction talks to, for SQL that differs.
pub trait Dialect {
    const SQLITE: bool;
}
impl Dialect for sqlx::Pool<sqlx::Sqlite> {
    const SQLITE: bool = true;
}
impl Dialect for sqlx::Pool<sqlx::Postgres> {
    const SQLITE: bool = false;
}
impl Dialect for sqlx::Transaction<'_, sqlx::Sqlite> {
    const SQLITE: bool = true;
}
impl Dialect for sqlx::Transaction<'_, sqlx::Postgres> {
    const SQLITE: bool = false;
}

/// `sql` for the engine `_on` talks to. SQLite finds a `$N` placeholder's
/// number by name, scanning every earlier one, at prepare and again at
/// bind (sqlx asks each parameter's name): a statement with thousands of
/// them costs millions of compares (8 % of the server's CPU in a 10,000
/// file sync). Anonymous `?`s cost nothing, so for SQLite a statement whose
/// placeholders run `$1, $2, ..., $n` in text order, each once, gets `?`s.
/// Any other statement is left as it is (a repeated `$1` stays a name).
/// The SQL here never has `$` inside a string literal.
pub fn sql_for<D: Dialect>(_on: &D, sql: String) -> String {
    if D::SQLITE { anonymous(sql) } else { sql }
}

fn anonymous(sql: String) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let (mut next, mut i, mut copied) = (1u64, 0, 0);
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let end = i + 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        match sql[i + 1..end].parse::<u64>() {
            Ok(n) if n == next => {}
            Ok(_) => return sql, // out of order or repeated
            Err(_) => {
                i += 1;
                continue;
            }
        }
        out.push_str(&sql[copied..i]);
        out.push('?');
        next += 1;
        (i, copied) = (end, end);
    }
    out.push_str(&sql[copied..]);
    out
}

/// Milliseconds since the Unix epoch: every timestamp in the catalog.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Db {
    /// Opens (creating if needed) and migrates the catalog: PostgreSQL when
    /// `url` is a `postgres://` URL, else a SQLite file in `data_dir`.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Db, StartError> {
        let connecting = StartError::db("opening the catalog database");
        match url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(u)
                    .await
                    .map_err(connecting)?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                Ok(Db::Postgres(pool))
            }
            Some(u) if u.starts_with("sqlite:") => {
                Self::open_sqlite(SqliteConnectOptions::from_str(u).map_err(connecting)?).await
            }
            Some(u) => Err(StartError::DatabaseUrl(u.to_owned())),
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|source| StartError::Io { path: data_dir.to_owned(), source })?;
                Self::open_sqlite(SqliteConnectOptions::new().filename(data_dir.join("catalog.db"))).await
            }
        }
    }

    async fn open_sqlite(opts: SqliteConnectOptions) -> Result<Db, StartError> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await
            .map_err(StartError::db("opening the catalog database"))?;
        SQLITE_MIGRATIONS.run(&write).await?;
        // Rows cross from SQLite's worker thread to the task one message at
        // a time; with sqlx's default of 50 in flight, a 10,000-entry listing
        // made the two threads take turns hundreds of times.
        let read_opts = opts.read_only(true).row_buffer_size(4096);
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(read_opts)
            .await
            .map_err(StartError::db("opening the catalog database to read"))?;
        Ok(Db::Sqlite { read, write })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// A named server secret, created by `make` on first use. Concurrent
    /// servers on one PostgreSQL agree on the first one written.
    pub async fn server_key(&self, name: &str, make: impl FnOnce() -> Vec<u8>) -> sqlx::Result<Vec<u8>> {
        let fresh = make();
        on_db!(
            self,
            write | c | {
                sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(&fresh)
                    .execute(c)
                    .await?;
                sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1").bind(name).fetch_one(c).await
            }
        )
    }

    /// Replaces the grant seed `old` with `new` and records the rotation
    /// (the old key's endorsement of the new one), in one transaction; a
    /// concurrent rotation by another instance makes this one fail
    /// (`false`: the seed was no longer `old`, and nothing changed).
    pub async fn rotate_grant_seed(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        old_key: &[u8; 32],
        new_key: &[u8; 32],
        endorsement: &[u8; 64],
    ) -> sqlx::Result<bool> {
        on_db!(
            self,
            write
                | c
                | {
                    let mut tx = c.begin().await?;
                    let n = sqlx::query("UPDATE server_keys SET value = $1 WHERE name = 'grant_seed' AND value = $2")
                        .bind(&new[..])
                        .bind(&old[..])
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n != 1 {
                        return Ok(false);
                    }
                    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM grant_rotations")
                        .fetch_one(&mut *tx)
                        .await?;
                    sqlx::query(
                    "INSERT INTO grant_rotations (seq, previous, key, endorsement, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(seq)
                .bind(&old_key[..])
                .bind(&new_key[..])
                .bind(&endorsement[..])
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
                    tx.commit().await?;
                    Ok(true)
                }
        )
    }

    /// Every grant-key rotation, oldest first: (previous key, key, endorsement).
    pub async fn grant_rotations(&self) -> sqlx::Result<Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>> {
        on_db!(
            self,
            read | c
                | sqlx::query_as("SELECT previous, key, endorsement FROM grant_rotations ORDER BY seq")
                    .fetch_all(c)
                    .await
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{Db, StartError, anonymous};

    #[tokio::test]
    async fn a_mistyped_database_url_is_named_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("server");
        match Db::open(Some("postgress://db/pyxis"), &data).await {
            Err(e @ StartError::DatabaseUrl(_)) => assert!(e.to_string().contains("postgress://db/pyxis"), "{e}"),
            other => panic!("expected an unsupported-URL error, got {other:?}"),
        }
        assert!(!data.exists(), "a refused URL created the data directory");
    }

    #[test]
    fn only_placeholders_in_order_become_anonymous() {
        assert_eq!(anonymous("a = $1 AND b IN ($2, $3)".into()), "a = ? AND b IN (?, ?)");
        assert_eq!(anonymous("x IN ($10)".into()), "x IN ($10)");
        assert_eq!(anonymous("a = $1 OR b = $1".into()), "a = $1 OR b = $1");
        assert_eq!(anonymous("a = $2, b = $1".into()), "a = $2, b = $1");
        assert_eq!(anonymous("no placeholders, a $ sign".into()), "no placeholders, a $ sign");
        let many: Vec<String> = (1..=1000).map(|i| format!("${i}")).collect();
        assert_eq!(anonymous(many.join(",")), vec!["?"; 1000].join(","));
    }
}
