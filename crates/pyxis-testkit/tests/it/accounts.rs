//! Signup, login, wrong passwords, logout, usernames.

use pyxis_client::{ClientError, account};
use pyxis_core::keys::KdfParams;
use pyxis_testkit::Cluster;

#[tokio::test]
async fn signup_login_whoami_logout() {
    let c = Cluster::start(1).await.unwrap();
    let alice = c.signup("alice", "correct horse").await.unwrap();
    assert_eq!(alice.api().whoami().await.unwrap().username, "alice");

    // Another device logs in with the password and gets the same master key.
    let dev = c.device("alice-laptop");
    let s = account::login(&dev, &c.url(), "alice", "correct horse").await.unwrap();
    let first = c.device("alice").load().unwrap().unwrap();
    assert_eq!(s.master_key, first.master_key, "the same account must unwrap the same master key");

    // Logout revokes the token on the server.
    let token = first.token.clone();
    account::logout(&c.device("alice")).await.unwrap();
    let api = c.api().with_token(&token);
    let err = api.whoami().await.unwrap_err();
    assert_eq!(err.code(), Some("bad_session"), "{err}");
    // The other device's session is still good.
    let laptop = pyxis_client::Client::open(&dev, None, Default::default()).unwrap();
    assert_eq!(laptop.api().whoami().await.unwrap().username, "alice");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let c = Cluster::start(1).await.unwrap();
    c.signup("bob", "hunter2").await.unwrap();
    let e1 = account::login(&c.device("x"), &c.url(), "bob", "hunter3").await.unwrap_err();
    let e2 = account::login(&c.device("y"), &c.url(), "nobody", "hunter2").await.unwrap_err();
    for e in [&e1, &e2] {
        assert_eq!(e.code(), Some("wrong_password"), "{e}");
        assert!(e.to_string().contains("wrong username or password"));
    }
    // Prelogin answers for unknown users too, with a stable salt.
    let api = c.api();
    let a = api.prelogin("nobody").await.unwrap();
    let b = api.prelogin("nobody").await.unwrap();
    assert_eq!(a, b);
    assert_ne!(a.salt, api.prelogin("somebody").await.unwrap().salt);
}

#[tokio::test]
async fn usernames_are_validated_and_unique() {
    let c = Cluster::start(1).await.unwrap();
    for bad in ["", "Alice", "a b", "../x", "-dash", &"x".repeat(65)] {
        let e = account::signup(&c.device("d"), &c.url(), bad, "pw", KdfParams::INSECURE_FAST).await.unwrap_err();
        assert_eq!(e.code(), Some("bad_username"), "{bad:?}: {e}");
    }
    c.signup("carol", "pw").await.unwrap();
    let e = account::signup(&c.device("d2"), &c.url(), "carol", "pw2", KdfParams::INSECURE_FAST).await.unwrap_err();
    assert!(matches!(&e, ClientError::Api { status: 409, .. }), "{e}");
}
