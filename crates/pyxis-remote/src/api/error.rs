//! The one HTTP error type: a status, a stable machine-readable code and a
//! sentence, sent as JSON `ErrorBody` so clients can map codes back to errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pyxis_crypto::grants::GrantError;
use pyxis_proto::api::ErrorBody;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn not_registered() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_registered",
            "this remote has not registered with its server yet; retry shortly",
        )
    }

    pub fn bad_hash(raw: &str, why: impl std::fmt::Display) -> Self {
        let shown: String = raw.chars().take(80).collect();
        Self::new(StatusCode::BAD_REQUEST, "bad_hash", format!("{shown:?} is not a shard hash (64 hex digits): {why}"))
    }
}

/// Missing or unverifiable grants are 401, valid grants for something else 403;
/// the code says which check failed.
impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        let code = match &e {
            GrantError::Missing => "grant_missing",
            GrantError::Malformed(_) => "grant_malformed",
            GrantError::BadSignature => "grant_bad_signature",
            GrantError::Expired { .. } => "grant_expired",
            GrantError::WrongOp { .. } => "grant_wrong_op",
            GrantError::WrongRemote { .. } => "grant_wrong_remote",
            GrantError::WrongShard { .. } => "grant_wrong_shard",
            GrantError::TooLarge { .. } => "grant_too_small",
            GrantError::WrongSize { .. } => "grant_wrong_size",
            _ if e.is_unauthenticated() => "grant_invalid",
            _ => "grant_forbidden",
        };
        let status = if e.is_unauthenticated() { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
        Self::new(status, code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::HashMismatch { .. } => (StatusCode::BAD_REQUEST, "hash_mismatch"),
            StoreError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            StoreError::Full { .. } => (StatusCode::INSUFFICIENT_STORAGE, "full"),
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::Corrupt(_) => (StatusCode::NOT_FOUND, "corrupt"),
            StoreError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "store failure");
        }
        Self::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: pyxis_proto::api::ErrorCode::parse(self.code), message: self.message };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyxis_proto::ShardHash;
    use pyxis_proto::grant::GrantOp;

    #[test]
    fn grant_errors_split_into_401_and_403() {
        let e = ApiError::from(GrantError::Expired { expired: 1, now: 2 });
        assert_eq!((e.status, e.code), (StatusCode::UNAUTHORIZED, "grant_expired"));
        let e = ApiError::from(GrantError::WrongOp { granted: GrantOp::Get, asked: GrantOp::Put });
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "grant_wrong_op"));
        assert!(e.message.contains("get"));
    }

    #[test]
    fn store_errors_map_to_stable_codes() {
        let e = ApiError::from(StoreError::Corrupt(ShardHash([0; 32])));
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "corrupt"));
        let e = ApiError::from(StoreError::Full { len: 1, used: 2, pending: 0, capacity: 2 });
        assert_eq!((e.status, e.code), (StatusCode::INSUFFICIENT_STORAGE, "full"));
    }
}
