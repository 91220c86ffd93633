//! History in the catalog: the trash, forgetting versions by a retention
//! policy, and what kept history costs.
//!
//! A removed file keeps its entry row, moved to the path `#trash/ID` in the
//! parent `#trash` (no real path starts with `#`, so no lookup, listing or
//! descendant range reaches it), with the path it had in `removed_from`.
//! Its versions, chunks and numbering stay as they were: restoring it is
//! one update. Data leaves only on a positive decision: the owner empties
//! the trash or forgets versions, or the account's retention policy,
//! applied by collection, says the time is up.

use std::collections::HashSet;

use pyxis_proto::path::parent;
use pyxis_proto::retention::{Dated, Retention};

// `ensure_parents!` and `lookup!` expand to code that names these.
use super::batch::marks;
use super::{CatalogError, DIR, FILE, ListedRow, ancestors, descendants};
use crate::db::changes::Change;
use crate::db::{Db, now_ms};
use crate::on_db;

/// The parent of every entry in the trash.
pub const TRASH: &str = "#trash";

/// A file in the trash, as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrashRow {
    #[sqlx(flatten)]
    pub entry: ListedRow,
    pub trash_id: i64,
    pub removed_at: Option<i64>,
    pub versions: i64,
}

/// A version that retention looked at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgedVersion {
    pub id: i64,
    pub entry_id: i64,
    pub seq: i64,
    pub size: i64,
    pub created_at: i64,
    pub current_version: Option<i64>,
    pub path: String,
    pub removed_at: Option<i64>,
}

/// Counts and plaintext sizes of what an account keeps.
#[derive(Debug, Clone, Default)]
pub struct UsageRow {
    pub files: (i64, i64),
    pub old_versions: (i64, i64),
    pub trashed: (i64, i64),
}

/// A trashed entry's path it had, current version and entry tag.
type Trashed = (Option<String>, Option<i64>, Option<Vec<u8>>);

/// Releases what versions hold, before their rows go: each chunk's refcount
/// falls by the versions using it (a chunk nobody uses becomes collectable
/// at `$collectable`), and each version's manifest is credited back to
/// whoever paid for it (the committer: the owner, or a writer through a
/// share).
macro_rules! release_versions {
    ($tx:expr, $owner:expr, $ids:expr, $collectable:expr) => {{
        let ids: &[i64] = $ids;
        for batch in ids.chunks(500) {
            let list = $crate::db::catalog::batch::marks(2, batch.len());
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE chunks SET refcount = refcount - (SELECT COUNT(*) FROM version_chunks vc \
                   WHERE vc.version_id IN ({list}) AND vc.user_id = chunks.user_id AND vc.chunk_id = chunks.chunk_id), \
                 expires_at = $1 \
                 WHERE (user_id, chunk_id) IN (SELECT user_id, chunk_id FROM version_chunks WHERE version_id IN ({list}))"
            ));
            let mut q = sqlx::query(sql).bind($collectable);
            for id in batch {
                q = q.bind(id);
            }
            q.execute(&mut *$tx).await?;
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT COALESCE(writer_id, $1), CAST(SUM(length(manifest)) AS BIGINT) FROM versions \
                 WHERE id IN ({list}) GROUP BY COALESCE(writer_id, $1)"
            ));
            let mut q = sqlx::query_as::<_, (i64, i64)>(sql).bind($owner);
            for id in batch {
                q = q.bind(id);
            }
            for (payer, bytes) in q.fetch_all(&mut *$tx).await? {
                sqlx::query("UPDATE users SET used_bytes = used_bytes - $1 WHERE id = $2")
                    .bind(bytes)
                    .bind(payer)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

/// Deletes rows `DELETE FROM $table WHERE id IN (ids)`, by batches.
macro_rules! delete_ids {
    ($tx:expr, $table:literal, $ids:expr) => {{
        for batch in $ids.chunks(500) {
            let sql = sqlx::AssertSqlSafe(format!(
                "DELETE FROM {} WHERE id IN ({})",
                $table,
                $crate::db::catalog::batch::marks(1, batch.len())
            ));
            let mut q = sqlx::query(sql);
            for id in batch {
                q = q.bind(id);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}

impl Db {
    /// The trash: files removed from under `scope` (all when "/"), newest
    /// removal first, at most `limit`.
    pub async fn trash(&self, user: i64, scope: &str, limit: i64) -> sqlx::Result<Vec<TrashRow>> {
        let (lo, hi) = descendants(scope);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT e.removed_from AS path, e.kind, v.size, v.mtime, v.seq, v.content_hash, v.created_at AS committed_at, \
             v.file_id, e.entry_tag, e.current_version AS version_id, w.username AS writer, v.writer_keys, \
             e.id AS trash_id, e.removed_at, (SELECT COUNT(*) FROM versions c WHERE c.entry_id = e.id) AS versions \
             FROM entries e LEFT JOIN versions v ON v.id = e.current_version LEFT JOIN users w ON w.id = v.writer_id \
             WHERE e.user_id = $1 AND e.parent = '{TRASH}' AND ($2 = '/' OR e.removed_from = $2 \
               OR (e.removed_from > $3 AND e.removed_from < $4)) \
             ORDER BY e.removed_at DESC, e.id DESC LIMIT $5"
        ));
        on_db!(
            self,
            read | c | sqlx::query_as(sql).bind(user).bind(scope).bind(&lo).bind(&hi).bind(limit).fetch_all(c).await
        )
    }

    /// Puts trash item `id` back at the path it had, or at `to` (with the
    /// entry tag its client made for that path: a tag names its path).
    /// Returns the path and the version now current there.
    pub async fn untrash(
        &self,
        user: i64,
        id: i64,
        to: Option<&str>,
        entry_tag: Option<&[u8]>,
    ) -> Result<(String, i64), CatalogError> {
        let now = now_ms();
        in_tx!(self, |tx| {
            let result: Result<(String, i64), CatalogError> = async {
                let row: Option<Trashed> = sqlx::query_as(
                    "SELECT removed_from, current_version, entry_tag FROM entries \
                     WHERE id = $1 AND user_id = $2 AND parent = $3",
                )
                .bind(id)
                .bind(user)
                .bind(TRASH)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((Some(from), Some(current), tag)) = row else {
                    return Err(CatalogError::NotFound(format!("trash item {id}")));
                };
                let target = to.unwrap_or(&from).to_owned();
                if lookup!(tx, user, &target).is_some() {
                    return Err(CatalogError::Exists(target));
                }
                let was_bound = tag.is_some();
                let new_tag = if target == from { tag } else { entry_tag.map(<[u8]>::to_vec) };
                if target != from && was_bound && new_tag.is_none() {
                    return Err(CatalogError::BindingRequired { path: target, bound: 1, tags: 0 });
                }
                let mut known = HashSet::new();
                ensure_parents!(tx, user, &target, known, now)?;
                sqlx::query(
                    "UPDATE entries SET path = $1, parent = $2, removed_from = NULL, removed_at = NULL, \
                     entry_tag = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(&target)
                .bind(parent(&target).unwrap_or(""))
                .bind(new_tag)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let seq: i64 = sqlx::query_scalar("SELECT seq FROM versions WHERE id = $1")
                    .bind(current)
                    .fetch_one(&mut *tx)
                    .await?;
                record_change!(tx, user, Change::commit(&target, seq), now);
                Ok((target, seq))
            }
            .await;
            result
        })
    }

    /// Deletes trash items for good: those in `ids` (others' ids and ids
    /// not in the trash are ignored). Returns (files, versions) deleted.
    /// Their chunks become collectable after `grace_ms`.
    pub async fn purge_trash(&self, user: i64, ids: &[i64], grace_ms: i64) -> Result<(u64, u64), CatalogError> {
        let collectable = now_ms() + grace_ms;
        let mut files = 0;
        let mut versions = 0;
        for batch in ids.chunks(500) {
            in_tx!(self, |tx| {
                let result: Result<(), CatalogError> = async {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM entries WHERE user_id = $1 AND parent = $2 AND id IN ({})",
                        marks(3, batch.len())
                    ));
                    let mut q = sqlx::query_scalar::<_, i64>(sql).bind(user).bind(TRASH);
                    for id in batch {
                        q = q.bind(id);
                    }
                    let entries = q.fetch_all(&mut *tx).await?;
                    if entries.is_empty() {
                        return Ok(());
                    }
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT id FROM versions WHERE entry_id IN ({})",
                        marks(1, entries.len())
                    ));
                    let mut q = sqlx::query_scalar::<_, i64>(sql);
                    for id in &entries {
                        q = q.bind(id);
                    }
                    let vids = q.fetch_all(&mut *tx).await?;
                    release_versions!(tx, user, &vids, collectable);
                    // The versions go with their entries (ON DELETE CASCADE).
                    delete_ids!(tx, "entries", &entries);
                    files += entries.len() as u64;
                    versions += vids.len() as u64;
                    Ok(())
                }
                .await;
                result
            })?;
        }
        Ok((files, versions))
    }

    /// Trash items removed before `before`, oldest first.
    pub async fn trash_due(&self, user: i64, before: i64, limit: i64) -> sqlx::Result<Vec<i64>> {
        on_db!(
            self,
            read | c | {
                sqlx::query_scalar(
                    "SELECT id FROM entries WHERE user_id = $1 AND parent = $2 AND removed_at < $3 \
                     ORDER BY removed_at LIMIT $4",
                )
                .bind(user)
                .bind(TRASH)
                .bind(before)
                .bind(limit)
                .fetch_all(c)
                .await
            }
        )
    }

    /// The versions of files under `scope` (by the path they have or had)
    /// that have older versions, newest first per file.
    pub async fn aged_versions(&self, user: i64, scope: &str) -> sqlx::Result<Vec<AgedVersion>> {
        let (lo, hi) = descendants(scope);
        on_db!(
            self,
            read | c | {
                sqlx::query_as(
                    "SELECT v.id, v.entry_id, v.seq, v.size, v.created_at, e.current_version, \
                     COALESCE(e.removed_from, e.path) AS path, e.removed_at \
                     FROM versions v JOIN entries e ON e.id = v.entry_id \
                     WHERE e.user_id = $1 AND e.kind = $5 \
                     AND EXISTS (SELECT 1 FROM versions o WHERE o.entry_id = e.id AND o.id <> e.current_version) \
                     AND ($2 = '/' OR COALESCE(e.removed_from, e.path) = $2 \
                       OR (COALESCE(e.removed_from, e.path) > $3 AND COALESCE(e.removed_from, e.path) < $4)) \
                     ORDER BY v.entry_id, v.seq DESC",
                )
                .bind(user)
                .bind(scope)
                .bind(&lo)
                .bind(&hi)
                .bind(FILE)
                .fetch_all(c)
                .await
            }
        )
    }

    /// Forgets these versions of `user`'s files, except any that is (now)
    /// a file's current version. Returns how many went.
    pub async fn forget_versions(&self, user: i64, ids: &[i64], grace_ms: i64) -> Result<u64, CatalogError> {
        let collectable = now_ms() + grace_ms;
        let mut gone = 0;
        for batch in ids.chunks(500) {
            in_tx!(self, |tx| {
                let result: Result<(), CatalogError> = async {
                    // Checked inside the transaction: a commit or restore
                    // since the caller looked may have changed what is current.
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT v.id FROM versions v JOIN entries e ON e.id = v.entry_id \
                         WHERE e.user_id = $1 AND e.current_version <> v.id AND v.id IN ({})",
                        marks(2, batch.len())
                    ));
                    let mut q = sqlx::query_scalar::<_, i64>(sql).bind(user);
                    for id in batch {
                        q = q.bind(id);
                    }
                    let vids = q.fetch_all(&mut *tx).await?;
                    release_versions!(tx, user, &vids, collectable);
                    delete_ids!(tx, "versions", &vids);
                    gone += vids.len() as u64;
                    Ok(())
                }
                .await;
                result
            })?;
        }
        Ok(gone)
    }

    /// The account's retention policy, if it set one (else the default applies).
    pub async fn retention(&self, user: i64) -> sqlx::Result<Option<Retention>> {
        let json: Option<String> = on_db!(
            self,
            read | c | {
                sqlx::query_scalar("SELECT retention FROM users WHERE id = $1").bind(user).fetch_one(c).await
            }
        )?;
        // Written by `set_retention` from a checked policy; anything else
        // (a hand edit) falls back to the default rather than to nothing.
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    pub async fn set_retention(&self, user: i64, policy: Option<&Retention>) -> sqlx::Result<()> {
        let json = policy.map(|p| serde_json::to_string(p).unwrap_or_default());
        on_db!(
            self,
            write | c | {
                sqlx::query("UPDATE users SET retention = $1 WHERE id = $2").bind(json).bind(user).execute(c).await?;
            }
        );
        Ok(())
    }

    /// Accounts whose history collection looks after (not deleted).
    pub async fn history_users(&self) -> sqlx::Result<Vec<(i64, Option<String>)>> {
        on_db!(
            self,
            read | c | sqlx::query_as("SELECT id, retention FROM users WHERE deleted_at IS NULL").fetch_all(c).await
        )
    }

    /// What the account keeps: current files, older versions, the trash.
    pub async fn usage(&self, user: i64) -> sqlx::Result<UsageRow> {
        const SUM: &str = "COUNT(*), CAST(COALESCE(SUM(v.size), 0) AS BIGINT)";
        let files = sqlx::AssertSqlSafe(format!(
            "SELECT {SUM} FROM entries e JOIN versions v ON v.id = e.current_version \
             WHERE e.user_id = $1 AND e.parent <> $2"
        ));
        let trashed = sqlx::AssertSqlSafe(format!(
            "SELECT {SUM} FROM entries e JOIN versions v ON v.id = e.current_version \
             WHERE e.user_id = $1 AND e.parent = $2"
        ));
        let old = sqlx::AssertSqlSafe(format!(
            "SELECT {SUM} FROM versions v JOIN entries e ON e.id = v.entry_id \
             WHERE e.user_id = $1 AND e.current_version <> v.id"
        ));
        on_db!(
            self,
            read | c | {
                Ok(UsageRow {
                    files: sqlx::query_as(files).bind(user).bind(TRASH).fetch_one(c).await?,
                    trashed: sqlx::query_as(trashed).bind(user).bind(TRASH).fetch_one(c).await?,
                    old_versions: sqlx::query_as(old).bind(user).fetch_one(c).await?,
                })
            }
        )
    }
}

/// Applies `policy` to the versions retention looked at: the ids to forget
/// and how many it keeps.
pub fn judge(policy: &Retention, versions: &[AgedVersion], now: i64) -> (Vec<usize>, u64) {
    let mut forget = Vec::new();
    let mut kept = 0;
    let mut start = 0;
    while start < versions.len() {
        let entry = versions[start].entry_id;
        let end = versions[start..].iter().position(|v| v.entry_id != entry).map_or(versions.len(), |n| start + n);
        let file = &versions[start..end];
        let dated: Vec<Dated> =
            file.iter().map(|v| Dated { at: v.created_at, current: v.current_version == Some(v.id) }).collect();
        for (i, k) in policy.keep(&dated, now).into_iter().enumerate() {
            if k {
                kept += 1;
            } else {
                forget.push(start + i);
            }
        }
        start = end;
    }
    (forget, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(entry: i64, id: i64, at: i64, current: bool) -> AgedVersion {
        AgedVersion {
            id,
            entry_id: entry,
            seq: id,
            size: 1,
            created_at: at,
            current_version: Some(if current { id } else { 0 }),
            path: format!("/f{entry}"),
            removed_at: None,
        }
    }

    #[test]
    fn judging_goes_file_by_file() {
        let p = Retention { keep_last: Some(1), ..Default::default() };
        let v = [aged(1, 3, 30, true), aged(1, 2, 20, false), aged(2, 9, 90, true), aged(2, 8, 80, false)];
        let (forget, kept) = judge(&p, &v, 100);
        assert_eq!(forget, [1, 3]);
        assert_eq!(kept, 2);
    }
}
