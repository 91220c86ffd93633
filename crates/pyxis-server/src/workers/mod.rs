//! Background workers: repair and re-encoding, audits, collection and
//! history. Each loop wakes every `durability.interval` (history: every
//! `history_interval`), does a bounded amount of work and
//! keeps all of its state in the catalog, so a restart just picks up again.
//!
//! With several server instances on one catalog, a pass runs only on the
//! instance holding its worker's lease ([`crate::db::leases`]), renewed
//! while the pass runs; a pass whose lease could not be renewed stops.

pub mod audit;
pub mod collect;
pub mod history;
pub mod limiter;
pub mod repair;
pub mod shards;
pub mod stats;

pub use stats::Stats;

use tokio::sync::watch;

use crate::State;

/// Runs `pass` every interval until `stop`; errors are logged, not fatal.
fn every<F, Fut>(name: &'static str, state: State, stop: watch::Receiver<bool>, pass: F)
where
    F: Fn(State) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let interval = state.opts.durability.interval;
    every_so_often(name, interval, state, stop, pass)
}

fn every_so_often<F, Fut>(
    name: &'static str,
    interval: std::time::Duration,
    state: State,
    mut stop: watch::Receiver<bool>,
    pass: F,
) where
    F: Fn(State) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        let ttl = lease_ttl(interval);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if !hold_lease(&state, name, ttl).await {
                continue;
            }
            // One id a pass: its lines, and its calls to remotes, carry it.
            let run = pyxis_net::request_id::scope(pyxis_net::request_id::new_id(), name, pass(state.clone()));
            tokio::select! {
                r = run => if let Err(e) = r { tracing::warn!(worker = name, error = %e, "worker pass failed") },
                () = lease_lost(&state, name, ttl) => {
                    tracing::warn!(worker = name, "lost the worker's lease mid-pass; stopped the pass");
                }
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
}

/// How long a worker's lease lasts unrenewed: long enough to ride out a
/// slow database, short enough that another instance takes over soon after
/// the holder dies.
fn lease_ttl(interval: std::time::Duration) -> std::time::Duration {
    (interval * 4).max(std::time::Duration::from_secs(2))
}

/// Takes or renews this instance's lease on `worker`; false when another
/// instance holds it (or the database cannot say).
async fn hold_lease(state: &State, worker: &'static str, ttl: std::time::Duration) -> bool {
    let held = match state.db.take_lease(worker, &state.instance, ttl.as_millis() as i64).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(worker, error = %e, "could not take the worker's lease");
            false
        }
    };
    let mut leases = state.stats.leases.lock().unwrap_or_else(|p| p.into_inner());
    if leases.insert(worker, held) != Some(held) {
        tracing::info!(worker, instance = %state.instance, held, "worker lease");
    }
    held
}

/// Renews the lease while a pass runs; returns when it could not.
async fn lease_lost(state: &State, worker: &'static str, ttl: std::time::Duration) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        if !hold_lease(state, worker, ttl).await {
            return;
        }
    }
}

pub fn spawn(state: State, stop: watch::Receiver<bool>) {
    {
        // The catalog's numbers for /metrics: now, then every interval.
        let (state, mut stop) = (state.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = crate::metrics::refresh(&state).await {
                    tracing::warn!(error = %e, "metrics refresh failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(state.opts.durability.interval) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
    }
    let limiter = std::sync::Arc::new(limiter::Limiter::new(state.opts.durability.repair_bandwidth));
    let l = limiter.clone();
    every("repair", state.clone(), stop.clone(), move |s| repair::pass(s, l.clone()));
    every("audit", state.clone(), stop.clone(), audit::pass);
    every("collect", state.clone(), stop.clone(), collect::pass);
    let interval = state.opts.durability.history_interval;
    every_so_often("history", interval, state, stop, history::pass);
}
