use bytes::Bytes;
use futures::StreamExt;
use pyxis_core::erasure::shard_hash;
use pyxis_remote::store::{Store, StoreOptions};
use std::time::Instant;

fn shards(seed: u64, size: usize, n: usize) -> Vec<(pyxis_proto::ShardHash, Bytes)> {
    (0..n)
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

#[tokio::main]
async fn main() {
    for (size, n) in [(256usize << 10, 2048usize), (1 << 20, 512)] {
        for inflight in [16usize, 64] {
            let dir = tempfile::tempdir_in("/tmp").unwrap();
            let store = Store::open(dir.path(), StoreOptions { auto_compact: None, ..StoreOptions::new(1 << 40) })
                .await
                .unwrap();
            let batch = shards(size as u64 ^ inflight as u64, size, n);
            let t = Instant::now();
            futures::stream::iter(batch)
                .map(|(h, d)| store.put(h, d))
                .buffer_unordered(inflight)
                .for_each(|r| async move {
                    r.unwrap();
                })
                .await;
            let dt = t.elapsed().as_secs_f64();
            let s = store.stats();
            println!(
                "{} KiB x{inflight}: {:.0} MiB/s, {} puts, {} flushes ({:.1} puts/flush)",
                size >> 10,
                (size * n) as f64 / dt / 1048576.0,
                n,
                s.flushes,
                n as f64 / s.flushes as f64
            );
            store.close().await;
        }
    }
}
