//! One module per subcommand (small related ones share a file).

pub mod account;
pub mod admin;
pub mod backup;
pub mod bench;
pub mod catalog;
pub mod check;
pub mod get;
pub mod history;
pub mod put;
pub mod remote;
pub mod server;
pub mod share;
pub mod sync;
pub mod sync_metrics;
pub mod up;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use pyxis_client::{Client, ClientOptions, ConfigDir};

/// Where `pyxis up` puts its server, and where client commands look when
/// nothing else says.
pub const DEFAULT_SERVER: &str = "https://127.0.0.1:7070";

/// Options every command understands.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Server URL [default: the logged-in session's, else https://127.0.0.1:7070].
    #[arg(long, global = true, env = "PYXIS_SERVER")]
    pub server: Option<String>,
    /// Trust only this CA bundle (PEM) for the server and remotes, e.g. the
    /// one `pyxis up` prints; kept in this device's config once given
    /// [default: the kept one, else the system's roots].
    #[arg(long, global = true, env = "PYXIS_CA")]
    pub ca: Option<PathBuf>,
    /// This device's login and keys [default: ~/.config/pyxis].
    #[arg(long, global = true, env = "PYXIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Read the password from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Log as JSON lines (for daemons and log shippers).
    #[arg(long, global = true, env = "PYXIS_LOG_JSON", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_json: bool,
}

impl Global {
    pub fn config_dir(&self) -> ConfigDir {
        ConfigDir::new(self.config.clone().unwrap_or_else(ConfigDir::default_location))
    }

    /// The server to talk to before a session exists (signup, login).
    pub fn server_url(&self) -> String {
        if let Some(s) = &self.server {
            return s.clone();
        }
        match self.config_dir().load() {
            Ok(Some(s)) => s.server.clone(),
            _ => DEFAULT_SERVER.to_owned(),
        }
    }

    /// The CA bundle given with `--ca`/`PYXIS_CA`, checked, and kept in
    /// this device's config so later commands need not be given it again.
    pub fn remember_ca(&self) -> anyhow::Result<()> {
        if let Some(path) = &self.ca {
            let pem = pyxis_net::read_ca_bundle(path).map_err(anyhow::Error::msg)?;
            let config = self.config_dir();
            if config.load_ca()?.as_deref() != Some(&pem[..]) {
                config.save_ca(&pem)?;
            }
        }
        Ok(())
    }

    /// The CA bundle a daemon trusts for its peers: `--ca` only (a daemon
    /// keeps no client config).
    pub fn daemon_ca_pem(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.ca.as_deref().map(|p| pyxis_net::read_ca_bundle(p).map_err(anyhow::Error::msg)).transpose()
    }

    /// The CA bundle to trust: `--ca`, else the one kept in the config.
    pub fn ca_pem(&self) -> anyhow::Result<Option<Vec<u8>>> {
        match &self.ca {
            Some(path) => Ok(Some(pyxis_net::read_ca_bundle(path).map_err(anyhow::Error::msg)?)),
            None => Ok(self.config_dir().load_ca()?),
        }
    }

    /// A client for this device's session.
    pub fn client(&self) -> anyhow::Result<Client> {
        self.remember_ca()?;
        Ok(Client::open(&self.config_dir(), self.server.as_deref(), ClientOptions::default())?)
    }

    /// The password: `PYXIS_PASSWORD`, `--password-stdin`, or a prompt.
    pub fn password(&self, confirm: bool) -> anyhow::Result<String> {
        read_secret("PYXIS_PASSWORD", "Password", self.password_stdin, confirm)
    }

    /// A new password (`passwd`, `recover`): `PYXIS_NEW_PASSWORD`, standard
    /// input with `--password-stdin`, or asked twice.
    pub fn new_password(&self) -> anyhow::Result<String> {
        read_secret("PYXIS_NEW_PASSWORD", "New password", self.password_stdin, true)
    }
}

/// A secret from the environment variable `env`, else a line of standard
/// input (`stdin`), else asked for on the terminal (twice with `confirm`).
pub fn read_secret(env: &str, prompt: &str, stdin: bool, confirm: bool) -> anyhow::Result<String> {
    let what = prompt.to_lowercase();
    if let Ok(p) = std::env::var(env) {
        return Ok(p);
    }
    if stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).with_context(|| format!("reading the {what} from standard input"))?;
        let p = line.trim_end_matches(['\r', '\n']).to_owned();
        if p.is_empty() {
            bail!("no {what} on standard input");
        }
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no {what}: set {env}, use --password-stdin, or run in a terminal");
    }
    let p = rpassword::prompt_password(format!("{prompt}: ")).with_context(|| format!("reading the {what}"))?;
    if confirm && rpassword::prompt_password("Again: ").with_context(|| format!("reading the {what}"))? != p {
        bail!("the {what}s do not match");
    }
    if p.is_empty() {
        bail!("the {what} is empty");
    }
    Ok(p)
}

/// A catalog path from the command line, in NFC as the catalog stores names
/// (a name typed or pasted in NFD finds its entry). clap's value parser for
/// every argument that is a catalog path.
pub fn catalog_path(s: &str) -> Result<String, std::convert::Infallible> {
    Ok(pyxis_proto::path::to_nfc(s).into_owned())
}

/// How a daemon serves (HTTPS, or plain HTTP on loopback when asked) and
/// which CAs it trusts for its peers.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// Certificate chain to serve HTTPS with (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP instead; refused on anything but a loopback address.
    #[arg(long, conflicts_with = "tls_cert")]
    pub insecure_http: bool,
}

impl TlsArgs {
    pub fn files(&self) -> Option<pyxis_net::listen::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(pyxis_net::listen::TlsFiles { cert: cert.clone(), key: key.clone() }),
            _ => None,
        }
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
