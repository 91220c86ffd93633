//! Puts and gets of chosen files, each against the version it is based on:
//! what a sync engine asks of the data path. A tree's `put` and `get` walk
//! whole directories; these take lists, so one pass of a sync sends all it
//! has to in a few round trips whatever the number of files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyxis_core::chunker::Chunker;
use pyxis_core::manifest::{ContentHasher, content_hash_of_chunks, version_hash};
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::Entry;

use crate::error::{ClientError, Result};
use crate::get::seed::Seed;
use crate::put::plan::{Plan, Planned, Skipped};
use crate::trust::binding::{Head, verify_entry};
use crate::version::Landed;
use crate::{Client, get, put};

/// A verified listing of a subtree.
#[derive(Debug, Default)]
pub struct Tree {
    /// Entries whose bindings verified (files and directories).
    pub entries: Vec<Entry>,
    /// The verified current version of each file, by path.
    pub heads: HashMap<String, Head>,
    /// Entries the client refused (their binding did not verify), with why.
    pub refused: Vec<Skipped>,
}

impl Client {
    /// A client acting in the tree of a share (`@OWNER/PATH`): what it
    /// lists, reads and (through a write share) writes is the owner's, each
    /// version checked with the share's keys. Returns it, the path in the
    /// owner's tree, and whether the share lets this user write.
    pub async fn in_share(&self, path: &str) -> Result<(Client, String, bool)> {
        let (ctx, inner) = self.view(path).await?;
        let Some(t) = ctx.opener.shared() else {
            return Err(ClientError::Invalid(format!("{path} is not a share's path (@OWNER/PATH)")));
        };
        let writable = t.writable().is_ok();
        let mut c = self.clone();
        c.ctx = ctx;
        Ok((c, inner, writable))
    }

    /// Loads who may write into one's own tree again (a share's view has
    /// its own): versions they wrote are checked against it.
    pub async fn refresh_writers(&self) -> Result<()> {
        self.prepare().await
    }

    async fn prepare(&self) -> Result<()> {
        if self.ctx.opener.shared().is_none() {
            self.ready().await?;
        }
        Ok(())
    }

    /// Lists everything under `root` (itself included, when it exists),
    /// each file checked against its binding. A root that does not exist
    /// is an empty tree.
    pub async fn tree(&self, root: &str) -> Result<Tree> {
        self.prepare().await?;
        let ctx = &self.ctx;
        let root = pyxis_proto::path::normalize_existing(root)?;
        let mut tree = Tree::default();
        let entries = match ctx.api.list_all(&root, true, crate::api::MAX_LISTED).await {
            Ok(e) => e,
            Err(e) if e.code() == Some(ErrorCode::NotFound) => return Ok(tree),
            Err(e) => return Err(e),
        };
        for e in entries {
            let normal = pyxis_proto::path::normalize_existing(&e.path).ok().as_deref() == Some(e.path.as_str());
            if !normal || !pyxis_proto::path::is_within(&e.path, &root) || e.path == root {
                tree.refused.push(Skipped { path: e.path, error: format!("listed, but not under {root}") });
                continue;
            }
            match verify_entry(&ctx.opener, &ctx.seen, &e) {
                Ok(Some(h)) => {
                    tree.heads.insert(e.path.clone(), h);
                    tree.entries.push(e);
                }
                Ok(None) => tree.entries.push(e),
                Err(err) => tree.refused.push(Skipped { path: e.path, error: err.to_string() }),
            }
        }
        ctx.seen.save()?;
        Ok(tree)
    }

    /// One entry, checked against its binding, with its verified head (a
    /// file's); `None` if nothing is there now.
    pub async fn stat_verified(&self, path: &str) -> Result<Option<(Entry, Option<Head>)>> {
        let e = match self.ctx.api.stat(path).await {
            Ok(e) => e,
            Err(e) if e.code() == Some(ErrorCode::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        if e.path != path {
            return Err(ClientError::Tampered {
                path: path.to_owned(),
                why: format!("the server answered for {:?}", e.path),
            });
        }
        let head = verify_entry(&self.ctx.opener, &self.ctx.seen, &e)?;
        self.ctx.seen.save()?;
        Ok(Some((e, head)))
    }

    /// Puts local files at catalog paths, each only over the version in
    /// `heads` (none: only as a new file). A file whose current version
    /// moved on is left out, failed with [`crate::put::commit::CHANGED_ON_SERVER`];
    /// one that changes while it is read fails too. The report's `landed`
    /// says which version each committed file became.
    pub async fn put_files(
        &self,
        files: Vec<(PathBuf, String)>,
        heads: HashMap<String, Head>,
    ) -> Result<put::PutReport> {
        self.ready().await?;
        let mut plan = Plan { strict: true, heads, ..Default::default() };
        for (src, dst) in files {
            match std::fs::symlink_metadata(&src).map(|m| Planned::from_meta(src.clone(), dst.clone(), &m)) {
                Ok(Some(p)) => plan.add(p),
                Ok(None) => plan.skipped.push(Skipped { path: dst, error: "not a file or a link".into() }),
                Err(e) => plan.skipped.push(Skipped { path: dst, error: e.to_string() }),
            }
        }
        plan.inline.sort_by(|a, b| a.dst.cmp(&b.dst));
        plan.packed.sort_by(|a, b| a.dst.cmp(&b.dst));
        let report = put::put(self.ctx.clone(), self.chunker, plan).await;
        self.ctx.seen.save()?;
        report
    }

    /// Writes the current versions of catalog paths to local paths (their
    /// directories must exist): staging paths of the caller's, which it
    /// renames into place once this returns them as written (a small file
    /// is written there directly; a big one still through a temporary
    /// name). Returns what was written, and what failed with why.
    ///
    /// `seeds` names, by catalog path, a local file (an older copy) whose
    /// chunks are taken instead of fetched wherever they still match, and
    /// the version that copy is, if known (its manifest then says where its
    /// chunks are; else the file is chunked to find them).
    pub async fn get_files(
        &self,
        files: Vec<(String, PathBuf)>,
        seeds: Vec<(String, PathBuf, Option<i64>)>,
    ) -> Result<(Vec<Landed>, Vec<Skipped>)> {
        self.prepare().await?;
        let reader = get::reader::Reader::new(self.ctx.clone(), self.locations.clone());
        let mut failed = Vec::new();
        let mut found = HashMap::new();
        for (path, local, version) in seeds {
            let known = match version {
                Some(v) => self.seed_of_version(&path, v, &local).await,
                None => None,
            };
            let seed = match known {
                Some(s) => Some(s),
                None => {
                    let (keys, params) = (self.ctx.keys.clone(), self.chunker);
                    tokio::task::spawn_blocking(move || Seed::index(&keys, params, &local)).await.ok().flatten()
                }
            };
            if let Some(s) = seed {
                found.insert(path, Arc::new(s));
            }
        }
        let seeds = found;
        // The destinations are the caller's staging paths (sync renames them
        // into place after checking what is there): no temporary name first.
        let landed = crate::get::fetch::fetch_files(&reader, &files, &seeds, &mut failed, true).await?;
        self.locations.save();
        self.ctx.seen.save()?;
        Ok((landed, failed))
    }

    /// The hash the catalog would keep for local file (or link) `path` if
    /// it were put now ([`version_hash`] of its content, kind and mode), in
    /// hex; `None` for anything else. Reads the whole file.
    pub fn local_hash(&self, path: &Path) -> Result<Option<String>> {
        let keys: Arc<pyxis_crypto::keys::Keyring> = self.ctx.keys.clone();
        local_hash(&keys, self.chunker, path)
    }
}

impl Client {
    /// A seed from version `version` of `path`'s manifest, if it opens.
    async fn seed_of_version(&self, path: &str, version: i64, local: &Path) -> Option<Seed> {
        let req = pyxis_proto::api::catalog::ReadRequest { paths: vec![path.to_owned()], version: Some(version) };
        let fv = self.ctx.api.read(&req).await.ok()?.files.into_iter().next()?;
        if fv.path != path || fv.info.version != version {
            return None;
        }
        match &crate::version::open_version(&self.ctx.opener, &fv).ok()?.body {
            pyxis_proto::format::manifest::ManifestBody::Chunks { entries, .. } => Seed::from_entries(local, entries),
            _ => None,
        }
    }
}

/// See [`Client::local_hash`].
pub fn local_hash(
    keys: &pyxis_crypto::keys::Keyring,
    chunker: pyxis_core::chunker::ChunkerParams,
    path: &Path,
) -> Result<Option<String>> {
    let io = |e| ClientError::io(path.display(), e);
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    let Some(p) = Planned::from_meta(path.to_owned(), String::new(), &meta) else { return Ok(None) };
    // The same classes as `put` (Plan::add), so the hashes agree.
    let content = if p.is_link() {
        let target = std::fs::read_link(path).map_err(io)?;
        let mut h = ContentHasher::new(keys);
        h.update(std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str()));
        h.finalize()
    } else if !p.chunked_alone() {
        let mut h = ContentHasher::new(keys);
        h.update(&std::fs::read(path).map_err(io)?);
        h.finalize()
    } else {
        // A big file's hash is over its chunk ids, as `put` makes them.
        let file = std::fs::File::open(path).map_err(io)?;
        let mut ids = Vec::new();
        for chunk in Chunker::new(&file, chunker, keys.chunker_seed())? {
            let chunk = chunk.map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))?;
            ids.push(keys.chunk_id(chunk.data()));
        }
        content_hash_of_chunks(keys, &ids)
    };
    Ok(Some(pyxis_proto::hex::encode(&version_hash(keys, content, Some(p.attrs)))))
}
