//! History collection: each account's retention policy (its own, or the
//! default) applied to its old versions, and trash items past the policy's
//! span deleted. This is the recorded decision that lets data go: the
//! policy the owner set or accepted, and the time its rules name.

use crate::State;
use crate::db::now_ms;
use crate::routes::history::forget_under;

/// Trash items deleted per account per pass.
const BATCH: i64 = 2000;

pub async fn pass(state: State) -> anyhow::Result<()> {
    for (user, saved) in state.db.history_users().await? {
        let policy = match saved.as_deref().map(serde_json::from_str::<pyxis_proto::retention::Retention>) {
            Some(Ok(p)) if p.check().is_ok() => p,
            _ => pyxis_proto::retention::Retention::default_policy(),
        };
        let out = forget_under(&state, user, "/", &policy, false).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let due = state.db.trash_due(user, now_ms() - policy.trash_ms(), BATCH).await?;
        let grace = state.opts.durability.deleted_grace.as_millis() as i64;
        let (files, _) = state.db.purge_trash(user, &due, grace).await?;
        if !out.forgotten.is_empty() || files > 0 {
            tracing::info!(user, versions = out.forgotten.len(), trash = files, "retention applied");
        }
    }
    Ok(())
}
