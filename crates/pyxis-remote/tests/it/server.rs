//! A stand-in for the Pyxis server: the routes a remote calls (register,
//! heartbeat, report, inventory) with a real grant signer, checking every
//! call's signature like the real server, on 127.0.0.1:0. Tests make it
//! behave as a careless or hostile server would: forget the remote, wipe its
//! keys, rotate its grant key with or without the old key's endorsement,
//! fail heartbeats, answer an inventory with "unknown" or "collected".

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes as Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use pyxis_crypto::grants::{GrantSigner, unix_now};
use pyxis_proto::ShardHash;
use pyxis_proto::api::remote::{
    HeartbeatRequest, HeartbeatResponse, InventoryRequest, InventoryResponse, KeyRotation, RegisterRequest,
    RegisterResponse,
};
use pyxis_proto::api::{ErrorBody, ErrorCode};
use pyxis_proto::grant::{Grant, GrantOp};
use pyxis_proto::hex;
use pyxis_remote::{RemoteOptions, RunningRemote};
use tokio::task::JoinHandle;

/// The admission token this stand-in accepts (any number of times).
pub const TOKEN: &str = "pyxr_stand_in";

#[derive(Debug)]
pub struct ServerState {
    /// Replaceable, to test key rotation and wiped servers.
    pub signer: RwLock<Arc<GrantSigner>>,
    /// What heartbeat answers say about rotations.
    pub rotations: Mutex<Vec<KeyRotation>>,
    /// Known remotes: key → id.
    pub remotes: Mutex<HashMap<[u8; 32], i64>>,
    next_id: AtomicI64,
    /// While set, heartbeats get 401 (as from a server that lost track).
    pub forget: AtomicBool,
    /// While set, heartbeats get 503 (counted in `failed_beats`).
    pub fail: AtomicBool,
    pub failed_beats: AtomicU64,
    pub registrations: Mutex<Vec<RegisterRequest>>,
    pub heartbeats: Mutex<Vec<HeartbeatRequest>>,
    pub beats: AtomicU64,
    /// Inventory answers: hashes placed on the remote (wanted) and recorded
    /// as collected; everything else is unknown.
    pub wanted: Mutex<HashSet<ShardHash>>,
    pub collected: Mutex<HashSet<ShardHash>>,
    pub inventories: AtomicU64,
    /// Told to the remote with each heartbeat.
    pub release_before: Mutex<Option<i64>>,
}

impl ServerState {
    pub fn signer(&self) -> Arc<GrantSigner> {
        self.signer.read().unwrap().clone()
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(&self.signer().public_key())
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
            rotations: Mutex::default(),
            remotes: Mutex::default(),
            next_id: AtomicI64::new(100),
            forget: AtomicBool::new(false),
            fail: AtomicBool::new(false),
            failed_beats: AtomicU64::new(0),
            registrations: Mutex::default(),
            heartbeats: Mutex::default(),
            beats: AtomicU64::new(0),
            wanted: Mutex::default(),
            collected: Mutex::default(),
            inventories: AtomicU64::new(0),
            release_before: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/remotes/register", post(register))
            .route("/v1/remotes/{id}/heartbeat", post(heartbeat))
            .route("/v1/remotes/{id}/inventory", post(inventory))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestServer { url, state, task }
    }

    /// A signed grant header value, expiring `ttl` seconds from now (negative: in the past).
    pub fn grant(&self, op: GrantOp, remote: i64, shard: ShardHash, max_size: u32, ttl: i64) -> String {
        let expires = unix_now().saturating_add_signed(ttl);
        self.state.signer().sign(&Grant { op, remote, shard, max_size, expires })
    }

    /// Switches to a new grant key. With `endorsed`, the old key signs the
    /// new one and heartbeats carry the rotation; without, they do not (a
    /// wiped server, or an impostor, announcing a key of its own).
    pub fn rotate_key(&self, seed: [u8; 32], endorsed: bool) {
        let old = self.state.signer();
        let new = Arc::new(GrantSigner::from_seed(&seed).unwrap());
        if endorsed {
            self.state.rotations.lock().unwrap().push(KeyRotation {
                previous: hex::encode(&old.public_key()),
                key: hex::encode(&new.public_key()),
                endorsement: hex::encode(&old.endorse(&new.public_key())),
            });
        }
        *self.state.signer.write().unwrap() = new;
    }

    /// Loses every record: a server started afresh on an empty catalog.
    pub fn wipe(&self, seed: [u8; 32]) {
        self.state.remotes.lock().unwrap().clear();
        self.state.rotations.lock().unwrap().clear();
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

fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(ErrorBody { code, message: message.into() })).into_response()
}

/// Checks the remote's signature, as the real server does; returns its key.
fn verify(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<[u8; 32], Box<Response>> {
    let h = headers.get(pyxis_proto::remote_call::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    pyxis_crypto::identity::verify_call(h, method.as_str(), uri.path(), body, now)
        .map_err(|e| Box::new(refuse(StatusCode::UNAUTHORIZED, ErrorCode::BadSignature, &e.to_string())))
}

async fn register(
    State(s): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = match verify(&method, &uri, &headers, &body) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let req: RegisterRequest = serde_json::from_slice(&body).unwrap();
    s.registrations.lock().unwrap().push(req.clone());
    s.forget.store(false, Ordering::SeqCst);
    let mut remotes = s.remotes.lock().unwrap();
    let remote_id = match remotes.get(&key) {
        Some(id) => *id,
        None if req.admission_token.as_deref() == Some(TOKEN) => {
            let id = s.next_id.fetch_add(1, Ordering::SeqCst);
            remotes.insert(key, id);
            id
        }
        None => return refuse(StatusCode::UNAUTHORIZED, ErrorCode::NotAdmitted, "this server does not know this key"),
    };
    Json(RegisterResponse {
        remote_id,
        grant_public_key: s.public_key_hex(),
        heartbeat_secs: 30,
        vetted: true,
        capacity_cap: None,
        rotations: s.rotations.lock().unwrap().clone(),
    })
    .into_response()
}

/// The id in the path must be the signer's.
fn caller(s: &ServerState, key: &[u8; 32], id: i64) -> Result<(), Box<Response>> {
    match s.remotes.lock().unwrap().get(key) {
        Some(known) if *known == id && !s.forget.load(Ordering::SeqCst) => Ok(()),
        _ => Err(Box::new(refuse(StatusCode::UNAUTHORIZED, ErrorCode::UnknownRemote, "register again"))),
    }
}

async fn heartbeat(
    State(s): State<Arc<ServerState>>,
    UrlPath(id): UrlPath<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if s.fail.load(Ordering::SeqCst) {
        s.failed_beats.fetch_add(1, Ordering::SeqCst);
        // A code the remote does not know, as from a newer server: only the status counts.
        return refuse(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unknown, "down for maintenance");
    }
    let key = match verify(&method, &uri, &headers, &body) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    if let Err(r) = caller(&s, &key, id) {
        return *r;
    }
    s.heartbeats.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
    s.beats.fetch_add(1, Ordering::SeqCst);
    Json(HeartbeatResponse {
        grant_public_key: s.public_key_hex(),
        rotations: s.rotations.lock().unwrap().clone(),
        release_quarantine_before: *s.release_before.lock().unwrap(),
    })
    .into_response()
}

async fn inventory(
    State(s): State<Arc<ServerState>>,
    UrlPath(id): UrlPath<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = match verify(&method, &uri, &headers, &body) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    if let Err(r) = caller(&s, &key, id) {
        return *r;
    }
    let req: InventoryRequest = serde_json::from_slice(&body).unwrap();
    s.inventories.fetch_add(1, Ordering::SeqCst);
    let (wanted, collected) = (s.wanted.lock().unwrap(), s.collected.lock().unwrap());
    let mut answer = InventoryResponse { collected: vec![], unknown: vec![], adopted: 0 };
    for h in req.hashes {
        if collected.contains(&h) {
            answer.collected.push(h);
        } else if !wanted.contains(&h) {
            answer.unknown.push(h);
        }
    }
    Json(answer).into_response()
}

pub fn options(server: &str, dir: &Path, capacity: u64) -> RemoteOptions {
    RemoteOptions {
        server: server.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dir: dir.to_owned(),
        capacity,
        public_url: None,
        // The stand-in server speaks plain HTTP, and so does the remote here
        // (on loopback); TLS is tested where it matters (pyxis-net, testkit).
        tls: None,
        insecure_http: true,
        ca_pem: None,
        name: Some("test-remote".into()),
        heartbeat: Some(Duration::from_millis(50)),
        scrub_every: None,
        inventory_every: None,
        inventory_grace: Some(Duration::from_millis(20)),
        admission_token: Some(TOKEN.into()),
        quarantine_keep: None,
        metrics_listen: None,
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
