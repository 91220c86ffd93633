//! Grants as a remote reads them from the `x-pyxis-grant` header.

use std::sync::LazyLock;

use pyxis_crypto::grants::{GrantSigner, GrantVerifier, check};
use pyxis_proto::grant::{BODY_LEN, Grant, SIGNED_LEN, decode_token};

use crate::{GRANT_SEED, NOW};

static SIGNER: LazyLock<GrantSigner> = LazyLock::new(|| GrantSigner::from_seed(&GRANT_SEED).expect("seed"));

pub fn signer() -> &'static GrantSigner {
    &SIGNER
}

pub fn run(data: &[u8]) {
    if let Ok((grant, sig)) = Grant::parse_signed(data) {
        assert_eq!(data.len(), SIGNED_LEN);
        assert_eq!(grant.to_bytes()[..], data[..BODY_LEN], "a grant that parses re-encodes to its bytes");
        assert_eq!(sig[..], data[BODY_LEN..]);
    }
    // Header values reach the remote as text.
    let Ok(token) = std::str::from_utf8(data) else { return };
    let decoded = decode_token(token);
    let verifier = GrantVerifier::new(signer().public_key());
    if let Ok(grant) = verifier.verify(Some(token), NOW) {
        assert!(grant.expires >= NOW, "an expired grant was accepted");
        // Ed25519 signing is deterministic: a grant that verifies is the very
        // bytes the server signed, nothing else.
        assert_eq!(decode_token(&signer().sign(&grant)).ok(), decoded.ok());
        assert!(check(&grant, grant.op, grant.remote, &grant.shard, Some(grant.max_size.into())).is_ok());
    }
}
