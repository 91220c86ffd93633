//! What a Prometheus scrape of the server costs with a large catalog, next
//! to the same scrape of an empty one in the same run (docs/PERFORMANCE.md):
//! the target is under 100 ms with 100,000 chunks. Also the
//! worker-timer refresh that reads the catalog's numbers for it.
//!
//!   cargo bench -p pyxis-testkit --bench scrape

use criterion::{Criterion, criterion_group, criterion_main};
use pyxis_testkit::Cluster;

/// 100,000 stored chunks of 4+2 shards for user `alice` over the cluster's
/// remotes, written straight into the SQLite catalog (a put of that much
/// would take the bench an hour).
async fn fill(c: &Cluster, chunks: i64) {
    let pyxis_server::db::Db::Sqlite { write, .. } = &c.server().state().db else {
        panic!("the bench fills a SQLite catalog")
    };
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO chunks (user_id, chunk_id, data_shards, parity_shards, blob_len, refcount, state, created_at)
         SELECT (SELECT id FROM users WHERE username = 'alice'), randomblob(32), 4, 2, 1048576, 1, 2, 0 FROM n",
    )
    .bind(chunks)
    .execute(write)
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 5)
         INSERT INTO shards (user_id, chunk_id, idx, hash, remote_id, state, proof)
         SELECT c.user_id, c.chunk_id, k.i, randomblob(32), r.id, 1, 1
         FROM chunks c CROSS JOIN k
         JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM remotes) r ON r.n = k.i",
    )
    .execute(write)
    .await
    .unwrap();
}

fn scrape(cr: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(async {
        let c = Cluster::start(6).await.unwrap();
        c.signup("alice", "pw").await.unwrap();
        c
    });
    let (http, url, token) = (c.http(), format!("{}/metrics", c.url()), c.admin_token());
    let get = || {
        rt.block_on(async {
            let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().len()
        })
    };
    let refresh = || rt.block_on(pyxis_server::metrics::refresh(c.server().state())).unwrap();
    let mut g = cr.benchmark_group("metrics");
    g.sample_size(20);
    refresh();
    g.bench_function("scrape, empty catalog", |b| b.iter(get));
    g.bench_function("refresh, empty catalog", |b| b.iter(refresh));
    rt.block_on(fill(&c, 100_000));
    refresh();
    g.bench_function("scrape, 100,000 chunks", |b| b.iter(get));
    g.bench_function("refresh, 100,000 chunks", |b| b.iter(refresh));
    g.finish();
}

criterion_group!(benches, scrape);
criterion_main!(benches);
