//! Session tokens as the server reads them from `Authorization: Bearer`.
//!
//! Only the token's own check (an HS256 JWT); whether its session row still
//! exists is a database lookup by the id it yields.

use std::sync::LazyLock;

use pyxis_crypto::session::SessionKeys;

use crate::SESSION_SECRET;

static KEYS: LazyLock<SessionKeys> = LazyLock::new(|| SessionKeys::new(SESSION_SECRET));

pub fn keys() -> &'static SessionKeys {
    &KEYS
}

pub fn run(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else { return };
    if let Ok((_, session)) = keys().check(token) {
        // A token that checks is three base64url parts, and says it again.
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(keys().check(token).map(|(_, s)| s), Ok(session));
    }
}
