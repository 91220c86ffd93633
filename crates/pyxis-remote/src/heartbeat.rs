//! Registration with the server, and the heartbeat loop that keeps it.
//!
//! The remote registers when it starts, presenting its saved id and token so it
//! keeps its identity, then heartbeats every `heartbeat_secs`. A server that
//! answers 401 or 404 has forgotten the remote, which registers again; a server
//! that cannot be reached is retried with backoff while the remote goes on
//! serving with the identity and grant key it has.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pyxis_core::grants::GrantVerifier;
use pyxis_proto::api::ErrorBody;
use pyxis_proto::api::remote::{HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse};
use reqwest::StatusCode;
use serde::Serialize;
use thiserror::Error;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::identity::{self, IdentityError, Registered, Registration, SavedIdentity};
use crate::store::Store;

/// Retry delays after a failure double from here...
const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// ...up to here, so a returning server is noticed within half a minute.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HeartbeatError {
    #[error("cannot reach the server at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the server at {url} answered {status}: {message}")]
    Status { url: String, status: StatusCode, message: String },
    #[error("the server's answer from {url} is not valid: {why}")]
    BadResponse { url: String, why: String },
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl HeartbeatError {
    /// The server does not know this remote (any more).
    fn forgotten(&self) -> bool {
        matches!(self, HeartbeatError::Status { status, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::NOT_FOUND)
    }

    /// The server refused the identity presented.
    fn refused(&self) -> bool {
        matches!(self, HeartbeatError::Status { status, .. }
            if matches!(status.as_u16(), 401 | 403 | 404 | 409))
    }
}

/// What the loop needs to know about this remote.
#[derive(Debug, Clone)]
pub struct HeartbeatConfig {
    /// The server's base URL, without a trailing slash.
    pub server: String,
    /// The URL clients use to reach this remote.
    pub url: String,
    pub name: String,
    pub dir: PathBuf,
    /// Overrides the interval the server asks for.
    pub interval: Option<Duration>,
}

#[derive(Debug)]
pub struct Heartbeat {
    cfg: HeartbeatConfig,
    client: reqwest::Client,
    store: Store,
    registration: Arc<Registration>,
    saved: Option<SavedIdentity>,
    interval: Duration,
}

impl Heartbeat {
    pub fn new(
        cfg: HeartbeatConfig,
        client: reqwest::Client,
        store: Store,
        registration: Arc<Registration>,
        saved: Option<SavedIdentity>,
    ) -> Self {
        let interval = cfg.interval.unwrap_or(Duration::from_secs(30));
        Self { cfg, client, store, registration, saved, interval }
    }

    /// Registers, then heartbeats until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = BACKOFF_MIN;
        let mut registered = false;
        loop {
            let result = if registered { self.beat().await } else { self.register().await };
            let wait = match result {
                Ok(()) => {
                    registered = true;
                    backoff = BACKOFF_MIN;
                    self.interval
                }
                Err(e) if registered && e.forgotten() => {
                    info!(error = %e, "the server forgot this remote; registering again");
                    registered = false;
                    Duration::ZERO
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?backoff, "cannot talk to the server; still serving");
                    let wait = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
        debug!("heartbeat stopped");
    }

    async fn register(&mut self) -> Result<(), HeartbeatError> {
        let saved = self.saved.clone().filter(|s| s.server == self.cfg.server);
        let stats = self.store.stats();
        let mut req = RegisterRequest {
            name: self.cfg.name.clone(),
            url: self.cfg.url.clone(),
            capacity: stats.capacity,
            free: stats.free,
            remote_id: saved.as_ref().map(|s| s.remote_id),
            token: saved.as_ref().map(|s| s.token.clone()),
        };
        let path = "/v1/remotes/register";
        let bytes = match self.post(path, &req, None).await {
            Err(e) if saved.is_some() && e.refused() => {
                warn!(error = %e, "the server refused the saved identity; registering as a new remote");
                (req.remote_id, req.token) = (None, None);
                self.post(path, &req, None).await?
            }
            other => other?,
        };
        let url = format!("{}{path}", self.cfg.server);
        let resp: RegisterResponse = serde_json::from_slice(&bytes)
            .map_err(|e| HeartbeatError::BadResponse { url: url.clone(), why: e.to_string() })?;
        let verifier = GrantVerifier::from_hex(&resp.grant_public_key)
            .map_err(|e| HeartbeatError::BadResponse { url, why: format!("grant_public_key: {e}") })?;
        if saved.as_ref().is_some_and(|s| s.remote_id != resp.remote_id) {
            warn!(
                old = saved.as_ref().map(|s| s.remote_id),
                new = resp.remote_id,
                "the server gave this remote a new id"
            );
        }
        if self.cfg.interval.is_none() {
            // Bounded: a server asking for 0 s must not make the remote spin.
            self.interval = Duration::from_secs(resp.heartbeat_secs.clamp(1, 3600));
        }
        self.registration.set(Registered { remote_id: resp.remote_id, verifier });
        info!(remote_id = resp.remote_id, server = %self.cfg.server, "registered");
        self.remember(SavedIdentity {
            remote_id: resp.remote_id,
            token: resp.token,
            server: self.cfg.server.clone(),
            grant_public_key: resp.grant_public_key,
        })
        .await;
        Ok(())
    }

    async fn beat(&mut self) -> Result<(), HeartbeatError> {
        let Some(saved) = self.saved.clone() else {
            return self.register().await;
        };
        let s = self.store.stats();
        let req = HeartbeatRequest {
            capacity: s.capacity,
            free: s.free,
            used: s.used,
            shards: s.shards,
            url: self.cfg.url.clone(),
        };
        let path = format!("/v1/remotes/{}/heartbeat", saved.remote_id);
        let bytes = self.post(&path, &req, Some(&saved.token)).await?;
        let url = format!("{}{path}", self.cfg.server);
        // An empty answer is a heartbeat acknowledged with nothing to say.
        let resp: HeartbeatResponse = match bytes.is_empty() {
            true => HeartbeatResponse::default(),
            false => serde_json::from_slice(&bytes)
                .map_err(|e| HeartbeatError::BadResponse { url: url.clone(), why: e.to_string() })?,
        };
        let key = resp.grant_public_key;
        if !key.is_empty() && key != saved.grant_public_key {
            let verifier = GrantVerifier::from_hex(&key)
                .map_err(|e| HeartbeatError::BadResponse { url, why: format!("grant_public_key: {e}") })?;
            info!("the server's grant key changed");
            self.registration.set(Registered { remote_id: saved.remote_id, verifier });
            self.remember(SavedIdentity { grant_public_key: key, ..saved }).await;
        }
        Ok(())
    }

    /// Keeps the identity in memory and on disk. A failed save is logged, not
    /// fatal: the remote works, and only a restart would lose the identity.
    async fn remember(&mut self, id: SavedIdentity) {
        let (dir, copy) = (self.cfg.dir.clone(), id.clone());
        // The save fsyncs twice: keep it off the runtime's threads.
        match tokio::task::spawn_blocking(move || identity::save(&dir, &copy)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "could not save the remote's identity"),
            Err(e) => warn!(error = %e, "saving the remote's identity failed"),
        }
        self.saved = Some(id);
    }

    /// POSTs JSON and returns the body of a 2xx answer.
    async fn post<Req: Serialize>(
        &self,
        path: &str,
        body: &Req,
        bearer: Option<&str>,
    ) -> Result<Bytes, HeartbeatError> {
        let url = format!("{}{path}", self.cfg.server);
        let mut rb = self.client.post(&url).json(body);
        if let Some(token) = bearer {
            rb = rb.bearer_auth(token);
        }
        let unreachable = |source| HeartbeatError::Unreachable { url: url.clone(), source };
        let resp = rb.send().await.map_err(unreachable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let message = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => format!("{} ({})", b.message, b.code),
                Err(_) => String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            };
            return Err(HeartbeatError::Status { url, status, message });
        }
        Ok(bytes)
    }
}
