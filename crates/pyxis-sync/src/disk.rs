use pyxis_proto::api::ErrorCode;
//! The engine's [`Io`] on a real folder and a real server, through the
use pyxis_proto::api::ErrorCode;
//! client's data path.
use pyxis_proto::api::ErrorCode;
//!
use pyxis_proto::api::ErrorCode;
//! Every local write stays under the root: a path from the server is only
use pyxis_proto::api::ErrorCode;
//! ever joined below it after the catalog's own checks, every directory on
use pyxis_proto::api::ErrorCode;
//! the way is checked to be a real directory (a link there, which an
use pyxis_proto::api::ErrorCode;
//! earlier pass may have made from the server's word, is refused rather
use pyxis_proto::api::ErrorCode;
//! than followed), and files arrive through a staging directory in the root
use pyxis_proto::api::ErrorCode;
//! and are renamed into place, so none is ever partial under its name.
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
use std::collections::HashMap;
use pyxis_proto::api::ErrorCode;
use std::path::{Path, PathBuf};
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
use pyxis_client::Client;
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
use crate::engine::{Done, Io, Outcome, Result, Scan, SyncError};
use pyxis_proto::api::ErrorCode;
use crate::folder::unix_ms;
use pyxis_proto::api::ErrorCode;
use crate::model::{Base, Bases, Kind, Remotes, Stat};
use pyxis_proto::api::ErrorCode;
use crate::progress::{Direction, Live};
use pyxis_proto::api::ErrorCode;
use crate::remote::RemoteTree;
use pyxis_proto::api::ErrorCode;
use crate::scan::{META_DIR, scan, stat_of};
use pyxis_proto::api::ErrorCode;
use crate::state::State;
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
pub struct DiskIo {
use pyxis_proto::api::ErrorCode;
    client: Client,
use pyxis_proto::api::ErrorCode;
    root: PathBuf,
use pyxis_proto::api::ErrorCode;
    remote_root: String,
use pyxis_proto::api::ErrorCode;
    state: State,
use pyxis_proto::api::ErrorCode;
    /// Where each scanned path is on disk (last scan).
use pyxis_proto::api::ErrorCode;
    paths: HashMap<String, PathBuf>,
use pyxis_proto::api::ErrorCode;
    /// The remote side, kept between passes.
use pyxis_proto::api::ErrorCode;
    remote_tree: RemoteTree,
use pyxis_proto::api::ErrorCode;
    /// Shard bytes sent and received (parity included), since opened.
use pyxis_proto::api::ErrorCode;
    pub sent: u64,
use pyxis_proto::api::ErrorCode;
    pub received: u64,
use pyxis_proto::api::ErrorCode;
    /// What the pass has left to move, for the status ticker.
use pyxis_proto::api::ErrorCode;
    pub live: Live,
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
impl std::fmt::Debug for DiskIo {
use pyxis_proto::api::ErrorCode;
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
use pyxis_proto::api::ErrorCode;
        f.debug_struct("DiskIo")
use pyxis_proto::api::ErrorCode;
            .field("root", &self.root)
use pyxis_proto::api::ErrorCode;
            .field("remote_root", &self.remote_root)
use pyxis_proto::api::ErrorCode;
            .finish_non_exhaustive()
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
fn local_err(path: &Path, e: impl std::fmt::Display) -> SyncError {
use pyxis_proto::api::ErrorCode;
    SyncError::Local(format!("{}: {e}", path.display()))
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
/// Makes directory `rel` under `root` (and its parents), refusing to pass
use pyxis_proto::api::ErrorCode;
/// through anything that is not a real directory.
use pyxis_proto::api::ErrorCode;
pub fn make_dirs(root: &Path, rel: &str) -> std::result::Result<PathBuf, String> {
use pyxis_proto::api::ErrorCode;
    let mut at = root.to_owned();
use pyxis_proto::api::ErrorCode;
    for part in rel.split('/').filter(|p| !p.is_empty()) {
use pyxis_proto::api::ErrorCode;
        if part == ".." || part == "." {
use pyxis_proto::api::ErrorCode;
            return Err(format!("{rel:?} is not a path below the folder"));
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        at.push(part);
use pyxis_proto::api::ErrorCode;
        match std::fs::symlink_metadata(&at) {
use pyxis_proto::api::ErrorCode;
            Ok(m) if m.is_dir() => {}
use pyxis_proto::api::ErrorCode;
            Ok(_) => return Err(format!("{} is in the way (not a directory)", at.display())),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
use pyxis_proto::api::ErrorCode;
                std::fs::create_dir(&at).map_err(|e| format!("{}: {e}", at.display()))?
use pyxis_proto::api::ErrorCode;
            }
use pyxis_proto::api::ErrorCode;
            Err(e) => return Err(format!("{}: {e}", at.display())),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;
    Ok(at)
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
/// Where a file at `rel` goes below `root`: its directories made (see
use pyxis_proto::api::ErrorCode;
/// [`make_dirs`]), and a name that is a name (not `.`, `..` or the
use pyxis_proto::api::ErrorCode;
/// folder's own `.pyxis`).
use pyxis_proto::api::ErrorCode;
pub fn target(root: &Path, rel: &str) -> std::result::Result<PathBuf, String> {
use pyxis_proto::api::ErrorCode;
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
use pyxis_proto::api::ErrorCode;
    if name.is_empty() || name == "." || name == ".." || (dir.is_empty() && name == META_DIR) {
use pyxis_proto::api::ErrorCode;
        return Err(format!("{rel:?} is not a path below the folder"));
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;
    Ok(make_dirs(root, dir)?.join(name))
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
/// The base of a file both sides now agree on: the version that landed
use pyxis_proto::api::ErrorCode;
/// and the local file's stat (its file id comes with the next listing).
use pyxis_proto::api::ErrorCode;
fn landed_base(l: pyxis_client::commit::Landed, stat: Stat) -> Base {
use pyxis_proto::api::ErrorCode;
    Base { kind: Kind::File, hash: Some(l.content_hash), version: l.version, file_id: None, stat: Some(stat) }
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
fn lstat(p: &Path) -> Option<Stat> {
use pyxis_proto::api::ErrorCode;
    std::fs::symlink_metadata(p).ok().map(|m| stat_of(&m))
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
impl DiskIo {
use pyxis_proto::api::ErrorCode;
    pub fn new(client: Client, root: PathBuf, remote_root: String, state: State) -> Self {
use pyxis_proto::api::ErrorCode;
        let remote_tree = RemoteTree::new(remote_root.clone());
use pyxis_proto::api::ErrorCode;
        Self {
use pyxis_proto::api::ErrorCode;
            client,
use pyxis_proto::api::ErrorCode;
            root,
use pyxis_proto::api::ErrorCode;
            remote_root,
use pyxis_proto::api::ErrorCode;
            state,
use pyxis_proto::api::ErrorCode;
            paths: HashMap::new(),
use pyxis_proto::api::ErrorCode;
            remote_tree,
use pyxis_proto::api::ErrorCode;
            sent: 0,
use pyxis_proto::api::ErrorCode;
            received: 0,
use pyxis_proto::api::ErrorCode;
            live: Live::default(),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    pub fn client(&self) -> &Client {
use pyxis_proto::api::ErrorCode;
        &self.client
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    /// The client's shard-byte counter (both directions: a pass sends and
use pyxis_proto::api::ErrorCode;
    /// receives one after the other, so deltas around each tell them apart).
use pyxis_proto::api::ErrorCode;
    fn wire(&self) -> u64 {
use pyxis_proto::api::ErrorCode;
        self.client.progress().totals().wire
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    /// The catalog path synced (in its owner's tree, for a share).
use pyxis_proto::api::ErrorCode;
    pub fn remote_path(&self) -> &str {
use pyxis_proto::api::ErrorCode;
        &self.remote_root
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    pub fn root_path(&self) -> &Path {
use pyxis_proto::api::ErrorCode;
        &self.root
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    pub fn state(&self) -> &State {
use pyxis_proto::api::ErrorCode;
        &self.state
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    fn remote(&self, rel: &str) -> String {
use pyxis_proto::api::ErrorCode;
        self.remote_tree.path(rel)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    fn rel_of(&self, remote: &str) -> Option<String> {
use pyxis_proto::api::ErrorCode;
        self.remote_tree.rel(remote)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    /// Where `rel` is on disk: where the scan found it, else its NFC name
use pyxis_proto::api::ErrorCode;
    /// (after checking each directory on the way).
use pyxis_proto::api::ErrorCode;
    fn local(&self, rel: &str) -> std::result::Result<PathBuf, String> {
use pyxis_proto::api::ErrorCode;
        if let Some(p) = self.paths.get(rel) {
use pyxis_proto::api::ErrorCode;
            return Ok(p.clone());
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        target(&self.root, rel)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    fn staging(&self) -> PathBuf {
use pyxis_proto::api::ErrorCode;
        self.root.join(META_DIR).join("staging")
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
impl Io for DiskIo {
use pyxis_proto::api::ErrorCode;
    async fn scan(&mut self, bases: &Bases) -> Result<Scan> {
use pyxis_proto::api::ErrorCode;
        let root = self.root.clone();
use pyxis_proto::api::ErrorCode;
        if !root.is_dir() {
use pyxis_proto::api::ErrorCode;
            return Ok(Scan {
use pyxis_proto::api::ErrorCode;
                vanished: Some(format!("{} is missing (an unmounted disk?)", root.display())),
use pyxis_proto::api::ErrorCode;
                ..Default::default()
use pyxis_proto::api::ErrorCode;
            });
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        if !root.join(META_DIR).is_dir() {
use pyxis_proto::api::ErrorCode;
            let why = format!(
use pyxis_proto::api::ErrorCode;
                "{} has no {META_DIR} directory any more, so it may not be the folder synced before \
use pyxis_proto::api::ErrorCode;
                 (an unmounted disk?); nothing was changed. If it is, make the directory again",
use pyxis_proto::api::ErrorCode;
                root.display()
use pyxis_proto::api::ErrorCode;
            );
use pyxis_proto::api::ErrorCode;
            return Ok(Scan { vanished: Some(why), ..Default::default() });
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        let bases = bases.clone();
use pyxis_proto::api::ErrorCode;
        let client = self.client.clone();
use pyxis_proto::api::ErrorCode;
        let found = tokio::task::spawn_blocking(move || {
use pyxis_proto::api::ErrorCode;
            scan(&root, &bases, &|p: &Path| client.local_hash(p).map_err(|e| e.to_string()))
use pyxis_proto::api::ErrorCode;
        })
use pyxis_proto::api::ErrorCode;
        .await
use pyxis_proto::api::ErrorCode;
        .map_err(|e| SyncError::Local(format!("scan task: {e}")))?;
use pyxis_proto::api::ErrorCode;
        self.paths = found.paths;
use pyxis_proto::api::ErrorCode;
        Ok(found.scan)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    fn announce(&mut self, uploads: &[(String, Option<i64>, Stat)], downloads: &[(String, Option<Stat>, Option<i64>)]) {
use pyxis_proto::api::ErrorCode;
        let up = uploads.iter().map(|(_, _, s)| s.size).sum();
use pyxis_proto::api::ErrorCode;
        let down = downloads.iter().map(|(rel, _, _)| self.remote_tree.size(rel)).sum();
use pyxis_proto::api::ErrorCode;
        self.live.announce((uploads.len() as u64, up), (downloads.len() as u64, down));
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn list(&mut self) -> Result<Remotes> {
use pyxis_proto::api::ErrorCode;
        self.remote_tree.refresh(&self.client).await
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn upload(&mut self, items: &[(String, Option<i64>, Stat)]) -> Result<Vec<Outcome>> {
use pyxis_proto::api::ErrorCode;
        let mut out = Vec::new();
use pyxis_proto::api::ErrorCode;
        let mut files = Vec::new();
use pyxis_proto::api::ErrorCode;
        let mut heads = HashMap::new();
use pyxis_proto::api::ErrorCode;
        let mut stats = HashMap::new();
use pyxis_proto::api::ErrorCode;
        for (rel, head, stat) in items {
use pyxis_proto::api::ErrorCode;
            let remote = self.remote(rel);
use pyxis_proto::api::ErrorCode;
            if let Some(v) = head {
use pyxis_proto::api::ErrorCode;
                match self.remote_tree.heads.get(&remote) {
use pyxis_proto::api::ErrorCode;
                    Some(h) if h.version == *v => {
use pyxis_proto::api::ErrorCode;
                        heads.insert(remote.clone(), h.clone());
use pyxis_proto::api::ErrorCode;
                    }
use pyxis_proto::api::ErrorCode;
                    _ => {
use pyxis_proto::api::ErrorCode;
                        out.push(Outcome::Failed { rel: rel.clone(), why: "changed on the server".into() });
use pyxis_proto::api::ErrorCode;
                        continue;
use pyxis_proto::api::ErrorCode;
                    }
use pyxis_proto::api::ErrorCode;
                }
use pyxis_proto::api::ErrorCode;
            }
use pyxis_proto::api::ErrorCode;
            match self.local(rel) {
use pyxis_proto::api::ErrorCode;
                Ok(p) => files.push((p, remote.clone())),
use pyxis_proto::api::ErrorCode;
                Err(why) => {
use pyxis_proto::api::ErrorCode;
                    out.push(Outcome::Failed { rel: rel.clone(), why });
use pyxis_proto::api::ErrorCode;
                    continue;
use pyxis_proto::api::ErrorCode;
                }
use pyxis_proto::api::ErrorCode;
            }
use pyxis_proto::api::ErrorCode;
            stats.insert(remote, (rel.clone(), *stat));
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        let before = self.wire();
use pyxis_proto::api::ErrorCode;
        self.live.begin(Direction::Upload, &self.client.progress(), unix_ms());
use pyxis_proto::api::ErrorCode;
        let report = self.client.put_files(files, heads).await;
use pyxis_proto::api::ErrorCode;
        self.live.end(Direction::Upload);
use pyxis_proto::api::ErrorCode;
        self.sent += self.wire() - before;
use pyxis_proto::api::ErrorCode;
        let report = report?;
use pyxis_proto::api::ErrorCode;
        for l in report.landed {
use pyxis_proto::api::ErrorCode;
            let Some((rel, stat)) = stats.remove(&l.path) else { continue };
use pyxis_proto::api::ErrorCode;
            out.push(Outcome::Landed { rel, base: landed_base(l, stat) });
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        for f in report.failed.into_iter().chain(report.skipped) {
use pyxis_proto::api::ErrorCode;
            let rel = self.rel_of(&f.path).unwrap_or(f.path);
use pyxis_proto::api::ErrorCode;
            out.push(Outcome::Failed { rel, why: f.error });
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        Ok(out)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn download(&mut self, items: &[(String, Option<Stat>, Option<i64>)]) -> Result<Vec<Outcome>> {
use pyxis_proto::api::ErrorCode;
        let staging = self.staging();
use pyxis_proto::api::ErrorCode;
        std::fs::create_dir_all(&staging).map_err(|e| local_err(&staging, e))?;
use pyxis_proto::api::ErrorCode;
        let mut wanted = Vec::new();
use pyxis_proto::api::ErrorCode;
        let mut expect = HashMap::new();
use pyxis_proto::api::ErrorCode;
        let mut seeds = Vec::new();
use pyxis_proto::api::ErrorCode;
        for (i, (rel, stat, was)) in items.iter().enumerate() {
use pyxis_proto::api::ErrorCode;
            let remote = self.remote(rel);
use pyxis_proto::api::ErrorCode;
            wanted.push((remote.clone(), staging.join(i.to_string())));
use pyxis_proto::api::ErrorCode;
            // The copy being replaced lends its unchanged chunks (a big
use pyxis_proto::api::ErrorCode;
            // file edited in the middle costs only the edit).
use pyxis_proto::api::ErrorCode;
            if let (Some(s), Some(p)) = (stat, self.paths.get(rel))
use pyxis_proto::api::ErrorCode;
                && s.size >= pyxis_client::plan::PACK_MAX
use pyxis_proto::api::ErrorCode;
            {
use pyxis_proto::api::ErrorCode;
                seeds.push((remote.clone(), p.clone(), *was));
use pyxis_proto::api::ErrorCode;
            }
use pyxis_proto::api::ErrorCode;
            expect.insert(remote, (i, rel.clone(), *stat));
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        let before = self.wire();
use pyxis_proto::api::ErrorCode;
        self.live.begin(Direction::Download, &self.client.progress(), unix_ms());
use pyxis_proto::api::ErrorCode;
        let got = self.client.get_files(wanted, seeds).await;
use pyxis_proto::api::ErrorCode;
        self.live.end(Direction::Download);
use pyxis_proto::api::ErrorCode;
        self.received += self.wire() - before;
use pyxis_proto::api::ErrorCode;
        let (landed, failed) = got?;
use pyxis_proto::api::ErrorCode;
        let mut out = Vec::new();
use pyxis_proto::api::ErrorCode;
        for f in failed {
use pyxis_proto::api::ErrorCode;
            let rel = self.rel_of(&f.path).unwrap_or(f.path);
use pyxis_proto::api::ErrorCode;
            out.push(Outcome::Failed { rel, why: f.error });
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        for l in landed {
use pyxis_proto::api::ErrorCode;
            let Some((i, rel, want)) = expect.remove(&l.path) else { continue };
use pyxis_proto::api::ErrorCode;
            let staged = staging.join(i.to_string());
use pyxis_proto::api::ErrorCode;
            let placed = (|| {
use pyxis_proto::api::ErrorCode;
                let target = self.local(&rel)?;
use pyxis_proto::api::ErrorCode;
                // Only over what the scan saw: an edit made since is kept,
use pyxis_proto::api::ErrorCode;
                // and merged next pass.
use pyxis_proto::api::ErrorCode;
                if lstat(&target) != want {
use pyxis_proto::api::ErrorCode;
                    return Err("changed locally while it was being downloaded".to_owned());
use pyxis_proto::api::ErrorCode;
                }
use pyxis_proto::api::ErrorCode;
                let stat = lstat(&staged).ok_or("the downloaded file vanished")?;
use pyxis_proto::api::ErrorCode;
                std::fs::rename(&staged, &target).map_err(|e| format!("{}: {e}", target.display()))?;
use pyxis_proto::api::ErrorCode;
                Ok(stat)
use pyxis_proto::api::ErrorCode;
            })();
use pyxis_proto::api::ErrorCode;
            match placed {
use pyxis_proto::api::ErrorCode;
                Ok(stat) => out.push(Outcome::Landed { rel, base: landed_base(l, stat) }),
use pyxis_proto::api::ErrorCode;
                Err(why) => {
use pyxis_proto::api::ErrorCode;
                    let _ = std::fs::remove_file(&staged);
use pyxis_proto::api::ErrorCode;
                    out.push(Outcome::Failed { rel, why });
use pyxis_proto::api::ErrorCode;
                }
use pyxis_proto::api::ErrorCode;
            }
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        // One flush of the file system for the whole batch.
use pyxis_proto::api::ErrorCode;
        let root = self.root.clone();
use pyxis_proto::api::ErrorCode;
        tokio::task::spawn_blocking(move || std::fs::File::open(&root).and_then(|f| Ok(rustix::fs::syncfs(&f)?)))
use pyxis_proto::api::ErrorCode;
            .await
use pyxis_proto::api::ErrorCode;
            .map_err(|e| SyncError::Local(format!("sync task: {e}")))?
use pyxis_proto::api::ErrorCode;
            .map_err(|e| local_err(&self.root, e))?;
use pyxis_proto::api::ErrorCode;
        let _ = std::fs::remove_dir_all(&staging);
use pyxis_proto::api::ErrorCode;
        Ok(out)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn remote_mkdir(&mut self, rel: &str) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        match self.client.api().mkdir(&self.remote(rel), true).await {
use pyxis_proto::api::ErrorCode;
            Ok(_) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.code().is_some() => Ok(Done::Changed),
use pyxis_proto::api::ErrorCode;
            Err(e) => Err(e.into()),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn remote_remove(&mut self, rel: &str, expect: i64) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        match self.client.api().remove_if(&self.remote(rel), false, Some(expect)).await {
use pyxis_proto::api::ErrorCode;
            Ok(_) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.code().is_some() => Ok(Done::Changed),
use pyxis_proto::api::ErrorCode;
            Err(e) => Err(e.into()),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn remote_rmdir(&mut self, rel: &str) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        match self.client.api().remove(&self.remote(rel), false).await {
use pyxis_proto::api::ErrorCode;
            Ok(_) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.code().is_some() => Ok(Done::Changed),
use pyxis_proto::api::ErrorCode;
            Err(e) => Err(e.into()),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn remote_move(&mut self, from: &str, to: &str) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        match self.client.rename(&self.remote(from), &self.remote(to)).await {
use pyxis_proto::api::ErrorCode;
            Ok(_) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.code().is_some() => Ok(Done::Changed),
use pyxis_proto::api::ErrorCode;
            Err(e) => Err(e.into()),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn local_mkdir(&mut self, rel: &str) -> Result<()> {
use pyxis_proto::api::ErrorCode;
        make_dirs(&self.root, rel).map_err(SyncError::Local)?;
use pyxis_proto::api::ErrorCode;
        Ok(())
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn local_remove(&mut self, rel: &str, expect: Stat) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        let Ok(p) = self.local(rel) else { return Ok(Done::Changed) };
use pyxis_proto::api::ErrorCode;
        if lstat(&p) != Some(expect) {
use pyxis_proto::api::ErrorCode;
            return Ok(Done::Changed);
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        std::fs::remove_file(&p).map_err(|e| local_err(&p, e))?;
use pyxis_proto::api::ErrorCode;
        Ok(Done::Yes)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn local_rmdir(&mut self, rel: &str) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        let Ok(p) = self.local(rel) else { return Ok(Done::Changed) };
use pyxis_proto::api::ErrorCode;
        match std::fs::remove_dir(&p) {
use pyxis_proto::api::ErrorCode;
            Ok(()) => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Done::Yes),
use pyxis_proto::api::ErrorCode;
            Err(_) => Ok(Done::Changed),
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn local_move(&mut self, from: &str, to: &str, expect: Stat) -> Result<Done> {
use pyxis_proto::api::ErrorCode;
        let (Ok(src), Ok(dst)) = (self.local(from), self.local(to)) else { return Ok(Done::Changed) };
use pyxis_proto::api::ErrorCode;
        if lstat(&src) != Some(expect) || lstat(&dst).is_some() {
use pyxis_proto::api::ErrorCode;
            return Ok(Done::Changed);
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        std::fs::rename(&src, &dst).map_err(|e| local_err(&dst, e))?;
use pyxis_proto::api::ErrorCode;
        self.paths.remove(from);
use pyxis_proto::api::ErrorCode;
        self.paths.insert(to.to_owned(), dst);
use pyxis_proto::api::ErrorCode;
        Ok(Done::Yes)
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    async fn save(&mut self, changes: &[(String, Option<Base>)]) -> Result<()> {
use pyxis_proto::api::ErrorCode;
        self.state.save(changes).await
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;
}
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
#[cfg(test)]
use pyxis_proto::api::ErrorCode;
mod tests {
use pyxis_proto::api::ErrorCode;
    use super::*;
use pyxis_proto::api::ErrorCode;

use pyxis_proto::api::ErrorCode;
    #[test]
use pyxis_proto::api::ErrorCode;
    fn paths_from_the_server_stay_below_the_root() {
use pyxis_proto::api::ErrorCode;
        let d = tempfile::tempdir().unwrap();
use pyxis_proto::api::ErrorCode;
        let root = d.path().join("root");
use pyxis_proto::api::ErrorCode;
        std::fs::create_dir_all(&root).unwrap();
use pyxis_proto::api::ErrorCode;
        let outside = d.path().join("outside");
use pyxis_proto::api::ErrorCode;
        std::fs::create_dir_all(&outside).unwrap();
use pyxis_proto::api::ErrorCode;
        // A link in the folder (synced from the server earlier) is never
use pyxis_proto::api::ErrorCode;
        // passed through, nor is a file.
use pyxis_proto::api::ErrorCode;
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
use pyxis_proto::api::ErrorCode;
        std::fs::write(root.join("file"), b"x").unwrap();
use pyxis_proto::api::ErrorCode;
        for bad in ["link", "link/deeper", "file/below", "a/../../escape", "./x", "a/./b"] {
use pyxis_proto::api::ErrorCode;
            assert!(make_dirs(&root, bad).is_err(), "{bad}");
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing was made outside");
use pyxis_proto::api::ErrorCode;
        for bad in ["..", "a/..", ".", ".pyxis", "link/x", ""] {
use pyxis_proto::api::ErrorCode;
            assert!(target(&root, bad).is_err(), "{bad}");
use pyxis_proto::api::ErrorCode;
        }
use pyxis_proto::api::ErrorCode;
        assert_eq!(target(&root, "a/.pyxis").unwrap(), root.join("a/.pyxis"));
use pyxis_proto::api::ErrorCode;
        assert_eq!(make_dirs(&root, "new/dir").unwrap(), root.join("new/dir"));
use pyxis_proto::api::ErrorCode;
        assert!(root.join("new/dir").is_dir());
use pyxis_proto::api::ErrorCode;
    }
use pyxis_proto::api::ErrorCode;
}
