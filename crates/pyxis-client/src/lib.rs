//! The Pyxis client library: accounts, and put/get of files and trees over
//! a Pyxis network. The CLI is a thin layer over [`Client`].
//!
//! Everything the server and remotes receive is already encrypted here; see
//! docs/ARCHITECTURE.md for the path a byte travels. The rooms:
//!
//! - [`client`]: the logged-in [`Client`] and its verbs; [`ctx`]: the
//!   context every transfer shares; [`version`]: opening and binding one
//!   version of a file, shared by every verb that reads or writes one.
//! - [`put`]: a file or tree into the catalog (plan, pack, skip unchanged,
//!   upload, commit); [`get`]: out of it (reader, fetch, place).
//! - [`trust`]: what the client checks before it believes the server
//!   (bindings, whose keys open what, the memory of versions seen, pinned
//!   keys); [`share`]: making and reading shares.
//! - [`api`] and [`transfer`]: the wire to the server and to remotes;
//!   [`account`] and [`config`]: logins and the device's saved session.

pub mod account;
pub mod api;
pub mod batch;
pub mod check;
pub mod client;
pub mod config;
pub mod ctx;
pub mod edit;
pub mod error;
pub mod get;
pub mod history;
pub mod progress;
pub mod put;
pub mod share;
pub mod transfer;
pub mod trust;
pub mod version;
mod view;

pub use crate::api::Api;
pub use crate::client::{Client, ClientOptions, PutOptions};
pub use crate::config::{ConfigDir, Session};
pub use crate::error::{ClientError, Result};

/// Installs aws-lc-rs as rustls's crypto provider, once per process (a second
/// provider in the dependency graph would otherwise make rustls panic).
pub fn init_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
