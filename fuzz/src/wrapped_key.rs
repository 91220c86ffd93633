//! Wrapped keys from the server: the master key at login, file keys at read.

use pyxis_crypto::keys::{FileKey, MasterKey, unwrap_master_key};
use pyxis_crypto::share::{ShareContext, ShareKey};
use pyxis_proto::format::wrapped::{Purpose, SYMMETRIC_LEN, WrappedKey, X25519_LEN};

use crate::{FILE_KEY, MASTER_KEY, key_wrapping_key, keyring};

pub fn run(data: &[u8]) {
    let parsed = WrappedKey::parse(data);
    if let Ok(w) = &parsed {
        assert_eq!(w.to_bytes(), data, "a wrapped key that parses re-encodes to its bytes");
        assert!(data.len() == SYMMETRIC_LEN || data.len() == X25519_LEN);
    }
    // Only what was wrapped under these keys opens (the seeds wrap exactly
    // these), and only for its own purpose.
    if let Ok((master, bound)) = unwrap_master_key(data, &key_wrapping_key()) {
        assert_eq!(master, MasterKey::from_bytes(MASTER_KEY));
        let purpose = if bound { Purpose::BoundMasterKey } else { Purpose::MasterKey };
        assert!(matches!(parsed, Ok(WrappedKey::Symmetric { purpose: p, .. }) if p == purpose));
    }
    if let Ok(file_key) = keyring().unwrap_file_key(data) {
        assert_eq!(file_key, FileKey::from_bytes(FILE_KEY));
        assert_eq!(parsed.as_ref().map(|w| w.purpose()), Ok(Purpose::FileKey));
    }
    // Share keys and the version keys under them (from the server, for a
    // grantee or an owner): hostile bytes open to nothing, and never panic.
    let ctx = ShareContext { owner: "alice", grantee: "bob", path: "/docs", mode: 1 };
    if ShareKey::open_from(keyring(), &[9; 32], data, &ctx).is_ok()
        || ShareKey::open_as_owner(keyring(), data, &ctx).is_ok()
    {
        assert_eq!(parsed.as_ref().map(|w| w.purpose()), Ok(Purpose::ShareKey));
    }
    let file_id = pyxis_proto::FileId([7; 32]);
    // A writer's keys for the owner (versions written through a share).
    if pyxis_crypto::share::open_file_key_from_writer(keyring(), &[9; 32], &file_id, 1, data).is_ok() {
        assert_eq!(parsed.as_ref().map(|w| w.purpose()), Ok(Purpose::FileKey));
    }
    let _ = pyxis_crypto::share::open_binding_key_from_writer(keyring(), &[9; 32], &file_id, 1, data);
    if ShareKey::from_bytes([5; 32]).open_version(data, &file_id, 1).is_ok() {
        assert_eq!(data.len(), 2 * SYMMETRIC_LEN);
    }
}
