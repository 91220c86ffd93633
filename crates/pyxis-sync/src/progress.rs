//! What a pass has left to move, and how far the transfer under way is, as
//! `pyxis status` shows it while the pass runs.
//!
//! The pass announces what it will send and fetch once it has planned; the
//! transfer in flight is measured by the client's own counters
//! ([`pyxis_client::progress::Progress`]), taken as a difference from where
//! they stood when the transfer began, so nothing in the data path has to
//! know about status at all. A ticker in [`crate::folder`] writes the
//! status file from this every [`crate::folder::STATUS_EVERY`].

use std::sync::{Arc, Mutex};

use pyxis_client::progress::{Progress, Totals};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upload,
    Download,
}

/// The transfer under way, as the status file shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub direction: Direction,
    pub files_done: u64,
    pub files_total: u64,
    /// Plaintext bytes read (upload) or written (download) so far.
    pub bytes_done: u64,
    pub bytes_total: u64,
    /// Unix milliseconds of its start (with `bytes_done`, a rate).
    pub started: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Batch {
    files: u64,
    bytes: u64,
}

#[derive(Debug, Default)]
struct Inner {
    /// Announced and not yet finished, by direction.
    up: Batch,
    down: Batch,
    /// The batch in flight: its direction, the client's counters when it
    /// began, and its start.
    running: Option<(Direction, Totals, i64)>,
}

/// Shared between the pass (which announces and runs transfers) and the
/// status ticker (which reads it).
#[derive(Debug, Clone, Default)]
pub struct Live(Arc<Mutex<Inner>>);

/// What is left of a pass, read at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub queued_files: u64,
    pub queued_bytes: u64,
    pub transfer: Option<Transfer>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere leaves plain numbers behind: still readable.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What this pass will send and fetch.
    pub fn announce(&self, up: (u64, u64), down: (u64, u64)) {
        let mut i = self.lock();
        i.up = Batch { files: up.0, bytes: up.1 };
        i.down = Batch { files: down.0, bytes: down.1 };
        i.running = None;
    }

    /// The announced batch of `d` starts now.
    pub fn begin(&self, d: Direction, progress: &Progress, now_ms: i64) {
        self.lock().running = Some((d, progress.totals(), now_ms));
    }

    /// The batch of `d` is over (each file landed or failed).
    pub fn end(&self, d: Direction) {
        let mut i = self.lock();
        match d {
            Direction::Upload => i.up = Batch::default(),
            Direction::Download => i.down = Batch::default(),
        }
        i.running = None;
    }

    /// The pass is over: nothing is queued.
    pub fn clear(&self) {
        *self.lock() = Inner::default();
    }

    pub fn snapshot(&self, progress: &Progress) -> Snapshot {
        let i = self.lock();
        let mut queued = Batch { files: i.up.files + i.down.files, bytes: i.up.bytes + i.down.bytes };
        let transfer = i.running.map(|(d, at, started)| {
            let now = progress.totals();
            let b = if d == Direction::Upload { i.up } else { i.down };
            // The counters are the client's, shared by all its work: clamp
            // to the batch so a stray count never shows more than 100 %.
            let files_done = now.files.saturating_sub(at.files).min(b.files);
            let bytes_done = now.done.saturating_sub(at.done).min(b.bytes);
            queued.files -= files_done;
            queued.bytes -= bytes_done;
            Transfer { direction: d, files_done, files_total: b.files, bytes_done, bytes_total: b.bytes, started }
        });
        Snapshot { queued_files: queued.files, queued_bytes: queued.bytes, transfer }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_counts_from_where_the_client_stood_and_never_past_its_batch() {
        let p = Progress::default();
        Progress::add(&p.done, 1_000); // an earlier transfer's bytes
        Progress::add(&p.files, 3);
        let live = Live::default();
        live.announce((2, 300), (1, 50));
        assert_eq!(live.snapshot(&p), Snapshot { queued_files: 3, queued_bytes: 350, transfer: None });
        live.begin(Direction::Upload, &p, 7);
        Progress::add(&p.done, 100);
        Progress::add(&p.files, 1);
        let s = live.snapshot(&p);
        let t = s.transfer.clone().unwrap();
        assert_eq!(
            (t.direction, t.files_done, t.files_total, t.bytes_done, t.bytes_total),
            (Direction::Upload, 1, 2, 100, 300)
        );
        assert_eq!((s.queued_files, s.queued_bytes), (2, 250));
        Progress::add(&p.done, 10_000);
        Progress::add(&p.files, 9);
        let t = live.snapshot(&p).transfer.unwrap();
        assert_eq!((t.files_done, t.bytes_done), (2, 300), "clamped to the batch");
        live.end(Direction::Upload);
        assert_eq!(live.snapshot(&p), Snapshot { queued_files: 1, queued_bytes: 50, transfer: None });
        live.clear();
        assert_eq!(live.snapshot(&p), Snapshot::default());
    }
}
