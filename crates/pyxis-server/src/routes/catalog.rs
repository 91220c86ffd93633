//! The catalog: list, stat, versions, read, commit, mkdir, move, remove,
//! restore, quota.
//!
//! A name being created (commit, mkdir, the target of a move) must pass every
//! rule of `path::normalize`; a name being looked up only the rules names have
//! always had (`path::normalize_existing`), so that what was stored before NFC
//! and the character rules can still be read, renamed and removed.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State as StateX;
use axum::http::StatusCode;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::auth::UserInfo;
use pyxis_proto::api::catalog::{
    BindRequest, BindResponse, CommitRequest, CommitResponse, CommittedFile, Entry, EntryBinding, EntryKind,
    FileVersion, ListResponse, MkdirRequest, MoveRequest, ReadRequest, ReadResponse, RemoveRequest, RemoveResponse,
    RestoreRequest, VersionBinding, VersionInfo, VersionsResponse,
};
use pyxis_proto::api::shares::ShareParam;
use pyxis_proto::{ChunkId, FileId, Tag, hex, path};
use serde::Deserialize;

use super::extract::{Body, Query};
use crate::State;
use crate::acl::Tree;
use crate::auth::AuthUser;
use crate::db::catalog::{CatalogError, CommitItem, DIR, ListedRow, VersionRow};
use crate::error::{ApiError, ApiResult};

/// Files one commit may carry.
const MAX_COMMIT: usize = pyxis_proto::api::max::FILES;
/// Entries per list page by default, and at most.
const PAGE: i64 = 1000;
const MAX_PAGE: i64 = 10_000;

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let msg = e.to_string();
        match e {
            CatalogError::NotFound(_) => ApiError::not_found(ErrorCode::NotFound, msg),
            CatalogError::ParentIsFile(_) => ApiError::conflict(ErrorCode::ParentIsFile, msg),
            CatalogError::IsDirectory(_) => ApiError::conflict(ErrorCode::IsDirectory, msg),
            CatalogError::Exists(_) => ApiError::conflict(ErrorCode::Exists, msg),
            CatalogError::NotEmpty(_) => ApiError::conflict(ErrorCode::NotEmpty, msg),
            CatalogError::Conflict { .. } => ApiError::conflict(ErrorCode::VersionConflict, msg),
            CatalogError::MissingChunk { .. } => ApiError::conflict(ErrorCode::MissingChunk, msg),
            CatalogError::IntoItself(_) => ApiError::bad_request(ErrorCode::IntoItself, msg),
            CatalogError::BindingRequired { .. } => ApiError::bad_request(ErrorCode::BindingRequired, msg),
            CatalogError::Quota { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::QuotaExceeded, msg),
            CatalogError::Db(e) => e.into(),
        }
    }
}

fn entry(r: ListedRow) -> Entry {
    let is_dir = r.kind == DIR;
    Entry {
        path: r.path,
        kind: if is_dir { EntryKind::Dir } else { EntryKind::File },
        size: r.size.unwrap_or(0).max(0) as u64,
        mtime: r.mtime.unwrap_or(0),
        version: r.seq,
        content_hash: r.content_hash.map(|h| hex::encode(&h)),
        committed_at: r.committed_at.unwrap_or(0),
        binding: match (
            r.file_id.as_deref().and_then(FileId::from_slice),
            r.entry_tag.as_deref().and_then(Tag::from_slice),
        ) {
            (Some(file_id), Some(tag)) => Some(EntryBinding { file_id, tag }),
            _ => None,
        },
        share_key: None,
        writer: r.writer,
        writer_keys: r.writer_keys,
    }
}

/// Entries from rows; read through a share, each file with its version's
/// share wrap.
pub(super) async fn entries(state: &State, tree: &Tree, rows: Vec<ListedRow>) -> ApiResult<Vec<Entry>> {
    let Some(share) = &tree.share else { return Ok(rows.into_iter().map(entry).collect()) };
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.version_id).collect();
    let mut keys = state.db.share_keys(share.id, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let key = r.version_id.and_then(|v| keys.remove(&v));
            Entry { share_key: key, ..entry(r) }
        })
        .collect())
}

/// A version read through a share gets its share wrap.
async fn with_share_keys(
    state: &State,
    tree: &Tree,
    mut files: Vec<(i64, FileVersion)>,
) -> ApiResult<Vec<FileVersion>> {
    if let Some(share) = &tree.share {
        let ids: Vec<i64> = files.iter().map(|(id, _)| *id).collect();
        let mut keys = state.db.share_keys(share.id, &ids).await?;
        for (id, fv) in &mut files {
            fv.share_key = keys.remove(id);
        }
    }
    Ok(files.into_iter().map(|(_, fv)| fv).collect())
}

fn file_version(path: String, v: VersionRow, chunks: Vec<ChunkId>) -> (i64, FileVersion) {
    let fv = FileVersion {
        path,
        info: version_info(&v),
        binding: version_binding(&v),
        manifest: v.manifest,
        wrapped_key: v.wrapped_key,
        chunks,
        share_key: None,
        writer: v.writer,
        writer_keys: v.writer_keys,
        chunks_of: v.chunks_of,
    };
    (v.id, fv)
}

/// A stored version's binding, as it came from its writer.
fn version_binding(v: &VersionRow) -> Option<VersionBinding> {
    Some(VersionBinding {
        file_id: FileId::from_slice(v.file_id.as_deref()?)?,
        version_tag: Tag::from_slice(v.version_tag.as_deref()?)?,
        entry_tag: v.entry_tag.as_deref().and_then(Tag::from_slice),
    })
}

/// A binding from a client, for storage.
fn stored_binding(b: VersionBinding) -> Option<crate::db::catalog::Binding> {
    Some(crate::db::catalog::Binding {
        file_id: b.file_id.0.to_vec(),
        version_tag: b.version_tag.0.to_vec(),
        entry_tag: b.entry_tag?.0.to_vec(),
    })
}

fn version_info(v: &VersionRow) -> VersionInfo {
    VersionInfo {
        version: v.seq,
        size: v.size.max(0) as u64,
        mtime: v.mtime,
        content_hash: hex::encode(&v.content_hash),
        created_at: v.created_at,
    }
}

/// The root always exists, as a directory.
fn root() -> Entry {
    Entry {
        path: "/".into(),
        kind: EntryKind::Dir,
        size: 0,
        mtime: 0,
        version: None,
        content_hash: None,
        committed_at: 0,
        binding: None,
        share_key: None,
        writer: None,
        writer_keys: None,
    }
}

async fn stat_entry(state: &State, tree: &Tree, p: &str) -> ApiResult<Entry> {
    tree.read(p)?;
    if p == "/" {
        return Ok(root());
    }
    let row =
        state.db.stat(tree.owner, p).await?.ok_or_else(|| ApiError::from(CatalogError::NotFound(p.to_owned())))?;
    Ok(entries(state, tree, vec![row]).await?.pop().expect("one entry"))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PathQuery {
    path: String,
}

/// Lists a directory (or, for a file, the file itself), a page at a time.
#[utoipa::path(get, path = "/v1/list", params(ListQuery, ShareParam), responses((status = 200, body = ListResponse)), tag = "catalog")]
pub async fn list(
    StateX(state): StateX<State>,
    tree: Tree,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<ListResponse>> {
    let p = path::normalize_existing(q.path.as_deref().unwrap_or("/"))?;
    let e = stat_entry(&state, &tree, &p).await?;
    if e.kind == EntryKind::File {
        return Ok(Json(ListResponse { entries: vec![e], next: None }));
    }
    let limit = q.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let rows = state.db.list(tree.owner, &p, q.recursive, q.after.as_deref().unwrap_or(""), limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.path.clone())).flatten();
    Ok(Json(ListResponse { entries: entries(&state, &tree, rows).await?, next }))
}

#[utoipa::path(get, path = "/v1/stat", params(PathQuery, ShareParam), responses((status = 200, body = Entry)), tag = "catalog")]
pub async fn stat(StateX(state): StateX<State>, tree: Tree, Query(q): Query<PathQuery>) -> ApiResult<Json<Entry>> {
    let p = path::normalize_existing(&q.path)?;
    Ok(Json(stat_entry(&state, &tree, &p).await?))
}

#[utoipa::path(get, path = "/v1/versions", params(PathQuery, ShareParam), responses((status = 200, body = VersionsResponse)), tag = "catalog")]
pub async fn versions(
    StateX(state): StateX<State>,
    tree: Tree,
    Query(q): Query<PathQuery>,
) -> ApiResult<Json<VersionsResponse>> {
    let p = path::normalize_existing(&q.path)?;
    let e = stat_entry(&state, &tree, &p).await?;
    if e.kind == EntryKind::Dir {
        return Err(CatalogError::IsDirectory(p).into());
    }
    let versions = state.db.versions(tree.owner, &p).await?;
    Ok(Json(VersionsResponse {
        path: p,
        current: e.version.unwrap_or(0),
        versions: versions.iter().map(version_info).collect(),
    }))
}

/// Current (or given) versions of files with their sealed manifests.
#[utoipa::path(post, path = "/v1/files/read", params(ShareParam), request_body = ReadRequest, responses((status = 200, body = ReadResponse)), tag = "catalog")]
pub async fn read(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<ReadRequest>,
) -> ApiResult<Json<ReadResponse>> {
    if req.paths.len() > MAX_COMMIT || (req.version.is_some() && req.paths.len() != 1) {
        return Err(ApiError::bad_request(
            ErrorCode::BadRequest,
            "up to 10000 paths, and a version only with one path",
        ));
    }
    let paths: Vec<String> = req.paths.iter().map(|p| path::normalize_existing(p)).collect::<Result<_, _>>()?;
    for p in &paths {
        tree.read(p)?;
    }
    if req.version.is_none() {
        // The common case, a batch of current versions: two queries in all.
        let mut found: std::collections::HashMap<String, (i64, FileVersion)> = state
            .db
            .read_current(tree.owner, &paths)
            .await?
            .into_iter()
            .map(|(p, v, chunks)| (p.clone(), file_version(p, v, chunks)))
            .collect();
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            match found.remove(&p) {
                Some(f) => files.push(f),
                None => return Err(missing(&state, tree.owner, p, None).await),
            }
        }
        return Ok(Json(ReadResponse { files: with_share_keys(&state, &tree, files).await? }));
    }
    let p = paths.into_iter().next().expect("one path with a version");
    let Some((v, chunks)) = state.db.read_version(tree.owner, &p, req.version).await? else {
        return Err(missing(&state, tree.owner, p, req.version).await);
    };
    let files = vec![file_version(p, v, chunks)];
    Ok(Json(ReadResponse { files: with_share_keys(&state, &tree, files).await? }))
}

/// Why a path has nothing to read: it is a directory, or not there.
async fn missing(state: &State, user: i64, p: String, version: Option<i64>) -> ApiError {
    let what = match version {
        Some(n) => format!("{p} version {n}"),
        None => p.clone(),
    };
    match state.db.stat(user, &p).await {
        Ok(Some(r)) if r.kind == DIR => CatalogError::IsDirectory(p).into(),
        Ok(_) => CatalogError::NotFound(what).into(),
        Err(e) => e.into(),
    }
}

#[utoipa::path(post, path = "/v1/commit", request_body = CommitRequest,
    responses((status = 200, body = CommitResponse), (status = 409, body = pyxis_proto::api::ErrorBody),
              (status = 413, body = pyxis_proto::api::ErrorBody)), tag = "catalog")]
pub async fn commit(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<CommitRequest>,
) -> ApiResult<Json<CommitResponse>> {
    // A read share is refused here, empty commit or not; each path below.
    let user = tree.writer()?;
    let committer = tree.user.id;
    if req.files.len() > MAX_COMMIT {
        return Err(ApiError::bad_request(
            ErrorCode::BatchTooLarge,
            format!("{} files in one commit; the limit is {MAX_COMMIT}", req.files.len()),
        ));
    }
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(req.files.len());
    // Share wraps a commit may add: for the owner, its shares; for a writer,
    // the share it writes through.
    let shares = match &tree.share {
        Some(s) => vec![s.clone()],
        None if req.files.iter().any(|f| !f.share_keys.is_empty()) => state.db.shares(user, true).await?,
        None => Vec::new(),
    };
    for f in req.files {
        let p = path::normalize(&f.path)?;
        if p == "/" {
            return Err(CatalogError::IsDirectory(p).into());
        }
        tree.write(&p)?;
        if !seen.insert(p.clone()) {
            return Err(ApiError::bad_request(ErrorCode::DuplicatePath, format!("{p} appears twice in one commit")));
        }
        let bad = |what: String| ApiError::bad_request(ErrorCode::BadFile, format!("{p}: {what}"));
        let content_hash: [u8; 32] =
            hex::decode_array(&f.content_hash).map_err(|e| bad(format!("content hash: {e}")))?;
        pyxis_proto::format::manifest::EnvelopeHeader::parse(&f.manifest).map_err(|e| bad(e.to_string()))?;
        pyxis_proto::format::wrapped::WrappedKey::parse(&f.wrapped_key).map_err(|e| bad(e.to_string()))?;
        let size = i64::try_from(f.size).map_err(|_| bad("size too large".into()))?;
        let mut chunks = f.chunks;
        chunks.sort_unstable();
        chunks.dedup();
        let binding = match f.binding {
            None => None,
            Some(_) if f.expect.is_none() => {
                return Err(bad("a binding names the version it makes, so it needs `expect`".into()));
            }
            Some(b) => Some(stored_binding(b).ok_or_else(|| bad("a binding needs an entry tag".into()))?),
        };
        let mut share_keys = Vec::with_capacity(f.share_keys.len());
        for w in f.share_keys {
            if !shares.iter().any(|s| s.id == w.share && path::is_within(&p, &s.path)) {
                return Err(bad(format!("share {} is not yours to wrap for, or does not cover this path", w.share)));
            }
            share_keys.push((w.share, w.wrapped));
        }
        // A writer's version carries its keys for the owner (the owner can
        // open nothing else of it).
        let writer = match (&tree.share, f.writer_keys) {
            (None, None) => None,
            (None, Some(_)) => return Err(bad("writer_keys are for a commit through a share".into())),
            (Some(_), None) => return Err(bad("a commit through a share carries writer_keys".into())),
            (Some(_), Some(k)) => {
                pyxis_proto::format::wrapped::WrappedKey::parse(&k).map_err(|e| bad(format!("writer_keys: {e}")))?;
                Some((committer, k))
            }
        };
        let chunk_user = match f.chunks_of {
            None => committer,
            Some(name) => state.db.user_by_name(&name).await?.ok_or_else(|| bad(format!("no user {name:?}")))?.id,
        };
        items.push(CommitItem {
            path: p,
            size,
            mtime: f.mtime,
            content_hash: content_hash.to_vec(),
            manifest: f.manifest,
            wrapped_key: f.wrapped_key,
            chunks,
            expect: f.expect,
            binding,
            share_keys,
            new_version: f.new_version,
            writer,
            chunk_user,
        });
    }
    let seqs = state.db.commit(user, committer, &items).await?;
    state.feed.notify(user);
    let files = items
        .into_iter()
        .zip(seqs)
        .map(|(i, (version, unchanged))| CommittedFile { path: i.path, version, unchanged })
        .collect();
    Ok(Json(CommitResponse { files }))
}

#[utoipa::path(post, path = "/v1/mkdir", request_body = MkdirRequest, responses((status = 200, body = Entry)), tag = "catalog")]
pub async fn mkdir(StateX(state): StateX<State>, tree: Tree, Body(req): Body<MkdirRequest>) -> ApiResult<Json<Entry>> {
    let p = path::normalize(&req.path)?;
    let user = tree.write(&p)?;
    if p == "/" {
        return if req.parents { Ok(Json(root())) } else { Err(CatalogError::Exists(p).into()) };
    }
    state.db.mkdir(user, &p, req.parents).await?;
    state.feed.notify(user);
    Ok(Json(stat_entry(&state, &tree, &p).await?))
}

#[utoipa::path(post, path = "/v1/move", request_body = MoveRequest, responses((status = 200, body = Entry)), tag = "catalog")]
pub async fn rename(StateX(state): StateX<State>, tree: Tree, Body(req): Body<MoveRequest>) -> ApiResult<Json<Entry>> {
    let (from, to) = (path::normalize_existing(&req.from)?, path::normalize(&req.to)?);
    let user = tree.write(&from)?;
    tree.write(&to)?;
    if from == "/" || to == "/" {
        return Err(ApiError::bad_request(ErrorCode::BadPath, "the root cannot be moved or replaced"));
    }
    let mut tags = Vec::with_capacity(req.tags.len());
    for t in req.tags {
        // Names stored before today's rules move too: existing-name rules.
        tags.push((path::normalize_existing(&t.path)?, t.tag.0.to_vec()));
    }
    state.db.rename(user, &from, &to, &tags).await?;
    state.feed.notify(user);
    Ok(Json(stat_entry(&state, &tree, &to).await?))
}

#[utoipa::path(post, path = "/v1/remove", request_body = RemoveRequest, responses((status = 200, body = RemoveResponse)), tag = "catalog")]
pub async fn remove(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<RemoveRequest>,
) -> ApiResult<Json<RemoveResponse>> {
    let p = path::normalize_existing(&req.path)?;
    let user = tree.write(&p)?;
    if req.permanently {
        // A writer through a share may remove, into the owner's trash; only
        // the owner deletes for good.
        tree.write_own()?;
    }
    let grace = state.opts.durability.deleted_grace.as_millis() as i64;
    let (files, dirs) = state.db.remove(user, &p, req.recursive, grace, req.expect, req.permanently).await?;
    state.feed.notify(user);
    Ok(Json(RemoveResponse { files, dirs }))
}

#[utoipa::path(post, path = "/v1/restore", request_body = RestoreRequest, responses((status = 200, body = Entry)), tag = "catalog")]
pub async fn restore(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<RestoreRequest>,
) -> ApiResult<Json<Entry>> {
    let p = path::normalize_existing(&req.path)?;
    let user = tree.write(&p)?;
    // The server cannot bind: a restore of a bound file is the client's
    // (read the old version, commit it as the next one).
    if state.db.stat(user, &p).await?.is_some_and(|e| e.entry_tag.is_some()) {
        return Err(CatalogError::BindingRequired { path: p, bound: 1, tags: 0 }.into());
    }
    state.db.restore(user, &p, req.version).await?;
    state.feed.notify(user);
    Ok(Json(stat_entry(&state, &tree, &p).await?))
}

/// Bindings for versions written before them (`pyxis upgrade`).
#[utoipa::path(post, path = "/v1/bind", request_body = BindRequest, responses((status = 200, body = BindResponse)), tag = "catalog")]
pub async fn bind(
    StateX(state): StateX<State>,
    tree: Tree,
    Body(req): Body<BindRequest>,
) -> ApiResult<Json<BindResponse>> {
    let user = tree.write_own()?;
    let mut items = Vec::with_capacity(req.files.len());
    for f in req.files {
        let p = path::normalize_existing(&f.path)?;
        // An older version has no entry tag (an empty one here); a current
        // version without one is not bound.
        let b = crate::db::catalog::Binding {
            file_id: f.binding.file_id.0.to_vec(),
            version_tag: f.binding.version_tag.0.to_vec(),
            entry_tag: f.binding.entry_tag.map(|t| t.0.to_vec()).unwrap_or_default(),
        };
        items.push((p, f.version, b));
    }
    Ok(Json(BindResponse { bound: state.db.bind(user, &items).await? }))
}

#[utoipa::path(get, path = "/v1/quota", responses((status = 200, body = UserInfo)), tag = "catalog")]
pub async fn quota(state: StateX<State>, user: AuthUser) -> ApiResult<Json<UserInfo>> {
    super::accounts::whoami(state, user).await
}
