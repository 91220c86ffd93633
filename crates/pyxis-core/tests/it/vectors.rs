//! Fixed test vectors: known inputs must give exactly these ids, boundaries,
//! headers and shard hashes, so that any change to the format (or to a pinned
//! dependency's behaviour) is noticed. After a deliberate format change, run
//! `PYXIS_BLESS=1 cargo test -p pyxis-core vectors` and review the diff.

use std::path::PathBuf;

use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_core::codec::ChunkCodec;
use pyxis_core::manifest::seal_with_nonce;
use pyxis_core::testdata::pseudo_random;
use pyxis_crypto::keys::{FileKey, KdfParams, derive_password_keys};
use pyxis_proto::format::manifest::{Attrs, Manifest, ManifestBody, ManifestEntry};
use pyxis_proto::hex;
use serde_json::{Value, json};

use crate::support::keyring;

fn compute() -> Value {
    let keys = keyring(0x11);
    let mut codec = ChunkCodec::new().unwrap();

    let hello = b"Pyxis test vector: hello, world!\n";
    let small = codec.encode_slice(&keys, hello, "2+1".parse().unwrap()).unwrap();
    let (blob, _) = codec.seal(&small.id, &small.key, hello).unwrap();

    // Fixed inputs defined here, not by the benchmark generators (which may be
    // retuned): random bytes, then plain numbered lines that zstd compresses.
    let mut stream = pseudo_random(2026, 3 << 20);
    let mut line = 0u64;
    while stream.len() < 4 << 20 {
        stream.extend_from_slice(format!("line {line}: the quick brown fox jumps over the lazy dog\n").as_bytes());
        line += 1;
    }
    stream.truncate(4 << 20);
    let chunks: Vec<Value> = Chunker::new(&stream[..], ChunkerParams::default(), keys.chunker_seed())
        .unwrap()
        .map(|c| {
            let c = c.unwrap();
            // The blob through the copying path, the shards through the in-place
            // one: both must give the pinned bytes.
            let id = keys.chunk_id(c.data());
            let (blob, _) = codec.seal(&id, &keys.chunk_key(&id), c.data()).unwrap();
            let (offset, length) = (c.offset, c.data().len());
            let e = codec.encode(&keys, c.buf, "4+2".parse().unwrap()).unwrap();
            json!({
                "offset": offset,
                "length": length,
                "id": e.id.to_hex(),
                "compressed": e.compressed,
                "blob_header": hex::encode(&blob[..28]),
                "shards": e.shards.iter().map(|s| s.hash.to_hex()).collect::<Vec<_>>(),
            })
        })
        .collect();

    let pw = derive_password_keys(b"correct horse battery staple", &[0x22; 16], &KdfParams::INSECURE_FAST).unwrap();
    let body = ManifestBody::Chunks {
        size: hello.len() as u64,
        entries: vec![ManifestEntry::whole(small.id, *small.key.as_bytes(), hello.len() as u32)],
    };
    let v1 = Manifest { attrs: None, body };
    let manifest = seal_with_nonce(&v1, &FileKey::from_bytes([0x33; 32]), [0x44; 12]).unwrap();
    let v2 = Manifest { attrs: Some(Attrs::file(0o755)), body: v1.body.clone() };
    let manifest_v2 = seal_with_nonce(&v2, &FileKey::from_bytes([0x33; 32]), [0x44; 12]).unwrap();

    json!({
        "master_key": "11".repeat(32),
        "chunker_seed": keys.chunker_seed(),
        "reader_public_key": hex::encode(&keys.reader_public_key().unwrap()),
        "hello": {
            "input": String::from_utf8_lossy(hello),
            "chunk_id": small.id.to_hex(),
            "chunk_key": hex::encode(small.key.as_bytes()),
            "blob": hex::encode(&blob),
            "shards_2_1": small.shards.iter().map(|s| hex::encode(&s.bytes)).collect::<Vec<_>>(),
        },
        "stream": {
            "input": "pseudo_random(2026, 3 MiB) ++ numbered fox lines to 4 MiB, default chunker, scheme 4+2",
            "chunks": chunks,
        },
        "password": {
            "password": "correct horse battery staple",
            "salt": "22".repeat(16),
            "params": "m=8 KiB, t=1, p=1",
            "login_secret": pw.login.to_hex(),
            "key_wrapping_key": hex::encode(pw.wrapping.as_bytes()),
        },
        "manifest": {
            "file_key": "33".repeat(32),
            "nonce": "44".repeat(12),
            "sealed": hex::encode(&manifest),
            "sealed_v2_mode_755": hex::encode(&manifest_v2),
        },
    })
}

#[test]
fn format_vectors_are_unchanged() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/v1.json");
    let now = compute();
    if std::env::var_os("PYXIS_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        return;
    }
    let pinned: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).expect("tests/vectors/v1.json missing: run with PYXIS_BLESS=1 once"),
    )
    .unwrap();
    assert!(pinned == now, "format vectors changed; if deliberate, bless them (see module docs)");
}
