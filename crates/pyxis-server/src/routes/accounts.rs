//! Signup, login, logout, whoami, quota.

use axum::Json;
use axum::extract::{ConnectInfo, State as StateX};
use axum::http::HeaderMap;
use pyxis_net::listen::Peer;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::auth::{
    KdfParams, LoginRequest, NewPassword, PreloginRequest, PreloginResponse, SessionResponse, SignupRequest, UserInfo,
};
use pyxis_proto::hex;

use super::extract::Body;
use crate::State;
use crate::auth::{AuthUser, hash_login, verify_login};
use crate::db::users::{NewUser, UserRow};
use crate::error::{ApiError, ApiResult};
use crate::tokens::random_token;

/// Usernames: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_username(name: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ErrorCode::BadUsername,
            format!(
                "username {name:?} is invalid: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
            ),
        ))
    }
}

/// Checks what a new password brings (signup, password change, recovery):
/// its salt and login secret, a KDF at least the server's minimum, a wrapped
/// master key that parses. Returns the salt and the login secret.
pub fn check_new_password(state: &State, p: &NewPassword) -> ApiResult<([u8; 16], [u8; 32])> {
    let salt: [u8; 16] = hex_field("salt", &p.salt)?;
    let secret: [u8; 32] = hex_field("login_secret", &p.login_secret)?;
    let k = p.kdf;
    pyxis_crypto::keys::KdfParams { memory_kib: k.memory_kib, iterations: k.iterations, parallelism: k.parallelism }
        .validate()
        .map_err(|e| ApiError::bad_request(ErrorCode::BadKdf, e.to_string()))?;
    let min = state.opts.min_client_kdf;
    if k.memory_kib < min.memory_kib || k.iterations < min.iterations {
        return Err(ApiError::bad_request(
            ErrorCode::WeakKdf,
            format!(
                "the password KDF asked for ({} KiB, {} passes) is below this server's minimum ({} KiB, {} passes): \
                 a stolen catalog would make the password cheap to guess",
                k.memory_kib, k.iterations, min.memory_kib, min.iterations
            ),
        ));
    }
    pyxis_proto::format::wrapped::WrappedKey::parse(&p.wrapped_master_key)
        .map_err(|e| ApiError::bad_request(ErrorCode::BadWrappedKey, e.to_string()))?;
    Ok((salt, secret))
}

pub fn hex_field<const N: usize>(field: &'static str, value: &str) -> ApiResult<[u8; N]> {
    hex::decode_array(value).map_err(|e| ApiError::bad_request(ErrorCode::BadRequest, format!("{field}: {e}")))
}

fn kdf_of(u: &UserRow) -> KdfParams {
    KdfParams {
        memory_kib: u.kdf_memory_kib as u32,
        iterations: u.kdf_iterations as u32,
        parallelism: u.kdf_parallelism as u32,
    }
}

pub fn user_info(u: &UserRow) -> UserInfo {
    UserInfo {
        id: u.id,
        username: u.username.clone(),
        quota: u.quota_bytes.max(0) as u64,
        used: u.used_bytes.max(0) as u64,
        created_at: u.created_at,
        reader_public_key: Some(pyxis_proto::hex::encode(&u.reader_public_key)),
    }
}

/// A disabled or deleted account gets no session, told only to whoever
/// proved its password (so it reveals nothing to a guesser).
pub fn refuse_disabled(u: &UserRow) -> ApiResult<()> {
    match (u.disabled_at, u.delete_after, u.deleted_at) {
        (_, _, Some(_)) => Err(ApiError::forbidden(ErrorCode::AccountDeleted, "this account was deleted")),
        (_, Some(after), _) => Err(ApiError::forbidden(
            ErrorCode::AccountDeleted,
            format!(
                "this account was deleted; its files are removed after {} (Unix ms): until then the \
                 server's operator can enable it again",
                after
            ),
        )),
        (Some(_), _, _) => {
            Err(ApiError::forbidden(ErrorCode::AccountDisabled, "this account is disabled by the operator"))
        }
        _ => Ok(()),
    }
}

/// A device name as given at login: at most 64 characters, none of them
/// control characters (it is printed to terminals).
pub fn check_device(name: Option<&str>) -> ApiResult<Option<&str>> {
    match name {
        Some(n) if n.chars().count() > 64 || n.chars().any(char::is_control) || n.trim().is_empty() => {
            Err(ApiError::bad_request(
                ErrorCode::BadDevice,
                format!("device name {n:?}: use 1 to 64 characters, no control characters"),
            ))
        }
        other => Ok(other),
    }
}

pub async fn new_session(state: &State, user: &UserRow, device: Option<&str>) -> ApiResult<SessionResponse> {
    let device = check_device(device)?;
    let session = random_token();
    let expires_at = crate::db::now_ms() / 1000 + state.opts.session_ttl.as_secs() as i64;
    state.db.create_session(&session, user.id, expires_at, device).await?;
    let token =
        state.sessions.issue(user.id, &session, expires_at, crate::db::now_ms() / 1000).map_err(ApiError::internal)?;
    Ok(SessionResponse {
        token,
        expires_at,
        user: user_info(user),
        wrapped_master_key: user.wrapped_master_key.clone(),
    })
}

/// Salt and KDF parameters for a username. Unknown names get a salt derived
/// from the name and a server secret: stable, and indistinguishable from a
/// real one.
#[utoipa::path(post, path = "/v1/auth/prelogin", request_body = PreloginRequest,
    responses((status = 200, body = PreloginResponse)), tag = "accounts")]
pub async fn prelogin(
    StateX(state): StateX<State>,
    Body(req): Body<PreloginRequest>,
) -> ApiResult<Json<PreloginResponse>> {
    if let Some(u) = state.db.user_by_name(&req.username).await? {
        return Ok(Json(PreloginResponse { salt: hex::encode(&u.kdf_salt), kdf: kdf_of(&u) }));
    }
    let fake = blake3::keyed_hash(&state.fake_salt_key, req.username.as_bytes());
    let d = pyxis_crypto::keys::KdfParams::DEFAULT;
    Ok(Json(PreloginResponse {
        salt: hex::encode(&fake.as_bytes()[..16]),
        kdf: KdfParams { memory_kib: d.memory_kib, iterations: d.iterations, parallelism: d.parallelism },
    }))
}

#[utoipa::path(post, path = "/v1/auth/signup", request_body = SignupRequest,
    responses((status = 200, body = SessionResponse), (status = 409, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn signup(StateX(state): StateX<State>, Body(req): Body<SignupRequest>) -> ApiResult<Json<SessionResponse>> {
    check_username(&req.username)?;
    check_device(req.device.as_deref())?;
    let reader: [u8; 32] = hex_field("reader_public_key", &req.reader_public_key)?;
    let fresh = NewPassword {
        salt: req.salt.clone(),
        kdf: req.kdf,
        login_secret: req.login_secret.clone(),
        wrapped_master_key: req.wrapped_master_key.clone(),
    };
    let (salt, secret) = check_new_password(&state, &fresh)?;
    let k = req.kdf;
    let login_hash = hash_login(secret.to_vec(), &state).await?;
    let new = NewUser {
        username: &req.username,
        kdf_salt: &salt,
        kdf: (k.memory_kib.into(), k.iterations.into(), k.parallelism.into()),
        login_hash: &login_hash,
        wrapped_master_key: &req.wrapped_master_key,
        reader_public_key: &reader,
        quota_bytes: state.opts.default_quota as i64,
    };
    if state.db.create_user(&new).await?.is_none() {
        return Err(ApiError::conflict(ErrorCode::UserExists, format!("username {:?} is taken", req.username)));
    }
    let user = state.db.user_by_name(&req.username).await?.ok_or_else(|| ApiError::internal("user vanished"))?;
    tracing::info!(user = %user.username, "signup");
    Ok(Json(new_session(&state, &user, req.device.as_deref()).await?))
}

/// A login: limited per account name and client address, and the same
/// work and the same answer whether the name exists or not (an unknown name
/// is checked against a dummy hash).
#[utoipa::path(post, path = "/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = SessionResponse), (status = 401, body = pyxis_proto::api::ErrorBody),
              (status = 429, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn login(
    StateX(state): StateX<State>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<SessionResponse>> {
    let wrong = || ApiError::unauthorized(ErrorCode::WrongPassword, "wrong username or password");
    let ip = crate::limits::client_ip(peer.0.ip(), &headers, &state.limits.opts.trusted_proxies);
    state.limits.login_attempt(&req.username, ip)?;
    let secret: [u8; 32] = hex_field("login_secret", &req.login_secret)?;
    let user = state.db.user_by_name(&req.username).await?;
    let stored = user.as_ref().map_or_else(|| state.dummy_login_hash.clone(), |u| u.login_hash.clone());
    let matches = verify_login(secret.to_vec(), stored, &state).await?;
    match user {
        Some(user) if matches => {
            refuse_disabled(&user)?;
            Ok(Json(new_session(&state, &user, req.device.as_deref()).await?))
        }
        _ => Err(wrong()),
    }
}

#[utoipa::path(post, path = "/v1/auth/logout", responses((status = 204)), tag = "accounts")]
pub async fn logout(StateX(state): StateX<State>, user: AuthUser) -> ApiResult<axum::http::StatusCode> {
    state.db.revoke_session(&user.session).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/auth/whoami", responses((status = 200, body = UserInfo)), tag = "accounts")]
pub async fn whoami(StateX(state): StateX<State>, user: AuthUser) -> ApiResult<Json<UserInfo>> {
    let u = state
        .db
        .user_by_id(user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::BadSession, "user is gone"))?;
    Ok(Json(user_info(&u)))
}
