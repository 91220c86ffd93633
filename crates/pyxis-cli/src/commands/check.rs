//! `pyxis check [PATH] [--read-data]`, `pyxis upgrade`, `pyxis accept-rollback`.

use anyhow::bail;

use super::{Global, catalog_path};
use crate::output::{emit, shown, size};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Where to start [default: the whole catalog].
    #[arg(value_parser = catalog_path, default_value = "/")]
    pub path: String,
    /// Also fetch and decode every chunk (reads the whole catalog's data).
    #[arg(long)]
    pub read_data: bool,
}

pub async fn run(g: &Global, a: CheckArgs) -> anyhow::Result<()> {
    let report = g.client()?.check(&a.path, a.read_data).await?;
    emit(g.json, &report, |r| {
        for p in &r.problems {
            crate::output::say(format_args!("problem {}: {}", shown(&p.path), p.error));
        }
        let read = if a.read_data {
            format!(", read back {} in {} chunks", size(r.bytes_read), r.chunks_read)
        } else {
            String::new()
        };
        println!(
            "checked {} files and {} chunks{read}: {}",
            r.files,
            r.chunks,
            if r.ok() { "no problems" } else { "PROBLEMS" }
        );
    });
    if !report.ok() {
        bail!(
            "{} problems; first: {}: {}",
            report.problems.len(),
            shown(&report.problems[0].path),
            report.problems[0].error
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct UpgradeArgs {
    /// Where to start [default: the whole catalog].
    #[arg(value_parser = catalog_path, default_value = "/")]
    pub path: String,
}

pub async fn upgrade(g: &Global, a: UpgradeArgs) -> anyhow::Result<()> {
    let report = g.client()?.upgrade(&a.path).await?;
    emit(g.json, &report, |r| {
        for p in &r.problems {
            crate::output::say(format_args!("{}: {}", shown(&p.path), p.error));
        }
        println!(
            "bound {} files ({} were bound already); {} left unbound{}",
            r.bound,
            r.already,
            r.remaining,
            if r.remaining == 0 && a.path == "/" { ": unbound versions are refused from now on" } else { "" }
        );
    });
    if report.remaining > 0 {
        bail!("{} files are still unbound", report.remaining);
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct AcceptRollbackArgs {
    /// Only under this path [default: everywhere].
    #[arg(value_parser = catalog_path)]
    pub path: Option<String>,
}

pub fn accept_rollback(g: &Global, a: AcceptRollbackArgs) -> anyhow::Result<()> {
    g.client()?.accept_rollback(a.path.as_deref())?;
    emit(g.json, &serde_json::json!({ "forgotten": true }), |_| {
        println!("forgot the versions this device had seen; the server's catalog is accepted as it is now")
    });
    Ok(())
}
