//! The remote side of a folder, kept between passes: a full listing now and
//! then, and in between only what the change feed says changed, stated
//! again. A pass after one edit costs a feed read and a stat, not a listing
//! of the whole tree.
//!
//! The feed tells which paths changed, never what they are now: each path
//! it names is looked up afresh (and checked against its binding), so order,
//! repeats and coalescing do not matter. Anything odd (the feed behind the
//! cursor, as after a restore from a backup; too many changes) falls back
//! to a full listing, as does every pass after [`FULL_EVERY`]. A stale
//! entry can only make a write fail its compare-and-swap or a file be
//! fetched again: every write names the version it replaces.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use pyxis_client::Client;
use pyxis_client::trust::binding::Head;
use pyxis_proto::api::catalog::{Entry, EntryKind};
use pyxis_proto::api::changes::ChangeKind;
use pyxis_proto::path::is_within;

use crate::engine::Result;
use crate::model::{Kind, Remote, Remotes, parent};

/// A full listing at least this often.
pub const FULL_EVERY: Duration = Duration::from_secs(300);
/// More changed paths than this since the last pass: one listing costs
/// less than a lookup each (another device's initial sync commits
/// thousands at once).
const MAX_CHANGES: usize = 64;

#[derive(Debug)]
pub struct RemoteTree {
    root: String,
    remotes: Remotes,
    /// Verified current versions by catalog path.
    pub heads: HashMap<String, Head>,
    /// The feed's position this tree reflects; none: never listed.
    cursor: Option<i64>,
    listed_at: Instant,
}

impl RemoteTree {
    pub fn new(root: String) -> Self {
        Self { root, remotes: Remotes::new(), heads: HashMap::new(), cursor: None, listed_at: Instant::now() }
    }

    /// The catalog path of `rel`.
    pub fn path(&self, rel: &str) -> String {
        if self.root == "/" { format!("/{rel}") } else { format!("{}/{rel}", self.root) }
    }

    /// The relative path of catalog path `p` (none: not below the root).
    pub fn rel(&self, p: &str) -> Option<String> {
        let prefix = if self.root == "/" { "/".to_owned() } else { format!("{}/", self.root) };
        p.strip_prefix(&prefix).filter(|r| !r.is_empty()).map(str::to_owned)
    }

    /// The size of the file at `rel` as last listed (0: unknown).
    pub fn size(&self, rel: &str) -> u64 {
        self.remotes.get(rel).map_or(0, |r| r.size)
    }

    /// The remote side as it is now.
    pub async fn refresh(&mut self, client: &Client) -> Result<Remotes> {
        let fresh = self.cursor.is_some() && self.listed_at.elapsed() < FULL_EVERY;
        if !(fresh && self.catch_up(client).await?) {
            self.list_all(client).await?;
        }
        Ok(self.remotes.clone())
    }

    fn put(&mut self, e: Entry, head: Option<Head>) {
        let Some(rel) = self.rel(&e.path) else { return };
        let r = match e.kind {
            EntryKind::Dir => Remote::dir(),
            EntryKind::File => Remote {
                kind: Kind::File,
                version: e.version.unwrap_or(0),
                hash: e.content_hash.clone(),
                file_id: head.as_ref().and_then(|h| h.file_id).map(|id| id.to_string()),
                size: e.size,
                refused: None,
            },
        };
        // A file's directories exist on the server (a commit makes them).
        let mut p = parent(&rel).to_owned();
        while !p.is_empty() {
            self.remotes.entry(p.clone()).or_insert_with(Remote::dir);
            p = parent(&p).to_owned();
        }
        match head {
            Some(h) => self.heads.insert(e.path.clone(), h),
            None => self.heads.remove(&e.path),
        };
        self.remotes.insert(rel, r);
    }

    /// A path whose entry was refused: kept, marked, so that nothing is
    /// decided about it (its absence would read as a removal).
    fn refuse(&mut self, p: &str, why: String) {
        tracing::warn!(path = %p, "not synced: {why}");
        if let Some(rel) = self.rel(p) {
            let r = Remote { kind: Kind::File, version: 0, hash: None, file_id: None, size: 0, refused: Some(why) };
            self.remotes.insert(rel, r);
        }
        self.heads.remove(p);
    }

    /// Looks `p` up again, checked against its binding.
    async fn restat(&mut self, client: &Client, p: &str) -> Result<()> {
        match client.stat_verified(p).await {
            Ok(Some((e, h))) => self.put(e, h),
            Ok(None) => self.forget(p),
            Err(e) if e.code().is_none() && !matches!(e, pyxis_client::ClientError::Tampered { .. }) => {
                return Err(e.into());
            }
            Err(e) => self.refuse(p, e.to_string()),
        }
        Ok(())
    }

    fn forget(&mut self, p: &str) {
        if let Some(rel) = self.rel(p) {
            self.remotes.retain(|r, _| !crate::model::within(r, &rel));
        } else if is_within(&self.root, p) {
            self.remotes.clear();
        }
        self.heads.retain(|h, _| !is_within(h, p));
    }

    /// Takes in a listing: its entries, and its refused entries as such.
    fn absorb(&mut self, tree: pyxis_client::batch::Tree) {
        let mut heads = tree.heads;
        for e in tree.entries {
            let h = heads.remove(&e.path);
            self.put(e, h);
        }
        for r in tree.refused {
            self.refuse(&r.path, r.error);
        }
    }

    async fn list_all(&mut self, client: &Client) -> Result<()> {
        // The feed's newest first: a change made during the listing is
        // looked at again next pass rather than missed.
        let newest = client.api().changes(i64::MAX, 0).await?.newest;
        let tree = client.tree(&self.root).await?;
        self.remotes.clear();
        self.heads.clear();
        self.absorb(tree);
        self.cursor = Some(newest);
        self.listed_at = Instant::now();
        Ok(())
    }

    /// Applies the feed since the cursor; false when a full listing is
    /// needed instead.
    async fn catch_up(&mut self, client: &Client) -> Result<bool> {
        let Some(mut cursor) = self.cursor else { return Ok(false) };
        let (mut stat, mut gone, mut relist) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut seen = 0usize;
        loop {
            let r = client.api().changes(cursor, 0).await?;
            if r.newest < cursor {
                return Ok(false);
            }
            let under = |p: &str| is_within(p, &self.root) || is_within(&self.root, p);
            for c in &r.changes {
                match c.kind {
                    ChangeKind::Commit | ChangeKind::Mkdir if under(&c.path) => {
                        stat.insert(c.path.clone());
                    }
                    ChangeKind::Remove if under(&c.path) => {
                        gone.insert(c.path.clone());
                    }
                    ChangeKind::Move => {
                        if under(&c.path) {
                            gone.insert(c.path.clone());
                        }
                        if let Some(to) = c.to.as_ref().filter(|t| under(t)) {
                            relist.insert(to.clone());
                        }
                    }
                    _ => {}
                }
            }
            seen += r.changes.len();
            if seen > MAX_CHANGES || stat.len() + gone.len() + relist.len() > MAX_CHANGES {
                return Ok(false);
            }
            if r.changes.is_empty() || r.cursor >= r.newest {
                cursor = r.cursor.max(cursor);
                break;
            }
            cursor = r.cursor;
        }
        // What changed is looked up as it is now, so the order of the
        // changes does not matter: removals first, then the rest. Who may
        // write into this tree may have changed too.
        client.refresh_writers().await?;
        for p in &gone {
            self.forget(p);
        }
        for p in &relist {
            if is_within(&self.root, p) {
                return Ok(false); // the root itself (or above it) moved in: list it all
            }
            self.forget(p);
            self.restat(client, p).await?;
            if self.rel(p).is_some_and(|r| self.remotes.get(&r).is_some_and(|r| r.kind == Kind::Dir)) {
                self.absorb(client.tree(p).await?);
            }
        }
        stat.retain(|p| self.rel(p).is_some());
        for p in &stat {
            self.restat(client, p).await?;
        }
        self.cursor = Some(cursor);
        Ok(true)
    }
}
