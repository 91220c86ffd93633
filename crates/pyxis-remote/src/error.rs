//! The remote's errors at its boundary: why it did not start or stopped
//! serving ([`StartError`]), and why an upkeep pass (a scrub or an
//! inventory reconciliation) failed ([`UpkeepError`]). Each names the file,
//! address or call at fault. The HTTP answers' error is `api::error`'s
//! `ApiError`, the store's `store::StoreError`.

use std::path::PathBuf;

use crate::identity::IdentityError;
use crate::link::LinkError;
use crate::quarantine::QuarantineError;
use crate::store::StoreError;

/// Why the remote did not start, or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error(transparent)]
    Identity(#[from] IdentityError),

    #[error(transparent)]
    Quarantine(#[from] QuarantineError),

    #[error("opening the shard store: {0}")]
    Store(#[from] StoreError),

    #[error(
        "no TLS certificate: give --tls-cert and --tls-key, or --insecure-http to serve plain HTTP on a \
         loopback address"
    )]
    NoTls,

    #[error(transparent)]
    Listen(#[from] pyxis_net::listen::ListenError),

    #[error("building the HTTP client: {0}")]
    Client(#[from] pyxis_net::ClientError),

    #[error("binding {addr} for metrics: {source}")]
    Metrics { addr: std::net::SocketAddr, source: std::io::Error },

    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),

    /// The HTTP server's task ended without an answer (cancelled).
    #[error("the HTTP server task: {0}")]
    Task(String),
}

/// Why a scrub or a reconciliation of the inventory did not finish (the
/// next one on the schedule tries again; nothing was deleted on a guess).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpkeepError {
    #[error("not registered with the server yet")]
    NotRegistered,

    #[error(transparent)]
    Link(#[from] LinkError),

    #[error(transparent)]
    Store(#[from] StoreError),

    #[error("writing the quarantine list: {0}")]
    Quarantine(std::io::Error),
}
