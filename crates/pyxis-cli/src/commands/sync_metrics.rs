//! `pyxis sync --metrics-listen ADDR`: the sync daemon's metrics, from the
//! status each folder keeps (status.json, rewritten every second while a
//! pass runs and after each pass). A scrape reads those few small files,
//! nothing else; the label is the folder's local path, one series per
//! folder this daemon keeps.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::{Registry, Unit};
use pyxis_client::ConfigDir;
use pyxis_net::metrics::emit::{counters, gauges};
use pyxis_sync::Status;

#[derive(Debug)]
struct SyncCollector {
    config: ConfigDir,
}

type Row = (&'static str, &'static str, Option<Unit>, fn(&Status) -> u64);

impl Collector for SyncCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let me = std::process::id();
        let mine: Vec<Status> = pyxis_sync::statuses(&self.config).into_iter().filter(|s| s.pid == me).collect();
        let per = |f: fn(&Status) -> u64| -> Vec<(Vec<(&str, String)>, u64)> {
            mine.iter().map(|s| (vec![("folder", s.root.clone())], f(s))).collect()
        };
        let totals: [Row; 4] = [
            ("pyxis_sync_uploaded_files", "Files uploaded since the daemon started", None, |s| s.uploaded),
            ("pyxis_sync_downloaded_files", "Files downloaded since the daemon started", None, |s| s.downloaded),
            (
                "pyxis_sync_sent",
                "Shard bytes sent since the daemon started (parity included)",
                Some(Unit::Bytes),
                |s| s.bytes_sent,
            ),
            ("pyxis_sync_received", "Shard bytes received since the daemon started", Some(Unit::Bytes), |s| {
                s.bytes_received
            }),
        ];
        for (name, help, unit, f) in totals {
            counters(&mut e, name, &format!("{help}, by folder."), unit, per(f))?;
        }
        let now: [Row; 7] = [
            ("pyxis_sync_queued_files", "Files the running pass has still to send or fetch", None, |s| s.queued_files),
            ("pyxis_sync_queued", "Bytes the running pass has still to send or fetch", Some(Unit::Bytes), |s| {
                s.queued_bytes
            }),
            ("pyxis_sync_conflict_copies", "Conflict copies made since the daemon started", None, |s| {
                s.conflicts.len() as u64
            }),
            ("pyxis_sync_failed_files", "Files that failed in the last pass", None, |s| s.failed.len() as u64),
            ("pyxis_sync_skipped_files", "Paths not synced (refused names, ignored kinds)", None, |s| {
                s.skipped.len() as u64
            }),
            ("pyxis_sync_paused", "1 while the folder is paused (the deletion guard) or in error", None, |s| {
                u64::from(s.state == "paused" || s.state == "error")
            }),
            ("pyxis_sync_last_pass_timestamp", "When the last pass ended", Some(Unit::Seconds), |s| {
                (s.last_pass.max(0) / 1000) as u64
            }),
        ];
        for (name, help, unit, f) in now {
            let series = per(f).into_iter().map(|(l, v)| (l, v as i64));
            gauges(&mut e, name, &format!("{help}, by folder."), unit, series)?;
        }
        Ok(())
    }
}

/// Serves the metrics of the folders this process keeps on `addr` (plain
/// HTTP, no token: keep it on loopback) until `stop`.
pub async fn serve(
    addr: std::net::SocketAddr,
    config: ConfigDir,
    stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<std::net::SocketAddr> {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(SyncCollector { config }));
    Ok(pyxis_net::metrics::serve(addr, Arc::new(reg), stop).await?)
}
