//! The remote's Prometheus metrics: requests (pyxis_net's middleware),
//! shard bytes written and read, heartbeats, and at scrape time the store's
//! own numbers and the disk's free space (an in-memory read and one
//! statvfs: nothing a scrape can make expensive). All are this remote's.

use std::path::PathBuf;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};
use pyxis_net::metrics::HttpMetrics;
use pyxis_net::metrics::emit::gauge;

use crate::quarantine::Quarantine;
use crate::store::Store;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub result: &'static str,
}

#[derive(Debug, Clone)]
pub struct RemoteMetrics {
    pub registry: Arc<Registry>,
    pub http: HttpMetrics,
    pub written: Counter,
    pub read: Counter,
    pub heartbeats: Family<Outcome, Counter>,
}

#[derive(Debug)]
struct StoreCollector {
    store: Store,
    quarantine: Arc<Quarantine>,
    dir: PathBuf,
}

impl RemoteMetrics {
    pub fn new(
        store: Store,
        quarantine: Arc<Quarantine>,
        dir: PathBuf,
        tls: Option<&pyxis_net::listen::TlsFiles>,
    ) -> Self {
        let mut reg = Registry::default();
        let http = HttpMetrics::register(&mut reg, "remote");
        pyxis_net::metrics::register_cert_expiry(&mut reg, tls);
        let (written, read, heartbeats) = (Counter::default(), Counter::default(), Family::default());
        reg.register_with_unit(
            "pyxis_remote_shard_written",
            "Shard bytes this remote stored (new shards only).",
            Unit::Bytes,
            written.clone(),
        );
        reg.register_with_unit("pyxis_remote_shard_read", "Shard bytes this remote served.", Unit::Bytes, read.clone());
        reg.register(
            "pyxis_remote_heartbeats",
            "Heartbeats and registrations this remote sent, by result (ok, failed).",
            heartbeats.clone(),
        );
        reg.register_collector(Box::new(StoreCollector { store, quarantine, dir }));
        Self { registry: Arc::new(reg), http, written, read, heartbeats }
    }

    pub fn heartbeat(&self, ok: bool) {
        self.heartbeats.get_or_create(&Outcome { result: if ok { "ok" } else { "failed" } }).inc();
    }

    pub fn render(&self) -> String {
        pyxis_net::metrics::render(&self.registry)
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let s = self.store.stats();
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        gauge(&mut e, "pyxis_remote_store_shards", "Shards this remote stores.", None, n(s.shards))?;
        gauge(&mut e, "pyxis_remote_store", "Live shard bytes this remote stores.", Some(Unit::Bytes), n(s.used))?;
        gauge(
            &mut e,
            "pyxis_remote_store_capacity",
            "Shard bytes this remote offers.",
            Some(Unit::Bytes),
            n(s.capacity),
        )?;
        gauge(
            &mut e,
            "pyxis_remote_volume_files",
            "Bytes of this remote's volume files, dead space included.",
            Some(Unit::Bytes),
            n(s.file_bytes),
        )?;
        let (q, _) = self.quarantine.stats(&self.store);
        gauge(
            &mut e,
            "pyxis_remote_quarantine_shards",
            "Shards the server has no record of, kept aside until its operator releases them.",
            None,
            n(q),
        )?;
        // The disk itself: it can fill with other things than shards.
        if let Ok(v) = rustix::fs::statvfs(&self.dir) {
            let size = v.f_blocks.saturating_mul(v.f_frsize);
            let free = v.f_bavail.saturating_mul(v.f_frsize);
            gauge(&mut e, "pyxis_remote_disk_size", "Size of the disk holding the store.", Some(Unit::Bytes), n(size))?;
            gauge(
                &mut e,
                "pyxis_remote_disk_free",
                "Space free on that disk (for unprivileged users).",
                Some(Unit::Bytes),
                n(free),
            )?;
        }
        Ok(())
    }
}
