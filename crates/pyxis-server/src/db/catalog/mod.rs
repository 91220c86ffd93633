//! The catalog: each user's tree of directories and files, and file versions.
//!
//! Entries are keyed by normalised path. A directory's descendants are the
//! byte range `(dir + "/", dir + "0")` (`'0'` follows `'/'`), which both
//! SQLite's BINARY collation and PostgreSQL's `COLLATE "C"` order bytewise;
//! a `parent` column lists one level.
use pyxis_proto::ChunkId;
use pyxis_proto::path::parent;

use crate::on_db;

use super::Db;

pub const DIR: i64 = 1;
pub const FILE: i64 = 2;

/// A listed entry with its current version's summary.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedRow {
    pub path: String,
    pub kind: i64,
    pub size: Option<i64>,
    pub mtime: Option<i64>,
    pub seq: Option<i64>,
    pub content_hash: Option<Vec<u8>>,
    pub committed_at: Option<i64>,
    pub file_id: Option<Vec<u8>>,
    pub entry_tag: Option<Vec<u8>>,
    /// The current version's id (files only).
    pub version_id: Option<i64>,
    /// Made through a write share by this user (its name).
    pub writer: Option<String>,
    pub writer_keys: Option<Vec<u8>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub id: i64,
    pub seq: i64,
    pub size: i64,
    pub mtime: i64,
    pub content_hash: Vec<u8>,
    pub manifest: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    pub created_at: i64,
    pub file_id: Option<Vec<u8>>,
    pub version_tag: Option<Vec<u8>>,
    /// The path's entry tag, when this version is its current one.
    pub entry_tag: Option<Vec<u8>>,
    /// Made through a write share by this user (its name).
    pub writer: Option<String>,
    pub writer_keys: Option<Vec<u8>>,
    /// Its chunks are this user's (a writer's), not the tree owner's.
    pub chunks_of: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PathVersionRow {
    path: String,
    #[sqlx(flatten)]
    v: VersionRow,
}

/// A version's binding as stored: file id, version tag, entry tag.
#[derive(Debug, Clone)]
pub struct Binding {
    pub file_id: Vec<u8>,
    pub version_tag: Vec<u8>,
    pub entry_tag: Vec<u8>,
}

/// One file of a commit, already validated by the caller.
#[derive(Debug, Clone)]
pub struct CommitItem {
    pub path: String,
    pub size: i64,
    pub mtime: i64,
    pub content_hash: Vec<u8>,
    pub manifest: Vec<u8>,
    pub wrapped_key: Vec<u8>,
    /// Distinct.
    pub chunks: Vec<ChunkId>,
    pub expect: Option<i64>,
    pub binding: Option<Binding>,
    /// `(share id, share wrap)` for the new version.
    pub share_keys: Vec<(i64, Vec<u8>)>,
    /// A new version even if nothing changed.
    pub new_version: bool,
    /// Through a write share: the writer (the committer) and the binding
    /// key they wrapped for the tree's owner.
    pub writer: Option<(i64, Vec<u8>)>,
    /// Whose chunks these are: the committer's, or (a restore of a version
    /// a writer made) that writer's.
    pub chunk_user: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: a parent of this path is a file")]
    ParentIsFile(String),
    #[error("{0}: is a directory")]
    IsDirectory(String),
    #[error("{0}: already exists")]
    Exists(String),
    #[error("{0}: directory not empty (use recursive)")]
    NotEmpty(String),
    #[error("{path}: expected version {expected}, the current one is {actual}")]
    Conflict { path: String, expected: i64, actual: i64 },
    #[error("{path}: chunk {id} is not stored")]
    MissingChunk { path: String, id: ChunkId },
    #[error("cannot move {0} into itself")]
    IntoItself(String),
    #[error(
        "{path}: {bound} bound files would move with {tags} new entry tags: a client must re-bind what it moves \
         (upgrade the client)"
    )]
    BindingRequired { path: String, bound: i64, tags: usize },
    #[error("quota exceeded: {used} of {quota} bytes used, {need} more needed")]
    Quota { used: i64, quota: i64, need: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `(lower, upper)` bounds of the strict descendants of `dir`.
pub(crate) fn descendants(dir: &str) -> (String, String) {
    if dir == "/" { ("/".to_owned(), "0".to_owned()) } else { (format!("{dir}/"), format!("{dir}0")) }
}

/// Every proper ancestor directory of `p`, outermost first, without the root.
fn ancestors(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut cur = parent(p);
    while let Some(a) = cur.filter(|a| *a != "/") {
        out.push(a);
        cur = parent(a);
    }
    out.reverse();
    out
}

const LIST_SELECT: &str = "SELECT e.path, e.kind, v.size, v.mtime, v.seq, v.content_hash, v.created_at AS committed_at, \
     v.file_id, e.entry_tag, e.current_version AS version_id, w.username AS writer, v.writer_keys \
     FROM entries e LEFT JOIN versions v ON v.id = e.current_version LEFT JOIN users w ON w.id = v.writer_id";

/// Runs the transactional body once per backend (the macro duplicates it with
/// the right transaction type).
macro_rules! in_tx {
    ($db:expr, |$tx:ident| $body:block) => {
        on_db!(
            $db,
            write | c | {
                let mut $tx = c.begin().await?;
                let out = $body;
                if out.is_ok() {
                    $tx.commit().await?;
                }
                out
            }
        )
    };
}

/// Records a change of `user`'s tree in its change feed, inside the
/// transaction that makes it (so the feed and the tree never disagree).
/// `$c` is a `crate::db::changes::Change`.
#[macro_export]
macro_rules! record_change {
    ($tx:expr, $user:expr, $c:expr, $now:expr) => {{
        let c = $c;
        let seq: i64 =
            sqlx::query_scalar("UPDATE users SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq")
                .bind($user)
                .fetch_one(&mut *$tx)
                .await?;
        sqlx::query(
            "INSERT INTO changes (user_id, seq, kind, path, to_path, version, peer, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($user)
        .bind(seq)
        .bind(c.kind)
        .bind(c.path)
        .bind(c.to_path)
        .bind(c.version)
        .bind(c.peer)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Records many changes at once (`$changes`: a `Vec<Change>`): the counter
/// moves once, the rows go in by hundreds.
#[macro_export]
macro_rules! record_changes {
    ($tx:expr, $user:expr, $changes:expr, $now:expr) => {{
        let changes: Vec<$crate::db::changes::Change> = $changes;
        if !changes.is_empty() {
            let last: i64 =
                sqlx::query_scalar("UPDATE users SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq")
                    .bind($user)
                    .bind(changes.len() as i64)
                    .fetch_one(&mut *$tx)
                    .await?;
            let first = last - changes.len() as i64 + 1;
            for (n, batch) in changes.chunks(500).enumerate() {
                let rows: Vec<String> = (0..batch.len())
                    .map(|i| {
                        let b = i * 8;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1,
                            b + 2,
                            b + 3,
                            b + 4,
                            b + 5,
                            b + 6,
                            b + 7,
                            b + 8
                        )
                    })
                    .collect();
                let sql = sqlx::AssertSqlSafe($crate::db::sql_for(
                    &$tx,
                    format!(
                        "INSERT INTO changes (user_id, seq, kind, path, to_path, version, peer, at) VALUES {}",
                        rows.join(", ")
                    ),
                ));
                let mut q = sqlx::query(sql);
                for (i, c) in batch.iter().enumerate() {
                    q = q
                        .bind($user)
                        .bind(first + (n * 500 + i) as i64)
                        .bind(c.kind)
                        .bind(c.path)
                        .bind(c.to_path)
                        .bind(c.version)
                        .bind(c.peer)
                        .bind($now);
                }
                q.execute(&mut *$tx).await?;
            }
        }
    }};
}

/// Looks up `(id, kind, current version)` of a path inside a transaction.
macro_rules! lookup {
    ($tx:expr, $user:expr, $path:expr) => {
        sqlx::query_as::<_, (i64, i64, Option<i64>)>(
            "SELECT id, kind, current_version FROM entries WHERE user_id = $1 AND path = $2",
        )
        .bind($user)
        .bind($path)
        .fetch_optional(&mut *$tx)
        .await?
    };
}

/// Creates the directories above `p` that do not exist yet.
macro_rules! ensure_parents {
    ($tx:expr, $user:expr, $p:expr, $known:expr, $now:expr) => {{
        let mut result: Result<(), CatalogError> = Ok(());
        for dir in ancestors($p) {
            if $known.contains(dir) {
                continue;
            }
            match lookup!($tx, $user, dir) {
                Some((_, FILE, _)) => {
                    result = Err(CatalogError::ParentIsFile($p.to_owned()));
                    break;
                }
                Some(_) => {}
                None => {
                    sqlx::query(
                        "INSERT INTO entries (user_id, path, parent, kind, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                    )
                    .bind($user)
                    .bind(dir)
                    .bind(parent(dir).unwrap_or(""))
                    .bind(DIR)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
                }
            }
            $known.insert(dir.to_owned());
        }
        result
    }};
}

impl Db {
    /// One entry with its current version summary.
    pub async fn stat(&self, user: i64, p: &str) -> sqlx::Result<Option<ListedRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{LIST_SELECT} WHERE e.user_id = $1 AND e.path = $2"));
        on_db!(self, read | c | sqlx::query_as(sql).bind(user).bind(p).fetch_optional(c).await)
    }

    /// All versions of a file, oldest first (manifests included).
    pub async fn versions(&self, user: i64, p: &str) -> sqlx::Result<Vec<VersionRow>> {
        on_db!(
            self,
            read | c
                | {
                    sqlx::query_as(
                "SELECT v.id, v.seq, v.size, v.mtime, v.content_hash, v.manifest, v.wrapped_key, v.created_at, \
                 v.file_id, v.version_tag, CASE WHEN v.id = e.current_version THEN e.entry_tag END AS entry_tag, \
                 w.username AS writer, v.writer_keys, \
                 (SELECT u.username FROM version_chunks vc JOIN users u ON u.id = vc.user_id \
                  WHERE vc.version_id = v.id AND vc.user_id <> e.user_id LIMIT 1) AS chunks_of \
                 FROM versions v JOIN entries e ON e.id = v.entry_id LEFT JOIN users w ON w.id = v.writer_id WHERE e.user_id = $1 AND e.path = $2 ORDER BY v.seq",
            )
            .bind(user)
            .bind(p)
            .fetch_all(c)
            .await
                }
        )
    }

    /// A file's current version (or version `seq`) and the chunks it uses.
    pub async fn read_version(
        &self,
        user: i64,
        p: &str,
        seq: Option<i64>,
    ) -> sqlx::Result<Option<(VersionRow, Vec<ChunkId>)>> {
        let row: Option<VersionRow> = on_db!(
            self,
            read | c | {
                sqlx::query_as(
                    "SELECT v.id, v.seq, v.size, v.mtime, v.content_hash, v.manifest, v.wrapped_key, v.created_at, \
                 v.file_id, v.version_tag, CASE WHEN v.id = e.current_version THEN e.entry_tag END AS entry_tag, \
                 w.username AS writer, v.writer_keys, \
                 (SELECT u.username FROM version_chunks vc JOIN users u ON u.id = vc.user_id \
                  WHERE vc.version_id = v.id AND vc.user_id <> e.user_id LIMIT 1) AS chunks_of \
                 FROM versions v JOIN entries e ON e.id = v.entry_id LEFT JOIN users w ON w.id = v.writer_id \
                 WHERE e.user_id = $1 AND e.path = $2 AND (v.seq = $3 OR ($3 IS NULL AND v.id = e.current_version))",
                )
                .bind(user)
                .bind(p)
                .bind(seq)
                .fetch_optional(c)
                .await
            }
        )?;
        let Some(row) = row else { return Ok(None) };
        let ids: Vec<Vec<u8>> = on_db!(
            self,
            read | c | {
                sqlx::query_scalar("SELECT chunk_id FROM version_chunks WHERE version_id = $1")
                    .bind(row.id)
                    .fetch_all(c)
                    .await
            }
        )?;
        Ok(Some((row, ids.iter().filter_map(|b| ChunkId::from_slice(b)).collect())))
    }

    /// Current versions of many files at once (two queries however many
    /// paths: a tree restore reads tens of thousands). Missing paths, and
    /// directories, are absent from the answer.
    pub async fn read_current(
        &self,
        user: i64,
        paths: &[String],
    ) -> sqlx::Result<Vec<(String, VersionRow, Vec<ChunkId>)>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..paths.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT e.path, v.id, v.seq, v.size, v.mtime, v.content_hash, v.manifest, v.wrapped_key, v.created_at, \
                 v.file_id, v.version_tag, CASE WHEN v.id = e.current_version THEN e.entry_tag END AS entry_tag, \
                 w.username AS writer, v.writer_keys, \
                 (SELECT u.username FROM version_chunks vc JOIN users u ON u.id = vc.user_id \
                  WHERE vc.version_id = v.id AND vc.user_id <> e.user_id LIMIT 1) AS chunks_of \
             FROM versions v JOIN entries e ON e.id = v.entry_id LEFT JOIN users w ON w.id = v.writer_id \
             WHERE e.user_id = $1 AND v.id = e.current_version AND e.path IN ({})",
            marks.join(", ")
        );
        let rows: Vec<PathVersionRow> = on_db!(
            self,
            read | c | {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(crate::db::sql_for(c, sql.clone()))).bind(user);
                for p in paths {
                    q = q.bind(p);
                }
                q.fetch_all(c).await
            }
        )?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..rows.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!("SELECT version_id, chunk_id FROM version_chunks WHERE version_id IN ({})", marks.join(", "));
        let links: Vec<(i64, Vec<u8>)> = on_db!(
            self,
            read | c | {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(crate::db::sql_for(c, sql.clone())));
                for r in &rows {
                    q = q.bind(r.v.id);
                }
                q.fetch_all(c).await
            }
        )?;
        let mut chunks: std::collections::HashMap<i64, Vec<ChunkId>> = std::collections::HashMap::new();
        for (v, id) in links {
            if let Some(id) = ChunkId::from_slice(&id) {
                chunks.entry(v).or_default().push(id);
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let ids = chunks.remove(&r.v.id).unwrap_or_default();
                let v = r.v;
                (r.path, v, ids)
            })
            .collect())
    }
}

// After the macros above: textual scoping makes them visible in there.
#[macro_use]
mod batch;
#[macro_use]
mod history;
mod listing;
mod write;

pub use history::{AgedVersion, TRASH, TrashRow, UsageRow, judge};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_ancestors() {
        assert_eq!(descendants("/"), ("/".into(), "0".into()));
        assert_eq!(descendants("/a"), ("/a/".into(), "/a0".into()));
        assert_eq!(ancestors("/a/b/c"), vec!["/a", "/a/b"]);
        assert!(ancestors("/a").is_empty());
    }
}
