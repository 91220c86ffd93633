//! The admin page's session (docs/SECURITY.md, "The admin page"): what the
//! cookie is, what it opens and what it does not. The page itself is
//! driven in a real browser by deploy/admin-e2e.sh.

use pyxis_testkit::Cluster;

fn cookie_of(resp: &reqwest::Response) -> String {
    resp.headers()["set-cookie"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_cookie_is_strict_http_only_and_opens_only_reading() {
    let c = Cluster::start(1).await.unwrap();
    let (http, url) = (c.http(), c.url());
    let login = |token: String| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.post(format!("{url}/admin/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .unwrap()
        }
    };

    // Without a session: the login form, under a policy that allows only the page's own files.
    let page = http.get(format!("{url}/admin")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("name=\"token\""));

    let wrong = login("wrong".into()).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    let right = login(c.admin_token()).await;
    assert_eq!(right.status(), 303, "to /admin");
    let set = cookie_of(&right);
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("pyxis_admin=") && cookie.len() > 40);

    // The cookie reads the admin API...
    for path in ["/admin", "/v1/admin/remotes", "/v1/admin/health", "/v1/admin/users"] {
        let r = http.get(format!("{url}{path}")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let page = http.get(format!("{url}/admin")).header("cookie", &cookie).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("id=\"remotes\""), "the page, not the form");

    // ...but changes nothing: a route that acts wants the token itself.
    let drain = http
        .post(format!("{url}/v1/admin/drain"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"remote": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(drain.status(), 401);

    // Nor is it a user's session, nor a user's session an admin cookie.
    let alice = c.signup("alice", "pw").await.unwrap();
    drop(alice);
    let token = c.device("alice").load().unwrap().unwrap().token.clone();
    let as_user = http
        .get(format!("{url}/v1/quota"))
        .header("authorization", format!("Bearer {}", &cookie[12..]))
        .send()
        .await
        .unwrap();
    assert_eq!(as_user.status(), 401);
    let as_admin = http
        .get(format!("{url}/v1/admin/users"))
        .header("cookie", format!("pyxis_admin={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(as_admin.status(), 401);

    // A tampered cookie opens nothing.
    let mut bad = cookie.clone().into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let r = http
        .get(format!("{url}/v1/admin/users"))
        .header("cookie", String::from_utf8(bad).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Logging out clears it.
    let out = http.post(format!("{url}/admin/logout")).header("cookie", &cookie).send().await.unwrap();
    assert!(cookie_of(&out).contains("Max-Age=0"));
}
