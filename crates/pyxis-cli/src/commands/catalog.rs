//! `ls`, `rm`, `mv`, `mkdir`, `stat`, `versions`, `restore`.
//!
//! Paths are printed through `output::shown`: a name stored before the
//! catalog refused bidirectional and invisible characters may hold them, and
//! printed raw they would reorder or hide what a person reads.

use pyxis_proto::api::catalog::{Entry, EntryKind};

use super::{Global, catalog_path};
use crate::output::{emit, shown, size, when};

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// List everything below, not just one level.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Directory or file [default: /].
    #[arg(value_parser = catalog_path)]
    pub path: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Remove a directory and everything in it.
    #[arg(short, long)]
    pub recursive: bool,
    /// Delete for good instead of moving files to the trash.
    #[arg(long)]
    pub permanently: bool,
    #[arg(value_parser = catalog_path)]
    pub path: String,
}

#[derive(Debug, clap::Args)]
pub struct MvArgs {
    #[arg(value_parser = catalog_path)]
    pub from: String,
    #[arg(value_parser = catalog_path)]
    pub to: String,
}

#[derive(Debug, clap::Args)]
pub struct MkdirArgs {
    /// Create missing parents; no error if it exists.
    #[arg(short, long)]
    pub parents: bool,
    #[arg(value_parser = catalog_path)]
    pub path: String,
}

#[derive(Debug, clap::Args)]
pub struct PathArg {
    #[arg(value_parser = catalog_path)]
    pub path: String,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[arg(value_parser = catalog_path)]
    pub path: String,
    /// The version to make current again.
    #[arg(long)]
    pub version: i64,
}

fn line(e: &Entry) {
    lines(std::slice::from_ref(e));
}

/// Entries, one a line, through one buffer: stdout writes each line at
/// once otherwise, and a listing of 10,000 entries spent most of its time
/// in 10,000 writes. A closed pipe (`pyxis ls | head`) ends it quietly:
/// false once stdout is gone.
fn lines(entries: &[Entry]) -> bool {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    for e in entries {
        let written = match e.kind {
            EntryKind::Dir => writeln!(out, "d {:>10}  {:<20}  {}/", "-", "-", shown(e.path.trim_end_matches('/'))),
            EntryKind::File => writeln!(out, "f {:>10}  {:<20}  {}", size(e.size), when(e.mtime), shown(&e.path)),
        };
        if written.is_err() {
            return false;
        }
    }
    out.flush().is_ok()
}

pub async fn ls(g: &Global, a: LsArgs) -> anyhow::Result<()> {
    let c = g.client()?;
    let path = a.path.unwrap_or_else(|| "/".into());
    // An entry whose binding fails is not shown as if it were there.
    if g.json {
        let (entries, refused) = c.list(&path, a.recursive).await?;
        emit(true, &serde_json::json!({ "entries": entries, "refused": refused }), |_| ());
        return refuse(&refused);
    }
    // A page is printed as soon as it is checked, so an `ls -R` of a
    // large tree neither waits for nor holds all of it.
    let mut refused = Vec::new();
    c.list_pages(&path, a.recursive, |shown, r| {
        refused.extend(r);
        lines(&shown)
    })
    .await?;
    refuse(&refused)
}

/// Fails a listing command that refused entries, naming the first.
fn refuse(refused: &[(String, String)]) -> anyhow::Result<()> {
    for (_, why) in refused {
        crate::output::say(format_args!("{why}"));
    }
    match refused.first() {
        Some((path, _)) => anyhow::bail!("{} entries refused; first: {}", refused.len(), shown(path)),
        None => Ok(()),
    }
}

pub async fn rm(g: &Global, a: RmArgs) -> anyhow::Result<()> {
    let r = g.client()?.remove_with(&a.path, a.recursive, a.permanently).await?;
    emit(g.json, &r, |r| {
        if a.permanently {
            println!("deleted {} files and {} directories for good", r.files, r.dirs)
        } else {
            println!(
                "moved {} files to the trash and removed {} directories (`pyxis trash` lists them)",
                r.files, r.dirs
            )
        }
    });
    Ok(())
}

pub async fn mv(g: &Global, a: MvArgs) -> anyhow::Result<()> {
    let e = g.client()?.rename(&a.from, &a.to).await?;
    emit(g.json, &e, line);
    Ok(())
}

pub async fn mkdir(g: &Global, a: MkdirArgs) -> anyhow::Result<()> {
    let e = g.client()?.api().mkdir(&a.path, a.parents).await?;
    emit(g.json, &e, line);
    Ok(())
}

pub async fn stat(g: &Global, a: PathArg) -> anyhow::Result<()> {
    let e = g.client()?.stat(&a.path).await?;
    emit(g.json, &e, |e| {
        println!("path:     {}", shown(&e.path));
        println!("kind:     {:?}", e.kind);
        if e.kind == EntryKind::File {
            println!("size:     {} ({} bytes)", size(e.size), e.size);
            println!("modified: {}", when(e.mtime));
            println!("version:  {}", e.version.unwrap_or(0));
            println!("content:  {}", e.content_hash.as_deref().unwrap_or("-"));
        }
    });
    Ok(())
}

pub async fn versions(g: &Global, a: PathArg) -> anyhow::Result<()> {
    let v = g.client()?.versions(&a.path).await?;
    emit(g.json, &v, |v| {
        for x in &v.versions {
            let mark = if x.version == v.current { "*" } else { " " };
            println!(
                "{mark} v{:<4} {:>10}  modified {}  stored {}",
                x.version,
                size(x.size),
                when(x.mtime),
                when(x.created_at)
            );
        }
    });
    Ok(())
}

pub async fn restore(g: &Global, a: RestoreArgs) -> anyhow::Result<()> {
    let e = g.client()?.restore(&a.path, a.version).await?;
    emit(g.json, &e, |e| {
        println!("{} is now version {} (a copy of version {})", shown(&e.path), e.version.unwrap_or(0), a.version)
    });
    Ok(())
}
