//! `share`, `unshare`, `shared`, `trust`: read access to a path for another
//! user, with their public key pinned on first use (docs/SECURITY.md,
//! "Sharing"). A grantee reads what is shared as `@OWNER/PATH` with `ls`,
//! `stat`, `versions` and `get`.

use pyxis_proto::api::shares::ShareMode;

use super::{Global, catalog_path};
use crate::output::{emit, shown, when};

#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    /// A file or directory of yours; a directory's share covers what is
    /// added to it later, and every new version.
    #[arg(value_parser = catalog_path)]
    pub path: String,
    /// Who may read it.
    pub user: String,
    /// Read only (the default).
    #[arg(long)]
    pub read: bool,
    /// Let USER change it too: put, mkdir, mv, rm and restore under PATH
    /// (they write as @YOU/PATH; what they upload counts against their quota).
    #[arg(long, conflicts_with = "read")]
    pub write: bool,
    /// The fingerprint USER gave you (`pyxis whoami --fingerprint`): the key
    /// the server hands out must match it.
    #[arg(long)]
    pub fingerprint: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct UnshareArgs {
    #[arg(value_parser = catalog_path)]
    pub path: String,
    pub user: String,
}

#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    pub user: String,
    /// The fingerprint USER gave you.
    pub fingerprint: String,
}

pub async fn share(g: &Global, a: ShareArgs) -> anyhow::Result<()> {
    let mode = if a.write { ShareMode::Write } else { ShareMode::Read };
    let r = g.client()?.share(&a.path, &a.user, mode, a.fingerprint.as_deref()).await?;
    emit(g.json, &r, |r| {
        for s in &r.skipped {
            crate::output::say(format_args!("not shared {}: {}", shown(&s.path), s.error));
        }
        let again = if r.existed { " (again)" } else { "" };
        println!("shared {} with {}{again}: {} versions readable", shown(&r.path), r.grantee, r.versions);
        if r.repacked > 0 {
            println!("stored {} small files again, apart from files you do not share with them", r.repacked);
        }
        if r.newly_pinned {
            println!(
                "pinned {}'s key, fingerprint {}: compare it with theirs (`pyxis whoami --fingerprint`)",
                r.grantee, r.fingerprint
            );
        }
    });
    if let Some(s) = r.skipped.first() {
        anyhow::bail!("{} files not shared; first: {}: {}", r.skipped.len(), shown(&s.path), s.error);
    }
    Ok(())
}

pub async fn unshare(g: &Global, a: UnshareArgs) -> anyhow::Result<()> {
    g.client()?.unshare(&a.path, &a.user).await?;
    emit(g.json, &serde_json::json!({ "path": a.path, "user": a.user }), |_| {
        println!("{} no longer shared with {}", shown(&a.path), a.user)
    });
    Ok(())
}

pub async fn shared(g: &Global) -> anyhow::Result<()> {
    let r = g.client()?.shares().await?;
    emit(g.json, &r, |r| {
        for s in &r.mine {
            let to = if s.mode == ShareMode::Write { "to read and write" } else { "to read" };
            println!("shared by you   {:<16} {}  with {} {to}", when(s.created_at), shown(&s.path), s.grantee);
        }
        for s in &r.with_me {
            let can = if s.mode == ShareMode::Write { " (read and write)" } else { "" };
            println!("shared with you {:<16} @{}{}{can}", when(s.created_at), s.owner, shown(&s.path));
        }
        if r.mine.is_empty() && r.with_me.is_empty() {
            println!("nothing shared");
        }
    });
    Ok(())
}

pub async fn trust(g: &Global, a: TrustArgs) -> anyhow::Result<()> {
    g.client()?.trust(&a.user, &a.fingerprint).await?;
    emit(g.json, &serde_json::json!({ "user": a.user, "fingerprint": a.fingerprint }), |_| {
        println!("pinned {}'s key {}", a.user, a.fingerprint)
    });
    Ok(())
}
