//! Signup, login, wrong passwords, logout, usernames.

use pyxis_client::{ClientError, account};
use pyxis_core::keys::KdfParams;
use pyxis_proto::api::ErrorCode;
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
    assert_eq!(err.code(), Some(ErrorCode::BadSession), "{err}");
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
        assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
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
        assert_eq!(e.code(), Some(ErrorCode::BadUsername), "{bad:?}: {e}");
    }
    c.signup("carol", "pw").await.unwrap();
    let e = account::signup(&c.device("d2"), &c.url(), "carol", "pw2", KdfParams::INSECURE_FAST).await.unwrap_err();
    assert!(matches!(&e, ClientError::Api { status: 409, .. }), "{e}");
}

#[tokio::test]
async fn passwd_rewraps_the_master_key_and_logs_other_devices_out() {
    use crate::support::{random_file, same_file};
    let c = Cluster::start(3).await.unwrap();
    let alice = c.signup("alice", "old password").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 1, 300_000);
    alice.put(&f, "/f").await.unwrap();
    let laptop = c.device("alice-laptop");
    account::login(&laptop, &c.url(), "alice", "old password").await.unwrap();
    let master = c.device("alice").load().unwrap().unwrap().master_key.clone();

    // The current password is proved again: a session alone is not enough.
    let e = account::change_password(&c.device("alice"), "wrong", "new password", KdfParams::INSECURE_FAST)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
    account::change_password(&c.device("alice"), "old password", "new password", KdfParams::INSECURE_FAST)
        .await
        .unwrap();

    // This device goes on; the laptop is logged out; the old password is refused.
    assert_eq!(alice.api().whoami().await.unwrap().username, "alice");
    let laptop_client = pyxis_client::Client::open(&laptop, None, Default::default()).unwrap();
    assert_eq!(laptop_client.api().whoami().await.unwrap_err().code(), Some(ErrorCode::BadSession));
    let e = account::login(&c.device("phone"), &c.url(), "alice", "old password").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
    // The new one opens the same master key, and the files read as before.
    let s = account::login(&c.device("phone"), &c.url(), "alice", "new password").await.unwrap();
    assert_eq!(s.master_key, master, "the master key must not change");
    let phone = pyxis_client::Client::open(&c.device("phone"), None, Default::default()).unwrap();
    let out = c.dir.path().join("out");
    phone.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn a_recovery_key_sets_a_new_password_when_the_old_one_is_lost() {
    use crate::support::{random_file, same_file};
    use pyxis_core::keys::RecoveryKey;
    let c = Cluster::start(3).await.unwrap();
    let alice = c.signup("alice", "forgotten").await.unwrap();
    c.signup("bob", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 2, 200_000);
    alice.put(&f, "/f").await.unwrap();
    let e = account::make_recovery_key(&c.device("alice"), "not it").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
    let key = account::make_recovery_key(&c.device("alice"), "forgotten").await.unwrap();
    assert_eq!(RecoveryKey::parse(&key.display().to_uppercase()).unwrap(), key, "the printed form reads back");

    // A wrong key, an unknown name and an account without a recovery key
    // are refused alike.
    let wrong = RecoveryKey::generate().unwrap();
    for (user, k) in [("alice", &wrong), ("nobody", &key), ("bob", &key)] {
        let e = account::recover(&c.device("x"), &c.url(), user, k, "new", KdfParams::INSECURE_FAST).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::WrongRecoveryKey), "{user}: {e}");
        assert!(e.to_string().contains("wrong username or recovery key"), "{e}");
    }
    assert!(
        account::login(&c.device("y"), &c.url(), "alice", "forgotten").await.is_ok(),
        "a refused recovery changed nothing"
    );

    let s = account::recover(&c.device("new"), &c.url(), "alice", &key, "remembered", KdfParams::INSECURE_FAST)
        .await
        .unwrap();
    assert_eq!(s.username, "alice");
    // Every earlier session ended; the lost password is refused, the new one works.
    assert_eq!(alice.api().whoami().await.unwrap_err().code(), Some(ErrorCode::BadSession));
    let e = account::login(&c.device("z"), &c.url(), "alice", "forgotten").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
    account::login(&c.device("z"), &c.url(), "alice", "remembered").await.unwrap();
    let again = pyxis_client::Client::open(&c.device("new"), None, Default::default()).unwrap();
    let out = c.dir.path().join("out");
    again.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

#[tokio::test]
async fn devices_are_listed_and_one_can_be_logged_out() {
    let c = Cluster::start(0).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let laptop = c.device("laptop");
    // Every device of a test is on this host: they all carry its name.
    let named = pyxis_client::account::device_name();
    account::login(&laptop, &c.url(), "alice", "pw").await.unwrap();
    c.signup("bob", "pw").await.unwrap();

    let list = account::devices(&c.device("alice")).await.unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list.iter().filter(|d| d.current).count(), 1);
    assert!(list.iter().all(|d| d.device == named && d.id.len() == 16), "{list:?}");
    let other = list.iter().find(|d| !d.current).unwrap().id.clone();

    // Bob cannot log out alice's laptop, nor can anyone name a device that is not there.
    let e = account::revoke_device(&c.device("bob"), &other).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NoDevice), "{e}");
    let laptop_client = pyxis_client::Client::open(&laptop, None, Default::default()).unwrap();
    assert_eq!(laptop_client.api().whoami().await.unwrap().username, "alice");

    account::revoke_device(&c.device("alice"), &other).await.unwrap();
    assert_eq!(laptop_client.api().whoami().await.unwrap_err().code(), Some(ErrorCode::BadSession));
    assert_eq!(alice.api().whoami().await.unwrap().username, "alice");
    let list = account::devices(&c.device("alice")).await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].current);
    let e = account::revoke_device(&c.device("alice"), &other).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NoDevice), "{e}");
}

/// Waits up to 30 s for `f` to hold.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !f().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_deleted_account_is_logged_out_everywhere_and_its_files_go_after_the_grace() {
    let c = Cluster::start_with(3, 1 << 30, |o| o.account_grace = std::time::Duration::from_secs(2)).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let bob = c.signup("bob", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    crate::support::random_file(&f, 1, 300_000);
    alice.put(&f, "/f").await.unwrap();
    bob.put(&f, "/f").await.unwrap();
    let laptop = c.device("alice-laptop");
    account::login(&laptop, &c.url(), "alice", "pw").await.unwrap();
    let admin = c.api().with_token(&c.admin_token());
    let used = |name: &'static str| {
        let admin = admin.clone();
        async move { admin.admin_users().await.unwrap().users.into_iter().find(|u| u.username == name).unwrap() }
    };
    assert!(used("alice").await.used > 300_000);

    // A wrong password deletes nothing.
    let e = account::delete_account(&c.device("alice"), "wrong").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
    account::delete_account(&c.device("alice"), "pw").await.unwrap();
    // Every device is logged out now, and a login is refused with why.
    let other = pyxis_client::Client::open(&laptop, None, Default::default()).unwrap();
    assert_eq!(other.api().whoami().await.unwrap_err().code(), Some(ErrorCode::BadSession));
    let e = account::login(&c.device("again"), &c.url(), "alice", "pw").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::AccountDeleted), "{e}");
    // After the grace the files are gone and their storage freed; bob's stay.
    eventually("alice's files removed", || async { used("alice").await.deleted_at.is_some() }).await;
    eventually("alice's storage freed", || async { used("alice").await.used == 0 }).await;
    let back = c.dir.path().join("bob.out");
    bob.get("/f", &back, None).await.unwrap();
    crate::support::same_file(&f, &back);
    // The name stays taken.
    assert!(c.signup("alice", "pw2").await.unwrap_err().to_string().contains("taken"));
}

#[tokio::test]
async fn the_operator_lists_disables_and_enables_accounts() {
    let c = Cluster::start(1).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    c.signup("bob", "pw").await.unwrap();
    let admin = c.api().with_token(&c.admin_token());
    let names: Vec<String> = admin.admin_users().await.unwrap().users.into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "bob"]);
    // A user's token is not the admin's.
    assert_eq!(alice.api().admin_users().await.unwrap_err().code(), Some(ErrorCode::BadAdminToken));
    admin.admin_disable("alice", true).await.unwrap();
    assert_eq!(alice.api().whoami().await.unwrap_err().code(), Some(ErrorCode::BadSession));
    let e = account::login(&c.device("a2"), &c.url(), "alice", "pw").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::AccountDisabled), "{e}");
    // A wrong password still gets the wrong-password answer: the state is
    // told only to whoever knows the password.
    let e = account::login(&c.device("a3"), &c.url(), "alice", "nope").await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPassword), "{e}");
    admin.admin_disable("alice", false).await.unwrap();
    account::login(&c.device("a4"), &c.url(), "alice", "pw").await.unwrap();
    assert_eq!(admin.admin_disable("nobody", true).await.unwrap_err().code(), Some(ErrorCode::NoUser));
}

#[tokio::test]
async fn whoami_fingerprint_checks_the_key_the_server_hands_out() {
    let c = Cluster::start(1).await.unwrap();
    c.signup("alice", "pw").await.unwrap();
    let f = account::fingerprint(&c.device("alice")).await.unwrap();
    assert_eq!(f.split(' ').count(), 10, "{f}");
    assert_eq!(f, account::fingerprint(&c.device("alice")).await.unwrap(), "stable");
    // A server that hands out another key is caught.
    let proxy = pyxis_testkit::hostile::HostileServer::start(&c).await.unwrap();
    let dev = c.device("alice-via-proxy");
    account::login(&dev, &proxy.url, "alice", "pw").await.unwrap();
    proxy.rewrite("/v1/auth/whoami", |_, body| {
        pyxis_testkit::hostile::edit_json(body, |v| v["reader_public_key"] = serde_json::json!("11".repeat(32)))
    });
    let e = account::fingerprint(&dev).await.unwrap_err();
    assert!(matches!(e, ClientError::Tampered { .. }), "{e}");
    assert!(proxy.lies_told() >= 1);
}
