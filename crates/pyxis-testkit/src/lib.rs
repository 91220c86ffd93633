//! An in-process Pyxis network for tests: a server and N remotes on
//! 127.0.0.1:0 with real sockets, real files and a real database.
//!
//! With `PYXIS_TEST_DATABASE_URL=postgres://...` set, every cluster gets a
//! fresh PostgreSQL database of its own, so the same tests cover both backends.

pub mod hostile;
pub mod rogue;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pyxis_client::{Client, ClientOptions, ConfigDir};
use pyxis_crypto::keys::{KdfParams, MasterKey};
use pyxis_net::ca::{LocalCa, local_names};
use pyxis_net::listen::TlsFiles;
use pyxis_remote::{RemoteOptions, RunningRemote};
use pyxis_server::{RunningServer, ServerOptions};
use sqlx::Connection;

pub use pyxis_proto::api::admin::HealthResponse;

/// Every stored chunk has all its shards healthy, with `total` shards each.
pub fn fully_healthy(h: &HealthResponse, total: u64) -> bool {
    !h.chunks.is_empty() && h.chunks.iter().all(|b| b.healthy == b.total && b.total == total)
}

/// Every remote's capacity unless a test says otherwise.
pub const DEFAULT_CAPACITY: u64 = 8 << 30;

/// Logs to the test's output when `RUST_LOG` is set.
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The CA of a test network (in its directory), as `pyxis up` makes one.
pub fn test_ca(dir: &std::path::Path) -> anyhow::Result<LocalCa> {
    Ok(LocalCa::load_or_create(&dir.join("tls"), "Pyxis test CA")?)
}

/// A certificate for a test daemon on 127.0.0.1, from the network's CA.
pub fn test_tls(ca: &LocalCa, name: &str) -> anyhow::Result<TlsFiles> {
    let (cert, key) = ca.issue_files(name, &local_names([127, 0, 0, 1].into()))?;
    Ok(TlsFiles { cert, key })
}

/// Server options for tests: HTTPS with the network's CA, cheap password
/// hashing, fast liveness.
pub fn test_server_options(dir: PathBuf, database_url: Option<String>) -> ServerOptions {
    let ca = test_ca(dir.parent().unwrap_or(&dir)).expect("the test CA");
    ServerOptions {
        listen: ([127, 0, 0, 1], 0).into(),
        tls: Some(test_tls(&ca, "server").expect("the server's certificate")),
        ca_pem: Some(ca.cert_pem().as_bytes().to_vec()),
        data_dir: dir,
        database_url,
        login_hash: KdfParams::INSECURE_FAST,
        min_client_kdf: KdfParams::INSECURE_FAST,
        limits: loose_limits(),
        heartbeat: Duration::from_millis(500),
        offline_after: Duration::from_secs(3),
        // Workers idle unless a test turns them up; garbage goes at once.
        durability: pyxis_server::DurabilityOptions {
            interval: Duration::from_millis(250),
            repair_grace: Duration::from_secs(5),
            deleted_grace: Duration::ZERO,
            garbage_delay: Duration::ZERO,
            history_interval: Duration::from_millis(250),
            audit_sample: 0,
            ..Default::default()
        },
        ..ServerOptions::default()
    }
}

/// Limits no honest test reaches: tests sign up many users from one
/// address. Tests of the limits themselves set their own.
pub fn loose_limits() -> pyxis_server::limits::LimitOptions {
    use pyxis_server::limits::Rate;
    let loose = Rate { burst: 100_000, every: Duration::from_micros(10) };
    pyxis_server::limits::LimitOptions {
        api: loose,
        auth: loose,
        signup: loose,
        login_attempts: loose,
        ..Default::default()
    }
}

/// A fresh PostgreSQL database if `PYXIS_TEST_DATABASE_URL` is set.
pub async fn test_database() -> anyhow::Result<Option<String>> {
    let Ok(base) = std::env::var("PYXIS_TEST_DATABASE_URL") else { return Ok(None) };
    let mut conn = sqlx::PgConnection::connect(&base).await.context("connecting to PYXIS_TEST_DATABASE_URL")?;
    let mut rnd = [0u8; 8];
    rnd.copy_from_slice(&pyxis_crypto::keys::random_salt()?[..8]);
    let name = format!("pyxis_test_{}", pyxis_proto::hex::encode(&rnd));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    let (prefix, _) = base.rsplit_once('/').context("database URL has no database name")?;
    Ok(Some(format!("{prefix}/{name}")))
}

/// A connection to the PostgreSQL server of `url`, outside its database,
/// and that database's name.
async fn admin_connection(url: &str) -> anyhow::Result<(sqlx::PgConnection, String)> {
    let base = std::env::var("PYXIS_TEST_DATABASE_URL").context("PYXIS_TEST_DATABASE_URL")?;
    let (_, db) = url.rsplit_once('/').context("database URL has no database name")?;
    Ok((sqlx::PgConnection::connect(&base).await?, db.to_owned()))
}

/// Replaces database `to` with a copy of `from` (no one may be connected to
/// either: left-over connections of a stopped server are ended first).
async fn copy_database(conn: &mut sqlx::PgConnection, from: &str, to: &str) -> anyhow::Result<()> {
    for db in [from, to] {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(db)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {to}"))).execute(&mut *conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {to} TEMPLATE {from}"))).execute(&mut *conn).await?;
    Ok(())
}

/// Copies a SQLite catalog (with its WAL) from one directory to another.
fn copy_sqlite(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for name in ["catalog.db", "catalog.db-wal", "catalog.db-shm"] {
        let _ = std::fs::remove_file(to.join(name));
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name)).with_context(|| format!("copying {name}"))?;
        }
    }
    Ok(())
}

#[derive(Debug)]
pub struct Cluster {
    pub dir: tempfile::TempDir,
    server: Option<RunningServer>,
    pub server_opts: ServerOptions,
    remotes: Vec<Option<RunningRemote>>,
    pub capacity: u64,
    /// Scrub and inventory intervals of remotes started from now on.
    pub upkeep: (Option<Duration>, Option<Duration>),
    /// Whether remotes started from now on are admitted vetted (the
    /// operator vouches for them, as `pyxis up` does for its own).
    pub vetted: bool,
}

impl Cluster {
    /// A server and `remotes` remotes, all registered and online.
    pub async fn start(remotes: usize) -> anyhow::Result<Cluster> {
        Self::start_with(remotes, DEFAULT_CAPACITY, |_| {}).await
    }

    pub async fn start_with(
        remotes: usize,
        capacity: u64,
        tweak: impl FnOnce(&mut ServerOptions),
    ) -> anyhow::Result<Cluster> {
        init_logging();
        pyxis_client::init_crypto();
        let dir = tempfile::tempdir()?;
        let mut server_opts = test_server_options(dir.path().join("server"), test_database().await?);
        tweak(&mut server_opts);
        let server = pyxis_server::start(server_opts.clone()).await?;
        // Later restarts keep the port, so remotes and clients find it again.
        server_opts.listen = server.addr();
        let mut c = Cluster {
            dir,
            server: Some(server),
            server_opts,
            remotes: Vec::new(),
            capacity,
            upkeep: (None, None),
            vetted: true,
        };
        for _ in 0..remotes {
            c.add_remote().await?;
        }
        c.wait_online(remotes).await?;
        Ok(c)
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.server_opts.listen)
    }

    /// The network's CA certificate (PEM): what its clients trust.
    pub fn ca_pem(&self) -> Vec<u8> {
        test_ca(self.dir.path()).expect("the test CA").cert_pem().as_bytes().to_vec()
    }

    /// An HTTP client that trusts the network's CA (for raw calls in tests).
    pub fn http(&self) -> reqwest::Client {
        pyxis_client::api::http_client(Some(&self.ca_pem())).expect("an HTTP client")
    }

    /// An API client without a session, trusting the network's CA.
    pub fn api(&self) -> pyxis_client::Api {
        pyxis_client::Api::new(&self.url(), self.http())
    }

    /// The operator's token (generated into the server's data directory).
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.server_opts.data_dir.join("admin-token"))
            .expect("the admin token")
            .trim()
            .to_owned()
    }

    pub fn remote(&self, i: usize) -> &RunningRemote {
        self.remotes[i].as_ref().expect("remote running")
    }

    pub fn remote_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("remote-{i}"))
    }

    /// Starts one more remote; returns its index.
    pub async fn add_remote(&mut self) -> anyhow::Result<usize> {
        let i = self.remotes.len();
        let r = self.start_remote(i, ([127, 0, 0, 1], 0).into()).await?;
        self.remotes.push(Some(r));
        Ok(i)
    }

    /// A single-use admission token, as `pyxis admin remote-token` makes.
    pub async fn admission_token(&self, vetted: bool, capacity_cap: Option<u64>) -> anyhow::Result<String> {
        let admission = pyxis_server::db::remotes::Admission { capacity_cap: capacity_cap.map(|c| c as i64), vetted };
        let (token, _) = self.server().state().mint_admission_token(admission, Duration::from_secs(3600)).await?;
        Ok(token)
    }

    async fn start_remote(&self, i: usize, listen: std::net::SocketAddr) -> anyhow::Result<RunningRemote> {
        // A token the first time only: afterwards the remote's key is known.
        let fresh = !self.remote_dir(i).join(pyxis_remote::identity::KEY_FILE).exists();
        let admission_token = if fresh { Some(self.admission_token(self.vetted, None).await?) } else { None };
        pyxis_remote::start(RemoteOptions {
            server: self.url(),
            listen,
            dir: self.remote_dir(i),
            capacity: self.capacity,
            public_url: None,
            tls: Some(test_tls(&test_ca(self.dir.path())?, &format!("remote-{i}"))?),
            insecure_http: false,
            ca_pem: Some(self.ca_pem()),
            name: Some(format!("remote-{i}")),
            heartbeat: Some(Duration::from_millis(300)),
            scrub_every: self.upkeep.0,
            inventory_every: self.upkeep.1,
            inventory_grace: None,
            admission_token,
            quarantine_keep: None,
            metrics_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        })
        .await
        .map_err(Into::into)
    }

    /// Stops remote `i` (gracefully; the crash tests use real processes).
    pub async fn stop_remote(&mut self, i: usize) {
        if let Some(r) = self.remotes[i].take() {
            r.shutdown().await;
        }
    }

    /// Starts remote `i` again on its old directory and port.
    pub async fn restart_remote(&mut self, i: usize, addr: std::net::SocketAddr) -> anyhow::Result<()> {
        let r = self.start_remote(i, addr).await?;
        self.remotes[i] = Some(r);
        Ok(())
    }

    pub async fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    /// Keeps a copy of the stopped server's catalog as `name`, the way an
    /// operator backs it up: the SQLite files, or a PostgreSQL database
    /// made from it as a template.
    pub async fn backup_catalog(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(self.server.is_none(), "stop the server before copying its catalog");
        match &self.server_opts.database_url {
            None => copy_sqlite(&self.server_opts.data_dir, &self.dir.path().join(name)),
            Some(url) => {
                let (mut conn, db) = admin_connection(url).await?;
                copy_database(&mut conn, &db, &format!("{db}_{name}")).await
            }
        }
    }

    /// Puts the catalog kept by `backup_catalog(name)` back in place.
    pub async fn restore_catalog(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(self.server.is_none(), "stop the server before restoring its catalog");
        match &self.server_opts.database_url {
            None => copy_sqlite(&self.dir.path().join(name), &self.server_opts.data_dir),
            Some(url) => {
                let (mut conn, db) = admin_connection(url).await?;
                copy_database(&mut conn, &format!("{db}_{name}"), &db).await
            }
        }
    }

    pub async fn restart_server(&mut self) -> anyhow::Result<()> {
        self.stop_server().await;
        self.server = Some(pyxis_server::start(self.server_opts.clone()).await?);
        Ok(())
    }

    /// Waits until the server sees exactly `n` remotes online and every
    /// running remote knows its id (registration answered on both sides).
    pub async fn wait_online(&self, n: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let online = self.server().state().db.online_remotes().await?.len();
            let known = self.remotes.iter().flatten().all(|r| r.remote_id().is_some());
            if online == n && known {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{online} remotes online, expected {n}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's health report (what `pyxis admin health` prints).
    pub async fn health(&self) -> pyxis_proto::api::admin::HealthResponse {
        pyxis_server::routes::admin::health_report(self.server().state()).await.expect("health report")
    }

    /// Polls the health report until `ok` holds, or fails after `secs`.
    pub async fn wait_health(
        &self,
        what: &str,
        secs: u64,
        ok: impl Fn(&pyxis_proto::api::admin::HealthResponse) -> bool,
    ) -> anyhow::Result<pyxis_proto::api::admin::HealthResponse> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let h = self.health().await;
            if ok(&h) {
                return Ok(h);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}: {h:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A config directory for one simulated device, given the network's CA
    /// (as `--ca` would keep it).
    pub fn device(&self, name: &str) -> ConfigDir {
        let dev = ConfigDir::new(self.dir.path().join(format!("device-{name}")));
        dev.save_ca(&self.ca_pem()).expect("saving the CA in a device's config");
        dev
    }

    /// The keys of a user signed up on this cluster (from their device's
    /// saved session): for tests that write the catalog as an older server
    /// or a user's other client would.
    pub fn keyring(&self, user: &str) -> anyhow::Result<pyxis_crypto::keys::Keyring> {
        let session = self.device(user).load()?.ok_or_else(|| anyhow::anyhow!("{user} is not signed up"))?;
        Ok(session.keyring()?)
    }

    /// Signs a user up (cheap KDF) and returns a client for them.
    pub async fn signup(&self, user: &str, password: &str) -> anyhow::Result<Client> {
        self.signup_with_key(user, password, MasterKey::generate()?).await
    }

    /// An account with a fixed master key, so keyed chunk boundaries (and
    /// what an edit costs) are the same on every run.
    pub async fn signup_with_key(&self, user: &str, password: &str, master: MasterKey) -> anyhow::Result<Client> {
        let dev = self.device(user);
        pyxis_client::account::signup_with_key(&dev, &self.url(), user, password, KdfParams::INSECURE_FAST, master)
            .await?;
        Ok(Client::open(&dev, None, ClientOptions::default())?)
    }
}

/// A WebSocket to the change feed of `user` (`/v1/changes/ws?after=N`, and
/// `?share=ID`), over TLS trusting the network's CA: what a sync daemon
/// holds open. Yields each pushed answer.
pub async fn change_feed(
    c: &Cluster,
    user: &str,
    after: i64,
    share: Option<i64>,
) -> anyhow::Result<futures::stream::BoxStream<'static, anyhow::Result<pyxis_proto::api::changes::ChangesResponse>>> {
    use futures::StreamExt;
    use rustls::pki_types::pem::PemObject;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let token = c.device(user).load()?.ok_or_else(|| anyhow::anyhow!("{user} is not logged in"))?.token.clone();
    let addr = c.server_opts.listen;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&c.ca_pem()) {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls)).connect(name, tcp).await?;
    let share = share.map(|s| format!("&share={s}")).unwrap_or_default();
    let mut req = format!("wss://{addr}/v1/changes/ws?after={after}{share}").into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await?;
    Ok(ws
        .filter_map(|m| async move {
            match m {
                Ok(tokio_tungstenite::tungstenite::Message::Text(t)) => {
                    Some(serde_json::from_str(&t).map_err(Into::into))
                }
                Ok(_) => None,
                Err(e) => Some(Err(e.into())),
            }
        })
        .boxed())
}
