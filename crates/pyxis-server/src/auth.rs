//! Who is calling: users by session token, remotes by their key (every call
//! signed), operators by the admin token.
//!
//! Sessions are HS256 JWTs ([`pyxis_crypto::session`]) backed by a `sessions`
//! row, so logout revokes a token before it expires. Login
//! secrets are hashed with Argon2id (own salt) off the async runtime.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::{ApiError, ApiResult, StartError};
use crate::tokens::{random_token, same_hash, token_hash};
use crate::{ServerOptions, State};
pub use pyxis_crypto::session::SessionKeys;
use pyxis_proto::api::ErrorCode;

/// Hashes a login secret for storage (Argon2id PHC string, own random salt).
pub async fn hash_login(secret: Vec<u8>, state: &crate::AppState) -> ApiResult<String> {
    state.passwords.hash(secret, state.opts.login_hash).await
}

/// Checks a login secret against its stored hash (the hash carries its params).
pub async fn verify_login(secret: Vec<u8>, stored: String, state: &crate::AppState) -> ApiResult<bool> {
    state.passwords.verify(secret, stored).await
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// A logged-in user (the `Authorization: Bearer <session token>` header).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: i64,
    pub session: String,
}

impl FromRequestParts<State> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> ApiResult<Self> {
        let token = bearer(parts)
            .ok_or_else(|| ApiError::unauthorized(ErrorCode::NoSession, "not logged in: run `pyxis login`"))?;
        let (id, session) =
            state.sessions.check(token).map_err(|e| ApiError::unauthorized(ErrorCode::BadSession, e.to_string()))?;
        if !state.db.session_valid(&session, id).await? {
            return Err(ApiError::unauthorized(
                ErrorCode::BadSession,
                "session ended (logged out or expired): log in again",
            ));
        }
        Ok(AuthUser { id, session })
    }
}

/// An operator: the `Authorization: Bearer <admin token>` header, or for a
/// GET (reading only) the admin page's session cookie. The cookie is
/// SameSite=Strict, and no route that changes anything takes it.
#[derive(Debug)]
pub struct Admin;

impl FromRequestParts<State> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> ApiResult<Self> {
        if parts.method == axum::http::Method::GET
            && bearer(parts).is_none()
            && crate::routes::admin_page::has_session(state, &parts.headers)
        {
            return Ok(Admin);
        }
        let token =
            bearer(parts).ok_or_else(|| ApiError::unauthorized(ErrorCode::NoAdminToken, "admin token required"))?;
        if same_hash(&token_hash(token), &state.admin_token_hash) {
            Ok(Admin)
        } else {
            Err(ApiError::forbidden(ErrorCode::BadAdminToken, "wrong admin token"))
        }
    }
}

/// Bodies of remote calls are small JSON (an inventory batch of 10,000
/// hashes is about 700 KB).
const REMOTE_CALL_LIMIT: usize = 2 << 20;

/// A call signed by a remote's key (`X-Pyxis-Remote-Auth`): the signature
/// covers the method, the path, the time and the body, and the body is
/// parsed only once it verifies. Who the key belongs to is the handler's
/// business (a registration may come from a key the server does not know).
#[derive(Debug)]
pub struct SignedByRemote<T> {
    pub key: [u8; 32],
    pub body: T,
}

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for SignedByRemote<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> ApiResult<Self> {
        let (parts, body) = req.into_parts();
        let header = parts
            .headers
            .get(pyxis_proto::remote_call::HEADER)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    ErrorCode::Unsigned,
                    pyxis_proto::remote_call::RemoteAuthError::Missing.to_string(),
                )
            })?
            .to_str()
            .map_err(|_| ApiError::unauthorized(ErrorCode::BadSignature, "the remote's signature header is not ASCII"))?
            .to_owned();
        let bytes = axum::body::to_bytes(body, REMOTE_CALL_LIMIT)
            .await
            .map_err(|e| ApiError::bad_request(ErrorCode::BadRequest, format!("reading the body: {e}")))?;
        let now = u64::try_from(crate::db::now_ms()).unwrap_or(0);
        let key = pyxis_crypto::identity::verify_call(&header, parts.method.as_str(), parts.uri.path(), &bytes, now)
            .map_err(|e| ApiError::unauthorized(ErrorCode::BadSignature, e.to_string()))?;
        let body =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(ErrorCode::BadRequest, e.to_string()))?;
        Ok(SignedByRemote { key, body })
    }
}

impl crate::AppState {
    /// A single-use token that admits one remote (what `pyxis admin
    /// remote-token` prints; `pyxis up` makes them for its own remotes).
    /// Only its hash is kept. Returns the token and its expiry (Unix ms).
    pub async fn mint_admission_token(
        &self,
        admission: crate::db::remotes::Admission,
        ttl: std::time::Duration,
    ) -> ApiResult<(String, i64)> {
        let token = format!("pyxr_{}", random_token());
        let expires_ms = crate::db::now_ms().saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64);
        self.db.create_admission_token(&token_hash(&token), admission, expires_ms).await?;
        Ok((token, expires_ms))
    }
}

/// The admin token's hash: from the options, or the stored one; on first
/// start a new token is written to `data_dir/admin-token` for the operator.
pub async fn admin_token(db: &crate::db::Db, opts: &ServerOptions) -> Result<[u8; 32], StartError> {
    if let Some(t) = &opts.admin_token {
        return Ok(token_hash(t));
    }
    let path = opts.data_dir.join("admin-token");
    let fresh = random_token();
    let stored = db
        .server_key("admin_token_hash", || token_hash(&fresh).to_vec())
        .await
        .map_err(StartError::db("reading the admin token's hash"))?;
    if stored == token_hash(&fresh) {
        write_secret_file(&path, &fresh).map_err(|source| StartError::Io { path: path.clone(), source })?;
    }
    stored.as_slice().try_into().map_err(|_| StartError::Secret("the stored admin token hash is not 32 bytes".into()))
}

/// Writes a secret atomically with owner-only permissions.
pub fn write_secret_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
