//! `pyxis server`: the catalog, registry and placement service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pyxis_proto::size::ByteSize;
use pyxis_server::ServerOptions;

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Data directory (SQLite catalog, admin token).
    #[arg(long, default_value = "pyxis-data/server")]
    pub data: PathBuf,
    /// PostgreSQL URL (postgres://user:pass@host/db) instead of SQLite.
    #[arg(long, env = "PYXIS_DATABASE_URL")]
    pub database_url: Option<String>,
    /// URL clients and remotes use to reach this server [default: https://LISTEN].
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub tls: super::TlsArgs,
    /// Quota of new users.
    #[arg(long, default_value = "10GiB")]
    pub quota: ByteSize,
    /// Heartbeat interval asked of remotes.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,
    /// A remote silent this long is marked offline.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub offline_after: Duration,
    /// Operator token for `pyxis admin` [default: generated into DATA/admin-token].
    #[arg(long, env = "PYXIS_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// A remote offline this long counts as lost: its shards are rebuilt elsewhere.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub repair_grace: Duration,
    /// Repair a chunk when its healthy shards fall to this many [default: min(k+2, n-1)].
    #[arg(long)]
    pub repair_threshold: Option<usize>,
    /// Bandwidth of repair and re-encoding traffic, per second.
    #[arg(long, default_value = "200MB")]
    pub repair_bandwidth: ByteSize,
    /// How often repair, audits and collection look for work.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub worker_interval: Duration,
    /// Shards audited per interval (0: no audits).
    #[arg(long, default_value_t = 8)]
    pub audit_sample: usize,
    /// Removed data is collected after this.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub deleted_grace: Duration,
    /// A deleted account's files are removed this long after its owner
    /// deleted it (`pyxis admin users enable` undoes it until then).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    pub account_grace: Duration,
    /// Garbage shards are deleted from remotes after this.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub garbage_delay: Duration,
    /// Let any remote join without an admission token, unvetted, claiming at
    /// most this much space (off by default: remotes join with a token from
    /// `pyxis admin remote-token`).
    #[arg(long)]
    pub open_admission: Option<ByteSize>,
    /// Audits a remote admitted unvetted must pass before it may hold more
    /// than ceil(m/2) shards of a chunk.
    #[arg(long, default_value_t = 50)]
    pub vet_after: i64,
    /// Replace the grant-signing key at start, endorsed by the old one
    /// (remotes follow with their next heartbeat).
    #[arg(long)]
    pub rotate_grant_key: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub config: crate::config_file::ConfigFileArgs,
}

/// Abuse limits, per server instance (see docs/SECURITY.md). A rate is
/// `BURST/PERIOD`: that many requests at once, then one more per period.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Requests of any kind from one client address.
    #[arg(long, default_value = "2000/2ms")]
    pub limit_api: pyxis_server::limits::Rate,
    /// Logins and prelogins from one client address.
    #[arg(long, default_value = "10/1s")]
    pub limit_auth: pyxis_server::limits::Rate,
    /// Signups from one client address.
    #[arg(long, default_value = "3/60s")]
    pub limit_signup: pyxis_server::limits::Rate,
    /// Login attempts at one account from one client address.
    #[arg(long, default_value = "10/6s")]
    pub limit_login: pyxis_server::limits::Rate,
    /// Password checks (Argon2) running at once [default: one per core].
    #[arg(long, default_value_t = 0)]
    pub password_checks: usize,
    /// A reverse proxy whose X-Forwarded-For is believed (address or CIDR;
    /// repeat for several). From anyone else the header is ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<pyxis_server::limits::Cidr>,
    /// Also serve /metrics here, without the admin token (plain HTTP: keep
    /// it where only Prometheus reaches). On the main address /metrics needs
    /// the admin token.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
}

impl LimitArgs {
    pub fn options(&self) -> pyxis_server::limits::LimitOptions {
        pyxis_server::limits::LimitOptions {
            api: self.limit_api,
            auth: self.limit_auth,
            signup: self.limit_signup,
            login_attempts: self.limit_login,
            password_checks: self.password_checks,
            password_wait: std::time::Duration::from_secs(5),
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

impl ServerArgs {
    pub fn options(&self, g: &super::Global) -> anyhow::Result<ServerOptions> {
        Ok(ServerOptions {
            listen: self.listen,
            data_dir: self.data.clone(),
            database_url: self.database_url.clone(),
            public_url: self.public_url.clone(),
            tls: self.tls.files(),
            insecure_http: self.tls.insecure_http,
            ca_pem: g.daemon_ca_pem()?,
            default_quota: self.quota.0,
            heartbeat: self.heartbeat,
            offline_after: self.offline_after,
            admin_token: self.admin_token.clone(),
            durability: pyxis_server::DurabilityOptions {
                repair_grace: self.repair_grace,
                repair_threshold: self.repair_threshold,
                repair_bandwidth: self.repair_bandwidth.0,
                interval: self.worker_interval,
                audit_sample: self.audit_sample,
                deleted_grace: self.deleted_grace,
                garbage_delay: self.garbage_delay,
                vet_after: self.vet_after,
                ..Default::default()
            },
            account_grace: self.account_grace,
            open_admission: self.open_admission.map(|c| pyxis_server::OpenAdmission { capacity_cap: c.0 }),
            rotate_grant_key: self.rotate_grant_key,
            limits: self.limits.options(),
            metrics_listen: self.limits.metrics_listen,
            ..ServerOptions::default()
        })
    }
}

pub async fn run(g: &super::Global, a: ServerArgs) -> anyhow::Result<()> {
    let server = pyxis_server::start(a.options(g)?).await?;
    // (The server logs where it listens: through the log, so that with
    // --log-json every line is JSON.)
    super::shutdown_signal().await;
    tracing::info!("pyxis server stopping");
    server.shutdown().await;
    Ok(())
}
