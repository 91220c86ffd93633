//! The server's two error types: `ApiError`, what an HTTP answer says (a
//! status, a stable [`ErrorCode`] and a sentence, rendered as
//! `{"code": ..., "message": ...}`), and `StartError`, why the server could
//! not start (what its binary prints before it exits).
//!
//! Policy: handlers return `ApiError` for everything a caller did wrong (with
//! a message naming the thing), and internal failures become 500 `internal`
//! with the detail logged, not sent. `StartError` names the file, setting or
//! address at fault and what to do about it. Inside the workers, failures
//! stay `anyhow` errors: they are logged and the pass runs again.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pyxis_proto::api::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (limits, overload).
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unavailable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal server error (see the server log)")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code, message: self.message };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(format!("database: {e}"))
    }
}

impl From<pyxis_proto::path::PathError> for ApiError {
    fn from(e: pyxis_proto::path::PathError) -> Self {
        ApiError::bad_request(ErrorCode::BadPath, e.to_string())
    }
}

/// Why the server did not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The data directory, or a file in it, is missing, unreadable or open
    /// to other users.
    #[error("{} {why}", path.display())]
    DataDir { path: PathBuf, why: String },

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("unsupported database URL {0:?} (use postgres://... or sqlite:...)")]
    DatabaseUrl(String),

    #[error("{what}: {source}")]
    Database { what: &'static str, source: sqlx::Error },

    #[error("migrating the catalog: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A secret kept in the catalog is not what this server wrote, or
    /// changed under it (another instance rotated the grant key at once).
    #[error("{0}")]
    Secret(String),

    #[error(transparent)]
    Crypto(#[from] pyxis_crypto::Error),

    #[error(
        "no TLS certificate: give --tls-cert and --tls-key (or run `pyxis up`, which makes them), \
         or --insecure-http to serve plain HTTP on a loopback address"
    )]
    NoTls,

    #[error(transparent)]
    Listen(#[from] pyxis_net::listen::ListenError),

    #[error(transparent)]
    Client(#[from] pyxis_net::ClientError),

    #[error("binding {addr} for metrics: {source}")]
    Metrics { addr: std::net::SocketAddr, source: std::io::Error },

    #[error("preparing the login checks: {0}")]
    Passwords(String),

    #[error("serving: {0}")]
    Serve(std::io::Error),

    /// The serving task ended without an answer (a panic: daemons abort on
    /// one, so this is seen only where that setting is off).
    #[error("the server task ended: {0}")]
    Task(String),
}

impl StartError {
    /// A database call that failed, named.
    pub fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StartError {
        move |source| StartError::Database { what, source }
    }
}
