//! Remotes and users are strangers: a hostile account, lying remotes, a
//! careless operator. Each test shows the attack failing and nothing lost.

use std::time::Duration;

use pyxis_client::ClientError;
use pyxis_proto::api::ErrorCode;
use pyxis_proto::api::catalog::{CommitFile, CommitRequest};
use pyxis_proto::api::chunks::{PlaceChunk, PlaceRequest, ShardReceipt, StoredChunk, StoredRequest};
use pyxis_proto::{ChunkId, ShardHash};
use pyxis_server::db::remotes::state_name;
use pyxis_testkit::rogue::{Lie, RogueRemote};
use pyxis_testkit::{Cluster, fully_healthy};

use crate::support::{random_file, same_file};

fn code(e: ClientError) -> ErrorCode {
    e.code().unwrap_or_else(|| panic!("not an API error: {e}"))
}

/// Audits on, fast, as an operator would run them (tests leave them off).
fn audits(o: &mut pyxis_server::ServerOptions) {
    o.durability.audit_sample = 8;
    o.durability.suspect_after = 3;
}

fn fake_chunks(n: u8, shards: usize) -> Vec<PlaceChunk> {
    (0..n)
        .map(|i| PlaceChunk {
            id: ChunkId([i; 32]),
            scheme: None,
            blob_len: 4096,
            shards: (0..shards).map(|j| ShardHash([i.wrapping_mul(31).wrapping_add(j as u8); 32])).collect(),
        })
        .collect()
}

/// Finding 2: a fresh account placed chunks with random shard hashes and
/// called `stored` without uploading; audits then blamed the honest remotes
/// until every one was suspect.
#[tokio::test]
async fn claiming_chunks_stored_without_uploading_is_refused_and_blames_no_remote() {
    let c = Cluster::start_with(6, pyxis_testkit::DEFAULT_CAPACITY, audits).await.unwrap();
    let honest = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 1, 4 << 20);
    honest.put(&f, "/f").await.unwrap();
    let mallory = c.signup("mallory", "pw").await.unwrap();
    let placed = mallory.api().place(&PlaceRequest { chunks: fake_chunks(100, 6) }).await.unwrap();
    assert_eq!(placed.chunks.len(), 100);
    // No receipts: refused.
    let bare: Vec<StoredChunk> = placed.chunks.iter().map(|p| StoredChunk { id: p.id, receipts: vec![] }).collect();
    let e = mallory.api().stored(&StoredRequest { chunks: bare[..50].to_vec() }).await.unwrap_err();
    assert_eq!(code(e), ErrorCode::NotEnoughReceipts);
    // Receipts signed by a key of its own making: refused.
    let forger = pyxis_crypto::identity::RemoteKey::generate().unwrap();
    let forged: Vec<StoredChunk> = placed
        .chunks
        .iter()
        .map(|p| StoredChunk {
            id: p.id,
            receipts: p
                .targets
                .iter()
                .map(|t| ShardReceipt {
                    index: t.index,
                    receipt: forger.sign_receipt(&pyxis_proto::receipt::Receipt {
                        remote: t.remote_id,
                        shard: t.hash,
                        len: 1044,
                        time_ms: 0,
                    }),
                })
                .collect(),
        })
        .collect();
    let e = mallory.api().stored(&StoredRequest { chunks: forged[..10].to_vec() }).await.unwrap_err();
    assert_eq!(code(e), ErrorCode::BadReceipt);
    // And a commit of chunks never stored is refused (a well-formed one:
    // sealed manifest, wrapped key).
    let keys = pyxis_crypto::keys::Keyring::new(&pyxis_crypto::keys::MasterKey::generate().unwrap());
    let file_key = pyxis_crypto::keys::FileKey::generate().unwrap();
    let id = placed.chunks[0].id;
    let body = pyxis_proto::format::manifest::ManifestBody::Chunks {
        size: 100,
        entries: vec![pyxis_proto::format::manifest::ManifestEntry::whole(id, [1; 32], 100)],
    };
    let commit = CommitRequest {
        files: vec![CommitFile {
            path: "/loot".into(),
            size: 100,
            mtime: 0,
            content_hash: "00".repeat(32),
            manifest: pyxis_core::manifest::seal_manifest(
                &pyxis_proto::format::manifest::Manifest { attrs: None, body },
                &file_key,
            )
            .unwrap(),
            wrapped_key: keys.wrap_file_key(&file_key).unwrap(),
            chunks: vec![id],
            expect: None,
            binding: None,
            share_keys: vec![],
            new_version: false,
            writer_keys: None,
            chunks_of: None,
        }],
    };
    assert_eq!(code(mallory.api().commit(&commit).await.unwrap_err()), ErrorCode::MissingChunk);
    // Audits run (only over shards remotes receipted) and blame nobody.
    c.wait_health("audits", 60, |h| h.workers.audits_passed >= 30).await.unwrap();
    let h = c.health().await;
    assert_eq!(h.workers.audits_failed, 0, "{h:?}");
    let remotes = c.server().state().db.all_remotes().await.unwrap();
    assert!(remotes.iter().all(|(r, _)| state_name(r.state) == "online"), "{remotes:?}");
    assert_eq!(mallory.api().network().await.unwrap().online_remotes, 6);
}

/// Finding 4: the client chose the scheme and the server believed it.
#[tokio::test]
async fn the_server_assigns_the_scheme_and_refuses_a_clients() {
    let c = Cluster::start(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let mut named = fake_chunks(1, 6);
    named[0].scheme = Some("1+5".into());
    let e = a.api().place(&PlaceRequest { chunks: named }).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::SchemeNotAllowed), "{e}");
    assert!(e.to_string().contains("4+2"), "{e}");
    let e = a.api().place(&PlaceRequest { chunks: fake_chunks(1, 3) }).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::SchemeChanged), "{e}");
    let used = a.api().quota().await.unwrap().used;
    assert_eq!(used, 0, "a refused placement was charged");
    // The placement's grants name the exact shard length of a 4+2 chunk of
    // 4096 bytes: a client cannot store more than it paid for.
    let placed = a.api().place(&PlaceRequest { chunks: fake_chunks(1, 6) }).await.unwrap();
    let want = pyxis_proto::format::shard::shard_len(4096, "4+2".parse().unwrap()) as u32;
    for t in &placed.chunks[0].targets {
        let bytes = pyxis_proto::grant::decode_token(&t.grant).unwrap();
        assert_eq!(pyxis_proto::grant::Grant::parse_signed(&bytes).unwrap().0.max_size, want);
    }
}

/// Finding 3: anyone could register a remote, claim any capacity, and take
/// shards it then threw away; `put` succeeded and `get` failed.
#[tokio::test]
async fn lying_remotes_cannot_make_a_put_lose_data_and_audits_catch_them() {
    let c = Cluster::start_with(6, pyxis_testkit::DEFAULT_CAPACITY, audits).await.unwrap();
    let mut rogues = Vec::new();
    for _ in 0..5 {
        // Unvetted, capped at 1 GiB whatever they claim.
        let token = c.admission_token(false, Some(1 << 30)).await.unwrap();
        rogues.push(RogueRemote::start(&c, &token, Lie::NotFound).await.unwrap());
    }
    c.wait_online(11).await.unwrap();
    let db = &c.server().state().db;
    for r in &rogues {
        let row = db.remote(r.remote_id()).await.unwrap().unwrap();
        assert!(row.capacity <= 1 << 30 && row.free <= 1 << 30, "the claim was believed: {row:?}");
        assert!(!row.is_vetted());
    }
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 3, 16 << 20);
    let report = a.put(&f, "/f").await.unwrap();
    assert_eq!(report.scheme, "4+2", "six vetted remotes and capped unvetted ones: 4+2");
    assert!(
        rogues.iter().map(RogueRemote::acked).sum::<u64>() > 0,
        "the rogues took no shard: the test proved nothing"
    );
    // No chunk has more than ceil(m/2) = 1 shard on an unvetted remote.
    let rogue_ids: Vec<i64> = rogues.iter().map(RogueRemote::remote_id).collect();
    let user = c.server().state().db.user_by_name("alice").await.unwrap().unwrap().id;
    for id in c.server().state().db.chunk_ids(user).await.unwrap() {
        let on_rogues =
            db.chunk_shards(user, &id).await.unwrap().iter().filter(|s| rogue_ids.contains(&s.remote_id)).count();
        assert!(on_rogues <= 1, "chunk {id} has {on_rogues} shards on unvetted remotes");
    }
    // Whatever they lied, the file reads back...
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
    // ...and audits catch every liar that took a shard: each failed its
    // audits and holds nothing the catalog counts on any more (suspect after
    // three failures, or its few shards already rebuilt on honest remotes).
    let liars: Vec<i64> = rogues.iter().filter(|r| r.acked() > 0).map(RogueRemote::remote_id).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut caught = 0;
        for id in &liars {
            let row = db.remote(*id).await.unwrap().unwrap();
            let holds = db.shards_on(*id).await.unwrap();
            caught += usize::from(state_name(row.state) == "suspect" || (holds == 0 && row.audit_failures > 0));
        }
        let h = c.health().await;
        if caught == liars.len() && fully_healthy(&h, 6) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{caught} of {} liars caught; {h:?}", liars.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(rogues);
    c.wait_online(6).await.unwrap();
    std::fs::remove_file(&out).unwrap();
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

/// Finding 7: the server read remotes' answers with no size cap and
/// followed redirects.
#[tokio::test]
async fn a_remote_answering_audits_with_a_redirect_or_an_endless_body_fails_them() {
    let mut c = Cluster::start_with(6, pyxis_testkit::DEFAULT_CAPACITY, audits).await.unwrap();
    let honest_url = c.remote(0).url().to_owned();
    let t1 = c.admission_token(false, None).await.unwrap();
    let t2 = c.admission_token(false, None).await.unwrap();
    let redirect = RogueRemote::start(&c, &t1, Lie::Redirect(honest_url)).await.unwrap();
    let endless = RogueRemote::start(&c, &t2, Lie::Endless).await.unwrap();
    c.wait_online(8).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 4, 16 << 20);
    a.put(&f, "/f").await.unwrap();
    let db = &c.server().state().db;
    for r in [&redirect, &endless] {
        if r.acked() == 0 {
            continue;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while state_name(db.remote(r.remote_id()).await.unwrap().unwrap().state) != "suspect" {
            assert!(std::time::Instant::now() < deadline, "remote {} never failed its audits", r.remote_id());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert!(redirect.acked() + endless.acked() > 0, "neither rogue took a shard: the test proved nothing");
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
    let _ = &mut c;
}

/// Finding 1, for a server: one restarted on a copy of its catalog taken
/// before a put (a restored backup) deletes nothing; what it does not know
/// stays on the remotes, in quarantine, and comes back into use when the
/// same data is put again.
#[tokio::test]
async fn a_server_restored_from_an_older_catalog_deletes_nothing() {
    let mut c = Cluster::start(6).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let (f1, f2) = (c.dir.path().join("one"), c.dir.path().join("two"));
    random_file(&f1, 5, 6 << 20);
    random_file(&f2, 6, 6 << 20);
    a.put(&f1, "/one").await.unwrap();
    c.stop_server().await;
    c.backup_catalog("backup").await.unwrap();
    c.restart_server().await.unwrap();
    c.wait_online(6).await.unwrap();
    a.put(&f2, "/two").await.unwrap();
    let held: Vec<Vec<ShardHash>> = (0..6).map(|i| c.remote(i).store().list()).collect();
    c.stop_server().await;
    c.restore_catalog("backup").await.unwrap();
    c.restart_server().await.unwrap();
    c.wait_online(6).await.unwrap();
    let mut quarantined = 0;
    for (i, before) in held.iter().enumerate() {
        let r = c.remote(i).reconcile().await.unwrap();
        assert_eq!(r.deleted, 0, "remote {i} deleted shards the restored catalog does not know");
        quarantined += r.quarantined;
        let now = c.remote(i).store().list();
        assert!(before.iter().all(|h| now.contains(h)), "remote {i} lost a shard");
    }
    assert!(quarantined > 0, "the second put's shards should be unknown to the restored catalog");
    assert!(a.api().stat("/two").await.is_err(), "the restored catalog predates /two");
    let out = c.dir.path().join("out");
    a.get("/one", &out, None).await.unwrap();
    same_file(&f1, &out);
    // Put again, /two lands on the shards kept aside (the same bytes, and
    // mostly the same remotes: placement weighs free space, which moved a
    // little): they leave quarantine, and still nothing is deleted.
    let report = a.put(&f2, "/two").await.unwrap();
    assert!(report.totals.new > 0);
    let mut still = 0;
    for i in 0..6 {
        let r = c.remote(i).reconcile().await.unwrap();
        assert_eq!(r.deleted, 0, "remote {i}");
        still += r.quarantined;
    }
    assert!(still < quarantined / 2, "{still} of {quarantined} shards still unknown after the same data came back");
    std::fs::remove_file(&out).unwrap();
    a.get("/two", &out, None).await.unwrap();
    same_file(&f2, &out);
}

/// A shard the catalog records where it is not any more (its remote gone)
/// is adopted where a remote reports it.
#[tokio::test]
async fn a_shard_found_on_another_remote_is_readopted() {
    let mut c = Cluster::start(7).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 7, 1 << 20);
    a.put(&f, "/f").await.unwrap();
    let db = c.server().state().db.clone();
    let user = db.user_by_name("alice").await.unwrap().unwrap().id;
    let chunk = db.chunk_ids(user).await.unwrap()[0];
    let shards = db.chunk_shards(user, &chunk).await.unwrap();
    let ids: Vec<Option<i64>> = (0..7).map(|i| c.remote(i).remote_id()).collect();
    let holder = ids.iter().position(|id| *id == Some(shards[0].remote_id)).unwrap();
    let spare = ids.iter().position(|id| shards.iter().all(|s| Some(s.remote_id) != *id)).unwrap();
    let hash = ShardHash::from_slice(&shards[0].hash).unwrap();
    // The shard's bytes end up on the spare remote (a copy the catalog lost
    // track of), and its recorded remote goes away.
    let bytes = c.remote(holder).store().get(&hash).await.unwrap();
    c.remote(spare).store().put(hash, bytes).await.unwrap();
    c.stop_remote(holder).await;
    c.wait_online(6).await.unwrap();
    let r = c.remote(spare).reconcile().await.unwrap();
    assert_eq!(r.quarantined, 0);
    let now = db.chunk_shards(user, &chunk).await.unwrap();
    assert_eq!(Some(now[0].remote_id), ids[spare], "not re-adopted");
    assert_eq!(
        now[0].proof,
        pyxis_server::db::durability::PROOF_LEGACY,
        "adopted shards are audited before they count as proven"
    );
}

/// `pyxis admin revoke`: the key is refused from then on, its shards are
/// rebuilt elsewhere, nothing is lost.
#[tokio::test]
async fn a_revoked_remote_is_refused_and_repaired_around() {
    let c = Cluster::start(7).await.unwrap();
    let a = c.signup("alice", "pw").await.unwrap();
    let f = c.dir.path().join("f");
    random_file(&f, 8, 8 << 20);
    a.put(&f, "/f").await.unwrap();
    let id = c.remote(0).remote_id().unwrap();
    let token = std::fs::read_to_string(c.dir.path().join("server/admin-token")).unwrap();
    let admin = c.api().with_token(token.trim());
    admin.admin_revoke(id).await.unwrap();
    c.wait_health("the revoked remote's shards rebuilt elsewhere", 60, |h| fully_healthy(h, 6)).await.unwrap();
    let db = &c.server().state().db;
    assert_eq!(db.shards_on(id).await.unwrap(), 0);
    // Its heartbeats keep coming, and are refused: it stays revoked.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(state_name(db.remote(id).await.unwrap().unwrap().state), "revoked");
    let out = c.dir.path().join("out");
    a.get("/f", &out, None).await.unwrap();
    same_file(&f, &out);
}

/// Admission: a remote whose key the server does not know needs a token,
/// each token admits one remote, and open admission (if the operator turns
/// it on) admits unvetted and capped.
#[tokio::test]
async fn an_unknown_remote_needs_a_single_use_token() {
    let mut c = Cluster::start(1).await.unwrap();
    let db = c.server().state().db.clone();
    let count = || async { db.all_remotes().await.unwrap().len() };
    // No token: never admitted (it keeps trying, and keeps being refused).
    let stranger = pyxis_remote::start(pyxis_remote::RemoteOptions {
        server: c.url(),
        listen: ([127, 0, 0, 1], 0).into(),
        dir: c.dir.path().join("stranger"),
        capacity: 1 << 30,
        public_url: None,
        tls: Some(pyxis_testkit::test_tls(&pyxis_testkit::test_ca(c.dir.path()).unwrap(), "stranger").unwrap()),
        insecure_http: false,
        ca_pem: Some(c.ca_pem()),
        name: Some("stranger".into()),
        heartbeat: Some(Duration::from_millis(100)),
        scrub_every: None,
        inventory_every: None,
        inventory_grace: None,
        admission_token: None,
        quarantine_keep: None,
        metrics_listen: None,
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(stranger.remote_id(), None);
    assert_eq!(count().await, 1);
    stranger.shutdown().await;
    // One token, one remote: a second remote presenting the same token is refused.
    let token = c.admission_token(false, Some(5 << 30)).await.unwrap();
    let (mut first, mut second) = (remote_opts(&c, "first", &token), remote_opts(&c, "second", &token));
    first.capacity = 1 << 40;
    second.capacity = 1 << 40;
    let first = pyxis_remote::start(first).await.unwrap();
    c.wait_online(2).await.unwrap();
    let row = db.remote(first.remote_id().unwrap()).await.unwrap().unwrap();
    assert_eq!(row.capacity, 5 << 30, "the admission's cap bounds what the remote claims");
    assert!(!row.is_vetted());
    let second = pyxis_remote::start(second).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(second.remote_id(), None, "a spent token admitted a second remote");
    assert_eq!(count().await, 2);
    second.shutdown().await;
    first.shutdown().await;
    let _ = &mut c;
}

fn remote_opts(c: &Cluster, name: &str, token: &str) -> pyxis_remote::RemoteOptions {
    pyxis_remote::RemoteOptions {
        server: c.url(),
        listen: ([127, 0, 0, 1], 0).into(),
        dir: c.dir.path().join(name),
        capacity: 1 << 30,
        public_url: None,
        tls: Some(pyxis_testkit::test_tls(&pyxis_testkit::test_ca(c.dir.path()).unwrap(), name).unwrap()),
        insecure_http: false,
        ca_pem: Some(c.ca_pem()),
        name: Some(name.into()),
        heartbeat: Some(Duration::from_millis(100)),
        scrub_every: None,
        inventory_every: None,
        inventory_grace: None,
        admission_token: Some(token.into()),
        quarantine_keep: None,
        metrics_listen: None,
    }
}
