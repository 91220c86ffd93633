//! Shards as remotes return them, and the decode of a chunk from them.
//!
//! Input: shards framed by [`crate::frames`]. Each is checked against its own
//! hash (so the parser is reached) and against a wrong one; the ones that
//! verify are joined.

use std::cell::RefCell;

use pyxis_core::erasure::Erasure;
use pyxis_crypto::shard::{shard_hash, verify_shard};
use pyxis_proto::format::shard::{HEADER_LEN, ShardHeader};
use pyxis_proto::scheme::MAX_SHARDS;

use crate::frames;

thread_local! {
    // Reused, as the client and server reuse theirs: its tables stay allocated.
    static ERASURE: RefCell<Erasure> = RefCell::new(Erasure::new());
}

pub fn run(data: &[u8]) {
    let parts = frames(data);
    let mut verified = Vec::new();
    for part in &parts {
        let parsed = ShardHeader::parse(part);
        if let Ok((h, payload)) = parsed {
            assert_eq!(h.to_bytes()[..], part[..HEADER_LEN], "a shard header that parses re-encodes to its bytes");
            assert_eq!(payload, &part[HEADER_LEN..]);
            assert_eq!(payload.len(), h.payload_len());
            assert!(usize::from(h.index) < h.scheme.total() && h.scheme.total() <= MAX_SHARDS);
        }
        let hash = shard_hash(part);
        let mut wrong = hash;
        wrong.0[0] ^= 1;
        assert!(verify_shard(part, &wrong).is_err(), "a shard is only accepted under its own hash");
        match verify_shard(part, &hash) {
            Ok(v) => verified.push(v),
            Err(_) => assert!(parsed.is_err(), "a shard that parses verifies under its own hash"),
        }
    }
    ERASURE.with_borrow_mut(|erasure| join(erasure, &verified));
}

fn join(erasure: &mut Erasure, verified: &[pyxis_crypto::shard::VerifiedShard<'_>]) {
    let Ok(blob) = erasure.join(verified) else { return };
    let header = *verified[0].header();
    assert_eq!(blob.len(), header.blob_len as usize);
    // Whatever shards it came from, the blob encodes and decodes to itself,
    // here from the last k shards (parity included when m > 0).
    let shards = erasure.split(&mut blob.clone(), header.scheme).expect("a joined blob splits");
    let k = header.scheme.data();
    let again: Vec<_> =
        shards.iter().rev().take(k).map(|s| verify_shard(&s.bytes, &s.hash).expect("own shard")).collect();
    assert_eq!(erasure.join(&again).expect("k fresh shards join"), blob);
}
