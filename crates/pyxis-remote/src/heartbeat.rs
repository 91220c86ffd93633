//! Registration with the server, and the heartbeat loop that keeps it.
//!
//! The remote registers when it starts, signed with its key: a server that
//! knows the key takes it back whatever URL it gives; one that does not
//! needs an admission token (`--token`), or, for a remote of an earlier
//! release, the old id and token it kept. It then heartbeats every
//! `heartbeat_secs`. A server that answers 401 has forgotten the remote,
//! which registers again; a server that cannot be reached is retried with
//! backoff while the remote goes on serving with the identity and grant key
//! it has.
//!
//! The server's grant key is pinned at admission. A different key is taken
//! only through rotations the pinned key endorsed, or when the operator
//! admits this remote again with a new token; otherwise the remote keeps
//! the pinned key (grants signed with another are refused) and says why.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyxis_crypto::grants::GrantVerifier;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::remote::{
    HeartbeatRequest, HeartbeatResponse, KeyRotation, LegacyIdentity, RegisterRequest, RegisterResponse,
};
use pyxis_proto::hex;
use reqwest::StatusCode;
use thiserror::Error;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::identity::{self, IdentityError, Registered, Registration, SavedIdentity, follow_rotations};
use crate::link::{LinkError, ServerLink};
use crate::quarantine::Quarantine;
use crate::store::Store;

/// Retry delays after a failure double from here...
const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// ...up to here, or the heartbeat interval if shorter: a returning server
/// hears from the remote as soon as it would have from a healthy one, and
/// does not mark it offline for having been away itself.
const BACKOFF_MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HeartbeatError {
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(
        "the server's grant key is now {offered}, but this remote was admitted under {pinned} and no rotation \
         signed by that key leads to the new one: a wiped or different server. This remote keeps the key it \
         trusts; if the change is intended, start it with a new admission token (`pyxis admin remote-token`)"
    )]
    UnendorsedKey { pinned: String, offered: String },
    #[error("the server's answer is not valid: {0}")]
    BadResponse(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl HeartbeatError {
    fn code(&self) -> Option<ErrorCode> {
        match self {
            HeartbeatError::Link(l) => l.code(),
            _ => None,
        }
    }

    /// The server does not know this remote (any more) under its id.
    fn forgotten(&self) -> bool {
        matches!(self, HeartbeatError::Link(LinkError::Status { status, .. })
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::NOT_FOUND)
            && self.code() != Some(ErrorCode::Revoked)
    }
}

/// What the loop needs to know about this remote.
#[derive(Debug, Clone)]
pub struct HeartbeatConfig {
    /// The URL clients use to reach this remote.
    pub url: String,
    pub name: String,
    pub dir: PathBuf,
    /// Overrides the interval the server asks for.
    pub interval: Option<Duration>,
    /// A single-use admission token, for a key the server does not know.
    pub admission_token: Option<String>,
}

#[derive(Debug)]
pub struct Heartbeat {
    cfg: HeartbeatConfig,
    link: ServerLink,
    store: Store,
    quarantine: Arc<Quarantine>,
    registration: Arc<Registration>,
    saved: Option<SavedIdentity>,
    interval: Duration,
    metrics: crate::metrics::RemoteMetrics,
}

impl Heartbeat {
    pub fn new(
        cfg: HeartbeatConfig,
        link: ServerLink,
        store: Store,
        quarantine: Arc<Quarantine>,
        registration: Arc<Registration>,
        saved: Option<SavedIdentity>,
        metrics: crate::metrics::RemoteMetrics,
    ) -> Self {
        let interval = cfg.interval.unwrap_or(Duration::from_secs(30));
        Self { cfg, link, store, quarantine, registration, saved, interval, metrics }
    }

    /// Registers, then heartbeats until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = BACKOFF_MIN;
        let mut registered = false;
        loop {
            let result = if registered { self.beat().await } else { self.register().await };
            self.metrics.heartbeat(result.is_ok());
            let wait = match result {
                Ok(()) => {
                    registered = true;
                    backoff = BACKOFF_MIN;
                    self.interval
                }
                Err(e) if registered && e.forgotten() => {
                    info!(error = %e, "the server does not know this remote under its id; registering again");
                    registered = false;
                    Duration::ZERO
                }
                Err(e) => {
                    match e.code() {
                        Some(ErrorCode::Revoked) => {
                            error!(error = %e, "this remote's admission was revoked; it keeps its data and serves what its grants allow")
                        }
                        Some(ErrorCode::NotAdmitted | ErrorCode::BadAdmissionToken) => {
                            error!(error = %e, "not admitted")
                        }
                        _ => warn!(error = %e, retry_in = ?backoff, "cannot talk to the server; still serving"),
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX.min(self.interval));
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
        let stats = self.store.stats();
        let legacy = self
            .saved
            .as_ref()
            .and_then(|s| s.token.as_ref().map(|t| LegacyIdentity { remote_id: s.remote_id, token: t.clone() }));
        let req = RegisterRequest {
            name: self.cfg.name.clone(),
            url: self.cfg.url.clone(),
            capacity: stats.capacity,
            free: stats.free,
            admission_token: self.cfg.admission_token.clone(),
            legacy,
        };
        let resp: RegisterResponse = self.link.call("/v1/remotes/register", &req).await?;
        let offered = hex::decode_array::<32>(&resp.grant_public_key)
            .map_err(|e| HeartbeatError::BadResponse(format!("grant_public_key: {e}")))?;
        let pinned = self.pinned();
        let key = match pinned {
            None => offered,
            Some(p) if follow_rotations(p, &resp.rotations) == offered => offered,
            Some(p) if self.cfg.admission_token.is_some() => {
                warn!(
                    old = %hex::encode(&p),
                    new = %hex::encode(&offered),
                    "admitted with a token by a server with another grant key: trusting the new key; \
                     shards the previous server placed here stay in quarantine"
                );
                offered
            }
            Some(p) => {
                return Err(HeartbeatError::UnendorsedKey {
                    pinned: hex::encode(&p),
                    offered: resp.grant_public_key.clone(),
                });
            }
        };
        if self.saved.as_ref().is_some_and(|s| s.remote_id != resp.remote_id) {
            warn!(
                old = self.saved.as_ref().map(|s| s.remote_id),
                new = resp.remote_id,
                "the server gave this remote a new id"
            );
        }
        if self.cfg.interval.is_none() {
            // Bounded: a server asking for 0 s must not make the remote spin.
            self.interval = Duration::from_secs(resp.heartbeat_secs.clamp(1, 3600));
        }
        // Saved before it is relied on: a remote that serves under a key it
        // has not pinned durably could come back trusting another.
        self.remember(SavedIdentity {
            remote_id: resp.remote_id,
            server: self.link.server.clone(),
            grant_public_key: hex::encode(&key),
            token: None,
        })
        .await?;
        self.registration.set(Registered { remote_id: resp.remote_id, verifier: GrantVerifier::new(key) });
        info!(remote_id = resp.remote_id, server = %self.link.server, vetted = resp.vetted, cap = ?resp.capacity_cap, "registered");
        Ok(())
    }

    fn pinned(&self) -> Option<[u8; 32]> {
        self.saved.as_ref().and_then(|s| hex::decode_array::<32>(&s.grant_public_key).ok())
    }

    async fn beat(&mut self) -> Result<(), HeartbeatError> {
        let Some(saved) = self.saved.clone() else {
            return self.register().await;
        };
        let s = self.store.stats();
        let (quarantined, quarantined_bytes) = self.quarantine.stats(&self.store);
        let req = HeartbeatRequest {
            capacity: s.capacity,
            free: s.free,
            used: s.used,
            shards: s.shards,
            url: self.cfg.url.clone(),
            quarantined,
            quarantined_bytes,
        };
        let path = format!("/v1/remotes/{}/heartbeat", saved.remote_id);
        let resp: HeartbeatResponse = self.link.call(&path, &req).await?;
        self.quarantine.set_release(resp.release_quarantine_before);
        self.follow_key(&saved, &resp.grant_public_key, &resp.rotations).await
    }

    /// A heartbeat named a grant key: keep the pinned one, or follow an
    /// endorsed rotation to it.
    async fn follow_key(
        &mut self,
        saved: &SavedIdentity,
        offered: &str,
        rotations: &[KeyRotation],
    ) -> Result<(), HeartbeatError> {
        if offered.is_empty() || offered == saved.grant_public_key {
            return Ok(());
        }
        let offered_key = hex::decode_array::<32>(offered)
            .map_err(|e| HeartbeatError::BadResponse(format!("grant_public_key: {e}")))?;
        let Some(pinned) = self.pinned() else { return Ok(()) };
        if follow_rotations(pinned, rotations) != offered_key {
            return Err(HeartbeatError::UnendorsedKey {
                pinned: saved.grant_public_key.clone(),
                offered: offered.to_owned(),
            });
        }
        info!(old = %saved.grant_public_key, new = %offered, "the server rotated its grant key (endorsed by the old one)");
        self.remember(SavedIdentity { grant_public_key: offered.to_owned(), ..saved.clone() }).await?;
        self.registration.set(Registered { remote_id: saved.remote_id, verifier: GrantVerifier::new(offered_key) });
        Ok(())
    }

    /// Keeps the identity in memory and on disk. Pinning a key must be
    /// durable before it is relied on, so a failed save is an error.
    async fn remember(&mut self, id: SavedIdentity) -> Result<(), HeartbeatError> {
        let (dir, copy) = (self.cfg.dir.clone(), id.clone());
        // The save fsyncs twice: keep it off the runtime's threads.
        tokio::task::spawn_blocking(move || identity::save(&dir, &copy))
            .await
            .map_err(|e| HeartbeatError::BadResponse(format!("saving the identity: {e}")))??;
        self.saved = Some(id);
        Ok(())
    }
}
