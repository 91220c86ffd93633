//! A hostile server: a proxy in front of a real one that rewrites its
//! answers. Clients talk to the proxy (HTTPS, with a certificate from the
//! network's CA, as from the real server); every request goes through to the
//! server unchanged, and the answer of a route the test names is handed to a
//! rewrite function first. Each rewrite is counted, so a test can assert
//! that the lie was really told.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Rewrites an answer's body: given the route's path and the server's bytes,
/// returns the bytes to send instead (or `None` to pass them on).
pub type Rewrite = Arc<dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    /// Rewrites by route path (`/v1/list`, `/v1/files/read`, ...), with the
    /// status to answer instead of the server's, if any.
    rewrites: std::sync::Mutex<Vec<(String, Rewrite, Option<StatusCode>)>>,
    told: AtomicU64,
}

/// A running hostile proxy.
pub struct HostileServer {
    pub url: String,
    proxy: Arc<Proxy>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for HostileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileServer").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileServer {
    /// A proxy in front of the cluster's server, honest until told otherwise.
    pub async fn start(cluster: &crate::Cluster) -> anyhow::Result<HostileServer> {
        let proxy = Arc::new(Proxy {
            upstream: cluster.url(),
            http: cluster.http(),
            rewrites: Default::default(),
            told: AtomicU64::new(0),
        });
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        let ca = crate::test_ca(cluster.dir.path())?;
        let tls = pyxis_net::listen::server_config(&crate::test_tls(&ca, "hostile")?)?;
        let listener =
            pyxis_net::listen::Listener::bind(([127, 0, 0, 1], 0).into(), pyxis_net::listen::Security::Tls(tls))
                .await?;
        let url = listener.url();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HostileServer { url, proxy, task })
    }

    /// From now on, answers of `route` go through `rewrite`.
    pub fn rewrite(&self, route: &str, rewrite: impl Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static) {
        self.proxy.rewrites.lock().expect("rewrites").push((route.to_owned(), Arc::new(rewrite), None));
    }

    /// From now on, `route` answers `body` with `status`, whatever the server
    /// said (a file the server has deleted, served again).
    pub fn answer(&self, route: &str, status: u16, body: Vec<u8>) {
        let status = StatusCode::from_u16(status).expect("a valid status");
        let rewrite: Rewrite = Arc::new(move |_, _| Some(body.clone()));
        self.proxy.rewrites.lock().expect("rewrites").push((route.to_owned(), rewrite, Some(status)));
    }

    /// Back to honest.
    pub fn honest(&self) {
        self.proxy.rewrites.lock().expect("rewrites").clear();
    }

    /// How many answers were rewritten so far.
    pub fn lies_told(&self) -> u64 {
        self.proxy.told.load(Ordering::SeqCst)
    }
}

async fn forward(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let target = format!("{}{}", p.upstream, parts.uri.path_and_query().map_or("/", |pq| pq.as_str()));
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut out = p.http.request(parts.method.clone(), target).body(bytes);
    for (name, value) in parts.headers.iter() {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            out = out.header(name, value);
        }
    }
    let Ok(resp) = out.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = resp.status();
    let headers: HeaderMap = resp.headers().clone();
    let Ok(body) = resp.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let rewrite =
        p.rewrites.lock().expect("rewrites").iter().find(|(r, _, _)| *r == path).map(|(_, f, s)| (f.clone(), *s));
    let (body, status): (Bytes, StatusCode) = match rewrite.and_then(|(f, s)| Some((f(&path, &body)?, s))) {
        Some((lie, forced)) => {
            p.told.fetch_add(1, Ordering::SeqCst);
            (Bytes::from(lie), forced.unwrap_or(status))
        }
        None => (body, status),
    };
    let mut answer = Response::new(Body::from(body));
    *answer.status_mut() = status;
    for (name, value) in headers.iter() {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer.headers_mut().insert("x-pyxis-proxy", HeaderValue::from_static("hostile"));
    answer
}

/// Applies `edit` to an answer's JSON (for rewrites that change a field).
pub fn edit_json(body: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    edit(&mut v);
    serde_json::to_vec(&v).ok()
}
