//! The daemon: a pass whenever the folder or the server changes. The file
//! watcher (inotify through `notify`) and the server's change feed wake it,
//! debounced by tens of milliseconds; a wake-up carries no data (each pass
//! rescans the folder and catches the remote side up from the feed's
//! cursor, [`crate::remote`]), so a missed one costs only time, and a pass
//! on a timer is the safety net.

use std::path::Path;
use std::time::Duration;

use notify::Watcher;
use tokio::sync::mpsc;

use crate::engine::Result;
use crate::folder::Folder;
use crate::scan::META_DIR;

/// Quiet time after a hint before the pass starts (an editor's save is
/// several events).
pub const DEBOUNCE: Duration = Duration::from_millis(25);
/// The longest a stream of hints (a program writing many files) holds a
/// pass back.
pub const MAX_SETTLE: Duration = Duration::from_millis(500);
/// A pass at least this often, hints or not.
pub const RESCAN: Duration = Duration::from_secs(60);
/// How long one long poll of the change feed waits on the server.
const FEED_WAIT_SECS: u64 = 25;

/// Watches `root` for changes outside its own `.pyxis` directory.
fn watch(root: &Path, tx: mpsc::Sender<()>) -> notify::Result<notify::RecommendedWatcher> {
    let meta = root.join(META_DIR);
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        // Reads change nothing (and a program polling a file would
        // otherwise hold the debounce open for as long as it polls); the
        // close after a write is kept: it ends a copy in progress.
        use notify::event::{AccessKind, AccessMode, EventKind};
        let read = ev
            .as_ref()
            .is_ok_and(|e| matches!(e.kind, EventKind::Access(k) if k != AccessKind::Close(AccessMode::Write)));
        let ours = ev.as_ref().is_ok_and(|e| !e.paths.is_empty() && e.paths.iter().all(|p| p.starts_with(&meta)));
        if !read && !ours {
            let _ = tx.try_send(());
        }
    })?;
    w.watch(root, notify::RecursiveMode::Recursive)?;
    Ok(w)
}

/// Follows the change feed from now on, sending a hint for each answer
/// that holds a change under `remote` (a move into or out of it included).
async fn follow_feed(api: pyxis_client::Api, remote: String, tx: mpsc::Sender<()>) {
    let within = |p: &str| pyxis_proto::path::is_within(p, &remote);
    let mut cursor: Option<i64> = None;
    let mut backoff = Duration::from_millis(200);
    let mut restore_told = None;
    loop {
        let answer = match cursor {
            None => api.changes(i64::MAX, 0).await,
            Some(c) => api.changes(c, FEED_WAIT_SECS).await,
        };
        match answer {
            Ok(r) => {
                tracing::debug!(
                    changes = r.changes.len(),
                    cursor = r.cursor,
                    newest = r.newest,
                    "change feed answered"
                );
                backoff = Duration::from_millis(200);
                let relevant = r.changes.iter().any(|c| within(&c.path) || c.to.as_deref().is_some_and(within));
                // A server restored from an older backup numbers from
                // further back: start again from its newest.
                let rolled_back = cursor.is_some_and(|c| r.newest < c);
                if let Some(at) = r.restored_from.filter(|at| restore_told != Some(*at)) {
                    // Once a daemon run: the server says its catalog is a
                    // restored backup (changes made after it are gone).
                    tracing::warn!(
                        backup_taken_at_ms = at,
                        "the server's catalog was restored from a backup; changes made after it are not on the server"
                    );
                    restore_told = Some(at);
                }
                cursor = Some(if cursor.is_none() || rolled_back { r.newest } else { r.cursor });
                if relevant || rolled_back {
                    let _ = tx.try_send(());
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "change feed unreachable; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                // After an outage, look again whatever the feed says.
                let _ = tx.try_send(());
            }
        }
    }
}

/// Keeps `folder` in step until the process ends.
pub async fn run(mut folder: Folder) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let _watcher = match watch(folder.root(), tx.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, root = %folder.root().display(), "no file watcher; scanning every minute");
            None
        }
    };
    let _feed = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(follow_feed(
        folder.client().api().clone(),
        folder.remote_path().to_owned(),
        tx,
    )));
    let mut backoff = Duration::from_millis(500);
    loop {
        match folder.sync().await {
            Ok(r) => {
                backoff = Duration::from_millis(500);
                log_pass(&folder, &r);
            }
            Err(e) => {
                tracing::warn!(error = %e, root = %folder.root().display(), "sync pass failed; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        }
        // Wait for a hint (or the timer), then for quiet.
        tokio::select! {
            _ = rx.recv() => {}
            _ = tokio::time::sleep(RESCAN) => {}
        }
        let settle = tokio::time::Instant::now() + MAX_SETTLE;
        while tokio::time::Instant::now() < settle
            && tokio::time::timeout(DEBOUNCE, rx.recv()).await.is_ok_and(|m| m.is_some())
        {}
    }
}

fn log_pass(folder: &Folder, r: &crate::engine::PassReport) {
    let root = folder.root().display().to_string();
    if let Some(why) = &r.paused {
        tracing::warn!(%root, "paused: {why}");
    }
    if r.did_work() {
        tracing::info!(
            %root,
            up = r.uploaded,
            down = r.downloaded,
            removed_here = r.removed_local,
            removed_there = r.removed_remote,
            moved = r.moved,
            "synced"
        );
    }
    for c in &r.conflicts {
        tracing::warn!(%root, copy = %c, "conflict: both sides changed; the local version is kept as this copy");
    }
    for (path, why) in &r.failed {
        tracing::warn!(%root, %path, "not synced this pass: {why}");
    }
}
