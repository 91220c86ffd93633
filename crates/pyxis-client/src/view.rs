//! Reading a tree: one's own, or (`@OWNER/PATH`) one shared with this user,
//! each entry checked against its binding with the keys that tree uses.

use std::sync::Arc;

use pyxis_proto::api::catalog::Entry;

use crate::ctx::Ctx;
use crate::error::{ClientError, Result};
use crate::trust::binding;
use crate::{Client, share};

impl Client {
    /// The context a path is read in, and the path in its owner's tree:
    /// this account's own, or (`@OWNER/PATH`) a share's.
    pub(crate) async fn view(&self, path: &str) -> Result<(Arc<Ctx>, String)> {
        let Some(shared) = share::parse_shared(path) else {
            self.ctx.seen.preload();
            self.ready().await?;
            return Ok((self.ctx.clone(), pyxis_proto::path::normalize_existing(path)?));
        };
        let (owner, path) = shared?;
        let tree = share::open_shared(&self.ctx, &self.pins, &self.username, &owner, &path).await?;
        // Its own memory file: the owner's paths are not this account's.
        let file = self.seen_file.as_ref().map(|f| {
            let tag = blake3::hash(format!("{owner}\0{}", tree.info.path).as_bytes()).to_hex();
            f.with_extension(format!("share-{}.json", &tag[..16]))
        });
        let seen = binding::Seen::open(file);
        // Shared files are bound: a legacy one cannot be shared.
        seen.make_strict(false)?;
        let ctx = Arc::new(self.ctx.through_share(tree, seen));
        ctx.seen.preload();
        Ok((ctx, path))
    }

    /// The context a write at `path` is made in: this account's own tree
    /// (the path as given: the caller applies the rules for a name that
    /// exists or one it creates), or (`@OWNER/PATH`) through a write share.
    pub(crate) async fn write_view(&self, path: &str) -> Result<(Arc<Ctx>, String)> {
        if share::parse_shared(path).is_none() {
            self.ready().await?;
            return Ok((self.ctx.clone(), path.to_owned()));
        }
        let (ctx, p) = self.view(path).await?;
        if let Some(t) = ctx.opener.shared() {
            t.writable()?;
        }
        Ok((ctx, p))
    }

    /// Loads who may write into this account's own tree (so that what they
    /// wrote can be checked): one call, before each operation on it.
    pub(crate) async fn ready(&self) -> Result<()> {
        share::load_writers(&self.ctx, &self.pins).await
    }

    /// Lists `path` (`@OWNER/PATH` for a share), every page, each entry
    /// checked against its binding: returns those shown and those refused
    /// (with why). Shared entries are named `@OWNER/PATH`.
    pub async fn list(&self, path: &str, recursive: bool) -> Result<(Vec<Entry>, Vec<(String, String)>)> {
        let (mut shown, mut refused) = (Vec::new(), Vec::new());
        self.list_pages(path, recursive, |s, r| {
            shown.extend(s);
            refused.extend(r);
            true
        })
        .await?;
        Ok((shown, refused))
    }

    /// [`Client::list`] a page at a time, in path order: `page` gets each
    /// page's shown and refused entries as soon as they are checked (the
    /// next is on its way meanwhile) and returns false to stop. What was
    /// seen is remembered even when the listing fails part way.
    pub async fn list_pages(
        &self,
        path: &str,
        recursive: bool,
        mut page: impl FnMut(Vec<Entry>, Vec<(String, String)>) -> bool,
    ) -> Result<()> {
        let (ctx, p) = self.view(path).await?;
        let mut pages = ctx.api.pages(&p, recursive, crate::api::MAX_LISTED);
        let mut failed = None;
        while let Some(entries) = pages.recv().await {
            let entries = match entries {
                Ok(e) => e,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            let mut shown = Vec::with_capacity(entries.len());
            let mut refused = Vec::new();
            for e in entries {
                match binding::verify_entry(&ctx.opener, &ctx.seen, &e) {
                    Ok(_) => shown.push(self.named(&ctx, e)),
                    Err(err) => refused.push((self.named(&ctx, e).path, err.to_string())),
                }
            }
            if !page(shown, refused) {
                break;
            }
        }
        ctx.seen.save()?;
        failed.map_or(Ok(()), Err)
    }

    /// One entry (`@OWNER/PATH` for a share), checked against its binding.
    pub async fn stat(&self, path: &str) -> Result<Entry> {
        let (ctx, p) = self.view(path).await?;
        let e = ctx.api.stat(&p).await?;
        binding::verify_entry(&ctx.opener, &ctx.seen, &e)?;
        ctx.seen.save()?;
        Ok(self.named(&ctx, e))
    }

    /// A file's versions (`@OWNER/PATH` for a share).
    pub async fn versions(&self, path: &str) -> Result<pyxis_proto::api::catalog::VersionsResponse> {
        let (ctx, p) = self.view(path).await?;
        let mut v = ctx.api.versions(&p).await?;
        if v.path != p {
            return Err(ClientError::Tampered { path: p, why: format!("the server answered for {:?}", v.path) });
        }
        if let Some(t) = ctx.opener.shared() {
            v.path = format!("@{}{}", t.info.owner, v.path);
        }
        Ok(v)
    }

    /// An entry as shown: a shared one under `@OWNER`.
    pub(crate) fn named(&self, ctx: &Ctx, mut e: Entry) -> Entry {
        if let Some(t) = ctx.opener.shared() {
            e.path = format!("@{}{}", t.info.owner, e.path);
            e.share_key = None;
        }
        e
    }
}
