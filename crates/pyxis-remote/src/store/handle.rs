//! The store handle and what its clones share: the writer thread's channel,
//! the index, and the flags of its lifecycle. Apart from the store's methods
//! (in `mod.rs`, and compaction's in `compact.rs`), so both can name it
//! without importing each other.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};

use super::types::StoreOptions;
use super::writer::{Op, Shared};

/// A handle to an open store; clones share it.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) dir: PathBuf,
    pub(super) opts: StoreOptions,
    pub(super) shared: Arc<Shared>,
    pub(super) tx: mpsc::Sender<Op>,
    pub(super) writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub(super) closed: AtomicBool,
    /// One compaction at a time; `close` takes it to wait for a running one.
    pub(super) compacting: tokio::sync::Mutex<()>,
}

/// Runs blocking work on tokio's blocking pool; a panic there is re-raised here.
pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
