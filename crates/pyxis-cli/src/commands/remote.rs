//! `pyxis remote`: a storage daemon contributing disk to the network.

use std::net::SocketAddr;
use std::path::PathBuf;

use pyxis_proto::size::ByteSize;
use pyxis_remote::RemoteOptions;

#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// The server to register with.
    #[arg(long, env = "PYXIS_SERVER")]
    pub server: String,
    /// Address to listen on for shard traffic.
    #[arg(long, default_value = "127.0.0.1:7071")]
    pub listen: SocketAddr,
    /// Directory for shards and the remote's identity.
    #[arg(long)]
    pub dir: PathBuf,
    /// Disk space offered (e.g. 100GiB).
    #[arg(long)]
    pub capacity: ByteSize,
    /// URL clients use to reach this remote [default: https://LISTEN].
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub tls: super::TlsArgs,
    /// A name for people [default: the host name].
    #[arg(long)]
    pub name: Option<String>,
    /// How often to re-hash every shard and report corrupt ones.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub scrub_every: std::time::Duration,
    /// How often to reconcile the shard inventory with the server.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub inventory_every: std::time::Duration,
    /// Admission token from the server's operator (`pyxis admin
    /// remote-token`), needed the first time this remote joins a server.
    #[arg(long, env = "PYXIS_REMOTE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Shards the server has no record of are kept aside at least this long,
    /// and deleted only after the server's operator releases them.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    pub quarantine_keep: std::time::Duration,
    /// Also serve /metrics here (plain HTTP, no token: keep it where only
    /// Prometheus reaches).
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub config: crate::config_file::ConfigFileArgs,
}

pub async fn run(g: &super::Global, a: RemoteArgs) -> anyhow::Result<()> {
    let remote = pyxis_remote::start(RemoteOptions {
        server: a.server.clone(),
        listen: a.listen,
        dir: a.dir.clone(),
        capacity: a.capacity.0,
        public_url: a.public_url,
        tls: a.tls.files(),
        insecure_http: a.tls.insecure_http,
        ca_pem: g.daemon_ca_pem()?,
        name: a.name,
        heartbeat: None,
        scrub_every: Some(a.scrub_every),
        inventory_every: Some(a.inventory_every),
        inventory_grace: None,
        admission_token: a.token,
        quarantine_keep: Some(a.quarantine_keep),
        metrics_listen: a.metrics_listen,
    })
    .await?;
    let stop = remote.shutdown_handle();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        stop.shutdown();
    });
    Ok(remote.wait().await?)
}
