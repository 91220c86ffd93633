//! Catalog writes: mkdir, commit, rename, remove and restore, each one
//! transaction, so a crash leaves either the old tree or the new one.

use std::collections::HashSet;

use pyxis_proto::path::{self, parent};

use super::{Binding, CatalogError, CommitItem, DIR, FILE, ancestors, descendants};
use crate::db::changes::Change;
use crate::db::{Db, now_ms};
use crate::on_db;

/// Charges `$committer` the manifests' bytes up front, or refuses the
/// commit with [`CatalogError::Quota`]. Evaluates to `Result<(), CatalogError>`.
macro_rules! charge_manifests {
    ($tx:ident, $committer:expr, $manifest_bytes:expr) => {
        async {
            let (committer, manifest_bytes) = ($committer, $manifest_bytes);
            let charged = sqlx::query(
                "UPDATE users SET used_bytes = used_bytes + $1 WHERE id = $2 AND used_bytes + $1 <= quota_bytes",
            )
            .bind(manifest_bytes)
            .bind(committer)
            .execute(&mut *$tx)
            .await?;
            if charged.rows_affected() == 0 {
                let (used, quota): (i64, i64) =
                    sqlx::query_as("SELECT used_bytes, quota_bytes FROM users WHERE id = $1")
                        .bind(committer)
                        .fetch_one(&mut *$tx)
                        .await?;
                return Err(CatalogError::Quota { used, quota, need: manifest_bytes });
            }
            Ok::<(), CatalogError>(())
        }
        .await
    };
}

/// The file entry a commit writes to, made if new: (entry id, its current
/// version's seq or 0, whether the item equals that version). Refuses a
/// directory. Evaluates to `Result<(i64, i64, bool), CatalogError>`.
macro_rules! entry_for_commit {
    ($tx:ident, $user:expr, $it:expr, $now:expr) => {
        async {
            let (user, it, now): (i64, &CommitItem, i64) = ($user, $it, $now);
            let existing = lookup!($tx, user, &it.path);
            let found = match existing {
                Some((_, DIR, _)) => return Err(CatalogError::IsDirectory(it.path.clone())),
                Some((id, _, cur)) => {
                    let row: Option<(i64, i64, i64, Vec<u8>)> = match cur {
                        Some(v) => {
                            sqlx::query_as("SELECT seq, size, mtime, content_hash FROM versions WHERE id = $1")
                                .bind(v)
                                .fetch_optional(&mut *$tx)
                                .await?
                        }
                        None => None,
                    };
                    let same = row.as_ref().is_some_and(|(_, size, mtime, hash)| {
                        *size == it.size && *mtime == it.mtime && *hash == it.content_hash
                    });
                    (id, row.map_or(0, |r| r.0), same)
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
                    .fetch_one(&mut *$tx)
                    .await?;
                    (id, 0, false)
                }
            };
            Ok::<_, CatalogError>(found)
        }
        .await
    };
}

/// Inserts version `$seq` of `$it` under entry `$entry_id`. Evaluates to
/// `Result<i64, CatalogError>`: the version's id.
macro_rules! insert_version {
    ($tx:ident, $it:expr, $entry_id:expr, $seq:expr, $now:expr) => {
        async {
            let (it, entry_id, seq, now): (&CommitItem, i64, i64, i64) = ($it, $entry_id, $seq, $now);
            let b = it.binding.as_ref();
            let version_id: i64 = sqlx::query_scalar(
                "INSERT INTO versions (entry_id, seq, size, mtime, content_hash, manifest, wrapped_key, created_at, \
                 file_id, version_tag, writer_id, writer_keys) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 RETURNING id",
            )
            .bind(entry_id)
            .bind(seq)
            .bind(it.size)
            .bind(it.mtime)
            .bind(&it.content_hash)
            .bind(&it.manifest)
            .bind(&it.wrapped_key)
            .bind(now)
            .bind(b.map(|b| &b.file_id))
            .bind(b.map(|b| &b.version_tag))
            .bind(it.writer.as_ref().map(|w| w.0))
            .bind(it.writer.as_ref().map(|w| &w.1))
            .fetch_one(&mut *$tx)
            .await?;
            Ok::<_, CatalogError>(version_id)
        }
        .await
    };
}

/// Takes a reference on each chunk of `$it` for version `$version_id`: each
/// must be stored, and another user's only if a version of this file used it.
/// Evaluates to `Result<(), CatalogError>`.
macro_rules! attach_chunks {
    ($tx:ident, $committer:expr, $it:expr, $entry_id:expr, $version_id:expr) => {
        async {
            let (committer, it, entry_id, version_id): (i64, &CommitItem, i64, i64) =
                ($committer, $it, $entry_id, $version_id);
            for id in &it.chunks {
                // Another user's chunks only as a version of this file used them.
                if it.chunk_user != committer {
                    let used: Option<i64> = sqlx::query_scalar(
                        "SELECT vc.version_id FROM version_chunks vc JOIN versions v ON v.id = vc.version_id \
                         WHERE v.entry_id = $1 AND vc.user_id = $2 AND vc.chunk_id = $3 LIMIT 1",
                    )
                    .bind(entry_id)
                    .bind(it.chunk_user)
                    .bind(&id.0[..])
                    .fetch_optional(&mut *$tx)
                    .await?;
                    if used.is_none() {
                        return Err(CatalogError::MissingChunk { path: it.path.clone(), id: *id });
                    }
                }
                let r = sqlx::query(
                    "UPDATE chunks SET refcount = refcount + 1, expires_at = NULL WHERE user_id = $1 AND chunk_id = $2 AND state = 2",
                )
                .bind(it.chunk_user)
                .bind(&id.0[..])
                .execute(&mut *$tx)
                .await?;
                if r.rows_affected() == 0 {
                    return Err(CatalogError::MissingChunk { path: it.path.clone(), id: *id });
                }
                sqlx::query("INSERT INTO version_chunks (version_id, user_id, chunk_id) VALUES ($1, $2, $3)")
                    .bind(version_id)
                    .bind(it.chunk_user)
                    .bind(&id.0[..])
                    .execute(&mut *$tx)
                    .await?;
            }
            Ok::<(), CatalogError>(())
        }
        .await
    };
}

/// Stores the share keys `$it` carries for version `$version_id`, then makes
/// that version the entry's current one. Evaluates to `Result<(), CatalogError>`.
macro_rules! attach_share_keys_and_make_current {
    ($tx:ident, $user:expr, $committer:expr, $it:expr, $entry_id:expr, $version_id:expr, $now:expr) => {
        async {
            let (user, committer, it, entry_id, version_id, now): (i64, i64, &CommitItem, i64, i64, i64) =
                ($user, $committer, $it, $entry_id, $version_id, $now);
            let b = it.binding.as_ref();
            for (share, wrapped) in &it.share_keys {
                // Only a share of the committer's (the route checked it covers the path).
                sqlx::query(
                    "INSERT INTO share_keys (share_id, version_id, wrapped) \
                     SELECT id, $2, $3 FROM shares WHERE id = $1 AND (owner_id = $4 OR (grantee_id = $5 AND mode = 2))",
                )
                .bind(share)
                .bind(version_id)
                .bind(wrapped)
                .bind(user)
                .bind(committer)
                .execute(&mut *$tx)
                .await?;
            }
            sqlx::query("UPDATE entries SET current_version = $1, updated_at = $2, entry_tag = $3 WHERE id = $4")
                .bind(version_id)
                .bind(now)
                .bind(b.map(|b| &b.entry_tag))
                .bind(entry_id)
                .execute(&mut *$tx)
                .await?;
            Ok::<(), CatalogError>(())
        }
        .await
    };
}

impl Db {
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
                record_change!(tx, user, Change::mkdir(p), now);
                Ok(())
            }
            .await;
            result
        })
    }

    /// Commits new versions of files, all or nothing. Parents are created as
    /// needed; every chunk must exist for the user (placed chunks become
    /// stored: the client commits only after every shard is up). A file
    /// whose content hash, size and mtime equal its current version's gets
    /// no new version; it comes back as (current version, `true`).
    /// `user` owns the tree; `committer` pays for the manifests (the owner,
    /// or a writer through a share).
    pub async fn commit(
        &self,
        user: i64,
        committer: i64,
        items: &[CommitItem],
    ) -> Result<Vec<(i64, bool)>, CatalogError> {
        let now = now_ms();
        in_tx!(self, |tx| {
            let result: Result<Vec<(i64, bool)>, CatalogError> = async {
                let manifest_bytes: i64 = items.iter().map(|i| i.manifest.len() as i64).sum();
                charge_manifests!(tx, committer, manifest_bytes)?;
                let mut known = HashSet::new();
                let mut seqs = Vec::with_capacity(items.len());
                let mut committed = Vec::with_capacity(items.len());
                let mut unchanged_bytes = 0i64;
                // Batches, unless a path repeats (each must see the one
                // before) or a version reuses another user's chunks (checked
                // one by one below).
                let distinct = items.iter().map(|i| i.path.as_str()).collect::<HashSet<_>>().len() == items.len();
                let batched = distinct && items.iter().all(|i| i.chunk_user == committer);
                if batched {
                    for batch in items.chunks(super::batch::BATCH) {
                        commit_batch!(tx, user, committer, batch, now, known, seqs, committed, unchanged_bytes)?;
                    }
                }
                for it in items.iter().filter(|_| !batched) {
                    ensure_parents!(tx, user, &it.path, known, now)?;
                    let (entry_id, current, same) = entry_for_commit!(tx, user, it, now)?;
                    if let Some(expected) = it.expect
                        && expected != current
                    {
                        return Err(CatalogError::Conflict { path: it.path.clone(), expected, actual: current });
                    }
                    if same && !it.new_version {
                        unchanged_bytes += it.manifest.len() as i64;
                        seqs.push((current, true));
                        continue;
                    }
                    let seq = current + 1;
                    let version_id = insert_version!(tx, it, entry_id, seq, now)?;
                    attach_chunks!(tx, committer, it, entry_id, version_id)?;
                    attach_share_keys_and_make_current!(tx, user, committer, it, entry_id, version_id, now)?;
                    committed.push(Change::commit(&it.path, seq));
                    seqs.push((seq, false));
                }
                // One counter update and a few inserts for the whole commit
                // (a tree of small files commits 1,000 at a time).
                record_changes!(tx, user, committed, now);
                if unchanged_bytes > 0 {
                    // Charged up front with the rest; no manifest was stored for these.
                    sqlx::query("UPDATE users SET used_bytes = used_bytes - $1 WHERE id = $2")
                        .bind(unchanged_bytes)
                        .bind(committer)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(seqs)
            }
            .await;
            result
        })
    }

    /// Renames a file or a directory and everything under it. Every moved
    /// file's entry tag is replaced by the one given for its new path, or
    /// cleared: a tag names its path, so an old one would not verify.
    pub async fn rename(
        &self,
        user: i64,
        from: &str,
        to: &str,
        tags: &[(String, Vec<u8>)],
    ) -> Result<(), CatalogError> {
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
                // A client that does not re-bind (an older one) would leave
                // bound files unbound: refused, so no honest move breaks them.
                let bound: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM entries WHERE user_id = $1 AND (path = $2 OR (path > $3 AND path < $4)) \
                     AND entry_tag IS NOT NULL",
                )
                .bind(user)
                .bind(from)
                .bind(&lo)
                .bind(&hi)
                .fetch_one(&mut *tx)
                .await?;
                if bound > tags.len() as i64 {
                    return Err(CatalogError::BindingRequired { path: from.to_owned(), bound, tags: tags.len() });
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
                let (new_lo, new_hi) = descendants(to);
                sqlx::query(
                    "UPDATE entries SET entry_tag = NULL WHERE user_id = $1 AND (path = $2 OR (path > $3 AND path < $4))",
                )
                .bind(user)
                .bind(to)
                .bind(&new_lo)
                .bind(&new_hi)
                .execute(&mut *tx)
                .await?;
                for (p, tag) in tags {
                    if p != to && !path::is_within(p, to) {
                        return Err(CatalogError::NotFound(format!("{p} (a tag for a path the move does not make)")));
                    }
                    sqlx::query("UPDATE entries SET entry_tag = $1 WHERE user_id = $2 AND path = $3 AND kind = $4")
                        .bind(tag)
                        .bind(user)
                        .bind(p)
                        .bind(FILE)
                        .execute(&mut *tx)
                        .await?;
                }
                record_change!(tx, user, Change::moved(from, to), now);
                Ok(())
            }
            .await;
            result
        })
    }

    /// Removes a file, or a directory (with `recursive`, everything under it).
    /// Files go to the trash (`history.rs`), unless `permanently`: then
    /// chunk refcounts drop, and chunks nobody references become
    /// collectable after `grace_ms` (a put that just found them present can
    /// still commit). `expect`: only while the file's current version is
    /// that one (0: a directory), so a remove never takes away an edit its
    /// caller did not see.
    pub async fn remove(
        &self,
        user: i64,
        p: &str,
        recursive: bool,
        grace_ms: i64,
        expect: Option<i64>,
        permanently: bool,
    ) -> Result<(u64, u64), CatalogError> {
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
                    if let (Some(expected), Some((_, _, cur))) = (expect, lookup!(tx, user, p)) {
                        let actual: i64 = match cur {
                            Some(v) => {
                                sqlx::query_scalar("SELECT seq FROM versions WHERE id = $1")
                                    .bind(v)
                                    .fetch_one(&mut *tx)
                                    .await?
                            }
                            None => 0,
                        };
                        if actual != expected {
                            return Err(CatalogError::Conflict { path: p.to_owned(), expected, actual });
                        }
                    }
                } else if !recursive {
                    return Err(CatalogError::NotEmpty("/".to_owned()));
                }
                // The rows to go: the entry itself and its descendants.
                const SCOPE: &str = "e.user_id = $1 AND (e.path = $2 OR (e.path > $3 AND e.path < $4))";
                let counts = sqlx::AssertSqlSafe(format!(
                    "SELECT COALESCE(SUM(CASE WHEN e.kind = {FILE} THEN 1 ELSE 0 END), 0), \
                            COALESCE(SUM(CASE WHEN e.kind = {DIR} THEN 1 ELSE 0 END), 0) FROM entries e WHERE {SCOPE}"
                ));
                let (files, dirs): (i64, i64) =
                    sqlx::query_as(counts).bind(user).bind(p).bind(&lo).bind(&hi).fetch_one(&mut *tx).await?;
                if !permanently {
                    // Files keep their rows, renamed into the trash; the
                    // directories go below.
                    sqlx::query(
                        "UPDATE entries SET removed_from = path, removed_at = $5, updated_at = $5, \
                         path = '#trash/' || CAST(id AS TEXT), parent = '#trash' \
                         WHERE user_id = $1 AND (path = $2 OR (path > $3 AND path < $4)) AND kind = $6",
                    )
                    .bind(user)
                    .bind(p)
                    .bind(&lo)
                    .bind(&hi)
                    .bind(now_ms())
                    .bind(FILE)
                    .execute(&mut *tx)
                    .await?;
                }
                // What the rest (permanently: files too) held is released,
                // as emptying the trash does: refcounts of whoever's chunks
                // they are, manifests credited to whoever paid.
                let held = sqlx::AssertSqlSafe(format!(
                    "SELECT v.id FROM versions v JOIN entries e ON e.id = v.entry_id WHERE {SCOPE}"
                ));
                let vids: Vec<i64> =
                    sqlx::query_scalar(held).bind(user).bind(p).bind(&lo).bind(&hi).fetch_all(&mut *tx).await?;
                release_versions!(tx, user, &vids, collectable);
                sqlx::query("DELETE FROM entries WHERE user_id = $1 AND (path = $2 OR (path > $3 AND path < $4))")
                    .bind(user)
                    .bind(p)
                    .bind(&lo)
                    .bind(&hi)
                    .execute(&mut *tx)
                    .await?;
                record_change!(tx, user, Change::removed(p), now_ms());
                Ok((files as u64, dirs as u64))
            }
            .await;
            result
        })
    }

    /// Makes version `seq` of a file current again, as a new version (none
    /// when the current version already has the same content and mtime).
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
            // The server cannot bind: a restore made here is unbound, and
            // clients say so (they restore by committing, and re-bind).
            binding: None,
            share_keys: Vec::new(),
            new_version: false,
            writer: None,
            chunk_user: user,
        };
        Ok(self.commit(user, user, std::slice::from_ref(&item)).await?[0].0)
    }

    /// Gives versions without a binding the one their owner made (`pyxis
    /// upgrade`): a current version takes its entry tag too. Returns how
    /// many took it; a bound version never takes another.
    pub async fn bind(&self, user: i64, items: &[(String, i64, Binding)]) -> Result<u64, CatalogError> {
        in_tx!(self, |tx| {
            let result: Result<u64, CatalogError> = async {
                let mut bound = 0;
                for (p, seq, b) in items {
                    let Some((entry, FILE, Some(current))) = lookup!(tx, user, p) else { continue };
                    let current_seq: i64 = sqlx::query_scalar("SELECT seq FROM versions WHERE id = $1")
                        .bind(current)
                        .fetch_one(&mut *tx)
                        .await?;
                    let is_current = current_seq == *seq;
                    if is_current && b.entry_tag.is_empty() {
                        continue; // a current version is bound with its entry, or not at all
                    }
                    let r = sqlx::query(
                        "UPDATE versions SET file_id = $1, version_tag = $2 \
                         WHERE entry_id = $3 AND seq = $4 AND version_tag IS NULL",
                    )
                    .bind(&b.file_id)
                    .bind(&b.version_tag)
                    .bind(entry)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                    if r.rows_affected() != 1 {
                        continue;
                    }
                    bound += 1;
                    if is_current {
                        sqlx::query("UPDATE entries SET entry_tag = $1 WHERE id = $2")
                            .bind(&b.entry_tag)
                            .bind(entry)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Ok(bound)
            }
            .await;
            result
        })
    }
}
