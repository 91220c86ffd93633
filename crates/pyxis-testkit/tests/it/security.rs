//! Every route of the server's API against every kind of wrong credential.
//! The routes come from the server's own OpenAPI document, so a route is
//! covered as soon as it is documented (and `the_server_serves_its_openapi_
//! document` checks the documented set against the known one).

use std::time::{SystemTime, UNIX_EPOCH};

use pyxis_crypto::identity::RemoteKey;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::remote_call::HEADER;
use pyxis_testkit::Cluster;
use reqwest::Method;
use serde_json::Value;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anyone,
    User,
    Admin,
    Remote,
}

fn caller(path: &str) -> Caller {
    match path {
        "/v1/auth/prelogin" | "/v1/auth/signup" | "/v1/auth/login" | "/v1/auth/recover" | "/healthz"
        | "/openapi.json" => Caller::Anyone,
        p if p.starts_with("/v1/admin/") || p == "/metrics" => Caller::Admin,
        p if p.starts_with("/v1/remotes/") => Caller::Remote,
        _ => Caller::User,
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// One call: (status, error code, message).
async fn call(
    c: &Cluster,
    method: &Method,
    path: &str,
    auth: &[(&str, String)],
    body: &[u8],
) -> (u16, ErrorCode, String) {
    let mut req = c.http().request(method.clone(), format!("{}{path}", c.url()));
    for (k, v) in auth {
        req = req.header(*k, v);
    }
    if *method == Method::POST {
        req = req.header("content-type", "application/json").body(body.to_vec());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    (status, ErrorCode::parse(v["code"].as_str().unwrap_or("")), v["message"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn every_route_refuses_every_wrong_credential() {
    let c = Cluster::start(1).await.unwrap();
    c.signup("alice", "pw").await.unwrap();
    let state = c.server().state();
    let alice = state.db.user_by_name("alice").await.unwrap().unwrap().id;
    let good = c.device("alice").load().unwrap().unwrap().token.clone();
    // The same claims, signed with a key that is not the server's.
    let forged =
        pyxis_server::auth::SessionKeys::new(&[7; 32]).issue(alice, "s", now_secs() + 3600, now_secs()).unwrap();
    // The server's key, but expired a minute ago.
    let expired = state.sessions.issue(alice, "s", now_secs() - 60, now_secs() - 120).unwrap();
    // One character of the signature changed.
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    // A token that was good until its owner logged out.
    c.signup("carol", "pw").await.unwrap();
    let logged_out = c.device("carol").load().unwrap().unwrap().token.clone();
    pyxis_client::account::logout(&c.device("carol")).await.unwrap();
    let admin = c.admin_token();
    let remote_id = c.remote(0).remote_id().unwrap();

    let bearer = |t: &str| vec![("authorization", format!("Bearer {t}"))];
    let doc: Value = c.http().get(format!("{}/openapi.json", c.url())).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut checked = 0;
    for (template, item) in paths {
        let path = template.replace("{id}", &remote_id.to_string());
        for (m, _) in item.as_object().unwrap() {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let who = caller(template);
            let what = format!("{m} {template}");
            let try_with = async |auth: Vec<(&str, String)>| call(&c, &method, &path, &auth, b"{}").await;
            match who {
                Caller::Anyone => continue,
                Caller::User => {
                    assert_eq!(try_with(vec![]).await.0, 401, "{what} without a token");
                    for (name, t) in [
                        ("forged", &forged),
                        ("expired", &expired),
                        ("tampered", &tampered),
                        ("logged out", &logged_out),
                        ("admin", &admin),
                    ] {
                        let (status, code, msg) = try_with(bearer(t)).await;
                        assert_eq!((status, code), (401, ErrorCode::BadSession), "{what} with a {name} token: {msg}");
                        if name == "expired" {
                            assert!(msg.contains("expired"), "{what}: {msg}");
                        }
                    }
                    let (status, code, _) = try_with(vec![("authorization", good.clone())]).await;
                    assert_eq!((status, code), (401, ErrorCode::NoSession), "{what}: a token without `Bearer`");
                }
                Caller::Admin => {
                    assert_eq!(try_with(vec![]).await.1, ErrorCode::NoAdminToken, "{what} without a token");
                    let tampered_admin = format!("{}x", &admin[..admin.len() - 1]);
                    for (name, t) in [("user", &good), ("tampered admin", &tampered_admin), ("forged", &forged)] {
                        let (status, code, _) = try_with(bearer(t)).await;
                        assert_eq!((status, code), (403, ErrorCode::BadAdminToken), "{what} with a {name} token");
                    }
                }
                Caller::Remote => {
                    let (status, code, _) = try_with(vec![]).await;
                    assert_eq!((status, code), (401, ErrorCode::Unsigned), "{what} unsigned");
                    let (status, code, _) = try_with(bearer(&admin)).await;
                    assert_eq!((status, code), (401, ErrorCode::Unsigned), "{what} with the admin token");
                    let (status, code, _) = try_with(vec![(HEADER, "garbage".into())]).await;
                    assert_eq!((status, code), (401, ErrorCode::BadSignature), "{what} with a garbage signature");
                    let key = RemoteKey::generate().unwrap();
                    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
                    // Signed for another route, for another body, or long ago.
                    for (name, sig) in [
                        ("another route's", key.sign_call(m.to_uppercase().as_str(), "/v1/remotes/register", t, b"{}")),
                        ("another body's", key.sign_call(m.to_uppercase().as_str(), &path, t, b"{\"x\":1}")),
                        ("a stale", key.sign_call(m.to_uppercase().as_str(), &path, t - 3_600_000, b"{}")),
                    ] {
                        if name == "another route's" && path == "/v1/remotes/register" {
                            continue;
                        }
                        let (status, code, msg) = try_with(vec![(HEADER, sig)]).await;
                        assert_eq!(
                            (status, code),
                            (401, ErrorCode::BadSignature),
                            "{what} with {name} signature: {msg}"
                        );
                    }
                    // A good signature by a key the server has not admitted.
                    let sig = key.sign_call(m.to_uppercase().as_str(), &path, t, b"{}");
                    let (status, code, msg) = try_with(vec![(HEADER, sig)]).await;
                    assert!(
                        matches!(status, 400 | 401 | 403 | 404),
                        "{what} from an unknown key: {status} {code} {msg}"
                    );
                    assert!(status != 200 && status != 201 && status != 204);
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} routes were checked: is the OpenAPI document complete?");
    // The good token still works, so the refusals above were about the
    // credentials, not a broken server.
    let (status, ..) = call(&c, &Method::GET, "/v1/auth/whoami", &bearer(&good), b"").await;
    assert_eq!(status, 200);
    let (status, ..) = call(&c, &Method::GET, "/metrics", &bearer(&admin), b"").await;
    assert_eq!(status, 200);
}
