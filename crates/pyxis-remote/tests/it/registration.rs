//! Registration and heartbeats against the stand-in server: a remote is its
//! key (kept across restarts, URL changes and a server that forgets it), it
//! trusts only the grant key it was admitted under (or one that key
//! endorsed), and it serves on while the server is away.

use std::sync::atomic::Ordering;

use pyxis_proto::grant::{GrantOp, HEADER};
use pyxis_remote::identity::{self, SavedIdentity};
use reqwest::StatusCode;

use crate::server::{TestServer, options, registered, start_remote};
use crate::support::shard;

#[tokio::test]
async fn registers_with_its_key_saves_its_identity_and_heartbeats() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let saved = identity::load(dir.path()).unwrap().unwrap();
    assert_eq!(
        saved,
        SavedIdentity {
            remote_id: id,
            server: server.url.clone(),
            grant_public_key: server.state.public_key_hex(),
            token: None,
        }
    );
    // The stand-in checked the signature of the registration; the key it
    // knows the remote by is the one in the remote's directory.
    let known: Vec<[u8; 32]> = server.state.remotes.lock().unwrap().keys().copied().collect();
    assert_eq!(known, vec![remote.public_key()]);
    let first = &server.registrations()[0];
    assert_eq!((first.url.as_str(), first.capacity), (remote.url(), 1 << 30));
    assert_eq!(first.admission_token.as_deref(), Some(crate::server::TOKEN));
    let (h, data) = shard(1, 1_000);
    remote.store().put(h, data).await.unwrap();
    server
        .until("a heartbeat counting the shard", |s| s.heartbeats.lock().unwrap().iter().any(|b| b.shards == 1))
        .await;
    let beat = server.state.heartbeats.lock().unwrap().last().cloned().unwrap();
    assert_eq!((beat.used, beat.free, beat.url.as_str()), (1_000, (1 << 30) - 1_000, remote.url()));
    remote.shutdown().await;
}

#[tokio::test]
async fn a_forgetful_server_gets_the_same_remote_back_by_its_key() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    server.until("a heartbeat", |s| s.beats.load(Ordering::SeqCst) > 0).await;
    server.state.forget.store(true, Ordering::SeqCst);
    server.until("a re-registration", |s| s.registrations.lock().unwrap().len() == 2).await;
    let beats = server.state.beats.load(Ordering::SeqCst);
    server.until("heartbeats again", |s| s.beats.load(Ordering::SeqCst) > beats).await;
    assert_eq!(remote.remote_id(), Some(id));
    remote.shutdown().await;
}

#[tokio::test]
async fn a_restarted_remote_at_another_url_is_the_same_remote_and_serves_at_once() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 10_000);
    remote.store().put(h, data.clone()).await.unwrap();
    let first_url = remote.url().to_owned();
    remote.shutdown().await;

    // The operator typed the server's address differently, the port moved,
    // and no admission token this time: the key is enough.
    let mut opts = options(&server.url.replace("127.0.0.1", "localhost"), dir.path(), 1 << 30);
    opts.admission_token = None;
    let remote = pyxis_remote::start(opts).await.unwrap();
    assert_eq!(remote.remote_id(), Some(id), "the saved identity serves before registration");
    server.until("a re-registration", |s| s.registrations.lock().unwrap().len() == 2).await;
    assert_eq!(registered(&remote).await, id);
    assert_ne!(server.registrations()[1].url, first_url);
    assert_eq!(server.state.remotes.lock().unwrap().len(), 1, "one remote, not two");
    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    let got =
        reqwest::Client::new().get(format!("{}/v1/shards/{h}", remote.url())).header(HEADER, get).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap(), data);
    remote.shutdown().await;
}

#[tokio::test]
async fn a_wiped_server_is_not_trusted_until_the_operator_admits_the_remote_again() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 1_000);
    remote.store().put(h, data.clone()).await.unwrap();
    let old_grant = server.grant(GrantOp::Get, id, h, 0, 60);
    // The server starts over on an empty catalog with a new grant key: it
    // does not know the remote, and the token the remote was started with
    // is spent (the stand-in accepts it again, but the key is not the one
    // pinned, so the remote must refuse to switch without a fresh admission).
    server.wipe([8; 32]);
    let before = server.registrations().len();
    server.until("the remote trying to register again", |s| s.registrations.lock().unwrap().len() > before).await;
    let url = format!("{}/v1/shards/{h}", remote.url());
    let client = reqwest::Client::new();
    let status = async |g: &str| client.get(&url).header(HEADER, g).send().await.unwrap().status();
    // Admitted with a token, it accepts the new key (the operator's decision),
    // saves it, and grants of the old key stop working.
    let new_id = registered(&remote).await;
    server
        .until("the new key pinned", |s| {
            identity::load(dir.path()).unwrap().unwrap().grant_public_key == s.public_key_hex()
        })
        .await;
    // The key is saved before the remote relies on it: the verifier follows
    // the durable save, so wait for it to take the new grants.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let new_grant = loop {
        let g = server.grant(GrantOp::Get, remote.remote_id().unwrap(), h, 0, 60);
        if status(&g).await == StatusCode::OK {
            break g;
        }
        assert!(tokio::time::Instant::now() < deadline, "the remote never took the new key's grants");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(status(&new_grant).await, StatusCode::OK);
    assert_eq!(status(&old_grant).await, StatusCode::UNAUTHORIZED);
    assert!(remote.store().contains(&h), "nothing is deleted when the server changes");
    let _ = new_id;
    remote.shutdown().await;

    // Without a token, a server with yet another key is not trusted.
    server.wipe([9; 32]);
    let mut opts = options(&server.url, dir.path(), 1 << 30);
    opts.admission_token = None;
    let pinned = identity::load(dir.path()).unwrap().unwrap().grant_public_key;
    let remote = pyxis_remote::start(opts).await.unwrap();
    let before = server.registrations().len();
    server.until("a refused registration", |s| s.registrations.lock().unwrap().len() > before).await;
    assert_eq!(identity::load(dir.path()).unwrap().unwrap().grant_public_key, pinned, "the pinned key stays");
    let forged = server.grant(GrantOp::Get, remote.remote_id().unwrap(), h, 0, 60);
    let url = format!("{}/v1/shards/{h}", remote.url());
    let status = reqwest::Client::new().get(&url).header(HEADER, forged).send().await.unwrap().status();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a grant of an unpinned key was accepted");
    remote.shutdown().await;
}

#[tokio::test]
async fn the_remote_keeps_serving_while_the_server_is_away() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 1_000);
    remote.store().put(h, data.clone()).await.unwrap();
    server.state.fail.store(true, Ordering::SeqCst);
    server.until("two failed heartbeats", |s| s.failed_beats.load(Ordering::SeqCst) >= 2).await;
    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    let got =
        reqwest::Client::new().get(format!("{}/v1/shards/{h}", remote.url())).header(HEADER, get).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap(), data);
    remote.shutdown().await;
}

#[tokio::test]
async fn a_rotated_grant_key_is_followed_only_when_the_old_key_endorsed_it() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 1_000);
    remote.store().put(h, data).await.unwrap();
    let url = format!("{}/v1/shards/{h}", remote.url());
    let client = reqwest::Client::new();
    let status = async |g: &str| client.get(&url).header(HEADER, g).send().await.unwrap().status();

    // An announced key nobody endorsed: the remote keeps the pinned one.
    let pinned = server.grant(GrantOp::Get, id, h, 0, 60);
    server.rotate_key([9; 32], false);
    let beats = server.state.beats.load(Ordering::SeqCst);
    server.until("heartbeats announcing the key", |s| s.beats.load(Ordering::SeqCst) > beats + 2).await;
    assert_eq!(status(&server.grant(GrantOp::Get, id, h, 0, 60)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&pinned).await, StatusCode::OK);

    // A proper rotation from the pinned key (through the refused one would
    // not count: the chain must start at the key the remote pinned).
    *server.state.signer.write().unwrap() =
        std::sync::Arc::new(pyxis_crypto::grants::GrantSigner::from_seed(&[7; 32]).unwrap());
    server.rotate_key([10; 32], true);
    let new_grant = server.grant(GrantOp::Get, id, h, 0, 60);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while status(&new_grant).await != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "the endorsed key never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status(&pinned).await, StatusCode::UNAUTHORIZED);
    let key = server.state.public_key_hex();
    server.until("the new key saved", |_| identity::load(dir.path()).unwrap().unwrap().grant_public_key == key).await;
    remote.shutdown().await;
}

#[tokio::test]
async fn a_remote_with_neither_a_certificate_nor_insecure_http_refuses_to_start() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(&server.url, dir.path(), 1 << 30);
    opts.insecure_http = false;
    match pyxis_remote::start(opts).await {
        Err(e @ pyxis_remote::StartError::NoTls) => assert!(e.to_string().contains("--tls-cert"), "{e}"),
        Err(e) => panic!("expected the no-TLS refusal, got {e}"),
        Ok(_) => panic!("a remote started with neither TLS nor --insecure-http"),
    }
    assert!(server.registrations().is_empty(), "a refused remote registered");
}
