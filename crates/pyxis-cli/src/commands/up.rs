//! `pyxis up`: a server and N remotes in this process, data under one
//! directory, so one command gives a working network; run it again and it
//! picks up the same data. Everything speaks HTTPS, with certificates from
//! a CA made for this network (`DIR/tls/ca.pem`, which clients are given).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use pyxis_net::ca::{LocalCa, local_names};
use pyxis_net::listen::TlsFiles;
use pyxis_proto::size::ByteSize;
use pyxis_remote::RemoteOptions;
use pyxis_server::ServerOptions;

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// How many remotes.
    #[arg(long, default_value_t = 4)]
    pub remotes: u16,
    /// Where everything lives.
    #[arg(long, default_value = "pyxis-data")]
    pub dir: PathBuf,
    /// The server's address; remotes take the following ports.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Disk space each remote offers.
    #[arg(long, default_value = "10GiB")]
    pub capacity: ByteSize,
    /// Plain HTTP instead of HTTPS (loopback only; for measuring what TLS
    /// costs, or for tools that cannot be given a CA).
    #[arg(long)]
    pub insecure_http: bool,
    #[command(flatten)]
    pub limits: super::server::LimitArgs,
}

pub async fn run(a: UpArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    // A CA of this network's own, kept with its data: it issues the server's
    // and remotes' certificates, and is the one thing clients must trust.
    let tls = dir.join("tls");
    let ca = LocalCa::load_or_create(&tls, "Pyxis local network CA").context("making the local CA")?;
    let names = local_names(a.listen.ip());
    let issue = |name: &str| -> anyhow::Result<Option<TlsFiles>> {
        if a.insecure_http {
            return Ok(None);
        }
        let (cert, key) = ca.issue_files(name, &names).with_context(|| format!("issuing {name}'s certificate"))?;
        Ok(Some(TlsFiles { cert, key }))
    };
    let ca_pem = Some(ca.cert_pem().as_bytes().to_vec());
    let server = pyxis_server::start(ServerOptions {
        listen: a.listen,
        data_dir: dir.join("server"),
        tls: issue("server")?,
        insecure_http: a.insecure_http,
        ca_pem: ca_pem.clone(),
        limits: a.limits.options(),
        metrics_listen: a.limits.metrics_listen,
        ..ServerOptions::default()
    })
    .await
    .with_context(|| format!("starting the server on {}", a.listen))?;
    let mut remotes = Vec::new();
    for i in 0..a.remotes {
        let port = a.listen.port().checked_add(1 + i).context("no free port numbers after --listen")?;
        let listen = SocketAddr::new(a.listen.ip(), port);
        let rdir = dir.join(format!("remote-{i}"));
        // Its own remotes are admitted vetted: this operator runs them. A
        // token only the first time; after that the remote's key is known.
        let admission_token = if rdir.join(pyxis_remote::identity::KEY_FILE).exists() {
            None
        } else {
            let admission =
                pyxis_server::db::remotes::Admission { capacity_cap: Some(a.capacity.0 as i64), vetted: true };
            Some(server.state().mint_admission_token(admission, std::time::Duration::from_secs(600)).await?.0)
        };
        let r = pyxis_remote::start(RemoteOptions {
            server: server.url().to_owned(),
            listen,
            dir: rdir,
            capacity: a.capacity.0,
            public_url: None,
            tls: issue(&format!("remote-{i}"))?,
            insecure_http: a.insecure_http,
            ca_pem: ca_pem.clone(),
            name: Some(format!("local-{i}")),
            heartbeat: None,
            scrub_every: None,
            inventory_every: None,
            inventory_grace: None,
            admission_token,
            quarantine_keep: None,
            // With --metrics-listen, remote i serves its metrics on the
            // i+1th port after the server's.
            metrics_listen: a
                .limits
                .metrics_listen
                .map(|m| m.port().checked_add(1 + i).map(|p| SocketAddr::new(m.ip(), p)))
                .map(|m| m.context("no free port numbers after --metrics-listen"))
                .transpose()?,
        })
        .await
        .with_context(|| format!("starting remote {i} on {listen}"))?;
        remotes.push(r);
    }
    let url = server.url().to_owned();
    println!("Pyxis is up: server {url} with {} remotes, data in {}", a.remotes, dir.display());
    println!();
    println!("Try, in another terminal:");
    if a.insecure_http {
        println!("  export PYXIS_SERVER={url}");
    } else {
        println!("  export PYXIS_SERVER={url} PYXIS_CA={}", ca.cert_path().display());
    }
    println!("  pyxis signup alice");
    // A directory put at DST becomes DST (its contents land there), so
    // the hint names the folder on both sides and the get below finds it.
    println!("  pyxis put ./some-folder /some-folder");
    println!("  pyxis ls -R /");
    println!("  pyxis get /some-folder ./copy");
    println!();
    println!("Admin token: {}", dir.join("server/admin-token").display());
    if let Some(m) = a.limits.metrics_listen {
        let last = m.port() + a.remotes;
        println!("Metrics: http://{m}/metrics (server), ports {} to {last} (remotes)", m.port() + 1);
    }
    println!("Ctrl-C stops everything; `pyxis up` again picks up the same data.");
    super::shutdown_signal().await;
    eprintln!("stopping");
    for r in remotes {
        r.shutdown().await;
    }
    server.shutdown().await;
    Ok(())
}
