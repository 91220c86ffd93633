//! Leases: which server instance runs which background worker.
//!
//! Several instances may share one catalog (PostgreSQL). Each worker pass
//! runs only on the holder of the worker's lease, so no repair or
//! collection is done twice at once; the holder renews it while it works,
//! and when an instance dies its leases expire and another takes them, so
//! no work is lost either. The database decides, in one statement: a lease
//! is taken when it is free, expired, or already this holder's.

use super::{Db, now_ms};
use crate::on_db;

impl Db {
    /// Takes or renews lease `name` for `holder` until `ttl_ms` from now.
    /// True when `holder` has it.
    pub async fn take_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> sqlx::Result<bool> {
        let now = now_ms();
        let taken = on_db!(
            self,
            write | c | {
                sqlx::query(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
                )
                .bind(name)
                .bind(holder)
                .bind(now + ttl_ms)
                .bind(now)
                .execute(c)
                .await?
                .rows_affected()
            }
        );
        Ok(taken == 1)
    }

    /// Gives up every lease `holder` has (a clean stop), so another
    /// instance need not wait for them to expire.
    pub async fn release_leases(&self, holder: &str) -> sqlx::Result<()> {
        on_db!(
            self,
            write | c | {
                sqlx::query("DELETE FROM leases WHERE holder = $1").bind(holder).execute(c).await?;
            }
        );
        Ok(())
    }
}
