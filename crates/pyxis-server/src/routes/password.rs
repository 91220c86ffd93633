//! Changing a password, the recovery key that sets a new one when the
//! password is lost, and deleting the account: each proves the password
//! again. The master key never changes: only its wrappings do, so no data is
//! re-encrypted.

use axum::Json;
use axum::extract::{ConnectInfo, State as StateX};
use axum::http::{HeaderMap, StatusCode};
use pyxis_net::listen::Peer;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::auth::{
    AccountDeleteRequest, AccountDeleteResponse, PasswordChangeRequest, RecoverRequest, RecoverResponse,
    RecoveryKeyRequest,
};

use super::accounts::{check_new_password, hex_field, new_session};
use super::extract::Body;
use crate::State;
use crate::auth::{AuthUser, hash_login, verify_login};
use crate::db::users::{NewPasswordRow, UserRow};
use crate::error::{ApiError, ApiResult};
use crate::tokens::same_hash;

/// The current password, proved again: a stolen session token alone must
/// not be able to change the password or set a recovery key. Limited like
/// a login (per account and address).
async fn prove_current(
    state: &State,
    user: &AuthUser,
    peer: Peer,
    headers: &HeaderMap,
    secret: &str,
) -> ApiResult<UserRow> {
    let row = state
        .db
        .user_by_id(user.id)
        .await?
        .ok_or_else(|| ApiError::unauthorized(ErrorCode::BadSession, "no such user"))?;
    let ip = crate::limits::client_ip(peer.0.ip(), headers, &state.limits.opts.trusted_proxies);
    state.limits.login_attempt(&row.username, ip)?;
    let current: [u8; 32] = hex_field("current_login_secret", secret)?;
    if !verify_login(current.to_vec(), row.login_hash.clone(), state).await? {
        return Err(ApiError::unauthorized(ErrorCode::WrongPassword, "the current password is wrong"));
    }
    Ok(row)
}

async fn store_password(
    state: &State,
    user: i64,
    new: &pyxis_proto::api::auth::NewPassword,
    keep: Option<&str>,
) -> ApiResult<()> {
    let (salt, secret) = check_new_password(state, new)?;
    let login_hash = hash_login(secret.to_vec(), state).await?;
    let k = new.kdf;
    let row = NewPasswordRow {
        kdf_salt: &salt,
        kdf: (k.memory_kib.into(), k.iterations.into(), k.parallelism.into()),
        login_hash: &login_hash,
        wrapped_master_key: &new.wrapped_master_key,
    };
    state.db.set_password(user, &row, keep).await?;
    Ok(())
}

/// A new password for the logged-in user; every other session ends.
#[utoipa::path(post, path = "/v1/auth/password", request_body = PasswordChangeRequest,
    responses((status = 204), (status = 401, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn change(
    StateX(state): StateX<State>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    user: AuthUser,
    Body(req): Body<PasswordChangeRequest>,
) -> ApiResult<StatusCode> {
    let row = prove_current(&state, &user, peer, &headers, &req.current_login_secret).await?;
    store_password(&state, user.id, &req.new, Some(&user.session)).await?;
    tracing::info!(user = %row.username, "password changed; other sessions ended");
    Ok(StatusCode::NO_CONTENT)
}

/// Keeps a recovery key's hash and the master key wrapped under it
/// (replacing an earlier one).
#[utoipa::path(post, path = "/v1/auth/recovery-key", request_body = RecoveryKeyRequest,
    responses((status = 204), (status = 401, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn set_recovery_key(
    StateX(state): StateX<State>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    user: AuthUser,
    Body(req): Body<RecoveryKeyRequest>,
) -> ApiResult<StatusCode> {
    let row = prove_current(&state, &user, peer, &headers, &req.current_login_secret).await?;
    let secret: [u8; 32] = hex_field("recovery_secret", &req.recovery_secret)?;
    pyxis_proto::format::wrapped::WrappedKey::parse(&req.wrapped_master_key)
        .map_err(|e| ApiError::bad_request(ErrorCode::BadWrappedKey, e.to_string()))?;
    state.db.set_recovery(user.id, blake3::hash(&secret).as_bytes(), &req.wrapped_master_key).await?;
    tracing::info!(user = %row.username, "recovery key set");
    Ok(StatusCode::NO_CONTENT)
}

/// With the recovery key's secret: its wrapping of the master key, and, with
/// a new password, that password set, every session ended and a new one.
/// Unknown names, accounts without a recovery key and wrong keys get the
/// same answer.
#[utoipa::path(post, path = "/v1/auth/recover", request_body = RecoverRequest,
    responses((status = 200, body = RecoverResponse), (status = 401, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn recover(
    StateX(state): StateX<State>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Body(req): Body<RecoverRequest>,
) -> ApiResult<Json<RecoverResponse>> {
    let ip = crate::limits::client_ip(peer.0.ip(), &headers, &state.limits.opts.trusted_proxies);
    state.limits.login_attempt(&req.username, ip)?;
    let secret: [u8; 32] = hex_field("recovery_secret", &req.recovery_secret)?;
    let wrong = || ApiError::unauthorized(ErrorCode::WrongRecoveryKey, "wrong username or recovery key");
    let user = state.db.user_by_name(&req.username).await?.ok_or_else(wrong)?;
    let (hash, wrapped) = state.db.recovery_of(user.id).await?.ok_or_else(wrong)?;
    if !same_hash(blake3::hash(&secret).as_bytes(), &hash) {
        return Err(wrong());
    }
    super::accounts::refuse_disabled(&user)?;
    let session = match &req.new_password {
        None => None,
        Some(new) => {
            store_password(&state, user.id, new, None).await?;
            let user = state.db.user_by_id(user.id).await?.ok_or_else(wrong)?;
            tracing::info!(user = %user.username, "password set with the recovery key; every session ended");
            Some(new_session(&state, &user, req.device.as_deref()).await?)
        }
    };
    Ok(Json(RecoverResponse { recovery_wrapped_master_key: wrapped, session }))
}

/// The owner deletes the account: every session ends at once, and after the
/// grace (`--account-grace`, 7 days by default) its files are removed and
/// their storage freed. Until then the operator can enable it again.
#[utoipa::path(post, path = "/v1/account/delete", request_body = AccountDeleteRequest,
    responses((status = 200, body = AccountDeleteResponse), (status = 401, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn delete_account(
    StateX(state): StateX<State>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    user: AuthUser,
    Body(req): Body<AccountDeleteRequest>,
) -> ApiResult<Json<AccountDeleteResponse>> {
    let row = prove_current(&state, &user, peer, &headers, &req.current_login_secret).await?;
    let delete_after = crate::db::now_ms() + state.opts.account_grace.as_millis() as i64;
    state.db.schedule_deletion(user.id, delete_after).await?;
    tracing::warn!(user = %row.username, delete_after, "account deleted by its owner; files go after the grace");
    Ok(Json(AccountDeleteResponse { delete_after }))
}
