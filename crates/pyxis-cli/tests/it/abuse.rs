//! A real server process under hostile traffic: floods of logins, huge and
//! deeply nested bodies, plain HTTP, the wrong CA. It answers each with a
//! clear 4xx or 503, keeps serving, and its memory stays bounded.

use serde_json::{Value, json};

use crate::procs::Net;

/// The peak resident memory of a process so far (VmHWM), in MiB.
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn floods_and_hostile_bodies_leave_the_server_small_and_serving() {
    // Behind a proxy on 127.0.0.1, so the flood comes from 100 addresses
    // and meets the password checks, not only the per-address limits.
    let net = Net::start_with(0, &["--trusted-proxy", "127.0.0.1"]);
    net.ok(&["signup", "alice"]);
    let pid = net.server.as_ref().unwrap().child.id();
    let http = pyxis_client::api::http_client(Some(net.ca().cert_pem().as_bytes())).unwrap();
    let url = net.url();
    let token = {
        let session: Value =
            serde_json::from_str(&std::fs::read_to_string(net.config().join("session.json")).unwrap()).unwrap();
        session["token"].as_str().unwrap().to_owned()
    };
    let before = peak_mib(pid);
    runtime().block_on(async {
        // 100 wrong logins at once, each an Argon2 run of 19 MiB on the
        // server: without a bound this took it from 0.5 to 2.3 GiB; with
        // Argon2 allocating per check on blocking threads, to 490 MiB.
        let answers = futures::future::join_all((0..100).map(|i| {
            let (http, url) = (&http, &url);
            async move {
                let r = http
                    .post(format!("{url}/v1/auth/login"))
                    .header("x-forwarded-for", format!("198.51.100.{i}"))
                    .json(&json!({ "username": if i % 2 == 0 { "alice" } else { "nobody" }, "login_secret": "ab".repeat(32) }))
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            }
        }))
        .await;
        assert!(answers.iter().all(|s| matches!(s, 401 | 503)), "{answers:?}");

        // 60 MiB of JSON strings, announced and streamed: refused with 413
        // long before it is decoded.
        let big = format!("{{\"files\":[{}\"x\"]}}", "\"xxxxxxxxxxxxxxxx\",".repeat((60 << 20) / 19));
        let r = http
            .post(format!("{url}/v1/commit"))
            .bearer_auth(&token)
            .body(big.clone())
            .header("content-type", "application/json");
        // The server answers 413 on seeing the length and may close the
        // connection while the client is still sending.
        match r.send().await {
            Ok(resp) => assert_eq!(resp.status(), 413),
            Err(e) => assert!(e.is_request(), "{e}"),
        }
        let stream = futures::stream::iter(big.into_bytes().chunks(1 << 20).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>());
        let r = http
            .post(format!("{url}/v1/commit"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(stream));
        // The server stops reading at the limit and answers 413.
        match r.send().await {
            Ok(resp) => assert_eq!(resp.status(), 413),
            Err(e) => assert!(e.is_request(), "{e}"),
        }
        // Within the size limit, an array longer than the server takes is
        // refused at its first item past the limit.
        let many = format!("{{\"paths\":[{}\"/x\"]}}", "\"/x\",".repeat(200_000));
        let r = http.post(format!("{url}/v1/files/read")).bearer_auth(&token).header("content-type", "application/json").body(many);
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status(), 422);
        let body: Value = resp.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains("more than 10000 items"), "{body}");
        // Nesting 10,000 deep is a 400, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for path in ["/v1/auth/login", "/v1/commit", "/v1/chunks/place"] {
            let r = http.post(format!("{url}{path}")).bearer_auth(&token).header("content-type", "application/json").body(deep.clone());
            let status = r.send().await.unwrap().status().as_u16();
            assert!(matches!(status, 400 | 413 | 422), "{path}: {status}");
        }
        // Not JSON at all, and the wrong JSON.
        for body in ["\u{0}\u{1}garbage", "{\"username\": 7}", "null", ""] {
            let r = http.post(format!("{url}/v1/auth/login")).header("content-type", "application/json").body(body);
            let status = r.send().await.unwrap().status().as_u16();
            assert!(matches!(status, 400 | 415 | 422), "{body:?}: {status}");
        }
    });
    let after = peak_mib(pid);
    eprintln!("server peak memory: {before} MiB before, {after} MiB after the floods");
    assert!(after < before + 120, "the server's peak memory went from {before} to {after} MiB");
    // Still serving, and the owner still gets in.
    assert!(net.ok(&["whoami"]).contains("alice"));
    let again = net.command(&["login", "alice"]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

#[test]
fn plain_http_a_wrong_ca_and_an_old_http_session_fail_clearly() {
    let net = Net::start(0);
    // Plain HTTP to the HTTPS port: told to use https://.
    let plain = net.url().replace("https://", "http://");
    let out = net.command(&["--server", &plain, "signup", "bob"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTPS only") && err.contains("https://"), "{err}");

    // A CA that did not issue the server's certificate: refused, and said so.
    let other = tempfile::tempdir().unwrap();
    let stranger = pyxis_net::ca::LocalCa::load_or_create(other.path(), "Someone else's CA").unwrap();
    let out = net.command(&["signup", "bob"]).env("PYXIS_CA", stranger.cert_path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("certificate"), "{err}");
    assert!(!net.config().join("session.json").exists(), "nothing saved after a refused connection");

    // A session saved by a release that spoke plain HTTP.
    net.ok(&["signup", "bob"]);
    // With a session, a refused connection is retried (a restart), but a
    // certificate from a CA it does not trust is not: it fails at once.
    let started = std::time::Instant::now();
    let out = net.command(&["whoami"]).env("PYXIS_CA", stranger.cert_path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).to_lowercase().contains("certificate"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "retried for {:?}", started.elapsed());
    let path = net.config().join("session.json");
    let mut session: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    session["server"] = Value::String(plain.clone());
    std::fs::write(&path, session.to_string()).unwrap();
    let out = net.command(&["whoami"]).env_remove("PYXIS_SERVER").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("https://") && err.contains("log in again"), "{err}");
}
