//! Serving: one listener type for the server and remotes, HTTPS by default.
//!
//! TLS handshakes run concurrently, each in its own task with a time limit,
//! so a slow or silent client cannot hold up the others. A connection that
//! speaks plain HTTP to a TLS port is answered, in plain HTTP, with a 400
//! that says to use `https://` (so a client with an old `http://` URL is
//! told what to do instead of failing obscurely), then closed. Plain HTTP
//! listeners exist only when asked for, and only on loopback addresses.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections handed to the HTTP server but not yet taken.
const BACKLOG: usize = 1024;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ListenError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} holds no {what} in PEM form")]
    NoPem { path: PathBuf, what: &'static str },
    #[error("the certificate and key in {cert} and {key} do not make a TLS configuration: {source}")]
    Config { cert: PathBuf, key: PathBuf, source: rustls::Error },
    #[error(
        "refusing to serve plain HTTP on {0}: it is not a loopback address, so logins, tokens and grants would \
         cross a network in the clear. Give --tls-cert and --tls-key (or listen on 127.0.0.1)"
    )]
    PlainOnPublic(SocketAddr),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
}

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>, ListenError> {
    std::fs::read(path).map_err(|source| ListenError::Read { path: path.to_owned(), source })
}

/// The rustls server configuration for these files (HTTP/1.1 over TLS 1.2
/// or 1.3, aws-lc-rs).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ListenError> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(&files.cert)?).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(ListenError::NoPem { path: files.cert.clone(), what: "certificate" });
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?)
        .map_err(|_| ListenError::NoPem { path: files.key.clone(), what: "private key" })?;
    let config_err = |source| ListenError::Config { cert: files.cert.clone(), key: files.key.clone(), source };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_err)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(config_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// When the first certificate in `files` expires (Unix seconds), for the
/// daemons' `pyxis_tls_cert_expiry_timestamp_seconds`; none if it cannot
/// be read (then [`server_config`] has already refused it).
pub fn cert_expiry(files: &TlsFiles) -> Option<i64> {
    let pem = std::fs::read(&files.cert).ok()?;
    let der = CertificateDer::pem_slice_iter(&pem).find_map(Result::ok)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// How a listener serves.
#[derive(Debug, Clone)]
pub enum Security {
    Tls(Arc<ServerConfig>),
    /// Plain HTTP: only with `--insecure-http`, only on loopback.
    InsecureHttp,
}

impl Security {
    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Security::Tls(_) => "https",
            Security::InsecureHttp => "http",
        }
    }
}

/// A connection, TLS or (on loopback, when asked for) plain.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// A listener for `axum::serve`.
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    security: Security,
    conns: mpsc::Receiver<(Conn, SocketAddr)>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl Listener {
    /// Binds `addr` (refusing plain HTTP on anything but loopback).
    pub async fn bind(addr: SocketAddr, security: Security) -> Result<Listener, ListenError> {
        if matches!(security, Security::InsecureHttp) && !addr.ip().is_loopback() {
            return Err(ListenError::PlainOnPublic(addr));
        }
        let tcp = TcpListener::bind(addr).await.map_err(|source| ListenError::Bind { addr, source })?;
        let addr = tcp.local_addr().map_err(|source| ListenError::Bind { addr, source })?;
        let (tx, conns) = mpsc::channel(BACKLOG);
        let acceptor = match &security {
            Security::Tls(config) => Some(TlsAcceptor::from(config.clone())),
            Security::InsecureHttp => None,
        };
        let accept_task = tokio::spawn(accept_loop(tcp, acceptor, addr, tx));
        Ok(Listener { addr, security, conns, accept_task })
    }

    pub fn security(&self) -> &Security {
        &self.security
    }

    /// `https://ADDR` or `http://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.security.scheme(), self.addr)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: Option<TlsAcceptor>,
    local: SocketAddr,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match tcp.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: back off rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = acceptor.clone() else {
            if tx.send((Conn::Plain(stream), peer)).await.is_err() {
                return;
            }
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(acceptor, stream, local)).await {
                Ok(Ok(Some(tls))) => {
                    let _ = tx.send((Conn::Tls(Box::new(tls)), peer)).await;
                }
                Ok(Ok(None)) => tracing::debug!(%peer, "plain HTTP on the TLS port: told to use https"),
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Completes a TLS handshake; a client speaking plain HTTP instead gets a
/// plain 400 naming the https URL (`None`).
async fn handshake(
    acceptor: TlsAcceptor,
    mut stream: TcpStream,
    local: SocketAddr,
) -> io::Result<Option<TlsStream<TcpStream>>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 1 && first[0] != 0x16 {
        let body = format!(
            "{{\"code\":\"tls_required\",\"message\":\"this port speaks HTTPS only: use https://{local} \
             (a saved session with an http:// URL: log in again with --server https://...)\"}}"
        );
        let answer = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await?;
        let _ = stream.shutdown().await;
        return Ok(None);
    }
    acceptor.accept(stream).await.map(Some)
}

/// The address a connection came from, for handlers and limiters
/// (`axum::extract::ConnectInfo<Peer>` with
/// `into_make_service_with_connect_info::<Peer>()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Listener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.conns.recv().await {
            Some(c) => c,
            // The accept task ended (only when dropped): wait for shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{LocalCa, local_names};
    use crate::{HttpOptions, client};

    async fn serve(dir: &Path) -> (String, LocalCa) {
        let ca = LocalCa::load_or_create(&dir.join("ca"), "test CA").unwrap();
        let (cert, key) = ca.issue_files("server", &local_names("127.0.0.1".parse().unwrap())).unwrap();
        let tls = server_config(&TlsFiles { cert, key }).unwrap();
        let l = Listener::bind("127.0.0.1:0".parse().unwrap(), Security::Tls(tls)).await.unwrap();
        let url = l.url();
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "over TLS" }));
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (url, ca)
    }

    fn trusting(ca: Option<&str>) -> reqwest::Client {
        client(&HttpOptions { ca_pem: ca.map(|c| c.as_bytes().to_vec()), ..Default::default() }).unwrap()
    }

    #[tokio::test]
    async fn serves_https_to_clients_trusting_its_ca_only() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (url, ca) = serve(dir.path()).await;
        assert!(url.starts_with("https://127.0.0.1:"));
        let ok = trusting(Some(ca.cert_pem())).get(&url).send().await.unwrap();
        assert_eq!(ok.text().await.unwrap(), "over TLS");
        // Another CA, or the platform's roots: refused.
        let other = LocalCa::load_or_create(&dir.path().join("other"), "other CA").unwrap();
        let e = trusting(Some(other.cert_pem())).get(&url).send().await.unwrap_err();
        assert!(e.is_connect(), "{e:?}");
        assert!(trusting(None).get(&url).send().await.is_err());
        // The CA is kept: loading it again issues certificates the same clients trust.
        let again = LocalCa::load_or_create(&dir.path().join("ca"), "test CA").unwrap();
        assert_eq!(again.cert_pem(), ca.cert_pem());
    }

    #[tokio::test]
    async fn plain_http_to_the_tls_port_is_told_to_use_https() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let (url, ca) = serve(dir.path()).await;
        let plain = url.replace("https://", "http://");
        let resp = trusting(Some(ca.cert_pem())).get(&plain).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        let body = resp.text().await.unwrap();
        assert!(body.contains("tls_required") && body.contains(&url), "{body}");
        // And the listener still serves TLS afterwards.
        assert!(trusting(Some(ca.cert_pem())).get(&url).send().await.unwrap().status().is_success());
    }

    #[tokio::test]
    async fn plain_http_is_refused_on_a_public_address() {
        let e = Listener::bind("0.0.0.0:0".parse().unwrap(), Security::InsecureHttp).await.unwrap_err();
        assert!(matches!(e, ListenError::PlainOnPublic(_)), "{e}");
        assert!(e.to_string().contains("--tls-cert"));
        let l = Listener::bind("127.0.0.1:0".parse().unwrap(), Security::InsecureHttp).await.unwrap();
        assert!(l.url().starts_with("http://127.0.0.1:"));
    }

    #[test]
    fn bad_certificate_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "not pem").unwrap();
        std::fs::write(&key, "not pem").unwrap();
        let e = server_config(&TlsFiles { cert: cert.clone(), key }).unwrap_err().to_string();
        assert!(e.contains("c.pem") && e.contains("certificate"), "{e}");
        let e = server_config(&TlsFiles { cert: dir.path().join("missing"), key: cert }).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
