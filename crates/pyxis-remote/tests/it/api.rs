//! The HTTP API over real sockets: shards in and out under grants, and every
//! refusal with its status and code.

use std::os::unix::fs::FileExt;

use bytes::Bytes;
use pyxis_proto::ShardHash;
use pyxis_proto::api::remote::RemoteStatus;
use pyxis_proto::api::{ErrorBody, ErrorCode};
use pyxis_proto::grant::{GrantOp, HEADER};
use reqwest::{Client, Method, StatusCode};

use crate::server::{TestServer, options, start_remote};
use crate::support::shard;

fn client() -> Client {
    Client::builder().http1_only().pool_max_idle_per_host(64).build().unwrap()
}

fn shard_url(base: &str, hash: &ShardHash) -> String {
    format!("{base}/v1/shards/{hash}")
}

async fn call(method: Method, url: &str, grant: Option<&str>, body: Option<Bytes>) -> (StatusCode, Bytes) {
    let mut rb = client().request(method, url);
    if let Some(g) = grant {
        rb = rb.header(HEADER, g);
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let resp = rb.send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap())
}

/// Asserts an error answer and returns its message.
fn error(got: (StatusCode, Bytes), status: StatusCode, code: ErrorCode) -> String {
    let body: ErrorBody = serde_json::from_slice(&got.1)
        .unwrap_or_else(|e| panic!("{}: not an ErrorBody ({e}): {:?}", got.0, String::from_utf8_lossy(&got.1)));
    assert_eq!((got.0, body.code), (status, code), "{}", body.message);
    body.message
}

#[tokio::test]
async fn put_get_delete_round_trip() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 1_000_000);
    let url = shard_url(remote.url(), &h);
    let put = server.grant(GrantOp::Put, id, h, 1_000_000, 60);
    // Both answers carry a receipt signed by the remote's key, for this
    // remote, this shard and its length.
    for expected in [StatusCode::CREATED, StatusCode::OK] {
        let resp = client().put(&url).header(HEADER, &put).body(data.clone()).send().await.unwrap();
        assert_eq!(resp.status(), expected);
        let token = resp.headers()[pyxis_proto::receipt::HEADER].to_str().unwrap().to_owned();
        let r = pyxis_crypto::identity::verify_receipt(&remote.public_key(), &token).unwrap();
        assert_eq!((r.remote, r.shard, r.len), (id, h, 1_000_000));
        let other = pyxis_crypto::identity::RemoteKey::generate().unwrap();
        assert!(pyxis_crypto::identity::verify_receipt(&other.public_key(), &token).is_err());
    }

    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    let resp = client().get(&url).header(HEADER, &get).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.headers()["content-length"], "1000000");
    assert_eq!(resp.bytes().await.unwrap(), data);

    let status: RemoteStatus =
        client().get(format!("{}/v1/status", remote.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        status,
        RemoteStatus {
            remote_id: Some(id),
            capacity: 1 << 30,
            used: 1_000_000,
            free: (1 << 30) - 1_000_000,
            shards: 1,
            public_key: pyxis_proto::hex::encode(&remote.public_key()),
        }
    );

    let del = server.grant(GrantOp::Delete, id, h, 0, 60);
    assert_eq!(call(Method::DELETE, &url, Some(&del), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(call(Method::DELETE, &url, Some(&del), None).await.0, StatusCode::NO_CONTENT);
    error(call(Method::GET, &url, Some(&get), None).await, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    remote.shutdown().await;
}

#[tokio::test]
async fn every_bad_grant_is_refused_with_its_reason() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 5_000);
    let (other, _) = shard(2, 5_000);
    let url = shard_url(remote.url(), &h);
    let put = async |g: Option<String>| call(Method::PUT, &url, g.as_deref(), Some(data.clone())).await;
    let unauth = StatusCode::UNAUTHORIZED;
    let forbidden = StatusCode::FORBIDDEN;

    error(put(None).await, unauth, ErrorCode::GrantMissing);
    let m = error(put(Some(server.grant(GrantOp::Put, id, h, 5_000, -10))).await, unauth, ErrorCode::GrantExpired);
    assert!(m.contains("expired"), "{m}");
    let forger = TestServer::start_with_seed([8; 32]).await;
    let m = error(put(Some(forger.grant(GrantOp::Put, id, h, 5_000, 60))).await, unauth, ErrorCode::GrantBadSignature);
    assert!(m.contains("signature"), "{m}");
    error(put(Some("not-a-grant".into())).await, unauth, ErrorCode::GrantMalformed);
    let m = error(put(Some(server.grant(GrantOp::Get, id, h, 5_000, 60))).await, forbidden, ErrorCode::GrantWrongOp);
    assert!(m.contains("get") && m.contains("put"), "{m}");
    let m = error(
        put(Some(server.grant(GrantOp::Put, id + 1, h, 5_000, 60))).await,
        forbidden,
        ErrorCode::GrantWrongRemote,
    );
    assert!(m.contains(&(id + 1).to_string()), "{m}");
    error(put(Some(server.grant(GrantOp::Put, id, other, 5_000, 60))).await, forbidden, ErrorCode::GrantWrongShard);
    let m = error(put(Some(server.grant(GrantOp::Put, id, h, 4_999, 60))).await, forbidden, ErrorCode::GrantTooSmall);
    assert!(m.contains("4999"), "{m}");
    // A put grant names the exact length the server expects of the shard.
    let m = error(put(Some(server.grant(GrantOp::Put, id, h, 5_001, 60))).await, forbidden, ErrorCode::GrantWrongSize);
    assert!(m.contains("5001") && m.contains("5000"), "{m}");
    // A non-ASCII header value is malformed, not a crash.
    let resp = client().put(&url).header(HEADER, reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    let resp = resp.body(data.clone()).send().await.unwrap();
    assert_eq!(resp.status(), unauth);
    assert!(!remote.store().contains(&h), "nothing stored under a bad grant");

    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    error(call(Method::DELETE, &url, Some(&get), None).await, forbidden, ErrorCode::GrantWrongOp);
    error(call(Method::GET, &url, None, None).await, unauth, ErrorCode::GrantMissing);
    remote.shutdown().await;
}

#[tokio::test]
async fn wrong_bytes_bad_paths_and_oversized_bodies_are_refused() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, _) = shard(1, 5_000);
    let (_, wrong) = shard(2, 5_000);
    let url = shard_url(remote.url(), &h);
    let exact = server.grant(GrantOp::Put, id, h, 5_000, 60);
    error(call(Method::PUT, &url, Some(&exact), Some(wrong)).await, StatusCode::BAD_REQUEST, ErrorCode::HashMismatch);
    let put = server.grant(GrantOp::Put, id, h, u32::MAX, 60);
    for bad in ["xyz", &"a".repeat(63), &"g".repeat(64), "%FF%FE"] {
        let url = format!("{}/v1/shards/{bad}", remote.url());
        error(call(Method::GET, &url, Some(&put), None).await, StatusCode::BAD_REQUEST, ErrorCode::BadHash);
    }
    let huge = Bytes::from(vec![0u8; (17 << 20) + 1]);
    error(call(Method::PUT, &url, Some(&put), Some(huge)).await, StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge);
    error(
        call(Method::GET, &format!("{}/nope", remote.url()), None, None).await,
        StatusCode::NOT_FOUND,
        ErrorCode::NoRoute,
    );
    assert_eq!(remote.store().stats().shards, 0);
    remote.shutdown().await;
}

#[tokio::test]
async fn a_full_remote_answers_507_and_stores_nothing() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 10_000).await;
    let (a, a_data) = shard(1, 6_000);
    let (b, b_data) = shard(2, 6_000);
    let grant_a = server.grant(GrantOp::Put, id, a, 6_000, 60);
    assert_eq!(
        call(Method::PUT, &shard_url(remote.url(), &a), Some(&grant_a), Some(a_data)).await.0,
        StatusCode::CREATED
    );
    let grant_b = server.grant(GrantOp::Put, id, b, 6_000, 60);
    let m = error(
        call(Method::PUT, &shard_url(remote.url(), &b), Some(&grant_b), Some(b_data)).await,
        StatusCode::INSUFFICIENT_STORAGE,
        ErrorCode::Full,
    );
    assert!(m.contains("10000"), "{m}");
    assert_eq!(remote.store().list(), vec![a]);
    remote.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_shard_is_reported_not_served() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 50_000);
    let url = shard_url(remote.url(), &h);
    call(Method::PUT, &url, Some(&server.grant(GrantOp::Put, id, h, 50_000, 60)), Some(data)).await;
    let at = remote.store().locate(&h).unwrap();
    std::fs::OpenOptions::new().write(true).open(&at.path).unwrap().write_all_at(b"X", at.offset + 49_999).unwrap();
    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    let m = error(call(Method::GET, &url, Some(&get), None).await, StatusCode::NOT_FOUND, ErrorCode::Corrupt);
    assert!(m.contains(&h.to_string()), "{m}");
    error(call(Method::GET, &url, Some(&get), None).await, StatusCode::NOT_FOUND, ErrorCode::NotFound);
    remote.shutdown().await;
}

#[tokio::test]
async fn an_unregistered_remote_refuses_shards_but_reports_status() {
    // A server address nobody listens on.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", gone.local_addr().unwrap());
    drop(gone);
    let dir = tempfile::tempdir().unwrap();
    let remote = pyxis_remote::start(options(&server, dir.path(), 1 << 20)).await.unwrap();
    let (h, data) = shard(1, 100);
    let url = shard_url(remote.url(), &h);
    error(
        call(Method::PUT, &url, Some("x"), Some(data)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotRegistered,
    );
    let status: RemoteStatus =
        client().get(format!("{}/v1/status", remote.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(status.remote_id, None);
    assert_eq!(remote.remote_id(), None);
    remote.shutdown().await;
}

#[tokio::test]
async fn parallel_uploads_through_http_all_land() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let c = client();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (h, data) = shard(i, 100_000 + i as usize);
            let req = c
                .put(shard_url(remote.url(), &h))
                .header(HEADER, server.grant(GrantOp::Put, id, h, 100_000 + i as u32, 60))
                .body(data);
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let dir_path = remote.store().dir().to_owned();
    remote.shutdown().await;
    // Shut down cleanly: the store's lock is free and every shard is there.
    let store =
        pyxis_remote::store::Store::open(dir_path, pyxis_remote::store::StoreOptions::new(1 << 30)).await.unwrap();
    assert_eq!(store.stats().shards, 64);
    store.close().await;
}

/// Every shard route against every kind of bad grant: nothing is stored,
/// served or deleted, and the refusal names the reason.
#[tokio::test]
async fn every_shard_route_refuses_every_bad_grant() {
    let server = TestServer::start().await;
    let forger = TestServer::start_with_seed([9; 32]).await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    // `kept` is stored (for GET and DELETE); `fresh` is not (for PUT).
    let (kept, kept_data) = shard(1, 4_000);
    let (fresh, fresh_data) = shard(2, 4_000);
    let (other, _) = shard(3, 4_000);
    let put = server.grant(GrantOp::Put, id, kept, 4_000, 60);
    assert_eq!(call(Method::PUT, &shard_url(remote.url(), &kept), Some(&put), Some(kept_data)).await.0, 201);

    let (unauth, forbidden) = (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN);
    for (method, op, target, body) in [
        (Method::PUT, GrantOp::Put, fresh, Some(fresh_data.clone())),
        (Method::GET, GrantOp::Get, kept, None),
        (Method::DELETE, GrantOp::Delete, kept, None),
    ] {
        let size = if op == GrantOp::Put { 4_000 } else { 0 };
        let wrong_op = if op == GrantOp::Get { GrantOp::Delete } else { GrantOp::Get };
        let good = server.grant(op, id, target, size, 60);
        let mut tampered = good.clone().into_bytes();
        let mid = tampered.len() / 2;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let cases: [(&str, Option<String>, StatusCode, &[ErrorCode]); 7] = [
            ("no grant", None, unauth, &[ErrorCode::GrantMissing]),
            ("an expired grant", Some(server.grant(op, id, target, size, -10)), unauth, &[ErrorCode::GrantExpired]),
            ("a forged grant", Some(forger.grant(op, id, target, size, 60)), unauth, &[ErrorCode::GrantBadSignature]),
            ("a tampered grant", Some(tampered), unauth, &[ErrorCode::GrantBadSignature, ErrorCode::GrantMalformed]),
            (
                "another remote's grant",
                Some(server.grant(op, id + 1, target, size, 60)),
                forbidden,
                &[ErrorCode::GrantWrongRemote],
            ),
            (
                "another shard's grant",
                Some(server.grant(op, id, other, size, 60)),
                forbidden,
                &[ErrorCode::GrantWrongShard],
            ),
            (
                "a grant for another operation",
                Some(server.grant(wrong_op, id, target, size, 60)),
                forbidden,
                &[ErrorCode::GrantWrongOp],
            ),
        ];
        for (what, grant, status, codes) in cases {
            let (got, bytes) =
                call(method.clone(), &shard_url(remote.url(), &target), grant.as_deref(), body.clone()).await;
            let e: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{method} with {what}: {got}"));
            assert!(got == status && codes.contains(&e.code), "{method} with {what}: {got} {}", e.code);
        }
    }
    assert!(!remote.store().contains(&fresh), "a shard was stored under a bad grant");
    assert!(remote.store().contains(&kept), "a shard was deleted under a bad grant");
    remote.shutdown().await;
}
