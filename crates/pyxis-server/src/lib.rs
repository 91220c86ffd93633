//! The Pyxis server: accounts and sessions, the catalog of files and versions,
//! the registry of remotes, placement and signed grants.
//!
//! It never sees file content or keys: it stores sealed manifests, wrapped
//! keys, chunk ids and shard hashes, and tells clients where shards go.

pub mod acl;
pub mod auth;
pub mod db;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod passwords;
pub mod placement;
pub mod registry;
pub mod routes;
pub mod secrets;
pub mod tokens;
pub mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyxis_core::policy::RedundancyPolicy;
use pyxis_crypto::grants::GrantSigner;
use pyxis_crypto::keys::KdfParams;
use tokio::sync::watch;

use crate::db::Db;
pub use crate::error::StartError;

/// How to run a server. `Default` suits a local network.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `postgres://...` for PostgreSQL; default a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// URL clients and remotes use; default `https://{bound address}`.
    pub public_url: Option<String>,
    /// The certificate and key to serve HTTPS with.
    pub tls: Option<pyxis_net::listen::TlsFiles>,
    /// Serve plain HTTP instead (refused on anything but a loopback address).
    pub insecure_http: bool,
    /// Trust only these CAs (PEM) when talking to remotes (repair, audits,
    /// collection); default the platform's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub session_ttl: Duration,
    pub grant_ttl: Duration,
    /// Interval remotes are told to heartbeat at.
    pub heartbeat: Duration,
    /// A remote silent this long is marked offline.
    pub offline_after: Duration,
    /// Placed chunks never committed may be collected after this.
    pub pending_ttl: Duration,
    pub default_quota: u64,
    /// Argon2id cost of the server's own hash of login secrets.
    pub login_hash: KdfParams,
    /// The least Argon2id cost a client may sign up with (its password KDF):
    /// a weaker one makes a stolen catalog cheap to attack.
    pub min_client_kdf: KdfParams,
    /// Abuse limits (per instance).
    pub limits: limits::LimitOptions,
    /// Also serve `/metrics` here, without the admin token (for Prometheus);
    /// on the main listener it needs the admin token.
    pub metrics_listen: Option<SocketAddr>,
    pub policy: RedundancyPolicy,
    /// Operator token for `/v1/admin`; default: generated once, written to
    /// `data_dir/admin-token`.
    pub admin_token: Option<String>,
    pub durability: DurabilityOptions,
    /// A deleted account's files are removed this long after its owner
    /// deleted it (the operator can undo it until then).
    pub account_grace: Duration,
    /// Let remotes join without an admission token (unvetted, capped).
    /// Off by default: a remote joins with `pyxis admin remote-token`.
    pub open_admission: Option<OpenAdmission>,
    /// Replace the grant-signing key at start, endorsed by the old one so
    /// that remotes follow (they refuse a new key nobody vouched for).
    pub rotate_grant_key: bool,
}

/// Open admission: any remote may join, unvetted, claiming at most this.
#[derive(Debug, Clone, Copy)]
pub struct OpenAdmission {
    pub capacity_cap: u64,
}

/// The background workers that keep the promise that losing remotes loses no
/// data and nothing is kept that nobody references.
#[derive(Debug, Clone)]
pub struct DurabilityOptions {
    /// A remote offline this long counts as lost: its shards get rebuilt.
    pub repair_grace: Duration,
    /// How often the workers look for work.
    pub interval: Duration,
    /// Repair when a chunk's healthy shards fall to this (default
    /// `min(k+2, n-1)`, `pyxis_core::repair::default_threshold`).
    pub repair_threshold: Option<usize>,
    /// Chunks repaired at once.
    pub repair_concurrency: usize,
    /// Repair and re-encoding traffic through the server, bytes per second.
    pub repair_bandwidth: u64,
    /// Re-encode older chunks to the wider scheme when the network grows.
    pub reencode: bool,
    /// Shards audited per interval.
    pub audit_sample: usize,
    /// Failed audits in a row that make a remote suspect (then drained).
    pub suspect_after: i64,
    /// Audits a remote admitted unvetted must pass before it may hold more
    /// than `ceil(m/2)` shards of a chunk (Storj vets new nodes the same way).
    pub vet_after: i64,
    /// Removed data becomes collectable after this (a put that just found its
    /// chunks present can still commit).
    pub deleted_grace: Duration,
    /// Garbage shards wait this long before deletion, so readers holding old
    /// locations finish.
    pub garbage_delay: Duration,
    /// How often collection applies each account's retention policy to
    /// old versions and the trash.
    pub history_interval: Duration,
}

impl Default for DurabilityOptions {
    fn default() -> Self {
        Self {
            repair_grace: Duration::from_secs(3600),
            interval: Duration::from_secs(10),
            repair_threshold: None,
            repair_concurrency: 4,
            repair_bandwidth: 200_000_000,
            reencode: true,
            audit_sample: 8,
            suspect_after: 3,
            vet_after: 50,
            deleted_grace: Duration::from_secs(600),
            garbage_delay: Duration::from_secs(60),
            history_interval: Duration::from_secs(3600),
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 7000).into(),
            data_dir: PathBuf::from("pyxis-data/server"),
            database_url: None,
            public_url: None,
            tls: None,
            insecure_http: false,
            ca_pem: None,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            grant_ttl: Duration::from_secs(3600),
            heartbeat: Duration::from_secs(10),
            offline_after: Duration::from_secs(30),
            pending_ttl: Duration::from_secs(24 * 3600),
            default_quota: 10 << 30,
            // OWASP's Argon2id minimum (19 MiB, 2 passes): the input is already a
            // strong key derived on the client, so this guards a stolen database.
            login_hash: KdfParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 },
            // OWASP's Argon2id minimum again: below it a stolen catalog
            // makes a user's password cheap to guess offline.
            min_client_kdf: KdfParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 },
            limits: limits::LimitOptions::default(),
            metrics_listen: None,
            policy: RedundancyPolicy::default(),
            admin_token: None,
            durability: DurabilityOptions::default(),
            account_grace: Duration::from_secs(7 * 24 * 3600),
            open_admission: None,
            rotate_grant_key: false,
        }
    }
}

/// Shared by every handler.
pub struct AppState {
    pub db: Db,
    pub opts: ServerOptions,
    pub signer: GrantSigner,
    pub sessions: auth::SessionKeys,
    pub admin_token_hash: [u8; 32],
    /// Signs the admin page's session cookies.
    pub admin_cookies: auth::SessionKeys,
    pub url: String,
    /// For the workers' own shard traffic (repair, audits, deletes) and
    /// probes; it follows no redirect.
    pub http: reqwest::Client,
    pub stats: Arc<workers::Stats>,
    /// `/metrics`: its registry, request counters and cached catalog numbers.
    pub metrics: metrics::Metrics,
    /// The grant key's rotations, oldest first (told to remotes with every
    /// heartbeat so that each can follow the chain from the key it pinned).
    pub rotations: Vec<pyxis_proto::api::remote::KeyRotation>,
    /// When each remote a client reported was last probed (probes are rate
    /// limited, so clients cannot make the server hammer a remote).
    pub probes: std::sync::Mutex<std::collections::HashMap<i64, std::time::Instant>>,
    pub limits: limits::Limits,
    pub passwords: passwords::Passwords,
    /// A hash of nothing, checked for logins of unknown names, so that they
    /// cost the same work as a wrong password.
    pub dummy_login_hash: String,
    /// Keys the made-up salts of unknown names (`prelogin`).
    pub fake_salt_key: [u8; 32],
    /// Wakes change-feed readers.
    pub feed: db::changes::Feed,
    /// This instance, among those sharing the catalog (holder of leases).
    pub instance: String,
    /// When the backup this catalog was restored from was taken (Unix ms).
    pub restored_from: Option<i64>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppState({}, {})", self.url, self.db.backend())
    }
}

pub type State = Arc<AppState>;

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    url: String,
    state: State,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Stops accepting, lets in-flight requests finish, stops the workers.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        // Another instance need not wait for them to expire.
        if let Err(e) = self.state.db.release_leases(&self.state.instance).await {
            tracing::warn!(error = %e, "could not release the worker leases");
        }
    }

    /// Runs until the server stops.
    pub async fn wait(self) -> Result<(), StartError> {
        self.task.await.map_err(|e| StartError::Task(e.to_string()))?.map_err(StartError::Serve)
    }
}

/// Forgets idle keys of the rate limiters every minute.
fn spawn_limit_upkeep(state: State, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => state.limits.forget_idle(),
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

/// Opens the catalog, binds, and starts serving and the background workers.
pub async fn start(opts: ServerOptions) -> Result<RunningServer, StartError> {
    // Checked before the catalog is opened: opening it would create its WAL
    // files with the catalog's (too wide) permissions.
    secrets::prepare_data_dir(&opts.data_dir, opts.database_url.is_none())?;
    if opts.database_url.is_none() {
        secrets::check_private(&opts.data_dir)?;
    }
    let db = Db::open(opts.database_url.as_deref(), &opts.data_dir).await?;
    let (signer, rotations) = secrets::grant_key(&db, opts.rotate_grant_key).await?;
    db.forgive_downtime().await.map_err(StartError::db("refreshing the remotes' liveness"))?;
    let session_secret =
        db.server_key("session_key", tokens::random_secret).await.map_err(StartError::db("reading the session key"))?;
    let sessions = auth::SessionKeys::new(&session_secret);
    let admin_token_hash = auth::admin_token(&db, &opts).await?;
    let restored_from = db.restored_from().await.map_err(StartError::db("reading the backup marker"))?;
    if let Some(at) = restored_from {
        tracing::warn!(
            backup_taken_at_ms = at,
            "this catalog was restored from a backup: what was written after it is gone from the catalog; \
             remotes keep those shards in quarantine (pyxis admin health), and clients are told"
        );
    }
    let admin_cookies = routes::admin_page::cookie_keys(&session_secret, &admin_token_hash);
    let fake_salt_key: [u8; 32] = db
        .server_key("fake_salt_key", tokens::random_secret)
        .await
        .map_err(StartError::db("reading the fake-salt key"))?
        .as_slice()
        .try_into()
        .map_err(|_| StartError::Secret("the stored fake-salt key is not 32 bytes".into()))?;
    let passwords = passwords::Passwords::new(opts.limits.password_checks, opts.limits.password_wait);
    let dummy_login_hash = passwords
        .hash(tokens::random_secret(), opts.login_hash)
        .await
        .map_err(|e| StartError::Passwords(e.to_string()))?;

    let security = match (&opts.tls, opts.insecure_http) {
        (Some(files), _) => pyxis_net::listen::Security::Tls(pyxis_net::listen::server_config(files)?),
        (None, true) => pyxis_net::listen::Security::InsecureHttp,
        (None, false) => return Err(StartError::NoTls),
    };
    let listener = pyxis_net::listen::Listener::bind(opts.listen, security).await?;
    let addr = axum::serve::Listener::local_addr(&listener).map_err(StartError::Serve)?;
    let url = opts.public_url.clone().unwrap_or_else(|| listener.url());
    let http = pyxis_net::client(&pyxis_net::HttpOptions {
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(60),
        pool_per_host: 16,
        read_timeout: None,
        ca_pem: opts.ca_pem.clone(),
    })?;
    let state_limits = opts.limits.clone();
    let metrics_listen = opts.metrics_listen;
    let stats = Arc::new(workers::Stats::default());
    let feed = db::changes::Feed::new(&db);
    let metrics = metrics::Metrics::new(stats.clone(), feed.sender(), opts.tls.as_ref());
    let state = Arc::new(AppState {
        db,
        opts,
        signer,
        sessions,
        admin_token_hash,
        admin_cookies,
        url: url.clone(),
        http,
        stats,
        metrics,
        rotations,
        probes: Default::default(),
        limits: limits::Limits::new(state_limits),
        passwords,
        dummy_login_hash,
        fake_salt_key,
        feed,
        instance: format!("{}-{}", std::process::id(), pyxis_net::request_id::new_id()),
        restored_from,
    });

    let (stop, stopped) = watch::channel(false);
    registry::spawn_sweeper(state.clone(), stopped.clone());
    spawn_limit_upkeep(state.clone(), stopped.clone());
    if let Some(addr) = metrics_listen {
        pyxis_net::metrics::serve(addr, state.metrics.registry.clone(), stopped.clone())
            .await
            .map_err(|source| StartError::Metrics { addr, source })?;
    }
    workers::spawn(state.clone(), stopped.clone());
    state.feed.listen();
    {
        // Open change-feed connections end when the server stops (a graceful
        // shutdown waits for every connection).
        let (state, mut stopped) = (state.clone(), stopped.clone());
        tokio::spawn(async move {
            let _ = stopped.wait_for(|s| *s).await;
            state.feed.close();
        });
    }
    let app = routes::router(state.clone());
    let mut shutdown = stopped;
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<pyxis_net::listen::Peer>())
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(%url, backend = state.db.backend(), "server listening");
    Ok(RunningServer { addr, url, state, stop, task })
}
