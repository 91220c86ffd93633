//! `trash`, `forget` and `quota`: what history keeps, and letting it go.

use std::time::Duration;

use anyhow::bail;
use pyxis_proto::api::history::{ForgetRequest, RetentionInfo, TrashEmptyRequest, Usage};
use pyxis_proto::retention::Retention;

use super::{Global, catalog_path};
use crate::output::{emit, shown, size, when};

#[derive(Debug, clap::Subcommand)]
pub enum TrashCommand {
    /// List removed files (under PATH) [the default].
    List(TrashListArgs),
    /// Put a removed file back, where it was or at --to.
    Restore(TrashRestoreArgs),
    /// Delete from the trash for good.
    Empty(TrashEmptyArgs),
}

#[derive(Debug, clap::Args)]
pub struct TrashListArgs {
    #[arg(value_parser = catalog_path)]
    pub path: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TrashRestoreArgs {
    /// The path it had.
    #[arg(value_parser = catalog_path)]
    pub path: String,
    /// Which removal of PATH (the ID `pyxis trash` shows) [default: the newest].
    #[arg(long)]
    pub id: Option<i64>,
    /// Put it here instead.
    #[arg(long, value_parser = catalog_path)]
    pub to: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TrashEmptyArgs {
    /// Only what was removed from under this path.
    #[arg(value_parser = catalog_path, conflicts_with = "all")]
    pub path: Option<String>,
    /// Only these items (IDs from `pyxis trash`).
    #[arg(long = "id", conflicts_with_all = ["path", "all"])]
    pub ids: Vec<i64>,
    /// Everything in the trash.
    #[arg(long)]
    pub all: bool,
}

/// restic's `forget --keep-*` rules, for each file's versions.
#[derive(Debug, clap::Args)]
pub struct ForgetArgs {
    /// Only files under this path [default: all, the trash included].
    #[arg(value_parser = catalog_path)]
    pub path: Option<String>,
    /// Keep the newest N versions.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<u32>,
    /// Keep the newest version of each of the last N hours that have one.
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<u32>,
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<u32>,
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<u32>,
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<u32>,
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<u32>,
    /// Keep every version younger than this (e.g. 30d, 2w, 1y).
    #[arg(long, value_name = "SPAN", value_parser = humantime::parse_duration)]
    pub keep_within: Option<Duration>,
    /// Keep the newest version of each hour within this span.
    #[arg(long, value_name = "SPAN", value_parser = humantime::parse_duration)]
    pub keep_within_hourly: Option<Duration>,
    #[arg(long, value_name = "SPAN", value_parser = humantime::parse_duration)]
    pub keep_within_daily: Option<Duration>,
    #[arg(long, value_name = "SPAN", value_parser = humantime::parse_duration)]
    pub keep_within_weekly: Option<Duration>,
    #[arg(long, value_name = "SPAN", value_parser = humantime::parse_duration)]
    pub keep_within_monthly: Option<Duration>,
    #[arg(long, value_name = "SPAN", value_parser = humantime::parse_duration)]
    pub keep_within_yearly: Option<Duration>,
    /// Only show what would be forgotten.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Also make these rules the account's policy, which the server applies
    /// to history and the trash from now on.
    #[arg(long, conflicts_with = "reset_policy")]
    pub save: bool,
    /// Make the account's policy the default again (everything for 30 days,
    /// then one a day for a year), and apply it.
    #[arg(long)]
    pub reset_policy: bool,
}

impl ForgetArgs {
    fn policy(&self) -> Option<Retention> {
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs());
        let p = Retention {
            keep_last: self.keep_last,
            keep_hourly: self.keep_hourly,
            keep_daily: self.keep_daily,
            keep_weekly: self.keep_weekly,
            keep_monthly: self.keep_monthly,
            keep_yearly: self.keep_yearly,
            keep_within: secs(self.keep_within),
            keep_within_hourly: secs(self.keep_within_hourly),
            keep_within_daily: secs(self.keep_within_daily),
            keep_within_weekly: secs(self.keep_within_weekly),
            keep_within_monthly: secs(self.keep_within_monthly),
            keep_within_yearly: secs(self.keep_within_yearly),
        };
        (!p.is_empty()).then_some(p)
    }
}

pub async fn trash(g: &Global, cmd: Option<TrashCommand>) -> anyhow::Result<()> {
    let c = g.client()?;
    match cmd.unwrap_or(TrashCommand::List(TrashListArgs { path: None })) {
        TrashCommand::List(a) => {
            let items = c.trash(a.path.as_deref()).await?;
            emit(g.json, &items, |items| {
                if items.is_empty() {
                    println!("the trash is empty");
                }
                for i in items {
                    println!(
                        "{:>8}  {:>10}  removed {}  kept until {}  {} version(s)  {}",
                        i.id,
                        size(i.entry.size),
                        when(i.removed_at),
                        when(i.expires_at),
                        i.versions,
                        shown(&i.entry.path)
                    );
                }
            });
        }
        TrashCommand::Restore(a) => {
            let e = c.restore_from_trash(&a.path, a.id, a.to.as_deref()).await?;
            emit(g.json, &e, |e| println!("{} is back (version {})", shown(&e.path), e.version.unwrap_or(0)));
        }
        TrashCommand::Empty(a) => {
            if a.path.is_none() && a.ids.is_empty() && !a.all {
                bail!("say what to delete for good: a PATH, --id N, or --all");
            }
            let path = a.path.map(|p| pyxis_proto::path::normalize_existing(&p)).transpose()?;
            let r = c.api().trash_empty(&TrashEmptyRequest { ids: a.ids, path }).await?;
            emit(g.json, &r, |r| println!("deleted {} files ({} versions) for good", r.files, r.versions));
        }
    }
    Ok(())
}

pub async fn forget(g: &Global, a: ForgetArgs) -> anyhow::Result<()> {
    let c = g.client()?;
    let given = a.policy();
    if a.save && given.is_none() {
        bail!("--save needs at least one --keep-* rule");
    }
    if a.reset_policy && given.is_some() {
        bail!("--reset-policy applies the default: give no --keep-* rule with it");
    }
    if !a.dry_run && (a.save || a.reset_policy) {
        let info = RetentionInfo { policy: given.clone(), default: a.reset_policy };
        c.api().set_retention(&info).await?;
    }
    let path = a.path.as_deref().map(pyxis_proto::path::normalize_existing).transpose()?;
    let r = c.api().forget(&ForgetRequest { path, policy: given, dry_run: a.dry_run }).await?;
    emit(g.json, &r, |r| {
        for v in &r.forgotten {
            let trashed = if v.trashed { " (in the trash)" } else { "" };
            println!(
                "  v{:<4} {:>10}  stored {}  {}{trashed}",
                v.version,
                size(v.size),
                when(v.created_at),
                shown(&v.path)
            );
        }
        let verb = if a.dry_run { "would forget" } else { "forgot" };
        let more = if r.truncated { " (list cut short)" } else { "" };
        println!("{verb} {} versions{more}; {} kept", r.forgotten.len(), r.kept);
    });
    Ok(())
}

/// A span as people say it: whole days as days (humantime would print a
/// year of days as "11months 30days 3h 50m 24s").
fn span(secs: u64) -> String {
    match secs {
        0 => "0 s".into(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s => humantime::format_duration(Duration::from_secs(s)).to_string(),
    }
}

fn describe(p: &Retention) -> String {
    let mut parts = Vec::new();
    let counts = [
        ("last", p.keep_last),
        ("hourly", p.keep_hourly),
        ("daily", p.keep_daily),
        ("weekly", p.keep_weekly),
        ("monthly", p.keep_monthly),
        ("yearly", p.keep_yearly),
    ];
    for (name, n) in counts {
        if let Some(n) = n {
            parts.push(format!("{name} {n}"));
        }
    }
    let spans = [
        ("all within", p.keep_within),
        ("hourly within", p.keep_within_hourly),
        ("daily within", p.keep_within_daily),
        ("weekly within", p.keep_within_weekly),
        ("monthly within", p.keep_within_monthly),
        ("yearly within", p.keep_within_yearly),
    ];
    for (name, s) in spans {
        if let Some(s) = s {
            parts.push(format!("{name} {}", span(s)));
        }
    }
    parts.join(", ")
}

pub async fn quota(g: &Global) -> anyhow::Result<()> {
    let u = g.client()?.api().usage().await?;
    emit(g.json, &u, |u: &Usage| {
        let pct = if u.quota == 0 { 0.0 } else { 100.0 * u.used as f64 / u.quota as f64 };
        println!("{} of {} used ({pct:.1} %)", size(u.used), size(u.quota));
        println!("The quota counts everything kept, deduplicated and compressed:");
        println!("  files          {:>8}  {:>10}", u.files, size(u.file_bytes));
        println!("  older versions {:>8}  {:>10}", u.old_versions, size(u.old_version_bytes));
        println!("  in the trash   {:>8}  {:>10}", u.trashed_files, size(u.trashed_bytes));
        println!("(sizes before deduplication and compression)");
        println!("History kept: {}; the trash for {}.", describe(&u.policy), span((u.policy.trash_ms() / 1000) as u64));
        println!("`pyxis forget` and `pyxis trash empty` free space now.");
    });
    Ok(())
}
