//! `put SRC [DST]`.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::{Global, catalog_path};
use crate::output::{emit, progress_bar, shown, size};

#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// A local file or directory.
    pub src: PathBuf,
    /// Where in the catalog [default: /NAME]. An existing directory receives
    /// the file inside it.
    #[arg(value_parser = catalog_path)]
    pub dst: Option<String>,
    /// Read every file, even those whose size and mtime match the catalog
    /// (by default they are skipped unread, as rsync does).
    #[arg(short = 'c', long)]
    pub checksum: bool,
}

pub async fn run(g: &Global, a: PutArgs) -> anyhow::Result<()> {
    let client = g.client()?;
    let dst = match a.dst {
        Some(d) => d,
        None => {
            let name = a.src.canonicalize().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            let dst = format!("/{}", name.context("give a destination path: the source has no name")?);
            pyxis_proto::path::normalize_local(&dst)
                .context("the source's name cannot be a catalog name: give a destination path")?
        }
    };
    let bar = progress_bar(client.progress(), g.json, "put");
    let report = client.put_with(&a.src, &dst, pyxis_client::PutOptions { checksum: a.checksum }).await?;
    drop(bar);
    emit(g.json, &report, |r| {
        if r.reduced {
            crate::output::say(format_args!(
                "warning: redundancy is reduced (scheme {}): start more remotes to survive two losses",
                r.scheme
            ));
        }
        for s in &r.skipped {
            crate::output::say(format_args!("skipped {}: {}", shown(&s.path), s.error));
        }
        for f in &r.failed {
            crate::output::say(format_args!("failed {}: {}", shown(&f.path), f.error));
        }
        println!(
            "put {} files ({} unchanged, {} dirs): read {}, new {} (sent {} with parity, scheme {}), deduplicated {}",
            r.files,
            r.unchanged,
            r.dirs,
            size(r.totals.done),
            size(r.totals.new),
            size(r.totals.wire),
            r.scheme,
            size(r.totals.dedup)
        );
    });
    if !report.failed.is_empty() {
        bail!(
            "{} of {} files failed; first: {}: {}",
            report.failed.len(),
            report.totals.files_total,
            shown(&report.failed[0].path),
            report.failed[0].error
        );
    }
    Ok(())
}
