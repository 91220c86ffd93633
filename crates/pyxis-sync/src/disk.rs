//! The engine's [`Io`] on a real folder and a real server, through the
//! client's data path.
//!
//! Every local write stays under the root: a path from the server is only
//! ever joined below it after the catalog's own checks, every directory on
//! the way is checked to be a real directory (a link there, which an
//! earlier pass may have made from the server's word, is refused rather
//! than followed), and files arrive through a staging directory in the root
//! and are renamed into place, so none is ever partial under its name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pyxis_client::Client;
use pyxis_proto::api::ErrorCode;

use crate::clock::unix_ms;
use crate::engine::{Done, Io, Outcome, Result, Scan, SyncError};
use crate::model::{Base, Bases, Kind, Remotes, Stat};
use crate::progress::{Direction, Live};
use crate::remote::RemoteTree;
use crate::scan::{META_DIR, scan, stat_of};
use crate::state::State;

pub struct DiskIo {
    client: Client,
    root: PathBuf,
    remote_root: String,
    state: State,
    /// Where each scanned path is on disk (last scan).
    paths: HashMap<String, PathBuf>,
    /// The remote side, kept between passes.
    remote_tree: RemoteTree,
    /// Shard bytes sent and received (parity included), since opened.
    pub sent: u64,
    pub received: u64,
    /// What the pass has left to move, for the status ticker.
    pub live: Live,
}

impl std::fmt::Debug for DiskIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskIo")
            .field("root", &self.root)
            .field("remote_root", &self.remote_root)
            .finish_non_exhaustive()
    }
}

fn local_err(path: &Path, e: impl std::fmt::Display) -> SyncError {
    SyncError::Local(format!("{}: {e}", path.display()))
}

/// Makes directory `rel` under `root` (and its parents), refusing to pass
/// through anything that is not a real directory.
pub fn make_dirs(root: &Path, rel: &str) -> std::result::Result<PathBuf, String> {
    let mut at = root.to_owned();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        if part == ".." || part == "." {
            return Err(format!("{rel:?} is not a path below the folder"));
        }
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{} is in the way (not a directory)", at.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at).map_err(|e| format!("{}: {e}", at.display()))?
            }
            Err(e) => return Err(format!("{}: {e}", at.display())),
        }
    }
    Ok(at)
}

/// Where a file at `rel` goes below `root`: its directories made (see
/// [`make_dirs`]), and a name that is a name (not `.`, `..` or the
/// folder's own `.pyxis`).
pub fn target(root: &Path, rel: &str) -> std::result::Result<PathBuf, String> {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    if name.is_empty() || name == "." || name == ".." || (dir.is_empty() && name == META_DIR) {
        return Err(format!("{rel:?} is not a path below the folder"));
    }
    Ok(make_dirs(root, dir)?.join(name))
}

/// The base of a file both sides now agree on: the version that landed
/// and the local file's stat (its file id comes with the next listing).
fn landed_base(l: pyxis_client::version::Landed, stat: Stat) -> Base {
    Base { kind: Kind::File, hash: Some(l.content_hash), version: l.version, file_id: None, stat: Some(stat) }
}

fn lstat(p: &Path) -> Option<Stat> {
    std::fs::symlink_metadata(p).ok().map(|m| stat_of(&m))
}

impl DiskIo {
    pub fn new(client: Client, root: PathBuf, remote_root: String, state: State) -> Self {
        let remote_tree = RemoteTree::new(remote_root.clone());
        Self {
            client,
            root,
            remote_root,
            state,
            paths: HashMap::new(),
            remote_tree,
            sent: 0,
            received: 0,
            live: Live::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client's shard-byte counter (both directions: a pass sends and
    /// receives one after the other, so deltas around each tell them apart).
    fn wire(&self) -> u64 {
        self.client.progress().totals().wire
    }

    /// The catalog path synced (in its owner's tree, for a share).
    pub fn remote_path(&self) -> &str {
        &self.remote_root
    }

    pub fn root_path(&self) -> &Path {
        &self.root
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    fn remote(&self, rel: &str) -> String {
        self.remote_tree.path(rel)
    }

    fn rel_of(&self, remote: &str) -> Option<String> {
        self.remote_tree.rel(remote)
    }

    /// Where `rel` is on disk: where the scan found it, else its NFC name
    /// (after checking each directory on the way).
    fn local(&self, rel: &str) -> std::result::Result<PathBuf, String> {
        if let Some(p) = self.paths.get(rel) {
            return Ok(p.clone());
        }
        target(&self.root, rel)
    }

    fn staging(&self) -> PathBuf {
        self.root.join(META_DIR).join("staging")
    }
}

impl Io for DiskIo {
    async fn scan(&mut self, bases: &Bases) -> Result<Scan> {
        let root = self.root.clone();
        if !root.is_dir() {
            return Ok(Scan {
                vanished: Some(format!("{} is missing (an unmounted disk?)", root.display())),
                ..Default::default()
            });
        }
        if !root.join(META_DIR).is_dir() {
            let why = format!(
                "{} has no {META_DIR} directory any more, so it may not be the folder synced before \
                 (an unmounted disk?); nothing was changed. If it is, make the directory again",
                root.display()
            );
            return Ok(Scan { vanished: Some(why), ..Default::default() });
        }
        let bases = bases.clone();
        let client = self.client.clone();
        let found = tokio::task::spawn_blocking(move || {
            scan(&root, &bases, &|p: &Path| client.local_hash(p).map_err(|e| e.to_string()))
        })
        .await
        .map_err(|e| SyncError::Local(format!("scan task: {e}")))?;
        self.paths = found.paths;
        Ok(found.scan)
    }

    fn announce(&mut self, uploads: &[(String, Option<i64>, Stat)], downloads: &[(String, Option<Stat>, Option<i64>)]) {
        let up = uploads.iter().map(|(_, _, s)| s.size).sum();
        let down = downloads.iter().map(|(rel, _, _)| self.remote_tree.size(rel)).sum();
        self.live.announce((uploads.len() as u64, up), (downloads.len() as u64, down));
    }

    async fn list(&mut self) -> Result<Remotes> {
        self.remote_tree.refresh(&self.client).await
    }

    async fn upload(&mut self, items: &[(String, Option<i64>, Stat)]) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        let mut files = Vec::new();
        let mut heads = HashMap::new();
        let mut stats = HashMap::new();
        for (rel, head, stat) in items {
            let remote = self.remote(rel);
            if let Some(v) = head {
                match self.remote_tree.heads.get(&remote) {
                    Some(h) if h.version == *v => {
                        heads.insert(remote.clone(), h.clone());
                    }
                    _ => {
                        out.push(Outcome::Failed { rel: rel.clone(), why: "changed on the server".into() });
                        continue;
                    }
                }
            }
            match self.local(rel) {
                Ok(p) => files.push((p, remote.clone())),
                Err(why) => {
                    out.push(Outcome::Failed { rel: rel.clone(), why });
                    continue;
                }
            }
            stats.insert(remote, (rel.clone(), *stat));
        }
        let before = self.wire();
        self.live.begin(Direction::Upload, &self.client.progress(), unix_ms());
        let report = self.client.put_files(files, heads).await;
        self.live.end(Direction::Upload);
        self.sent += self.wire() - before;
        let report = report?;
        for l in report.landed {
            let Some((rel, stat)) = stats.remove(&l.path) else { continue };
            out.push(Outcome::Landed { rel, base: landed_base(l, stat) });
        }
        for f in report.failed.into_iter().chain(report.skipped) {
            let rel = self.rel_of(&f.path).unwrap_or(f.path);
            out.push(Outcome::Failed { rel, why: f.error });
        }
        Ok(out)
    }

    async fn download(&mut self, items: &[(String, Option<Stat>, Option<i64>)]) -> Result<Vec<Outcome>> {
        let staging = self.staging();
        std::fs::create_dir_all(&staging).map_err(|e| local_err(&staging, e))?;
        let mut wanted = Vec::new();
        let mut expect = HashMap::new();
        let mut seeds = Vec::new();
        for (i, (rel, stat, was)) in items.iter().enumerate() {
            let remote = self.remote(rel);
            wanted.push((remote.clone(), staging.join(i.to_string())));
            // The copy being replaced lends its unchanged chunks (a big
            // file edited in the middle costs only the edit).
            if let (Some(s), Some(p)) = (stat, self.paths.get(rel))
                && s.size >= pyxis_client::put::plan::PACK_MAX
            {
                seeds.push((remote.clone(), p.clone(), *was));
            }
            expect.insert(remote, (i, rel.clone(), *stat));
        }
        let before = self.wire();
        self.live.begin(Direction::Download, &self.client.progress(), unix_ms());
        let got = self.client.get_files(wanted, seeds).await;
        self.live.end(Direction::Download);
        self.received += self.wire() - before;
        let (landed, failed) = got?;
        let mut out = Vec::new();
        for f in failed {
            let rel = self.rel_of(&f.path).unwrap_or(f.path);
            out.push(Outcome::Failed { rel, why: f.error });
        }
        for l in landed {
            let Some((i, rel, want)) = expect.remove(&l.path) else { continue };
            let staged = staging.join(i.to_string());
            let placed = (|| {
                let target = self.local(&rel)?;
                // Only over what the scan saw: an edit made since is kept,
                // and merged next pass.
                if lstat(&target) != want {
                    return Err("changed locally while it was being downloaded".to_owned());
                }
                let stat = lstat(&staged).ok_or("the downloaded file vanished")?;
                std::fs::rename(&staged, &target).map_err(|e| format!("{}: {e}", target.display()))?;
                Ok(stat)
            })();
            match placed {
                Ok(stat) => out.push(Outcome::Landed { rel, base: landed_base(l, stat) }),
                Err(why) => {
                    let _ = std::fs::remove_file(&staged);
                    out.push(Outcome::Failed { rel, why });
                }
            }
        }
        // One flush of the file system for the whole batch.
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&root).and_then(|f| Ok(rustix::fs::syncfs(&f)?)))
            .await
            .map_err(|e| SyncError::Local(format!("sync task: {e}")))?
            .map_err(|e| local_err(&self.root, e))?;
        let _ = std::fs::remove_dir_all(&staging);
        Ok(out)
    }

    async fn remote_mkdir(&mut self, rel: &str) -> Result<Done> {
        match self.client.api().mkdir(&self.remote(rel), true).await {
            Ok(_) => Ok(Done::Yes),
            Err(e) if e.code().is_some() => Ok(Done::Changed),
            Err(e) => Err(e.into()),
        }
    }

    async fn remote_remove(&mut self, rel: &str, expect: i64) -> Result<Done> {
        match self.client.api().remove_if(&self.remote(rel), false, Some(expect)).await {
            Ok(_) => Ok(Done::Yes),
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(Done::Yes),
            Err(e) if e.code().is_some() => Ok(Done::Changed),
            Err(e) => Err(e.into()),
        }
    }

    async fn remote_rmdir(&mut self, rel: &str) -> Result<Done> {
        match self.client.api().remove(&self.remote(rel), false).await {
            Ok(_) => Ok(Done::Yes),
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(Done::Yes),
            Err(e) if e.code().is_some() => Ok(Done::Changed),
            Err(e) => Err(e.into()),
        }
    }

    async fn remote_move(&mut self, from: &str, to: &str) -> Result<Done> {
        match self.client.rename(&self.remote(from), &self.remote(to)).await {
            Ok(_) => Ok(Done::Yes),
            Err(e) if e.code().is_some() => Ok(Done::Changed),
            Err(e) => Err(e.into()),
        }
    }

    async fn local_mkdir(&mut self, rel: &str) -> Result<()> {
        make_dirs(&self.root, rel).map_err(SyncError::Local)?;
        Ok(())
    }

    async fn local_remove(&mut self, rel: &str, expect: Stat) -> Result<Done> {
        let Ok(p) = self.local(rel) else { return Ok(Done::Changed) };
        if lstat(&p) != Some(expect) {
            return Ok(Done::Changed);
        }
        std::fs::remove_file(&p).map_err(|e| local_err(&p, e))?;
        Ok(Done::Yes)
    }

    async fn local_rmdir(&mut self, rel: &str) -> Result<Done> {
        let Ok(p) = self.local(rel) else { return Ok(Done::Changed) };
        match std::fs::remove_dir(&p) {
            Ok(()) => Ok(Done::Yes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Done::Yes),
            Err(_) => Ok(Done::Changed),
        }
    }

    async fn local_move(&mut self, from: &str, to: &str, expect: Stat) -> Result<Done> {
        let (Ok(src), Ok(dst)) = (self.local(from), self.local(to)) else { return Ok(Done::Changed) };
        if lstat(&src) != Some(expect) || lstat(&dst).is_some() {
            return Ok(Done::Changed);
        }
        std::fs::rename(&src, &dst).map_err(|e| local_err(&dst, e))?;
        self.paths.remove(from);
        self.paths.insert(to.to_owned(), dst);
        Ok(Done::Yes)
    }

    async fn save(&mut self, changes: &[(String, Option<Base>)]) -> Result<()> {
        self.state.save(changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_the_server_stay_below_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        // A link in the folder (synced from the server earlier) is never
        // passed through, nor is a file.
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        std::fs::write(root.join("file"), b"x").unwrap();
        for bad in ["link", "link/deeper", "file/below", "a/../../escape", "./x", "a/./b"] {
            assert!(make_dirs(&root, bad).is_err(), "{bad}");
        }
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing was made outside");
        for bad in ["..", "a/..", ".", ".pyxis", "link/x", ""] {
            assert!(target(&root, bad).is_err(), "{bad}");
        }
        assert_eq!(target(&root, "a/.pyxis").unwrap(), root.join("a/.pyxis"));
        assert_eq!(make_dirs(&root, "new/dir").unwrap(), root.join("new/dir"));
        assert!(root.join("new/dir").is_dir());
    }
}
