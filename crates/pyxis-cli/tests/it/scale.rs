//! Several server instances on one PostgreSQL, as real processes: any
//! instance serves any request, the change feed reaches readers on every
//! instance, and the workers' leases hand repair over when an instance dies.
//!
//! These need a PostgreSQL server: `PYXIS_TEST_DATABASE_URL`, which CI's
//! PostgreSQL step sets (each test makes a fresh database in it). Without
//! it they say so and pass: the embedded SQLite catalog is one instance's.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::procs::{ADMIN, Net, free_port, random_file};

const LOG: [(&str, &str); 2] = [("RUST_LOG", "info"), ("PYXIS_LOG_JSON", "1")];

fn database() -> Option<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(pyxis_testkit::test_database()).unwrap();
    if url.is_none() {
        eprintln!("skipped: needs PYXIS_TEST_DATABASE_URL (CI's PostgreSQL step sets it)");
    }
    url
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// HTTPS to an instance, trusting the network's CA.
fn http(net: &Net) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(net.ca().cert_pem().as_bytes()).unwrap();
    reqwest::Client::builder().tls_certs_only([ca]).build().unwrap()
}

/// GET `url` (with a bearer token) as JSON or text, on a runtime of its
/// own. (A client's pooled connections belong to the runtime that made
/// them: give each call a client of its own.)
fn get<T>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    read: impl AsyncFnOnce(reqwest::Response) -> Option<T>,
) -> Option<T> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { read(http.get(url).bearer_auth(token).send().await.ok()?).await })
}

fn get_json(http: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    let text = get(http, url, token, async |r| r.text().await.ok()).unwrap_or_else(|| panic!("GET {url} failed"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: {e}: {text}"))
}

/// The value of the series `series` (name and labels, as printed) in an
/// instance's /metrics, if there.
fn metric(net: &Net, port: u16, series: &str) -> Option<f64> {
    let text = get(&http(net), &format!("https://127.0.0.1:{port}/metrics"), ADMIN, async |r| r.text().await.ok())?;
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The chunks an instance's log says it repaired.
fn repaired(net: &Net, name: &str) -> Vec<String> {
    let log = std::fs::read_to_string(net.dir.path().join(format!("{name}.log"))).unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "chunk repaired")
        .map(|v| v["fields"]["chunk"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_instances_serve_one_catalog_and_one_feed() {
    let Some(db) = database() else { return };
    let net = Net::start_with_env(4, &["--database-url", &db], &LOG);
    let b_port = free_port();
    let _b = net.server_process("server-b", b_port);
    let b = format!("https://127.0.0.1:{b_port}");

    // Put through A, get through B (the session A issued is good on B).
    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 1, 2_000_000);
    net.ok(&["put", f.to_str().unwrap(), "/f"]);
    let back = net.dir.path().join("back");
    let out = net.command(&["get", "/f", back.to_str().unwrap()]).env("PYXIS_SERVER", &b).output().unwrap();
    assert!(out.status.success(), "get through B: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&f).unwrap(), std::fs::read(&back).unwrap());

    // A reader waiting on A hears of a change made through B.
    let token = pyxis_client::ConfigDir::new(net.config()).load().unwrap().unwrap().token.clone();
    let now = get_json(&http(&net), &format!("{}/v1/changes?after=0", net.url()), &token);
    let cursor = now["cursor"].as_i64().unwrap();
    let poll = {
        let (http, url, token) = (http(&net), net.url(), token.clone());
        std::thread::spawn(move || {
            let answer = get_json(&http, &format!("{url}/v1/changes?after={cursor}&wait=20"), &token);
            (answer, Instant::now())
        })
    };
    wait_until("the long poll to wait on A", 10, || {
        metric(&net, net.port, "pyxis_change_feed_subscribers").is_some_and(|n| n >= 1.0)
    });
    let out = net.command(&["mkdir", "/made-on-b"]).env("PYXIS_SERVER", &b).output().unwrap();
    assert!(out.status.success(), "mkdir through B: {}", String::from_utf8_lossy(&out.stderr));
    let made = Instant::now();
    let (answer, heard) = poll.join().unwrap();
    let latency = heard.saturating_duration_since(made);
    assert!(latency < Duration::from_secs(1), "A's reader heard of B's change after {latency:?}");
    let changes = answer["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["path"] == "/made-on-b"), "{answer}");
}

#[test]
fn an_instance_killed_holding_the_repair_lease_hands_the_repair_over() {
    let Some(db) = database() else { return };
    // Repair slowed down so that A is killed part-way through it.
    let mut net = Net::start_with_env(7, &["--database-url", &db, "--repair-bandwidth", "256KB"], &LOG);
    let b_port = free_port();
    let mut b = net.server_process("server-b", b_port);
    // The remotes talk to B, the clients to A: any instance serves anyone.
    let b_url = format!("https://127.0.0.1:{b_port}");
    for i in 0..net.remotes.len() {
        net.restart_remote(i, &b_url);
    }
    net.wait_online(7);
    let lease = "pyxis_worker_lease_held{worker=\"repair\"}";
    wait_until("A to take the repair lease", 20, || metric(&net, net.port, lease) == Some(1.0));
    wait_until("B to see it taken", 20, || metric(&net, b_port, lease) == Some(0.0));

    net.ok(&["signup", "alice"]);
    let f = net.dir.path().join("f");
    random_file(&f, 2, 8_000_000);
    net.ok(&["put", f.to_str().unwrap(), "/f"]);
    // Each chunk has at most one shard on a remote: the chunks remote 0
    // holds are the chunks its loss degrades.
    let remotes: serde_json::Value =
        serde_json::from_str(&net.ok(&["admin", "remotes", "--token", ADMIN, "--json"])).unwrap();
    let lost = remotes["remotes"].as_array().unwrap().iter().find(|r| r["shards"].as_i64() > Some(0)).cloned().unwrap();
    let degraded = lost["shards"].as_u64().unwrap() as usize;
    let url = lost["url"].as_str().unwrap();
    let index = net.ports.iter().position(|p| url.ends_with(&format!(":{p}"))).expect("the remote's process");
    assert!(degraded >= 3, "too few chunks to kill A part-way: {degraded}");
    net.remotes[index].kill();

    wait_until("A to repair a first chunk", 60, || !repaired(&net, "server").is_empty());
    assert_eq!(metric(&net, net.port, lease), Some(1.0), "A repairs only while it holds the lease");
    net.server.as_mut().unwrap().kill();
    let by_a: BTreeSet<String> = repaired(&net, "server").into_iter().collect();
    assert!(by_a.len() < degraded, "A finished before it was killed; slow the repair down");

    // B takes the lease once A's expires, and finishes the job.
    wait_until("B to take the repair lease", 30, || metric(&net, b_port, lease) == Some(1.0));
    wait_until("B to repair the rest", 120, || by_a.len() + repaired(&net, "server-b").len() >= degraded);
    let by_b: BTreeSet<String> = repaired(&net, "server-b").into_iter().collect();
    assert!(by_a.is_disjoint(&by_b), "repaired by both: {:?}", by_a.intersection(&by_b).collect::<Vec<_>>());
    assert_eq!(by_a.len() + by_b.len(), degraded, "each degraded chunk repaired once: A {by_a:?}, B {by_b:?}");
    assert_eq!(repaired(&net, "server-b").len(), by_b.len(), "B repaired a chunk twice");

    // And the file reads back through B with remote 0 gone.
    let back = net.dir.path().join("back");
    let out = net
        .command(&["get", "/f", back.to_str().unwrap()])
        .env("PYXIS_SERVER", format!("https://127.0.0.1:{b_port}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "get through B: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&f).unwrap(), std::fs::read(&back).unwrap());
    b.kill();
}
