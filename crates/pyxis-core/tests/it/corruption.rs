//! Hostile input: flipped bits, truncations, swapped and foreign shards. The
//! data path must answer with an error or the original bytes: never a panic,
//! never different bytes.

use pyxis_core::Error;
use pyxis_core::codec::ChunkCodec;
use pyxis_core::testdata::pseudo_random;
use pyxis_crypto::shard::{shard_hash, verify_shard};

use crate::support::{SMALL, encode_file, keyring};

fn decode_with(
    codec: &mut ChunkCodec,
    chunk: &pyxis_core::codec::EncodedChunk,
    shards: &[Vec<u8>],
) -> Result<Vec<u8>, Error> {
    // The attacker also controls the hashes here (as if the catalog were
    // lying), so the deeper checks are the ones under test.
    let hashes: Vec<_> = shards.iter().map(|b| shard_hash(b)).collect();
    let verified: Result<Vec<_>, _> = shards.iter().zip(&hashes).map(|(b, h)| verify_shard(b, h)).collect();
    let keys = keyring(6);
    codec.decode(&chunk.id, &chunk.key, &verified?, Some(keys.dedup_key())).map(|p| p.to_vec())
}

#[test]
fn every_bit_flip_in_every_shard_with_rehashing() {
    let keys = keyring(6);
    let data = pseudo_random(5, 700);
    let chunk = encode_file(&keys, &data, SMALL, "2+1".parse().unwrap()).remove(0);
    let mut codec = ChunkCodec::new().unwrap();
    let mut errors = 0;
    for victim in 0..3 {
        for bit in 0..chunk.shards[victim].bytes.len() * 8 {
            // Decode from the victim plus the next shard, so the victim is used.
            let other = (victim + 1) % 3;
            let mut bad = chunk.shards[victim].bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            match decode_with(&mut codec, &chunk, &[bad, chunk.shards[other].bytes.clone()]) {
                Err(_) => errors += 1,
                // Only padding bytes beyond the blob may flip harmlessly.
                Ok(out) => assert_eq!(out, data, "shard {victim} bit {bit} gave wrong bytes"),
            }
        }
    }
    assert!(errors > 3 * 700 * 8 / 2, "only {errors} flips detected");
}

#[test]
fn flips_are_reported_by_the_shard_hash() {
    let keys = keyring(6);
    let chunk = encode_file(&keys, &pseudo_random(5, 3000), SMALL, "4+2".parse().unwrap()).remove(0);
    for s in &chunk.shards {
        let mut bad = s.bytes.clone();
        bad[100] ^= 4;
        let err = verify_shard(&bad, &s.hash).unwrap_err();
        assert!(err.is_shard_fault());
        assert!(err.to_string().contains(&s.hash.to_string()), "{err}");
    }
}

#[test]
fn truncated_shards_are_rejected() {
    let keys = keyring(6);
    let chunk = encode_file(&keys, &pseudo_random(5, 3000), SMALL, "2+1".parse().unwrap()).remove(0);
    let mut codec = ChunkCodec::new().unwrap();
    for n in 0..chunk.shards[0].bytes.len() {
        let short = chunk.shards[0].bytes[..n].to_vec();
        assert!(decode_with(&mut codec, &chunk, &[short, chunk.shards[1].bytes.clone()]).is_err(), "{n}");
    }
}

#[test]
fn swapped_and_foreign_shards() {
    let keys = keyring(6);
    let data = pseudo_random(9, 100_000);
    let chunks = encode_file(&keys, &data, SMALL, "4+2".parse().unwrap());
    let (a, b) = (&chunks[0], &chunks[1]);
    let mut codec = ChunkCodec::new().unwrap();
    let bytes = |c: &pyxis_core::codec::EncodedChunk, ix: &[usize]| -> Vec<Vec<u8>> {
        ix.iter().map(|&i| c.shards[i].bytes.clone()).collect()
    };
    // Order does not matter: the header carries the index.
    let plain_a = decode_with(&mut codec, a, &bytes(a, &[5, 0, 3, 1])).unwrap();
    assert_eq!(plain_a, data[..a.plaintext_len as usize]);

    // A shard listed under another shard's address fails its hash check.
    let err = verify_shard(&a.shards[1].bytes, &a.shards[2].hash).unwrap_err();
    assert!(matches!(err, pyxis_crypto::Error::ShardHash { .. }));

    // A shard of another chunk mixed in: rejected (different blob) or, if the
    // sizes happen to agree, the AEAD tag or the chunk id catches it.
    let mut mixed = bytes(a, &[0, 1, 2]);
    mixed.push(b.shards[3].bytes.clone());
    assert!(decode_with(&mut codec, a, &mixed).is_err());

    // A whole other chunk's shards under this chunk's id and key.
    assert!(decode_with(&mut codec, a, &bytes(b, &[0, 1, 2, 3])).is_err());

    // Too few shards.
    let err = decode_with(&mut codec, a, &bytes(a, &[0, 1, 2])).unwrap_err();
    assert!(err.to_string().contains("need 4"), "{err}");
}

#[test]
fn every_bit_flip_in_a_blob_fails_authentication() {
    let keys = keyring(6);
    let data = pseudo_random(1, 200);
    let id = keys.chunk_id(&data);
    let key = keys.chunk_key(&id);
    let mut codec = ChunkCodec::new().unwrap();
    let (blob, _) = codec.seal(&id, &key, &data).unwrap();
    assert_eq!(codec.open(&id, &key, blob.clone(), Some(keys.dedup_key())).unwrap().data(), data);
    for bit in 0..blob.len() * 8 {
        let mut b = blob.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(codec.open(&id, &key, b, Some(keys.dedup_key())).is_err(), "bit {bit}");
    }
    for n in 0..blob.len() {
        assert!(codec.open(&id, &key, blob[..n].to_vec(), None).is_err(), "length {n}");
    }
    let wrong_key = keys.chunk_key(&keys.chunk_id(b"other"));
    let err = codec.open(&id, &wrong_key, blob, None).unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
}

#[test]
fn compressed_blob_flips_fail_too() {
    let keys = keyring(6);
    let data = pyxis_core::testdata::pseudo_text(1, 2000);
    let id = keys.chunk_id(&data);
    let key = keys.chunk_key(&id);
    let mut codec = ChunkCodec::new().unwrap();
    let (blob, compressed) = codec.seal(&id, &key, &data).unwrap();
    assert!(compressed);
    for bit in 0..blob.len() * 8 {
        let mut b = blob.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(codec.open(&id, &key, b, Some(keys.dedup_key())).is_err(), "bit {bit}");
    }
}
