//! What the server reads that a remote signed: storage receipts (answered to
//! a shard PUT and relayed by clients to `stored`) and the signature header
//! of every remote call (`X-Pyxis-Remote-Auth`).

use std::sync::LazyLock;

use pyxis_crypto::identity::{RemoteKey, verify_call, verify_receipt};
use pyxis_proto::receipt::{self, BODY_LEN, Receipt, SIGNED_LEN};
use pyxis_proto::remote_call::RemoteAuth;

use crate::NOW;

/// The remote key receipts and calls are checked against.
pub const REMOTE_SEED: [u8; 32] = [0x66; 32];
/// The call every header is checked as.
pub const METHOD: &str = "POST";
pub const PATH: &str = "/v1/remotes/7/heartbeat";
pub const BODY: &[u8] = b"{}";

static KEY: LazyLock<RemoteKey> = LazyLock::new(|| RemoteKey::from_seed(&REMOTE_SEED).expect("seed"));

pub fn key() -> &'static RemoteKey {
    &KEY
}

/// "Now" for the call's clock check, in ms.
pub const NOW_MS: u64 = NOW * 1000;

pub fn run(data: &[u8]) {
    if let Ok((r, sig)) = Receipt::parse_signed(data) {
        assert_eq!(data.len(), SIGNED_LEN);
        assert_eq!(r.to_bytes()[..], data[..BODY_LEN], "a receipt that parses re-encodes to its bytes");
        assert_eq!(sig[..], data[BODY_LEN..]);
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = verify_receipt(&key().public_key(), text) {
        // Ed25519 is deterministic: a receipt that verifies is the very
        // bytes the remote signed for what it says.
        assert_eq!(receipt::decode(&key().sign_receipt(&r)).ok(), receipt::decode(text).ok());
    }
    if let Ok(a) = RemoteAuth::parse(text) {
        assert_eq!(RemoteAuth::parse(&a.encode()), Ok(a), "a header that parses re-encodes to itself");
        if let Ok(signer) = verify_call(text, METHOD, PATH, BODY, NOW_MS) {
            assert_eq!(signer, a.public_key, "a call verified under a key it does not name");
            if signer == key().public_key() {
                assert_eq!(key().sign_call(METHOD, PATH, a.time_ms, BODY), a.encode());
            }
        }
    }
}
