//! The catalog: each user's tree of directories and files, and file versions.
//!
//! Entries are keyed by normalised path. A directory's descendants are the
//! byte range `(dir + "/", dir + "0")` (`'0'` follows `'/'`), which both
//! SQLite's BINARY collation and PostgreSQL's `COLLATE "C"` order bytewise;
//! a `parent` column lists one level.

use std::collections::HashSet;

use pyxis_proto::ChunkId;
use pyxis_proto::path::{self, parent};

use crate::on_db;

use super::{Db, now_ms};

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
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PathVersionRow {
    path: String,
    id: i64,
    seq: i64,
    size: i64,
    mtime: i64,
    content_hash: Vec<u8>,
    manifest: Vec<u8>,
    wrapped_key: Vec<u8>,
    created_at: i64,
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
    #[error("quota exceeded: {used} of {quota} bytes used, {need} more needed")]
    Quota { used: i64, quota: i64, need: i64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `(lower, upper)` bounds of the strict descendants of `dir`.
fn descendants(dir: &str) -> (String, String) {
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

const LIST_SELECT: &str = "SELECT e.path, e.kind, v.size, v.mtime, v.seq, v.content_hash \
     FROM entries e LEFT JOIN versions v ON v.id = e.current_version";

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

    /// Children of `dir` (or all descendants), in path order, after `after`.
    pub async fn list(
        &self,
        user: i64,
        dir: &str,
        recursive: bool,
        after: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<ListedRow>> {
        let (lo, hi) = descendants(dir);
        let lower = if after > lo.as_str() { after.to_owned() } else { lo };
        if recursive {
            let sql = sqlx::AssertSqlSafe(format!(
                "{LIST_SELECT} WHERE e.user_id = $1 AND e.path > $2 AND e.path < $3 ORDER BY e.path LIMIT $4"
            ));
            on_db!(
                self,
                read | c | sqlx::query_as(sql).bind(user).bind(&lower).bind(&hi).bind(limit).fetch_all(c).await
            )
        } else {
            let sql = sqlx::AssertSqlSafe(format!(
                "{LIST_SELECT} WHERE e.user_id = $1 AND e.parent = $2 AND e.path > $3 ORDER BY e.path LIMIT $4"
            ));
            on_db!(
                self,
                read | c | sqlx::query_as(sql).bind(user).bind(dir).bind(&lower).bind(limit).fetch_all(c).await
            )
        }
    }

    /// All versions of a file, oldest first (manifests included).
    pub async fn versions(&self, user: i64, p: &str) -> sqlx::Result<Vec<VersionRow>> {
        on_db!(
            self,
            read | c
                | {
                    sqlx::query_as(
                "SELECT v.id, v.seq, v.size, v.mtime, v.content_hash, v.manifest, v.wrapped_key, v.created_at \
                 FROM versions v JOIN entries e ON e.id = v.entry_id WHERE e.user_id = $1 AND e.path = $2 ORDER BY v.seq",
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
                    "SELECT v.id, v.seq, v.size, v.mtime, v.content_hash, v.manifest, v.wrapped_key, v.created_at \
                 FROM versions v JOIN entries e ON e.id = v.entry_id \
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT e.path, v.id, v.seq, v.size, v.mtime, v.content_hash, v.manifest, v.wrapped_key, v.created_at \
             FROM versions v JOIN entries e ON e.id = v.entry_id \
             WHERE e.user_id = $1 AND v.id = e.current_version AND e.path IN ({})",
            marks.join(", ")
        ));
        let rows: Vec<PathVersionRow> = on_db!(
            self,
            read | c | {
                let mut q = sqlx::query_as(sql).bind(user);
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
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT version_id, chunk_id FROM version_chunks WHERE version_id IN ({})",
            marks.join(", ")
        ));
        let links: Vec<(i64, Vec<u8>)> = on_db!(
            self,
            read | c | {
                let mut q = sqlx::query_as(sql);
                for r in &rows {
                    q = q.bind(r.id);
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
                let ids = chunks.remove(&r.id).unwrap_or_default();
                let v = VersionRow {
                    id: r.id,
                    seq: r.seq,
                    size: r.size,
                    mtime: r.mtime,
                    content_hash: r.content_hash,
                    manifest: r.manifest,
                    wrapped_key: r.wrapped_key,
                    created_at: r.created_at,
                };
                (r.path, v, ids)
            })
            .collect())
    }

    pub async fn mkdir(&self, user: i64, p: &str, parents: bool) -> Result<(), CatalogError> {
        let now = now_ms();
        in_tx!(self, |tx| {
            let result: Result<(), CatalogError> = async {
                match lookup!(tx, user, p) {
                    Some((_, DIR, _)) if parents => return Ok(()),
                    Some(_) => return Err(CatalogError::Exists(p.to_owned())),
                    None => {}
                }
                if let Some(dir) = parent(p).filter(|d| *d != "/") {
                    match lookup!(tx, user, dir) {
                        Some((_, FILE, _)) => return Err(CatalogError::ParentIsFile(p.to_owned())),
                        Some(_) => {}
                        None if parents => {
                            let mut known = HashSet::new();
                            ensure_parents!(tx, user, p, known, now)?
                        }
                        None => return Err(CatalogError::NotFound(dir.to_owned())),
                    }
                }
                sqlx::query("INSERT INTO entries (user_id, path, parent, kind, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
                    .bind(user)
                    .bind(p)
                    .bind(parent(p).unwrap_or(""))
                    .bind(DIR)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            }
            .await;
            result
        })
    }

    /// Commits new versions of files, all or nothing. Parents are created as
    /// needed; every chunk must exist for the user (placed chunks become
    /// stored: the client commits only after every shard is up).
    pub async fn commit(&self, user: i64, items: &[CommitItem]) -> Result<Vec<i64>, CatalogError> {
        let now = now_ms();
        in_tx!(self, |tx| {
            let result: Result<Vec<i64>, CatalogError> = async {
                let manifest_bytes: i64 = items.iter().map(|i| i.manifest.len() as i64).sum();
                let charged = sqlx::query("UPDATE users SET used_bytes = used_bytes + $1 WHERE id = $2 AND used_bytes + $1 <= quota_bytes")
                    .bind(manifest_bytes)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                if charged.rows_affected() == 0 {
                    let (used, quota): (i64, i64) = sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
                        .bind(user)
                        .fetch_one(&mut *tx)
                        .await?;
                    return Err(CatalogError::Quota { used, quota, need: manifest_bytes });
                }
                let mut known = HashSet::new();
                let mut seqs = Vec::with_capacity(items.len());
                for it in items {
                    ensure_parents!(tx, user, &it.path, known, now)?;
                    let existing = lookup!(tx, user, &it.path);
                    let (entry_id, current) = match existing {
                        Some((_, DIR, _)) => return Err(CatalogError::IsDirectory(it.path.clone())),
                        Some((id, _, cur)) => {
                            let seq: Option<i64> = match cur {
                                Some(v) => sqlx::query_scalar("SELECT seq FROM versions WHERE id = $1").bind(v).fetch_optional(&mut *tx).await?,
                                None => None,
                            };
                            (id, seq.unwrap_or(0))
                        }
                        None => {
                            let id: i64 = sqlx::query_scalar(
                                "INSERT INTO entries (user_id, path, parent, kind, created_at, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                            )
                            .bind(user)
                            .bind(&it.path)
                            .bind(parent(&it.path).unwrap_or(""))
                            .bind(FILE)
                            .bind(now)
                            .fetch_one(&mut *tx)
                            .await?;
                            (id, 0)
                        }
                    };
                    if let Some(expected) = it.expect
                        && expected != current
                    {
                        return Err(CatalogError::Conflict { path: it.path.clone(), expected, actual: current });
                    }
                    let seq = current + 1;
                    let version_id: i64 = sqlx::query_scalar(
                        "INSERT INTO versions (entry_id, seq, size, mtime, content_hash, manifest, wrapped_key, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    )
                    .bind(entry_id)
                    .bind(seq)
                    .bind(it.size)
                    .bind(it.mtime)
                    .bind(&it.content_hash)
                    .bind(&it.manifest)
                    .bind(&it.wrapped_key)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    for id in &it.chunks {
                        let r = sqlx::query(
                            "UPDATE chunks SET refcount = refcount + 1, state = 2, expires_at = NULL WHERE user_id = $1 AND chunk_id = $2",
                        )
                        .bind(user)
                        .bind(&id.0[..])
                        .execute(&mut *tx)
                        .await?;
                        if r.rows_affected() == 0 {
                            return Err(CatalogError::MissingChunk { path: it.path.clone(), id: *id });
                        }
                        sqlx::query("INSERT INTO version_chunks (version_id, user_id, chunk_id) VALUES ($1, $2, $3)")
                            .bind(version_id)
                            .bind(user)
                            .bind(&id.0[..])
                            .execute(&mut *tx)
                            .await?;
                    }
                    sqlx::query("UPDATE entries SET current_version = $1, updated_at = $2 WHERE id = $3")
                        .bind(version_id)
                        .bind(now)
                        .bind(entry_id)
                        .execute(&mut *tx)
                        .await?;
                    seqs.push(seq);
                }
                Ok(seqs)
            }
            .await;
            result
        })
    }

    /// Renames a file or a directory and everything under it.
    pub async fn rename(&self, user: i64, from: &str, to: &str) -> Result<(), CatalogError> {
        if path::is_within(to, from) {
            return Err(CatalogError::IntoItself(from.to_owned()));
        }
        let now = now_ms();
        let (lo, hi) = descendants(from);
        let cut = from.chars().count() as i64 + 1; // substr is 1-based and counts characters in both engines
        in_tx!(self, |tx| {
            let result: Result<(), CatalogError> = async {
                if lookup!(tx, user, from).is_none() {
                    return Err(CatalogError::NotFound(from.to_owned()));
                }
                if lookup!(tx, user, to).is_some() {
                    return Err(CatalogError::Exists(to.to_owned()));
                }
                if let Some(dir) = parent(to).filter(|d| *d != "/") {
                    match lookup!(tx, user, dir) {
                        None => return Err(CatalogError::NotFound(dir.to_owned())),
                        Some((_, FILE, _)) => return Err(CatalogError::ParentIsFile(to.to_owned())),
                        Some(_) => {}
                    }
                }
                sqlx::query(
                    "UPDATE entries SET path = $1 || substr(path, CAST($2 AS INTEGER)), \
                     parent = $1 || substr(parent, CAST($2 AS INTEGER)), updated_at = $3 \
                     WHERE user_id = $4 AND path > $5 AND path < $6",
                )
                .bind(to)
                .bind(cut)
                .bind(now)
                .bind(user)
                .bind(&lo)
                .bind(&hi)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE entries SET path = $1, parent = $2, updated_at = $3 WHERE user_id = $4 AND path = $5",
                )
                .bind(to)
                .bind(parent(to).unwrap_or(""))
                .bind(now)
                .bind(user)
                .bind(from)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }
            .await;
            result
        })
    }

    /// Removes a file, or a directory (with `recursive`, everything under it).
    /// Chunk refcounts drop; chunks nobody references become collectable after
    /// `grace_ms` (a put that just found them present can still commit).
    pub async fn remove(&self, user: i64, p: &str, recursive: bool, grace_ms: i64) -> Result<(u64, u64), CatalogError> {
        let collectable = now_ms() + grace_ms;
        let (lo, hi) = descendants(p);
        in_tx!(self, |tx| {
            let result: Result<(u64, u64), CatalogError> = async {
                if p != "/" {
                    match lookup!(tx, user, p) {
                        None => return Err(CatalogError::NotFound(p.to_owned())),
                        Some((_, DIR, _)) if !recursive => {
                            let child: Option<i64> =
                                sqlx::query_scalar("SELECT id FROM entries WHERE user_id = $1 AND parent = $2 LIMIT 1")
                                    .bind(user)
                                    .bind(p)
                                    .fetch_optional(&mut *tx)
                                    .await?;
                            if child.is_some() {
                                return Err(CatalogError::NotEmpty(p.to_owned()));
                            }
                        }
                        Some(_) => {}
                    }
                } else if !recursive {
                    return Err(CatalogError::NotEmpty("/".to_owned()));
                }
                // The rows to go: the entry itself and its descendants.
                const SCOPE: &str = "e.user_id = $1 AND (e.path = $2 OR (e.path > $3 AND e.path < $4))";
                let refs = sqlx::AssertSqlSafe(format!(
                    "UPDATE chunks SET refcount = refcount - (SELECT COUNT(*) FROM version_chunks vc \
                       JOIN versions v ON v.id = vc.version_id JOIN entries e ON e.id = v.entry_id \
                       WHERE {SCOPE} AND vc.chunk_id = chunks.chunk_id), expires_at = $5 \
                     WHERE user_id = $1 AND chunk_id IN (SELECT vc.chunk_id FROM version_chunks vc \
                       JOIN versions v ON v.id = vc.version_id JOIN entries e ON e.id = v.entry_id WHERE {SCOPE})"
                ));
                sqlx::query(refs).bind(user).bind(p).bind(&lo).bind(&hi).bind(collectable).execute(&mut *tx).await?;
                let freed = sqlx::AssertSqlSafe(format!(
                    "UPDATE users SET used_bytes = used_bytes - (SELECT COALESCE(SUM(length(v.manifest)), 0) \
                       FROM versions v JOIN entries e ON e.id = v.entry_id WHERE {SCOPE}) WHERE id = $1"
                ));
                sqlx::query(freed).bind(user).bind(p).bind(&lo).bind(&hi).execute(&mut *tx).await?;
                let counts = sqlx::AssertSqlSafe(format!(
                    "SELECT COALESCE(SUM(CASE WHEN e.kind = {FILE} THEN 1 ELSE 0 END), 0), \
                            COALESCE(SUM(CASE WHEN e.kind = {DIR} THEN 1 ELSE 0 END), 0) FROM entries e WHERE {SCOPE}"
                ));
                let (files, dirs): (i64, i64) =
                    sqlx::query_as(counts).bind(user).bind(p).bind(&lo).bind(&hi).fetch_one(&mut *tx).await?;
                sqlx::query("DELETE FROM entries WHERE user_id = $1 AND (path = $2 OR (path > $3 AND path < $4))")
                    .bind(user)
                    .bind(p)
                    .bind(&lo)
                    .bind(&hi)
                    .execute(&mut *tx)
                    .await?;
                Ok((files as u64, dirs as u64))
            }
            .await;
            result
        })
    }

    /// Makes version `seq` of a file current again, as a new version.
    pub async fn restore(&self, user: i64, p: &str, seq: i64) -> Result<i64, CatalogError> {
        let Some((old, chunks)) = self.read_version(user, p, Some(seq)).await? else {
            return Err(CatalogError::NotFound(format!("{p} version {seq}")));
        };
        let item = CommitItem {
            path: p.to_owned(),
            size: old.size,
            mtime: old.mtime,
            content_hash: old.content_hash,
            manifest: old.manifest,
            wrapped_key: old.wrapped_key,
            chunks,
            expect: None,
        };
        Ok(self.commit(user, std::slice::from_ref(&item)).await?[0])
    }
}

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
