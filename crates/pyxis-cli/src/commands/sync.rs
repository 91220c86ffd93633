//! `sync` and `status`: folders kept in step with paths of the catalog
//! (pyxis-sync), and what each is doing.

use std::path::PathBuf;

use pyxis_sync::{Folder, FolderOptions};

use super::{Global, catalog_path};
use crate::output::emit;

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Local folders to keep in step (created if missing). Each syncs with
    /// the catalog path it synced with before, else `/NAME`.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The catalog path to sync the (one) folder with.
    #[arg(long, value_parser = catalog_path)]
    pub remote_path: Option<String>,
    /// One pass (until nothing is left to do), then exit.
    #[arg(long)]
    pub once: bool,
    /// This device's name in conflict copies [default: the host name].
    #[arg(long)]
    pub device: Option<String>,
    /// Pause instead of removing more than this percentage of the synced
    /// files on the server in one pass.
    #[arg(long, default_value_t = 50.0)]
    pub delete_threshold: f64,
    /// Carry out removals the guard paused on (after an intended mass
    /// deletion).
    #[arg(long)]
    pub allow_deletes: bool,
    /// Serve this daemon's metrics on ADDR/metrics (plain HTTP, no token:
    /// keep it on loopback).
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

pub async fn sync(g: &Global, a: SyncArgs) -> anyhow::Result<()> {
    if a.remote_path.is_some() && a.dirs.len() > 1 {
        anyhow::bail!("--remote-path names the catalog path of one folder; give one folder with it");
    }
    if !(0.0..=100.0).contains(&a.delete_threshold) {
        anyhow::bail!("--delete-threshold is a percentage: 0 to 100, not {}", a.delete_threshold);
    }
    let client = g.client()?;
    let config = g.config_dir();
    let mut folders = Vec::new();
    for dir in &a.dirs {
        let mut o = FolderOptions::new(dir);
        o.remote = a.remote_path.clone();
        o.device = a.device.clone();
        o.delete_threshold = a.delete_threshold / 100.0;
        o.allow_deletes = a.allow_deletes;
        folders.push(Folder::open(&config, client.clone(), o).await?);
    }
    if a.once {
        let mut failed = false;
        for f in &mut folders {
            let r = f.sync().await?;
            failed |= r.paused.is_some() || !r.failed.is_empty();
            emit(g.json, &f.status, print_status);
        }
        if failed {
            anyhow::bail!("not everything was synced (see above)");
        }
        return Ok(());
    }
    for f in &folders {
        tracing::info!(root = %f.root().display(), remote = %f.remote(), "syncing");
    }
    // Lives as long as the process (the daemon runs until it is stopped).
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = a.metrics_listen {
        let bound = super::sync_metrics::serve(addr, config.clone(), stopped).await?;
        tracing::info!(%bound, "metrics served");
    }
    // The folders run side by side on this task (their passes wait on the
    // network and the disk, not on each other).
    let all = futures::future::try_join_all(folders.into_iter().map(pyxis_sync::daemon::run));
    tokio::select! {
        r = all => r.map(|_| ()).map_err(Into::into),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

pub async fn status(g: &Global, _a: StatusArgs) -> anyhow::Result<()> {
    let all = pyxis_sync::statuses(&g.config_dir());
    emit(g.json, &all, |all| {
        if all.is_empty() {
            println!("no folder is synced from this device");
        }
        for s in all {
            print_status(s);
        }
    });
    Ok(())
}

fn print_status(s: &pyxis_sync::Status) {
    use crate::output::size;
    let when = crate::output::when(s.last_pass);
    // Linux: a process that ended has no /proc entry.
    let running = s.pid != 0 && std::path::Path::new(&format!("/proc/{}", s.pid)).exists();
    let state = if running || s.pid == 0 { s.state.clone() } else { format!("{}, not running now", s.state) };
    println!("{} ↔ {}: {state} (last pass {when})", s.root, s.remote);
    if running && let Some(t) = &s.transfer {
        let verb = if t.direction == pyxis_sync::progress::Direction::Upload { "uploading" } else { "downloading" };
        let secs = (s.updated - t.started).max(1) as f64 / 1000.0;
        let pct = (t.bytes_done * 100).checked_div(t.bytes_total).unwrap_or(100);
        println!(
            "  {verb} {} of {} files, {} of {} ({pct} %), {}/s",
            t.files_done,
            t.files_total,
            size(t.bytes_done),
            size(t.bytes_total),
            size((t.bytes_done as f64 / secs) as u64)
        );
    }
    if running && s.queued_files > 0 {
        let plural = if s.queued_files == 1 { "" } else { "s" };
        println!("  queued: {} file{plural}, {}", s.queued_files, size(s.queued_bytes));
    }
    println!("  {} uploaded, {} downloaded since start", s.uploaded, s.downloaded);
    if let Some(m) = &s.message {
        println!("  {m}");
    }
    for c in &s.conflicts {
        println!("  conflict copy: {c}");
    }
    for (p, why) in &s.failed {
        println!("  not synced: {p}: {why}");
    }
    for (p, why) in &s.skipped {
        println!("  skipped: {p}: {why}");
    }
}
