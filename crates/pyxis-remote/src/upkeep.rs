//! The remote's own upkeep, reported to the server:
//!
//! * **scrub**: every `scrub_every`, re-read and re-hash every shard (in disk
//!   order, one pass at a time) and report the corrupt ones, which the store
//!   has already dropped, so the server rebuilds them elsewhere;
//! * **inventory**: every `inventory_every`, send the list of held shards in
//!   batches; the server answers with those it does not place here (orphans
//!   of interrupted repairs or uploads). They are deleted only if the server
//!   still says so after `inventory_grace`, because a repair stores a shard a
//!   moment before the catalog records it.

use std::path::PathBuf;
use std::time::Duration;

use pyxis_proto::ShardHash;
use pyxis_proto::api::remote::{InventoryRequest, InventoryResponse, ReportRequest};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::identity;
use crate::store::Store;

/// Hashes per inventory request (the server's limit is 10,000).
const BATCH: usize = 5000;

#[derive(Debug, Clone)]
pub struct UpkeepConfig {
    pub server: String,
    pub dir: PathBuf,
    pub scrub_every: Duration,
    pub inventory_every: Duration,
    pub inventory_grace: Duration,
}

async fn post<B: serde::Serialize>(
    client: &reqwest::Client,
    cfg: &UpkeepConfig,
    route: &str,
    body: &B,
) -> anyhow::Result<reqwest::Response> {
    let id = identity::load(&cfg.dir)?
        .filter(|i| i.server == cfg.server)
        .ok_or_else(|| anyhow::anyhow!("not registered yet"))?;
    let resp = client
        .post(format!("{}/v1/remotes/{}/{route}", cfg.server, id.remote_id))
        .bearer_auth(&id.token)
        .json(body)
        .send()
        .await?;
    if !resp.status().is_success() {
        anyhow::bail!("server answered {} to {route}", resp.status());
    }
    Ok(resp)
}

/// One scrub pass; returns how many corrupt shards were reported.
pub async fn scrub(client: &reqwest::Client, cfg: &UpkeepConfig, store: &Store) -> anyhow::Result<usize> {
    let report = store.scrub().await?;
    if !report.corrupt.is_empty() {
        warn!(corrupt = report.corrupt.len(), checked = report.checked, "scrub found corrupt shards");
        for batch in report.corrupt.chunks(BATCH) {
            post(client, cfg, "report", &ReportRequest { corrupt: batch.to_vec() }).await?;
        }
    }
    Ok(report.corrupt.len())
}

async fn unwanted(
    client: &reqwest::Client,
    cfg: &UpkeepConfig,
    hashes: &[ShardHash],
) -> anyhow::Result<Vec<ShardHash>> {
    let mut out = Vec::new();
    for batch in hashes.chunks(BATCH) {
        let resp: InventoryResponse =
            post(client, cfg, "inventory", &InventoryRequest { hashes: batch.to_vec() }).await?.json().await?;
        out.extend(resp.unwanted);
    }
    Ok(out)
}

/// One reconciliation; returns how many orphans were deleted.
pub async fn reconcile(client: &reqwest::Client, cfg: &UpkeepConfig, store: &Store) -> anyhow::Result<usize> {
    let first = unwanted(client, cfg, &store.list()).await?;
    if first.is_empty() {
        return Ok(0);
    }
    tokio::time::sleep(cfg.inventory_grace).await;
    let confirmed = unwanted(client, cfg, &first).await?;
    for h in &confirmed {
        store.delete(h).await?;
    }
    if !confirmed.is_empty() {
        info!(deleted = confirmed.len(), "deleted shards the server does not place here");
    }
    Ok(confirmed.len())
}

/// Runs both on their schedules until shutdown.
pub async fn run(cfg: UpkeepConfig, client: reqwest::Client, store: Store, mut shutdown: watch::Receiver<bool>) {
    let mut scrub_due = tokio::time::Instant::now() + cfg.scrub_every;
    let mut inventory_due = tokio::time::Instant::now() + cfg.inventory_every;
    loop {
        let next = scrub_due.min(inventory_due);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let now = tokio::time::Instant::now();
        if now >= scrub_due {
            if let Err(e) = scrub(&client, &cfg, &store).await {
                warn!(error = %e, "scrub failed; will retry");
            }
            scrub_due = tokio::time::Instant::now() + cfg.scrub_every;
        }
        if now >= inventory_due {
            if let Err(e) = reconcile(&client, &cfg, &store).await {
                warn!(error = %e, "inventory reconciliation failed; will retry");
            }
            inventory_due = tokio::time::Instant::now() + cfg.inventory_every;
        }
    }
}
