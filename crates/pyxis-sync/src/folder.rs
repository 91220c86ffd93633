//! A synced folder: its state, its options, its passes and its status.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pyxis_client::{Client, ConfigDir};
use serde::{Deserialize, Serialize};

use crate::clock::unix_ms;
use crate::disk::DiskIo;
use crate::engine::{PassReport, Result, SyncError, pass};
use crate::model::Bases;
use crate::plan::Options;
use crate::progress::{Snapshot, Transfer};
use crate::scan::META_DIR;
use crate::state::{State, folder_dir};

/// How to sync a folder.
#[derive(Debug, Clone)]
pub struct FolderOptions {
    pub root: PathBuf,
    /// The catalog path kept in step with the folder (default: the one it
    /// synced with before, else `/` + the folder's name).
    pub remote: Option<String>,
    /// This device's name in conflict copies (default: the host name).
    pub device: Option<String>,
    /// Share of the synced files one pass may remove before it pauses.
    pub delete_threshold: f64,
    /// Let the passes of this run remove whatever the guard would pause on.
    pub allow_deletes: bool,
    /// How often a running pass writes its status (queued work, progress).
    pub status_every: Duration,
}

/// How often a running pass writes its status by default: often enough for
/// a progress line, rarely enough to cost nothing.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

impl FolderOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            remote: None,
            device: None,
            delete_threshold: 0.5,
            allow_deletes: false,
            status_every: STATUS_EVERY,
        }
    }
}

/// What `pyxis status` shows of a folder (written after every pass, and
/// every [`FolderOptions::status_every`] while one runs).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Status {
    pub root: String,
    pub remote: String,
    /// `syncing`, `idle`, `paused` or `error`.
    pub state: String,
    /// Unix milliseconds of the last pass's end.
    pub last_pass: i64,
    pub uploaded: u64,
    pub downloaded: u64,
    /// Shard bytes sent and received since start (parity included).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Conflict copies made since the daemon started.
    pub conflicts: Vec<String>,
    /// Files that failed in the last pass, with why.
    pub failed: Vec<(String, String)>,
    /// Paths not synced (refused names, ignored kinds), with why.
    pub skipped: Vec<(String, String)>,
    /// Why the folder is paused, or the last pass's error.
    pub message: Option<String>,
    /// Files and plaintext bytes the running pass has still to send or
    /// fetch (0 when idle).
    pub queued_files: u64,
    pub queued_bytes: u64,
    /// The transfer under way, if any.
    pub transfer: Option<Transfer>,
    /// Unix milliseconds of this status.
    pub updated: i64,
    /// The process that keeps the folder (`pyxis status` says whether it
    /// still runs: one that died leaves its last status behind).
    pub pid: u32,
}

impl Status {
    fn progress(&mut self, s: Snapshot) {
        self.queued_files = s.queued_files;
        self.queued_bytes = s.queued_bytes;
        self.transfer = s.transfer;
    }
}

/// How sync cuts files: half the size of `put`'s chunks (128 KiB / 512 KiB
/// / 2 MiB). A 1 MiB overwrite in a big file then costs about 2 MB to send
/// and to fetch instead of about 3 (with 1 MiB chunks it was 2.4-4.9 MB,
/// by where the account's keyed boundaries fall); a big file has twice the
/// chunks, each with its catalog row and shards. Every device syncing a
/// folder cuts alike, so an edit made on any of them sends only its chunks.
pub const CHUNKS: pyxis_core::chunker::ChunkerParams =
    pyxis_core::chunker::ChunkerParams { min: 128 << 10, avg: 512 << 10, max: 2 << 20 };

pub struct Folder {
    io: DiskIo,
    bases: Bases,
    opts: Options,
    dir: PathBuf,
    status_every: Duration,
    pub status: Status,
}

impl std::fmt::Debug for Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Folder").field("io", &self.io).finish_non_exhaustive()
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "device".into())
}

impl Folder {
    /// Opens the folder's state (creating it, the folder's marker and the
    /// remote path on first use).
    pub async fn open(config: &ConfigDir, client: Client, o: FolderOptions) -> Result<Folder> {
        let local = |e: std::io::Error| SyncError::Local(format!("{}: {e}", o.root.display()));
        let root = std::path::absolute(&o.root).map_err(local)?;
        let dir = folder_dir(config.path(), &root);
        let state = State::open(&dir).await?;
        let known_remote = state.meta("remote").await?;
        if known_remote.is_none() {
            std::fs::create_dir_all(&root).map_err(local)?;
        }
        // `@OWNER/PATH`: a share, kept as written.
        let norm = |r: &str| -> Result<String> {
            if r.starts_with('@') { Ok(r.to_owned()) } else { Ok(pyxis_proto::path::normalize_local(r)?) }
        };
        let remote = match (&o.remote, &known_remote) {
            (Some(r), Some(k)) if norm(r)? != *k => {
                return Err(SyncError::Local(format!(
                    "{} syncs with {k}, not {r}; to sync it with {r} instead, remove its state ({}) and sync it again",
                    root.display(),
                    dir.display()
                )));
            }
            (_, Some(k)) => k.clone(),
            (Some(r), None) => norm(r)?,
            (None, None) => {
                let name = root.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                    SyncError::Local(format!("{}: give --remote-path (the name is not UTF-8)", root.display()))
                })?;
                pyxis_proto::path::join("/", &pyxis_proto::path::to_nfc(name))?
            }
        };
        // A share is synced through its own view of the owner's tree.
        let (client, inner, writable) =
            if remote.starts_with('@') { client.in_share(&remote).await? } else { (client, remote.clone(), true) };
        if known_remote.is_none() {
            // The marker says "this is the folder synced before": without it
            // a later pass pauses instead of taking an empty mount point
            // for a folder whose files were all deleted.
            std::fs::create_dir_all(root.join(META_DIR)).map_err(local)?;
            if inner != "/" && !remote.starts_with('@') {
                client.api().mkdir(&inner, true).await?;
            }
            state.set_meta("root", &root.display().to_string()).await?;
            state.set_meta("remote", &remote).await?;
        }
        let _ = std::fs::remove_dir_all(root.join(META_DIR).join("staging"));
        let device = match (&o.device, state.meta("device").await?) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d,
            (None, None) => host_name(),
        };
        state.set_meta("device", &device).await?;
        let bases = state.load().await?;
        let opts = Options {
            delete_threshold: o.delete_threshold,
            allow_deletes: o.allow_deletes,
            device,
            read_only: !writable,
            ..Options::default()
        };
        let status = Status {
            root: root.display().to_string(),
            remote: remote.clone(),
            state: "syncing".into(),
            pid: std::process::id(),
            ..Default::default()
        };
        let io = DiskIo::new(client.with_chunker(CHUNKS)?, root, inner, state);
        Ok(Folder { io, bases, opts, dir, status_every: o.status_every, status })
    }

    pub fn root(&self) -> &Path {
        self.io.root_path()
    }

    /// How often a running pass writes its status from now on.
    pub fn set_status_every(&mut self, every: Duration) {
        self.status_every = every;
    }

    /// The catalog path as the user named it (`@OWNER/PATH` for a share).
    pub fn remote(&self) -> &str {
        &self.status.remote
    }

    /// The catalog path synced, in its owner's tree.
    pub fn remote_path(&self) -> &str {
        self.io.remote_path()
    }

    pub fn client(&self) -> &Client {
        self.io.client()
    }

    pub fn state(&self) -> &State {
        self.io.state()
    }

    /// Runs passes until one finds nothing more to do (at most a few: a
    /// pass's own changes may need one more to settle), and writes the
    /// status.
    pub async fn sync(&mut self) -> Result<PassReport> {
        let mut total = PassReport::default();
        self.status.state = "syncing".into();
        let mut ticker = self.ticker();
        let result = async {
            for _ in 0..4 {
                self.opts.now = unix_ms() / 1000;
                let r = pass(&mut self.io, &mut self.bases, &self.opts).await?;
                let again = r.did_work() && r.paused.is_none();
                merge(&mut total, r);
                if !again {
                    break;
                }
            }
            Ok::<_, SyncError>(())
        }
        .await;
        // Stopped (not just told to stop) before the last write: two
        // writers would share the temporary file.
        ticker.abort();
        let _ = (&mut ticker).await;
        self.io.live.clear();
        self.status.progress(Snapshot::default());
        self.status.last_pass = unix_ms();
        self.status.bytes_sent = self.io.sent;
        self.status.bytes_received = self.io.received;
        self.status.uploaded += total.uploaded;
        self.status.downloaded += total.downloaded;
        self.status.conflicts.extend(total.conflicts.iter().cloned());
        self.status.failed = total.failed.clone();
        self.status.skipped = total.skipped.clone();
        match (&result, &total.paused) {
            (Err(e), _) => {
                self.status.state = "error".into();
                self.status.message = Some(e.to_string());
            }
            (Ok(()), Some(why)) => {
                self.status.state = "paused".into();
                self.status.message = Some(why.clone());
            }
            (Ok(()), None) => {
                self.status.state = "idle".into();
                self.status.message = None;
            }
        }
        self.write_status();
        result.map(|()| total)
    }

    /// Writes the status with the pass's progress, now and every
    /// `status_every`, until aborted.
    fn ticker(&self) -> tokio_util::task::AbortOnDropHandle<()> {
        let (live, progress, dir) = (self.io.live.clone(), self.client().progress(), self.dir.clone());
        let mut status = self.status.clone();
        let every = self.status_every;
        tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                status.progress(live.snapshot(&progress));
                write_status(&dir, &mut status);
            }
        }))
    }

    fn write_status(&mut self) {
        write_status(&self.dir, &mut self.status);
    }
}

fn write_status(dir: &Path, status: &mut Status) {
    status.updated = unix_ms();
    let Ok(json) = serde_json::to_vec_pretty(status) else { return };
    let tmp = dir.join("status.json.tmp");
    if std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, dir.join("status.json"))).is_err() {
        tracing::warn!(dir = %dir.display(), "could not write the folder's status");
    }
}

fn merge(total: &mut PassReport, r: PassReport) {
    total.uploaded += r.uploaded;
    total.downloaded += r.downloaded;
    total.removed_local += r.removed_local;
    total.removed_remote += r.removed_remote;
    total.moved += r.moved;
    total.planned += r.planned;
    total.conflicts.extend(r.conflicts);
    total.failed = r.failed;
    total.skipped = r.skipped;
    total.paused = r.paused;
}

/// The status of every folder synced with this config directory.
pub fn statuses(config: &ConfigDir) -> Vec<Status> {
    let Ok(dirs) = std::fs::read_dir(config.path().join("sync")) else { return Vec::new() };
    let mut out: Vec<Status> = dirs
        .flatten()
        .filter_map(|d| std::fs::read(d.path().join("status.json")).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by(|a, b| a.root.cmp(&b.root));
    out
}
