//! History from the client: the trash, forgetting old versions, the
//! account's retention policy, and what the quota counts.
//!
//! Putting a file back from the trash is two steps: the server returns the
//! entry to a path (its own, or a new one with the entry tag made here),
//! then the client commits that version again as the next one. Every
//! device that saw the file removed then sees a newer version, which it
//! accepts, rather than the removed one again, which it would report as a
//! revival.

use pyxis_proto::api::catalog::Entry;
use pyxis_proto::api::history::{TrashItem, TrashRestoreRequest};

use crate::error::{ClientError, Result};
use crate::trust::binding::{rebind_entry, verify_entry};
use crate::{Client, edit};

impl Client {
    /// What is in the trash (under `under`), newest removal first.
    pub async fn trash(&self, under: Option<&str>) -> Result<Vec<TrashItem>> {
        self.ready().await?;
        let under = under.map(pyxis_proto::path::normalize_existing).transpose()?;
        Ok(self.api().trash(under.as_deref()).await?.items)
    }

    /// Puts a trashed file back: the item `id`, or else the newest removal
    /// of `path`; at its old path, or at `to`.
    pub async fn restore_from_trash(&self, path: &str, id: Option<i64>, to: Option<&str>) -> Result<Entry> {
        let path = pyxis_proto::path::normalize_existing(path)?;
        let items = self.trash(Some(&path)).await?;
        let item = items
            .into_iter()
            .find(|i| i.entry.path == path && id.is_none_or(|id| i.id == id))
            .ok_or_else(|| ClientError::Invalid(format!("{path} is not in the trash (see `pyxis trash`)")))?;
        let ctx = &self.ctx;
        let head = match (&item.entry.binding, item.entry.version) {
            (Some(b), Some(v)) => {
                // This device may have removed it: coming back is expected now.
                ctx.seen.restored(b.file_id, v)?;
                verify_entry(&ctx.opener, &ctx.seen, &item.entry)?
            }
            _ => None,
        };
        let to = to.map(pyxis_proto::path::normalize_local).transpose()?;
        let entry_tag = match (&to, &head) {
            (Some(to), Some(h)) if *to != path => Some(rebind_entry(&ctx.opener, to, h).ok_or_else(|| {
                ClientError::Invalid(format!("{path}: no key for its current version here, so it cannot be renamed"))
            })?),
            _ => None,
        };
        let req = TrashRestoreRequest { id: item.id, to: to.clone(), entry_tag };
        let back = ctx.api.trash_restore(&req).await?;
        let target = to.unwrap_or(path);
        if back.path != target || back.version != item.entry.version {
            return Err(ClientError::Tampered {
                path: target,
                why: "the server put back something other than the trashed version".into(),
            });
        }
        let Some(h) = head else { return Ok(back) };
        if let Some(id) = h.file_id
            && target != item.entry.path
        {
            ctx.seen.moved([(id, h.version, item.entry.path.clone(), target.clone())])?;
        }
        let restored = edit::restore_as_new(ctx, &target, h.version, true).await;
        ctx.seen.save()?;
        restored
    }
}
