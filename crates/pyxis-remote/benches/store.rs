//! Durable put and get throughput of the shard store, alone and behind the
//! HTTP API (`cargo bench -p pyxis-remote`).
//!
//! Puts are measured with 16 and 64 in flight and 256 KiB and 1 MiB shards,
//! each iteration writing 64 MiB of fresh shards into a fresh store and
//! waiting for every acknowledgement (so for every flush). Shards are
//! generated before the clock starts; the store's own hash check is timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use pyxis_crypto::grants::{GrantSigner, GrantVerifier};
use pyxis_crypto::shard::shard_hash;
use pyxis_proto::ShardHash;
use pyxis_proto::grant::{Grant, GrantOp, HEADER};
use pyxis_remote::api::{AppState, router};
use pyxis_remote::identity::{Registered, Registration};
use pyxis_remote::store::{Store, StoreOptions};
use tokio::runtime::Runtime;

const BATCH: usize = 64 << 20;
const SIZES: [(usize, &str); 2] = [(256 << 10, "256 KiB"), (1 << 20, "1 MiB")];
const IN_FLIGHT: [usize; 2] = [16, 64];

/// Fresh, distinct shards: `BATCH` bytes of them.
fn shards(seed: u64, size: usize) -> Vec<(ShardHash, Bytes)> {
    (0..BATCH / size)
        .map(|i| {
            let mut data = vec![0u8; size];
            for (j, w) in data.chunks_exact_mut(8).enumerate() {
                w.copy_from_slice(
                    &(seed ^ (i as u64) << 32 ^ j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes(),
                );
            }
            (shard_hash(&data), Bytes::from(data))
        })
        .collect()
}

fn options() -> StoreOptions {
    StoreOptions { auto_compact: None, ..StoreOptions::new(1 << 40) }
}

async fn put_all(store: &Store, batch: Vec<(ShardHash, Bytes)>, in_flight: usize) {
    let puts = futures::stream::iter(batch).map(|(h, d)| store.put(h, d)).buffer_unordered(in_flight);
    puts.for_each(|r| async move {
        r.unwrap();
    })
    .await;
}

fn store_put(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut g = c.benchmark_group("store put, durable");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Bytes(BATCH as u64));
    let mut seed = 0;
    for (size, label) in SIZES {
        for in_flight in IN_FLIGHT {
            g.bench_function(BenchmarkId::new(label, format!("{in_flight} in flight")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        seed += 1;
                        let batch = shards(seed, size);
                        let dir = tempfile::tempdir().unwrap();
                        total += rt.block_on(async {
                            let store = Store::open(dir.path(), options()).await.unwrap();
                            let start = Instant::now();
                            put_all(&store, batch, in_flight).await;
                            let took = start.elapsed();
                            store.close().await;
                            took
                        });
                    }
                    total
                })
            });
        }
    }
}

fn store_get(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut g = c.benchmark_group("store get, warm cache");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Bytes(BATCH as u64));
    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(Store::open(dir.path(), options())).unwrap();
    for (size, label) in SIZES {
        let batch = shards(size as u64, size);
        let hashes: Vec<ShardHash> = batch.iter().map(|(h, _)| *h).collect();
        rt.block_on(put_all(&store, batch, 64));
        for in_flight in IN_FLIGHT {
            g.bench_function(BenchmarkId::new(label, format!("{in_flight} in flight")), |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let gets = futures::stream::iter(&hashes).map(|h| store.get(h)).buffer_unordered(in_flight);
                        gets.for_each(|r| async move {
                            r.unwrap();
                        })
                        .await
                    })
                })
            });
        }
    }
    rt.block_on(store.close());
}

/// The whole upload path of one remote: HTTP/1.1 keep-alive over loopback,
/// grant check, body buffering, hash check and durable store.
fn http_put(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut g = c.benchmark_group("http put, durable, one remote");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Bytes(BATCH as u64));
    let signer = GrantSigner::from_seed(&[1; 32]).unwrap();
    let client = reqwest::Client::builder().http1_only().pool_max_idle_per_host(64).build().unwrap();
    let mut seed = 1 << 20;
    for (size, label) in SIZES {
        for in_flight in IN_FLIGHT {
            g.bench_function(BenchmarkId::new(label, format!("{in_flight} in flight")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        seed += 1;
                        let batch = shards(seed, size);
                        let dir = tempfile::tempdir().unwrap();
                        total += rt.block_on(http_round(&signer, &client, dir.path(), batch, in_flight));
                    }
                    total
                })
            });
        }
    }
}

async fn http_round(
    signer: &GrantSigner,
    client: &reqwest::Client,
    dir: &std::path::Path,
    batch: Vec<(ShardHash, Bytes)>,
    in_flight: usize,
) -> Duration {
    let store = Store::open(dir, options()).await.unwrap();
    let registration = Arc::new(Registration::default());
    registration.set(Registered { remote_id: 1, verifier: GrantVerifier::new(signer.public_key()) });
    // Every put is answered with a signed receipt, as in production.
    let key = Arc::new(pyxis_crypto::identity::RemoteKey::generate().unwrap());
    let quarantine = Arc::new(pyxis_remote::quarantine::Quarantine::load(dir).unwrap());
    let metrics = pyxis_remote::metrics::RemoteMetrics::new(store.clone(), quarantine, dir.to_owned(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        axum::serve(listener, router(AppState { store: store.clone(), registration, key, metrics })).into_future(),
    );
    let expires = pyxis_crypto::grants::unix_now() + 600;
    let requests: Vec<_> = batch
        .into_iter()
        .map(|(h, d)| {
            let grant =
                signer.sign(&Grant { op: GrantOp::Put, remote: 1, shard: h, max_size: d.len() as u32, expires });
            client.put(format!("{url}/v1/shards/{h}")).header(HEADER, grant).body(d)
        })
        .collect();
    let start = Instant::now();
    let sends = futures::stream::iter(requests).map(|r| r.send()).buffer_unordered(in_flight);
    sends.for_each(|r| async move { assert!(r.unwrap().status().is_success()) }).await;
    let took = start.elapsed();
    server.abort();
    store.close().await;
    took
}

criterion_group!(benches, store_put, store_get, http_put);
criterion_main!(benches);
