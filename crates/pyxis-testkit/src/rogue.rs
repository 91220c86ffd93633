//! A rogue remote: a stranger's storage daemon that lies. It joins with a
//! real key (signed calls, heartbeats) and a real admission token, claims a
//! huge capacity, and answers every shard PUT with 201 and a validly signed
//! receipt, then throws the bytes away. Asked for a shard, it answers as its
//! [`Lie`] says. Tests use it to show that lies cost no data: the success
//! threshold and the unvetted cap keep `k` real shards of every chunk, and
//! audits catch the liar.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use pyxis_crypto::identity::RemoteKey;
use pyxis_proto::ShardHash;
use pyxis_proto::api::remote::{HeartbeatRequest, RegisterRequest, RegisterResponse, RemoteStatus};
use pyxis_proto::receipt::{self, Receipt};
use pyxis_remote::link::ServerLink;

/// What the rogue answers when asked for a shard it "stored".
#[derive(Debug, Clone)]
pub enum Lie {
    /// 404 `not_found`: it never had it.
    NotFound,
    /// A redirect to this URL (a server following it would fetch the shard
    /// from someone else, or be aimed anywhere).
    Redirect(String),
    /// An endless body (a server reading it whole would run out of memory).
    Endless,
    /// No answer at all, to a shard upload or a read: it takes the
    /// request and holds it (a machine on a link that stalled).
    Stall,
    /// Uploads acknowledged as usual, reads never answered (a link that
    /// stalled after the put).
    StallReads,
}

/// The capacity it claims: 2^60 bytes.
pub const CLAIM: u64 = 1 << 60;

#[derive(Debug)]
struct Rogue {
    key: RemoteKey,
    id: AtomicI64,
    lie: Lie,
    /// Shard PUTs it acknowledged.
    acked: AtomicU64,
    /// Shard reads it was asked for.
    reads: AtomicU64,
}

/// A running rogue remote.
#[derive(Debug)]
pub struct RogueRemote {
    pub url: String,
    rogue: Arc<Rogue>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RogueRemote {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RogueRemote {
    /// Joins the cluster's server with `token` and keeps heartbeating. It
    /// serves HTTPS with a certificate from the network's CA, like everyone.
    pub async fn start(cluster: &crate::Cluster, token: &str, lie: Lie) -> anyhow::Result<RogueRemote> {
        let server = cluster.url();
        let rogue = Arc::new(Rogue {
            key: RemoteKey::generate()?,
            id: AtomicI64::new(0),
            lie,
            acked: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/v1/shards/{hash}", put(store).get(fetch).delete(|| async { StatusCode::NO_CONTENT }))
            .route("/v1/status", get(status))
            .with_state(rogue.clone());
        let ca = crate::test_ca(cluster.dir.path())?;
        let tls = pyxis_net::listen::server_config(&crate::test_tls(&ca, "rogue")?)?;
        let listener =
            pyxis_net::listen::Listener::bind(([127, 0, 0, 1], 0).into(), pyxis_net::listen::Security::Tls(tls))
                .await?;
        let url = listener.url();
        let serve = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = pyxis_net::client(&pyxis_net::HttpOptions { ca_pem: Some(cluster.ca_pem()), ..Default::default() })?;
        let link = ServerLink::new(&server, http, Arc::new(RemoteKey::from_seed(rogue.key.seed())?));
        let req = RegisterRequest {
            name: "rogue".into(),
            url: url.clone(),
            capacity: CLAIM,
            free: CLAIM,
            admission_token: Some(token.to_owned()),
            legacy: None,
        };
        let resp: RegisterResponse = link.call("/v1/remotes/register", &req).await?;
        rogue.id.store(resp.remote_id, Ordering::SeqCst);
        let beat_url = url.clone();
        let beats = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let hb = HeartbeatRequest {
                    capacity: CLAIM,
                    free: CLAIM,
                    used: 0,
                    shards: 0,
                    url: beat_url.clone(),
                    quarantined: 0,
                    quarantined_bytes: 0,
                };
                let _ = link.post(&format!("/v1/remotes/{}/heartbeat", resp.remote_id), &hb).await;
            }
        });
        Ok(RogueRemote { url, rogue, tasks: vec![serve, beats] })
    }

    pub fn remote_id(&self) -> i64 {
        self.rogue.id.load(Ordering::SeqCst)
    }

    /// Shard uploads it acknowledged (and threw away), or, stalling, took
    /// and never answered.
    pub fn acked(&self) -> u64 {
        self.rogue.acked.load(Ordering::SeqCst)
    }

    /// Shard reads it was asked for.
    pub fn reads(&self) -> u64 {
        self.rogue.reads.load(Ordering::SeqCst)
    }
}

async fn store(State(r): State<Arc<Rogue>>, Path(hash): Path<String>, body: Bytes) -> Response {
    let Ok(shard) = hash.parse::<ShardHash>() else { return StatusCode::BAD_REQUEST.into_response() };
    r.acked.fetch_add(1, Ordering::SeqCst);
    if matches!(r.lie, Lie::Stall) {
        return std::future::pending().await;
    }
    let time_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let token =
        r.key.sign_receipt(&Receipt { remote: r.id.load(Ordering::SeqCst), shard, len: body.len() as u32, time_ms });
    let mut h = HeaderMap::new();
    h.insert(receipt::HEADER, token.parse().unwrap());
    (StatusCode::CREATED, h).into_response()
}

async fn fetch(State(r): State<Arc<Rogue>>, Path(hash): Path<String>) -> Response {
    r.reads.fetch_add(1, Ordering::SeqCst);
    match &r.lie {
        Lie::NotFound => {
            let body = serde_json::json!({"code": "not_found", "message": format!("no shard {hash}")});
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
        Lie::Redirect(to) => {
            (StatusCode::TEMPORARY_REDIRECT, [("location", format!("{to}/v1/shards/{hash}"))]).into_response()
        }
        Lie::Stall | Lie::StallReads => std::future::pending().await,
        Lie::Endless => {
            let chunks = std::iter::repeat_with(|| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 1 << 20])));
            Body::from_stream(futures::stream::iter(chunks)).into_response()
        }
    }
}

async fn status(State(r): State<Arc<Rogue>>) -> axum::Json<RemoteStatus> {
    axum::Json(RemoteStatus {
        remote_id: Some(r.id.load(Ordering::SeqCst)),
        public_key: pyxis_proto::hex::encode(&r.key.public_key()),
        capacity: CLAIM,
        used: 0,
        free: CLAIM,
        shards: 0,
    })
}
