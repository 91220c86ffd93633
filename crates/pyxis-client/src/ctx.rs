//! The context every transfer of one client shares: the server, the keys
//! and what opens what is read, the lanes and encoders that bound the work
//! in flight, the network's scheme, and this device's memory of versions
//! seen. Also each blocking thread's codec, which put and get both use.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyxis_core::codec::ChunkCodec;
use pyxis_crypto::keys::Keyring;
use pyxis_proto::{ChunkId, Scheme};
use tokio::sync::Semaphore;

use crate::api::Api;
use crate::error::Result;
use crate::progress::Progress;
use crate::share::SharedTree;
use crate::trust::opener::Opener;
use crate::trust::seen::Seen;

/// Shared state of one client's transfers.
#[derive(Debug)]
pub struct Ctx {
    pub api: Api,
    /// The client for shard transfers (a stalled remote fails them; the
    /// API's client waits on long polls).
    pub shards: reqwest::Client,
    pub keys: Arc<Keyring>,
    /// What opens and checks what is read: `keys`, or a share's.
    pub opener: Arc<Opener>,
    pub progress: Arc<Progress>,
    /// Concurrent shard transfers.
    pub lanes: Arc<Semaphore>,
    /// Concurrent encodes (one per core).
    pub encoders: Arc<Semaphore>,
    /// Set when a placement used fewer than two parity shards.
    pub reduced: AtomicBool,
    /// The scheme the network uses now (the server's answer to `network`).
    pub scheme: Mutex<Option<Scheme>>,
    /// Chunks placed by the put in progress (given back if it fails).
    pub placed: Mutex<Vec<ChunkId>>,
    /// What this device has seen of the catalog (rollback detection).
    pub seen: Arc<Seen>,
}

thread_local! {
    // One codec per worker thread: its zstd and Reed-Solomon state is reused.
    static CODEC: RefCell<Option<ChunkCodec>> = const { RefCell::new(None) };
}

impl Ctx {
    /// A context that reads the tree of a share made to this user: calls go
    /// through the share, what they answer is opened with its keys and
    /// remembered in `seen` (its own memory, apart from this account's).
    pub fn through_share(&self, tree: SharedTree, seen: Seen) -> Ctx {
        Ctx {
            api: self.api.through_share(tree.info.id),
            shards: self.shards.clone(),
            keys: self.keys.clone(),
            opener: Arc::new(Opener::new(self.keys.clone(), Some(Arc::new(tree)))),
            progress: self.progress.clone(),
            lanes: self.lanes.clone(),
            encoders: self.encoders.clone(),
            reduced: AtomicBool::new(false),
            scheme: Mutex::new(None),
            placed: Mutex::new(Vec::new()),
            seen: Arc::new(seen),
        }
    }

    /// The network's scheme, asked of the server once and again after it changed.
    pub async fn scheme(&self) -> Result<Scheme> {
        if let Some(s) = *self.scheme.lock().expect("scheme lock") {
            return Ok(s);
        }
        self.refresh_scheme().await
    }

    pub async fn refresh_scheme(&self) -> Result<Scheme> {
        let n = self.api.network().await?;
        if n.reduced {
            self.reduced.store(true, Ordering::Relaxed);
        }
        *self.scheme.lock().expect("scheme lock") = Some(n.scheme);
        Ok(n.scheme)
    }
}

/// Runs `f` with this (blocking) thread's codec.
pub fn with_codec<T>(f: impl FnOnce(&mut ChunkCodec) -> pyxis_core::Result<T>) -> pyxis_core::Result<T> {
    CODEC.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(ChunkCodec::new()?);
        }
        f(slot.as_mut().expect("codec just set"))
    })
}
