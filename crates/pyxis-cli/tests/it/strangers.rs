//! The careless operator and the half-dead daemon, with real processes: a
//! mistyped server URL, remotes SIGKILLed right before a put, a catalog
//! other users can read, a remote whose writer panics.

use std::time::{Duration, Instant};

use crate::procs::{BIN, Net, random_file};

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_back(net: &Net, path: &str, original: &std::path::Path) {
    let out = net.dir.path().join(format!("out-{}", path.trim_start_matches('/').replace('/', "-")));
    let _ = std::fs::remove_file(&out);
    net.ok(&["get", path, out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == std::fs::read(original).unwrap(), "{path} read back differently");
}

fn chunks(net: &Net) -> Vec<(u64, u64, u64)> {
    net.health()["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["healthy"].as_u64().unwrap(), b["total"].as_u64().unwrap(), b["chunks"].as_u64().unwrap()))
        .collect()
}

/// Finding 1: six remotes restarted with `--server http://localhost:PORT`
/// instead of `http://127.0.0.1:PORT` used to register as six new remotes
/// and delete every shard at their first inventory.
#[test]
fn remotes_restarted_with_another_spelling_of_the_server_url_keep_every_shard() {
    let mut net = Net::start(6);
    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 31, 20 << 20);
    net.ok(&["put", f.to_str().unwrap(), "/f"]);
    let bytes_before: Vec<u64> = (0..6).map(|i| net.remote_bytes(i)).collect();
    let typo = format!("https://localhost:{}", net.port);
    for i in 0..6 {
        net.restart_remote(i, &typo);
    }
    net.wait_online(6);
    let listed = net.ok(&["admin", "remotes", "--token", crate::procs::ADMIN, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(v["remotes"].as_array().unwrap().len(), 6, "the restarted remotes registered as new ones: {listed}");
    // Several inventory passes (every 2 s), then nothing may be gone.
    let log = |i: usize| std::fs::read_to_string(net.dir.path().join(format!("remote-{i}.log"))).unwrap_or_default();
    std::thread::sleep(Duration::from_secs(5));
    for (i, before) in bytes_before.iter().enumerate() {
        assert!(!log(i).contains("deleted shards"), "remote {i} deleted shards:\n{}", log(i));
        assert!(net.remote_bytes(i) >= *before, "remote {i} lost bytes");
    }
    read_back(&net, "/f", &f);
}

/// Finding 5: with 2 of 6 remotes SIGKILLed (what 4+2 tolerates) every put
/// failed while the server still counted them online.
#[test]
fn a_put_right_after_two_of_six_remotes_die_succeeds_and_widens_when_they_return() {
    let mut net = Net::start(6);
    net.ok(&["signup", "alice"]);
    net.remotes[0].kill();
    net.remotes[1].kill();
    let f = net.dir.path().join("f");
    random_file(&f, 32, 24 << 20);
    let out: serde_json::Value = serde_json::from_str(&net.ok(&["--json", "put", f.to_str().unwrap(), "/f"])).unwrap();
    assert!(out["failed"].as_array().unwrap().is_empty(), "{out}");
    read_back(&net, "/f", &f);
    // Narrower than 4+2, and each past its success threshold k + ceil(m/2):
    // 2+2 on the four left, or 3+2 stored with 4 receipts when the server
    // still counted a killed remote online at placement (under load it can).
    let now = chunks(&net);
    assert!(!now.is_empty() && now.iter().all(|(h, t, _)| *t < 6 && *h + 1 >= *t), "{now:?}");
    // The remotes come back: re-encoding brings every chunk to 4+2.
    let url = net.url();
    net.restart_remote(0, &url);
    net.restart_remote(1, &url);
    wait_until("every chunk re-encoded to 4+2", 120, || {
        let c = chunks(&net);
        !c.is_empty() && c.iter().all(|(h, t, _)| *h == 6 && *t == 6)
    });
    read_back(&net, "/f", &f);
}

/// Finding 6: the catalog (grant-signing seed, session key) readable by
/// every local user.
#[test]
fn a_catalog_other_users_can_read_stops_the_server_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let net = Net::start(0);
    let data = net.dir.path().join("server");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory was created open");
    assert_eq!(mode(&data.join("catalog.db")), 0o600);
    drop(net.server);
    std::fs::set_permissions(data.join("catalog.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = crate::procs::free_port().to_string();
    let out = std::process::Command::new(BIN)
        .args(["server", "--listen", &format!("127.0.0.1:{port}"), "--data", data.to_str().unwrap(), "--insecure-http"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the server started with a world-readable catalog");
    assert!(err.contains("catalog.db is mode 0644") && err.contains("chmod 600"), "{err}");
}

/// Finding 7: a panic in the remote's writer thread left a process that
/// heartbeat as online and refused every write.
#[test]
fn a_panic_in_a_remote_writer_ends_the_process_and_puts_go_elsewhere() {
    use std::os::unix::process::ExitStatusExt;
    let mut net = Net::start(6);
    let bad = net.spawn_remote_with(&[("PYXIS_FAULT", "store-writer-panic")]);
    net.wait_online(7);
    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 33, 8 << 20);
    net.ok(&["put", f.to_str().unwrap(), "/f"]);
    let mut status = None;
    wait_until("the faulty remote to end", 30, || {
        status = net.remotes[bad].child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().signal(), Some(6), "not aborted: {status:?}");
    let log = std::fs::read_to_string(net.dir.path().join(format!("remote-{bad}.log"))).unwrap();
    assert!(log.contains("injected fault") && log.contains("aborting"), "{log}");
    read_back(&net, "/f", &f);
}
