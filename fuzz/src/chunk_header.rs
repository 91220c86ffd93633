//! Chunk blobs as a remote or a hostile server hands them back.

use std::cell::RefCell;

use pyxis_core::codec::{ChunkCodec, seal_blob};
use pyxis_proto::ChunkId;
use pyxis_proto::format::chunk::{ChunkHeader, Compression, HEADER_LEN, TAG_LEN};

use crate::{CHUNK_ID, keyring};

thread_local! {
    static CODEC: RefCell<ChunkCodec> = RefCell::new(ChunkCodec::new().expect("zstd contexts"));
}

/// Plaintext lengths the target seals at most: the 16 MiB limit itself is the
/// header parser's to check, and a buffer that size on every run would slow
/// the fuzzer a hundredfold.
const SEALED_PLAINTEXT_MASK: u32 = (1 << 20) - 1;

pub fn run(data: &[u8]) {
    let id = ChunkId(CHUNK_ID);
    let key = keyring().chunk_key(&id);
    let parsed = ChunkHeader::parse(data);
    if let Ok(h) = parsed {
        assert_eq!(h.to_bytes()[..], data[..HEADER_LEN], "a header that parses re-encodes to its bytes");
        assert_eq!(h.blob_len(), HEADER_LEN + h.stored_len as usize + TAG_LEN);
    }
    CODEC.with_borrow_mut(|codec| {
        // The blob as stored: without the chunk key nothing gets past the tag.
        if let Ok(plain) = codec.open(&id, &key, data.to_vec(), None) {
            let h = parsed.expect("an opened blob has a valid header");
            assert_eq!(data.len(), h.blob_len());
            assert_eq!(plain.len(), h.plaintext_len as usize);
        }
        // The same fields sealed by someone who holds the chunk key (a reader
        // the file is shared with): decompression now meets hostile bytes.
        if data.len() < HEADER_LEN {
            return;
        }
        let compression = if data[6] & 1 == 1 { Compression::Zstd } else { Compression::None };
        let plaintext_len = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes")) & SEALED_PLAINTEXT_MASK;
        let stored = &data[HEADER_LEN..];
        let blob = seal_blob(&id, &key, plaintext_len, compression, stored);
        if let Ok(plain) = codec.open(&id, &key, blob, None) {
            assert_eq!(plain.len(), plaintext_len as usize);
            if compression == Compression::None {
                assert_eq!(plain.data(), stored);
            }
        }
    });
}
