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

/// Wakes the requests waiting for a user's next change, and ends them when
/// the server stops.
///
/// On PostgreSQL, several server instances may share the catalog: a change
/// is also announced with `NOTIFY pyxis_changes` (payload: the user id), and
/// each instance [`listen`](Feed::listen)s and wakes its own readers, so a
/// client waiting on one instance hears of a change made through another.
/// Notifications are not durable: when the listening connection is lost,
/// every reader is woken once ([`EVERYONE`]) to read its changes again, as
/// the feed's cursor makes safe.
#[derive(Debug)]
pub struct Feed {
    tx: tokio::sync::broadcast::Sender<i64>,
    closed: tokio::sync::watch::Sender<bool>,
    postgres: Option<sqlx::PgPool>,
}

/// The PostgreSQL channel changes are announced on.
pub const CHANNEL: &str = "pyxis_changes";
/// Wakes every reader: something may have been missed.
pub const EVERYONE: i64 = -1;

impl Default for Feed {
    fn default() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(1024).0,
            closed: tokio::sync::watch::channel(false).0,
            postgres: None,
        }
    }
}

impl Feed {
    /// A feed that also reaches the other instances on `db`, if it is PostgreSQL.
    pub fn new(db: &super::Db) -> Self {
        let postgres = match db {
            super::Db::Postgres(pool) => Some(pool.clone()),
            super::Db::Sqlite { .. } => None,
        };
        Self { postgres, ..Self::default() }
    }

    /// Wakes this instance's readers on changes announced by any instance,
    /// until the server stops (PostgreSQL only; otherwise nothing to do).
    pub fn listen(&self) {
        let Some(pool) = self.postgres.clone() else { return };
        let (tx, mut closed) = (self.tx.clone(), self.closed.subscribe());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = relay(&pool, &tx) => {}
                    _ = closed.wait_for(|c| *c) => return,
                }
                // Whatever came meanwhile was missed: everyone reads again.
                let _ = tx.send(EVERYONE);
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = closed.wait_for(|c| *c) => return,
                }
            }
        });
    }

    /// The channel readers subscribe to (its receiver count is the number
    /// of readers waiting).
    pub fn sender(&self) -> tokio::sync::broadcast::Sender<i64> {
        self.tx.clone()
    }

    /// `user`'s tree changed (called after the change is committed).
    pub fn notify(&self, user: i64) {
        // This instance's readers at once; the others through PostgreSQL
        // (this one hears it again, and its readers read nothing new).
        let _ = self.tx.send(user);
        if let Some(pool) = self.postgres.clone() {
            tokio::spawn(async move {
                let sent =
                    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(user.to_string()).execute(&pool).await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, user, "could not announce a change to the other instances");
                }
            });
        }
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

/// Passes the changes announced on [`CHANNEL`] to `tx` until the
/// connection is lost or cannot be made.
async fn relay(pool: &sqlx::PgPool, tx: &tokio::sync::broadcast::Sender<i64>) {
    let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => return tracing::warn!(error = %e, "cannot listen for other instances' changes; retrying"),
    };
    if let Err(e) = listener.listen(CHANNEL).await {
        return tracing::warn!(error = %e, "cannot listen for other instances' changes; retrying");
    }
    // Listening now: anything announced before it may have been missed.
    let _ = tx.send(EVERYONE);
    loop {
        match listener.try_recv().await {
            // A payload that is not a user id wakes everyone: reading again is safe.
            Ok(Some(n)) => {
                let _ = tx.send(n.payload().parse().unwrap_or(EVERYONE));
            }
            Ok(None) => return tracing::warn!("lost the connection that hears other instances' changes; reconnecting"),
            Err(e) => return tracing::warn!(error = %e, "listening for other instances' changes failed; reconnecting"),
        }
    }
}
