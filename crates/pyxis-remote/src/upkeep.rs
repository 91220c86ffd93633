//! The remote's own upkeep, reported to the server:
//!
//! * **scrub**: every `scrub_every`, re-read and re-hash every shard (in disk
//!   order, one pass at a time) and report the corrupt ones, which the store
//!   has already dropped, so the server rebuilds them elsewhere;
//! * **inventory**: every `inventory_every`, send the list of held shards in
//!   batches. The server answers which it recorded as collected here and
//!   which it has no record of. Only collected shards are deleted, and only
//!   if the server still says so after `inventory_grace` (a repair stores a
//!   shard a moment before the catalog records it). Unknown shards are kept
//!   aside in quarantine, never deleted on that evidence (see
//!   [`crate::quarantine`]). However many deletions the answers allow, one
//!   pass deletes at most [`MAX_DELETE_SHARE`] of the store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyxis_proto::ShardHash;
use pyxis_proto::api::remote::{InventoryRequest, InventoryResponse, ReportRequest};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::error::UpkeepError;
use crate::identity::Registration;
use crate::link::ServerLink;
use crate::quarantine::Quarantine;
use crate::store::Store;

/// Hashes per inventory request (the server's limit is 10,000).
const BATCH: usize = 5000;
/// The most of a store one reconciliation pass deletes, so that no answer,
/// honest or not, can empty a remote at once.
pub const MAX_DELETE_SHARE: f64 = 0.10;

#[derive(Debug, Clone)]
pub struct UpkeepConfig {
    pub dir: PathBuf,
    pub scrub_every: Duration,
    pub inventory_every: Duration,
    pub inventory_grace: Duration,
    /// Quarantined shards are kept at least this long (default 7 days).
    pub quarantine_keep: Duration,
}

/// What the upkeep tasks share.
#[derive(Debug, Clone)]
pub struct Upkeep {
    pub cfg: UpkeepConfig,
    pub link: ServerLink,
    pub store: Store,
    pub registration: Arc<Registration>,
    pub quarantine: Arc<Quarantine>,
}

/// What one reconciliation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Collected shards deleted.
    pub deleted: usize,
    /// Collected shards left for a later pass (over the per-pass share).
    pub deferred: usize,
    /// Shards in quarantine after the pass.
    pub quarantined: usize,
    /// Quarantined shards deleted after the operator's release.
    pub released: usize,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl Upkeep {
    fn route(&self, what: &str) -> Result<String, UpkeepError> {
        let id = self.registration.get().ok_or(UpkeepError::NotRegistered)?.remote_id;
        Ok(format!("/v1/remotes/{id}/{what}"))
    }

    /// One scrub pass; returns how many corrupt shards were reported.
    pub async fn scrub(&self) -> Result<usize, UpkeepError> {
        let report = self.store.scrub().await?;
        if !report.corrupt.is_empty() {
            warn!(corrupt = report.corrupt.len(), checked = report.checked, "scrub found corrupt shards");
            for batch in report.corrupt.chunks(BATCH) {
                self.link.post(&self.route("report")?, &ReportRequest { corrupt: batch.to_vec() }).await?;
            }
        }
        Ok(report.corrupt.len())
    }

    async fn ask(&self, hashes: &[ShardHash]) -> Result<InventoryResponse, UpkeepError> {
        let mut all = InventoryResponse { collected: Vec::new(), unknown: Vec::new(), adopted: 0 };
        for batch in hashes.chunks(BATCH) {
            let r: InventoryResponse =
                self.link.call(&self.route("inventory")?, &InventoryRequest { hashes: batch.to_vec() }).await?;
            all.collected.extend(r.collected);
            all.unknown.extend(r.unknown);
            all.adopted += r.adopted;
        }
        Ok(all)
    }

    /// One reconciliation of the inventory with the server.
    pub async fn reconcile(&self) -> Result<Reconciled, UpkeepError> {
        let held = self.store.list();
        let first = self.ask(&held).await?;
        self.quarantine.update(&first.unknown, now_ms()).map_err(UpkeepError::Quarantine)?;
        let mut out = Reconciled { quarantined: first.unknown.len(), ..Default::default() };
        if !first.unknown.is_empty() {
            warn!(
                shards = first.unknown.len(),
                "the server has no record of these shards here; they are kept aside in quarantine, not deleted"
            );
        }
        let mut budget = ((held.len() as f64 * MAX_DELETE_SHARE).floor() as usize).max(1);
        if !first.collected.is_empty() {
            tokio::time::sleep(self.cfg.inventory_grace).await;
            let confirmed = self.ask(&first.collected).await?.collected;
            let (now, later) = confirmed.split_at(confirmed.len().min(budget));
            for h in now {
                self.store.delete(h).await?;
            }
            budget -= now.len();
            (out.deleted, out.deferred) = (now.len(), later.len());
            if !now.is_empty() {
                info!(deleted = now.len(), deferred = later.len(), "deleted shards the server collected");
            }
        }
        // Quarantined shards the operator released, kept long enough, and
        // still unknown to the server right now.
        let releasable = self.quarantine.releasable(self.cfg.quarantine_keep.as_millis() as i64, now_ms());
        if !releasable.is_empty() && budget > 0 {
            let still_unknown = self.ask(&releasable).await?.unknown;
            let gone: Vec<ShardHash> = still_unknown.into_iter().take(budget).collect();
            for h in &gone {
                self.store.delete(h).await?;
            }
            self.quarantine.remove(&gone).map_err(UpkeepError::Quarantine)?;
            out.released = gone.len();
            out.quarantined -= gone.len().min(out.quarantined);
            warn!(deleted = gone.len(), "deleted quarantined shards the operator released");
        }
        Ok(out)
    }

    /// Runs both on their schedules until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut scrub_due = tokio::time::Instant::now() + self.cfg.scrub_every;
        let mut inventory_due = tokio::time::Instant::now() + self.cfg.inventory_every;
        loop {
            let next = scrub_due.min(inventory_due);
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let now = tokio::time::Instant::now();
            if now >= scrub_due {
                if let Err(e) = self.scrub().await {
                    warn!(error = %e, "scrub failed; will retry");
                }
                scrub_due = tokio::time::Instant::now() + self.cfg.scrub_every;
            }
            if now >= inventory_due {
                if let Err(e) = self.reconcile().await {
                    warn!(error = %e, "inventory reconciliation failed; will retry");
                }
                inventory_due = tokio::time::Instant::now() + self.cfg.inventory_every;
            }
        }
    }
}
