//! Typed calls to the server's HTTP API (docs/PROTOCOL.md).

mod listing;

pub use listing::MAX_LISTED;
pub(crate) use listing::cursor_moves;

use std::time::Duration;

use pyxis_proto::api::ErrorBody;
use pyxis_proto::api::admin::{
    HealthResponse, QuotaRequest, RemoteRequest, RemoteTokenRequest, RemoteTokenResponse, RemotesResponse,
};
use pyxis_proto::api::auth;
use pyxis_proto::api::auth::{
    LoginRequest, PreloginRequest, PreloginResponse, SessionResponse, SignupRequest, UserInfo,
};
use pyxis_proto::api::catalog::{
    BindRequest, BindResponse, CommitRequest, CommitResponse, Entry, MkdirRequest, MoveRequest, PathTag, ReadRequest,
    ReadResponse, RemoveRequest, RemoveResponse, RestoreRequest, VersionsResponse,
};
use pyxis_proto::api::chunks::{
    AbandonRequest, LocateRequest, LocateResponse, MissingRequest, MissingResponse, NetworkResponse, PlaceRequest,
    PlaceResponse, ReplaceRequest, ShardTarget, StoredRequest,
};
use pyxis_proto::api::history;
use pyxis_proto::api::shares;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};

/// The largest answer the server gives (a listing page of 10,000 entries or
/// a read of 10,000 files with their manifests stays well under it).
const MAX_ANSWER: usize = 256 << 20;
/// How long a call keeps retrying through a server restart...
const RETRY_FOR: Duration = Duration::from_secs(60);
/// ...once the server has answered this process at least once; before that
/// a refusal is more likely a wrong URL or a server that is down, and is
/// reported soon.
const FIRST_CONTACT_RETRY_FOR: Duration = Duration::from_secs(3);
/// The longest `Retry-After` a call waits out on its own.
const MAX_PACED_WAIT: Duration = Duration::from_secs(5);

/// The HTTP client every connection shares: HTTP/1.1 with keep-alive (faster
/// than HTTP/2 for shard traffic here), a pool deep enough for the transfer
/// lanes, no redirects, and TLS trusting `ca_pem` only (a private network's
/// CA) or, without it, the platform's roots.
pub fn http_client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client> {
    pyxis_net::client(&pyxis_net::HttpOptions {
        connect_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(300),
        read_timeout: None,
        pool_per_host: 64,
        ca_pem: ca_pem.map(<[u8]>::to_vec),
    })
    .map_err(|e| ClientError::Invalid(format!("the TLS settings: {e}")))
}

/// Silence from a remote for this long ends a shard transfer: the remote
/// stalled (no answer and no byte), and another remote is tried. Shards are
/// at most a few MiB, so an honest remote is never silent this long; the
/// API client has no such limit, because the change feed long-polls.
pub const SHARD_STALL: Duration = Duration::from_secs(10);

/// The client for shard transfers to and from remotes: as [`http_client`],
/// and a transfer that makes no progress for [`SHARD_STALL`] fails
/// (`transfer` also bounds each by its size, against a trickle).
pub fn shard_client(ca_pem: Option<&[u8]>) -> Result<reqwest::Client> {
    pyxis_net::client(&pyxis_net::HttpOptions {
        connect_timeout: Duration::from_secs(10),
        timeout: Duration::from_secs(300),
        read_timeout: Some(SHARD_STALL),
        pool_per_host: 64,
        ca_pem: ca_pem.map(<[u8]>::to_vec),
    })
    .map_err(|e| ClientError::Invalid(format!("the TLS settings: {e}")))
}

/// Turns a non-success response into a `ClientError::Api`.
pub(crate) async fn api_error(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let text = pyxis_net::error_text(resp).await;
    error_from_answer(status, &text)
}

/// What a non-success answer means: the server's [`ErrorBody`] if it sent one,
/// else the status and the start of whatever it sent. Public only for the fuzz
/// targets in `fuzz/` (the answer may come from a hostile server or remote).
#[doc(hidden)]
pub fn error_from_answer(status: StatusCode, text: &str) -> ClientError {
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(b) => ClientError::Api { status: status.as_u16(), code: b.code, message: b.message },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: pyxis_proto::api::ErrorCode::Unknown,
            message: format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()),
        },
    }
}

#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    /// The server has answered (anything) since this client was made.
    reached: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Calls act on the tree of this share's owner (`?share=ID`).
    share: Option<i64>,
}

impl Api {
    pub fn new(base: &str, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            token: None,
            reached: Default::default(),
            share: None,
        }
    }

    /// The same client acting on the tree of share `id`'s owner (the server
    /// allows reads under the shared path, nothing else).
    pub fn through_share(&self, id: i64) -> Self {
        Self { share: Some(id), ..self.clone() }
    }

    /// This server answered this device before (its saved session is for
    /// it): a refusal now is a restart, not a mistyped URL, so even the
    /// first call is retried as long as later ones.
    pub fn known_server(self) -> Self {
        self.reached.store(true, std::sync::atomic::Ordering::Relaxed);
        self
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let raw = format!("{}{path}", self.base);
        let share = self.share.map(|id| id.to_string());
        let mut query = query.to_vec();
        if let Some(id) = &share {
            query.push(("share", id));
        }
        let url = if query.is_empty() { Url::parse(&raw) } else { Url::parse_with_params(&raw, &query) };
        url.map_err(|e| ClientError::Invalid(format!("server URL {:?}: {e}", self.base)))
    }

    /// Sends, and sends again when a rate limit answers 429 with a short
    /// `Retry-After`: the server refused the request before doing anything,
    /// so even a call that is not idempotent may be repeated. A long wait
    /// (a login limit after wrong passwords) is the caller's to see.
    async fn send_paced(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let deadline = std::time::Instant::now() + RETRY_FOR;
        let mut req = req;
        loop {
            let again = req.try_clone();
            let resp = req.send().await.map_err(|e| ClientError::Unreachable { url: self.base.clone(), source: e })?;
            let wait = (resp.status() == StatusCode::TOO_MANY_REQUESTS)
                .then(|| resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.parse::<u64>().ok())
                .flatten()
                .map(Duration::from_secs)
                .filter(|w| *w <= MAX_PACED_WAIT && std::time::Instant::now() + *w < deadline);
            match (wait, again) {
                (Some(wait), Some(again)) => {
                    tracing::info!(retry_in = ?wait, "rate limited by the server; waiting");
                    tokio::time::sleep(wait).await;
                    req = again;
                }
                _ => return Ok(resp),
            }
        }
    }

    async fn send<R: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<Option<R>> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = self.send_paced(req).await?;
        self.reached.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(status = resp.status().as_u16(), url = %resp.url().path(), "the server answered");
        if !resp.status().is_success() {
            return Err(api_error(resp).await);
        }
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = pyxis_net::read_capped(resp, MAX_ANSWER).await.map_err(|e| match e {
            pyxis_net::ReadError::Transport(source) => ClientError::Unreachable { url: self.base.clone(), source },
            other => ClientError::Invalid(format!("bad answer from the server: {other}")),
        })?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Invalid(format!("bad answer from the server: {e}")))
    }

    /// Sends a request built by `build`, again and again with back-off while
    /// the server is restarting or overloaded (connection refused or reset,
    /// timeouts, 502/503/504), for up to a minute (three seconds until the
    /// server has answered once). Only for calls that are idempotent: a
    /// retried one must not do twice what the lost answer did.
    async fn send_retrying<R: DeserializeOwned>(
        &self,
        build: impl Fn() -> Result<reqwest::RequestBuilder>,
    ) -> Result<Option<R>> {
        let patience =
            if self.reached.load(std::sync::atomic::Ordering::Relaxed) { RETRY_FOR } else { FIRST_CONTACT_RETRY_FOR };
        let deadline = std::time::Instant::now() + patience;
        let mut wait = Duration::from_millis(100);
        loop {
            match self.send(build()?).await {
                Err(e) if e.is_transient() && std::time::Instant::now() + wait < deadline => {
                    tracing::info!(error = %e, retry_in = ?wait, "the server did not answer; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(3));
                }
                other => return other,
            }
        }
    }

    async fn call<B: Serialize, R: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&B>) -> Result<R> {
        let mut req = self.http.request(method, self.url(path, &[])?);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await?.ok_or_else(|| ClientError::Invalid(format!("empty answer from {path}")))
    }

    /// [`call`](Self::call) for idempotent calls, through server restarts.
    async fn call_idempotent<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R> {
        let url = self.url(path, &[])?;
        self.send_retrying(|| Ok(self.http.post(url.clone()).json(body)))
            .await?
            .ok_or_else(|| ClientError::Invalid(format!("empty answer from {path}")))
    }

    async fn call_empty<B: Serialize>(&self, path: &str, body: &B) -> Result<()> {
        let req = self.http.post(self.url(path, &[])?).json(body);
        self.send::<serde_json::Value>(req).await.map(|_| ())
    }

    async fn call_empty_idempotent<B: Serialize>(&self, path: &str, body: &B) -> Result<()> {
        let url = self.url(path, &[])?;
        self.send_retrying::<serde_json::Value>(|| Ok(self.http.post(url.clone()).json(body))).await.map(|_| ())
    }

    /// GETs are reads: retried through restarts like the idempotent calls.
    async fn get_query<R: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<R> {
        let url = self.url(path, query)?;
        self.send_retrying(|| Ok(self.http.get(url.clone())))
            .await?
            .ok_or_else(|| ClientError::Invalid(format!("empty answer from {path}")))
    }

    pub async fn prelogin(&self, username: &str) -> Result<PreloginResponse> {
        self.call(Method::POST, "/v1/auth/prelogin", Some(&PreloginRequest { username: username.to_owned() })).await
    }
    pub async fn signup(&self, req: &SignupRequest) -> Result<SessionResponse> {
        self.call(Method::POST, "/v1/auth/signup", Some(req)).await
    }
    pub async fn login(&self, req: &LoginRequest) -> Result<SessionResponse> {
        self.call(Method::POST, "/v1/auth/login", Some(req)).await
    }
    pub async fn change_password(&self, req: &auth::PasswordChangeRequest) -> Result<()> {
        self.call_empty("/v1/auth/password", req).await
    }
    pub async fn set_recovery_key(&self, req: &auth::RecoveryKeyRequest) -> Result<()> {
        self.call_empty("/v1/auth/recovery-key", req).await
    }
    pub async fn recover(&self, req: &auth::RecoverRequest) -> Result<auth::RecoverResponse> {
        self.call(Method::POST, "/v1/auth/recover", Some(req)).await
    }
    pub async fn devices(&self) -> Result<auth::DevicesResponse> {
        self.get_query("/v1/devices", &[]).await
    }
    pub async fn delete_account(&self, req: &auth::AccountDeleteRequest) -> Result<auth::AccountDeleteResponse> {
        self.call(Method::POST, "/v1/account/delete", Some(req)).await
    }
    pub async fn revoke_device(&self, req: &auth::RevokeDeviceRequest) -> Result<()> {
        self.call_empty("/v1/devices/revoke", req).await
    }
    pub async fn logout(&self) -> Result<()> {
        self.call_empty("/v1/auth/logout", &serde_json::json!({})).await
    }
    pub async fn whoami(&self) -> Result<UserInfo> {
        self.get_query("/v1/auth/whoami", &[]).await
    }
    pub async fn network(&self) -> Result<NetworkResponse> {
        self.get_query("/v1/network", &[]).await
    }
    // The put path's calls are idempotent (or made so: placing a chunk
    // already placed re-places it without charging again; a commit of what
    // is already current makes no new version), so they ride out a restart.
    pub async fn missing(&self, req: &MissingRequest) -> Result<MissingResponse> {
        self.call_idempotent("/v1/chunks/missing", req).await
    }
    pub async fn place(&self, req: &PlaceRequest) -> Result<PlaceResponse> {
        self.call_idempotent("/v1/chunks/place", req).await
    }
    pub async fn replace(&self, req: &ReplaceRequest) -> Result<ShardTarget> {
        self.call_idempotent("/v1/chunks/replace", req).await
    }
    pub async fn stored(&self, req: &StoredRequest) -> Result<()> {
        self.call_empty_idempotent("/v1/chunks/stored", req).await
    }
    pub async fn abandon(&self, req: &AbandonRequest) -> Result<()> {
        self.call_empty_idempotent("/v1/chunks/abandon", req).await
    }
    pub async fn locate(&self, req: &LocateRequest) -> Result<LocateResponse> {
        self.call_idempotent("/v1/chunks/locate", req).await
    }
    /// The entry at `path`; an answer about any other path is refused (the
    /// server must not be able to answer for a name with another file).
    pub async fn stat(&self, path: &str) -> Result<Entry> {
        let e: Entry = self.get_query("/v1/stat", &[("path", path)]).await?;
        let asked = pyxis_proto::path::normalize_existing(path).unwrap_or_else(|_| path.to_owned());
        if e.path != asked {
            return Err(ClientError::Tampered {
                path: asked,
                why: format!("the server answered a stat of it with {:?}", e.path),
            });
        }
        Ok(e)
    }

    pub async fn versions(&self, path: &str) -> Result<VersionsResponse> {
        self.get_query("/v1/versions", &[("path", path)]).await
    }
    pub async fn read(&self, req: &ReadRequest) -> Result<ReadResponse> {
        self.call_idempotent("/v1/files/read", req).await
    }
    pub async fn commit(&self, req: &CommitRequest) -> Result<CommitResponse> {
        self.call_idempotent("/v1/commit", req).await
    }
    /// With `parents`, making a directory that exists is not an error, so
    /// the call is idempotent and retried through restarts.
    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<Entry> {
        let req = MkdirRequest { path: path.to_owned(), parents };
        if parents {
            self.call_idempotent("/v1/mkdir", &req).await
        } else {
            self.call(Method::POST, "/v1/mkdir", Some(&req)).await
        }
    }
    /// A move without bindings: the files moved become unbound (clients
    /// report them). [`crate::Client::rename`] re-binds.
    pub async fn rename(&self, from: &str, to: &str) -> Result<Entry> {
        self.rename_bound(from, to, Vec::new()).await
    }
    pub async fn rename_bound(&self, from: &str, to: &str, tags: Vec<PathTag>) -> Result<Entry> {
        let req = MoveRequest { from: from.to_owned(), to: to.to_owned(), tags };
        self.call(Method::POST, "/v1/move", Some(&req)).await
    }
    pub async fn bind(&self, req: &BindRequest) -> Result<BindResponse> {
        self.call(Method::POST, "/v1/bind", Some(req)).await
    }
    pub async fn remove(&self, path: &str, recursive: bool) -> Result<RemoveResponse> {
        self.remove_if(path, recursive, None).await
    }
    /// A remove that happens only while `path`'s current version is `expect`.
    pub async fn remove_if(&self, path: &str, recursive: bool, expect: Option<i64>) -> Result<RemoveResponse> {
        let req = RemoveRequest { path: path.to_owned(), recursive, expect, permanently: false };
        self.call(Method::POST, "/v1/remove", Some(&req)).await
    }
    /// A remove that deletes for good instead of moving files to the trash.
    pub async fn remove_permanently(&self, path: &str, recursive: bool) -> Result<RemoveResponse> {
        let req = RemoveRequest { path: path.to_owned(), recursive, expect: None, permanently: true };
        self.call(Method::POST, "/v1/remove", Some(&req)).await
    }
    pub async fn trash(&self, under: Option<&str>) -> Result<history::TrashResponse> {
        self.get_query("/v1/trash", &under.map(|p| ("path", p)).into_iter().collect::<Vec<_>>()).await
    }
    pub async fn trash_restore(&self, req: &history::TrashRestoreRequest) -> Result<Entry> {
        self.call(Method::POST, "/v1/trash/restore", Some(req)).await
    }
    pub async fn trash_empty(&self, req: &history::TrashEmptyRequest) -> Result<history::TrashEmptyResponse> {
        self.call(Method::POST, "/v1/trash/empty", Some(req)).await
    }
    pub async fn forget(&self, req: &history::ForgetRequest) -> Result<history::ForgetResponse> {
        self.call(Method::POST, "/v1/forget", Some(req)).await
    }
    pub async fn retention(&self) -> Result<history::RetentionInfo> {
        self.get_query("/v1/retention", &[]).await
    }
    pub async fn set_retention(&self, req: &history::RetentionInfo) -> Result<history::RetentionInfo> {
        self.call(Method::POST, "/v1/retention", Some(req)).await
    }
    pub async fn usage(&self) -> Result<history::Usage> {
        self.get_query("/v1/usage", &[]).await
    }
    pub async fn restore(&self, path: &str, version: i64) -> Result<Entry> {
        self.call(Method::POST, "/v1/restore", Some(&RestoreRequest { path: path.to_owned(), version })).await
    }
    pub async fn user_key(&self, name: &str) -> Result<shares::UserKey> {
        self.get_query("/v1/users/key", &[("name", name)]).await
    }
    pub async fn shares(&self) -> Result<shares::SharesResponse> {
        self.get_query("/v1/shares", &[]).await
    }
    pub async fn create_share(&self, req: &shares::CreateShareRequest) -> Result<shares::ShareInfo> {
        self.call(Method::POST, "/v1/shares", Some(req)).await
    }
    pub async fn share_keys(&self, req: &shares::ShareKeysRequest) -> Result<shares::ShareKeysResponse> {
        self.call_idempotent("/v1/shares/keys", req).await
    }
    pub async fn unshare(&self, req: &shares::UnshareRequest) -> Result<()> {
        self.call_empty("/v1/shares/remove", req).await
    }
    /// The tree's changes after `after`, waiting up to `wait_secs` for one
    /// (docs/PROTOCOL.md, "Change feed").
    pub async fn changes(&self, after: i64, wait_secs: u64) -> Result<pyxis_proto::api::changes::ChangesResponse> {
        let (after, wait) = (after.to_string(), wait_secs.to_string());
        self.get_query("/v1/changes", &[("after", &after), ("wait", &wait)]).await
    }
    pub async fn quota(&self) -> Result<UserInfo> {
        self.get_query("/v1/quota", &[]).await
    }
    pub async fn admin_users(&self) -> Result<pyxis_proto::api::admin::UsersResponse> {
        self.get_query("/v1/admin/users", &[]).await
    }
    pub async fn admin_disable(&self, username: &str, disabled: bool) -> Result<()> {
        let req = pyxis_proto::api::admin::DisableRequest { username: username.to_owned(), disabled };
        self.call_empty("/v1/admin/users/disable", &req).await
    }
    pub async fn admin_quota(&self, username: &str, quota: u64) -> Result<()> {
        self.call_empty("/v1/admin/quota", &QuotaRequest { username: username.to_owned(), quota }).await
    }
    pub async fn admin_remotes(&self) -> Result<RemotesResponse> {
        self.get_query("/v1/admin/remotes", &[]).await
    }
    pub async fn admin_health(&self) -> Result<HealthResponse> {
        self.get_query("/v1/admin/health", &[]).await
    }
    pub async fn admin_drain(&self, remote: i64) -> Result<()> {
        self.call_empty("/v1/admin/drain", &RemoteRequest { remote }).await
    }
    pub async fn admin_remote_token(&self, req: &RemoteTokenRequest) -> Result<RemoteTokenResponse> {
        self.call(Method::POST, "/v1/admin/remote-tokens", Some(req)).await
    }
    pub async fn admin_revoke(&self, remote: i64) -> Result<()> {
        self.call_empty("/v1/admin/revoke", &RemoteRequest { remote }).await
    }
    pub async fn admin_vet(&self, remote: i64) -> Result<()> {
        self.call_empty("/v1/admin/vet", &RemoteRequest { remote }).await
    }
    pub async fn admin_release_quarantine(&self, remote: i64) -> Result<()> {
        self.call_empty("/v1/admin/quarantine/release", &RemoteRequest { remote }).await
    }
}
