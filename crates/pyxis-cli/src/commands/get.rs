//! `get SRC [DST]`.

use std::path::PathBuf;

use anyhow::bail;

use super::{Global, catalog_path};
use crate::output::{emit, progress_bar, shown, size};

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// A catalog path (file or directory).
    #[arg(value_parser = catalog_path)]
    pub src: String,
    /// Local destination [default: its name in the current directory].
    pub dst: Option<PathBuf>,
    /// A file's version number (see `pyxis versions`).
    #[arg(long)]
    pub version: Option<i64>,
}

pub async fn run(g: &Global, a: GetArgs) -> anyhow::Result<()> {
    let client = g.client()?;
    // `@OWNER/PATH` (a share) lands under PATH's name too.
    let src = match pyxis_client::share::parse_shared(&a.src) {
        Some(shared) => shared?.1,
        None => pyxis_proto::path::normalize_existing(&a.src)?,
    };
    let dst = match a.dst {
        Some(d) if d.is_dir() && src != "/" => d.join(pyxis_proto::path::name(&src)),
        Some(d) => d,
        None if src == "/" => bail!("give a local destination for the whole catalog"),
        None => PathBuf::from(pyxis_proto::path::name(&src)),
    };
    let bar = progress_bar(client.progress(), g.json, "get");
    let report = client.get(&a.src, &dst, a.version).await?;
    drop(bar);
    emit(g.json, &report, |r| {
        for f in &r.failed {
            crate::output::say(format_args!("failed {}: {}", shown(&f.path), f.error));
        }
        println!("got {} files ({}) into {}", r.files, size(r.totals.done), shown(&dst.display().to_string()));
    });
    legacy_hint(client.legacy_seen());
    if !report.failed.is_empty() {
        bail!(
            "{} files failed; first: {}: {}",
            report.failed.len(),
            shown(&report.failed[0].path),
            report.failed[0].error
        );
    }
    Ok(())
}

/// Versions written before bindings were accepted: say so, and what ends it.
pub fn legacy_hint(n: u64) {
    if n > 0 {
        crate::output::say(format_args!(
            "{n} versions were written before bindings and could not be checked; run `pyxis upgrade`"
        ));
    }
}
