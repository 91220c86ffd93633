//! An existing network upgrades in place: data directories written by the
//! release before remote keys and receipts (tests/fixtures/v0.1-network)
//! start under this binary; every file reads back, no shard is lost, the
//! remotes bind keys to their old identities, and the shards stored before
//! receipts are adopted by audits.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procs::{BIN, Proc, free_port_run};

const PASSWORD: &str = "fixture password v0";

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn pyxis(dir: &Path, server: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("PYXIS_SERVER", server)
        .env("PYXIS_CA", dir.join("data/tls/ca.pem"))
        .env("PYXIS_CONFIG", dir.join("device-new"))
        .env("PYXIS_PASSWORD", PASSWORD)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn ok(dir: &Path, server: &str, args: &[&str]) -> String {
    let out = pyxis(dir, server, args);
    assert!(
        out.status.success(),
        "pyxis {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

fn up(dir: &Path, port: u16) -> Proc {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("up.log")).unwrap();
    let child = Command::new(BIN)
        .args(["up", "--remotes", "6", "--dir", dir.join("data").to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--capacity", "1GiB"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Proc { child }
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_network_of_the_previous_release_upgrades_in_place() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let unpacked = Command::new("tar")
        .args(["xzf", fixture("v0.1-network.tar.gz").to_str().unwrap(), "-C", dir.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(unpacked.success());
    let data = dir.join("data/server");
    // The earlier release left its catalog readable by everyone: the server
    // refuses to start on it and says what to do.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port_run(7);
    let mut first = up(dir, port);
    let status = first.child.wait().unwrap();
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.join("up.log")).unwrap();
    assert!(log.contains("chmod 700"), "{log}");
    assert!(!data.join("catalog.db-wal").exists(), "the refused catalog was opened anyway");
    // The operator does as told.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(data.join("catalog.db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let _net = up(dir, port);
    let server = format!("https://127.0.0.1:{port}");
    let admin = ["--data", data.to_str().unwrap(), "--json"];
    let remotes = || -> serde_json::Value {
        let out = pyxis(dir, &server, &[&["admin", "remotes"][..], &admin[..]].concat());
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    // The six remotes come back as themselves (the same ids, now with keys),
    // at their new addresses; no seventh appears.
    wait_until("the six remotes online with keys", 60, || {
        let r = remotes();
        r["remotes"].as_array().is_some_and(|v| {
            v.len() == 6
                && v.iter().all(|x| x["state"] == "online" && x["public_key"].as_str().is_some_and(|k| k.len() == 64))
        })
    });
    // Each remote rewrites its state file after the server has it online.
    for i in 0..6 {
        let state = dir.join(format!("data/remote-{i}/remote.json"));
        wait_until(&format!("remote {i} to drop its old token"), 30, || {
            std::fs::read_to_string(&state).is_ok_and(|saved| !saved.contains("\"token\""))
        });
        assert!(dir.join(format!("data/remote-{i}/remote.key")).exists());
    }
    // Every file reads back, byte for byte.
    ok(dir, &server, &["login", "alice"]);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("v0.1-network.expected.json")).unwrap()).unwrap();
    for (path, want) in expected.as_object().unwrap() {
        let out = dir.join("out").join(path.trim_start_matches('/'));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        ok(dir, &server, &["get", path, out.to_str().unwrap()]);
        assert_eq!(sha256(&out), want["sha256"].as_str().unwrap(), "{path}");
    }
    let versions: serde_json::Value =
        serde_json::from_str(&ok(dir, &server, &["--json", "versions", "/v0/notes.txt"])).unwrap();
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2), "{versions}");
    // Its versions predate bindings: read as legacy, reported by check until
    // `pyxis upgrade` binds them; after that this device refuses unbound ones.
    let legacy = pyxis(dir, &server, &["get", "/v0/notes.txt", dir.join("notes.legacy").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&legacy.stderr).contains("written before bindings"), "{legacy:?}");
    let unbound = pyxis(dir, &server, &["check"]);
    let said = String::from_utf8_lossy(&unbound.stderr);
    assert!(!unbound.status.success() && said.contains("not bound"), "{said}");
    let upgraded = ok(dir, &server, &["upgrade"]);
    assert!(upgraded.contains(&format!("bound {} files", expected.as_object().unwrap().len())), "{upgraded}");
    assert!(upgraded.contains("0 left unbound"), "{upgraded}");
    ok(dir, &server, &["check"]);
    let again = pyxis(dir, &server, &["get", "/v0/notes.txt", dir.join("notes.again").to_str().unwrap()]);
    assert!(again.status.success() && again.stderr.is_empty(), "{again:?}");
    // Older versions were bound too: still readable on this now strict device.
    ok(dir, &server, &["get", "/v0/notes.txt", dir.join("notes.v1").to_str().unwrap(), "--version", "1"]);
    assert_ne!(sha256(&dir.join("notes.v1")), sha256(&dir.join("notes.again")));
    // The shards stored before receipts are audited (adopted); none is lost.
    wait_until("every remote's old shards audited", 90, || {
        let r = remotes();
        r["remotes"].as_array().is_some_and(|v| v.iter().all(|x| x["audits_passed"].as_u64().unwrap_or(0) >= 1))
    });
    let h = ok(dir, &server, &[&["admin", "health"][..], &admin[..]].concat());
    let h: serde_json::Value = serde_json::from_str(&h).unwrap();
    let buckets = h["chunks"].as_array().unwrap();
    assert!(!buckets.is_empty() && buckets.iter().all(|b| b["healthy"] == 6 && b["total"] == 6), "{h}");
    assert_eq!(h["workers"]["audits_failed"], 0, "{h}");
    // And the upgraded network stores new data with receipts.
    let f = dir.join("new.bin");
    std::fs::write(&f, pyxis_core::testdata::pseudo_random(5, 3 << 20)).unwrap();
    ok(dir, &server, &["put", f.to_str().unwrap(), "/new.bin"]);
    let out = dir.join("new.out");
    ok(dir, &server, &["get", "/new.bin", out.to_str().unwrap()]);
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&f).unwrap());
}
