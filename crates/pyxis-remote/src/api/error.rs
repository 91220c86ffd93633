//! The one HTTP error type: a status, a stable machine-readable code and a
//! sentence, sent as JSON `ErrorBody` so clients can map codes back to errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pyxis_crypto::grants::GrantError;
use pyxis_proto::api::{ErrorBody, ErrorCode};

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn not_registered() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotRegistered,
            "this remote has not registered with its server yet; retry shortly",
        )
    }

    pub fn bad_hash(raw: &str, why: impl std::fmt::Display) -> Self {
        let shown: String = raw.chars().take(80).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadHash,
            format!("{shown:?} is not a shard hash (64 hex digits): {why}"),
        )
    }
}

/// Missing or unverifiable grants are 401, valid grants for something else 403;
/// the code says which check failed.
impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        let code = match &e {
            GrantError::Missing => ErrorCode::GrantMissing,
            GrantError::Malformed(_) => ErrorCode::GrantMalformed,
            GrantError::BadSignature => ErrorCode::GrantBadSignature,
            GrantError::Expired { .. } => ErrorCode::GrantExpired,
            GrantError::WrongOp { .. } => ErrorCode::GrantWrongOp,
            GrantError::WrongRemote { .. } => ErrorCode::GrantWrongRemote,
            GrantError::WrongShard { .. } => ErrorCode::GrantWrongShard,
            GrantError::TooLarge { .. } => ErrorCode::GrantTooSmall,
            GrantError::WrongSize { .. } => ErrorCode::GrantWrongSize,
            _ if e.is_unauthenticated() => ErrorCode::GrantInvalid,
            _ => ErrorCode::GrantForbidden,
        };
        let status = if e.is_unauthenticated() { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
        Self::new(status, code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match &e {
            StoreError::HashMismatch { .. } => (StatusCode::BAD_REQUEST, ErrorCode::HashMismatch),
            StoreError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
            StoreError::Full { .. } => (StatusCode::INSUFFICIENT_STORAGE, ErrorCode::Full),
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            StoreError::Corrupt(_) => (StatusCode::NOT_FOUND, ErrorCode::Corrupt),
            StoreError::Closed => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ShuttingDown),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Storage),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "store failure");
        }
        Self::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code, message: self.message };
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
        assert_eq!((e.status, e.code), (StatusCode::UNAUTHORIZED, ErrorCode::GrantExpired));
        let e = ApiError::from(GrantError::WrongOp { granted: GrantOp::Get, asked: GrantOp::Put });
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, ErrorCode::GrantWrongOp));
        assert!(e.message.contains("get"));
    }

    #[test]
    fn store_errors_map_to_stable_codes() {
        let e = ApiError::from(StoreError::Corrupt(ShardHash([0; 32])));
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, ErrorCode::Corrupt));
        let e = ApiError::from(StoreError::Full { len: 1, used: 2, pending: 0, capacity: 2 });
        assert_eq!((e.status, e.code), (StatusCode::INSUFFICIENT_STORAGE, ErrorCode::Full));
    }
}
