//! Random secrets and tokens, and how the server keeps and compares them:
//! hashed at rest, compared in constant time.
//!
//! Its own module because both who-is-calling ([`crate::auth`]) and the
//! admin page's login ([`crate::routes::admin_page`]) check tokens, and the
//! page's session cookie is itself one of the ways `auth` lets an operator in.

/// 32 random bytes (session keys, tokens).
pub fn random_secret() -> Vec<u8> {
    let mut b = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut b).expect("system RNG");
    b
}

/// A random token as hex (remotes, admin).
pub fn random_token() -> String {
    pyxis_proto::hex::encode(&random_secret())
}

/// Tokens are stored hashed: a leaked database does not leak them.
pub fn token_hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// Constant-time comparison of two hashes.
pub fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
