//! Round trips over random data, sizes, schemes and shard subsets.

use proptest::prelude::*;
use pyxis_core::chunker::ChunkerParams;
use pyxis_core::policy::RedundancyPolicy;
use pyxis_core::testdata::{pseudo_random, pseudo_text};
use pyxis_proto::Scheme;

use crate::support::{SMALL, decode_file, encode_file, keyring};

fn policy_schemes() -> Vec<Scheme> {
    let p = RedundancyPolicy::default();
    let mut v: Vec<Scheme> = (1..=12).map(|r| p.choose(r).unwrap().scheme).collect();
    v.dedup();
    v
}

/// Picks `k` distinct shard positions out of `n` in a shuffled order.
fn subset(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut s = seed | 1;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        idx.swap(i, (s % (i as u64 + 1)) as usize);
    }
    idx.truncate(k);
    idx
}

fn size_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1),
        Just(SMALL.min as usize), // exactly one chunk
        Just(SMALL.max as usize), // one maximal chunk or a few
        1usize..SMALL.max as usize * 2,
        (SMALL.max as usize * 2)..(SMALL.max as usize * 12), // many chunks
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_k_of_n_in_any_order(
        size in size_strategy(),
        scheme_ix in 0usize..7,
        seed in any::<u64>(),
        text in any::<bool>(),
    ) {
        let schemes = policy_schemes();
        let scheme = schemes[scheme_ix % schemes.len()];
        let data = if text { pseudo_text(seed, size) } else { pseudo_random(seed, size) };
        let keys = keyring(3);
        let chunks = encode_file(&keys, &data, SMALL, scheme);
        prop_assert_eq!(chunks.iter().map(|c| c.plaintext_len as usize).sum::<usize>(), size);
        for c in &chunks {
            prop_assert_eq!(c.shards.len(), scheme.total());
        }
        let back = decode_file(&keys, &chunks, |n| subset(scheme.total(), scheme.data(), seed ^ n as u64));
        prop_assert_eq!(back, data);
    }
}

#[test]
fn every_policy_scheme_with_default_chunks() {
    // Default 256 KiB / 1 MiB / 4 MiB chunking over 6 MiB, every scheme, the
    // last k shards (so parity is always used when there is any).
    let data = pseudo_random(77, 6 << 20);
    let keys = keyring(4);
    for scheme in policy_schemes() {
        let chunks = encode_file(&keys, &data, ChunkerParams::default(), scheme);
        assert!(chunks.len() > 1);
        let n = scheme.total();
        let back = decode_file(&keys, &chunks, |_| (n - scheme.data()..n).collect());
        assert!(back == data, "scheme {scheme}");
    }
}

#[test]
fn compressible_chunks_are_compressed_and_random_ones_are_not() {
    let keys = keyring(5);
    let text = encode_file(&keys, &pseudo_text(1, 1 << 20), ChunkerParams::default(), "4+2".parse().unwrap());
    assert!(text.iter().all(|c| c.compressed));
    assert!(text.iter().map(|c| c.blob_len).sum::<usize>() < (1 << 20) / 2);
    let random = encode_file(&keys, &pseudo_random(1, 1 << 20), ChunkerParams::default(), "4+2".parse().unwrap());
    assert!(random.iter().all(|c| !c.compressed));
}

#[test]
fn equal_chunks_encode_identically_and_accounts_differ() {
    let data = pseudo_random(8, 300_000);
    let a = encode_file(&keyring(1), &data, SMALL, "2+1".parse().unwrap());
    let a2 = encode_file(&keyring(1), &data, SMALL, "2+1".parse().unwrap());
    let b = encode_file(&keyring(2), &data, SMALL, "2+1".parse().unwrap());
    let hashes = |v: &[pyxis_core::codec::EncodedChunk]| -> Vec<_> {
        v.iter().flat_map(|c| c.shards.iter().map(|s| s.hash)).collect()
    };
    assert_eq!(hashes(&a), hashes(&a2), "encoding must be deterministic (dedup, idempotent retries)");
    assert_ne!(a[0].id, b[0].id);
}
