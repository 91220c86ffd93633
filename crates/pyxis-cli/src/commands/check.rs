//! `pyxis check [PATH] [--read-data]`.

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
            eprintln!("pyxis: problem {}: {}", shown(&p.path), p.error);
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
