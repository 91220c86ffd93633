//! The change feed: what changed in each user's tree, in order (a per-user
//! counter, `users.change_seq`, numbers the changes; each is recorded in
//! the transaction that makes it). Read after a cursor; waiters are woken
//! by [`Feed`] (per server instance: a client also polls).

use super::{Db, now_ms};
use crate::{on_db, record_change};

pub const COMMIT: i64 = 1;
pub const MKDIR: i64 = 2;
pub const MOVE: i64 = 3;
pub const REMOVE: i64 = 4;
pub const SHARE: i64 = 5;
pub const UNSHARE: i64 = 6;

/// One change to record.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub kind: i64,
    pub path: &'a str,
    pub to_path: Option<&'a str>,
    pub version: Option<i64>,
    pub peer: Option<&'a str>,
}

impl<'a> Change<'a> {
    fn of(kind: i64, path: &'a str) -> Self {
        Self { kind, path, to_path: None, version: None, peer: None }
    }
    pub fn commit(path: &'a str, version: i64) -> Self {
        Self { version: Some(version), ..Self::of(COMMIT, path) }
    }
    pub fn mkdir(path: &'a str) -> Self {
        Self::of(MKDIR, path)
    }
    pub fn moved(from: &'a str, to: &'a str) -> Self {
        Self { to_path: Some(to), ..Self::of(MOVE, from) }
    }
    pub fn removed(path: &'a str) -> Self {
        Self::of(REMOVE, path)
    }
    pub fn shared(path: &'a str, peer: &'a str, ended: bool) -> Self {
        Self { peer: Some(peer), ..Self::of(if ended { UNSHARE } else { SHARE }, path) }
    }
}

/// A recorded change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: i64,
    pub path: String,
    pub to_path: Option<String>,
    pub version: Option<i64>,
    pub peer: Option<String>,
    pub at: i64,
}

impl Db {
    /// `user`'s changes after `after`, oldest first, at most `limit`.
    pub async fn changes(&self, user: i64, after: i64, limit: i64) -> sqlx::Result<Vec<ChangeRow>> {
        on_db!(
            self,
            read | c | {
                sqlx::query_as(
                    "SELECT seq, kind, path, to_path, version, peer, at FROM changes \
                     WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(user)
                .bind(after)
                .bind(limit)
                .fetch_all(c)
                .await
            }
        )
    }

    /// The number of `user`'s newest change (0: none yet).
    pub async fn change_seq(&self, user: i64) -> sqlx::Result<i64> {
        on_db!(
            self,
            read | c | {
                sqlx::query_scalar("SELECT change_seq FROM users WHERE id = $1").bind(user).fetch_one(c).await
            }
        )
    }

    /// Records a change outside a catalog transaction (shares).
    pub async fn record_change(&self, user: i64, c: Change<'_>) -> sqlx::Result<()> {
        let now = now_ms();
        on_db!(
            self,
            write | conn | {
                let mut tx = conn.begin().await?;
                record_change!(tx, user, c, now);
                tx.commit().await
            }
        )
    }
}

/// Wakes the requests waiting for a user's next change (in this server
/// instance; several instances over one PostgreSQL each wake their own, and
/// clients poll as well), and ends them when the server stops.
#[derive(Debug)]
pub struct Feed {
    tx: tokio::sync::broadcast::Sender<i64>,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for Feed {
    fn default() -> Self {
        Self { tx: tokio::sync::broadcast::channel(1024).0, closed: tokio::sync::watch::channel(false).0 }
    }
}

impl Feed {
    /// The channel readers subscribe to (its receiver count is the number
    /// of readers waiting).
    pub fn sender(&self) -> tokio::sync::broadcast::Sender<i64> {
        self.tx.clone()
    }

    /// `user`'s tree changed.
    pub fn notify(&self, user: i64) {
        let _ = self.tx.send(user);
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<i64> {
        self.tx.subscribe()
    }

    /// The server is stopping: every waiter and subscription ends.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn closed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closed.subscribe()
    }
}
