//! Fetching and decoding chunks for `get` and `check`: each chunk from any k
//! of its shards, data shards first (no Reed–Solomon work), skipping a
//! remote that is down, refuses, or returns a shard that fails its hash,
//! and asking another remote for a spare when one falls behind the others
//! (a hedge: the first k good shards win, the rest are cancelled).
//! Locations come from the on-disk cache when fresh; a failure with a cached
//! location asks the server again before giving up. A chunk asked for by
//! several files at once is fetched once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{FuturesUnordered, StreamExt};
use pyxis_core::codec::ChunkBuf;
use pyxis_crypto::keys::ChunkKey;
use pyxis_crypto::shard::verify_shard;
use pyxis_proto::ChunkId;
use pyxis_proto::api::chunks::{ChunkLocation, LocateRequest};

use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::get::cache::LocationCache;
use crate::progress::Progress;
use crate::transfer;

/// Decoded chunks kept for files that share them (packed small files, read
/// in path order, so neighbours share and a short window suffices: the 16
/// files assembled at once span two or three chunks). Each is up to 4 MiB;
/// 32 of them were two thirds of a tree get's peak heap.
const CHUNK_CACHE: usize = 8;
/// A chunk waiting on its slowest shard this long past twice what its first
/// shard took (at least `HEDGE_MIN`) asks one more remote for a spare.
const HEDGE_MIN: Duration = Duration::from_millis(500);
/// The same before any shard has arrived (a connection and a first answer).
const HEDGE_FIRST: Duration = Duration::from_secs(3);
/// Ids per locate request.
const LOCATE_BATCH: usize = 1024;

type ChunkResult = std::result::Result<Arc<ChunkBuf>, Arc<String>>;
/// A chunk being fetched (or fetched), shared by every file that asks for it.
type SharedChunk = Shared<BoxFuture<'static, ChunkResult>>;

/// Fetches and decodes chunks, sharing work between files.
pub struct Reader {
    pub(crate) ctx: Arc<Ctx>,
    locations: Arc<LocationCache>,
    chunks: Mutex<(HashMap<ChunkId, SharedChunk>, VecDeque<ChunkId>)>,
    /// Chunks of versions another user wrote through a share: theirs.
    owners: Mutex<HashMap<ChunkId, String>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

impl Reader {
    pub fn new(ctx: Arc<Ctx>, locations: Arc<LocationCache>) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            locations,
            chunks: Mutex::new((HashMap::new(), VecDeque::new())),
            owners: Mutex::new(HashMap::new()),
        })
    }

    /// Notes whose chunks a version uses (a writer's, not the tree owner's),
    /// before any of them is fetched.
    pub(crate) fn note(&self, fv: &pyxis_proto::api::catalog::FileVersion) {
        if let Some(w) = &fv.chunks_of {
            let mut owners = self.owners.lock().expect("owners lock");
            for id in &fv.chunks {
                owners.insert(*id, w.clone());
            }
        }
    }

    pub(crate) fn owner(&self, id: &ChunkId) -> Option<String> {
        self.owners.lock().expect("owners lock").get(id).cloned()
    }

    /// Locates (and caches) every chunk among `ids` not cached yet.
    pub(crate) async fn prefetch(&self, ids: impl IntoIterator<Item = ChunkId>) -> Result<()> {
        let mut want: Vec<(Option<String>, ChunkId)> =
            ids.into_iter().filter(|id| self.locations.get(id).is_none()).map(|id| (self.owner(&id), id)).collect();
        want.sort_unstable();
        want.dedup();
        for group in want.chunk_by(|a, b| a.0 == b.0) {
            for batch in group.chunks(LOCATE_BATCH) {
                Progress::add(&self.ctx.progress.locates, 1);
                let req = LocateRequest { ids: batch.iter().map(|(_, id)| *id).collect(), of: batch[0].0.clone() };
                let resp = self.ctx.api.locate(&req).await?;
                for loc in resp.chunks {
                    self.locations.put(loc, resp.expires_at);
                }
            }
        }
        Ok(())
    }

    async fn locate_fresh(&self, id: ChunkId) -> Result<ChunkLocation> {
        self.locations.forget(&id);
        Progress::add(&self.ctx.progress.locates, 1);
        let resp = self.ctx.api.locate(&LocateRequest { ids: vec![id], of: self.owner(&id) }).await?;
        let loc =
            resp.chunks.into_iter().next().ok_or_else(|| ClientError::Invalid(format!("chunk {id} not located")))?;
        self.locations.put(loc.clone(), resp.expires_at);
        Ok(loc)
    }

    /// A decoded chunk, fetched once however many files ask for it.
    pub async fn chunk(self: &Arc<Self>, id: ChunkId, key: [u8; 32]) -> Result<Arc<ChunkBuf>> {
        let fut = {
            let mut guard = self.chunks.lock().expect("chunk cache lock");
            let (map, order) = &mut *guard;
            if let Some(f) = map.get(&id) {
                f.clone()
            } else {
                let me = self.clone();
                let f =
                    async move { me.fetch(id, ChunkKey::from_bytes(key)).await.map_err(|e| Arc::new(e.to_string())) }
                        .boxed()
                        .shared();
                map.insert(id, f.clone());
                order.push_back(id);
                while order.len() > CHUNK_CACHE {
                    if let Some(old) = order.pop_front() {
                        map.remove(&old);
                    }
                }
                f
            }
        };
        fut.await.map_err(|why| ClientError::Unreadable { id, why: why.to_string() })
    }

    /// A decoded chunk that no other file shares: fetched without the cache.
    pub async fn fetch_uncached(&self, id: ChunkId, key: [u8; 32]) -> Result<Arc<ChunkBuf>> {
        self.fetch(id, ChunkKey::from_bytes(key)).await
    }

    async fn fetch(&self, id: ChunkId, key: ChunkKey) -> Result<Arc<ChunkBuf>> {
        let cached = self.locations.get(&id);
        let first_try = match cached {
            Some(loc) => match self.fetch_from(&loc, &key).await {
                Ok(buf) => return Ok(buf),
                Err(e) => Some(e),
            },
            None => None,
        };
        // No cached location, or a stale one: ask the server.
        let loc = self.locate_fresh(id).await?;
        self.fetch_from(&loc, &key).await.map_err(|e| match first_try {
            Some(f) => ClientError::Unreadable { id, why: format!("{e}; with cached locations: {f}") },
            None => e,
        })
    }

    /// Reads `k` good shards from `loc` and decodes them.
    async fn fetch_from(&self, loc: &ChunkLocation, key: &ChunkKey) -> Result<Arc<ChunkBuf>> {
        let k = loc.scheme.data();
        let mut next = 0;
        let mut got: Vec<(usize, Bytes)> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut inflight = FuturesUnordered::new();
        // How long the first shard took: what "falling behind" is measured by.
        let (began, mut first) = (Instant::now(), None::<Duration>);
        let http = self.ctx.shards.clone();
        let max_len = pyxis_proto::format::shard::shard_len(loc.blob_len as usize, loc.scheme);
        let start = |i: usize, inflight: &mut FuturesUnordered<_>| {
            let t = loc.shards[i].clone();
            let (http, lanes) = (http.clone(), self.ctx.lanes.clone());
            inflight.push(async move {
                let _lane = lanes.acquire_owned().await;
                (i, transfer::get_shard(&http, &t, max_len).await)
            });
        };
        loop {
            while got.len() + inflight.len() < k && next < loc.shards.len() {
                start(next, &mut inflight);
                next += 1;
            }
            if got.len() == k {
                match self.decode(loc, key, &got).await {
                    Ok(buf) => return Ok(buf),
                    Err(Bad::Shard(i, why)) => {
                        errors.push(why);
                        got.retain(|(j, _)| *j != i);
                        continue;
                    }
                    Err(Bad::Chunk(e)) => return Err(e),
                }
            }
            // A shard that keeps the chunk waiting past the hedge gets a
            // spare asked for beside it, from another remote; whichever k
            // arrive first are used, and the rest are cancelled on return.
            let hedge = first.map_or(HEDGE_FIRST, |t| (t * 2).max(HEDGE_MIN));
            let waited = if next < loc.shards.len() {
                match tokio::time::timeout(hedge, inflight.next()).await {
                    Ok(r) => r,
                    Err(_) => {
                        Progress::add(&self.ctx.progress.hedges, 1);
                        start(next, &mut inflight);
                        next += 1;
                        continue;
                    }
                }
            } else {
                inflight.next().await
            };
            let Some((i, r)) = waited else {
                return Err(ClientError::Unreadable {
                    id: loc.id,
                    why: format!("only {} of {k} shards readable: {}", got.len(), errors.join("; ")),
                });
            };
            match r {
                Ok(bytes) => {
                    Progress::add(&self.ctx.progress.wire, bytes.len() as u64);
                    first.get_or_insert_with(|| began.elapsed());
                    got.push((i, bytes));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
    }

    async fn decode(
        &self,
        loc: &ChunkLocation,
        key: &ChunkKey,
        got: &[(usize, Bytes)],
    ) -> std::result::Result<Arc<ChunkBuf>, Bad> {
        let shards: Vec<(usize, Bytes, pyxis_proto::ShardHash)> =
            got.iter().map(|(i, b)| (*i, b.clone(), loc.shards[*i].hash)).collect();
        let (keys, id, key) = (self.ctx.opener.clone(), loc.id, key.clone());
        let owner = self.owner(&id);
        tokio::task::spawn_blocking(move || {
            let mut verified = Vec::with_capacity(shards.len());
            for (i, bytes, hash) in &shards {
                match verify_shard(bytes, hash) {
                    Ok(v) => verified.push(v),
                    Err(e) => return Err(Bad::Shard(*i, format!("shard {i}: {e}"))),
                }
            }
            crate::ctx::with_codec(|c| c.decode(&id, &key, &verified, keys.dedup_key(owner.as_deref())))
                .map(Arc::new)
                .map_err(|e| Bad::Chunk(e.into()))
        })
        .await
        .map_err(|e| Bad::Chunk(ClientError::Task { task: "decode", why: e.to_string() }))?
    }
}

enum Bad {
    Shard(usize, String),
    Chunk(ClientError),
}
