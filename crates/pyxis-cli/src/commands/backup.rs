//! `pyxis admin backup` and `pyxis admin check`: the catalog itself, opened
//! directly on the server's machine (no server call: they must work on a
//! backup no server runs on, and while the server is down).

use std::path::{Path, PathBuf};

use anyhow::Context;
use pyxis_server::db::Db;

use super::Global;
use crate::output::{emit, size};

#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    /// The server's data directory (its SQLite catalog), or a directory
    /// holding a backup as catalog.db.
    #[arg(long, default_value = "pyxis-data/server")]
    pub data: PathBuf,
    /// A PostgreSQL catalog instead.
    #[arg(long, env = "PYXIS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

async fn open(c: &CatalogArgs) -> anyhow::Result<Db> {
    if c.database_url.is_none() && !c.data.join("catalog.db").is_file() {
        anyhow::bail!("no catalog at {} (give --data DIR, or --database-url)", c.data.join("catalog.db").display());
    }
    Db::open(c.database_url.as_deref(), &c.data)
        .await
        .with_context(|| format!("opening the catalog in {}", c.data.display()))
}

pub async fn backup(g: &Global, c: &CatalogArgs, dest: &Path) -> anyhow::Result<()> {
    let db = open(c).await?;
    let t0 = std::time::Instant::now();
    db.backup_to(dest).await?;
    let bytes = std::fs::metadata(dest)?.len();
    let secs = t0.elapsed().as_secs_f64();
    emit(g.json, &serde_json::json!({"backup": dest, "bytes": bytes, "seconds": secs}), |_| {
        println!(
            "{} written ({}, {secs:.1} s): a consistent copy of the catalog, mode 0600",
            dest.display(),
            size(bytes)
        );
        println!(
            "To restore: stop the server, put it in place as DATA/catalog.db (with no catalog.db-wal beside it), \
             start the server; check it first with `pyxis admin check --data DIR-HOLDING-IT`"
        );
    });
    Ok(())
}

pub async fn check(g: &Global, c: &CatalogArgs) -> anyhow::Result<()> {
    let r = open(c).await?.check().await?;
    emit(g.json, &r, |r| {
        println!("{} versions, {} chunks", r.versions, r.chunks);
        println!("  reference counts that differ from the versions using the chunk: {}", r.bad_refcounts);
        println!("  chunks a version uses that are missing or not stored: {}", r.missing_chunks);
        println!("  chunks in use with fewer than k stored shards on record: {}", r.short_of_shards);
        println!("{}", if r.sound() { "the catalog is sound" } else { "THE CATALOG HAS PROBLEMS" });
    });
    if !r.sound() {
        anyhow::bail!("the catalog failed its check");
    }
    Ok(())
}

pub async fn mark_restored(g: &Global, c: &CatalogArgs, taken_at: std::time::SystemTime) -> anyhow::Result<()> {
    let ms = taken_at.duration_since(std::time::UNIX_EPOCH).context("a time before 1970")?.as_millis() as i64;
    open(c).await?.mark_restored(ms).await?;
    emit(g.json, &serde_json::json!({"restored_from": ms}), |_| {
        println!(
            "marked as restored from a backup taken at {}: start the server; it reports the shards remotes hold that \
             it does not know (pyxis admin health), and tells clients",
            crate::output::when(ms)
        )
    });
    Ok(())
}
