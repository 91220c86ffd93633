//! Manifests: the body a key holder seals, and sealed bytes from the server.

use std::cell::RefCell;

use pyxis_core::codec::ChunkCodec;
use pyxis_core::manifest::open_manifest;
use pyxis_crypto::keys::FileKey;
use pyxis_proto::format::chunk::Compression;
use pyxis_proto::format::manifest::{ENVELOPE_HEADER_LEN, EnvelopeHeader, Manifest, ManifestBody, VERSION};

use crate::{FILE_KEY, seal_manifest_body, seal_manifest_version};

thread_local! {
    static CODEC: RefCell<ChunkCodec> = RefCell::new(ChunkCodec::new().expect("zstd contexts"));
}

pub fn run(data: &[u8]) {
    let file_key = FileKey::from_bytes(FILE_KEY);
    let parsed = ManifestBody::parse(data);
    if let Ok(body) = &parsed {
        assert_eq!(body.to_bytes(), data, "a body that parses re-encodes to its bytes");
    }
    // The input as a body sealed by someone holding the file key (the owner,
    // or a writer it is shared with): opening must say what parsing says.
    match (&parsed, open_manifest(&seal_manifest_body(data), &file_key)) {
        (Ok(a), Ok(b)) => assert_eq!((a, None), (&b.body, b.attrs)),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("parse said {a:?}, open said {b:?}"),
    }
    // The input as a version-2 body (attributes): the same, with its bytes
    // re-encoding exactly.
    let parsed_v2 = Manifest::parse(VERSION, data);
    if let Ok(m) = &parsed_v2 {
        assert_eq!(m.body_bytes(), data, "a version-2 body that parses re-encodes to its bytes");
    }
    match (&parsed_v2, open_manifest(&seal_manifest_version(VERSION, data), &file_key)) {
        (Ok(a), Ok(b)) => assert_eq!(a, &b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("parse said {a:?}, open said {b:?}"),
    }
    if let Ok(ManifestBody::Inline { size, compression, stored }) = &parsed {
        let out = CODEC.with_borrow_mut(|c| c.decompress_inline(*compression, stored, *size));
        if let Ok(out) = out {
            assert_eq!(out.len() as u64, *size);
            if *compression == Compression::None {
                assert_eq!(&out, stored);
            }
        }
    }
    // The input as a sealed manifest from the server: only what the file key
    // sealed opens, and it is exactly that.
    if let Ok((header, _)) = EnvelopeHeader::parse(data) {
        assert_eq!(header.to_bytes()[..], data[..ENVELOPE_HEADER_LEN]);
    }
    if let Ok(m) = open_manifest(data, &file_key) {
        assert_eq!(seal_manifest_version(m.version(), &m.body_bytes()), data);
    }
}
