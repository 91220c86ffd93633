//! `pyxis sync` daemons as separate processes: a change on one device shows
//! up on the other without a command, a daemon killed mid-download leaves no
//! partial file and finishes when restarted, and a server restart is
//! ridden out.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::procs::{Net, Proc, random_file, spawn_with};

/// Waits until `cond` holds, or fails naming `what`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

struct Dev {
    name: &'static str,
    config: PathBuf,
    root: PathBuf,
}

impl Dev {
    fn new(net: &Net, name: &'static str) -> Dev {
        let config = net.dir.path().join(format!("config-{name}"));
        let out = net.command(&["login", "alice"]).env("PYXIS_CONFIG", &config).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Dev { name, config, root: net.dir.path().join(format!("folder-{name}")) }
    }

    fn daemon(&self, net: &Net) -> Proc {
        self.daemon_with(net, &[])
    }

    fn daemon_with(&self, net: &Net, extra: &[&str]) -> Proc {
        let ca = net.ca().cert_path();
        let env = [("PYXIS_CONFIG", self.config.to_str().unwrap()), ("PYXIS_CA", ca.to_str().unwrap())];
        let root = self.root.to_str().unwrap();
        let mut args = vec!["sync", root, "--remote-path", "/shared", "--device", self.name];
        args.extend(extra);
        spawn_with(net.dir.path(), &format!("sync-{}", self.name), &args, &env)
    }

    fn status(&self, net: &Net) -> serde_json::Value {
        let out = net.command(&["--json", "status"]).env("PYXIS_CONFIG", &self.config).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn same(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

#[test]
fn sync_daemons_follow_each_other_and_survive_kills_and_restarts() {
    let mut net = Net::start(3);
    net.ok(&["signup", "alice"]);
    let (a, b) = (Dev::new(&net, "a"), Dev::new(&net, "b"));
    let _da = a.daemon(&net);
    let mut db = b.daemon(&net);
    let limit = Duration::from_secs(60);
    wait_for("both folders to be made", limit, || a.root.join(".pyxis").is_dir() && b.root.join(".pyxis").is_dir());

    // Live, both ways: no command runs in between.
    std::fs::write(a.root.join("hello.txt"), b"hello from a").unwrap();
    let took = wait_for("hello.txt on b", limit, || same(&a.root.join("hello.txt"), &b.root.join("hello.txt")));
    eprintln!("a -> b in {took:?}");
    std::fs::write(b.root.join("run.sh"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(b.root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    wait_for("run.sh on a", limit, || {
        std::fs::metadata(a.root.join("run.sh")).is_ok_and(|m| m.permissions().mode() & 0o777 == 0o755)
    });

    // b killed (SIGKILL) while it downloads a big file: never a partial
    // file under its name; restarted, it finishes.
    let big = net.dir.path().join("big.src");
    random_file(&big, 9, 32 << 20);
    std::fs::copy(&big, a.root.join("big.bin")).unwrap();
    let staging = b.root.join(".pyxis/staging");
    let caught = Instant::now();
    while !staging.exists() && caught.elapsed() < limit && !same(&big, &b.root.join("big.bin")) {
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!("b killed {} its download", if staging.exists() { "during" } else { "around" });
    db.kill();
    let target = b.root.join("big.bin");
    assert!(!target.exists() || same(&big, &target), "a partial big.bin is visible on b");
    let mut db = b.daemon(&net);
    wait_for("big.bin on b after the restart", limit, || same(&big, &target));

    // The server restarted while both daemons run: they ride it out.
    net.server.take().unwrap().kill();
    std::fs::write(a.root.join("during.txt"), b"written while the server was down").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    net.start_server();
    net.wait_online(3);
    wait_for("during.txt on b", Duration::from_secs(120), || {
        same(&a.root.join("during.txt"), &b.root.join("during.txt"))
    });

    // A removal follows too, and the status says what each folder does.
    std::fs::remove_file(b.root.join("hello.txt")).unwrap();
    wait_for("hello.txt gone from a", limit, || !a.root.join("hello.txt").exists());
    let s = a.status(&net);
    let folders = s.as_array().unwrap();
    assert_eq!(folders.len(), 1, "{s}");
    assert_eq!(folders[0]["remote"], "/shared", "{s}");
    assert!(folders[0]["uploaded"].as_u64().unwrap() >= 3, "{s}");
    assert!(folders[0]["downloaded"].as_u64().unwrap() >= 1, "{s}");
    db.kill();
}

/// A plain-HTTP GET of `/metrics` at `addr` (the body, or "" while nothing
/// answers).
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else { return String::new() };
    let _ = write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// The value of `series` in a scrape.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_sync_daemon_serves_its_metrics_and_they_follow_its_work() {
    let net = Net::start(3);
    net.ok(&["signup", "alice"]);
    let a = Dev::new(&net, "a");
    std::fs::create_dir_all(&a.root).unwrap();
    let addr = format!("127.0.0.1:{}", crate::procs::free_port());
    let _d = a.daemon_with(&net, &["--metrics-listen", &addr]);
    let folder = format!("{{folder=\"{}\"}}", a.root.display());
    wait_for("the first pass", Duration::from_secs(60), || {
        value(&scrape(&addr), &format!("pyxis_sync_last_pass_timestamp_seconds{folder}")).is_some_and(|t| t > 0.0)
    });
    let text = scrape(&addr);
    assert_eq!(value(&text, &format!("pyxis_sync_uploaded_files_total{folder}")), Some(0.0), "{text}");
    assert!(text.contains("# HELP pyxis_sync_queued_bytes ") && text.ends_with("# EOF\n"), "{text}");

    for i in 0..3 {
        random_file(&a.root.join(format!("f{i}")), i, 100_000);
    }
    wait_for("three uploads in the metrics", Duration::from_secs(60), || {
        value(&scrape(&addr), &format!("pyxis_sync_uploaded_files_total{folder}")) == Some(3.0)
    });
    let text = scrape(&addr);
    assert!(value(&text, &format!("pyxis_sync_sent_bytes_total{folder}")).is_some_and(|b| b >= 300_000.0), "{text}");
    assert_eq!(value(&text, &format!("pyxis_sync_queued_files{folder}")), Some(0.0), "{text}");
    assert_eq!(value(&text, &format!("pyxis_sync_failed_files{folder}")), Some(0.0), "{text}");
}
