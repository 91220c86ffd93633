//! Helpers: a whole file through the data path and back.

use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_core::codec::{ChunkCodec, EncodedChunk};
use pyxis_crypto::keys::{Keyring, MasterKey};
use pyxis_crypto::shard::verify_shard;
use pyxis_proto::Scheme;

pub fn keyring(byte: u8) -> Keyring {
    Keyring::new(&MasterKey::from_bytes([byte; 32]))
}

/// Small chunks so property tests see many chunks without megabytes of data.
pub const SMALL: ChunkerParams = ChunkerParams { min: 2048, avg: 8192, max: 32768 };

pub fn encode_file(keys: &Keyring, data: &[u8], params: ChunkerParams, scheme: Scheme) -> Vec<EncodedChunk> {
    let mut codec = ChunkCodec::new().unwrap();
    Chunker::new(data, params, keys.chunker_seed())
        .unwrap()
        .map(|c| codec.encode(keys, c.unwrap().buf, scheme).unwrap())
        .collect()
}

/// Decodes every chunk from the shards `pick` selects (by position in the
/// encoded list), in the order given.
pub fn decode_file(keys: &Keyring, chunks: &[EncodedChunk], pick: impl Fn(usize) -> Vec<usize>) -> Vec<u8> {
    let mut codec = ChunkCodec::new().unwrap();
    let mut out = Vec::new();
    for (n, c) in chunks.iter().enumerate() {
        let shards: Vec<_> =
            pick(n).into_iter().map(|i| verify_shard(&c.shards[i].bytes, &c.shards[i].hash).unwrap()).collect();
        out.extend_from_slice(codec.decode(&c.id, &c.key, &shards, Some(keys.dedup_key())).unwrap().data());
    }
    out
}
