//! [`Client`]: a logged-in device, and the verbs the CLI and sync call on
//! it. Each verb opens the tree it acts on (one's own, or a share's, in
//! `view`) and hands the work to the room that does it: `put`, `get`,
//! `edit`, `check`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use pyxis_core::chunker::ChunkerParams;
use pyxis_proto::api::catalog::EntryKind;
use tokio::sync::Semaphore;

use crate::api::{self, Api};
use crate::config::{ConfigDir, Session};
use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::get::{self, cache};
use crate::progress::Progress;
use crate::put::{self, plan, unchanged};
use crate::trust::{binding, pins};
use crate::{check, edit, share};

/// Where local file `src` lands inside catalog directory `dir`: under its
/// own name in NFC, or why it cannot (a name the catalog refuses).
fn file_name_in(dir: &str, src: &Path) -> std::result::Result<String, String> {
    let name = src.file_name().and_then(|n| n.to_str()).ok_or_else(|| "name is not UTF-8".to_owned())?;
    pyxis_proto::path::join(dir, &pyxis_proto::path::to_nfc(name)).map_err(|e| e.to_string())
}

/// Knobs of the transfer pipelines.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Shard transfers in flight at once.
    pub lanes: usize,
    /// Chunks encoded or decoded at once (default: one per core).
    pub workers: usize,
    pub chunker: ChunkerParams,
    /// Trust only this CA bundle (PEM) for the server and remotes; default
    /// the one kept in the config directory, else the platform's roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            lanes: 32,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            chunker: ChunkerParams::default(),
            ca_pem: None,
        }
    }
}

/// How a put decides what to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    /// Read every file, even those whose size and mtime match the catalog's
    /// current version (as `rsync --checksum`): catches a change that kept
    /// both.
    pub checksum: bool,
}

/// A logged-in client.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) locations: Arc<cache::LocationCache>,
    pub(crate) chunker: ChunkerParams,
    pub(crate) username: String,
    /// Public keys pinned by this device.
    pub(crate) pins: Arc<pins::Pins>,
    /// This account's memory of versions seen; shares' sit beside it.
    pub(crate) seen_file: Option<std::path::PathBuf>,
}

impl Client {
    /// A client for a saved session (`server` overrides its URL).
    pub fn open(config: &ConfigDir, server: Option<&str>, mut opts: ClientOptions) -> Result<Client> {
        let session = config.load()?.ok_or(ClientError::NotLoggedIn)?;
        let cache = Some(config.cache_dir().join("locations.json"));
        if opts.ca_pem.is_none() {
            opts.ca_pem = config.load_ca()?;
        }
        let seen_file = config.seen_file(&session)?;
        let seen = binding::Seen::open(Some(seen_file.clone()));
        if session.bound {
            seen.make_strict(false)?;
        }
        let mut client = Self::from_session(&session, server, cache, seen, opts)?;
        client.pins = Arc::new(pins::Pins::load(Some(config.pins_file(&session)?))?);
        client.seen_file = Some(seen_file);
        Ok(client)
    }

    pub fn from_session(
        session: &Session,
        server: Option<&str>,
        cache_file: Option<std::path::PathBuf>,
        seen: binding::Seen,
        opts: ClientOptions,
    ) -> Result<Client> {
        let mut api = Api::new(server.unwrap_or(&session.server), api::http_client(opts.ca_pem.as_deref())?)
            .with_token(&session.token);
        if server.is_none_or(|s| s.trim_end_matches('/') == session.server.trim_end_matches('/')) {
            api = api.known_server();
        }
        let keys = Arc::new(session.keyring()?);
        let ctx = Ctx {
            api,
            shards: api::shard_client(opts.ca_pem.as_deref())?,
            opener: Arc::new(binding::Opener::new(keys.clone(), None)),
            keys,
            progress: Arc::new(Progress::default()),
            lanes: Arc::new(Semaphore::new(opts.lanes.max(1))),
            encoders: Arc::new(Semaphore::new(opts.workers.max(1))),
            reduced: AtomicBool::new(false),
            scheme: std::sync::Mutex::new(None),
            placed: std::sync::Mutex::new(Vec::new()),
            seen: Arc::new(seen),
        };
        Ok(Client {
            ctx: Arc::new(ctx),
            locations: Arc::new(cache::LocationCache::load(cache_file)),
            chunker: opts.chunker,
            username: session.username.clone(),
            pins: Arc::new(pins::Pins::default()),
            seen_file: None,
        })
    }

    pub fn api(&self) -> &Api {
        &self.ctx.api
    }

    /// The same client, cutting new content with `params` (sync cuts
    /// smaller chunks than `put`, so a small edit of a big file costs less).
    pub fn with_chunker(mut self, params: ChunkerParams) -> Result<Self> {
        params.validate()?;
        self.chunker = params;
        Ok(self)
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn progress(&self) -> Arc<Progress> {
        self.ctx.progress.clone()
    }

    /// Puts a local file or directory at catalog path `dst`. A file put onto an
    /// existing directory lands inside it, as `cp` does.
    ///
    /// Catalog names are in NFC: `dst` and every local name are converted
    /// first. A local name the catalog refuses even then is skipped and listed
    /// in the report's `skipped`, with why; a `dst` it refuses is an error.
    pub async fn put(&self, src: &Path, dst: &str) -> Result<put::PutReport> {
        self.put_with(src, dst, PutOptions::default()).await
    }

    /// [`Client::put`] with options.
    /// `@OWNER/PATH` writes through a write share.
    pub async fn put_with(&self, src: &Path, dst: &str, opts: PutOptions) -> Result<put::PutReport> {
        let (ctx, dst) = self.write_view(dst).await?;
        let mut dst = pyxis_proto::path::normalize_local(&dst)?;
        if src.is_file()
            && let Ok(e) = ctx.api.stat(&dst).await
            && e.kind == EntryKind::Dir
        {
            match file_name_in(&dst, src) {
                Ok(inside) => dst = inside,
                Err(why) => {
                    let skipped = plan::Skipped { path: src.display().to_string(), error: why };
                    let plan = plan::Plan { skipped: vec![skipped], ..Default::default() };
                    return put::put(ctx, self.chunker, plan).await;
                }
            }
        }
        let listing = src.is_dir().then(|| unchanged::start_listing(&ctx, &dst));
        let src = src.to_owned();
        let mut plan = tokio::task::spawn_blocking(move || plan::plan(&src, &dst))
            .await
            .map_err(|e| ClientError::Task { task: "planning", why: e.to_string() })??;
        let known = unchanged::current_versions(&ctx, &mut plan, listing).await?;
        if !opts.checksum {
            unchanged::skip_unchanged(&mut plan, &known);
        }
        let report = put::put(ctx.clone(), self.chunker, plan).await;
        ctx.seen.save()?;
        report
    }

    /// Moves a file or a directory, re-binding what it moves (`pyxis mv`).
    pub async fn rename(&self, from: &str, to: &str) -> Result<pyxis_proto::api::catalog::Entry> {
        let (ctx, from) = self.write_view(from).await?;
        let to = match (share::parse_shared(to), ctx.opener.shared()) {
            (None, None) => to.to_owned(),
            (Some(Ok((owner, to))), Some(t)) if owner == t.info.owner => to,
            _ => return Err(ClientError::Invalid("a move stays within one tree (yours, or one share's)".into())),
        };
        let mut moved = edit::rename(&ctx, &from, &to).await?;
        if ctx.opener.shared().is_none() {
            self.share_moved(&from, &moved.path).await;
        }
        moved.path = self.named(&ctx, moved.clone()).path;
        Ok(moved)
    }

    /// Removes a path into the trash and remembers what was removed (`pyxis rm`).
    pub async fn remove(&self, path: &str, recursive: bool) -> Result<pyxis_proto::api::catalog::RemoveResponse> {
        self.remove_with(path, recursive, false).await
    }

    /// [`Client::remove`]; `permanently`: deleted for good, not trashed.
    pub async fn remove_with(
        &self,
        path: &str,
        recursive: bool,
        permanently: bool,
    ) -> Result<pyxis_proto::api::catalog::RemoveResponse> {
        let (ctx, path) = self.write_view(path).await?;
        edit::remove(&ctx, &path, recursive, permanently).await
    }

    /// Makes an older version current again, as a new bound version.
    pub async fn restore(&self, path: &str, version: i64) -> Result<pyxis_proto::api::catalog::Entry> {
        let (ctx, path) = self.write_view(path).await?;
        let restored = edit::restore(&ctx, &path, version).await?;
        Ok(self.named(&ctx, restored))
    }

    /// Binds the current versions written before bindings (`pyxis upgrade`).
    pub async fn upgrade(&self, root: &str) -> Result<edit::UpgradeReport> {
        self.ready().await?;
        edit::upgrade(&self.ctx, root).await
    }

    /// Forgets the versions this device has seen under `path` (default:
    /// everywhere), accepting the server's state there as it is now (after
    /// a restore from a backup).
    pub fn accept_rollback(&self, path: Option<&str>) -> Result<()> {
        let path = path.map(pyxis_proto::path::normalize_existing).transpose()?;
        self.ctx.seen.forget(path.as_deref())?;
        self.ctx.seen.save()
    }

    /// Legacy versions (written before bindings) accepted so far.
    pub fn legacy_seen(&self) -> u64 {
        self.ctx.seen.legacy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks every current version under `root` (`pyxis check`).
    pub async fn check(&self, root: &str, read_data: bool) -> Result<check::CheckReport> {
        let (ctx, root) = self.view(root).await?;
        let reader = get::Reader::new(ctx.clone(), self.locations.clone());
        let report = check::check(ctx.clone(), reader, &root, read_data).await;
        ctx.seen.save()?;
        report
    }

    /// Gets catalog path `src` (a file, or a directory tree) to local `dst`.
    /// `src` is used as given, not converted to NFC: it may name an entry
    /// stored before names had to be NFC. `@OWNER/PATH` reads a share.
    pub async fn get(&self, src: &str, dst: &Path, version: Option<i64>) -> Result<get::GetReport> {
        let (ctx, src) = self.view(src).await?;
        let reader = get::Reader::new(ctx.clone(), self.locations.clone());
        let result = get::get(reader, &src, dst, version).await;
        self.locations.save();
        ctx.seen.save()?;
        result
    }
}
