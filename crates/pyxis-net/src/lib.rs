//! HTTP between Pyxis roles (client, server, remote). Every party is a
//! stranger to the others, so every connection is built the same way:
//!
//! * **no redirects**: a peer that answers 3xx is refused, never followed, so
//!   a registered remote cannot aim the server at other URLs;
//! * **bounded waits**: connect and whole-request timeouts;
//! * **bounded answers**: [`read_capped`] reads a body only up to the size it
//!   should have, so a peer cannot exhaust memory with an endless answer;
//! * **TLS** by rustls on aws-lc-rs: clients trust the platform's roots, or
//!   only the CA bundle they are given ([`HttpOptions::ca_pem`]); servers
//!   and remotes serve HTTPS through [`listen::Listener`], plain HTTP only
//!   when asked for and only on loopback; [`ca::LocalCa`] makes the
//!   certificates of a network on one machine.

pub mod ca;
mod fsutil;
pub mod listen;
pub mod metrics;
pub mod request_id;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

/// How a client talks to its peers.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// The whole request, body included.
    pub timeout: Duration,
    /// Give up on a connection that has sent nothing for this long (a
    /// peer that stalled), however long the request may take in all.
    /// `None` for clients that wait on long polls.
    pub read_timeout: Option<Duration>,
    /// Idle keep-alive connections kept per host (at least the transfers in flight).
    pub pool_per_host: usize,
    /// Trust only these CA certificates (PEM bundle) instead of the
    /// platform's roots: a private network's CA (`pyxis up`'s, or an
    /// operator's).
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            read_timeout: None,
            pool_per_host: 16,
            ca_pem: None,
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("the CA bundle holds no certificate in PEM form")]
    EmptyCa,
    #[error("the CA bundle is not valid PEM: {0}")]
    BadCa(reqwest::Error),
    #[error("building the HTTP client: {0}")]
    Build(reqwest::Error),
}

/// Reads a CA bundle (PEM) and checks that it holds a certificate.
pub fn read_ca_bundle(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("reading the CA bundle {}: {e}", path.display()))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(c) if !c.is_empty() => Ok(pem),
        Ok(_) => Err(format!("{} holds no certificate in PEM form", path.display())),
        Err(e) => Err(format!("{} is not a PEM certificate bundle: {e}", path.display())),
    }
}

/// An HTTP/1.1 keep-alive client (faster than HTTP/2 for shard traffic here)
/// that never follows a redirect.
pub fn client(opts: &HttpOptions) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder()
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(opts.pool_per_host)
        .connect_timeout(opts.connect_timeout)
        .timeout(opts.timeout);
    if let Some(t) = opts.read_timeout {
        b = b.read_timeout(t);
    }
    if let Some(id) = request_id::process().and_then(|id| reqwest::header::HeaderValue::from_str(id).ok()) {
        b = b.default_headers(
            [(reqwest::header::HeaderName::from_static(request_id::HEADER), id)].into_iter().collect(),
        );
    }
    if let Some(pem) = &opts.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(ClientError::BadCa)?;
        if certs.is_empty() {
            return Err(ClientError::EmptyCa);
        }
        b = b.tls_certs_only(certs);
    }
    b.build().map_err(ClientError::Build)
}

/// Why a peer's answer could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("the answer is over {max} bytes (declared {declared:?}), more than it can honestly be")]
    TooLarge { max: usize, declared: Option<u64> },
    #[error("reading the answer: {0}")]
    Transport(#[from] reqwest::Error),
}

/// Reads a response body of at most `max` bytes: a declared length over it
/// is refused before reading, and an undeclared body is cut off as soon as
/// it passes it.
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Bytes, ReadError> {
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge { max, declared });
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| n as usize).min(max));
    while let Some(chunk) = resp.chunk().await? {
        if buf.len() + chunk.len() > max {
            return Err(ReadError::TooLarge { max, declared });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The start of a body, as text, for error messages (a hostile peer's error
/// body is read no further than this).
pub async fn error_text(resp: reqwest::Response) -> String {
    match read_capped(resp, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("<{e}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::response::Redirect;
    use axum::routing::get;

    async fn serve() -> String {
        let app = Router::new()
            .route("/small", get(|| async { "hello" }))
            .route("/big", get(|| async { vec![7u8; 100_000] }))
            .route(
                "/stream",
                get(|| async {
                    // No Content-Length: only the bytes received tell the size.
                    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 10_000])));
                    Body::from_stream(futures::stream::iter(chunks))
                }),
            )
            .route("/redirect", get(|| async { Redirect::temporary("/small") }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn answers_are_read_up_to_their_cap_and_redirects_refused() {
        let url = serve().await;
        let c = client(&HttpOptions::default()).unwrap();
        let r = c.get(format!("{url}/small")).send().await.unwrap();
        assert_eq!(&read_capped(r, 5).await.unwrap()[..], b"hello");
        let r = c.get(format!("{url}/big")).send().await.unwrap();
        assert!(matches!(read_capped(r, 99_999).await, Err(ReadError::TooLarge { declared: Some(100_000), .. })));
        let r = c.get(format!("{url}/stream")).send().await.unwrap();
        assert_eq!(r.content_length(), None);
        assert!(matches!(read_capped(r, 500_000).await, Err(ReadError::TooLarge { declared: None, .. })));
        let r = c.get(format!("{url}/stream")).send().await.unwrap();
        assert_eq!(read_capped(r, 1_000_000).await.unwrap().len(), 1_000_000);
        let r = c.get(format!("{url}/redirect")).send().await.unwrap();
        assert!(r.status().is_redirection(), "the redirect was followed: {}", r.status());
    }
}
