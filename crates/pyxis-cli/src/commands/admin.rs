//! `pyxis admin ...`: operator commands, authenticated by the admin token.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use pyxis_client::Api;
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
    Ok(Api::new(&server, pyxis_client::api::http_client()).with_token(&token))
}

pub async fn run(g: &Global, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Quota { user, size: quota, auth } => {
            api(g, &auth)?.admin_quota(&user, quota.0).await?;
            emit(g.json, &serde_json::json!({"username": user, "quota": quota.0}), |_| {
                println!("{user}'s quota is now {quota}")
            });
        }
        AdminCommand::Remotes { auth } => {
            let r = api(g, &auth)?.admin_remotes().await?;
            emit(g.json, &r, |r| {
                for x in &r.remotes {
                    println!(
                        "{:>4}  {:<8} {:<28} {:>10} free of {:>10}  {:>8} shards  {}",
                        x.id,
                        x.state,
                        x.url,
                        size(x.free),
                        size(x.capacity),
                        x.shards,
                        x.name
                    );
                }
            });
        }
        AdminCommand::Health { auth } => {
            let h = api(g, &auth)?.admin_health().await?;
            emit(g.json, &h, |h| {
                println!("remotes: {} online, {} not", h.remotes_online, h.remotes_other);
                println!("chunks by healthy shards:");
                for b in &h.chunks {
                    println!("  {:>3} of {:<3} {:>10} chunks {:>12}", b.healthy, b.total, b.chunks, size(b.bytes));
                }
                println!("degraded chunks (repair queue): {}", h.degraded);
                println!("bytes at risk (at most k healthy): {}", size(h.bytes_at_risk));
                println!("garbage shards to delete: {}", h.garbage);
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
