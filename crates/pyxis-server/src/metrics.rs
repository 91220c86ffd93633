//! The server's Prometheus metrics.
//!
//! Requests are counted as they are answered ([`HttpMetrics`]); the
//! workers' counters are read from [`workers::Stats`]; everything that
//! needs the catalog (remotes by state, chunks by healthy shards, bytes at
//! risk, quota use) is computed by [`refresh`] every worker interval and
//! only read at scrape time. A scrape therefore costs no query however big
//! the catalog is; the price is numbers up to one interval old, which
//! `pyxis_catalog_stats_age_seconds` states.
//!
//! The catalog numbers are the network's, the same on every server
//! instance of one catalog (aggregate them with `max`, not `sum`); requests,
//! worker counters and feed subscribers are this instance's.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::{Registry, Unit};
use pyxis_net::metrics::HttpMetrics;
use pyxis_net::metrics::emit::{counters, gauge, gauges};

use crate::db::remotes::{ONLINE, REVOKED, state_name};
use crate::workers::stats::Stats;

/// One remote, as the catalog has it.
#[derive(Debug)]
pub struct RemoteStat {
    pub id: i64,
    pub name: String,
    pub state: &'static str,
    /// Shards the catalog places there.
    pub shards: i64,
    /// What it last reported.
    pub used: i64,
    pub capacity: i64,
    pub free: i64,
    pub last_seen_ms: i64,
}

/// What the last refresh found in the catalog.
#[derive(Debug, Default)]
pub struct CatalogStats {
    pub remotes: Vec<RemoteStat>,
    /// (healthy shards, chunks)
    pub chunks_by_healthy: Vec<(i64, i64)>,
    pub chunks_at_risk: i64,
    pub bytes_at_risk: i64,
    pub repair_queue: i64,
    pub users: i64,
    pub quota_used: i64,
    pub quota_limit: i64,
    pub garbage: i64,
}

/// The registry and what it reads.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Arc<Registry>,
    pub http: HttpMetrics,
    catalog: Arc<RwLock<Option<(Instant, CatalogStats)>>>,
}

#[derive(Debug)]
struct ServerCollector {
    stats: Arc<Stats>,
    feed: tokio::sync::broadcast::Sender<i64>,
    catalog: Arc<RwLock<Option<(Instant, CatalogStats)>>>,
}

impl Metrics {
    pub fn new(
        stats: Arc<Stats>,
        feed: tokio::sync::broadcast::Sender<i64>,
        tls: Option<&pyxis_net::listen::TlsFiles>,
    ) -> Self {
        let mut reg = Registry::default();
        let http = HttpMetrics::register(&mut reg, "server");
        pyxis_net::metrics::register_cert_expiry(&mut reg, tls);
        let catalog = Arc::new(RwLock::new(None));
        reg.register_collector(Box::new(ServerCollector { stats, feed, catalog: catalog.clone() }));
        Self { registry: Arc::new(reg), http, catalog }
    }

    pub fn set_catalog(&self, s: CatalogStats) {
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), s));
    }

    pub fn render(&self) -> String {
        pyxis_net::metrics::render(&self.registry)
    }
}

const NET: &str = "(network-wide: the same on every instance)";

/// A metric's name (without unit), help, unit, and where its value comes from.
type Row<T> = (&'static str, &'static str, Option<Unit>, T);
/// Reads one number of a remote.
type OfRemote = fn(&RemoteStat) -> i64;

impl Collector for ServerCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.stats;
        let counts: [Row<&std::sync::atomic::AtomicU64>; 7] = [
            ("pyxis_repair_chunks", "Chunks repaired", None, &s.chunks_repaired),
            ("pyxis_repair_shards_rebuilt", "Shards rebuilt", None, &s.shards_rebuilt),
            ("pyxis_repair", "Bytes of shards repair wrote", Some(Unit::Bytes), &s.repair_bytes),
            ("pyxis_repair_reencoded_chunks", "Chunks re-encoded to the network's scheme", None, &s.chunks_reencoded),
            ("pyxis_repair_unrecoverable", "Chunks found with fewer than k shards", None, &s.unrecoverable),
            ("pyxis_chunks_expired", "Unreferenced chunks expired", None, &s.chunks_expired),
            ("pyxis_garbage_deleted_shards", "Garbage shards deleted from remotes", None, &s.garbage_deleted),
        ];
        for (name, help, unit, v) in counts {
            counters(&mut e, name, &format!("{help} by this instance."), unit, [(vec![], v.load(Relaxed))])?;
        }
        let audits = [("passed", &s.audits_passed), ("failed", &s.audits_failed)];
        let audits = audits.map(|(r, v)| (vec![("result", r.to_owned())], v.load(Relaxed)));
        counters(&mut e, "pyxis_audits", "Shard audits by this instance, by result.", None, audits)?;
        let leases = s.leases.lock().unwrap_or_else(|p| p.into_inner()).clone();
        gauges(
            &mut e,
            "pyxis_worker_lease_held",
            "1 if this instance holds the worker's lease (runs its passes), else 0.",
            None,
            leases.into_iter().map(|(w, held)| (vec![("worker", w.to_owned())], i64::from(held))),
        )?;
        gauge(
            &mut e,
            "pyxis_change_feed_subscribers",
            "Change-feed readers (long polls and WebSockets) waiting on this instance.",
            None,
            self.feed.receiver_count() as i64,
        )?;
        let guard = self.catalog.read().unwrap_or_else(|p| p.into_inner());
        let Some((at, c)) = guard.as_ref() else { return Ok(()) };
        gauge(
            &mut e,
            "pyxis_catalog_stats_age",
            "How old this instance's catalog numbers (the network-wide gauges) are.",
            Some(Unit::Seconds),
            at.elapsed().as_secs() as i64,
        )?;
        // Every state, so a state with no remote reads 0 rather than vanishing.
        let mut by_state: std::collections::BTreeMap<_, i64> =
            (ONLINE..=REVOKED).map(|st| (state_name(st), 0)).collect();
        for r in &c.remotes {
            *by_state.entry(r.state).or_default() += 1;
        }
        let by_state = by_state.into_iter().map(|(st, n)| (vec![("state", st.to_owned())], n));
        gauges(&mut e, "pyxis_remotes", &format!("Remotes by state {NET}."), None, by_state)?;
        let per_remote: [Row<OfRemote>; 5] = [
            ("pyxis_remote_shards", "Shards the catalog places on each remote", None, |r| r.shards),
            ("pyxis_remote_stored", "Bytes each remote reports it stores", Some(Unit::Bytes), |r| r.used),
            ("pyxis_remote_capacity", "Space each remote offers, as admitted", Some(Unit::Bytes), |r| r.capacity),
            ("pyxis_remote_free", "Free space each remote reports", Some(Unit::Bytes), |r| r.free),
            (
                "pyxis_remote_last_seen_timestamp",
                "When each remote last reached the server (Unix time)",
                Some(Unit::Seconds),
                |r| r.last_seen_ms / 1000,
            ),
        ];
        for (name, help, unit, f) in per_remote {
            let series = c.remotes.iter().map(|r| (vec![("remote", r.id.to_string()), ("name", r.name.clone())], f(r)));
            gauges(&mut e, name, &format!("{help} {NET}."), unit, series)?;
        }
        let by_healthy = c.chunks_by_healthy.iter().map(|&(h, n)| (vec![("healthy", h.to_string())], n));
        gauges(&mut e, "pyxis_chunks", &format!("Stored chunks by healthy shards {NET}."), None, by_healthy)?;
        let totals: [Row<i64>; 7] = [
            ("pyxis_chunks_at_risk", "Chunks with at most k healthy shards", None, c.chunks_at_risk),
            (
                "pyxis_chunks_at_risk",
                "Bytes of chunks with at most k healthy shards",
                Some(Unit::Bytes),
                c.bytes_at_risk,
            ),
            ("pyxis_repair_queue_chunks", "Chunks at or below their repair threshold", None, c.repair_queue),
            ("pyxis_garbage_shards", "Shards waiting to be deleted from remotes", None, c.garbage),
            ("pyxis_users", "Accounts", None, c.users),
            ("pyxis_quota_used", "Quota used by all accounts together", Some(Unit::Bytes), c.quota_used),
            ("pyxis_quota_limit", "Quota granted to all accounts together", Some(Unit::Bytes), c.quota_limit),
        ];
        for (name, help, unit, v) in totals {
            gauge(&mut e, name, &format!("{help} {NET}."), unit, v)?;
        }
        Ok(())
    }
}

/// Reads the catalog's numbers for the next scrapes.
pub async fn refresh(state: &crate::State) -> anyhow::Result<()> {
    let mut c = CatalogStats::default();
    for (r, shards) in state.db.all_remotes().await? {
        c.remotes.push(RemoteStat {
            id: r.id,
            name: r.name,
            state: state_name(r.state),
            shards,
            used: r.used,
            capacity: r.capacity,
            free: r.free,
            last_seen_ms: r.last_seen,
        });
    }
    let threshold = state.opts.durability.repair_threshold;
    let mut by_healthy = std::collections::BTreeMap::<i64, i64>::new();
    for (healthy, k, n, chunks, bytes) in state.db.health_by_scheme().await? {
        *by_healthy.entry(healthy).or_default() += chunks;
        if healthy <= k {
            c.chunks_at_risk += chunks;
            c.bytes_at_risk += bytes;
        }
        let t = match (threshold, pyxis_proto::Scheme::new(k as usize, (n - k) as usize)) {
            (Some(t), _) => t as i64,
            (None, Ok(s)) => pyxis_core::repair::default_threshold(s) as i64,
            (None, Err(_)) => n - 1,
        };
        if healthy <= t && healthy < n {
            c.repair_queue += chunks;
        }
    }
    c.chunks_by_healthy = by_healthy.into_iter().collect();
    (c.users, c.quota_used, c.quota_limit, c.garbage) = state.db.totals().await?;
    state.metrics.set_catalog(c);
    Ok(())
}
