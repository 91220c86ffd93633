//! Skipping files the catalog already has, without reading them: same size
//! and mtime as the current version, and that version committed well after
//! the mtime (what rsync and restic trust too). `PutOptions::checksum` reads
//! every file instead; an unchanged one is then caught by its content hash
//! at commit, and still makes no new version.

use std::collections::HashMap;

use pyxis_proto::api::catalog::{Entry, EntryKind};
use tokio_util::task::AbortOnDropHandle;

use crate::api::MAX_LISTED;
use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::put::plan::{Plan, Planned, mtime_ms};
use crate::trust::binding::verify_entry;

/// A file whose mtime is this close to (or after) the commit of its version
/// may have changed again within one tick of a coarse filesystem clock (2 s
/// on FAT), so it is read anyway: git's "racily clean" entries.
pub const RACY_MS: i64 = 2_000;

/// What the catalog holds at a path: the current version's size and mtime,
/// and when it was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub size: u64,
    pub mtime: i64,
    pub committed_at: i64,
    /// The entry's binding verified (a legacy one is read again: its size
    /// and mtime are only the server's word).
    pub bound: bool,
}

/// Starts listing what the catalog holds under `dst` (a directory being
/// put), so the listing's round trips overlap the walk of the local tree:
/// for an unchanged 52,000-file tree they were half of the re-put.
pub fn start_listing(ctx: &Ctx, dst: &str) -> Listing {
    let (api, root) = (ctx.api.clone(), dst.to_owned());
    let task = tokio::spawn(async move { api.list_all(&root, true, MAX_LISTED).await });
    Listing { root: dst.to_owned(), task: AbortOnDropHandle::new(task) }
}

/// A listing started by [`start_listing`]; dropped, it stops.
#[derive(Debug)]
pub struct Listing {
    root: String,
    task: AbortOnDropHandle<Result<Vec<Entry>>>,
}

/// The current versions under the plan's destination, each entry checked
/// against its binding (a tampered one fails the put) and kept in the plan's
/// `heads` for binding the new versions. A destination that does not exist
/// (or that the server refuses to list) knows nothing; a network failure or
/// a listing that breaks its rules (a cursor that does not move, an entry
/// outside the destination) is an error. `listing`: one started earlier for
/// the plan's root.
pub async fn current_versions(ctx: &Ctx, plan: &mut Plan, listing: Option<Listing>) -> Result<HashMap<String, Known>> {
    let mut entries = Vec::new();
    if let Some(root) = &plan.root_dir {
        let listed = match listing.filter(|l| l.root == *root) {
            Some(l) => l.task.await.map_err(|e| ClientError::Task { task: "listing", why: e.to_string() })?,
            None => ctx.api.list_all(root, true, MAX_LISTED).await,
        };
        match listed {
            Ok(all) => entries = all,
            Err(e) if e.code().is_some() => {}
            Err(e) => return Err(e),
        }
    } else if let Some(f) = plan.inline.iter().chain(&plan.packed).chain(&plan.big).next() {
        match ctx.api.stat(&f.dst).await {
            Ok(e) => entries.push(e),
            Err(e) if e.code().is_some() => {}
            Err(e) => return Err(e),
        }
    }
    let mut known = HashMap::new();
    for e in entries.into_iter().filter(|e| e.kind == EntryKind::File) {
        // A refused entry fails that file alone: it is not put over what the
        // server shows there (which may be a lie), and the rest goes on.
        let head = match verify_entry(&ctx.opener, &ctx.seen, &e) {
            Ok(Some(h)) => h,
            Ok(None) => continue,
            Err(err) => {
                plan.refuse(&e.path, err.to_string());
                continue;
            }
        };
        known.insert(
            e.path.clone(),
            Known { size: e.size, mtime: e.mtime, committed_at: e.committed_at, bound: head.file_id.is_some() },
        );
        plan.heads.insert(e.path, head);
    }
    Ok(known)
}

/// Drops from the plan the files `known` says are unchanged; returns how many.
pub fn skip_unchanged(plan: &mut Plan, known: &HashMap<String, Known>) -> u64 {
    let same = |p: &Planned| {
        let mtime = mtime_ms(p.mtime);
        known.get(&p.dst).is_some_and(|k| {
            k.bound
                && k.size == p.size
                && mtime != 0
                && k.mtime == mtime
                && mtime.saturating_add(RACY_MS) <= k.committed_at
        })
    };
    let mut skipped = 0u64;
    let mut bytes = 0u64;
    for list in [&mut plan.inline, &mut plan.packed, &mut plan.big] {
        list.retain(|p| {
            let keep = !same(p);
            if !keep {
                skipped += 1;
                bytes += p.size;
            }
            keep
        });
    }
    plan.bytes -= bytes;
    plan.unchanged += skipped;
    skipped
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use pyxis_proto::format::manifest::Attrs;

    use super::*;

    fn planned(dst: &str, size: u64, mtime_ms: u64) -> Planned {
        Planned {
            src: dst.trim_start_matches('/').into(),
            dst: dst.into(),
            size,
            mtime: Some(UNIX_EPOCH + Duration::from_millis(mtime_ms)),
            attrs: Attrs::file(0o644),
        }
    }

    #[test]
    fn only_files_with_the_same_size_and_an_old_enough_mtime_are_skipped() {
        let mut plan = Plan { root_dir: Some("/d".into()), ..Plan::default() };
        for p in [
            planned("/d/same", 10, 1_000_000),
            planned("/d/bigger", 11, 1_000_000),
            planned("/d/touched", 10, 1_000_001),
            planned("/d/racy", 10, 1_000_000),
            planned("/d/new", 10, 1_000_000),
        ] {
            plan.inline.push(p);
        }
        plan.bytes = 51;
        let k = |committed_at| Known { size: 10, mtime: 1_000_000, committed_at, bound: true };
        let known: HashMap<String, Known> = [
            ("/d/same", k(1_000_000 + RACY_MS)),
            ("/d/bigger", k(2_000_000)),
            ("/d/touched", k(2_000_000)),
            ("/d/racy", k(1_000_000 + RACY_MS - 1)),
            ("/d/new", Known { bound: false, ..k(2_000_000) }),
        ]
        .into_iter()
        .map(|(p, k)| (p.to_owned(), k))
        .collect();
        assert_eq!(skip_unchanged(&mut plan, &known), 1);
        let left: Vec<&str> = plan.inline.iter().map(|p| p.dst.as_str()).collect();
        assert_eq!(left, ["/d/bigger", "/d/touched", "/d/racy", "/d/new"]);
        assert_eq!((plan.bytes, plan.unchanged), (41, 1));
    }

    #[test]
    fn an_unknown_mtime_is_never_trusted() {
        let mut plan = Plan::default();
        plan.big.push(Planned { src: "f".into(), dst: "/f".into(), size: 5, mtime: None, attrs: Attrs::file(0o644) });
        plan.bytes = 5;
        let known = HashMap::from([("/f".to_owned(), Known { size: 5, mtime: 0, committed_at: 10_000, bound: true })]);
        assert_eq!(skip_unchanged(&mut plan, &known), 0);
        assert_eq!(plan.big.len(), 1);
    }
}
