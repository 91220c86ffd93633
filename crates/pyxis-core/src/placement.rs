//! Weighted rendezvous hashing (highest random weight): which remotes hold a
//! chunk's shards.
//!
//! Every (chunk, remote) pair gets a score `-weight / ln(u)` with `u` a hash
//! of the pair mapped into (0, 1); the `n` best remotes win. A remote joining
//! or leaving only changes the chunks it wins or held, and a remote wins in
//! proportion to its weight (free capacity).

use crate::error::{Error, Result};

/// A remote that may receive shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    /// Usually free bytes; 0 means "never place here".
    pub weight: u64,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: a full-avalanche 64-bit mixer.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn key_word(key: &[u8; 32]) -> u64 {
    // Chunk ids are keyed hashes, already uniform: folding them is enough.
    key.chunks_exact(8).fold(0u64, |acc, w| mix(acc ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))))
}

fn score(key: u64, c: &Candidate) -> f64 {
    let h = mix(key ^ mix(c.id as u64 ^ 0x5851_F42D_4C95_7F2D));
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64; // strictly inside (0, 1)
    -(c.weight as f64) / u.ln()
}

/// All candidates with weight, best first (ties broken by id).
pub fn rank(key: &[u8; 32], candidates: &[Candidate]) -> Vec<i64> {
    let k = key_word(key);
    let mut scored: Vec<(f64, i64)> = candidates.iter().filter(|c| c.weight > 0).map(|c| (score(k, c), c.id)).collect();
    scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, id)| id).collect()
}

/// The `n` best distinct remotes for `key`, best first.
pub fn choose(key: &[u8; 32], candidates: &[Candidate], n: usize) -> Result<Vec<i64>> {
    let mut ranked = rank(key, candidates);
    ranked.dedup();
    if ranked.len() < n {
        return Err(Error::NotEnoughRemotes { have: ranked.len(), need: n });
    }
    ranked.truncate(n);
    Ok(ranked)
}

/// The `n` best distinct remotes for `key`, best first, of which at most
/// `max_limited` may satisfy `limited` (remotes not yet vetted): in rank
/// order, a limited remote is skipped once the cap is reached.
pub fn choose_limited(
    key: &[u8; 32],
    candidates: &[Candidate],
    n: usize,
    limited: impl Fn(i64) -> bool,
    max_limited: usize,
) -> Result<Vec<i64>> {
    let mut ranked = rank(key, candidates);
    ranked.dedup();
    let mut out = Vec::with_capacity(n);
    let mut used = 0;
    for id in ranked {
        if out.len() == n {
            break;
        }
        if limited(id) {
            if used == max_limited {
                continue;
            }
            used += 1;
        }
        out.push(id);
    }
    if out.len() < n {
        return Err(Error::NotEnoughRemotes { have: out.len(), need: n });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(i: u32) -> [u8; 32] {
        *blake3::hash(&i.to_le_bytes()).as_bytes()
    }

    fn remotes(ids: impl IntoIterator<Item = i64>) -> Vec<Candidate> {
        ids.into_iter().map(|id| Candidate { id, weight: 1 << 30 }).collect()
    }

    #[test]
    fn picks_distinct_remotes_and_refuses_too_few() {
        let r = remotes(1..=6);
        let picked = choose(&key(1), &r, 6).unwrap();
        assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 6);
        assert!(matches!(choose(&key(1), &r, 7), Err(Error::NotEnoughRemotes { have: 6, need: 7 })));
        let mut zero = remotes(1..=6);
        zero[0].weight = 0;
        assert!(!choose(&key(1), &zero, 5).unwrap().contains(&1));
    }

    #[test]
    fn a_joining_remote_only_takes_what_it_wins() {
        let before = remotes(1..=20);
        let after = remotes(1..=21);
        let mut moved = 0;
        for i in 0..2000 {
            let a: HashSet<i64> = choose(&key(i), &before, 6).unwrap().into_iter().collect();
            let b: HashSet<i64> = choose(&key(i), &after, 6).unwrap().into_iter().collect();
            if a != b {
                moved += 1;
                assert!(b.contains(&21), "chunk {i} moved without the new remote");
                assert_eq!(a.difference(&b).count(), 1, "chunk {i} lost more than one remote");
            }
        }
        // The newcomer should win about 6/21 of the chunks.
        assert!((400..=800).contains(&moved), "{moved} of 2000 moved");
    }

    #[test]
    fn a_leaving_remote_only_moves_its_own_chunks() {
        let before = remotes(1..=20);
        let after: Vec<Candidate> = before.iter().copied().filter(|c| c.id != 7).collect();
        for i in 0..2000 {
            let a = choose(&key(i), &before, 6).unwrap();
            let b = choose(&key(i), &after, 6).unwrap();
            if !a.contains(&7) {
                assert_eq!(a, b, "chunk {i} moved though remote 7 did not hold it");
            } else {
                let kept: Vec<i64> = a.iter().copied().filter(|&r| r != 7).collect();
                assert!(kept.iter().all(|r| b.contains(r)));
            }
        }
    }

    #[test]
    fn partial_selection_agrees_with_the_full_ranking() {
        let r: Vec<Candidate> = (1..=500).map(|id| Candidate { id, weight: 1 + (id as u64 * 7919) % 1000 }).collect();
        for i in 0..200 {
            let full = rank(&key(i), &r);
            for n in [1, 6, 10, 80] {
                assert_eq!(choose(&key(i), &r, n).unwrap(), full[..n], "chunk {i}, n {n}");
            }
        }
    }

    #[test]
    fn limited_remotes_never_pass_their_cap() {
        let r = remotes(1..=12);
        let unvetted = |id: i64| id > 6;
        for i in 0..500 {
            let got = choose_limited(&key(i), &r, 6, unvetted, 1).unwrap();
            assert_eq!(got.len(), 6);
            assert!(got.iter().filter(|&&id| unvetted(id)).count() <= 1, "chunk {i}: {got:?}");
            // Without the cap it is the plain choice.
            assert_eq!(choose_limited(&key(i), &r, 6, unvetted, 6).unwrap(), choose(&key(i), &r, 6).unwrap());
        }
        // Five vetted remotes cannot hold a six-shard chunk with no unvetted one allowed.
        let few: Vec<Candidate> = remotes([1, 2, 3, 4, 5, 7, 8]);
        assert!(matches!(
            choose_limited(&key(1), &few, 6, unvetted, 0),
            Err(Error::NotEnoughRemotes { have: 5, need: 6 })
        ));
    }

    #[test]
    fn weight_decides_share() {
        let r = vec![Candidate { id: 1, weight: 1000 }, Candidate { id: 2, weight: 3000 }];
        let wins2 = (0..20_000).filter(|&i| choose(&key(i), &r, 1).unwrap()[0] == 2).count();
        // Expect 3/4 of the picks.
        assert!((14_400..=15_600).contains(&wins2), "{wins2}");
    }
}
