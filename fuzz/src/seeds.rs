//! Seed inputs made from real encodings, so each fuzzer starts from bytes
//! that decode and mutates from there.
//!
//! They live as `corpus/<target>/seed-<name>`, the only corpus files kept in
//! git. When a format changes, rewrite them with any built fuzz binary:
//! `PYXIS_WRITE_SEEDS=fuzz/corpus fuzz/target/<triple>/release/shard` (see
//! [`crate::init`]), or `cargo test --lib -- --ignored write_seeds`;
//! `cargo test --lib` in `fuzz/` runs every seed through its target without
//! libFuzzer.

use pyxis_core::codec::ChunkCodec;
use pyxis_core::erasure::Erasure;
use pyxis_core::testdata::pseudo_random;
use pyxis_crypto::grants::GrantSigner;
use pyxis_crypto::keys::{FileKey, MasterKey, wrap_file_key_for_reader, wrap_master_key};
use pyxis_proto::format::chunk::Compression;
use pyxis_proto::format::manifest::{ManifestBody, ManifestEntry};
use pyxis_proto::grant::{Grant, GrantOp};
use pyxis_proto::{ChunkId, Scheme, ShardHash};
use pyxis_remote::store::layout::{Loc, RecordHeader, Snapshot, SnapshotEntry, encode_volume_header};
use serde_json::json;

use crate::{
    CHUNK_ID, FILE_KEY, GRANT_SEED, MASTER_KEY, NOW, api_json, client_answers, frame, key_wrapping_key, keyring,
    seal_manifest_body, session_token,
};

/// A target's seeds, by name.
pub type Seeds = Vec<(&'static str, Vec<u8>)>;

/// Every target with its seeds.
pub fn all() -> Vec<(&'static str, Seeds)> {
    vec![
        ("chunk_header", chunk_header()),
        ("shard", shard()),
        ("manifest", manifest()),
        ("wrapped_key", wrapped_key()),
        ("grant", grant()),
        ("session_token", session_token()),
        ("volume_record", volume_record()),
        ("api_json", api_json()),
        ("client_answers", client_answers()),
        ("remote_signed", remote_signed()),
    ]
}

fn text() -> Vec<u8> {
    b"the quick brown fox jumps over the lazy dog. ".repeat(20)
}

fn chunk_header() -> Seeds {
    let mut codec = ChunkCodec::new().expect("zstd");
    let id = ChunkId(CHUNK_ID);
    let key = keyring().chunk_key(&id);
    let mut blob = |plain: &[u8]| codec.seal(&id, &key, plain).expect("seal").0;
    vec![("zstd", blob(&text())), ("plain", blob(&pseudo_random(1, 300))), ("empty", blob(b""))]
}

fn shard() -> Seeds {
    let mut erasure = Erasure::new();
    let mut seeds = Seeds::new();
    // All shards, and the last k (parity included, so Reed-Solomon decodes).
    for (name, last_k_name) in [("2+1", "2+1-last-k"), ("4+2", "4+2-last-k"), ("1+0", ""), ("3+0", "")] {
        let scheme: Scheme = name.parse().expect("scheme");
        let shards = erasure.split(&mut pseudo_random(2, 300), scheme).expect("split");
        let bytes: Vec<&[u8]> = shards.iter().map(|s| &s.bytes[..]).collect();
        seeds.push((name, frame(&bytes)));
        if scheme.parity() > 0 {
            seeds.push((last_k_name, frame(&bytes[bytes.len() - scheme.data()..])));
        }
    }
    seeds
}

fn manifest() -> Seeds {
    let chunks = ManifestBody::Chunks {
        size: 30,
        entries: vec![
            ManifestEntry::whole(ChunkId([1; 32]), [2; 32], 10),
            ManifestEntry { id: ChunkId([3; 32]), key: [4; 32], chunk_len: 100, offset: 80, len: 20 },
        ],
    };
    let mut codec = ChunkCodec::new().expect("zstd");
    let (compression, stored) = codec.compress_inline(&text());
    assert_eq!(compression, Compression::Zstd);
    let zstd = ManifestBody::Inline { size: text().len() as u64, compression, stored };
    let inline = ManifestBody::Inline { size: 2, compression: Compression::None, stored: b"hi".to_vec() };
    vec![
        ("chunks", chunks.to_bytes()),
        ("inline", inline.to_bytes()),
        ("inline-zstd", zstd.to_bytes()),
        ("sealed", seal_manifest_body(&chunks.to_bytes())),
        ("sealed-v2-link", {
            let link = ManifestBody::Inline { size: 4, compression: Compression::None, stored: b"../x".to_vec() };
            let m = pyxis_proto::format::manifest::Manifest {
                attrs: Some(pyxis_proto::format::manifest::Attrs::symlink()),
                body: link,
            };
            crate::seal_manifest_version(m.version(), &m.body_bytes())
        }),
        ("v2-exec", {
            let m = pyxis_proto::format::manifest::Manifest {
                attrs: Some(pyxis_proto::format::manifest::Attrs::file(0o755)),
                body: inline.clone(),
            };
            m.body_bytes()
        }),
    ]
}

fn wrapped_key() -> Seeds {
    let file_key = FileKey::from_bytes(FILE_KEY);
    let reader = keyring().reader_public_key().expect("reader key");
    vec![
        ("master", wrap_master_key(&MasterKey::from_bytes(MASTER_KEY), &key_wrapping_key(), true).expect("wrap")),
        ("file-owner", keyring().wrap_file_key(&file_key).expect("wrap")),
        ("file-reader", wrap_file_key_for_reader(&file_key, &reader).expect("wrap")),
    ]
}

fn grant() -> Seeds {
    let signer = GrantSigner::from_seed(&GRANT_SEED).expect("seed");
    let g = |op, expires| Grant { op, remote: 3, shard: ShardHash([9; 32]), max_size: 1 << 20, expires };
    vec![
        ("put", signer.sign(&g(GrantOp::Put, NOW + 600)).into_bytes()),
        ("get", signer.sign(&g(GrantOp::Get, NOW)).into_bytes()),
        ("delete-expired", signer.sign(&g(GrantOp::Delete, NOW - 1)).into_bytes()),
    ]
}

fn remote_signed() -> Seeds {
    use crate::remote_signed::{BODY, METHOD, NOW_MS, PATH, key};
    let r = pyxis_proto::receipt::Receipt { remote: 7, shard: ShardHash([9; 32]), len: 1 << 20, time_ms: NOW_MS };
    vec![
        ("receipt", key().sign_receipt(&r).into_bytes()),
        ("call", key().sign_call(METHOD, PATH, NOW_MS, BODY).into_bytes()),
        ("call-stale", key().sign_call(METHOD, PATH, NOW_MS - 3_600_000, BODY).into_bytes()),
    ]
}

fn session_token() -> Seeds {
    let keys = session_token::keys();
    let token = |exp| keys.issue(42, "9f2c41d0", exp, 1_000_000_000).expect("issue").into_bytes();
    // 2100 and 2001: one valid for the life of this code, one long expired.
    vec![("valid", token(4_102_444_800)), ("expired", token(1_000_000_000))]
}

fn volume_record() -> Seeds {
    let record = |data: &[u8]| {
        let h = RecordHeader::shard(pyxis_crypto::shard::shard_hash(data), data.len() as u32);
        [&h.encode()[..], data].concat()
    };
    let tombstone = RecordHeader::tombstone(ShardHash([1; 32]), Loc { volume: 1, offset: 16 });
    let volume = [&encode_volume_header(1)[..], &record(b"one"), &record(b"two"), &tombstone.encode()].concat();
    let entries = vec![
        SnapshotEntry { offset: 16, header: RecordHeader::shard(ShardHash([2; 32]), 3), void: false },
        SnapshotEntry { offset: 83, header: RecordHeader::shard(ShardHash([3; 32]), 3), void: true },
        SnapshotEntry { offset: 150, header: tombstone, void: false },
    ];
    let snapshot = Snapshot { volume: 1, covered: 214, entries }.encode();
    // The target appends the checksum itself, so the seed stops before it.
    let unsealed = snapshot[..snapshot.len() - 32].to_vec();
    vec![
        ("volume", volume),
        ("snapshot", snapshot),
        ("snapshot-unsealed", unsealed),
        ("tombstone", tombstone.encode().to_vec()),
    ]
}

fn api_json() -> Seeds {
    let hash = "ab".repeat(32);
    let bodies = [
        ("path", json!("/docs/café/a b.txt")),
        ("scheme", json!("4+2")),
        ("size", json!("1.5GiB")),
        ("hex", json!(hash)),
        ("ErrorBody", json!({"code": "bad_path", "message": "path \"/a//b\" has an empty segment"})),
        (
            "SignupRequest",
            json!({
                "username": "alice", "salt": "00".repeat(16),
                "kdf": {"memory_kib": 65536, "iterations": 3, "parallelism": 1},
                "login_secret": "11".repeat(32), "wrapped_master_key": "UFlYSwEBAQA=", "reader_public_key": "22".repeat(32)
            }),
        ),
        ("LoginRequest", json!({"username": "alice", "login_secret": "11".repeat(32)})),
        (
            "CommitRequest",
            json!({"files": [{
                "path": "/a.txt", "size": 3, "mtime": 1700000000000i64, "content_hash": hash,
                "manifest": "UFlYTQ==", "wrapped_key": "UFlYSw==", "chunks": [hash], "expect": 0
            }]}),
        ),
        ("PlaceRequest", json!({"chunks": [{"id": hash, "scheme": "4+2", "blob_len": 1000, "shards": [hash, hash]}]})),
        (
            "LocateResponse",
            json!({"chunks": [{"id": hash, "scheme": "2+1", "blob_len": 300, "shards": [
            {"index": 0, "hash": hash, "remote_id": 1, "url": "http://127.0.0.1:7001", "grant": "UFlYRwE"}
        ]}], "expires_at": 1800000000u64}),
        ),
        (
            "ListResponse",
            json!({"entries": [
            {"path": "/d", "kind": "dir", "size": 0, "mtime": 0, "version": null, "content_hash": null},
            {"path": "/d/f", "kind": "file", "size": 5, "mtime": 1, "version": 2, "content_hash": hash, "committed_at": 9}
        ], "next": "/d/f"}),
        ),
        ("ReadRequest", json!({"paths": ["/a", "/b"], "version": 3})),
        (
            "RegisterRequest",
            json!({"name": "r1", "url": "http://127.0.0.1:7001", "capacity": 1000, "free": 900, "remote_id": 4, "token": "t"}),
        ),
        (
            "HealthResponse",
            json!({"remotes_online": 3, "remotes_other": 0,
            "chunks": [{"healthy": 6, "total": 6, "chunks": 10, "bytes": 1000}],
            "bytes_at_risk": 0, "degraded": 0, "garbage": 1, "workers": {
                "chunks_repaired": 0, "shards_rebuilt": 0, "repair_bytes": 0, "chunks_reencoded": 0, "unrecoverable": 0,
                "audits_passed": 0, "audits_failed": 0, "chunks_expired": 0, "garbage_deleted": 0}}),
        ),
        ("InventoryRequest", json!({"hashes": [hash]})),
    ];
    bodies
        .into_iter()
        .map(|(name, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            };
            (name, [&[api_json::selector(name)][..], text.as_bytes()].concat())
        })
        .collect()
}

fn client_answers() -> Seeds {
    let answer = |sel: u8, body: &[u8]| [&[sel][..], body].concat();
    let file_key = FileKey::from_bytes(FILE_KEY);
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let version = |body: &ManifestBody| {
        json!({
            "path": "/a.txt",
            "info": {"version": 1, "size": body.size(), "mtime": 1, "content_hash": "00", "created_at": 2},
            "manifest": b64(&seal_manifest_body(&body.to_bytes())),
            "wrapped_key": b64(&keyring().wrap_file_key(&file_key).expect("wrap")),
            "chunks": []
        })
        .to_string()
    };
    let inline = ManifestBody::Inline { size: 2, compression: Compression::None, stored: b"hi".to_vec() };
    let chunks = ManifestBody::Chunks { size: 10, entries: vec![ManifestEntry::whole(ChunkId([1; 32]), [2; 32], 10)] };
    let session = json!({
        "token": "t", "expires_at": 1, "user": {"id": 1, "username": "alice", "quota": 0, "used": 0, "created_at": 0},
        "wrapped_master_key": b64(&wrap_master_key(&MasterKey::from_bytes(MASTER_KEY), &key_wrapping_key(), true).expect("wrap"))
    });
    let prelogin = json!({"salt": "00".repeat(16), "kdf": {"memory_kib": 65536, "iterations": 3, "parallelism": 1}});
    // Status bytes: 304 % 900 + 100 = 404.
    let status = 304u16.to_le_bytes();
    vec![
        (
            "error-json",
            answer(client_answers::ERROR, &[&status[..], br#"{"code":"not_found","message":"no such file"}"#].concat()),
        ),
        ("error-html", answer(client_answers::ERROR, &[&status[..], b"<html>bad gateway</html>"].concat())),
        ("prelogin", answer(client_answers::PRELOGIN, prelogin.to_string().as_bytes())),
        ("version-inline", answer(client_answers::FILE_VERSION, version(&inline).as_bytes())),
        ("version-chunks", answer(client_answers::FILE_VERSION, version(&chunks).as_bytes())),
        ("listed-path", answer(client_answers::LISTED_PATH, b"/docs\n/docs/a/b.txt")),
        ("session", answer(client_answers::SESSION, session.to_string().as_bytes())),
    ]
}

/// Writes every target's seeds as `dir/<target>/seed-<name>`, after running
/// each through its target (the assertions hold on real encodings).
pub fn write(dir: &std::path::Path) -> std::io::Result<()> {
    for (target, seeds) in all() {
        let dir = dir.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in seeds {
            crate::run(target, &bytes);
            std::fs::write(dir.join(format!("seed-{name}")), &bytes)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites `corpus/<target>/seed-*` after a format change:
    /// `cargo test --lib -- --ignored write_seeds` in `fuzz/`.
    #[test]
    #[ignore]
    fn write_seeds() {
        write(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")).unwrap();
    }

    #[test]
    fn seeds_pass_their_targets() {
        for (target, seeds) in all() {
            for (_, bytes) in seeds {
                crate::run(target, &bytes);
            }
        }
    }
}
