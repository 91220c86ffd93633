//! Abuse limits with the production defaults: password guessing, unknown
//! names, signups, bursts of logins, the API as a whole. The server trusts
//! 127.0.0.1 as a proxy here, so each test can speak from many client
//! addresses with `X-Forwarded-For`.

use std::time::{Duration, Instant};

use pyxis_crypto::keys::KdfParams;
use pyxis_proto::api::ErrorCode;
use pyxis_server::ServerOptions;
use pyxis_server::limits::{LimitOptions, Rate};
use pyxis_testkit::Cluster;
use serde_json::{Value, json};

fn behind_proxy(o: &mut ServerOptions, limits: LimitOptions) {
    o.limits = LimitOptions { trusted_proxies: vec!["127.0.0.1".parse().unwrap()], ..limits };
}

/// The answer to one login from `from`: (status, Retry-After, message).
async fn login_from(c: &Cluster, http: &reqwest::Client, from: &str, user: &str) -> (u16, Option<u64>, String) {
    let resp = http
        .post(format!("{}/v1/auth/login", c.url()))
        .header("x-forwarded-for", from)
        .json(&json!({ "username": user, "login_secret": "ab".repeat(32) }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, retry, body["message"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn a_password_guesser_is_slowed_and_the_owner_is_not_locked_out() {
    let c = Cluster::start_with(1, pyxis_testkit::DEFAULT_CAPACITY, |o| behind_proxy(o, LimitOptions::default()))
        .await
        .unwrap();
    c.signup("alice", "right").await.unwrap();
    let http = c.http();
    let started = Instant::now();
    let (mut wrong, mut limited) = (0, 0);
    for _ in 0..1000 {
        match login_from(&c, &http, "198.51.100.7", "alice").await {
            (401, _, _) => wrong += 1,
            (429, retry, msg) => {
                limited += 1;
                assert!(retry.is_some_and(|s| s >= 1), "a 429 without Retry-After: {msg}");
                assert!(msg.contains("limit is reached"), "{msg}");
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // Ten guesses at once, then one every six seconds of the run.
    let allowed = 10 + started.elapsed().as_secs() / 6 + 1;
    assert!(wrong <= allowed, "{wrong} guesses were checked in {:?}", started.elapsed());
    assert_eq!(wrong + limited, 1000);

    // The owner, from their own address, logs in at once.
    let dev = c.device("alice-phone");
    pyxis_client::account::login(&dev, &c.url(), "alice", "right").await.unwrap();

    // A name that does not exist is limited exactly like one that does.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..12 {
        known.push(login_from(&c, &http, "198.51.100.8", "alice").await.0);
        unknown.push(login_from(&c, &http, "198.51.100.9", "nobody").await.0);
    }
    assert_eq!(known, unknown, "a known and an unknown name answered differently");
    assert!(known.contains(&401) && known.contains(&429), "{known:?}");

    // Without a trusted proxy in front, X-Forwarded-For is just a claim: a
    // guesser cannot buy fresh limits by making up addresses.
    let c2 = Cluster::start(0).await.unwrap();
    let mut hit = false;
    for i in 0..200 {
        let (status, ..) = login_from(&c2, &c2.http(), &format!("10.0.{}.{}", i / 250, i % 250), "x").await;
        hit |= status == 429;
    }
    assert!(!hit, "the test cluster's own limits are loose");
    drop(c2);
    let c3 =
        Cluster::start_with(0, pyxis_testkit::DEFAULT_CAPACITY, |o| o.limits = LimitOptions::default()).await.unwrap();
    let mut statuses = Vec::new();
    for i in 0..50 {
        statuses.push(login_from(&c3, &c3.http(), &format!("10.0.0.{i}"), "x").await.0);
    }
    assert!(statuses.iter().filter(|s| **s == 401).count() <= 12, "spoofed addresses escaped the limit: {statuses:?}");
}

#[tokio::test]
async fn an_unknown_name_costs_the_same_as_a_wrong_password() {
    // A real (if small) Argon2 cost, so that skipping it would show.
    let cost = KdfParams { memory_kib: 8 * 1024, iterations: 3, parallelism: 1 };
    let c = Cluster::start_with(0, pyxis_testkit::DEFAULT_CAPACITY, |o| o.login_hash = cost).await.unwrap();
    c.signup("alice", "right").await.unwrap();
    let http = c.http();
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        let a = login_from(&c, &http, "-", "alice").await;
        known.push(t.elapsed());
        let t = Instant::now();
        let b = login_from(&c, &http, "-", "nobody").await;
        unknown.push(t.elapsed());
        assert_eq!((a.0, &a.2), (b.0, &b.2), "the answers differ");
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[7].as_secs_f64(), unknown[7].as_secs_f64());
    // Without the dummy check an unknown name answered about 70 times
    // faster; the same work leaves noise only.
    assert!(u / k > 0.5 && u / k < 2.0, "median known {k:.4}s, unknown {u:.4}s");
}

#[tokio::test]
async fn a_burst_of_logins_queues_for_password_checks_and_overflows_with_503() {
    let cost = KdfParams { memory_kib: 8 * 1024, iterations: 2, parallelism: 1 };
    let limits =
        LimitOptions { password_checks: 1, password_wait: Duration::from_millis(20), ..pyxis_testkit::loose_limits() };
    let c = Cluster::start_with(0, pyxis_testkit::DEFAULT_CAPACITY, |o| {
        o.login_hash = cost;
        behind_proxy(o, limits);
    })
    .await
    .unwrap();
    let http = c.http();
    let answers = futures::future::join_all((0..40).map(|i| {
        let (c, http) = (&c, &http);
        async move { login_from(c, http, &format!("192.0.2.{i}"), "nobody").await }
    }))
    .await;
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert!(!busy.is_empty(), "40 logins at once on one password check never overflowed");
    for (status, retry, msg) in &answers {
        assert!(matches!(status, 401 | 503), "{status} {msg}");
        if *status == 503 {
            assert!(retry.is_some() && msg.contains("password_checks"), "{msg}");
        }
    }
    assert!(answers.iter().any(|a| a.0 == 401), "no login was checked at all");
}

#[tokio::test]
async fn signups_and_api_calls_are_limited_per_address() {
    let limits = LimitOptions { api: Rate { burst: 40, every: Duration::from_secs(60) }, ..LimitOptions::default() };
    let c = Cluster::start_with(0, pyxis_testkit::DEFAULT_CAPACITY, |o| behind_proxy(o, limits)).await.unwrap();
    for name in ["u1", "u2", "u3"] {
        c.signup(name, "pw").await.unwrap();
    }
    let e = c.signup("u4", "pw").await.unwrap_err();
    assert!(e.to_string().contains("signup limit"), "{e}");
    // Another address may still sign up (its body is refused, not its address).
    let http = c.http();
    let other = http
        .post(format!("{}/v1/auth/signup", c.url()))
        .header("x-forwarded-for", "203.0.113.50")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(matches!(other.status().as_u16(), 400 | 422), "{}", other.status());

    // The API as a whole: 40 calls at once from one address, then 429.
    let statuses = futures::future::join_all((0..60).map(|_| {
        let http = &http;
        let url = format!("{}/healthz", c.url());
        async move { http.get(url).header("x-forwarded-for", "203.0.113.60").send().await.unwrap() }
    }))
    .await;
    let limited: Vec<_> = statuses.iter().filter(|r| r.status() == 429).collect();
    assert!(limited.len() >= 15, "only {} of 60 calls over a burst of 40 were limited", limited.len());
    assert!(limited.iter().all(|r| r.headers().contains_key("retry-after")));
    let body: Value = http
        .get(format!("{}/healthz", c.url()))
        .header("x-forwarded-for", "203.0.113.60")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body["message"].as_str().unwrap().contains("api limit"), "{body}");
}

#[tokio::test]
async fn a_weak_password_kdf_is_refused_at_signup() {
    let c = Cluster::start_with(0, pyxis_testkit::DEFAULT_CAPACITY, |o| {
        o.min_client_kdf = KdfParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    })
    .await
    .unwrap();
    let e = pyxis_client::account::signup(&c.device("d"), &c.url(), "weak", "pw", KdfParams::INSECURE_FAST)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WeakKdf), "{e}");
    assert!(e.to_string().contains("minimum"), "{e}");
}
