//! Reed–Solomon erasure coding of chunk blobs into self-describing shards,
//! and back from any k of them. Works on ciphertext only, so the server can
//! repair and re-encode without keys.
//!
//! Re-splitting a blob is deterministic: a rebuilt shard is byte-identical to
//! the lost one and keeps its address, so repair only moves locations.

use pyxis_crypto::shard::{VerifiedShard, shard_hash};
use pyxis_proto::format::shard::{self, ShardHeader};
use pyxis_proto::{Scheme, ShardHash};
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::error::{Error, Result};

/// An encoded shard, ready to be stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Shard {
    pub index: u8,
    pub hash: ShardHash,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shard #{} {:?} ({} bytes)", self.index, self.hash, self.bytes.len())
    }
}

/// Reusable Reed–Solomon state (allocations are kept between chunks).
#[derive(Default)]
pub struct Erasure {
    encoder: Option<ReedSolomonEncoder>,
    decoder: Option<ReedSolomonDecoder>,
}

impl std::fmt::Debug for Erasure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Erasure")
    }
}

fn rs_err(e: reed_solomon_simd::Error) -> Error {
    Error::Erasure(e.to_string())
}

fn make_shard(header: ShardHeader, payload: &[u8]) -> Shard {
    let mut bytes = Vec::with_capacity(shard::HEADER_LEN + payload.len());
    bytes.extend_from_slice(&header.to_bytes());
    bytes.extend_from_slice(payload);
    Shard { index: header.index, hash: shard_hash(&bytes), bytes }
}

impl Erasure {
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits a blob into `scheme.total()` shards. `blob` is padded in place to a
    /// whole number of shard payloads (the caller's buffer is reused, not copied).
    pub fn split(&mut self, blob: &mut Vec<u8>, scheme: Scheme) -> Result<Vec<Shard>> {
        let blob_len = u32::try_from(blob.len())
            .ok()
            .filter(|&l| l as usize <= shard::MAX_BLOB)
            .ok_or_else(|| Error::Erasure(format!("blob of {} bytes is over the format limit", blob.len())))?;
        let (k, m) = (scheme.data(), scheme.parity());
        let size = shard::payload_len(blob.len(), k);
        blob.resize(size * k, 0);
        let header = |index: usize| ShardHeader { scheme, index: index as u8, blob_len };
        let mut shards: Vec<Shard> =
            blob.chunks_exact(size).enumerate().map(|(i, p)| make_shard(header(i), p)).collect();
        if m > 0 {
            let enc = match &mut self.encoder {
                Some(e) => {
                    e.reset(k, m, size).map_err(rs_err)?;
                    e
                }
                slot @ None => slot.insert(ReedSolomonEncoder::new(k, m, size).map_err(rs_err)?),
            };
            for p in blob.chunks_exact(size) {
                enc.add_original_shard(p).map_err(rs_err)?;
            }
            let result = enc.encode().map_err(rs_err)?;
            shards.extend(result.recovery_iter().enumerate().map(|(j, p)| make_shard(header(k + j), p)));
        }
        blob.truncate(blob_len as usize);
        Ok(shards)
    }

    /// Cuts the blob that these verified shards hold again, for another
    /// scheme: what a client does when the network's scheme changed while
    /// a chunk was uploading (no re-encryption, so the chunk id, its key and
    /// its blob stay the same).
    pub fn resplit(&mut self, shards: &[VerifiedShard<'_>], scheme: Scheme) -> Result<Vec<Shard>> {
        let mut blob = self.join(shards)?;
        self.split(&mut blob, scheme)
    }

    /// Rebuilds the blob from any `k` verified shards of one chunk (more are
    /// fine; duplicates and strays are rejected).
    pub fn join(&mut self, shards: &[VerifiedShard<'_>]) -> Result<Vec<u8>> {
        let first = *shards.first().ok_or(Error::NotEnoughShards { have: 0, need: 1 })?.header();
        let (k, m) = (first.scheme.data(), first.scheme.parity());
        let size = first.payload_len();
        let mut seen = vec![false; k + m];
        for s in shards {
            if s.payload().len() != size {
                return Err(Error::InconsistentShards(format!(
                    "shard {} payload has the wrong size",
                    s.header().index
                )));
            }
            if s.header().scheme != first.scheme || s.header().blob_len != first.blob_len {
                return Err(Error::InconsistentShards(format!(
                    "shard {} says {} / {} bytes, shard {} says {} / {} bytes",
                    first.index,
                    first.scheme,
                    first.blob_len,
                    s.header().index,
                    s.header().scheme,
                    s.header().blob_len
                )));
            }
            let i = usize::from(s.header().index);
            if std::mem::replace(&mut seen[i], true) {
                return Err(Error::InconsistentShards(format!("shard index {i} given twice")));
            }
        }
        let have = seen.iter().filter(|&&s| s).count();
        if have < k {
            return Err(Error::NotEnoughShards { have, need: k });
        }
        let mut by_index: Vec<Option<&[u8]>> = vec![None; k];
        for s in shards.iter().filter(|s| usize::from(s.header().index) < k) {
            by_index[usize::from(s.header().index)] = Some(s.payload());
        }
        // Assemble in index order with one write per byte (no zero-fill first).
        let mut blob = Vec::with_capacity(size * k);
        if by_index.iter().all(Option::is_some) {
            by_index.iter().flatten().for_each(|p| blob.extend_from_slice(p));
        } else {
            // have >= k with a data shard missing implies m > 0.
            let dec = match &mut self.decoder {
                Some(d) => {
                    d.reset(k, m, size).map_err(rs_err)?;
                    d
                }
                slot @ None => slot.insert(ReedSolomonDecoder::new(k, m, size).map_err(rs_err)?),
            };
            for s in shards {
                let i = usize::from(s.header().index);
                if i < k {
                    dec.add_original_shard(i, s.payload()).map_err(rs_err)?;
                } else {
                    dec.add_recovery_shard(i - k, s.payload()).map_err(rs_err)?;
                }
            }
            let result = dec.decode().map_err(rs_err)?;
            for (i, present) in by_index.iter().enumerate() {
                let piece = match present {
                    Some(p) => *p,
                    None => result
                        .restored_original(i)
                        .ok_or_else(|| Error::Erasure(format!("data shard {i} was not restored")))?,
                };
                blob.extend_from_slice(piece);
            }
        }
        blob.truncate(first.blob_len as usize);
        Ok(blob)
    }

    /// Rebuilds the shards with the given indices from any k others (repair).
    pub fn rebuild(&mut self, shards: &[VerifiedShard<'_>], wanted: &[u8]) -> Result<Vec<Shard>> {
        let scheme = shards.first().ok_or(Error::NotEnoughShards { have: 0, need: 1 })?.header().scheme;
        let mut blob = self.join(shards)?;
        Ok(self.split(&mut blob, scheme)?.into_iter().filter(|s| wanted.contains(&s.index)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::pseudo_random;
    use pyxis_crypto::shard::verify_shard;

    fn verified(shards: &[Shard]) -> Vec<VerifiedShard<'_>> {
        shards.iter().map(|s| verify_shard(&s.bytes, &s.hash).unwrap()).collect()
    }

    #[test]
    fn any_k_of_n_rebuild_the_blob() {
        let mut e = Erasure::new();
        for scheme in ["1+0", "1+1", "2+1", "2+2", "3+2", "4+2", "6+4", "3+0"] {
            let scheme: Scheme = scheme.parse().unwrap();
            let blob = pseudo_random(9, 10_007);
            let shards = e.split(&mut blob.clone(), scheme).unwrap();
            assert_eq!(shards.len(), scheme.total());
            let n = scheme.total();
            // every subset of size k (n <= 10, so at most 252 subsets)
            for mask in 0u32..(1 << n) {
                if mask.count_ones() as usize != scheme.data() {
                    continue;
                }
                let pick: Vec<Shard> = (0..n).filter(|i| mask >> i & 1 == 1).rev().map(|i| shards[i].clone()).collect();
                assert_eq!(e.join(&verified(&pick)).unwrap(), blob, "{scheme} mask {mask:b}");
            }
        }
    }

    #[test]
    fn rebuilt_shards_are_identical() {
        let mut e = Erasure::new();
        let shards = e.split(&mut pseudo_random(1, 5000), "4+2".parse().unwrap()).unwrap();
        let survivors = [shards[1].clone(), shards[3].clone(), shards[4].clone(), shards[5].clone()];
        let rebuilt = e.rebuild(&verified(&survivors), &[0, 2]).unwrap();
        assert_eq!(rebuilt, vec![shards[0].clone(), shards[2].clone()]);
    }

    #[test]
    fn too_few_duplicate_or_mixed_shards_fail() {
        let mut e = Erasure::new();
        let a = e.split(&mut pseudo_random(1, 5000), "4+2".parse().unwrap()).unwrap();
        let b = e.split(&mut pseudo_random(2, 6000), "4+2".parse().unwrap()).unwrap();
        assert!(matches!(e.join(&verified(&a[..3])), Err(Error::NotEnoughShards { have: 3, need: 4 })));
        let dup = [a[0].clone(), a[0].clone(), a[1].clone(), a[2].clone()];
        assert!(matches!(e.join(&verified(&dup)), Err(Error::InconsistentShards(_))));
        let mixed = [a[0].clone(), a[1].clone(), a[2].clone(), b[3].clone()];
        assert!(matches!(e.join(&verified(&mixed)), Err(Error::InconsistentShards(_))));
        assert!(matches!(e.join(&[]), Err(Error::NotEnoughShards { .. })));
    }

    #[test]
    fn every_bit_flip_is_caught_by_the_hash() {
        let mut e = Erasure::new();
        let shards = e.split(&mut pseudo_random(1, 100), "2+1".parse().unwrap()).unwrap();
        for s in &shards {
            for bit in 0..s.bytes.len() * 8 {
                let mut b = s.bytes.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                assert!(matches!(verify_shard(&b, &s.hash), Err(pyxis_crypto::Error::ShardHash { .. })));
            }
            for n in 0..s.bytes.len() {
                assert!(verify_shard(&s.bytes[..n], &s.hash).is_err());
            }
        }
    }
}
