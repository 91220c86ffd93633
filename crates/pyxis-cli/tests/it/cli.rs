//! The command-line contract: exit codes, one error line, `--json`.

use crate::procs::{Net, random_file};

#[test]
fn a_session_through_the_binary() {
    let net = Net::start(3);
    net.ok(&["signup", "alice"]);
    assert!(net.ok(&["whoami"]).contains("alice"));
    let f = net.dir.path().join("hello.txt");
    random_file(&f, 1, 100_000);
    let put = net.ok(&["--json", "put", f.to_str().unwrap(), "/docs/hello.txt"]);
    let v: serde_json::Value = serde_json::from_str(&put).unwrap();
    assert_eq!(v["files"], 1);
    assert_eq!(v["new"], 100_000);
    // Three remotes: 2+1, which is reduced redundancy, and the human output says so.
    assert_eq!(v["reduced"], true);
    let human = net.pyxis(&["put", f.to_str().unwrap(), "/docs/again.txt"]);
    assert!(String::from_utf8_lossy(&human.stderr).contains("redundancy is reduced"));

    let ls: serde_json::Value = serde_json::from_str(&net.ok(&["--json", "ls", "-R", "/"])).unwrap();
    let paths: Vec<&str> = ls["entries"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/docs", "/docs/again.txt", "/docs/hello.txt"]);
    let out = net.dir.path().join("out.txt");
    net.ok(&["get", "/docs/hello.txt", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&f).unwrap());

    // Failures: non-zero exit, one clear line on stderr, a JSON error with --json.
    let miss = net.pyxis(&["--json", "get", "/nope", "x"]);
    assert!(!miss.status.success());
    let err = String::from_utf8_lossy(&miss.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("pyxis: error: /nope: no such file"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&miss.stdout).unwrap();
    assert_eq!(v["error"]["code"], "not_found");

    let bad = net.command(&["login", "alice"]).env("PYXIS_PASSWORD", "wrong").output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("wrong username or password"));

    // A reader that goes away (`pyxis ls | head`) ends the output quietly:
    // no panic, no message, and the command's own exit status.
    for args in [&["--json", "ls", "-R", "/"][..], &["ls", "-R", "/"]] {
        let mut child = net
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(err.is_empty(), "{args:?}: {err}");
    }

    net.ok(&["logout"]);
    let gone = net.pyxis(&["ls"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not logged in"));
}

#[test]
fn the_password_can_come_from_stdin() {
    use std::io::Write;
    let net = Net::start(1);
    let mut child = net
        .command(&["signup", "bob", "--password-stdin"])
        .env_remove("PYXIS_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"from stdin\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let ok = net.command(&["login", "bob"]).env("PYXIS_PASSWORD", "from stdin").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn up_stops_on_ctrl_c_and_picks_up_its_data_again() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let port = crate::procs::free_port_run(4); // the server and 3 remotes
    let data = dir.path().join("data");
    let up = || {
        Command::new(crate::procs::BIN)
            .args(["up", "--remotes", "3", "--dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // What `up` prints for clients to export: the https URL and the CA.
    let exports = |child: &mut std::process::Child| -> Vec<(String, String)> {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let line =
            lines.find_map(|l| l.ok().filter(|l| l.trim_start().starts_with("export "))).expect("an export line");
        let vars: Vec<(String, String)> = line
            .trim_start()
            .trim_start_matches("export ")
            .split_whitespace()
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect();
        // Keep draining, so `up` never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        vars
    };
    let mut first = up();
    let vars = exports(&mut first);
    assert!(vars.iter().any(|(k, v)| k == "PYXIS_SERVER" && v == &format!("https://127.0.0.1:{port}")), "{vars:?}");
    assert!(vars.iter().any(|(k, v)| k == "PYXIS_CA" && std::path::Path::new(v).exists()), "{vars:?}");
    let client = |args: &[&str]| {
        Command::new(crate::procs::BIN)
            .args(args)
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PYXIS_CONFIG", dir.path().join("cfg"))
            .env("PYXIS_PASSWORD", "pw-for-up")
            .output()
            .unwrap()
    };
    let until_ok = |args: &[&str]| {
        let mut last = String::new();
        for _ in 0..200 {
            let out = client(args);
            if out.status.success() {
                return;
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("pyxis {args:?} never succeeded; last error: {last}");
    };
    until_ok(&["signup", "dana"]);
    let f = dir.path().join("keep.bin");
    random_file(&f, 5, 3 << 20);
    until_ok(&["put", f.to_str().unwrap(), "/keep.bin"]);
    // --checksum reads the file again; the commit finds it unchanged.
    let again = client(&["--json", "put", "--checksum", f.to_str().unwrap(), "/keep.bin"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!((again["unchanged"].as_u64(), again["done"].as_u64()), (Some(1), Some(3 << 20)), "{again}");
    // Ctrl-C: a clean stop.
    let pid = first.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = first.wait().unwrap();
    assert!(status.success(), "up did not stop cleanly: {status}");

    let mut second = up();
    let _ = exports(&mut second);
    // The CA was kept in the client's config at signup: later commands need
    // no PYXIS_CA (and the session remembers the server).
    let out = dir.path().join("back.bin");
    let bare = || {
        Command::new(crate::procs::BIN)
            .args(["get", "/keep.bin", out.to_str().unwrap()])
            .env("PYXIS_CONFIG", dir.path().join("cfg"))
            .env_remove("PYXIS_CA")
            .env_remove("PYXIS_SERVER")
            .output()
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = bare();
        if got.status.success() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", String::from_utf8_lossy(&got.stderr));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&f).unwrap());
    let _ = Command::new("kill").args(["-INT", &second.id().to_string()]).status();
    assert!(second.wait().unwrap().success());
}

#[test]
fn bench_edits_counts_only_the_chunks_an_edit_touches() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let data = pyxis_core::testdata::pseudo_random(7, 12 << 20);
    let mut edited = data.clone();
    edited[6 << 20..(6 << 20) + 100].fill(0xee);
    let (base, same, edit) = (dir.path().join("base"), dir.path().join("same"), dir.path().join("edit"));
    std::fs::write(&base, &data).unwrap();
    std::fs::write(&same, &data).unwrap();
    std::fs::write(&edit, &edited).unwrap();
    let paths = [base.to_str().unwrap(), same.to_str().unwrap(), edit.to_str().unwrap()];
    let out =
        Command::new(crate::procs::BIN).args(["bench", "edits", "--keys", "5", "--json"]).args(paths).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["max_new_bytes"], 0, "an identical copy sends nothing");
    let changed = &report[1];
    assert!(changed["mean_new_chunks"].as_f64().unwrap() >= 1.0);
    // One or two ~1 MiB chunks of 12 MiB, never the whole file.
    assert!(changed["max_new_bytes"].as_u64().unwrap() < 9 << 20, "{changed}");

    let missing = dir.path().join("missing");
    let out =
        Command::new(crate::procs::BIN).args(["bench", "edits", paths[0], missing.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"), "the error names the file");
    let out =
        Command::new(crate::procs::BIN).args(["bench", "edits", "--keys", "0", paths[0], paths[1]]).output().unwrap();
    assert!(!out.status.success(), "zero keys is refused");
}

#[test]
fn passwd_recovery_key_and_recover_are_scriptable() {
    let net = Net::start(0);
    net.ok(&["signup", "carol"]);
    let v: serde_json::Value = serde_json::from_str(&net.ok(&["--json", "recovery-key"])).unwrap();
    let key = v["recovery_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64 + 7, "{key}");
    let out = net.command(&["passwd"]).env("PYXIS_NEW_PASSWORD", "second password").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let old = net.command(&["login", "carol"]).output().unwrap();
    assert!(String::from_utf8_lossy(&old.stderr).contains("wrong username or password"));
    let out = net.command(&["login", "carol"]).env("PYXIS_PASSWORD", "second password").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The password is lost: the recovery key (as printed) sets a third one.
    let out = net
        .command(&["recover", "carol"])
        .env("PYXIS_RECOVERY_KEY", &key)
        .env("PYXIS_NEW_PASSWORD", "third password")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(net.ok(&["whoami"]).contains("carol"));
    let bad = net
        .command(&["recover", "carol"])
        .env("PYXIS_RECOVERY_KEY", "not-a-key")
        .env("PYXIS_NEW_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("64 hex digits"));
}

#[test]
fn sharing_through_the_binary() {
    let net = Net::start(3);
    let bob_dir = net.dir.path().join("bob-config");
    let bob = |args: &[&str]| {
        let out = net.command(args).env("PYXIS_CONFIG", &bob_dir).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    };
    net.ok(&["signup", "alice"]);
    assert!(bob(&["signup", "bob"]).0);
    let (ok, fp) = bob(&["--json", "whoami", "--fingerprint"]);
    assert!(ok, "{fp}");
    let fp = serde_json::from_str::<serde_json::Value>(&fp).unwrap()["fingerprint"].as_str().unwrap().to_owned();
    let src = net.dir.path().join("docs");
    std::fs::create_dir_all(&src).unwrap();
    random_file(&src.join("a.txt"), 1, 30_000);
    net.ok(&["put", src.to_str().unwrap(), "/docs"]);

    // A wrong fingerprint stops the share; bob's own one lets it through.
    let wrong = net.pyxis(&["share", "/docs", "bob", "--fingerprint", "0000 0000"]);
    assert!(!wrong.status.success());
    let shared = net.ok(&["share", "/docs", "bob", "--fingerprint", &fp]);
    assert!(shared.contains("shared /docs with bob: 1 versions readable"), "{shared}");
    let (ok, with_me) = bob(&["shared"]);
    assert!(ok && with_me.contains("shared with you") && with_me.contains("@alice/docs"), "{with_me}");
    let (ok, ls) = bob(&["ls", "@alice/docs"]);
    assert!(ok && ls.contains("@alice/docs/a.txt"), "{ls}");
    let out = net.dir.path().join("bob-a.txt");
    assert!(bob(&["get", "@alice/docs/a.txt", out.to_str().unwrap()]).0);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(src.join("a.txt")).unwrap());
    let (ok, err) = bob(&["put", out.to_str().unwrap(), "@alice/docs/b.txt"]);
    assert!(!ok && err.contains("to read only"), "{err}");

    // Read and write, after an unshare.
    let again = net.pyxis(&["share", "/docs", "bob", "--write"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("unshare it first"));
    net.ok(&["unshare", "/docs", "bob"]);
    assert!(!bob(&["ls", "@alice/docs"]).0);
    net.ok(&["share", "/docs", "bob", "--write"]);
    let (ok, err) = bob(&["put", out.to_str().unwrap(), "@alice/docs/b.txt"]);
    assert!(ok, "{err}");
    let ls = net.ok(&["ls", "/docs"]);
    assert!(ls.contains("/docs/b.txt"), "{ls}");
    let back = net.dir.path().join("alice-b.txt");
    net.ok(&["get", "/docs/b.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&out).unwrap());
}
