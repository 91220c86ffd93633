//! The account's logged-in devices: each is a live session, named by the
//! device when it logged in. Revoking one ends that session at once (its
//! token is refused from the next call).

use axum::Json;
use axum::extract::State as StateX;
use axum::http::StatusCode;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::auth::{DeviceInfo, DevicesResponse, RevokeDeviceRequest};

use super::extract::Body;
use crate::State;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};

/// What a session is called outside: 16 hex digits of a hash of its id, so
/// that a listing never hands out what a token is made of.
fn public_id(session: &str) -> String {
    pyxis_proto::hex::encode(&blake3::hash(session.as_bytes()).as_bytes()[..8])
}

#[utoipa::path(get, path = "/v1/devices", responses((status = 200, body = DevicesResponse)), tag = "accounts")]
pub async fn list(StateX(state): StateX<State>, user: AuthUser) -> ApiResult<Json<DevicesResponse>> {
    let devices = state
        .db
        .sessions_of(user.id)
        .await?
        .into_iter()
        .map(|s| DeviceInfo {
            id: public_id(&s.id),
            current: s.id == user.session,
            device: s.device,
            logged_in_at: s.created_at,
            expires_at: s.expires_at,
        })
        .collect();
    Ok(Json(DevicesResponse { devices }))
}

#[utoipa::path(post, path = "/v1/devices/revoke", request_body = RevokeDeviceRequest,
    responses((status = 204), (status = 404, body = pyxis_proto::api::ErrorBody)), tag = "accounts")]
pub async fn revoke(
    StateX(state): StateX<State>,
    user: AuthUser,
    Body(req): Body<RevokeDeviceRequest>,
) -> ApiResult<StatusCode> {
    let sessions = state.db.sessions_of(user.id).await?;
    let Some(s) = sessions.iter().find(|s| public_id(&s.id) == req.id) else {
        return Err(ApiError::not_found(
            ErrorCode::NoDevice,
            format!("no logged-in device {:?} on this account", req.id),
        ));
    };
    state.db.revoke_session(&s.id).await?;
    tracing::info!(user = user.id, device = ?s.device, "device logged out");
    Ok(StatusCode::NO_CONTENT)
}
