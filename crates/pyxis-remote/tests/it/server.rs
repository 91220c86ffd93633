//! A tiny stand-in for the Pyxis server: the two routes a remote calls
//! (register, heartbeat) with a real grant signer, on 127.0.0.1:0.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use pyxis_core::grants::{GrantSigner, unix_now};
use pyxis_proto::ShardHash;
use pyxis_proto::api::remote::{HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse};
use pyxis_proto::grant::{Grant, GrantOp};
use pyxis_remote::{RemoteOptions, RunningRemote};
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct ServerState {
    /// Replaceable, to test key rotation.
    pub signer: RwLock<Arc<GrantSigner>>,
    /// Known identities: id → token.
    pub remotes: Mutex<HashMap<i64, String>>,
    next_id: AtomicI64,
    /// While set, heartbeats get 404 (as from a server that lost track).
    pub forget: AtomicBool,
    pub registrations: Mutex<Vec<RegisterRequest>>,
    pub heartbeats: Mutex<Vec<HeartbeatRequest>>,
    pub beats: AtomicU64,
}

impl ServerState {
    pub fn signer(&self) -> Arc<GrantSigner> {
        self.signer.read().unwrap().clone()
    }

    pub fn public_key_hex(&self) -> String {
        pyxis_proto::hex::encode(&self.signer().public_key())
    }
}

#[derive(Debug)]
pub struct TestServer {
    pub url: String,
    pub state: Arc<ServerState>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with_seed([7; 32]).await
    }

    pub async fn start_with_seed(seed: [u8; 32]) -> TestServer {
        let state = Arc::new(ServerState {
            signer: RwLock::new(Arc::new(GrantSigner::from_seed(&seed).unwrap())),
            remotes: Mutex::default(),
            next_id: AtomicI64::new(100),
            forget: AtomicBool::new(false),
            registrations: Mutex::default(),
            heartbeats: Mutex::default(),
            beats: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/v1/remotes/register", post(register))
            .route("/v1/remotes/{id}/heartbeat", post(heartbeat))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestServer { url, state, task }
    }

    /// Stops answering (connections are refused from now on).
    pub fn stop(&self) {
        self.task.abort();
    }

    /// A signed grant header value, expiring `ttl` seconds from now (negative: in the past).
    pub fn grant(&self, op: GrantOp, remote: i64, shard: ShardHash, max_size: u32, ttl: i64) -> String {
        let expires = unix_now().saturating_add_signed(ttl);
        self.state.signer().sign(&Grant { op, remote, shard, max_size, expires })
    }

    /// Switches to a new grant key; heartbeat answers carry it from now on.
    pub fn rotate_key(&self, seed: [u8; 32]) {
        *self.state.signer.write().unwrap() = Arc::new(GrantSigner::from_seed(&seed).unwrap());
    }

    pub fn registrations(&self) -> Vec<RegisterRequest> {
        self.state.registrations.lock().unwrap().clone()
    }

    /// Waits until `f` holds, polling (the remote talks to us in the background).
    pub async fn until(&self, what: &str, mut f: impl FnMut(&ServerState) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !f(&self.state) {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn register(State(s): State<Arc<ServerState>>, Json(req): Json<RegisterRequest>) -> Json<RegisterResponse> {
    s.registrations.lock().unwrap().push(req.clone());
    s.forget.store(false, Ordering::SeqCst);
    let mut remotes = s.remotes.lock().unwrap();
    let known = match (req.remote_id, &req.token) {
        (Some(id), Some(token)) if remotes.get(&id) == Some(token) => Some((id, token.clone())),
        _ => None,
    };
    let (remote_id, token) = known.unwrap_or_else(|| {
        let id = s.next_id.fetch_add(1, Ordering::SeqCst);
        (id, format!("token-{id}"))
    });
    remotes.insert(remote_id, token.clone());
    Json(RegisterResponse { remote_id, token, grant_public_key: s.public_key_hex(), heartbeat_secs: 30 })
}

async fn heartbeat(
    State(s): State<Arc<ServerState>>,
    UrlPath(id): UrlPath<i64>,
    headers: HeaderMap,
    Json(req): Json<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, StatusCode> {
    let known = s.remotes.lock().unwrap().get(&id).cloned();
    let Some(token) = known.filter(|_| !s.forget.load(Ordering::SeqCst)) else { return Err(StatusCode::NOT_FOUND) };
    let presented = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if presented != format!("Bearer {token}") {
        return Err(StatusCode::UNAUTHORIZED);
    }
    s.heartbeats.lock().unwrap().push(req);
    s.beats.fetch_add(1, Ordering::SeqCst);
    Ok(Json(HeartbeatResponse { grant_public_key: s.public_key_hex() }))
}

pub fn options(server: &str, dir: &Path, capacity: u64) -> RemoteOptions {
    RemoteOptions {
        server: server.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dir: dir.to_owned(),
        capacity,
        public_url: None,
        name: Some("test-remote".into()),
        heartbeat: Some(Duration::from_millis(50)),
        scrub_every: None,
        inventory_every: None,
    }
}

/// Starts a remote against `server` and waits until it is registered.
pub async fn start_remote(server: &TestServer, dir: &Path, capacity: u64) -> (RunningRemote, i64) {
    let remote = pyxis_remote::start(options(&server.url, dir, capacity)).await.unwrap();
    let id = registered(&remote).await;
    (remote, id)
}

pub async fn registered(remote: &RunningRemote) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(id) = remote.remote_id() {
            return id;
        }
        assert!(tokio::time::Instant::now() < deadline, "the remote did not register");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
