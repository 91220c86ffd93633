//! Committing many files at once. One file at a time, a commit of 1,000
//! small files was 6,000 statements, each a round trip to SQLite's worker
//! thread: in a 10,000-file sync a third of the server's CPU went to
//! switching between threads. A batch here is about ten statements,
//! whatever its size, with the same checks and the same result.

/// Files per batch: 12 values a version row, 2,400 a statement.
pub(super) const BATCH: usize = 200;

/// `(..), (..)`: `rows` tuples of `cols` placeholders, numbered from `first`.
pub(super) fn tuples(first: usize, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..cols).map(|c| format!("${}", first + r * cols + c)).collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$first, ..., $first+n-1`: `n` placeholders.
pub(super) fn marks(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `($first, ..., $first+n-1)`: an `IN` list.
pub(super) fn list(first: usize, n: usize) -> String {
    format!("({})", marks(first, n))
}

/// What a path holds before the commit.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct Existing {
    pub path: String,
    pub id: i64,
    pub kind: i64,
    pub seq: Option<i64>,
    pub size: Option<i64>,
    pub mtime: Option<i64>,
    pub content_hash: Option<Vec<u8>>,
}

/// Commits `$items` (distinct paths, each with its committer's own chunks)
/// inside transaction `$tx`, as `commit` does one by one: pushes each
/// file's (version, unchanged) to `$seqs`, its change to `$committed`, and
/// adds unchanged files' manifest bytes to `$unchanged`. Evaluates to
/// `Result<(), CatalogError>`.
macro_rules! commit_batch {
    ($tx:ident, $user:expr, $committer:expr, $items:expr, $now:expr, $known:ident, $seqs:ident, $committed:ident, $unchanged:ident) => {{
        use std::collections::{BTreeMap, HashMap, HashSet};

        use $crate::db::catalog::batch::{Existing, list, tuples};
        use $crate::db::sql_for;

        let items: &[CommitItem] = $items;
        let mut result: Result<(), CatalogError> = Ok(());
        'batch: {
            for it in items {
                if let Err(e) = ensure_parents!($tx, $user, &it.path, $known, $now) {
                    result = Err(e);
                    break 'batch;
                }
            }
            let sql = format!(
                "SELECT e.path, e.id, e.kind, v.seq, v.size, v.mtime, v.content_hash FROM entries e \
                 LEFT JOIN versions v ON v.id = e.current_version WHERE e.user_id = $1 AND e.path IN {}",
                list(2, items.len())
            );
            let mut q = sqlx::query_as::<_, Existing>(sqlx::AssertSqlSafe(sql_for(&$tx, sql))).bind($user);
            for it in items {
                q = q.bind(&it.path);
            }
            let existing: HashMap<String, Existing> =
                q.fetch_all(&mut *$tx).await?.into_iter().map(|e| (e.path.clone(), e)).collect();

            // (item, entry id, new version number)
            let mut todo: Vec<(&CommitItem, Option<i64>, i64)> = Vec::with_capacity(items.len());
            for it in items {
                let ex = existing.get(&it.path);
                if ex.is_some_and(|e| e.kind == DIR) {
                    result = Err(CatalogError::IsDirectory(it.path.clone()));
                    break 'batch;
                }
                let current = ex.and_then(|e| e.seq).unwrap_or(0);
                if let Some(expected) = it.expect
                    && expected != current
                {
                    result = Err(CatalogError::Conflict { path: it.path.clone(), expected, actual: current });
                    break 'batch;
                }
                let same = ex.is_some_and(|e| {
                    e.seq.is_some()
                        && e.size == Some(it.size)
                        && e.mtime == Some(it.mtime)
                        && e.content_hash.as_deref() == Some(&it.content_hash[..])
                });
                if same && !it.new_version {
                    $unchanged += it.manifest.len() as i64;
                    $seqs.push((current, true));
                    continue;
                }
                todo.push((it, ex.map(|e| e.id), current + 1));
                $seqs.push((current + 1, false));
            }
            if todo.is_empty() {
                break 'batch;
            }

            // New paths get their entries.
            let new: Vec<&CommitItem> = todo.iter().filter(|t| t.1.is_none()).map(|t| t.0).collect();
            if !new.is_empty() {
                let sql = format!(
                    "INSERT INTO entries (user_id, path, parent, kind, created_at, updated_at) VALUES {} RETURNING id, path",
                    tuples(1, new.len(), 6)
                );
                let mut q = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql_for(&$tx, sql)));
                for it in &new {
                    q = q.bind($user).bind(&it.path).bind(parent(&it.path).unwrap_or("")).bind(FILE).bind($now).bind($now);
                }
                let ids: HashMap<String, i64> = q.fetch_all(&mut *$tx).await?.into_iter().map(|(id, p)| (p, id)).collect();
                for t in &mut todo {
                    if t.1.is_none() {
                        t.1 = ids.get(&t.0.path).copied();
                    }
                }
            }
            let todo: Vec<(&CommitItem, i64, i64)> = todo.into_iter().filter_map(|(it, e, s)| Some((it, e?, s))).collect();

            // The versions.
            let sql = format!(
                "INSERT INTO versions (entry_id, seq, size, mtime, content_hash, manifest, wrapped_key, created_at, \
                 file_id, version_tag, writer_id, writer_keys) VALUES {} RETURNING id, entry_id",
                tuples(1, todo.len(), 12)
            );
            let mut q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql_for(&$tx, sql)));
            for (it, entry, seq) in &todo {
                let b = it.binding.as_ref();
                q = q
                    .bind(*entry)
                    .bind(*seq)
                    .bind(it.size)
                    .bind(it.mtime)
                    .bind(&it.content_hash)
                    .bind(&it.manifest)
                    .bind(&it.wrapped_key)
                    .bind($now)
                    .bind(b.map(|b| &b.file_id))
                    .bind(b.map(|b| &b.version_tag))
                    .bind(it.writer.as_ref().map(|w| w.0))
                    .bind(it.writer.as_ref().map(|w| &w.1));
            }
            let version_of: HashMap<i64, i64> =
                q.fetch_all(&mut *$tx).await?.into_iter().map(|(id, entry)| (entry, id)).collect();

            // Each chunk's refcount grows by the versions using it; every
            // one must be stored (placed chunks become stored only with
            // their receipts).
            let mut uses: HashMap<&[u8], i64> = HashMap::new();
            for (it, _, _) in &todo {
                for id in &it.chunks {
                    *uses.entry(&id.0[..]).or_default() += 1;
                }
            }
            let mut by_count: BTreeMap<i64, Vec<&[u8]>> = BTreeMap::new();
            for (id, n) in uses {
                by_count.entry(n).or_default().push(id);
            }
            for (n, ids) in &by_count {
                for group in ids.chunks(500) {
                    let sql = format!(
                        "UPDATE chunks SET refcount = refcount + $1, expires_at = NULL \
                         WHERE user_id = $2 AND state = 2 AND chunk_id IN {}",
                        list(3, group.len())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql_for(&$tx, sql))).bind(*n).bind($committer);
                    for id in group {
                        q = q.bind(*id);
                    }
                    if q.execute(&mut *$tx).await?.rows_affected() == group.len() as u64 {
                        continue;
                    }
                    let sql = format!(
                        "SELECT chunk_id FROM chunks WHERE user_id = $1 AND state = 2 AND chunk_id IN {}",
                        list(2, group.len())
                    );
                    let mut q = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(sql_for(&$tx, sql))).bind($committer);
                    for id in group {
                        q = q.bind(*id);
                    }
                    let stored: HashSet<Vec<u8>> = q.fetch_all(&mut *$tx).await?.into_iter().collect();
                    let missing = todo.iter().find_map(|(it, _, _)| {
                        it.chunks.iter().find(|c| group.contains(&&c.0[..]) && !stored.contains(&c.0[..])).map(|c| (it, *c))
                    });
                    if let Some((it, id)) = missing {
                        result = Err(CatalogError::MissingChunk { path: it.path.clone(), id });
                        break 'batch;
                    }
                }
            }
            let mut links: Vec<(i64, &[u8])> = Vec::new();
            let mut wraps: Vec<(i64, i64, &Vec<u8>)> = Vec::new();
            for (it, entry, _) in &todo {
                let Some(&v) = version_of.get(entry) else { continue };
                links.extend(it.chunks.iter().map(|c| (v, &c.0[..])));
                wraps.extend(it.share_keys.iter().map(|(share, w)| (*share, v, w)));
            }
            for group in links.chunks(500) {
                let sql = format!(
                    "INSERT INTO version_chunks (version_id, user_id, chunk_id) VALUES {}",
                    tuples(1, group.len(), 3)
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql_for(&$tx, sql)));
                for (v, c) in group {
                    q = q.bind(*v).bind($committer).bind(*c);
                }
                q.execute(&mut *$tx).await?;
            }
            if !wraps.is_empty() {
                // Only shares of the committer's: the owner's, or one that
                // lets this grantee write (the route checked each covers
                // its path).
                let shares: Vec<i64> = wraps.iter().map(|w| w.0).collect::<HashSet<_>>().into_iter().collect();
                let sql = format!(
                    "SELECT id FROM shares WHERE (owner_id = $1 OR (grantee_id = $2 AND mode = 2)) AND id IN {}",
                    list(3, shares.len())
                );
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql_for(&$tx, sql))).bind($user).bind($committer);
                for s in &shares {
                    q = q.bind(*s);
                }
                let allowed: HashSet<i64> = q.fetch_all(&mut *$tx).await?.into_iter().collect();
                wraps.retain(|w| allowed.contains(&w.0));
                for group in wraps.chunks(500) {
                    let sql = format!(
                        "INSERT INTO share_keys (share_id, version_id, wrapped) VALUES {}",
                        tuples(1, group.len(), 3)
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql_for(&$tx, sql)));
                    for (s, v, w) in group {
                        q = q.bind(*s).bind(*v).bind(*w);
                    }
                    q.execute(&mut *$tx).await?;
                }
            }
            // Each entry points at its new version, with its new entry tag.
            let sql = format!(
                "UPDATE entries SET updated_at = $1, current_version = x.column2, entry_tag = x.column3 \
                 FROM (VALUES {}) AS x WHERE entries.id = x.column1",
                tuples(2, todo.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql_for(&$tx, sql))).bind($now);
            for (it, entry, _) in &todo {
                q = q.bind(*entry).bind(version_of.get(entry).copied()).bind(it.binding.as_ref().map(|b| &b.entry_tag));
            }
            q.execute(&mut *$tx).await?;
            for (it, _, seq) in &todo {
                $committed.push(Change::commit(&it.path, *seq));
            }
        }
        result
    }};
}

#[cfg(test)]
mod tests {
    #[test]
    fn tuples_number_in_order() {
        assert_eq!(super::tuples(2, 2, 2), "($2, $3), ($4, $5)");
        assert_eq!(super::tuples(1, 1, 1), "($1)");
        assert_eq!(super::list(3, 2), "($3, $4)");
    }
}
