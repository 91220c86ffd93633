//! One pass: scan, list, plan, carry out, remember. The engine is generic
//! over [`Io`], the folder and the server as the pass sees them: the daemon
//! runs it on a real disk and a real server ([`crate::disk`]), the
//! simulation on models of both, so the same code decides and executes in
//! both.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Base, Bases, Kind, Locals, Remotes, Stat, within};
use crate::plan::{Action, Options, Plan, plan};

/// Errors that end a pass (a single file's trouble does not: it is
/// reported in [`PassReport::failed`] and tried again next pass).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] pyxis_client::ClientError),
    #[error(transparent)]
    Path(#[from] pyxis_proto::path::PathError),
    #[error("{0}")]
    Local(String),
    #[error("local state: {0}")]
    State(String),
}

pub type Result<T> = std::result::Result<T, SyncError>;

/// What the local scan found.
#[derive(Debug, Default)]
pub struct Scan {
    pub locals: Locals,
    /// Local paths not synced, with why (a name the catalog refuses, an
    /// unreadable file).
    pub skipped: Vec<(String, String)>,
    /// Set when the folder itself is missing or is not the one synced
    /// before (its marker is gone): an unmounted disk. Nothing runs.
    pub vanished: Option<String>,
}

/// How one file of a batch went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: both sides now agree on this.
    Landed { rel: String, base: Base },
    /// Not done, with why; the next pass looks again.
    Failed { rel: String, why: String },
}

/// How a single guarded operation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Yes,
    /// Not done: the thing changed since it was looked at (or a directory
    /// is not empty). The next pass looks again.
    Changed,
}

/// The folder and the server, as one pass sees them.
#[allow(async_fn_in_trait)]
pub trait Io {
    /// Scans the folder; a file whose stat equals its base's keeps the
    /// base's hash without being read.
    async fn scan(&mut self, bases: &Bases) -> Result<Scan>;
    /// Lists the remote path.
    async fn list(&mut self) -> Result<Remotes>;
    /// Puts local files, each over remote version `head` (none: as new).
    async fn upload(&mut self, items: &[(String, Option<i64>, Stat)]) -> Result<Vec<Outcome>>;
    /// Writes remote files locally, each only if the local path still has
    /// the stat given (none: still absent); the version the local file is,
    /// if known, lends its unchanged chunks.
    async fn download(&mut self, items: &[(String, Option<Stat>, Option<i64>)]) -> Result<Vec<Outcome>>;
    async fn remote_mkdir(&mut self, rel: &str) -> Result<Done>;
    async fn remote_remove(&mut self, rel: &str, expect: i64) -> Result<Done>;
    async fn remote_rmdir(&mut self, rel: &str) -> Result<Done>;
    async fn remote_move(&mut self, from: &str, to: &str) -> Result<Done>;
    async fn local_mkdir(&mut self, rel: &str) -> Result<()>;
    async fn local_remove(&mut self, rel: &str, expect: Stat) -> Result<Done>;
    async fn local_rmdir(&mut self, rel: &str) -> Result<Done>;
    async fn local_move(&mut self, from: &str, to: &str, expect: Stat) -> Result<Done>;
    /// Persists base changes (`None`: forget the path).
    async fn save(&mut self, changes: &[(String, Option<Base>)]) -> Result<()>;
    /// What this pass is about to send and fetch (for its status).
    fn announce(
        &mut self,
        _uploads: &[(String, Option<i64>, Stat)],
        _downloads: &[(String, Option<Stat>, Option<i64>)],
    ) {
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct PassReport {
    pub uploaded: u64,
    pub downloaded: u64,
    pub removed_local: u64,
    pub removed_remote: u64,
    pub moved: u64,
    /// Conflict copies made this pass.
    pub conflicts: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
    pub paused: Option<String>,
    /// Actions planned that move data or change a tree.
    pub planned: usize,
}

impl PassReport {
    /// Whether this pass changed anything (so another pass may find more).
    pub fn did_work(&self) -> bool {
        self.uploaded + self.downloaded + self.removed_local + self.removed_remote + self.moved > 0
            || !self.conflicts.is_empty()
    }
}

/// Runs one pass: everything is decided from one scan and one listing;
/// each change either lands (and is remembered) or is reported and looked
/// at again next pass.
pub async fn pass<I: Io>(io: &mut I, bases: &mut Bases, opts: &Options) -> Result<PassReport> {
    let mut report = PassReport::default();
    let t0 = std::time::Instant::now();
    let scan = io.scan(bases).await?;
    let scanned = t0.elapsed();
    report.skipped = scan.skipped;
    if let Some(why) = scan.vanished {
        report.paused = Some(why);
        return Ok(report);
    }
    let remotes = io.list().await?;
    let listed = t0.elapsed();
    let locals = scan.locals;
    let p: Plan = plan(bases, &locals, &remotes, opts);
    let planned = t0.elapsed();
    report.paused = p.paused.clone();
    report.planned = p.work();
    let mut ex =
        Exec { io, bases, locals: &locals, report: &mut report, changes: BTreeMap::new(), read_only: opts.read_only };
    ex.run(p.actions).await?;
    tracing::debug!(
        scan = ?scanned,
        list = ?(listed - scanned),
        plan = ?(planned - listed),
        execute = ?(t0.elapsed() - planned),
        locals = locals.len(),
        remotes = remotes.len(),
        "pass"
    );
    Ok(report)
}

fn dir_base() -> Base {
    Base { kind: Kind::Dir, hash: None, version: 0, file_id: None, stat: None }
}

struct Exec<'a, I: Io> {
    io: &'a mut I,
    bases: &'a mut Bases,
    locals: &'a Locals,
    report: &'a mut PassReport,
    changes: BTreeMap<String, Option<Base>>,
    /// A read-only share: a conflict copy stays here, unsent.
    read_only: bool,
}

impl<I: Io> Exec<'_, I> {
    fn set(&mut self, rel: &str, base: Option<Base>) {
        match &base {
            Some(b) => self.bases.insert(rel.to_owned(), b.clone()),
            None => self.bases.remove(rel),
        };
        self.changes.insert(rel.to_owned(), base);
    }

    /// A directory removed (or already gone) is forgotten; one still
    /// holding something stays known.
    fn forget_if(&mut self, rel: &str, done: Done) {
        if done == Done::Yes {
            self.set(rel, None);
        }
    }

    fn fail(&mut self, rel: &str, why: impl Into<String>) {
        self.report.failed.push((rel.to_owned(), why.into()));
    }

    /// Saves what changed so far: a crash loses at most one step.
    async fn flush(&mut self) -> Result<()> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let changes: Vec<_> = std::mem::take(&mut self.changes).into_iter().collect();
        self.io.save(&changes).await
    }

    /// Moves every base under `from` to the same place under `to`.
    fn rekey(&mut self, from: &str, to: &str) {
        let moved: Vec<(String, Base)> =
            self.bases.iter().filter(|(r, _)| within(r, from)).map(|(r, b)| (r.clone(), b.clone())).collect();
        for (rel, b) in moved {
            self.set(&rel, None);
            self.set(&format!("{to}{}", &rel[from.len()..]), Some(b));
        }
    }

    fn landed(&mut self, what: &str, outcomes: Vec<Outcome>) -> u64 {
        let mut n = 0;
        for o in outcomes {
            match o {
                Outcome::Landed { rel, base } => {
                    n += 1;
                    tracing::info!(path = %rel, version = base.version, "{what}");
                    self.set(&rel, Some(base));
                }
                Outcome::Failed { rel, why } => self.fail(&rel, why),
            }
        }
        n
    }

    async fn run(&mut self, actions: Vec<Action>) -> Result<()> {
        let mut uploads = Vec::new();
        let mut downloads = Vec::new();
        let mut later = Vec::new();
        // Renames and conflict copies first: they change what is where.
        for a in actions {
            match a {
                Action::MoveRemote { from, to } => {
                    if self.io.remote_move(&from, &to).await? == Done::Yes {
                        tracing::info!(%from, %to, "moved on the server");
                        self.report.moved += 1;
                        self.rekey(&from, &to);
                    }
                }
                Action::MoveLocal { from, to } => {
                    let Some(l) = self.locals.get(&from) else { continue };
                    if self.io.local_move(&from, &to, l.stat).await? == Done::Yes {
                        tracing::info!(%from, %to, "moved here");
                        self.report.moved += 1;
                        self.rekey(&from, &to);
                    }
                }
                Action::Conflict { rel, copy } => {
                    let Some(l) = self.locals.get(&rel) else { continue };
                    if self.io.local_move(&rel, &copy, l.stat).await? == Done::Yes {
                        self.report.conflicts.push(copy.clone());
                        self.set(&rel, None);
                        if !self.read_only {
                            uploads.push((copy, None, l.stat));
                        }
                        downloads.push((rel, None, None));
                    }
                }
                Action::Upload { rel, head } => {
                    let stat = self.locals.get(&rel).map(|l| l.stat).unwrap_or_default();
                    uploads.push((rel, head, stat));
                }
                Action::Download { rel } => {
                    let expect = self.locals.get(&rel).map(|l| l.stat);
                    // The local copy is its base version if unchanged since.
                    let was = self.bases.get(&rel).filter(|b| expect.is_some() && b.stat == expect).map(|b| b.version);
                    downloads.push((rel, expect, was));
                }
                other => later.push(other),
            }
        }
        self.flush().await?;
        self.io.announce(&uploads, &downloads);
        // Directories the downloads need are made by the download itself.
        for a in &later {
            if let Action::MkdirLocal { rel } = a {
                self.io.local_mkdir(rel).await?;
                self.set(rel, Some(dir_base()));
            }
        }
        if !downloads.is_empty() {
            let got = self.io.download(&downloads).await?;
            self.report.downloaded += self.landed("downloaded", got);
            self.flush().await?;
        }
        for a in &later {
            if let Action::MkdirRemote { rel } = a {
                match self.io.remote_mkdir(rel).await? {
                    Done::Yes => self.set(rel, Some(dir_base())),
                    Done::Changed => self.fail(rel, "the server refused the directory (a file is in the way?)"),
                }
            }
        }
        if !uploads.is_empty() {
            let put = self.io.upload(&uploads).await?;
            self.report.uploaded += self.landed("uploaded", put);
            self.flush().await?;
        }
        for a in later {
            match a {
                Action::RemoveLocal { rel } => {
                    let Some(l) = self.locals.get(&rel) else { continue };
                    match self.io.local_remove(&rel, l.stat).await? {
                        Done::Yes => {
                            tracing::info!(path = %rel, "removed here");
                            self.report.removed_local += 1;
                            self.set(&rel, None);
                        }
                        Done::Changed => self.fail(&rel, "changed locally while it was being removed"),
                    }
                }
                Action::RemoveRemote { rel, expect } => match self.io.remote_remove(&rel, expect).await? {
                    Done::Yes => {
                        tracing::info!(path = %rel, "removed on the server");
                        self.report.removed_remote += 1;
                        self.set(&rel, None);
                    }
                    Done::Changed => self.fail(&rel, "changed on the server; it is kept and merged next pass"),
                },
                Action::RmdirLocal { rel } => {
                    let done = self.io.local_rmdir(&rel).await?;
                    self.forget_if(&rel, done);
                }
                Action::RmdirRemote { rel } => {
                    let done = self.io.remote_rmdir(&rel).await?;
                    self.forget_if(&rel, done);
                }
                Action::Record { rel, base } => self.set(&rel, Some(base)),
                Action::Forget { rel } => self.set(&rel, None),
                Action::Skip { rel, why } => self.report.skipped.push((rel, why)),
                // Made above (directories), or carried out in the first loop.
                _ => {}
            }
        }
        self.flush().await
    }
}
