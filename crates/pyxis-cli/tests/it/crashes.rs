//! SIGKILL in the middle of transfers: files stay intact, nothing partial is
//! ever visible, and a re-run completes.

use std::time::{Duration, Instant};

use crate::procs::{Net, random_file};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_remote_killed_during_upload_and_during_download() {
    let mut net = Net::start(7);
    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 9, 96 << 20);
    let mut put = net.command(&["put", f.to_str().unwrap(), "/f"]).spawn().unwrap();
    wait_until("remote 0 to receive shards", || net.remote_bytes(0) > 2 << 20);
    net.remotes[0].kill();
    let status = put.wait().unwrap();
    assert!(status.success(), "put failed after a remote died");

    let out = net.dir.path().join("out");
    let mut get = net.command(&["get", "/f", out.to_str().unwrap()]).spawn().unwrap();
    wait_until("the download to be under way", || temp_bytes(net.dir.path()) > 4 << 20);
    net.remotes[1].kill();
    assert!(!out.exists(), "the download finished before the remote died: the test proved nothing");
    assert!(get.wait().unwrap().success(), "get failed after a remote died");
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&f).unwrap());
}

/// Bytes written so far to the temporary files of downloads in `dir`.
fn temp_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".pyxis-"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

#[test]
fn the_server_killed_mid_upload_costs_a_pause_not_the_put() {
    let mut net = Net::start(6);
    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 11, 96 << 20);
    let mut put = net.command(&["put", f.to_str().unwrap(), "/f"]).spawn().unwrap();
    wait_until("shards to arrive", || net.remote_bytes(2) > 4 << 20);
    net.server.as_mut().unwrap().kill();
    assert!(put.try_wait().unwrap().is_none(), "the put ended before the server died: the test proved nothing");
    // Down for a moment (the put's calls fail and retry), then back.
    std::thread::sleep(Duration::from_millis(500));
    net.start_server();
    let status = put.wait().unwrap();
    assert!(status.success(), "a server restart in the middle of a put cost the put");
    let ls = net.ok(&["--json", "ls", "-R", "/"]);
    let v: serde_json::Value = serde_json::from_str(&ls).unwrap();
    assert_eq!(v["entries"].as_array().unwrap().len(), 1, "{ls}");
    let out = net.dir.path().join("out");
    net.ok(&["get", "/f", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&f).unwrap());
}

/// The durability issue's main scenario with real SIGKILLs: 4+2 over six
/// remotes, two killed, the file still reads; two new remotes, full health
/// again; two more killed, the file still reads.
#[test]
fn sigkilled_remotes_are_repaired_around() {
    let mut net = Net::start(6);
    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 21, 200 << 20);
    net.ok(&["put", f.to_str().unwrap(), "/f"]);
    net.remotes[0].kill();
    net.remotes[1].kill();
    let out = net.dir.path().join("out");
    net.ok(&["get", "/f", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&f).unwrap());
    // The server notices the silence before it can count the loss.
    net.wait_online(4);

    net.spawn_remote();
    net.spawn_remote();
    wait_until("full health on the four survivors and two newcomers", || {
        let h = net.health();
        let buckets = h["chunks"].as_array().unwrap();
        !buckets.is_empty() && buckets.iter().all(|b| b["healthy"] == 6 && b["total"] == 6)
    });
    assert_eq!(net.health()["remotes_online"], 6);
    net.remotes[2].kill();
    net.remotes[6].kill();
    std::fs::remove_file(&out).unwrap();
    net.ok(&["get", "/f", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&f).unwrap());
    let h = net.health();
    assert!(h["workers"]["shards_rebuilt"].as_u64().unwrap() > 0);
}
