//! Registration and heartbeats against the stand-in server: identity kept
//! across restarts and across a server that forgets, and serving on while the
//! server is away.

use std::sync::atomic::Ordering;

use pyxis_proto::grant::{GrantOp, HEADER};
use pyxis_remote::identity::{self, SavedIdentity};
use reqwest::StatusCode;

use crate::server::{TestServer, registered, start_remote};
use crate::support::shard;

#[tokio::test]
async fn registers_saves_its_identity_and_heartbeats() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let saved = identity::load(dir.path()).unwrap().unwrap();
    assert_eq!(
        saved,
        SavedIdentity {
            remote_id: id,
            token: format!("token-{id}"),
            server: server.url.clone(),
            grant_public_key: server.state.public_key_hex(),
        }
    );
    let first = &server.registrations()[0];
    assert_eq!((first.remote_id, first.url.as_str(), first.capacity), (None, remote.url(), 1 << 30));
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
async fn a_forgetful_server_gets_the_same_remote_back() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    server.until("a heartbeat", |s| s.beats.load(Ordering::SeqCst) > 0).await;
    server.state.forget.store(true, Ordering::SeqCst);
    server.until("a re-registration", |s| s.registrations.lock().unwrap().len() == 2).await;
    let again = &server.registrations()[1];
    assert_eq!((again.remote_id, again.token.clone()), (Some(id), Some(format!("token-{id}"))));
    let beats = server.state.beats.load(Ordering::SeqCst);
    server.until("heartbeats again", |s| s.beats.load(Ordering::SeqCst) > beats).await;
    assert_eq!(remote.remote_id(), Some(id));
    remote.shutdown().await;
}

#[tokio::test]
async fn a_restarted_remote_keeps_its_id_and_serves_at_once() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 10_000);
    remote.store().put(h, data.clone()).await.unwrap();
    remote.shutdown().await;

    let (remote, again) = start_remote(&server, dir.path(), 1 << 30).await;
    assert_eq!(again, id);
    server.until("a re-registration", |s| s.registrations.lock().unwrap().len() == 2).await;
    assert_eq!(server.registrations()[1].remote_id, Some(id));
    assert_eq!(registered(&remote).await, id);
    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    let got =
        reqwest::Client::new().get(format!("{}/v1/shards/{h}", remote.url())).header(HEADER, get).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap(), data);
    remote.shutdown().await;
}

#[tokio::test]
async fn a_wiped_server_gives_a_new_id_and_grants_follow_it() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    server.state.remotes.lock().unwrap().clear();
    server.until("a fresh registration", |s| s.registrations.lock().unwrap().len() == 2).await;
    server.until("the new id", |_| remote.remote_id() != Some(id)).await;
    let new_id = remote.remote_id().unwrap();
    server.until("the new id saved", |_| identity::load(dir.path()).unwrap().unwrap().remote_id == new_id).await;
    let (h, data) = shard(1, 1_000);
    let url = format!("{}/v1/shards/{h}", remote.url());
    let client = reqwest::Client::new();
    let old = client.put(&url).header(HEADER, server.grant(GrantOp::Put, id, h, 1_000, 60)).body(data.clone());
    assert_eq!(old.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let new = client.put(&url).header(HEADER, server.grant(GrantOp::Put, new_id, h, 1_000, 60)).body(data);
    assert_eq!(new.send().await.unwrap().status(), StatusCode::CREATED);
    remote.shutdown().await;
}

#[tokio::test]
async fn the_remote_keeps_serving_while_the_server_is_away() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 1_000);
    remote.store().put(h, data.clone()).await.unwrap();
    server.stop();
    // Several failed heartbeats later...
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let get = server.grant(GrantOp::Get, id, h, 0, 60);
    let got =
        reqwest::Client::new().get(format!("{}/v1/shards/{h}", remote.url())).header(HEADER, get).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap(), data);
    remote.shutdown().await;
}

#[tokio::test]
async fn a_new_grant_key_arrives_with_a_heartbeat() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (remote, id) = start_remote(&server, dir.path(), 1 << 30).await;
    let (h, data) = shard(1, 1_000);
    remote.store().put(h, data).await.unwrap();
    let url = format!("{}/v1/shards/{h}", remote.url());
    let old_grant = server.grant(GrantOp::Get, id, h, 0, 60);
    server.rotate_key([9; 32]);
    let new_grant = server.grant(GrantOp::Get, id, h, 0, 60);
    let client = reqwest::Client::new();
    let status = async |g: &str| client.get(&url).header(HEADER, g).send().await.unwrap().status();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while status(&new_grant).await != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "the new key never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status(&old_grant).await, StatusCode::UNAUTHORIZED);
    let key = server.state.public_key_hex();
    server.until("the new key saved", |_| identity::load(dir.path()).unwrap().unwrap().grant_public_key == key).await;
    remote.shutdown().await;
}
