//! The remote registry: liveness, identity across restarts, the OpenAPI
//! document.

use std::time::Duration;

use pyxis_testkit::Cluster;

use crate::support::{random_file, same_file};

#[tokio::test]
async fn silent_remotes_go_offline_and_come_back() {
    let mut c = Cluster::start(4).await.unwrap();
    let addr = c.remote(3).addr();
    let id = c.remote(3).remote_id();
    c.stop_remote(3).await;
    // offline_after is 3 s in tests.
    c.wait_online(3).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    assert_eq!(a.api().network().await.unwrap().online_remotes, 3);
    // New chunks avoid it: three remotes give 2+1.
    let f = c.dir.path().join("f");
    random_file(&f, 1, 2 << 20);
    assert_eq!(a.put(&f, "/f").await.unwrap().scheme, "2+1");

    c.restart_remote(3, addr).await.unwrap();
    c.wait_online(4).await.unwrap();
    assert_eq!(c.remote(3).remote_id(), id, "a restarted remote keeps its identity");
    let out = c.dir.path().join("f.out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn the_server_serves_its_openapi_document() {
    let c = Cluster::start(1).await.unwrap();
    let doc: serde_json::Value =
        c.http().get(format!("{}/openapi.json", c.url())).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    let paths = doc["paths"].as_object().unwrap();
    for p in ["/v1/auth/login", "/v1/chunks/place", "/v1/commit", "/v1/list", "/v1/remotes/register"] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["CommitRequest"].is_object());
    // Unknown routes and malformed bodies get the JSON error shape.
    let client = c.http();
    let r = client
        .post(format!("{}/v1/auth/login", c.url()))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
