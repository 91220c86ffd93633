//! `pyxis status` while a pass runs: what is queued, and how far the
//! transfer under way is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyxis_sync::progress::{Direction, Transfer};

use crate::support::{Device, cluster};

/// A status seen while a pass ran: queued files, queued bytes, transfer.
type Seen = (u64, u64, Option<Transfer>);

/// Reads the device's status file until told to stop; returns every
/// distinct (queued files, queued bytes, transfer) seen while a pass ran.
fn watch(d: &Device) -> (Arc<AtomicBool>, std::thread::JoinHandle<Vec<Seen>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (config, flag) = (d.config.clone(), stop.clone());
    let h = std::thread::spawn(move || {
        let mut seen: Vec<Seen> = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            for s in pyxis_sync::statuses(&config) {
                let now = (s.queued_files, s.queued_bytes, s.transfer);
                if s.state == "syncing" && seen.last() != Some(&now) {
                    seen.push(now);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        seen
    });
    (stop, h)
}

/// Checks one direction's snapshots: the totals are the batch's, progress
/// only grows, some were seen part-way, and the queue is what is left.
fn check(seen: &[Seen], d: Direction, files: u64, bytes: u64) {
    let during: Vec<&Transfer> = seen.iter().filter_map(|(_, _, t)| t.as_ref()).filter(|t| t.direction == d).collect();
    assert!(!during.is_empty(), "no {d:?} progress seen: {seen:?}");
    for t in &during {
        assert_eq!((t.files_total, t.bytes_total), (files, bytes), "{d:?}");
        assert!(t.files_done <= files && t.bytes_done <= bytes, "{t:?}");
    }
    assert!(during.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done), "{during:?}");
    assert!(during.iter().any(|t| t.bytes_done > 0 && t.bytes_done < bytes), "never part-way: {during:?}");
    // One direction this pass: what is queued is what the transfer has
    // left.
    for (files_q, bytes_q, t) in seen {
        if let Some(t) = t {
            assert_eq!((*files_q, *bytes_q), (t.files_total - t.files_done, t.bytes_total - t.bytes_done), "{t:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_queued_work_and_the_progress_of_a_long_transfer() {
    let c = cluster("ann").await;
    let mut a = Device::new(&c, "ann", "a", "/big").await;
    let mut b = Device::new(&c, "ann", "b", "/big").await;
    a.folder.set_status_every(Duration::from_millis(5));
    b.folder.set_status_every(Duration::from_millis(5));
    let big = pyxis_core::testdata::pseudo_random(11, 48 << 20);
    a.write("big.bin", &big);
    a.write("notes/one.txt", b"one");
    a.write("notes/two.txt", b"two!");
    let bytes = big.len() as u64 + 3 + 4;

    let (stop, h) = watch(&a);
    a.sync().await;
    stop.store(true, Ordering::Relaxed);
    check(&h.join().unwrap(), Direction::Upload, 3, bytes);

    let (stop, h) = watch(&b);
    b.sync().await;
    stop.store(true, Ordering::Relaxed);
    check(&h.join().unwrap(), Direction::Download, 3, bytes);
    assert_eq!(b.read("big.bin"), big);

    // Once the pass is over: nothing queued, no transfer, and this process
    // named as the one keeping the folder.
    for d in [&a, &b] {
        let s = &pyxis_sync::statuses(&d.config)[0];
        assert_eq!((s.state.as_str(), s.queued_files, s.queued_bytes, s.transfer.is_none()), ("idle", 0, 0, true));
        assert_eq!(s.pid, std::process::id());
    }
}
