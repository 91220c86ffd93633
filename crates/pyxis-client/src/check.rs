//! `pyxis check [--read-data]`, after restic's `check`: every current
//! version the account can see opens with its keys, agrees with the catalog,
//! and has its chunks placed on enough online remotes to be read; with
//! `read_data`, every chunk is fetched and decoded, which checks its shards'
//! hashes, its AEAD tag and that its plaintext hashes to its id.
//!
//! Every current version must be bound (docs/SECURITY.md, "Authenticated
//! versions"): one that is not, or whose binding fails, is a problem.
//!
//! Success is only ever reported from what the client verified itself: a
//! server that answers less (a file left out of a read, a chunk not
//! located) makes a problem, never a pass. What it cannot see is what the
//! server does not list (docs/SECURITY.md).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use pyxis_proto::ChunkId;
use pyxis_proto::api::catalog::{EntryKind, ReadRequest};
use pyxis_proto::api::chunks::LocateRequest;
use pyxis_proto::format::manifest::ManifestBody;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::error::Result;
use crate::get::reader::Reader;
use crate::put::plan::Skipped;
use crate::trust::binding::verify_version;
use crate::version::open_version;

/// Paths per read, chunks per locate.
const BATCH: usize = 256;
/// Chunks fetched at once with `read_data`.
const IN_FLIGHT: usize = 8;

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub files: u64,
    pub chunks: u64,
    /// Chunks fetched and decoded (`read_data`).
    pub chunks_read: u64,
    pub bytes_read: u64,
    /// Everything that failed, by path (or `chunk <id>` for a chunk no file
    /// could be named for).
    pub problems: Vec<Skipped>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub async fn check(ctx: Arc<Ctx>, reader: Arc<Reader>, root: &str, read_data: bool) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let mut problems = Vec::new();

    // Every file under the root, from the server's listing.
    let mut paths = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx.api.list(root, true, after.as_deref()).await?;
        for e in page.entries {
            let sane = pyxis_proto::path::normalize_existing(&e.path).ok().as_deref() == Some(e.path.as_str())
                && pyxis_proto::path::is_within(&e.path, root);
            if !sane {
                problems.push(problem(&e.path, format!("the server listed {:?}, which is not under {root}", e.path)));
            } else if e.kind == EntryKind::File {
                paths.push(e.path);
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }

    // Each version opens, and its sealed manifest agrees with the catalog.
    // chunk id -> (key, the files that use it)
    let mut chunks: BTreeMap<ChunkId, ([u8; 32], Vec<String>)> = BTreeMap::new();
    for batch in paths.chunks(BATCH) {
        let files = ctx.api.read(&ReadRequest { paths: batch.to_vec(), version: None }).await?.files;
        let answered: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for path in batch.iter().filter(|p| !answered.contains(p.as_str())) {
            problems.push(problem(path, "listed, but the server's read answer left it out".into()));
        }
        for fv in &files {
            if !batch.contains(&fv.path) {
                problems.push(problem(&fv.path, "answered to a read that did not ask for it".into()));
                continue;
            }
            report.files += 1;
            if fv.binding.is_none() {
                problems.push(problem(&fv.path, "not bound (written before bindings): run `pyxis upgrade`".into()));
            } else if let Err(e) = verify_version(&ctx.opener, &ctx.seen, fv, None) {
                problems.push(problem(&fv.path, e.to_string()));
                continue;
            }
            reader.note(fv);
            let body = match open_version(&ctx.opener, fv) {
                Ok(m) => m.body,
                Err(e) => {
                    problems.push(problem(&fv.path, format!("its version does not open: {e}")));
                    continue;
                }
            };
            if let ManifestBody::Chunks { entries, .. } = &body {
                let sealed: BTreeSet<ChunkId> = entries.iter().map(|e| e.id).collect();
                let listed: BTreeSet<ChunkId> = fv.chunks.iter().copied().collect();
                if sealed != listed {
                    problems
                        .push(problem(&fv.path, "the catalog's chunk list disagrees with the sealed manifest".into()));
                }
                for e in entries {
                    chunks.entry(e.id).or_insert_with(|| (e.key, Vec::new())).1.push(fv.path.clone());
                }
            }
        }
    }
    report.chunks = chunks.len() as u64;

    // Each chunk has at least k shards on online remotes.
    // (By whose chunks they are: a writer's through a share, or the owner's.)
    let mut ids: Vec<(Option<String>, ChunkId)> = chunks.keys().map(|id| (reader.owner(id), *id)).collect();
    ids.sort_unstable();
    let blame = |id: &ChunkId| chunks.get(id).map_or_else(|| format!("chunk {id}"), |(_, files)| files.join(", "));
    for batch in ids.chunk_by(|a, b| a.0 == b.0).flat_map(|g| g.chunks(BATCH)) {
        let of = batch[0].0.clone();
        let batch: Vec<ChunkId> = batch.iter().map(|(_, id)| *id).collect();
        let located = ctx.api.locate(&LocateRequest { ids: batch.clone(), of }).await?.chunks;
        let found: BTreeSet<ChunkId> = located.iter().map(|l| l.id).collect();
        for loc in &located {
            if loc.shards.len() < loc.scheme.data() {
                let why = format!(
                    "chunk {}: {} of the {} shards needed are online",
                    loc.id,
                    loc.shards.len(),
                    loc.scheme.data()
                );
                problems.push(problem(&blame(&loc.id), why));
            }
        }
        for id in batch.iter().filter(|id| !found.contains(id)) {
            problems.push(problem(&blame(id), format!("chunk {id}: the server does not know where it is")));
        }
    }

    // With read_data: every chunk fetched and decoded.
    if read_data {
        let mut reads = futures::stream::iter(chunks.iter().map(|(id, (key, _))| {
            let reader = reader.clone();
            let (id, key) = (*id, *key);
            async move { (id, reader.fetch_uncached(id, key).await) }
        }))
        .buffer_unordered(IN_FLIGHT);
        while let Some((id, r)) = reads.next().await {
            match r {
                Ok(buf) => {
                    report.chunks_read += 1;
                    report.bytes_read += buf.len() as u64;
                }
                Err(e) => problems.push(problem(&blame(&id), format!("chunk {id} does not read back: {e}"))),
            }
        }
    }
    report.problems = problems;
    Ok(report)
}

fn problem(path: &str, error: String) -> Skipped {
    Skipped { path: path.to_owned(), error }
}
