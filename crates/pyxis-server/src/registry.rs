//! The registry's liveness work: remotes that stop heartbeating go offline,
//! and a remote a client reports unreachable is probed at once and left out
//! of placement while it does not answer, so placement and reads stop
//! choosing it (and the scheme follows the remotes really reachable).

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::db::now_ms;
use crate::db::remotes::ONLINE;
use crate::{AppState, State};

/// A probe waits this long for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// One remote is probed at most this often, whatever clients report.
const PROBE_EVERY: Duration = Duration::from_secs(1);

impl AppState {
    /// A client could not reach remote `id`: ask it ourselves (its status
    /// route), and if it does not answer, mark it offline now rather than
    /// when its heartbeats lapse. Its next heartbeat brings it back. A
    /// client's report alone changes nothing: only the probe's failure does.
    pub async fn probe_reported(&self, id: i64) {
        {
            let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
            if probes.get(&id).is_some_and(|t| t.elapsed() < PROBE_EVERY) {
                return;
            }
            probes.insert(id, Instant::now());
        }
        let Ok(Some(r)) = self.db.remote(id).await else { return };
        if r.state != ONLINE {
            return;
        }
        let url = format!("{}/v1/status", r.url.trim_end_matches('/'));
        let answered = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, self.http.get(&url).send()).await,
            Ok(Ok(resp)) if resp.status().is_success()
        );
        if !answered {
            match self.db.mark_unreachable(id).await {
                Ok(true) => {
                    tracing::warn!(remote = id, %url, "a client could not reach this remote, nor could the server: offline until it heartbeats")
                }
                Ok(false) => {}
                Err(e) => tracing::error!(remote = id, error = %e, "marking an unreachable remote offline failed"),
            }
        }
    }
}

pub fn spawn_sweeper(state: State, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        // Check a few times per offline period so marking is timely.
        let every = (state.opts.offline_after / 4).max(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let before = now_ms() - state.opts.offline_after.as_millis() as i64;
            match state.db.mark_silent_offline(before).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "remotes went silent: marked offline"),
                Err(e) => tracing::error!(error = %e, "liveness sweep failed"),
            }
        }
    });
}
