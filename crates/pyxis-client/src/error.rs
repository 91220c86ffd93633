//! Client errors. API failures keep the server's stable `code`, so callers
//! (and the CLI's exit message) can tell a wrong password from a full quota.

use pyxis_proto::api::ErrorCode;
use thiserror::Error;

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server (or a remote) answered with an error: `code` is what its
    /// body named, [`ErrorCode::Unknown`] when it sent no error body.
    #[error("{message}")]
    Api { status: u16, code: ErrorCode, message: String },

    #[error("cannot reach the server at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },

    #[error("not logged in: run `pyxis login USER` (or `pyxis signup USER`)")]
    NotLoggedIn,

    #[error(transparent)]
    Core(#[from] pyxis_core::Error),

    #[error(transparent)]
    Crypto(#[from] pyxis_crypto::Error),

    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },

    #[error(transparent)]
    Path(#[from] pyxis_proto::path::PathError),

    #[error("{path}: changed while it was being read (size or modification time moved); try again")]
    Changed { path: String },

    #[error("chunk {id}: cannot read it from any remote ({why})")]
    Unreadable { id: pyxis_proto::ChunkId, why: String },

    #[error("shard upload failed after {attempts} tries: {last}")]
    UploadFailed { attempts: usize, last: String },

    #[error("{0}")]
    Invalid(String),

    /// A put's reader stopped feeding the upload because the upload ended
    /// (it failed; its error is the one to report).
    #[error("upload stopped")]
    Stopped,

    /// A worker task of this client ended without an answer (it panicked
    /// or was cancelled): a fault here, not in the input.
    #[error("{task} task: {why}")]
    Task { task: &'static str, why: String },

    /// A catalog answer that does not match what its writer bound: nothing
    /// of it was written or trusted.
    #[error("{path}: refused what the server sent: {why}; it may have swapped, altered or made it up")]
    Tampered { path: String, why: String },

    /// The server serves an older version than this device has seen.
    #[error(
        "{path}: the server serves version {served}, but this device has seen version {seen}: \
         the server rolled it back, or was restored from an older backup. If that is what happened, \
         `pyxis accept-rollback` accepts the server's state"
    )]
    Rollback { path: String, seen: i64, served: i64 },

    #[error("{failed} of {total} files failed; first: {first}")]
    Partial { failed: usize, total: usize, first: String },
}

impl ClientError {
    /// The server's error code, if this came from the server.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The code as people and scripts see it (`--json`): the server's, or
    /// `http_STATUS` for an answer that named none.
    pub fn code_label(&self) -> Option<String> {
        match self {
            ClientError::Api { code: ErrorCode::Unknown, status, .. } => Some(format!("http_{status}")),
            ClientError::Api { code, .. } => Some(code.as_str().to_owned()),
            _ => None,
        }
    }

    /// Worth retrying: the server could not be reached or answered that it
    /// is restarting or overloaded.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { source, .. } => {
                (source.is_connect() || source.is_timeout() || source.is_request() || source.is_body())
                    && !is_tls_refusal(source)
            }
            // A 503 that names a lasting condition (too few remotes for a
            // placement) is an answer, not an outage: the caller decides.
            ClientError::Api { status, code, .. } => {
                matches!(status, 502 | 504) || (*status == 503 && *code != ErrorCode::NotEnoughRemotes)
            }
            _ => false,
        }
    }

    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        ClientError::Io { path: path.to_string(), source }
    }
}

/// A TLS refusal (a certificate this client does not trust, a handshake the
/// peer refused): waiting does not change it, so it is not retried. (The
/// rustls error sits inside `io::Error`s, whose `source` skips it.)
fn is_tls_refusal(e: &reqwest::Error) -> bool {
    fn rustls_inside(e: &(dyn std::error::Error + 'static)) -> bool {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            return rustls_inside(inner);
        }
        e.source().is_some_and(rustls_inside)
    }
    std::error::Error::source(e).is_some_and(rustls_inside)
}
