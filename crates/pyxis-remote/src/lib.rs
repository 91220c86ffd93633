//! The Pyxis remote: a content-addressed shard store that serves shards under
//! server-signed grants.
//!
//! [`start`] opens the [`store`] (recovering from whatever a crash left),
//! serves the HTTP [`api`], and registers and heartbeats with the server
//! ([`heartbeat`]). Clients upload and fetch shards directly; the server only
//! signs grants, which this remote checks offline with the server's key.

pub mod api;
pub mod error;
mod fsutil;
pub mod heartbeat;
pub mod identity;
pub mod link;
pub mod metrics;
pub mod quarantine;
pub mod store;
pub mod upkeep;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyxis_crypto::grants::GrantVerifier;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::api::AppState;
pub use crate::error::{StartError, UpkeepError};
use crate::heartbeat::{Heartbeat, HeartbeatConfig};
use crate::identity::{Registered, Registration};
use crate::link::ServerLink;
use crate::store::{Store, StoreOptions};

/// How a remote runs.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// The server's base URL, e.g. `http://127.0.0.1:7000`.
    pub server: String,
    /// Where to listen (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The remote's directory: its key (`remote.key`), `remote.json`,
    /// `quarantine.json` and the shard store in `store/`.
    pub dir: PathBuf,
    /// Live shard bytes this remote offers.
    pub capacity: u64,
    /// The URL clients use; default `https://{bound address}`.
    pub public_url: Option<String>,
    /// The certificate and key to serve HTTPS with.
    pub tls: Option<pyxis_net::listen::TlsFiles>,
    /// Serve plain HTTP instead (refused on anything but a loopback address).
    pub insecure_http: bool,
    /// Trust only these CAs (PEM) when talking to the server; default the
    /// platform's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// A name for people; default the host name.
    pub name: Option<String>,
    /// Overrides the heartbeat interval the server asks for (tests use short ones).
    pub heartbeat: Option<Duration>,
    /// How often to re-hash every shard (default a day).
    pub scrub_every: Option<Duration>,
    /// How often to reconcile the inventory with the server (default an hour).
    pub inventory_every: Option<Duration>,
    /// How long a collected shard waits for the server to confirm it before
    /// it is deleted (default 30 s, at most `inventory_every`).
    pub inventory_grace: Option<Duration>,
    /// A single-use admission token from the server's operator, needed the
    /// first time this remote's key meets a server.
    pub admission_token: Option<String>,
    /// Shards the server does not know are kept at least this long (default
    /// 7 days), and then only deleted if the server's operator releases them.
    pub quarantine_keep: Option<Duration>,
    /// Also serve `/metrics` here (plain HTTP, no token: keep it where only
    /// Prometheus reaches).
    pub metrics_listen: Option<SocketAddr>,
}

/// A remote that is serving. Stop it with [`RunningRemote::shutdown`].
#[derive(Debug)]
pub struct RunningRemote {
    addr: SocketAddr,
    url: String,
    store: Store,
    registration: Arc<Registration>,
    upkeep: upkeep::Upkeep,
    metrics: metrics::RemoteMetrics,
    metrics_addr: Option<SocketAddr>,
    stop: Arc<watch::Sender<bool>>,
    server: JoinHandle<std::io::Result<()>>,
    heartbeat: JoinHandle<()>,
}

/// Asks a running remote to stop gracefully (e.g. from a signal handler),
/// after which [`RunningRemote::wait`] returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

impl RunningRemote {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The id the server gave this remote; `None` until the first registration
    /// (or a saved identity from an earlier run).
    pub fn remote_id(&self) -> Option<i64> {
        self.registration.get().map(|r| r.remote_id)
    }

    /// This remote's metrics (what `/metrics` on `metrics_listen` shows).
    pub fn metrics(&self) -> &metrics::RemoteMetrics {
        &self.metrics
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This remote's identity key.
    pub fn public_key(&self) -> [u8; 32] {
        self.upkeep.link.key().public_key()
    }

    /// Reconciles the inventory with the server now (it also runs on its
    /// schedule).
    pub async fn reconcile(&self) -> Result<upkeep::Reconciled, UpkeepError> {
        self.upkeep.reconcile().await
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.stop.clone())
    }

    /// Stops accepting connections, finishes requests in flight, stops the
    /// heartbeat and closes the store (writing its last index snapshot).
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.wait().await {
            warn!(error = %e, "the remote stopped with an error");
        }
    }

    /// Runs until the HTTP server ends (after a [`ShutdownHandle::shutdown`]
    /// or a listener failure), then shuts the rest down.
    pub async fn wait(self) -> Result<(), StartError> {
        let served = self.server.await;
        self.stop.send_replace(true);
        let _ = self.heartbeat.await;
        self.store.close().await;
        info!(url = %self.url, "remote stopped");
        match served {
            Ok(r) => r.map_err(StartError::Serve),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StartError::Task(e.to_string())),
        }
    }
}

/// Opens the store, binds the listener and starts serving and heartbeating.
/// Returns once listening; registration may finish in the background.
pub async fn start(opts: RemoteOptions) -> Result<RunningRemote, StartError> {
    std::fs::create_dir_all(&opts.dir).map_err(|source| StartError::Io { path: opts.dir.clone(), source })?;
    let saved = identity::load(&opts.dir)?;
    let key = Arc::new(identity::load_or_create_key(&opts.dir)?);
    let quarantine = Arc::new(quarantine::Quarantine::load(&opts.dir)?);
    let store = Store::open(opts.dir.join("store"), StoreOptions::new(opts.capacity)).await?;
    let security = match (&opts.tls, opts.insecure_http) {
        (Some(files), _) => pyxis_net::listen::Security::Tls(pyxis_net::listen::server_config(files)?),
        (None, true) => pyxis_net::listen::Security::InsecureHttp,
        (None, false) => return Err(StartError::NoTls),
    };
    let listener = pyxis_net::listen::Listener::bind(opts.listen, security).await?;
    let addr = axum::serve::Listener::local_addr(&listener).map_err(StartError::Serve)?;
    let url = opts.public_url.clone().unwrap_or_else(|| listener.url());
    let server_url = opts.server.trim_end_matches('/').to_owned();

    // A saved identity lets the remote serve at once, even while the server
    // is unreachable; registration refreshes it. (The pinned grant key, not
    // the URL, says which server it trusts.)
    let registration = Arc::new(Registration::default());
    if let Some(s) = saved.as_ref() {
        match GrantVerifier::from_hex(&s.grant_public_key) {
            Ok(verifier) => registration.set(Registered { remote_id: s.remote_id, verifier }),
            Err(e) => warn!(error = %e, "saved grant key is invalid; waiting for registration"),
        }
    }

    let (stop, stopped) = watch::channel(false);
    let metrics = metrics::RemoteMetrics::new(store.clone(), quarantine.clone(), opts.dir.clone(), opts.tls.as_ref());
    let metrics_addr = match opts.metrics_listen {
        Some(addr) => Some(
            pyxis_net::metrics::serve(addr, metrics.registry.clone(), stopped.clone())
                .await
                .map_err(|source| StartError::Metrics { addr, source })?,
        ),
        None => None,
    };
    let app = api::router(AppState {
        store: store.clone(),
        registration: registration.clone(),
        key: key.clone(),
        metrics: metrics.clone(),
    });
    let mut server_stopped = stopped.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_stopped.wait_for(|s| *s).await;
            })
            .await
    });

    let client = pyxis_net::client(&pyxis_net::HttpOptions {
        connect_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(30),
        pool_per_host: 4,
        read_timeout: None,
        ca_pem: opts.ca_pem.clone(),
    })?;
    let link = ServerLink::new(&server_url, client, key);
    let cfg = HeartbeatConfig {
        url: url.clone(),
        name: opts.name.clone().unwrap_or_else(host_name),
        dir: opts.dir.clone(),
        interval: opts.heartbeat,
        admission_token: opts.admission_token.clone(),
    };
    let upkeep = upkeep::Upkeep {
        cfg: upkeep::UpkeepConfig {
            dir: opts.dir.clone(),
            scrub_every: opts.scrub_every.unwrap_or(Duration::from_secs(24 * 3600)),
            inventory_every: opts.inventory_every.unwrap_or(Duration::from_secs(3600)),
            inventory_grace: opts
                .inventory_grace
                .unwrap_or(Duration::from_secs(30))
                .min(opts.inventory_every.unwrap_or(Duration::from_secs(3600))),
            quarantine_keep: opts.quarantine_keep.unwrap_or(Duration::from_secs(7 * 24 * 3600)),
        },
        link: link.clone(),
        store: store.clone(),
        registration: registration.clone(),
        quarantine: quarantine.clone(),
    };
    tokio::spawn(upkeep.clone().run(stopped.clone()));
    let heartbeat = Heartbeat::new(cfg, link, store.clone(), quarantine, registration.clone(), saved, metrics.clone());
    let heartbeat = tokio::spawn(heartbeat.run(stopped));
    info!(%url, dir = %opts.dir.display(), "remote listening");
    Ok(RunningRemote {
        addr,
        url,
        store,
        registration,
        upkeep,
        metrics,
        metrics_addr,
        stop: Arc::new(stop),
        server,
        heartbeat,
    })
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "pyxis-remote".to_owned())
}
