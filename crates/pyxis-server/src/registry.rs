//! The registry's background work: remotes that stop heartbeating go offline,
//! so placement and reads stop choosing them.

use tokio::sync::watch;

use crate::State;
use crate::db::now_ms;

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
