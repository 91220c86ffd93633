//! Micro-benchmarks of the data path on one 1 MiB chunk (`cargo bench -p
//! pyxis-core`). The whole-path figures come from `pyxis bench pipeline`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_core::codec::{ChunkBuf, ChunkCodec};
use pyxis_core::erasure::Erasure;
use pyxis_core::testdata::{pseudo_random, pseudo_text};
use pyxis_crypto::keys::{Keyring, MasterKey};
use pyxis_crypto::shard::verify_shard;
use reed_solomon_simd::ReedSolomonDecoder;

const MIB: usize = 1 << 20;

fn data_path(c: &mut Criterion) {
    let keys = Keyring::new(&MasterKey::from_bytes([1; 32]));
    let scheme = "4+2".parse().unwrap();
    let mut g = c.benchmark_group("1 MiB chunk");
    g.throughput(Throughput::Bytes(MIB as u64));
    for (name, data) in [("random", pseudo_random(1, MIB)), ("text", pseudo_text(1, MIB))] {
        let mut codec = ChunkCodec::new().unwrap();
        g.bench_function(format!("encode 4+2 {name}"), |b| {
            b.iter(|| codec.encode(&keys, ChunkBuf::from_slice(black_box(&data)), scheme).unwrap())
        });
        let enc = codec.encode_slice(&keys, &data, scheme).unwrap();
        g.bench_function(format!("decode 4 of 6, 2 data lost, {name}"), |b| {
            b.iter(|| {
                let v: Vec<_> = enc.shards[2..].iter().map(|s| verify_shard(&s.bytes, &s.hash).unwrap()).collect();
                codec.decode(&enc.id, &enc.key, &v, Some(keys.dedup_key())).unwrap()
            })
        });
    }
    let data = pseudo_random(2, MIB);
    g.bench_function("keyed BLAKE3 chunk id", |b| b.iter(|| keys.chunk_id(black_box(&data))));
    let mut erasure = Erasure::new();
    let mut blob = data.clone();
    g.bench_function("erasure split 4+2 (with shard hashes)", |b| b.iter(|| erasure.split(&mut blob, scheme).unwrap()));
    let shards = erasure.split(&mut blob, scheme).unwrap();
    g.bench_function("erasure join, 2 data lost", |b| {
        b.iter(|| {
            let v: Vec<_> = shards[2..].iter().map(|s| verify_shard(&s.bytes, &s.hash).unwrap()).collect();
            erasure.join(&v).unwrap()
        })
    });
    let payloads: Vec<&[u8]> = shards.iter().map(|s| &s.bytes[20..]).collect();
    let size = payloads[0].len();
    let mut dec = ReedSolomonDecoder::new(4, 2, size).unwrap();
    g.bench_function("reed-solomon-simd decode alone, 2 data lost", |b| {
        b.iter(|| {
            dec.reset(4, 2, size).unwrap();
            for (i, p) in payloads.iter().enumerate().skip(2) {
                if i < 4 {
                    dec.add_original_shard(i, p).unwrap();
                } else {
                    dec.add_recovery_shard(i - 4, p).unwrap();
                }
            }
            black_box(dec.decode().unwrap().restored_original(0).map(<[u8]>::len));
        })
    });
    use reed_solomon_simd::engine::DefaultEngine;
    use reed_solomon_simd::rate::{HighRateDecoder, LowRateDecoder, RateDecoder};
    fn run<D: RateDecoder<DefaultEngine>>(dec: &mut D, payloads: &[&[u8]], size: usize) {
        dec.reset(4, 2, size).unwrap();
        for (i, p) in payloads.iter().enumerate().skip(2) {
            if i < 4 {
                dec.add_original_shard(i, p).unwrap();
            } else {
                dec.add_recovery_shard(i - 4, p).unwrap();
            }
        }
        black_box(dec.decode().unwrap().restored_original(0).map(<[u8]>::len));
    }
    let mut hi = HighRateDecoder::new(4, 2, size, DefaultEngine::new(), None).unwrap();
    g.bench_function("rs decode high rate", |b| b.iter(|| run(&mut hi, &payloads, size)));
    let mut lo = LowRateDecoder::new(4, 2, size, DefaultEngine::new(), None).unwrap();
    g.bench_function("rs decode low rate", |b| b.iter(|| run(&mut lo, &payloads, size)));
    g.finish();

    let mut g = c.benchmark_group("16 MiB stream");
    let big = pseudo_random(3, 16 * MIB);
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("FastCDC chunking", |b| {
        b.iter(|| {
            Chunker::new(&big[..], ChunkerParams::default(), 7).unwrap().map(|c| c.unwrap().buf.len()).sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, data_path);
criterion_main!(benches);
