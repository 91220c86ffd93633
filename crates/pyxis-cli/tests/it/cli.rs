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
