//! Session tokens: what the server hands a user at login and reads back from
//! `Authorization: Bearer` on every call.
//!
//! An HS256 JWT (`sub` = user id, `sid` = session id, `exp`, `iat`) under a
//! key only the server holds. The token proves only that the server issued
//! it and when it expires; the server also checks that its session row still
//! exists, so logout revokes a token before it expires. It lives here rather
//! than in the server so that the fuzz target for it (bytes from the network)
//! builds without the server's database stack.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub struct SessionKeys {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(hidden)")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    exp: i64,
    iat: i64,
}

/// Why a token was refused, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("session expired: log in again")]
    Expired,
    #[error("invalid session token: log in again")]
    Invalid,
}

impl SessionKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { enc: EncodingKey::from_secret(secret), dec: DecodingKey::from_secret(secret) }
    }

    /// A token for `user`'s session `session`, valid until `expires_at`
    /// (seconds since the Unix epoch); `now` is the issue time, in seconds.
    pub fn issue(
        &self,
        user: i64,
        session: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims { sub: user.to_string(), sid: session.to_owned(), exp: expires_at, iat: now };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
    }

    /// (user id, session id) of a valid, unexpired token.
    pub fn check(&self, token: &str) -> Result<(i64, String), TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.dec, &v).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            _ => TokenError::Invalid,
        })?;
        let user = data.claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        Ok((user, data.claims.sid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }

    #[test]
    fn a_token_checks_under_its_key_only_and_not_after_it_expires() {
        let keys = SessionKeys::new(&[1; 32]);
        let token = keys.issue(7, "s1", now() + 60, now()).unwrap();
        assert_eq!(keys.check(&token), Ok((7, "s1".to_owned())));
        assert_eq!(SessionKeys::new(&[2; 32]).check(&token), Err(TokenError::Invalid));
        let old = keys.issue(7, "s1", now() - 1, now() - 60).unwrap();
        assert_eq!(keys.check(&old), Err(TokenError::Expired));
        let mut tampered = token.clone().into_bytes();
        let i = tampered.len() - 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(keys.check(std::str::from_utf8(&tampered).unwrap()), Err(TokenError::Invalid));
    }
}
