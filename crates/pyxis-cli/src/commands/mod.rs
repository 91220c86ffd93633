//! One module per subcommand (small related ones share a file).

pub mod account;
pub mod admin;
pub mod bench;
pub mod catalog;
pub mod get;
pub mod put;
pub mod remote;
pub mod server;
pub mod up;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use pyxis_client::{Client, ClientOptions, ConfigDir};

/// Where `pyxis up` puts its server, and where client commands look when
/// nothing else says.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7070";

/// Options every command understands.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Server URL [default: the logged-in session's, else http://127.0.0.1:7070].
    #[arg(long, global = true, env = "PYXIS_SERVER")]
    pub server: Option<String>,
    /// This device's login and keys [default: ~/.config/pyxis].
    #[arg(long, global = true, env = "PYXIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Read the password from the first line of standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Log as JSON lines (for daemons).
    #[arg(long, global = true)]
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

    /// A client for this device's session.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::open(&self.config_dir(), self.server.as_deref(), ClientOptions::default())?)
    }

    /// The password: `PYXIS_PASSWORD`, `--password-stdin`, or a prompt.
    pub fn password(&self, confirm: bool) -> anyhow::Result<String> {
        if let Ok(p) = std::env::var("PYXIS_PASSWORD") {
            return Ok(p);
        }
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
            let p = line.trim_end_matches(['\r', '\n']).to_owned();
            if p.is_empty() {
                bail!("no password on standard input");
            }
            return Ok(p);
        }
        if !std::io::stdin().is_terminal() {
            bail!("no password: set PYXIS_PASSWORD, use --password-stdin, or run in a terminal");
        }
        let p = rpassword::prompt_password("Password: ").context("reading the password")?;
        if confirm && rpassword::prompt_password("Again: ").context("reading the password")? != p {
            bail!("the passwords do not match");
        }
        if p.is_empty() {
            bail!("the password is empty");
        }
        Ok(p)
    }
}

/// A catalog path from the command line, in NFC as the catalog stores names
/// (a name typed or pasted in NFD finds its entry). clap's value parser for
/// every argument that is a catalog path.
pub fn catalog_path(s: &str) -> Result<String, std::convert::Infallible> {
    Ok(pyxis_proto::path::to_nfc(s).into_owned())
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
