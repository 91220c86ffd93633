//! What operators watch: the server's and the remotes' metrics, scraped
//! over real sockets as Prometheus would.

use std::collections::HashMap;
use std::time::Duration;

use pyxis_testkit::Cluster;

use crate::support::random_file;

/// A scrape as series (name with its labels, as written) -> value.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
        out.insert(series.to_owned(), value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")));
    }
    out
}

/// The sum of every series of `name` whose labels contain each of `with`.
fn sum(s: &HashMap<String, f64>, name: &str, with: &[&str]) -> f64 {
    s.iter()
        .filter(|(k, _)| {
            let (n, labels) = k.split_once('{').unwrap_or((k, ""));
            n == name && with.iter().all(|w| labels.contains(w))
        })
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(http: &reqwest::Client, url: &str, token: Option<&str>) -> HashMap<String, f64> {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = res.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics scrape ends with # EOF");
    // Every family has its HELP.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(text.contains(&format!("# HELP {name} ")), "{name} has no HELP");
    }
    parse(&text)
}

async fn remotes(c: &Cluster, n: usize) -> Vec<HashMap<String, f64>> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for i in 0..n {
        let addr = c.remote(i).metrics_addr().expect("testkit remotes serve metrics");
        out.push(scrape(&http, &format!("http://{addr}/metrics"), None).await);
    }
    out
}

fn total(all: &[HashMap<String, f64>], name: &str, with: &[&str]) -> f64 {
    all.iter().map(|s| sum(s, name, with)).sum()
}

#[tokio::test]
async fn metrics_move_after_a_put_and_a_get_on_the_server_and_every_remote() {
    let c = Cluster::start(4).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let (http, url, token) = (c.http(), format!("{}/metrics", c.url()), c.admin_token());
    let server0 = scrape(&http, &url, Some(&token)).await;
    let remotes0 = remotes(&c, 4).await;
    assert_eq!(total(&remotes0, "pyxis_remote_shard_written_bytes_total", &[]), 0.0);

    let src = c.dir.path().join("f");
    random_file(&src, 1, 3 << 20);
    alice.put(&src, "/f").await.unwrap();
    alice.get("/f", &c.dir.path().join("f.out"), None).await.unwrap();

    // Requests are counted as they are answered.
    let server = scrape(&http, &url, Some(&token)).await;
    let commits = |s: &HashMap<String, f64>| {
        sum(s, "pyxis_http_requests_total", &[r#"service="server""#, r#"route="/v1/commit""#, r#"status="200""#])
    };
    assert!(commits(&server) > commits(&server0), "commit requests counted");
    assert!(sum(&server, "pyxis_http_request_duration_seconds_count", &[r#"route="/v1/commit""#]) >= 1.0);
    assert!(sum(&server, "pyxis_http_request_bytes_total", &[r#"route="/v1/commit""#]) > 0.0);
    assert!(sum(&server, "pyxis_http_response_bytes_total", &[]) > 0.0);
    let remotes1 = remotes(&c, 4).await;
    let written = total(&remotes1, "pyxis_remote_shard_written_bytes_total", &[]);
    assert!(written >= (3 << 20) as f64, "shard bytes written: {written}");
    assert!(total(&remotes1, "pyxis_remote_shard_read_bytes_total", &[]) > 0.0, "the get read shards");
    assert!(total(&remotes1, "pyxis_remote_store_shards", &[]) >= 6.0);
    assert_eq!(total(&remotes1, "pyxis_remote_store_bytes", &[]), written);
    let puts = [r#"service="remote""#, r#"method="PUT""#, r#"route="/v1/shards/{hash}""#, r#"status="201""#];
    assert!(total(&remotes1, "pyxis_http_requests_total", &puts) >= 6.0);
    assert!(total(&remotes1, "pyxis_remote_heartbeats_total", &[r#"result="ok""#]) >= 4.0);
    for r in &remotes1 {
        assert!(sum(r, "pyxis_remote_disk_size_bytes", &[]) > sum(r, "pyxis_remote_disk_free_bytes", &[]));
        assert!(sum(r, "pyxis_tls_cert_expiry_timestamp_seconds", &[]) > 1.7e9);
    }

    // The catalog's numbers arrive with the next refresh (a scrape never
    // queries the catalog).
    let mut tries = 0;
    let server = loop {
        let s = scrape(&http, &url, Some(&token)).await;
        if sum(&s, "pyxis_quota_used_bytes", &[]) >= (3 << 20) as f64 && sum(&s, "pyxis_chunks", &[]) >= 1.0 {
            break s;
        }
        tries += 1;
        assert!(tries < 200, "catalog numbers never refreshed: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sum(&server, "pyxis_remotes", &[r#"state="online""#]), 4.0);
    assert_eq!(sum(&server, "pyxis_remotes", &[r#"state="offline""#]), 0.0);
    assert_eq!(sum(&server, "pyxis_users", &[]), 1.0);
    assert_eq!(sum(&server, "pyxis_chunks_at_risk", &[]), 0.0);
    let chunks = sum(&server, "pyxis_chunks", &[]);
    // Four remotes: every chunk has a healthy shard on each.
    assert_eq!(sum(&server, "pyxis_chunks", &[r#"healthy="4""#]), chunks, "{server:?}");
    assert_eq!(sum(&server, "pyxis_repair_queue_chunks", &[]), 0.0);
    assert!(total(&remotes1, "pyxis_remote_store_shards", &[]) <= sum(&server, "pyxis_remote_shards", &[]));
    assert!(sum(&server, "pyxis_catalog_stats_age_seconds", &[]) < 60.0);
    assert!(sum(&server, "pyxis_tls_cert_expiry_timestamp_seconds", &[]) > 1.7e9);
    // Without the token, the main listener refuses.
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
}

/// `pyxis admin backup` under write load, then `pyxis admin check` on the
/// copy and the server restored from it: files committed before the backup
/// read back. (On PostgreSQL the operator backs up with pg_dump; there the
/// live catalog is checked under the same load.)
#[tokio::test]
async fn a_backup_taken_under_write_load_checks_sound_and_restores() {
    let mut c = Cluster::start(4).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let work = c.dir.path().join("work");
    let first = random_file(&work.join("first"), 1, 300_000);
    alice.put(&work.join("first"), "/first").await.unwrap();
    // Writes keep landing while the copy is taken.
    let writer = {
        let (alice, work) = (alice.clone(), work.clone());
        tokio::spawn(async move {
            for i in 0..12u64 {
                let f = work.join(format!("w{i}"));
                random_file(&f, 100 + i, 50_000 + i as usize * 7_000);
                alice.put(&f, &format!("/load/w{i}")).await.unwrap();
            }
        })
    };
    let db = &c.server().state().db;
    let dest = c.dir.path().join("backup").join("catalog.db");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let sqlite = db.backend() == "sqlite";
    if sqlite {
        db.backup_to(&dest).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600, "it holds secrets");
        assert!(db.backup_to(&dest).await.is_err(), "an existing file is never overwritten");
    } else {
        let r = db.check().await.unwrap();
        assert!(r.sound(), "{r:?}");
    }
    writer.await.unwrap();
    let live = db.check().await.unwrap();
    assert!(live.sound() && live.versions >= 13, "{live:?}");
    if !sqlite {
        return;
    }
    let copy = pyxis_server::db::Db::open(None, dest.parent().unwrap()).await.unwrap().check().await.unwrap();
    assert!(copy.sound() && copy.versions >= 1 && copy.versions <= live.versions, "{copy:?}");

    // Restored: the server runs on the copy, and what it holds reads back.
    c.stop_server().await;
    let data = c.dir.path().join("server");
    for f in ["catalog.db-wal", "catalog.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    // A new file renamed into place, as docs/OPERATIONS.md says: the stopped
    // server's connections may still hold the old one open (and checkpoint
    // into it when they close).
    std::fs::copy(&dest, data.join("catalog.db.restore")).unwrap();
    std::fs::rename(data.join("catalog.db.restore"), data.join("catalog.db")).unwrap();
    c.restart_server().await.unwrap();
    c.wait_online(4).await.unwrap();
    let out = work.join("first.out");
    alice.get("/first", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), first);

    // The server knows and says it runs on a backup: to the operator, with
    // the shards written since that the remotes keep aside, and to clients.
    let health = c.health().await;
    let taken = health.restored_from.expect("the health report says the catalog was restored");
    assert!(taken <= pyxis_server::db::now_ms() && taken > pyxis_server::db::now_ms() - 600_000);
    assert_eq!(alice.api().changes(0, 0).await.unwrap().restored_from, Some(taken), "the change feed says so");
    if copy.versions < live.versions {
        // Uploads after the copy left shards the restored catalog does not
        // know: the remotes keep them aside, and the report counts them.
        let mut unknown = 0;
        for i in 0..4 {
            unknown += c.remote(i).reconcile().await.unwrap().quarantined;
        }
        assert!(unknown > 0, "the puts after the copy left no shard the restored catalog does not know");
        // Remotes tell the server with their next heartbeat.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let h = c.health().await;
            if h.quarantined as usize == unknown {
                assert!(h.quarantined_bytes > 0, "{h:?}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{unknown} quarantined shards not reported: {h:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// PostgreSQL: `pg_dump` of a live catalog, `pg_restore` into an empty
/// database, `mark_restored` (what `pyxis admin mark-restored` does), and a
/// server on it serves what was there and says it was restored. Needs
/// PYXIS_TEST_DATABASE_URL and pg_dump (CI's PostgreSQL step).
#[tokio::test]
async fn a_postgres_catalog_restored_with_pg_dump_serves_and_says_so() {
    if std::env::var_os("PYXIS_TEST_DATABASE_URL").is_none() {
        eprintln!("skipped: needs PYXIS_TEST_DATABASE_URL (CI's PostgreSQL step sets it)");
        return;
    }
    let mut c = Cluster::start(4).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    let work = c.dir.path().join("work");
    let first = random_file(&work.join("first"), 3, 200_000);
    alice.put(&work.join("first"), "/first").await.unwrap();
    let live = c.server_opts.database_url.clone().expect("a PostgreSQL cluster");
    let dump = c.dir.path().join("catalog.dump");
    let taken = pyxis_server::db::now_ms();
    let run = |cmd: &str, args: &[&str]| {
        let out = std::process::Command::new(cmd).args(args).output().unwrap();
        assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run("pg_dump", &["--format=custom", "--file", dump.to_str().unwrap(), &live]);
    let restored = pyxis_testkit::test_database().await.unwrap().unwrap();
    run("pg_restore", &["--no-owner", "--dbname", &restored, dump.to_str().unwrap()]);
    let db = pyxis_server::db::Db::open(Some(&restored), c.dir.path()).await.unwrap();
    assert!(db.check().await.unwrap().sound());
    db.mark_restored(taken).await.unwrap();

    c.stop_server().await;
    c.server_opts.database_url = Some(restored);
    c.restart_server().await.unwrap();
    c.wait_online(4).await.unwrap();
    let out = work.join("first.out");
    alice.get("/first", &out, None).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), first);
    assert_eq!(c.health().await.restored_from, Some(taken));
}

/// `pyxis admin check` finds each kind of damage it looks for, one chunk
/// each: a wrong reference count, a chunk in use that is not stored, a
/// chunk in use with fewer than k shards on record.
#[tokio::test]
async fn the_catalog_check_finds_each_kind_of_damage() {
    use pyxis_server::db::Db;
    let c = Cluster::start(4).await.unwrap();
    let alice = c.signup("alice", "pw").await.unwrap();
    for i in 0..3u64 {
        let f = c.dir.path().join(format!("f{i}"));
        random_file(&f, 10 + i, 2 << 20);
        alice.put(&f, &format!("/f{i}")).await.unwrap();
    }
    let db = &c.server().state().db;
    let sound = db.check().await.unwrap();
    assert!(sound.sound() && sound.chunks >= 3, "{sound:?}");
    for sql in [
        "UPDATE chunks SET refcount = refcount + 1 \
         WHERE chunk_id = (SELECT chunk_id FROM chunks ORDER BY chunk_id LIMIT 1 OFFSET 0)",
        "UPDATE chunks SET state = 1 WHERE chunk_id = (SELECT chunk_id FROM chunks ORDER BY chunk_id LIMIT 1 OFFSET 1)",
        "DELETE FROM shards WHERE chunk_id = (SELECT chunk_id FROM chunks ORDER BY chunk_id LIMIT 1 OFFSET 2)",
    ] {
        match db {
            Db::Sqlite { write, .. } => sqlx::query(sql).execute(write).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap();
    }
    let r = db.check().await.unwrap();
    assert_eq!((r.bad_refcounts, r.missing_chunks, r.short_of_shards), (1, 1, 1), "{r:?}");
    assert!(!r.sound());
}

/// The workers' leases (docs/OPERATIONS.md, "Scale"): one holder at a time,
/// renewable by it alone, free for another once expired or given up.
#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_or_is_given_up() {
    let c = Cluster::start(0).await.unwrap();
    let db = &c.server().state().db;
    assert!(db.take_lease("test", "a", 60_000).await.unwrap());
    assert!(!db.take_lease("test", "b", 60_000).await.unwrap(), "held by a");
    assert!(db.take_lease("test", "a", 300).await.unwrap(), "a renews its own");
    // Expired: b may take it, and then a may not.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !db.take_lease("test", "b", 60_000).await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "an expired lease was never free");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!db.take_lease("test", "a", 60_000).await.unwrap(), "a lost it");
    // Given up (a clean stop): a takes it at once; other leases are not touched.
    assert!(db.take_lease("other", "c", 60_000).await.unwrap());
    db.release_leases("b").await.unwrap();
    assert!(db.take_lease("test", "a", 60_000).await.unwrap());
    assert!(!db.take_lease("other", "a", 60_000).await.unwrap(), "c's lease stays c's");
}
