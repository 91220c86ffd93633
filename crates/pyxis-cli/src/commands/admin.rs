//! `pyxis admin ...`: operator commands, authenticated by the admin token.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use pyxis_client::Api;
use pyxis_proto::api::admin::RemoteTokenRequest;
use pyxis_proto::size::ByteSize;

use super::Global;
use crate::output::{emit, size};

#[derive(Debug, clap::Args)]
pub struct AdminAuth {
    /// The admin token [default: read from DATA/admin-token].
    #[arg(long, env = "PYXIS_ADMIN_TOKEN")]
    pub token: Option<String>,
    /// The server's data directory, to read the admin token from.
    #[arg(long, default_value = "pyxis-data/server")]
    pub data: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set a user's quota.
    Quota {
        user: String,
        size: ByteSize,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// List the accounts with their use and state, or disable/enable one.
    Users {
        #[command(subcommand)]
        cmd: Option<UsersCommand>,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// List the remotes the server knows.
    Remotes {
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// Chunks by healthy shards, bytes at risk, the repair queue, worker counters.
    Health {
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// Move a remote's shards elsewhere so it can leave.
    Drain {
        /// The remote's id (see `pyxis admin remotes`).
        remote: i64,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// A single-use token that admits one remote (`pyxis remote --token`).
    RemoteToken {
        /// The most the remote may claim to offer (e.g. 2TiB) [default: no cap].
        #[arg(long)]
        capacity: Option<ByteSize>,
        /// Vouch for the remote: no vetting period (otherwise it holds at
        /// most ceil(m/2) shards of any chunk until it passes its audits).
        #[arg(long)]
        vetted: bool,
        /// How long the token stays valid.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// End a remote's admission: its key is refused, it gets no new shards or
    /// grants, and its shards are rebuilt elsewhere (nothing is deleted on it).
    Revoke {
        remote: i64,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// Vouch for a remote admitted unvetted.
    Vet {
        remote: i64,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// Let a remote delete the shards it keeps in quarantine (those this
    /// catalog has no record of), once it has kept them its minimum time.
    QuarantineRelease {
        remote: i64,
        #[command(flatten)]
        auth: AdminAuth,
    },
    /// Copy the catalog (its secrets included, mode 0600) while the server
    /// runs: a consistent SQLite snapshot. For PostgreSQL use pg_dump.
    Backup {
        /// The new file to write (it must not exist).
        dest: PathBuf,
        #[command(flatten)]
        catalog: super::backup::CatalogArgs,
    },
    /// Check a catalog (a live one, or a backup before trusting it): chunk
    /// reference counts, and every version's chunks stored with at least k
    /// shards on record. Exits 1 if anything is wrong.
    Check {
        #[command(flatten)]
        catalog: super::backup::CatalogArgs,
    },
    /// Record that this catalog was restored from a backup taken at TIME
    /// (after pg_restore; a copy from `pyxis admin backup` says it itself):
    /// the server then tells the operator and clients.
    MarkRestored {
        /// When the backup was taken (RFC 3339, e.g. 2026-11-30T02:00:00Z).
        #[arg(long, value_parser = humantime::parse_rfc3339_weak)]
        taken_at: std::time::SystemTime,
        #[command(flatten)]
        catalog: super::backup::CatalogArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// No login and no session for this account (ended at once); its data
    /// stays.
    Disable { user: String },
    /// Allow it again; also cancels its owner's deletion while the grace runs.
    Enable { user: String },
}

fn when(ms: Option<i64>) -> String {
    ms.map_or_else(String::new, crate::output::when)
}

fn api(g: &Global, auth: &AdminAuth) -> anyhow::Result<Api> {
    let token = match &auth.token {
        Some(t) => t.clone(),
        None => {
            let p = auth.data.join("admin-token");
            std::fs::read_to_string(&p)
                .with_context(|| format!("reading the admin token from {} (or pass --token)", p.display()))?
                .trim()
                .to_owned()
        }
    };
    let server = g.server.clone().unwrap_or_else(|| super::DEFAULT_SERVER.to_owned());
    Ok(Api::new(&server, pyxis_client::api::http_client(g.ca_pem()?.as_deref())?).with_token(&token))
}

pub async fn run(g: &Global, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Quota { user, size: quota, auth } => {
            api(g, &auth)?.admin_quota(&user, quota.0).await?;
            emit(g.json, &serde_json::json!({"username": user, "quota": quota.0}), |_| {
                println!("{user}'s quota is now {quota}")
            });
        }
        AdminCommand::Users { cmd: Some(cmd), auth } => set_disabled(g, cmd, &auth).await?,
        AdminCommand::Users { cmd: None, auth } => list_users(g, &auth).await?,
        AdminCommand::Remotes { auth } => list_remotes(g, &auth).await?,
        AdminCommand::Health { auth } => show_health(g, &auth).await?,
        AdminCommand::RemoteToken { capacity, vetted, ttl, auth } => {
            let req = RemoteTokenRequest { capacity: capacity.map(|c| c.0), vetted, ttl_secs: Some(ttl.as_secs()) };
            issue_remote_token(g, &req, &auth).await?
        }
        AdminCommand::Revoke { remote, auth } => {
            api(g, &auth)?.admin_revoke(remote).await?;
            emit(g.json, &serde_json::json!({"revoked": remote}), |_| {
                println!("remote {remote} is revoked: its key is refused and its shards are rebuilt elsewhere")
            });
        }
        AdminCommand::Vet { remote, auth } => {
            api(g, &auth)?.admin_vet(remote).await?;
            emit(g.json, &serde_json::json!({"vetted": remote}), |_| println!("remote {remote} is vetted"));
        }
        AdminCommand::Backup { dest, catalog } => super::backup::backup(g, &catalog, &dest).await?,
        AdminCommand::Check { catalog } => super::backup::check(g, &catalog).await?,
        AdminCommand::MarkRestored { taken_at, catalog } => super::backup::mark_restored(g, &catalog, taken_at).await?,
        AdminCommand::QuarantineRelease { remote, auth } => {
            api(g, &auth)?.admin_release_quarantine(remote).await?;
            emit(g.json, &serde_json::json!({"released": remote}), |_| {
                println!(
                    "remote {remote} may delete the shards it keeps in quarantine once it has kept them its minimum time \
                     (7 days unless its operator set --quarantine-keep)"
                )
            });
        }
        AdminCommand::Drain { remote, auth } => {
            api(g, &auth)?.admin_drain(remote).await?;
            emit(g.json, &serde_json::json!({"draining": remote}), |_| {
                println!(
                    "remote {remote} is draining: its shards move elsewhere; `pyxis admin remotes` shows when it is drained"
                )
            });
        }
    }
    Ok(())
}

/// `admin users disable|enable USER`.
async fn set_disabled(g: &Global, cmd: UsersCommand, auth: &AdminAuth) -> anyhow::Result<()> {
    let (user, disabled) = match cmd {
        UsersCommand::Disable { user } => (user, true),
        UsersCommand::Enable { user } => (user, false),
    };
    api(g, auth)?.admin_disable(&user, disabled).await?;
    emit(g.json, &serde_json::json!({"username": user, "disabled": disabled}), |_| {
        println!("{user} is {}", if disabled { "disabled; its sessions ended" } else { "enabled" })
    });
    Ok(())
}

/// `admin users`: every account, its usage and its state.
async fn list_users(g: &Global, auth: &AdminAuth) -> anyhow::Result<()> {
    let r = api(g, auth)?.admin_users().await?;
    emit(g.json, &r, |r| {
        for u in &r.users {
            let state = match (u.deleted_at, u.delete_after, u.disabled_at) {
                (Some(t), _, _) => format!("deleted {}", when(Some(t))),
                (_, Some(t), _) => format!("deleted by its owner; files go {}", when(Some(t))),
                (_, _, Some(t)) => format!("disabled {}", when(Some(t))),
                _ => "active".to_owned(),
            };
            println!(
                "{:>5}  {:<24} {:>10} of {:<10} since {}  {state}",
                u.id,
                crate::output::shown(&u.username),
                size(u.used),
                size(u.quota),
                when(Some(u.created_at))
            );
        }
    });
    Ok(())
}

/// `admin remotes`: every remote, its space, shards and trust.
async fn list_remotes(g: &Global, auth: &AdminAuth) -> anyhow::Result<()> {
    let r = api(g, auth)?.admin_remotes().await?;
    emit(g.json, &r, |r| {
        for x in &r.remotes {
            let trust = if x.vetted { "vetted".to_owned() } else { format!("unvetted ({} audits)", x.audits_passed) };
            let quarantine = match x.quarantined {
                0 => String::new(),
                n => format!("  {n} quarantined ({})", size(x.quarantined_bytes)),
            };
            println!(
                "{:>4}  {:<8} {:<28} {:>10} free of {:>10}  {:>8} shards  {}  {}{quarantine}",
                x.id,
                x.state,
                x.url,
                size(x.free),
                size(x.capacity),
                x.shards,
                trust,
                x.name
            );
        }
    });
    Ok(())
}

/// `admin health`: the remotes, chunk health, the queues and the workers' counters.
async fn show_health(g: &Global, auth: &AdminAuth) -> anyhow::Result<()> {
    let h = api(g, auth)?.admin_health().await?;
    emit(g.json, &h, |h| {
        println!("remotes: {} online, {} not", h.remotes_online, h.remotes_other);
        println!("chunks by healthy shards:");
        for b in &h.chunks {
            println!("  {:>3} of {:<3} {:>10} chunks {:>12}", b.healthy, b.total, b.chunks, size(b.bytes));
        }
        println!("degraded chunks (repair queue): {}", h.degraded);
        println!("bytes at risk (at most k healthy): {}", size(h.bytes_at_risk));
        println!("garbage shards to delete: {}", h.garbage);
        println!(
            "shards remotes hold that this catalog does not know (quarantined): {} ({})",
            h.quarantined,
            size(h.quarantined_bytes)
        );
        if let Some(at) = h.restored_from {
            println!("this catalog was restored from a backup taken at {}", crate::output::when(at));
        }
        let w = &h.workers;
        println!(
            "since start: {} chunks repaired ({} shards, {}), {} re-encoded, {} unrecoverable, audits {} passed / {} failed, {} chunks expired, {} garbage shards deleted",
            w.chunks_repaired,
            w.shards_rebuilt,
            size(w.repair_bytes),
            w.chunks_reencoded,
            w.unrecoverable,
            w.audits_passed,
            w.audits_failed,
            w.chunks_expired,
            w.garbage_deleted
        );
    });
    Ok(())
}

/// `admin remote-token`: prints a token that admits one remote.
async fn issue_remote_token(g: &Global, req: &RemoteTokenRequest, auth: &AdminAuth) -> anyhow::Result<()> {
    let t = api(g, auth)?.admin_remote_token(req).await?;
    emit(
        g.json,
        &serde_json::json!({"token": t.token, "expires_at": t.expires_at, "capacity": t.capacity, "vetted": t.vetted}),
        |_| {
            println!("{}", t.token);
            eprintln!(
                "admits one remote ({}, {}) until {}: pyxis remote --token TOKEN ... (or PYXIS_REMOTE_TOKEN)",
                if t.vetted { "vetted" } else { "unvetted" },
                t.capacity.map_or("no capacity cap".to_owned(), |c| format!("at most {}", size(c))),
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.expires_at.max(0) as u64)
                )
            );
        },
    );
    Ok(())
}
